using MLNet.NoisySeg.Data.Preprocessing;

namespace MLNet.NoisySeg.Tests.Data.Preprocessing;

[TestClass]
public sealed class NormalizationTests
{
    private static float[] RandomImage(int length, int seed, float scale, float offset)
    {
        var rng = new Random(seed);
        var a = new float[length];
        for (int i = 0; i < a.Length; i++) a[i] = offset + scale * (float)rng.NextDouble();
        return a;
    }

    [TestMethod]
    public void ZScore_WholeImage_GivesMeanZeroStdOne()
    {
        var img = RandomImage(3 * 37 * 41, 1, 200f, 1000f);
        Normalization.ZScore(img, 3, 37, 41, perChannel: false);
        var (mean, std) = Normalization.MeanAndStdDev(img);
        Assert.AreEqual(0.0, mean, 1e-4);
        Assert.AreEqual(1.0, std, 1e-4);
    }

    [TestMethod]
    public void ZScore_PerChannel_NormalizesEachChannel()
    {
        int plane = 19 * 23;
        var img = new float[3 * plane];
        RandomImage(plane, 1, 1f, 0f).CopyTo(img, 0);
        RandomImage(plane, 2, 50f, -7f).CopyTo(img, plane);
        RandomImage(plane, 3, 0.01f, 3f).CopyTo(img, 2 * plane);
        Normalization.ZScore(img, 3, 19, 23, perChannel: true);
        for (int c = 0; c < 3; c++)
        {
            var (mean, std) = Normalization.MeanAndStdDev(img.AsSpan(c * plane, plane));
            Assert.AreEqual(0.0, mean, 1e-4, $"channel {c}");
            Assert.AreEqual(1.0, std, 1e-3, $"channel {c}");
        }
    }

    [TestMethod]
    public void ZScore_KnownValues()
    {
        // mean 2.5, population std sqrt(1.25)
        float[] img = [1, 2, 3, 4];
        Normalization.ZScore(img, 1, 2, 2, perChannel: false);
        double s = Math.Sqrt(1.25);
        double[] expected = [-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s];
        for (int i = 0; i < 4; i++) Assert.AreEqual(expected[i], img[i], 1e-6);
    }

    [TestMethod]
    public void ZScore_ConstantImage_OnlySubtractsMean()
    {
        var img = Enumerable.Repeat(7.25f, 2 * 5 * 5).ToArray();
        Normalization.ZScore(img, 2, 5, 5, perChannel: true);
        Assert.IsTrue(img.All(v => v == 0f));
    }

    [TestMethod]
    public void ZScore_StdBelowEpsilon_IsNotScaled()
    {
        // values 0 and 2^-21 (std ~ 2.4e-7 < 1e-6): centred but not divided.
        float tiny = MathF.Pow(2, -21);
        float[] img = [0, tiny, 0, tiny];
        Normalization.ZScore(img, 1, 2, 2, perChannel: false);
        CollectionAssert.AreEqual(new[] { -tiny / 2, tiny / 2, -tiny / 2, tiny / 2 }, img);
        Assert.AreEqual(1e-6, Normalization.ZScoreEpsilon);
    }

    [TestMethod]
    public void ZScore_WrongLength_Throws()
    {
        var img = new float[10];
        var ex = Assert.ThrowsExactly<ArgumentException>(() => Normalization.ZScore(img, 1, 3, 3, false));
        Assert.AreEqual("image", ex.ParamName);
    }
}
