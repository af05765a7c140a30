using MLNet.NoisySeg.Data.Preprocessing;

namespace MLNet.NoisySeg.Tests.Data.Preprocessing;

[TestClass]
public sealed class CroppingTests
{
    // 2 channels, 3 x 4: value = 100 c + 10 y + x
    private static float[] Image() =>
        [.. from c in Enumerable.Range(0, 2) from y in Enumerable.Range(0, 3) from x in Enumerable.Range(0, 4) select (float)(100 * c + 10 * y + x)];

    [TestMethod]
    public void Crop_CopiesRectangleOfEveryChannel()
    {
        var crop = Cropping.Crop(Image(), 2, 3, 4, x: 1, y: 1, cropWidth: 2, cropHeight: 2);
        CollectionAssert.AreEqual(new float[] { 11, 12, 21, 22, 111, 112, 121, 122 }, crop);
    }

    [TestMethod]
    public void Crop_Mask_And_OutOfBounds()
    {
        byte[] mask = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
        CollectionAssert.AreEqual(new byte[] { 6, 7, 10, 11 }, Cropping.Crop(mask, 3, 4, 2, 1, 2, 2));
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Cropping.Crop(mask, 3, 4, 3, 0, 2, 2));
        Assert.AreEqual("x", ex.ParamName);
    }

    [TestMethod]
    public void CenterCrop_PlacesOddSurplusRightAndBottom()
    {
        Assert.AreEqual((1, 0), Cropping.CenterCropOrigin(3, 4, 2, 2));
        var crop = Cropping.CenterCrop(Image(), 2, 3, 4, cropHeight: 2, cropWidth: 2);
        CollectionAssert.AreEqual(new float[] { 1, 2, 11, 12, 101, 102, 111, 112 }, crop);
        byte[] mask = [0, 1, 2, 3, 4, 5, 6, 7, 8];
        CollectionAssert.AreEqual(new byte[] { 4 }, Cropping.CenterCrop(mask, 3, 3, 1, 1));
    }

    [TestMethod]
    public void Pad_Mask_UsesIgnoreByDefault()
    {
        byte[] mask = [1, 2, 3, 4];
        var padded = Cropping.Pad(mask, 2, 2, top: 1, bottom: 0, left: 0, right: 1);
        CollectionAssert.AreEqual(new byte[] { 255, 255, 255, 1, 2, 255, 3, 4, 255 }, padded);
    }

    [TestMethod]
    public void Pad_Image_ConstantAndReflect()
    {
        float[] row = [1, 2, 3];
        CollectionAssert.AreEqual(new float[] { 0, 0, 1, 2, 3, 0, 0 }, Cropping.Pad(row, 1, 1, 3, 0, 0, 2, 2));
        CollectionAssert.AreEqual(new float[] { 3, 2, 1, 2, 3, 2, 1 }, Cropping.Pad(row, 1, 1, 3, 0, 0, 2, 2, ImagePadMode.Reflect));
        // 2-D reflect (numpy.pad(a, 1, mode="reflect") on [[1,2],[3,4]]).
        float[] a = [1, 2, 3, 4];
        CollectionAssert.AreEqual(new float[] { 4, 3, 4, 3, 2, 1, 2, 1, 4, 3, 4, 3, 2, 1, 2, 1 }, Cropping.Pad(a, 1, 2, 2, 1, 1, 1, 1, ImagePadMode.Reflect));
        Assert.AreEqual(1, Cropping.ReflectIndex(-1, 5));
        Assert.AreEqual(3, Cropping.ReflectIndex(5, 5));
        Assert.AreEqual(0, Cropping.ReflectIndex(8, 5));
    }

    [TestMethod]
    public void Pad_ThenCrop_RoundTrips()
    {
        var img = Image();
        var padded = Cropping.Pad(img, 2, 3, 4, 2, 3, 1, 4, ImagePadMode.Reflect);
        CollectionAssert.AreEqual(img, Cropping.Crop(padded, 2, 3 + 5, 4 + 5, 1, 2, 4, 3));
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Cropping.Pad(img, 2, 3, 4, -1, 0, 0, 0));
        Assert.AreEqual("top", ex.ParamName);
    }
}
