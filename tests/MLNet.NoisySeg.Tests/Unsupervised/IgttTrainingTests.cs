using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Data.Synthetic;
using MLNet.NoisySeg.Evaluation;
using MLNet.NoisySeg.Losses;
using MLNet.NoisySeg.Networks;
using MLNet.NoisySeg.Training;
using MLNet.NoisySeg.Unsupervised;

namespace MLNet.NoisySeg.Tests.Unsupervised;

[TestClass]
public class IgttTrainingTests
{
    /// <summary>Noisy nuclei-like blobs, 64x64: few photons, strong read noise and uneven background.</summary>
    internal static readonly SyntheticFluorescenceOptions NoisyNuclei64 = new()
    {
        Kind = SyntheticFluorescenceKind.Nuclei, Width = 64, Height = 64, NucleusRadiusMin = 5, NucleusRadiusMax = 10,
        PhotonCount = 20, NoiseLevel = 0.08, BackgroundVariation = 0.6,
    };

    internal static IReadOnlyList<SegmentationItem> Items(int count, int first)
        => SyntheticData.FluorescenceBatch(NoisyNuclei64, 7, count, first).Select(s => s.AsLoaded()).ToList();

    internal static IgttOptions SmallOptions(bool ems, int rounds = 4, int steps = 20, int seed = 0) => new()
    {
        Rounds = rounds,
        StepsPerRound = steps,
        UseMetaStructureExtraction = ems,
        Trainer = new SegmentationTrainerOptions { Loss = LossKind.DmiSoftIoU, Network = new UNetOptions { Depth = 3, BaseWidth = 16 }, BatchSize = 4, Threads = 2, Seed = seed },
    };

    private static double Dice(IReadOnlyList<SegmentationItem> test, Func<SegmentationItem, byte[]> predict)
    {
        var ev = new BinarySegmentationEvaluator();
        foreach (var t in test) ev.Add(t.Mask, predict(t));
        return ev.GetMetrics().Dice;
    }

    /// <summary>
    /// The claim of method.md §6 on a small budget (16 images, 4 rounds x 20 steps, ~15 s): iGTT with EMS beats Otsu's
    /// Dice on noisy blobs. Observed with seed 0: iGTT + EMS 0.920, Otsu 0.856 (see the report for more seeds).
    /// </summary>
    [TestMethod]
    public void IgttWithEms_BeatsOtsu_OnNoisyBlobs()
    {
        var train = Items(16, 0);
        var test = Items(8, 1000);
        var progress = new List<IgttProgress>();
        using var r = IterativeGroundTruthTrainer.Train(train, SmallOptions(ems: true), new SyncProgress(progress.Add));

        double igtt = Dice(test, t =>
        {
            var mask = new byte[t.PixelCount];
            r.Decoding.Decode(r.Model.PredictProbabilities(t.Image, 1, 64, 64), 1, mask);
            return mask;
        });
        double otsu = Dice(test, t =>
        {
            var mask = new byte[t.PixelCount];
            ThresholdBaselines.Otsu(t.Image, 1, 64, 64, ThresholdPolarity.Bright, mask);
            return mask;
        });
        Assert.IsTrue(otsu is > 0.80 and < 0.90, $"Otsu Dice {otsu:0.000}");
        Assert.IsTrue(igtt >= otsu + 0.03, $"iGTT + EMS Dice {igtt:0.000} vs Otsu {otsu:0.000}");
        Assert.IsTrue(igtt >= 0.88, $"iGTT + EMS Dice {igtt:0.000}");

        // Four selections (one per round) and 80 training steps were reported; EMS pseudo-labels are sparse.
        Assert.AreEqual(4, r.Rounds.Count);
        Assert.AreEqual(4, progress.Count(p => p.Stage == IgttStage.Selection));
        Assert.AreEqual(80, progress.Count(p => p.Stage == IgttStage.Training));
        CollectionAssert.AreEqual(new[] { 0, 1, 2, 3 }, progress.Where(p => p.Stage == IgttStage.Selection).Select(p => p.Round).ToArray());
        Assert.AreEqual(3, progress.Last().Round);
        Assert.IsTrue(r.Rounds.All(s => s.MeanPseudoLabelForeground < 0.05), string.Join(", ", r.Rounds));
        Assert.IsTrue(r.Rounds[^1].MeanCandidateForeground is > 0.15 and < 0.5, r.Rounds[^1].ToString());
    }

    [TestMethod]
    public void Cancellation_StopsTraining()
    {
        var train = Items(4, 0);
        using var cts = new CancellationTokenSource();
        var o = SmallOptions(ems: true, rounds: 3, steps: 5) with
        {
            Trainer = SmallOptions(true).Trainer with { Network = new UNetOptions { Depth = 2, BaseWidth = 4 } },
        };
        int steps = 0;
        var progress = new SyncProgress(p => { if (p.Stage == IgttStage.Training && ++steps == 2) cts.Cancel(); });
        Assert.ThrowsExactly<OperationCanceledException>(() => IterativeGroundTruthTrainer.Train(train, o, progress, cts.Token));
        Assert.AreEqual(2, steps);
    }

    [TestMethod]
    public void WithoutEms_TrainsOnMinorityOrientedCandidates_AndIsDeterministic()
    {
        var train = Items(4, 0);
        var o = SmallOptions(ems: false, rounds: 2, steps: 2) with
        {
            Trainer = SmallOptions(false).Trainer with { Network = new UNetOptions { Depth = 2, BaseWidth = 4 }, Threads = 1 },
        };
        using var a = IterativeGroundTruthTrainer.Train(train, o);
        using var b = IterativeGroundTruthTrainer.Train(train, o);
        for (int i = 0; i < train.Count; i++)
        {
            CollectionAssert.AreEqual(a.PseudoLabels[i], b.PseudoLabels[i]);
            double fg = a.PseudoLabels[i].Count(v => v == 1) / (double)a.PseudoLabels[i].Length;
            Assert.IsTrue(fg <= 0.5, $"pseudo-label foreground {fg}");
            double cand = a.Candidates[i].Count(v => v == 1) / (double)a.Candidates[i].Length;
            Assert.AreEqual(cand > 0.5 ? 1 - cand : cand, fg, 1e-12);
        }
        Assert.AreEqual(a.OutputInverted, b.OutputInverted);
        Assert.AreEqual(a.Levels.Threshold, b.Levels.Threshold, 1e-6);
    }

    internal sealed class SyncProgress(Action<IgttProgress> report) : IProgress<IgttProgress>
    {
        public void Report(IgttProgress value) => report(value);
    }
}
