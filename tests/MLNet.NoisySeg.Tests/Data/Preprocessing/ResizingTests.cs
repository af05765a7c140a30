using MLNet.NoisySeg.Data.Preprocessing;

namespace MLNet.NoisySeg.Tests.Data.Preprocessing;

[TestClass]
public sealed class ResizingTests
{
    [TestMethod]
    public void Bilinear_Upsample2x2To4x4_MatchesTorchAlignCornersFalse()
    {
        // torch.nn.functional.interpolate(torch.tensor([[[[0.,1.],[2.,3.]]]]), size=(4,4), mode="bilinear", align_corners=False)
        float[] src = [0, 1, 2, 3];
        var dst = Resizing.Bilinear(src, 1, 2, 2, 4, 4);
        float[] expected =
        [
            0.00f, 0.25f, 0.75f, 1.00f,
            0.50f, 0.75f, 1.25f, 1.50f,
            1.50f, 1.75f, 2.25f, 2.50f,
            2.00f, 2.25f, 2.75f, 3.00f,
        ];
        AssertClose(expected, dst, 1e-6f);
    }

    [TestMethod]
    public void Bilinear_Downsample4x4To2x2_AveragesPixelCentres()
    {
        var src = Enumerable.Range(0, 16).Select(i => (float)i).ToArray();
        var dst = Resizing.Bilinear(src, 1, 4, 4, 2, 2);
        AssertClose([2.5f, 4.5f, 10.5f, 12.5f], dst, 1e-6f);
    }

    [TestMethod]
    public void Bilinear_NonIntegerScale_1D()
    {
        // 3 -> 5: s = max(0, (d + 0.5) * 0.6 - 0.5) = 0, 0.4, 1.0, 1.6, 2.2 (last clamps to index 2).
        float[] src = [0, 10, 20];
        var dst = Resizing.Bilinear(src, 1, 1, 3, 1, 5);
        AssertClose([0f, 4f, 10f, 16f, 20f], dst, 1e-5f);
    }

    [TestMethod]
    public void Bilinear_MatchesIndependentReference_MultiChannel()
    {
        int c = 2, h = 5, w = 7, oh = 3, ow = 11;
        var rng = new Random(5);
        var src = Enumerable.Range(0, c * h * w).Select(_ => (float)rng.NextDouble()).ToArray();
        var dst = Resizing.Bilinear(src, c, h, w, oh, ow);
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < oh; y++)
                for (int x = 0; x < ow; x++)
                {
                    double sy = Math.Max(0, (y + 0.5) * h / oh - 0.5), sx = Math.Max(0, (x + 0.5) * w / ow - 0.5);
                    int y0 = (int)sy, x0 = (int)sx, y1 = Math.Min(y0 + 1, h - 1), x1 = Math.Min(x0 + 1, w - 1);
                    double ly = sy - y0, lx = sx - x0;
                    double v(int yy, int xx) => src[ch * h * w + yy * w + xx];
                    double expected = (1 - ly) * ((1 - lx) * v(y0, x0) + lx * v(y0, x1)) + ly * ((1 - lx) * v(y1, x0) + lx * v(y1, x1));
                    Assert.AreEqual(expected, dst[ch * oh * ow + y * ow + x], 1e-5);
                }
    }

    [TestMethod]
    public void Bilinear_SameSize_IsIdentity()
    {
        var src = Enumerable.Range(0, 3 * 4 * 5).Select(i => i * 0.37f).ToArray();
        CollectionAssert.AreEqual(src, Resizing.Bilinear(src, 3, 4, 5, 4, 5));
    }

    [TestMethod]
    public void Nearest_Upsample_RepeatsBlocks()
    {
        byte[] src = [0, 1, 2, 3];
        var dst = Resizing.Nearest(src, 2, 2, 4, 4);
        CollectionAssert.AreEqual(new byte[] { 0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3 }, dst);
    }

    [TestMethod]
    public void Nearest_Downsample_UsesPixelCentreConvention()
    {
        // 5 -> 3: floor((d + 0.5) * 5 / 3) = 0, 2, 4.
        byte[] src = [10, 11, 12, 13, 14];
        CollectionAssert.AreEqual(new byte[] { 10, 12, 14 }, Resizing.Nearest(src, 1, 5, 1, 3));
        Assert.AreEqual(2, Resizing.NearestSourceIndex(1, 5, 3));
        Assert.AreEqual(4, Resizing.NearestSourceIndex(2, 5, 3));
    }

    [TestMethod]
    public void Nearest_KeepsOnlyExistingLabels()
    {
        var rng = new Random(3);
        byte[] labels = [0, 2, 5, 255];
        var src = Enumerable.Range(0, 13 * 17).Select(_ => labels[rng.Next(labels.Length)]).ToArray();
        foreach (var (oh, ow) in new[] { (7, 9), (29, 31), (13, 17), (40, 5) })
        {
            var dst = Resizing.Nearest(src, 13, 17, oh, ow);
            Assert.AreEqual(oh * ow, dst.Length);
            Assert.IsTrue(dst.All(v => labels.Contains(v)), $"{oh}x{ow} produced a label not in the source");
        }
        // Upsampling by an integer factor keeps every label and its pixel count ratio.
        var up = Resizing.Nearest(src, 13, 17, 26, 34);
        foreach (var l in labels)
            Assert.AreEqual(4 * src.Count(v => v == l), up.Count(v => v == l));
    }

    [TestMethod]
    public void Resize_BadDestination_Throws()
    {
        var ex = Assert.ThrowsExactly<ArgumentException>(() => Resizing.Bilinear(new float[4], 1, 2, 2, new float[5], 2, 2));
        Assert.AreEqual("destination", ex.ParamName);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Resizing.Nearest(new byte[4], 2, 2, 0, 2));
    }

    private static void AssertClose(float[] expected, float[] actual, float tolerance)
    {
        Assert.AreEqual(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.AreEqual(expected[i], actual[i], tolerance, $"index {i}");
    }
}
