using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Evaluation;

namespace MLNet.NoisySeg.Tests.Evaluation;

[TestClass]
public sealed class MulticlassSegmentationEvaluatorTests
{
    // Confusion (rows truth, cols pred): [[3,1,0],[1,2,1],[0,0,2]].
    private static readonly long[,] Confusion = { { 3, 1, 0 }, { 1, 2, 1 }, { 0, 0, 2 } };

    private static (byte[] Truth, byte[] Pred) FromConfusion(long[,] confusion, int ignored = 0)
    {
        var t = new List<byte>(); var p = new List<byte>();
        for (int i = 0; i < confusion.GetLength(0); i++)
            for (int j = 0; j < confusion.GetLength(1); j++)
                for (int k = 0; k < confusion[i, j]; k++) { t.Add((byte)i); p.Add((byte)j); }
        for (int k = 0; k < ignored; k++) { t.Add(255); p.Add((byte)(k % 3)); }
        return (t.ToArray(), p.ToArray());
    }

    [TestMethod]
    public void ThreeClass_KnownConfusion_GivesExactMetrics()
    {
        var (t, p) = FromConfusion(Confusion, ignored: 5);
        var ev = new MulticlassSegmentationEvaluator(3);
        ev.Add(t, p);
        var m = ev.GetMetrics();
        Assert.AreEqual(10L, m.PixelCount);
        Assert.AreEqual(0.7, m.PixelAccuracy, 1e-15);
        CollectionAssert.AreEqual(new[] { 0.6, 0.4, 2.0 / 3 }, m.PerClassIoU.ToArray(), new Tolerance(1e-15));
        CollectionAssert.AreEqual(new[] { 0.75, 4.0 / 7, 0.8 }, m.PerClassDice.ToArray(), new Tolerance(1e-15));
        Assert.AreEqual(5.0 / 9, m.MeanIoU, 1e-15);
        Assert.AreEqual((0.75 + 4.0 / 7 + 0.8) / 3, m.MeanDice, 1e-15);
        Assert.AreEqual(8.0 / 15, m.FrequencyWeightedIoU, 1e-15);
        Assert.AreEqual(5.0 / 9, m.PerImageMeanIoU, 1e-15);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
            {
                Assert.AreEqual(Confusion[i, j], m.GetConfusion(i, j));
                Assert.AreEqual(Confusion[i, j], m.ConfusionMatrix[i, j]);
            }
        Assert.AreEqual(4L, m.ConfusionMatrix.RowTotal(1));
        Assert.AreEqual(3L, m.ConfusionMatrix.ColumnTotal(2));
        var copy = m.ConfusionMatrix.ToArray();
        copy[0, 0] = 99;
        Assert.AreEqual(3L, m.GetConfusion(0, 0), "ToArray returns a copy");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => m.GetConfusion(3, 0));
    }

    [TestMethod]
    public void AbsentClass_IsNaNAndLeftOutOfMeans()
    {
        var (t, p) = FromConfusion(Confusion);
        var ev = new MulticlassSegmentationEvaluator(4);
        ev.Add(t, p);
        var m = ev.GetMetrics();
        Assert.IsTrue(double.IsNaN(m.PerClassIoU[3]));
        Assert.IsTrue(double.IsNaN(m.PerClassDice[3]));
        Assert.AreEqual(5.0 / 9, m.MeanIoU, 1e-15);
        Assert.AreEqual(8.0 / 15, m.FrequencyWeightedIoU, 1e-15);

        // A class only predicted counts with IoU 0.
        var ev2 = new MulticlassSegmentationEvaluator(4);
        ev2.Add(new byte[] { 0, 0 }, new byte[] { 0, 3 });
        var m2 = ev2.GetMetrics();
        Assert.AreEqual(0.0, m2.PerClassIoU[3]);
        Assert.AreEqual(0.25, m2.MeanIoU, 1e-15); // (1/2 + 0) / 2
        Assert.AreEqual(0.5, m2.FrequencyWeightedIoU, 1e-15);
    }

    [TestMethod]
    public void PerImageMeanIoU_AveragesImageMeans()
    {
        var ev = new MulticlassSegmentationEvaluator(3);
        ev.Add(new byte[] { 0, 1, 2, 2 }, new byte[] { 0, 1, 2, 2 }); // mIoU 1
        ev.Add(new byte[] { 0, 0, 1, 1 }, new byte[] { 0, 1, 1, 1 }); // class0 1/2, class1 2/3 -> 7/12
        ev.Add(new byte[] { 255, 255 }, new byte[] { 0, 1 });         // no scored pixel -> not counted
        var m = ev.GetMetrics();
        Assert.AreEqual(2, m.ImageCount);
        Assert.AreEqual((1 + 7.0 / 12) / 2, m.PerImageMeanIoU, 1e-15);
        Assert.AreEqual(7.0 / 8, m.PixelAccuracy, 1e-15);
    }

    [TestMethod]
    public void MergeEqualsSingleAccumulator()
    {
        var single = new MulticlassSegmentationEvaluator(5);
        var parts = new[] { new MulticlassSegmentationEvaluator(5), new MulticlassSegmentationEvaluator(5) };
        var images = new List<(byte[], byte[])>();
        for (int img = 0; img < 10; img++)
        {
            var rng = SeededRandom.For(3, img);
            var t = new byte[50]; var p = new byte[50];
            for (int i = 0; i < 50; i++)
            {
                t[i] = rng.NextDouble() < 0.1 ? (byte)255 : (byte)rng.NextInt(5);
                p[i] = rng.NextDouble() < 0.6 && t[i] != 255 ? t[i] : (byte)rng.NextInt(5);
            }
            images.Add((t, p));
            single.Add(t, p);
        }
        Parallel.For(0, images.Count, i => parts[i % 2].Add(images[i].Item1, images[i].Item2));
        var merged = new MulticlassSegmentationEvaluator(5);
        merged.Merge(parts[1]);
        merged.Merge(parts[0]);
        var a = single.GetMetrics();
        var b = merged.GetMetrics();
        CollectionAssert.AreEqual(a.ConfusionMatrix.ToArray(), b.ConfusionMatrix.ToArray());
        Assert.AreEqual(a.MeanIoU, b.MeanIoU);
        Assert.AreEqual(a.PerImageMeanIoU, b.PerImageMeanIoU);
        Assert.AreEqual(a.FrequencyWeightedIoU, b.FrequencyWeightedIoU);
        Assert.AreEqual(10, b.ImageCount);
        Assert.AreEqual("other", Assert.ThrowsExactly<ArgumentException>(() => merged.Merge(new MulticlassSegmentationEvaluator(4))).ParamName);
    }

    [TestMethod]
    public void InvalidInputs_NameTheArgument()
    {
        Assert.AreEqual("classCount", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new MulticlassSegmentationEvaluator(1)).ParamName);
        Assert.AreEqual("IgnoreIndex", Assert.ThrowsExactly<ArgumentOutOfRangeException>(
            () => new MulticlassSegmentationEvaluator(12, new MulticlassSegmentationEvaluatorOptions { IgnoreIndex = 11 })).ParamName);
        var ev = new MulticlassSegmentationEvaluator(3);
        Assert.AreEqual("predicted", Assert.ThrowsExactly<ArgumentException>(() => ev.Add(new byte[3], new byte[2])).ParamName);
        Assert.AreEqual("predicted", Assert.ThrowsExactly<ArgumentException>(() => ev.Add(new byte[] { 0 }, new byte[] { 3 })).ParamName);
        Assert.AreEqual("truth", Assert.ThrowsExactly<ArgumentException>(() => ev.Add(new byte[] { 3 }, new byte[] { 0 })).ParamName);
        Assert.AreEqual(0L, ev.GetMetrics().PixelCount);

        var camvid = new MulticlassSegmentationEvaluator(11, new MulticlassSegmentationEvaluatorOptions { IgnoreIndex = 11 });
        camvid.Add(new byte[] { 11, 3 }, new byte[] { 5, 3 });
        Assert.AreEqual(1L, camvid.GetMetrics().PixelCount);
    }

    private sealed class Tolerance(double eps) : System.Collections.IComparer
    {
        public int Compare(object? x, object? y) => Math.Abs((double)x! - (double)y!) <= eps ? 0 : 1;
    }
}
