using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Decoding;

using MLNet.NoisySeg.Tests.TestSupport;

namespace MLNet.NoisySeg.Tests.Decoding;

[TestClass]
public sealed class OtsuAndLabelFreeTests
{
    private static float[] Gaussians(params (double Mean, double Sd, int Count)[] parts)
    {
        var rng = new SeededRandom(42);
        var list = new List<float>();
        foreach (var (mean, sd, count) in parts)
            for (int i = 0; i < count; i++) list.Add((float)(mean + sd * rng.NextGaussian()));
        return list.ToArray();
    }

    [TestMethod]
    public void Otsu_Bimodal_ThresholdBetweenModes_LevelsAtTheModes()
    {
        var v = Gaussians((0.2, 0.03, 7000), (0.7, 0.05, 3000));
        var r = Otsu.Compute(v);
        Assert.IsTrue(r.Threshold > 0.32 && r.Threshold < 0.55, $"threshold {r.Threshold}");
        Assert.AreEqual(r.Threshold, Otsu.Threshold(v));
        Assert.AreEqual(0.2, r.LowMean, 0.005);
        Assert.AreEqual(0.7, r.HighMean, 0.005);
        Assert.AreEqual(0.7, r.LowFraction, 0.005);
        Assert.IsTrue(r.Effectiveness > 0.9, $"eta {r.Effectiveness}");
        Assert.IsTrue(r.Separation > 8, $"d' {r.Separation}");
    }

    [TestMethod]
    public void Otsu_TwoExactLevels_ThresholdInTheMiddleOfTheGap()
    {
        var v = new float[20];
        for (int i = 10; i < 20; i++) v[i] = 1;
        var r = Otsu.Compute(v);
        Assert.AreEqual(0.5, r.Threshold, 1e-12);
        Assert.AreEqual(0.0, r.LowMean);
        Assert.AreEqual(1.0, r.HighMean);
        Assert.AreEqual(0.25, r.BetweenClassVariance, 1e-15);
        Assert.AreEqual(0.25, r.TotalVariance, 1e-15);
        Assert.AreEqual(1.0, r.Effectiveness, 1e-12);
        Assert.AreEqual(double.PositiveInfinity, r.Separation);
    }

    [TestMethod]
    public void Otsu_Unimodal_HasLowEffectiveness_ConstantHasZero()
    {
        var g = Otsu.Compute(Gaussians((0.5, 0.1, 20000)));
        Assert.AreEqual(2 / Math.PI, g.Effectiveness, 0.02); // Otsu's eta for one Gaussian
        var c = Otsu.Compute(new[] { 0.3f, 0.3f, 0.3f });
        Assert.AreEqual((double)0.3f, c.Threshold);
        Assert.AreEqual(0.0, c.Effectiveness);
        Assert.IsTrue(double.IsNaN(c.HighMean));
    }

    [TestMethod]
    public void Otsu_ListOverloadEqualsPooledSpan()
    {
        var v = Gaussians((0.0, 0.01, 500), (0.1, 0.01, 100));
        var lists = new List<float[]> { v[..250], v[250..], Array.Empty<float>() };
        Assert.AreEqual(Otsu.Compute(v), Otsu.Compute(lists));
    }

    [TestMethod]
    public void Otsu_InvalidInputs()
    {
        Assert.AreEqual("values", Assert.ThrowsExactly<ArgumentException>(() => Otsu.Compute(ReadOnlySpan<float>.Empty)).ParamName);
        Assert.AreEqual("values", Assert.ThrowsExactly<ArgumentException>(() => Otsu.Compute(new[] { 0.1f, float.NaN })).ParamName);
        Assert.AreEqual("binCount", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Otsu.Compute(new[] { 0.1f }, 1)).ParamName);
        Assert.AreEqual("values", Assert.ThrowsExactly<ArgumentException>(() => Otsu.Compute(new List<float[]> { Array.Empty<float>() })).ParamName);
    }

    [TestMethod]
    public void LabelFreeBinary_SamplingOutputs_MatchesOracleSweep()
    {
        var (probs, masks) = ThresholdSweepTests.MakeMaps(4, 32, fgLevel: 0.1, bgLevel: 0.0, noise: 0.01, seed: 5);
        var est = LabelFreeDecoder.EstimateBinary(probs, NoiseTransitionMatrix.BinaryFlip(0.9, 0.0)); // sampling(0.1): det = 0.1 > 0
        Assert.IsFalse(est.Inverted);
        Assert.IsTrue(est.AreLevelsSeparated, $"D {est.MixtureSeparation}");
        Assert.AreEqual(0.005, est.BackgroundLevel, 0.001);
        Assert.AreEqual(0.105, est.ForegroundLevel, 0.001);
        Assert.IsTrue(est.Threshold > 0.01 && est.Threshold < 0.1);
        var oracle = ThresholdSweep.Run(probs, masks);
        double dice = MeanDice(probs, masks, est.ToRule());
        Assert.AreEqual(oracle.MeanDice, dice, 0.01);
        Assert.AreEqual(1.0, dice);
        Assert.AreEqual(est, LabelFreeDecoder.EstimateBinary(probs.SelectMany(p => p).ToArray(), NoiseTransitionMatrix.BinaryFlip(0.9, 0.0)));
    }

    [TestMethod]
    public void LabelFreeBinary_KnownInvertingNoise_DecodesInverted()
    {
        var (probs, masks) = ThresholdSweepTests.MakeMaps(3, 32, fgLevel: 0.1, bgLevel: 0.9, noise: 0.02, seed: 6);
        var blind = LabelFreeDecoder.EstimateBinary(probs);
        Assert.IsFalse(blind.Inverted);
        Assert.IsTrue(MeanDice(probs, masks, blind.ToRule()) < 0.5, "without Q the orientation is unknown");
        var est = LabelFreeDecoder.EstimateBinary(probs, NoiseTransitionMatrix.BinaryFlip(0.9, 0.9));
        Assert.IsTrue(est.Inverted);
        Assert.AreEqual(0.11, est.ForegroundLevel, 0.002);
        Assert.AreEqual(0.91, est.BackgroundLevel, 0.002);
        Assert.AreEqual(1.0, MeanDice(probs, masks, est.ToRule()));
        Assert.ThrowsExactly<InvalidOperationException>(() => LabelFreeDecoder.EstimateBinary(probs, NoiseTransitionMatrix.BinaryFlip(0.5, 0.5)));
        Assert.AreEqual("knownNoise", Assert.ThrowsExactly<ArgumentException>(
            () => LabelFreeDecoder.EstimateBinary(probs, NoiseTransitionMatrix.Identity(3))).ParamName);
    }

    [TestMethod]
    public void LabelFreeBinary_UnimodalOutputs_ReportNoSeparation()
    {
        var est = LabelFreeDecoder.EstimateBinary(Gaussians((0.3, 0.05, 5000)));
        Assert.IsFalse(est.AreLevelsSeparated, $"D {est.MixtureSeparation}");
        Assert.IsTrue(est.MixtureSeparation < 1.2, $"D {est.MixtureSeparation}");
        Assert.IsTrue(est.Effectiveness < 0.7);
    }

    [TestMethod]
    public void LabelFreeBinary_ImbalancedLevels_AreSeparatedThoughEtaIsLow()
    {
        // 10% foreground at 0.1, background at 0, both with sd 0.02 (5 sd apart).
        var est = LabelFreeDecoder.EstimateBinary(Gaussians((0.0, 0.02, 9000), (0.1, 0.02, 1000)));
        Assert.IsTrue(est.AreLevelsSeparated, $"D {est.MixtureSeparation}");
        Assert.AreEqual(5.0, est.MixtureSeparation, 0.3);
        Assert.IsTrue(est.Effectiveness < 0.75, $"eta {est.Effectiveness}");
        Assert.IsTrue(est.Threshold > 0.03 && est.Threshold < 0.07, $"threshold {est.Threshold}");
        Assert.IsTrue(double.IsNaN(LabelFreeDecoder.EstimateBinary(new[] { 0.2f, 0.2f }).MixtureSeparation));
    }

    // Strong confusion: true class 1 is labelled 0 more often than 1, so argmax of the noisy posterior is wrong.
    internal static readonly double[,] StrongQ = { { 0.7, 0.2, 0.1 }, { 0.45, 0.4, 0.15 }, { 0.1, 0.2, 0.7 } };

    internal static (float[] Probs, byte[] Truth) NoisyPosteriors(int n, double noise, int seed)
    {
        var rng = new SeededRandom((ulong)seed);
        var truth = new byte[n];
        var probs = new float[3 * n];
        for (int i = 0; i < n; i++)
        {
            truth[i] = (byte)(i * 3 / n); // three bands
            for (int k = 0; k < 3; k++)
                probs[k * n + i] = (float)(StrongQ[truth[i], k] + noise * (rng.NextDouble() - 0.5));
        }
        return (probs, truth);
    }

    [TestMethod]
    public void InverseNtm_RecoversTruthWhereArgmaxFails()
    {
        var (probs, truth) = NoisyPosteriors(300, 0.01, 1);
        var argmax = new byte[300];
        DecodingRule.Argmax.Decode(probs, 3, argmax);
        Assert.AreEqual(0, argmax[150], "argmax of the noisy posterior calls true class 1 class 0");
        Assert.AreEqual(100, Enumerable.Range(0, 300).Count(i => argmax[i] != truth[i]));

        var corrected = new byte[300];
        DecodingRule.InverseNtm(new NoiseTransitionMatrix(StrongQ)).Decode(probs, 3, corrected);
        CollectionAssert.AreEqual(truth, corrected);

        Span<double> clean = stackalloc double[3];
        LabelFreeDecoder.CorrectPosterior(new[] { 0.45f, 0.4f, 0.15f }, new NoiseTransitionMatrix(StrongQ), clean);
        Assert.AreEqual(0.0, clean[0], 1e-6);
        Assert.AreEqual(1.0, clean[1], 1e-6);
        Assert.AreEqual(0.0, clean[2], 1e-6);
    }

    [TestMethod]
    public void EstimatedLevels_ApproximateQ_AndDecodeTheTruth()
    {
        var (probs, truth) = NoisyPosteriors(3000, 0.01, 2);
        var est = LabelFreeDecoder.EstimateLevels(new List<float[]> { probs }, 3);
        for (int j = 0; j < 3; j++)
        {
            Assert.AreEqual(1.0 / 3, est.ClassFractions[j], 1e-3);
            for (int k = 0; k < 3; k++)
                Assert.AreEqual(StrongQ[j, k], est.Levels[j, k], 0.005, $"Q[{j},{k}]");
        }
        Assert.AreEqual(0.12, est.Determinant, 0.01);
        var mask = new byte[3000];
        est.ToRule().Decode(probs, 3, mask);
        CollectionAssert.AreEqual(truth, mask);
    }

    [TestMethod]
    public void SingularQ_IsAClearInvalidOperation()
    {
        var q = new NoiseTransitionMatrix(new double[,] { { 0.5, 0.5 }, { 0.5, 0.5 } });
        var e = Assert.ThrowsExactly<InvalidOperationException>(() => DecodingRule.InverseNtm(q));
        StringAssert.Contains(e.Message, "singular");
        Assert.ThrowsExactly<InvalidOperationException>(() => LabelFreeDecoder.CorrectPosterior(new[] { 0.5f, 0.5f }, q, new double[2]));
        var rank2of3 = new NoiseTransitionMatrix(new double[,] { { 0.5, 0.5, 0 }, { 0.5, 0.5, 0 }, { 0, 0, 1 } });
        Assert.ThrowsExactly<InvalidOperationException>(() => DecodingRule.InverseNtm(rank2of3));
    }

    [TestMethod]
    public void EstimateLevels_InvalidInputs()
    {
        Assert.AreEqual("classCount", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => LabelFreeDecoder.EstimateLevels(new List<float[]> { new float[4] }, 1)).ParamName);
        Assert.AreEqual("outputs", Assert.ThrowsExactly<ArgumentException>(() => LabelFreeDecoder.EstimateLevels(new List<float[]> { new float[5] }, 2)).ParamName);
        Assert.AreEqual("outputs", Assert.ThrowsExactly<ArgumentException>(() => LabelFreeDecoder.EstimateLevels(new List<float[]>(), 2)).ParamName);
        Assert.AreEqual("outputs", Assert.ThrowsExactly<ArgumentException>(() => LabelFreeDecoder.EstimateLevels(new List<float[]> { new[] { 0.5f, float.NaN } }, 2)).ParamName);
    }

    private static double MeanDice(IReadOnlyList<float[]> probs, IReadOnlyList<byte[]> masks, DecodingRule rule) => DecodedMetrics.Of(probs, masks, rule).PerImageMeanDice;
}
