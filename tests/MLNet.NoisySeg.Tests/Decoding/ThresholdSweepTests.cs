using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Decoding;
using MLNet.NoisySeg.Evaluation;

using MLNet.NoisySeg.Tests.TestSupport;

namespace MLNet.NoisySeg.Tests.Decoding;

[TestClass]
public sealed class ThresholdSweepTests
{
    /// <summary>Disk-shaped truth per image and a probability map at two output levels plus small noise.</summary>
    internal static (List<float[]> Probs, List<byte[]> Masks) MakeMaps(int images, int size, double fgLevel, double bgLevel, double noise, int seed)
    {
        var probs = new List<float[]>(); var masks = new List<byte[]>();
        for (int img = 0; img < images; img++)
        {
            var rng = SeededRandom.For(seed, img);
            var mask = new byte[size * size];
            var prob = new float[size * size];
            double cx = size * (0.3 + 0.4 * rng.NextDouble()), cy = size * (0.3 + 0.4 * rng.NextDouble()), r = size * 0.2;
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                {
                    int i = y * size + x;
                    bool fg = (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r;
                    mask[i] = fg ? (byte)1 : (byte)0;
                    prob[i] = (float)Math.Clamp((fg ? fgLevel : bgLevel) + noise * rng.NextDouble(), 0, 1);
                }
            probs.Add(prob); masks.Add(mask);
        }
        return (probs, masks);
    }

    private static double MeanDice(IReadOnlyList<float[]> probs, IReadOnlyList<byte[]> masks, DecodingRule rule) => DecodedMetrics.Of(probs, masks, rule).PerImageMeanDice;

    [TestMethod]
    public void HandComputedCurve()
    {
        var probs = new List<float[]> { new[] { 0f, 0.25f, 0.5f, 0.75f } };
        var masks = new List<byte[]> { new byte[] { 0, 0, 1, 1 } };
        var r = ThresholdSweep.Run(probs, masks, new ThresholdSweepOptions { ThresholdCount = 4 });
        CollectionAssert.AreEqual(new[] { 0, 0.25, 0.5, 0.75 }, r.Thresholds.ToArray());
        CollectionAssert.AreEqual(new[] { 0.8, 1.0, 2.0 / 3, 0.0 }, r.MeanDiceCurve.ToArray());
        CollectionAssert.AreEqual(new[] { 0.0, 0.0, 0.0, 0.4 }, r.InvertedMeanDiceCurve.ToArray());
        Assert.AreEqual(0.25, r.Threshold);
        Assert.IsFalse(r.Inverted);
        Assert.AreEqual(1.0, r.MeanDice);
        Assert.AreEqual(DecodingRule.AtThreshold(0.25), r.ToRule());
    }

    [TestMethod]
    public void SamplingLikeOutputs_FixedHalfFails_SweepRecovers()
    {
        // Sampling(0.1): the network outputs ~0.1 on foreground and ~0 on background.
        var (probs, masks) = MakeMaps(4, 32, fgLevel: 0.1, bgLevel: 0.0, noise: 0.01, seed: 1);
        Assert.AreEqual(0.0, MeanDice(probs, masks, DecodingRule.FixedThreshold));
        var r = ThresholdSweep.Run(probs, masks);
        Assert.AreEqual(50, r.Thresholds.Count);
        Assert.IsFalse(r.Inverted);
        Assert.AreEqual(1.0, r.MeanDice);
        Assert.IsTrue(r.Threshold > 0.01 && r.Threshold < 0.1, $"threshold {r.Threshold}");
        Assert.AreEqual(1.0, MeanDice(probs, masks, r.ToRule()));
        Assert.AreEqual(r.Thresholds[0], r.Thresholds.Min());
        Assert.AreEqual((double)probs.SelectMany(p => p).Max(), r.Thresholds[^1]);
    }

    [TestMethod]
    public void InvertedOutputs_SweepPicksTheInvertedMap()
    {
        // Flipping(0.9, 0.9): ~0.1 on foreground, ~0.9 on background.
        var (probs, masks) = MakeMaps(3, 32, fgLevel: 0.1, bgLevel: 0.9, noise: 0.02, seed: 2);
        var r = ThresholdSweep.Run(probs, masks);
        Assert.IsTrue(r.Inverted);
        Assert.AreEqual(1.0, r.MeanDice);
        Assert.IsTrue(r.MeanDiceCurve.Max() < 0.5, "the non-inverted map is poor");
        Assert.AreEqual(1.0, MeanDice(probs, masks, r.ToRule()));

        var noInv = ThresholdSweep.Run(probs, masks, new ThresholdSweepOptions { IncludeInverted = false });
        Assert.IsFalse(noInv.Inverted);
        Assert.AreEqual(0, noInv.InvertedMeanDiceCurve.Count);
        Assert.IsTrue(noInv.MeanDice < 0.5);
    }

    [TestMethod]
    public void IgnoredPixelsAndMeanOverImages()
    {
        var probs = new List<float[]> { new[] { 0f, 1f, 1f }, new[] { 0f, 1f }, new[] { 0.5f } };
        var masks = new List<byte[]> { new byte[] { 0, 1, 255 }, new byte[] { 0, 0 }, new byte[] { 255 } };
        var r = ThresholdSweep.Run(probs, masks, new ThresholdSweepOptions { ThresholdCount = 2, IncludeInverted = false });
        // t = 0: image 1 Dice 1, image 2 (no fg truth, one fg predicted) Dice 0 -> 0.5; image 3 left out.
        // t = 1: image 1 Dice 0, image 2 nothing predicted Dice 1 -> 0.5.
        CollectionAssert.AreEqual(new[] { 0.5, 0.5 }, r.MeanDiceCurve.ToArray());
        Assert.AreEqual(0.0, r.Threshold);
    }

    [TestMethod]
    public void InvalidInputs_NameTheArgument()
    {
        var p = new List<float[]> { new float[4] };
        var m = new List<byte[]> { new byte[4] };
        Assert.AreEqual("cleanMasks", Assert.ThrowsExactly<ArgumentException>(() => ThresholdSweep.Run(p, new List<byte[]>())).ParamName);
        Assert.AreEqual("probabilities", Assert.ThrowsExactly<ArgumentException>(() => ThresholdSweep.Run(p, new List<byte[]> { new byte[3] })).ParamName);
        Assert.AreEqual("probabilities", Assert.ThrowsExactly<ArgumentException>(() => ThresholdSweep.Run(new List<float[]> { new[] { 0f, float.NaN, 0, 0 } }, m)).ParamName);
        Assert.AreEqual("cleanMasks", Assert.ThrowsExactly<ArgumentException>(() => ThresholdSweep.Run(p, new List<byte[]> { new byte[] { 0, 2, 0, 0 } })).ParamName);
        Assert.AreEqual("cleanMasks", Assert.ThrowsExactly<ArgumentException>(() => ThresholdSweep.Run(p, new List<byte[]> { new byte[] { 255, 255, 255, 255 } })).ParamName);
        Assert.AreEqual("probabilities", Assert.ThrowsExactly<ArgumentException>(() => ThresholdSweep.Run(new List<float[]>(), new List<byte[]>())).ParamName);
        Assert.AreEqual("ThresholdCount", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ThresholdSweep.Run(p, m, new ThresholdSweepOptions { ThresholdCount = 1 })).ParamName);
    }

    [TestMethod]
    public void ConstantOutputs_DoNotBreak()
    {
        var r = ThresholdSweep.Run(new List<float[]> { new[] { 0.3f, 0.3f } }, new List<byte[]> { new byte[] { 0, 1 } });
        Assert.IsTrue(r.Thresholds.All(t => t == (double)0.3f));
        Assert.AreEqual(0.0, r.MeanDice); // nothing is ever strictly above or below 0.3
    }
}
