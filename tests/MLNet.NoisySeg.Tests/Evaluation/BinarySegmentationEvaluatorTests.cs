using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Evaluation;

namespace MLNet.NoisySeg.Tests.Evaluation;

[TestClass]
public sealed class BinarySegmentationEvaluatorTests
{
    // 4x4 case: TP = 3, FN = 2, FP = 2, TN = 9.
    private static readonly byte[] Truth4x4 =
    {
        1, 1, 0, 0,
        1, 1, 0, 0,
        0, 0, 0, 0,
        0, 0, 0, 1,
    };
    private static readonly byte[] Pred4x4 =
    {
        1, 0, 0, 0,
        1, 1, 1, 0,
        0, 0, 0, 0,
        0, 0, 1, 0,
    };

    [TestMethod]
    public void FourByFour_ConfusionAndRatiosAreExact()
    {
        var ev = new BinarySegmentationEvaluator();
        ev.Add(Truth4x4, Pred4x4);
        var m = ev.GetMetrics();
        Assert.AreEqual(3L, m.TruePositives);
        Assert.AreEqual(2L, m.FalsePositives);
        Assert.AreEqual(9L, m.TrueNegatives);
        Assert.AreEqual(2L, m.FalseNegatives);
        Assert.AreEqual(16L, m.PixelCount);
        Assert.AreEqual(1, m.ImageCount);
        Assert.AreEqual(3.0 / 7, m.IoU, 1e-15);
        Assert.AreEqual(0.6, m.Dice, 1e-15);
        Assert.AreEqual(0.75, m.Accuracy, 1e-15);
        Assert.AreEqual(0.6, m.Sensitivity, 1e-15);
        Assert.AreEqual(9.0 / 11, m.Specificity, 1e-15);
        Assert.AreEqual(0.6, m.Precision, 1e-15);
        Assert.AreEqual(0.6, m.PerImageMeanDice, 1e-15);
        Assert.AreEqual(3.0 / 7, m.PerImageMeanIoU, 1e-15);
        Assert.IsTrue(double.IsNaN(m.Auc), "no probabilities -> AUC NaN");
    }

    [TestMethod]
    public void PerImageMeansDifferFromPixelLevel()
    {
        var ev = new BinarySegmentationEvaluator();
        ev.Add(Truth4x4, Pred4x4);             // Dice 0.6, IoU 3/7
        ev.Add(new byte[] { 1, 0 }, new byte[] { 1, 0 }); // Dice 1, IoU 1
        var m = ev.GetMetrics();
        Assert.AreEqual(0.8, m.PerImageMeanDice, 1e-15);
        Assert.AreEqual((3.0 / 7 + 1) / 2, m.PerImageMeanIoU, 1e-15);
        Assert.AreEqual(8.0 / 12, m.Dice, 1e-15); // TP 4, FP 2, FN 2
        Assert.AreEqual(2, m.ImageCount);
    }

    [TestMethod]
    [DataRow(new float[] { 0.1f, 0.4f, 0.35f, 0.8f }, new byte[] { 0, 0, 1, 1 }, 0.75)]
    [DataRow(new float[] { 0.5f, 0.5f, 0.5f, 0.9f }, new byte[] { 0, 1, 0, 1 }, 0.75)]
    [DataRow(new float[] { 0.2f, 0.2f, 0.6f, 0.6f, 0.6f }, new byte[] { 1, 0, 1, 0, 1 }, 3.5 / 6)]
    [DataRow(new float[] { 0.3f, 0.3f, 0.3f, 0.3f }, new byte[] { 0, 1, 0, 1 }, 0.5)]
    [DataRow(new float[] { 0.9f, 0.8f, 0.2f, 0.1f }, new byte[] { 0, 0, 1, 1 }, 0.0)]
    public void Auc_MatchesHandComputedValuesWithTies(float[] scores, byte[] labels, double expected)
    {
        foreach (var mode in new[] { AucMode.Exact, AucMode.Histogram })
        {
            var ev = new BinarySegmentationEvaluator(new BinarySegmentationEvaluatorOptions { AucMode = mode });
            ev.Add(labels, labels, scores);
            var m = ev.GetMetrics();
            Assert.AreEqual(expected, m.Auc, 1e-12, $"{mode}");
        }
    }

    [TestMethod]
    public void Auc_SplitAcrossImagesEqualsPooled()
    {
        var ev = new BinarySegmentationEvaluator();
        ev.Add(new byte[] { 0, 0 }, new byte[] { 0, 0 }, new float[] { 0.1f, 0.4f });
        ev.Add(new byte[] { 1, 1 }, new byte[] { 1, 1 }, new float[] { 0.35f, 0.8f });
        Assert.AreEqual(0.75, ev.GetMetrics().Auc, 1e-15);
        Assert.AreEqual(0.0, ev.GetMetrics().AucApproximationBound);
    }

    [TestMethod]
    public void HistogramAuc_WithinBoundAndWithin1e3OfExact()
    {
        var exact = new BinarySegmentationEvaluator();
        var hist = new BinarySegmentationEvaluator(new BinarySegmentationEvaluatorOptions { AucMode = AucMode.Histogram });
        var rng = new SeededRandom(7);
        for (int img = 0; img < 4; img++)
        {
            var truth = new byte[64 * 64];
            var prob = new float[truth.Length];
            for (int i = 0; i < truth.Length; i++)
            {
                truth[i] = rng.NextDouble() < 0.3 ? (byte)1 : (byte)0;
                // Overlapping levels, like a network trained on sampling noise: fg ~ 0.1, bg ~ 0.03.
                double mean = truth[i] == 1 ? 0.1 : 0.03;
                prob[i] = (float)Math.Clamp(mean + 0.04 * rng.NextGaussian(), 0, 1);
            }
            var pred = new byte[truth.Length];
            exact.Add(truth, pred, prob);
            hist.Add(truth, pred, prob);
        }
        var e = exact.GetMetrics();
        var h = hist.GetMetrics();
        Assert.IsTrue(e.Auc > 0.8 && e.Auc < 0.95, $"exact AUC {e.Auc}");
        Assert.IsTrue(Math.Abs(e.Auc - h.Auc) <= h.AucApproximationBound + 1e-12, $"|{e.Auc} - {h.Auc}| > bound {h.AucApproximationBound}");
        Assert.IsTrue(Math.Abs(e.Auc - h.Auc) < 1e-3, $"exact {e.Auc} histogram {h.Auc}");
        Assert.IsTrue(h.AucApproximationBound > 0 && h.AucApproximationBound < 5e-3, $"bound {h.AucApproximationBound}");
    }

    [TestMethod]
    public void IgnoredPixelsAreNeverScored()
    {
        var withIgnore = new BinarySegmentationEvaluator();
        byte[] truth = (byte[])Truth4x4.Clone();
        byte[] pred = (byte[])Pred4x4.Clone();
        var prob = new float[16];
        for (int i = 0; i < 16; i++) prob[i] = pred[i] == 1 ? 0.9f : 0.1f;
        // Append pixels with ignore truth and deliberately wrong predictions/probabilities.
        byte[] truthX = truth.Concat(new byte[] { 255, 255, 255 }).ToArray();
        byte[] predX = pred.Concat(new byte[] { 1, 0, 1 }).ToArray();
        float[] probX = prob.Concat(new[] { 0.99f, 0.0f, 0.5f }).ToArray();
        withIgnore.Add(truthX, predX, probX);
        var plain = new BinarySegmentationEvaluator();
        plain.Add(truth, pred, prob);
        var a = withIgnore.GetMetrics();
        var b = plain.GetMetrics();
        Assert.AreEqual(16L, a.PixelCount);
        Assert.AreEqual(b.Dice, a.Dice);
        Assert.AreEqual(b.Auc, a.Auc);
        Assert.AreEqual(b.TruePositives, a.TruePositives);
        Assert.AreEqual(b.FalsePositives, a.FalsePositives);
    }

    [TestMethod]
    public void CustomIgnoreIndex()
    {
        var ev = new BinarySegmentationEvaluator(new BinarySegmentationEvaluatorOptions { IgnoreIndex = 11 });
        ev.Add(new byte[] { 1, 11, 0 }, new byte[] { 1, 1, 0 });
        var m = ev.GetMetrics();
        Assert.AreEqual(2L, m.PixelCount);
        Assert.AreEqual(1.0, m.Dice);
        Assert.ThrowsExactly<ArgumentException>(() => ev.Add(new byte[] { 255 }, new byte[] { 0 }));
    }

    [TestMethod]
    public void EmptyConventions()
    {
        var ev = new BinarySegmentationEvaluator();
        ev.Add(new byte[] { 0, 0, 0, 0 }, new byte[] { 0, 0, 0, 0 }, new float[] { 0.1f, 0.2f, 0.3f, 0.4f });
        ev.Add(new byte[] { 255, 255 }, new byte[] { 1, 0 }, new float[] { 0.5f, 0.5f }); // fully ignored: not an image of the means
        var m = ev.GetMetrics();
        Assert.AreEqual(1.0, m.Dice);
        Assert.AreEqual(1.0, m.IoU);
        Assert.AreEqual(1.0, m.PerImageMeanDice);
        Assert.AreEqual(1.0, m.PerImageMeanIoU);
        Assert.AreEqual(1, m.ImageCount);
        Assert.AreEqual(1.0, m.Accuracy);
        Assert.AreEqual(1.0, m.Specificity);
        Assert.IsTrue(double.IsNaN(m.Sensitivity));
        Assert.IsTrue(double.IsNaN(m.Precision));
        Assert.IsTrue(double.IsNaN(m.Auc), "single-class truth -> AUC NaN");

        // Foreground truth, nothing predicted: Dice 0, precision undefined.
        var ev2 = new BinarySegmentationEvaluator();
        ev2.Add(new byte[] { 1, 0 }, new byte[] { 0, 0 });
        var m2 = ev2.GetMetrics();
        Assert.AreEqual(0.0, m2.Dice);
        Assert.AreEqual(0.0, m2.PerImageMeanDice);
        Assert.AreEqual(0.0, m2.Sensitivity);
        Assert.IsTrue(double.IsNaN(m2.Precision));

        var empty = new BinarySegmentationEvaluator().GetMetrics();
        Assert.AreEqual(0L, empty.PixelCount);
        Assert.IsTrue(double.IsNaN(empty.Dice) && double.IsNaN(empty.IoU) && double.IsNaN(empty.Accuracy) && double.IsNaN(empty.PerImageMeanDice));
    }

    [TestMethod]
    public void MergeEqualsSingleAccumulator_InAnyOrderAndInParallel()
    {
        var images = MakeImages(12, 11);
        var single = new BinarySegmentationEvaluator();
        foreach (var (t, p, q) in images) single.Add(t, p, q);

        var parts = Enumerable.Range(0, 3).Select(_ => new BinarySegmentationEvaluator()).ToArray();
        Parallel.For(0, images.Count, i => parts[i % 3].Add(images[i].Truth, images[i].Pred, images[i].Prob));
        var merged = new BinarySegmentationEvaluator();
        merged.Merge(parts[2]); merged.Merge(parts[0]); merged.Merge(parts[1]);

        var a = single.GetMetrics();
        var b = merged.GetMetrics();
        Assert.AreEqual(a.TruePositives, b.TruePositives);
        Assert.AreEqual(a.FalsePositives, b.FalsePositives);
        Assert.AreEqual(a.TrueNegatives, b.TrueNegatives);
        Assert.AreEqual(a.FalseNegatives, b.FalseNegatives);
        Assert.AreEqual(a.Dice, b.Dice);
        Assert.AreEqual(a.Auc, b.Auc);
        Assert.AreEqual(a.PerImageMeanDice, b.PerImageMeanDice);
        Assert.AreEqual(a.PerImageMeanIoU, b.PerImageMeanIoU);
        Assert.AreEqual(a.ImageCount, b.ImageCount);
        Assert.AreEqual(12, b.ImageCount);
        // The source evaluators are unchanged by Merge.
        Assert.AreEqual(4, parts[0].GetMetrics().ImageCount);
    }

    [TestMethod]
    public void Merge_RejectsSelfAndMismatchedOptions()
    {
        var a = new BinarySegmentationEvaluator();
        Assert.AreEqual("other", Assert.ThrowsExactly<ArgumentException>(() => a.Merge(a)).ParamName);
        var b = new BinarySegmentationEvaluator(new BinarySegmentationEvaluatorOptions { AucMode = AucMode.Histogram });
        Assert.AreEqual("other", Assert.ThrowsExactly<ArgumentException>(() => a.Merge(b)).ParamName);
        var withProb = new BinarySegmentationEvaluator();
        withProb.Add(new byte[] { 1 }, new byte[] { 1 }, new float[] { 0.5f });
        a.Add(new byte[] { 1 }, new byte[] { 1 });
        Assert.AreEqual("other", Assert.ThrowsExactly<ArgumentException>(() => a.Merge(withProb)).ParamName);
    }

    [TestMethod]
    public void InvalidInputs_NameTheArgument()
    {
        var ev = new BinarySegmentationEvaluator();
        Assert.AreEqual("predicted", Assert.ThrowsExactly<ArgumentException>(() => ev.Add(new byte[4], new byte[3])).ParamName);
        Assert.AreEqual("probability", Assert.ThrowsExactly<ArgumentException>(() => ev.Add(new byte[4], new byte[4], new float[3])).ParamName);
        Assert.AreEqual("probability", Assert.ThrowsExactly<ArgumentException>(() => ev.Add(new byte[2], new byte[2], new[] { 0.1f, float.NaN })).ParamName);
        Assert.AreEqual("truth", Assert.ThrowsExactly<ArgumentException>(() => ev.Add(new byte[] { 2 }, new byte[] { 0 })).ParamName);
        Assert.AreEqual("predicted", Assert.ThrowsExactly<ArgumentException>(() => ev.Add(new byte[] { 0 }, new byte[] { 7 })).ParamName);
        Assert.AreEqual("truth", Assert.ThrowsExactly<ArgumentException>(() => ev.Add(ReadOnlySpan<byte>.Empty, ReadOnlySpan<byte>.Empty)).ParamName);
        Assert.AreEqual(0L, ev.GetMetrics().PixelCount, "failed Adds leave no trace");

        var hist = new BinarySegmentationEvaluator(new BinarySegmentationEvaluatorOptions { AucMode = AucMode.Histogram });
        Assert.AreEqual("probability", Assert.ThrowsExactly<ArgumentException>(() => hist.Add(new byte[] { 1 }, new byte[] { 1 }, new[] { 1.5f })).ParamName);

        ev.Add(new byte[] { 1 }, new byte[] { 1 }, new[] { 0.5f });
        Assert.AreEqual("probability", Assert.ThrowsExactly<ArgumentException>(() => ev.Add(new byte[] { 1 }, new byte[] { 1 })).ParamName);

        Assert.AreEqual("IgnoreIndex", Assert.ThrowsExactly<ArgumentOutOfRangeException>(
            () => new BinarySegmentationEvaluator(new BinarySegmentationEvaluatorOptions { IgnoreIndex = 1 })).ParamName);
        Assert.AreEqual("HistogramBinCount", Assert.ThrowsExactly<ArgumentOutOfRangeException>(
            () => new BinarySegmentationEvaluator(new BinarySegmentationEvaluatorOptions { HistogramBinCount = 4 })).ParamName);
    }

    internal static List<(byte[] Truth, byte[] Pred, float[] Prob)> MakeImages(int count, int seed)
    {
        var list = new List<(byte[], byte[], float[])>();
        for (int img = 0; img < count; img++)
        {
            var rng = SeededRandom.For(seed, img);
            int n = 100 + img;
            var t = new byte[n]; var p = new byte[n]; var q = new float[n];
            for (int i = 0; i < n; i++)
            {
                t[i] = rng.NextDouble() < 0.05 ? (byte)255 : rng.NextDouble() < 0.4 ? (byte)1 : (byte)0;
                q[i] = (float)Math.Round(rng.NextDouble(), 2); // coarse values -> many ties
                p[i] = q[i] > 0.5f ? (byte)1 : (byte)0;
            }
            list.Add((t, p, q));
        }
        return list;
    }
}
