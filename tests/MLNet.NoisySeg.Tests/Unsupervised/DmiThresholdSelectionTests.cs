using MLNet.NoisySeg.Losses;
using MLNet.NoisySeg.Unsupervised;
using static TorchSharp.torch;

namespace MLNet.NoisySeg.Tests.Unsupervised;

[TestClass]
public class DmiThresholdSelectionTests
{
    [TestMethod]
    public void Loss_HandComputed2x2Cases()
    {
        // p = (1, 0), s = (1, 0): U = [[.5, 0], [0, .5]], det .25.
        Assert.AreEqual(-Math.Log(0.25), DmiThresholdSelection.Loss([1f, 0f], [1, 0], eps: 0), 1e-12);
        // p = (.75, .25), s = (1, 0): U = [[.375, .125], [.125, .375]], det .125; swapping s keeps |det|.
        Assert.AreEqual(-Math.Log(0.125), DmiThresholdSelection.Loss([0.75f, 0.25f], [1, 0], eps: 0), 1e-12);
        Assert.AreEqual(-Math.Log(0.125), DmiThresholdSelection.Loss([0.75f, 0.25f], [0, 1], eps: 0), 1e-12);
        // Uninformative p = .5 everywhere: det 0, loss -log(eps).
        Assert.AreEqual(-Math.Log(1e-3), DmiThresholdSelection.Loss([0.5f, 0.5f], [1, 0]), 1e-12);
        // 255 pixels are skipped: the third pixel changes nothing.
        Assert.AreEqual(-Math.Log(0.125), DmiThresholdSelection.Loss([0.75f, 0.25f, 0.9f], [1, 0, 255], eps: 0), 1e-12);
    }

    [TestMethod]
    public void Loss_EqualsSegmentationLossesDmi_AndItsGradientByFiniteDifferences()
    {
        var rng = new Random(5);
        int n = 40;
        var p = Enumerable.Range(0, n).Select(_ => (float)(0.05 + 0.9 * rng.NextDouble())).ToArray();
        var s = Enumerable.Range(0, n).Select(i => (byte)(p[i] + 0.3 * rng.NextDouble() > 0.6 ? 1 : 0)).ToArray();
        using var scope = NewDisposeScope();
        var pt = tensor(p.Select(v => (double)v).ToArray()).requires_grad_(true);
        var st = tensor(s.Select(v => (double)v).ToArray());
        var loss = SegmentationLosses.Dmi(pt, st);
        Assert.AreEqual(loss.item<double>(), DmiThresholdSelection.Loss(p, s), 1e-6);

        // The selection scores hard candidates with the training loss: its derivative w.r.t. p (central finite
        // differences of the CPU loss) equals the autograd gradient of SegmentationLosses.Dmi.
        loss.backward();
        var grad = pt.grad!.data<double>().ToArray();
        const float h = 1e-3f;
        foreach (int i in new[] { 0, 7, 19, 33 })
        {
            var plus = (float[])p.Clone(); plus[i] += h;
            var minus = (float[])p.Clone(); minus[i] -= h;
            double fd = (DmiThresholdSelection.Loss(plus, s) - DmiThresholdSelection.Loss(minus, s)) / ((double)plus[i] - minus[i]);
            Assert.AreEqual(grad[i], fd, 1e-3 * Math.Max(1, Math.Abs(grad[i])), $"pixel {i}");
        }
    }

    [TestMethod]
    public void Levels_AreTheKInteriorPoints()
    {
        CollectionAssert.AreEqual(new[] { 0.25, 0.5, 0.75 }, DmiThresholdSelection.Levels(0, 1, 3));
        var l = DmiThresholdSelection.Levels(-2, 4, 30);
        Assert.AreEqual(30, l.Length);
        Assert.AreEqual(-2 + 6.0 / 31, l[0], 1e-12);
        Assert.AreEqual(4 - 6.0 / 31, l[29], 1e-12);
    }

    [TestMethod]
    public void Select_PicksTheThresholdSeparatingTheTwoLevels()
    {
        // 100 pixels: 70 background around 0.2, 30 foreground around 0.6, plus one outlier at 1.0 that drags max up
        // (so the best level is not the middle of [min, max]). Levels: 0.1 + 0.9 (k+1)/31.
        var rng = new Random(1);
        var p = new float[101];
        var truth = new byte[101];
        for (int i = 0; i < 100; i++)
        {
            bool fg = i % 10 < 3;
            truth[i] = fg ? (byte)1 : (byte)0;
            p[i] = (float)((fg ? 0.55 : 0.1) + 0.1 * rng.NextDouble());
        }
        p[100] = 1.0f; truth[100] = 1;
        var mask = new byte[101];
        var losses = new double[30];
        var sel = DmiThresholdSelection.Select(p, mask, 30, losses: losses);
        CollectionAssert.AreEqual(truth, mask);
        Assert.IsTrue(sel.Threshold > 0.2 && sel.Threshold < 0.55, $"threshold {sel.Threshold}");
        Assert.AreEqual(31 / 101.0, sel.ForegroundFraction, 1e-12);
        Assert.AreEqual(DmiThresholdSelection.Loss(p, truth), sel.Loss, 1e-12);
        Assert.AreEqual(losses.Min(), sel.Loss);
        // A level inside the background cluster is worse than the chosen one.
        Assert.IsTrue(losses[0] > sel.Loss + 0.1, $"{losses[0]} vs {sel.Loss}");
    }

    [TestMethod]
    public void Select_OnePassScoresEqualBruteForce()
    {
        var rng = new Random(9);
        var p = Enumerable.Range(0, 500).Select(_ => (float)Math.Pow(rng.NextDouble(), 3)).ToArray();
        var losses = new double[30];
        var mask = new byte[p.Length];
        DmiThresholdSelection.Select(p, mask, 30, losses: losses);
        var levels = DmiThresholdSelection.Levels(p.Min(), p.Max(), 30);
        for (int k = 0; k < 30; k++)
        {
            var s = p.Select(v => v > levels[k] ? (byte)1 : (byte)0).ToArray();
            Assert.AreEqual(DmiThresholdSelection.Loss(p, s), losses[k], 1e-9, $"level {k}");
        }
    }

    [TestMethod]
    public void Select_ConstantMap_GivesEmptyMask()
    {
        var mask = new byte[] { 9, 9, 9 };
        var sel = DmiThresholdSelection.Select([0.3f, 0.3f, 0.3f], mask);
        Assert.AreEqual(-1, sel.Index);
        CollectionAssert.AreEqual(new byte[3], mask);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => DmiThresholdSelection.Select([0f, 1f], new byte[2], 0));
    }

    /// <summary>det U of [p &gt; t] is Cov(p, s), largest at t = mean(p): the DMI choice is one of the two levels around the mean.</summary>
    [TestMethod]
    public void Select_UnconstrainedChoiceIsALevelAroundTheMean()
    {
        var rng = new Random(3);
        for (int trial = 0; trial < 20; trial++)
        {
            // Skewed maps: a 10% bright minority on a noisy background, as in a sparse structure.
            var p = Enumerable.Range(0, 2000).Select(i => (float)((i % 10 == 0 ? 0.7 : 0.1) + 0.15 * rng.NextDouble() * (1 + trial % 3))).ToArray();
            var sel = DmiThresholdSelection.Select(p, new byte[p.Length], 30);
            var levels = DmiThresholdSelection.Levels(p.Min(), p.Max(), 30);
            double mean = p.Average(v => (double)v);
            int below = levels.Count(l => l < mean) - 1;
            Assert.IsTrue(sel.Index == below || sel.Index == below + 1, $"trial {trial}: index {sel.Index}, mean between levels {below} and {below + 1}");
        }
    }

    [TestMethod]
    public void Select_MaxForegroundShare_KeepsOnlyEligibleCandidates()
    {
        // 10% at ~0.8, 90% spread over [0, 0.4]: the unconstrained choice (near the mean) takes much of the background.
        var rng = new Random(4);
        var p = Enumerable.Range(0, 1000).Select(i => (float)(i % 10 == 0 ? 0.8 + 0.01 * rng.NextDouble() : 0.4 * rng.NextDouble())).ToArray();
        var free = DmiThresholdSelection.Select(p, new byte[p.Length], 30);
        Assert.IsTrue(free.ForegroundFraction > 0.3, $"unconstrained share {free.ForegroundFraction}");
        var mask = new byte[p.Length];
        var losses = new double[30];
        var bounded = DmiThresholdSelection.Select(p, mask, 30, losses: losses, maxForegroundShare: 0.12);
        Assert.IsTrue(bounded.ForegroundFraction <= 0.12, $"bounded share {bounded.ForegroundFraction}");
        Assert.AreEqual(mask.Count(v => v == 1) / 1000.0, bounded.ForegroundFraction, 1e-12);
        // The best of the eligible candidates: every level whose candidate fits has a loss no lower.
        var levels = DmiThresholdSelection.Levels(p.Min(), p.Max(), 30);
        for (int k = 0; k < 30; k++)
            if (p.Count(v => v > levels[k]) <= 120) Assert.IsTrue(losses[k] >= bounded.Loss, $"level {k}");
        // Nothing eligible: empty mask, Index -1.
        var none = DmiThresholdSelection.Select(p, mask, 30, maxForegroundShare: 0.0);
        Assert.AreEqual(-1, none.Index);
        Assert.IsTrue(mask.All(v => v == 0));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => DmiThresholdSelection.Select(p, mask, 30, maxForegroundShare: 1.5));
    }
}
