using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.MetaStructure;
using static MLNet.NoisySeg.Tests.MetaStructure.MetaStructureTestMasks;

namespace MLNet.NoisySeg.Tests.MetaStructure;

[TestClass]
public sealed class Lemma1Tests
{
    private const int Size = 256;

    [TestMethod]
    public void PredictNoisyDensity_IsTheQWeightedMixture()
    {
        // 1x2 image, 2 classes: clean densities (0.25, 0.75) and (1, 0).
        float[] clean = [0.25f, 1f, 0.75f, 0f];
        var q = NoiseTransitionMatrix.BinaryFlip(0.4, 0.1); // [[0.9, 0.1], [0.4, 0.6]]
        float[] p = Lemma1.PredictNoisyDensity(clean, 2, 1, q);
        Assert.AreEqual(0.25 * 0.9 + 0.75 * 0.4, p[0], 1e-6);
        Assert.AreEqual(0.9, p[1], 1e-6);
        Assert.AreEqual(0.25 * 0.1 + 0.75 * 0.6, p[2], 1e-6);
        Assert.AreEqual(0.1, p[3], 1e-6);
        CollectionAssert.AreEqual(clean, Lemma1.PredictNoisyDensity(clean, 2, 1, NoiseTransitionMatrix.Identity(2)));
        Assert.AreEqual("cleanDensity", Assert.ThrowsExactly<ArgumentException>(() => Lemma1.PredictNoisyDensity(new float[5], 2, 1, q)).ParamName);
    }

    [TestMethod]
    [DataRow(2)]
    [DataRow(3)]
    public void Check_PerPixelNoiseKeepsTheMetaStructure_ShiftBreaksIt(int classCount)
    {
        byte[] clean = DiscMask(Size, Size, classCount, 25, 8, 30, seed: 21);
        NoiseTransitionMatrix q = classCount == 2
            ? NoiseTransitionMatrix.BinaryFlip(0.1, 0.05)
            : NoiseTransitionMatrix.SymmetricFlip(3, 0.1);
        var options = new DensityOptions { Bandwidth = 8 };

        byte[] noisy = Corrupt(clean, q, seed: 22);
        Lemma1Result ok = Lemma1.Check(clean, noisy, Size, Size, q, options);
        Assert.IsTrue(ok.MeanAbsoluteError < 0.02, $"per-pixel noise: mean abs error {ok.MeanAbsoluteError}");
        Assert.AreEqual((long)Size * Size, ok.PixelCount);
        Assert.AreEqual(classCount, ok.PerClassMeanAbsoluteError.Count);
        Assert.AreEqual(ok.PerClassMaxAbsoluteError.Max(), ok.MaxAbsoluteError);
        Assert.AreEqual(ok.PerClassMeanAbsoluteError.Average(), ok.MeanAbsoluteError, 1e-12);

        // Same noise applied to the mask shifted by 10 px: the structure moved, Lemma 1 no longer holds.
        byte[] shifted = Corrupt(Shift(clean, Size, Size, 10, 10), q, seed: 22);
        Lemma1Result bad = Lemma1.Check(clean, shifted, Size, Size, q, options);
        Assert.IsTrue(bad.MeanAbsoluteError > 3 * ok.MeanAbsoluteError, $"shift: {bad.MeanAbsoluteError} vs per-pixel {ok.MeanAbsoluteError}");
        Assert.IsTrue(bad.MaxAbsoluteError > 0.5, $"shift max error {bad.MaxAbsoluteError}");

        // With Q estimated from the pair, per-pixel noise is still explained, the shift still is not.
        Lemma1Result okEst = Lemma1.Check(clean, noisy, Size, Size, classCount, options);
        Lemma1Result badEst = Lemma1.Check(clean, shifted, Size, Size, classCount, options);
        Assert.IsTrue(okEst.MeanAbsoluteError < 0.02, $"{okEst.MeanAbsoluteError}");
        Assert.IsTrue(badEst.MeanAbsoluteError > 2 * okEst.MeanAbsoluteError, $"{badEst.MeanAbsoluteError} vs {okEst.MeanAbsoluteError}");
    }

    [TestMethod]
    public void Check_IgnorePixelsAreNotScored()
    {
        byte[] clean = DiscMask(64, 64, 2, 6, 5, 12, seed: 4);
        for (int i = 0; i < 64 * 10; i++) clean[i] = MaskConventions.IgnoreIndex;
        Lemma1Result r = Lemma1.Check(clean, clean, 64, 64, NoiseTransitionMatrix.Identity(2), new DensityOptions { Bandwidth = 3 });
        Assert.AreEqual(64L * 54, r.PixelCount);
        Assert.AreEqual(0.0, r.MeanAbsoluteError);
        Assert.AreEqual(0.0, r.MaxAbsoluteError);
    }

    [TestMethod]
    public void Statistics_MeanDensity()
    {
        var ones = new byte[30 * 20];
        Array.Fill(ones, (byte)1);
        float[] d = DensityMap.ComputeBox(ones, 30, 20, 2, 3);
        CollectionAssert.AreEqual(new[] { 0.0, 1.0 }, DensityStatistics.MeanDensity(d, 30, 20, 2));

        // Left half class 0, right half class 1; ValidPixels box density averages to one half by symmetry.
        var halves = new byte[40 * 10];
        for (int i = 0; i < halves.Length; i++) halves[i] = (byte)(i % 40 < 20 ? 0 : 1);
        float[] dh = DensityMap.ComputeBox(halves, 40, 10, 2, 4);
        double[] mean = DensityStatistics.MeanDensity(dh, 40, 10, 2);
        Assert.AreEqual(0.5, mean[0], 1e-6);
        Assert.AreEqual(0.5, mean[1], 1e-6);
        // Skipping the ignore pixels of a mask: only the left half counted.
        var ignoreRight = (byte[])halves.Clone();
        for (int i = 0; i < ignoreRight.Length; i++) if (ignoreRight[i] == 1) ignoreRight[i] = 255;
        double expectedLeft = 0;
        for (int i = 0; i < halves.Length; i++) if (halves[i] == 0) expectedLeft += dh[i];
        Assert.AreEqual(expectedLeft / 200, DensityStatistics.MeanDensity(dh, 40, 10, 2, ignoreRight)[0], 1e-9);
    }

    [TestMethod]
    public void Statistics_StructureCorrelation_SampledHigh_RandomLow()
    {
        byte[] clean = DiscMask(Size, Size, 2, 25, 8, 30, seed: 31);
        var options = new DensityOptions { Bandwidth = 8 };
        float[] dClean = DensityMap.Compute(clean, Size, Size, 2, options);

        Assert.AreEqual(1.0, DensityStatistics.MeanStructureCorrelation(dClean, dClean, Size, Size, 2), 1e-12);

        // RCL sampling s = 0.1 done per pixel: keep a foreground pixel with probability 0.1.
        byte[] sampled = Corrupt(clean, NoiseTransitionMatrix.BinaryFlip(0.9, 0.0), seed: 32);
        float[] dSampled = DensityMap.Compute(sampled, Size, Size, 2, options);
        double[] rs = DensityStatistics.StructureCorrelation(dClean, dSampled, Size, Size, 2);
        Assert.IsTrue(rs[1] > 0.85, $"sampled corr {rs[1]}");

        // RL: each pixel foreground with probability 0.5 regardless of the truth.
        byte[] random = Corrupt(clean, NoiseTransitionMatrix.BinaryFlip(0.5, 0.5), seed: 33);
        float[] dRandom = DensityMap.Compute(random, Size, Size, 2, options);
        double[] rr = DensityStatistics.StructureCorrelation(dClean, dRandom, Size, Size, 2);
        // Only ~(256/17)^2 ≈ 230 independent windows, so chance correlations of ±0.1 are normal.
        Assert.IsTrue(Math.Abs(rr[1]) < 0.3, $"random corr {rr[1]}");
        Assert.IsTrue(rs[1] - Math.Abs(rr[1]) > 0.6);

        // A constant plane has no variance: NaN.
        var zeros = new byte[Size * Size];
        float[] dZero = DensityMap.Compute(zeros, Size, Size, 2, options);
        Assert.IsTrue(double.IsNaN(DensityStatistics.StructureCorrelation(dClean, dZero, Size, Size, 2)[1]));
    }
}
