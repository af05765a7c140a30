using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Decoding;
using MLNet.NoisySeg.Evaluation;
using MLNet.NoisySeg.Noise;

using MLNet.NoisySeg.Tests.TestSupport;

namespace MLNet.NoisySeg.Tests.Decoding;

/// <summary>
/// The noise-corrected Dice threshold: the clean Dice of a threshold estimated from noisy labels drawn through a known binary Q,
/// on synthetic outputs whose clean truth is known, so the chosen threshold can be scored against the clean-label oracle.
/// </summary>
[TestClass]
public sealed class NoiseCorrectedDiceTests
{
    /// <summary>
    /// Disks (about 20% foreground) with a soft, uncertain network: the clean posterior falls off over a band of
    /// <paramref name="band"/> pixels around the boundary, the output is Q's noisy posterior b + (1 - f - b) η plus Gaussian
    /// noise, and the noisy mask is drawn from the clean one through Q (seeded per image).
    /// </summary>
    private static (List<float[]> Outputs, List<byte[]> Clean, List<byte[]> Noisy) Scene(NoiseTransitionMatrix q, int images, int size, double band, double sd, int seed)
    {
        double b = q[0, 1], gap = q[1, 1] - q[0, 1];
        var outputs = new List<float[]>(); var clean = new List<byte[]>(); var noisy = new List<byte[]>();
        for (int img = 0; img < images; img++)
        {
            var rng = SeededRandom.For(seed, img);
            var c = new byte[size * size]; var n = new byte[size * size]; var o = new float[size * size];
            double cx = size * (0.3 + 0.4 * rng.NextDouble()), cy = size * (0.3 + 0.4 * rng.NextDouble()), r = size * 0.25;
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                {
                    int i = y * size + x;
                    double d = Math.Sqrt((x - cx) * (x - cx) + (y - cy) * (y - cy)) - r;
                    bool fg = d <= 0;
                    double eta = 1 / (1 + Math.Exp(d / band)); // clean posterior: 0.5 on the boundary
                    c[i] = fg ? (byte)1 : (byte)0;
                    n[i] = rng.NextDouble() < (fg ? q[1, 1] : q[0, 1]) ? (byte)1 : (byte)0;
                    o[i] = (float)Math.Clamp(b + gap * eta + sd * rng.NextGaussian(), 0, 1);
                }
            outputs.Add(o); clean.Add(c); noisy.Add(n);
        }
        return (outputs, clean, noisy);
    }

    private static double PooledDice(IReadOnlyList<float[]> outputs, IReadOnlyList<byte[]> truth, DecodingRule rule) => DecodedMetrics.Of(outputs, truth, rule).Dice;

    /// <summary>The best pooled clean Dice over a fine threshold grid (the clean-label oracle the paper protocol approximates).</summary>
    private static double OracleDice(IReadOnlyList<float[]> outputs, IReadOnlyList<byte[]> truth, bool inverted)
    {
        double best = 0;
        for (int k = 1; k < 400; k++) best = Math.Max(best, PooledDice(outputs, truth, DecodingRule.AtThreshold(k / 400.0, inverted)));
        return best;
    }

    [TestMethod]
    [DataRow("clean", 0.05, DisplayName = "clean labels")]
    [DataRow("sampling(0.1)", 0.01, DisplayName = "sampling 0.1")]
    [DataRow("sampling(0.05)", 0.005, DisplayName = "sampling 0.05")]
    [DataRow("flip(0.2,0.2)", 0.03, DisplayName = "flipping 0.2")]
    [DataRow("flip(0.45,0.45)", 0.01, DisplayName = "flipping 0.45")]
    public void ChosenThreshold_IsWithinOnePointOfTheCleanOracle(string spec, double sd)
    {
        var q = LabelNoiseSpec.Parse(spec).ExpectedTransitionMatrix(2)!;
        var (outputs, clean, noisy) = Scene(q, images: 8, size: 96, band: 3, sd: sd, seed: 5);
        var decision = NoiseAwareDecoding.ChooseBinaryRule(outputs, q, LabelFreeDecoder.ForegroundShare(noisy), noisyMasks: noisy);
        Assert.AreEqual(DecodingStrategy.NoiseCorrectedDiceThreshold, decision.Strategy, decision.Reason);
        StringAssert.Contains(decision.Reason, "Noise-corrected threshold");
        double chosen = PooledDice(outputs, clean, decision.Rule);
        double oracle = OracleDice(outputs, clean, inverted: false);
        Assert.IsTrue(chosen >= oracle - 0.01, $"{spec}: noise-corrected {chosen:0.0000} vs oracle {oracle:0.0000} ({decision.Reason})");
    }

    [TestMethod]
    public void InvertedNoise_ChoosesTheLowTail_NearTheOracle()
    {
        // flip(0.9, 0.9): Q = [[0.1, 0.9], [0.9, 0.1]], det -0.8: the network's output is high on background.
        var q = new NoiseTransitionMatrix(new double[,] { { 0.1, 0.9 }, { 0.9, 0.1 } });
        var (outputs, clean, noisy) = Scene(q, images: 8, size: 96, band: 3, sd: 0.03, seed: 6);
        var decision = NoiseAwareDecoding.ChooseBinaryRule(outputs, q, LabelFreeDecoder.ForegroundShare(noisy), noisyMasks: noisy);
        Assert.AreEqual(DecodingStrategy.NoiseCorrectedDiceThreshold, decision.Strategy);
        Assert.IsTrue(decision.Rule.Inverted);
        double chosen = PooledDice(outputs, clean, decision.Rule);
        double oracle = OracleDice(outputs, clean, inverted: true);
        Assert.IsTrue(chosen >= oracle - 0.01, $"noise-corrected {chosen:0.0000} vs oracle {oracle:0.0000}");
    }

    [TestMethod]
    public void EstimatedDice_TracksTheTrueCleanDice()
    {
        // The estimate at the chosen threshold is unbiased: with ~74k labelled pixels it is within a few hundredths of the truth.
        var q = LabelNoiseSpec.Parse("sampling(0.3)").ExpectedTransitionMatrix(2)!;
        var (outputs, clean, noisy) = Scene(q, images: 8, size: 96, band: 3, sd: 0.02, seed: 7);
        var (t, estimated) = LabelFreeDecoder.NoiseCorrectedDiceThreshold(outputs, noisy, q, inverted: false);
        double truth = PooledDice(outputs, clean, DecodingRule.AtThreshold(t));
        Assert.AreEqual(truth, estimated, 0.03, $"threshold {t}");
    }

    [TestMethod]
    public void BeatsThePriorMatchedQuantile_WhenTheNetworkIsUncertain()
    {
        // A wide uncertain band: marking exactly the prior share of pixels is not the Dice optimum; the estimate finds it.
        var q = LabelNoiseSpec.Parse("sampling(0.1)").ExpectedTransitionMatrix(2)!;
        var (outputs, clean, noisy) = Scene(q, images: 8, size: 96, band: 6, sd: 0.01, seed: 8);
        var corrected = NoiseAwareDecoding.ChooseBinaryRule(outputs, q, LabelFreeDecoder.ForegroundShare(noisy), noisyMasks: noisy);
        var prior = NoiseAwareDecoding.ChooseBinaryRule(outputs, q, LabelFreeDecoder.ForegroundShare(noisy),
            new NoiseAwareDecodingOptions { BinaryThreshold = BinaryThresholdPolicy.PriorMatched }, noisy);
        Assert.AreEqual(DecodingStrategy.PriorMatchedThreshold, prior.Strategy, "a forced policy wins over the masks");
        double c = PooledDice(outputs, clean, corrected.Rule), p = PooledDice(outputs, clean, prior.Rule);
        Assert.IsTrue(c >= p, $"noise-corrected {c:0.0000} vs prior-matched {p:0.0000}");
    }

    [TestMethod]
    public void WithoutMasksOrQ_TheOtherRulesApply_AndBadInputIsRefused()
    {
        var q = LabelNoiseSpec.Parse("sampling(0.1)").ExpectedTransitionMatrix(2)!;
        var (outputs, _, noisy) = Scene(q, images: 2, size: 32, band: 2, sd: 0.01, seed: 9);
        Assert.AreNotEqual(DecodingStrategy.NoiseCorrectedDiceThreshold, NoiseAwareDecoding.ChooseBinaryRule(outputs, q).Strategy);
        Assert.AreEqual(DecodingStrategy.OutputLevelThreshold, NoiseAwareDecoding.ChooseBinaryRule(outputs, null, noisyMasks: noisy).Strategy,
            "without Q the masks cannot be corrected");
        Assert.AreEqual(DecodingStrategy.NoiseCorrectedDiceThreshold, NoiseAwareDecoding.Plan(outputs, 2, q, null, null, noisy).Strategy);

        var e = Assert.ThrowsExactly<ArgumentException>(() => LabelFreeDecoder.NoiseCorrectedDiceThreshold(outputs, noisy.Take(1).ToList(), q, false));
        StringAssert.Contains(e.Message, "noisyMasks has 1");
        e = Assert.ThrowsExactly<ArgumentException>(() => LabelFreeDecoder.NoiseCorrectedDiceThreshold(outputs, [noisy[0], new byte[5]], q, false));
        StringAssert.Contains(e.Message, "noisyMasks[1] has 5 pixels");
        var singular = new NoiseTransitionMatrix(new double[,] { { 0.5, 0.5 }, { 0.5, 0.5 } });
        e = Assert.ThrowsExactly<ArgumentException>(() => LabelFreeDecoder.NoiseCorrectedDiceThreshold(outputs, noisy, singular, false));
        StringAssert.Contains(e.Message, "singular");
        var ignored = noisy.Select(m => Enumerable.Repeat(MaskConventions.IgnoreIndex, m.Length).ToArray()).ToList();
        e = Assert.ThrowsExactly<ArgumentException>(() => LabelFreeDecoder.NoiseCorrectedDiceThreshold(outputs, ignored, q, false));
        StringAssert.Contains(e.Message, "ignored");
    }
}
