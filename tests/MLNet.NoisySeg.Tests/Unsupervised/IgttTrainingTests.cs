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

    /// <summary>A few seconds' worth: depth-2, width-4 network, 1 thread.</summary>
    private static IgttOptions Tiny(bool ems = true, int rounds = 2, int steps = 3, int seed = 0) => SmallOptions(ems, rounds, steps, seed) with
    {
        Depth = 2,
        BaseWidth = 4,
        Trainer = SmallOptions(ems).Trainer with { Threads = 1, Seed = seed },
    };

    /// <summary>The same blobs, dark on a bright background.</summary>
    private static IReadOnlyList<SegmentationItem> DarkItems(int count, int first)
        => Items(count, first).Select(i => i with { Image = i.Image.Select(v => -v).ToArray() }).ToList();

    private static double Dice(IReadOnlyList<SegmentationItem> test, Func<SegmentationItem, byte[]> predict)
    {
        var ev = new BinarySegmentationEvaluator();
        foreach (var t in test) ev.Add(t.Mask, predict(t));
        return ev.GetMetrics().Dice;
    }

    private static (double Dice, double Auc) Score(IgttResult r, IReadOnlyList<SegmentationItem> test)
    {
        var ev = new BinarySegmentationEvaluator();
        foreach (var t in test)
        {
            var p = r.Model.PredictProbabilities(t.Image, 1, t.Height, t.Width);
            var mask = new byte[t.PixelCount];
            r.Decoding.Decode(p, 1, mask);
            ev.Add(t.Mask, mask, p);
        }
        var m = ev.GetMetrics();
        return (m.Dice, m.Auc);
    }

    private static double Share(byte[] m) => m.Count(v => v == 1) / (double)m.Length;

    /// <summary>
    /// method.md §6 on a small budget (16 images, 4 rounds x 20 steps, ~15 s) on noisy blobs: iGTT with EMS, decoded
    /// label-free, ranks pixels better than Otsu's score (AUC) and matches Otsu's Dice; the pseudo-labels stay sparse
    /// and the candidates keep the first round's (Otsu-sized) area instead of growing. Observed with seed 0 (2 threads):
    /// Dice 0.847 vs Otsu 0.855, AUC 0.99 vs 0.967; with 1 thread Dice 0.868. It does not beat Otsu's Dice here: the
    /// candidates' area, which the decoding reproduces, is the Otsu-sized first split (0.23 vs 0.27 in the truth).
    /// </summary>
    [TestMethod]
    public void IgttWithEms_MatchesOtsuDice_AndBeatsItsAuc_OnNoisyBlobs()
    {
        var train = Items(16, 0);
        var test = Items(8, 1000);
        var progress = new List<IgttProgress>();
        using var r = IterativeGroundTruthTrainer.Train(train, SmallOptions(ems: true), new SyncProgress(progress.Add));

        var (igtt, igttAuc) = Score(r, test);
        var ev = new BinarySegmentationEvaluator();
        foreach (var t in test)
        {
            var mask = new byte[t.PixelCount];
            var score = new float[t.PixelCount];
            ThresholdBaselines.Otsu(t.Image, 1, 64, 64, ThresholdPolarity.Bright, mask, score);
            ev.Add(t.Mask, mask, score);
        }
        var otsu = ev.GetMetrics();
        Assert.IsTrue(otsu.Dice is > 0.80 and < 0.90, $"Otsu Dice {otsu.Dice:0.000}");
        Assert.IsTrue(igtt >= otsu.Dice - 0.03, $"iGTT + EMS Dice {igtt:0.000} vs Otsu {otsu.Dice:0.000}");
        Assert.IsTrue(igttAuc >= otsu.Auc + 0.01, $"iGTT + EMS AUC {igttAuc:0.000} vs Otsu {otsu.Auc:0.000}");

        // Four selections (one per round) and 80 training steps were reported; EMS pseudo-labels are sparse.
        Assert.AreEqual(4, r.Rounds.Count);
        Assert.AreEqual(4, progress.Count(p => p.Stage == IgttStage.Selection));
        Assert.AreEqual(80, progress.Count(p => p.Stage == IgttStage.Training));
        CollectionAssert.AreEqual(new[] { 0, 1, 2, 3 }, progress.Where(p => p.Stage == IgttStage.Selection).Select(p => p.Round).ToArray());
        Assert.AreEqual(3, progress.Last().Round);
        Assert.IsTrue(r.Rounds.All(s => s.MeanPseudoLabelForeground < 0.05), string.Join(", ", r.Rounds));
        double truth = LabelFreeShare(train);
        Assert.IsTrue(r.Rounds.All(s => s.MeanCandidateForeground < 1.3 * truth), $"truth {truth:0.000}: " + string.Join(", ", r.Rounds));
        Assert.AreEqual(ThresholdPolarity.Bright, r.Orientation.ObservedPolarity, r.Orientation.ToString());
    }

    private static double LabelFreeShare(IReadOnlyList<SegmentationItem> items) => items.Average(i => Share(i.Mask!));

    /// <summary>
    /// The growth guard: with NoGrowth no image's candidate covers more than in the first round, nor more than the
    /// area prior; the paper's selection (PriorOnly) takes the mean split of the first map, well above the truth.
    /// </summary>
    [TestMethod]
    public void NoGrowthGuard_KeepsEveryImagesCandidateShareFromGrowing()
    {
        var train = Items(8, 0);
        var shares = new List<double[]>();
        var bounds = new List<double>();
        var o = Tiny(ems: true, rounds: 4, steps: 4) with { MaxForegroundShare = 0.4 };
        using (var r = IterativeGroundTruthTrainer.Train(train, o, new SyncProgress(p =>
               {
                   if (p.Stage != IgttStage.Selection) return;
                   shares.Add(p.Candidates!.Select(Share).ToArray());
                   bounds.Add(p.Selection!.MeanForegroundBound);
               })))
        {
            Assert.AreEqual(4, shares.Count);
            for (int round = 0; round < shares.Count; round++)
                for (int i = 0; i < train.Count; i++)
                {
                    Assert.IsTrue(shares[round][i] <= 0.4, $"round {round} image {i}: {shares[round][i]}");
                    if (round > 0) Assert.IsTrue(shares[round][i] <= shares[0][i] + 1e-12, $"round {round} image {i}: {shares[0][i]} in round 0 -> {shares[round][i]}");
                }
            Assert.AreEqual(shares[^1].Average(), r.ForegroundShare, 1e-12);
        }

        double truth = LabelFreeShare(train);
        Assert.IsTrue(shares[0].Average() < 1.3 * truth, $"first candidates {shares[0].Average():0.000} vs truth {truth:0.000}");
        var paper = new List<double>();
        using var p0 = IterativeGroundTruthTrainer.Train(train, Tiny(rounds: 1, steps: 1) with { AreaGuard = IgttAreaGuard.PriorOnly },
            new SyncProgress(p => { if (p.Stage == IgttStage.Selection) paper.Add(p.Candidates!.Average(Share)); }));
        Assert.IsTrue(paper[0] > 1.25 * truth, $"the paper's first candidates {paper[0]:0.000} vs truth {truth:0.000}");
    }

    [TestMethod]
    public void ForegroundBound_CombinesPriorTwoLevelSplitAndPreviousShare()
    {
        // 100 pixels: 20 at 1.0, 80 at 0.0 (+ tiny ramp): the Otsu split's high class is 20%.
        var p = Enumerable.Range(0, 100).Select(i => i < 20 ? 1f - i * 1e-3f : i * 1e-4f).ToArray();
        var prior = new IgttOptions { AreaGuard = IgttAreaGuard.PriorOnly, MaxForegroundShare = 0.5 };
        Assert.AreEqual(0.5, IterativeGroundTruthTrainer.ForegroundBound(p, prior, 0.1), 1e-12);
        var mixture = prior with { AreaGuard = IgttAreaGuard.TwoLevelMixture };
        Assert.AreEqual(0.2, IterativeGroundTruthTrainer.ForegroundBound(p, mixture, 0.1), 1e-12);
        var noGrowth = prior with { AreaGuard = IgttAreaGuard.NoGrowth };
        Assert.AreEqual(0.1, IterativeGroundTruthTrainer.ForegroundBound(p, noGrowth, 0.1), 1e-12);
        Assert.AreEqual(0.2, IterativeGroundTruthTrainer.ForegroundBound(p, noGrowth, double.NaN), 1e-12);
        Assert.AreEqual(0.15, IterativeGroundTruthTrainer.ForegroundBound(p, noGrowth with { MaxForegroundShare = 0.15 }, double.NaN), 1e-12);
    }

    [TestMethod]
    public void InvertHead_TurnsProbabilitiesIntoTheirComplement()
    {
        var train = Items(2, 0);
        using var r = IterativeGroundTruthTrainer.Train(train, Tiny(rounds: 1, steps: 1));
        var before = r.Model.PredictProbabilities(train[0].Image, 1, 64, 64);
        IterativeGroundTruthTrainer.InvertHead(r.Model.Network);
        var after = r.Model.PredictProbabilities(train[0].Image, 1, 64, 64);
        for (int j = 0; j < before.Length; j++) Assert.AreEqual(1 - before[j], after[j], 1e-5, $"pixel {j}");
    }

    /// <summary>
    /// The alignment decides once, then negates the head at most once: det U alone, the polarity alone, or both (they
    /// cancel: the polarity decides and the head is left as it was).
    /// </summary>
    [TestMethod]
    [DataRow(false, false, false, "")]
    [DataRow(true, false, true, "det U < 0): output inverted.")]
    [DataRow(false, true, true, "against polarity Bright: output inverted.")]
    [DataRow(true, true, false, "left as it was (the polarity decides).")]
    public void AlignNetwork_DecidesOnce(bool antiAligned, bool againstPolarity, bool expectInverted, string reason)
    {
        var train = Items(2, 0);
        using var r = IterativeGroundTruthTrainer.Train(train, Tiny(rounds: 1, steps: 1));
        var probe = r.Model.PredictProbabilities(train[0].Image, 1, 64, 64);
        // Outputs 0.2 / 0.8 on the two halves; labels 1 where the output is high (aligned) or low (anti-aligned);
        // intensity high where the output is high (Bright agrees) or low.
        var outputs = new[] { new float[] { 0.2f, 0.2f, 0.8f, 0.8f } };
        var labels = new[] { antiAligned ? new byte[] { 1, 1, 0, 0 } : new byte[] { 0, 0, 1, 1 } };
        // After a det-U inversion the outputs are 0.8 0.8 0.2 0.2: the polarity is against them when the intensity rises left to right.
        bool intensityRises = antiAligned ? againstPolarity : !againstPolarity;
        var intensity = new[] { intensityRises ? new float[] { 0, 0, 1, 1 } : new float[] { 1, 1, 0, 0 } };
        var log = new IterativeGroundTruthTrainer.OrientationLog(ForegroundPolarity.Bright);

        bool inverted = IterativeGroundTruthTrainer.AlignNetwork(r.Model, outputs, labels, intensity, ForegroundPolarity.Bright, 1, log);
        Assert.AreEqual(expectInverted, inverted);
        Assert.AreEqual(expectInverted ? 1 : 0, log.Inversions);
        float[] expected = expectInverted ? [1 - 0.2f, 1 - 0.2f, 1 - 0.8f, 1 - 0.8f] : [0.2f, 0.2f, 0.8f, 0.8f];
        CollectionAssert.AreEqual(expected, outputs[0]);
        var after = r.Model.PredictProbabilities(train[0].Image, 1, 64, 64);
        Assert.AreEqual(expectInverted ? 1 - probe[0] : probe[0], after[0], 1e-5, "the head is negated exactly when reported");
        if (reason.Length == 0) Assert.AreEqual("", log.Text);
        else StringAssert.Contains(log.Text, reason);
    }

    /// <summary>
    /// A network that learned its pseudo-labels the wrong way round (simulated by negating its head after the first
    /// round) is detected at the next selection, inverted back and reported; its probabilities, and the returned
    /// model's, are foreground probabilities of the structure (AUC well above 0.5).
    /// </summary>
    [TestMethod]
    public void AntiAlignedNetwork_IsInvertedAndReported_AndProbabilitiesAreOriented()
    {
        var train = Items(8, 0);
        var test = Items(4, 1000);
        var o = Tiny(ems: false, rounds: 3, steps: 6);
        // The observer sees the aligned network after each round; sabotaging it after round 0 leaves round 1 training
        // an inverted head, which the alignment after round 1 catches.
        var seen = new List<IgttRoundEnd>();
        IReadOnlyList<byte[]>? trainedOn = null;
        var selections = new SyncProgress(p => { if (p.Stage == IgttStage.Selection) trainedOn = p.PseudoLabels!.Select(x => (byte[])x.Clone()).ToList(); });
        using var r = IterativeGroundTruthTrainer.Train(train, o, selections, default, end =>
        {
            Assert.AreEqual(1, IterativeGroundTruthTrainer.OrientationSign(end.TrainingOutputs, trainedOn!), $"round {end.Round}: the observer gets aligned outputs");
            Assert.AreEqual(end.Round, end.Selection.Round, "the selection the round trained on");
            seen.Add(end);
            if (end.Round == 0) IterativeGroundTruthTrainer.InvertHead(end.Model.Network);
        });
        CollectionAssert.AreEqual(new[] { 0, 1, 2 }, seen.Select(e => e.Round).ToArray());
        Assert.IsTrue(seen[1].Inverted, "the alignment after round 1 negated the sabotaged head");
        Assert.IsTrue(r.Orientation.NetworkInversions >= 1, r.Orientation.ToString());
        Assert.IsTrue(r.Rounds[2].NetworkInverted, r.Rounds[2].ToString());
        StringAssert.Contains(r.Orientation.Reason, "After round 1 the network had learned its pseudo-labels inverted");
        Assert.IsFalse(r.OutputInverted);
        Assert.IsFalse(r.Decoding.Inverted);
        var outputs = r.Model.PredictProbabilities(train.Select(t => t.Image).ToList(), 1, 64, 64);
        Assert.AreEqual(1, IterativeGroundTruthTrainer.OrientationSign(outputs, r.PseudoLabels));
        var (dice, auc) = Score(r, test);
        Assert.IsTrue(auc > 0.9, $"AUC of the returned probabilities {auc:0.000}");
        Assert.IsTrue(dice > 0.5, $"Dice {dice:0.000}");
        Assert.AreEqual(ThresholdPolarity.Bright, r.Orientation.ObservedPolarity);
    }

    /// <summary>Auto finds dark blobs on a bright background (the minority side); Probability is high on them.</summary>
    [TestMethod]
    public void Auto_OrientsDarkBlobsAsForeground_AndRecordsWhy()
    {
        var train = DarkItems(8, 0);
        var test = DarkItems(4, 1000);
        using var r = IterativeGroundTruthTrainer.Train(train, Tiny(ems: false, rounds: 2, steps: 6));
        Assert.IsTrue(r.Orientation.InitialInverted, r.Orientation.ToString());
        StringAssert.Contains(r.Orientation.Reason, "Auto: the high side of the first map");
        Assert.AreEqual(ThresholdPolarity.Dark, r.Orientation.ObservedPolarity, r.Orientation.ToString());
        Assert.IsTrue(r.Rounds[0].CandidateContrast < 0, r.Rounds[0].ToString());
        var (dice, auc) = Score(r, test);
        Assert.IsTrue(auc > 0.9 && dice > 0.5, $"Dice {dice:0.000}, AUC {auc:0.000}");
    }

    /// <summary>The polarity option decides which side is the structure, for the image start and for a random network start.</summary>
    [TestMethod]
    public void Polarity_DecidesTheSide_ForImageAndNetworkStarts()
    {
        var train = Items(6, 0);
        foreach (var start in new[] { IgttInitialPrediction.Image, IgttInitialPrediction.Network })
            foreach (var polarity in new[] { ForegroundPolarity.Bright, ForegroundPolarity.Dark })
            {
                var o = Tiny(ems: false, rounds: 2, steps: 2) with { InitialPrediction = start, Polarity = polarity, MaxForegroundShare = 1 };
                using var r = IterativeGroundTruthTrainer.Train(train, o);
                var expected = polarity == ForegroundPolarity.Bright ? ThresholdPolarity.Bright : ThresholdPolarity.Dark;
                string what = $"{start}/{polarity}: {r.Orientation}; {string.Join(", ", r.Rounds)}";
                Assert.AreEqual(expected, r.Orientation.ObservedPolarity, what);
                Assert.AreEqual(polarity, r.Orientation.Requested, what);
                Assert.IsTrue(r.Rounds.All(s => double.IsNaN(s.CandidateContrast) || (s.CandidateContrast > 0) == (polarity == ForegroundPolarity.Bright)), what);
            }
    }

    [TestMethod]
    public void DepthAndBaseWidth_OverrideTheTrainersNetwork()
    {
        var o = SmallOptions(ems: true, rounds: 1, steps: 1) with { Depth = 2, BaseWidth = 4, Trainer = SmallOptions(true).Trainer with { Threads = 1 } };
        Assert.AreEqual(2, o.Network.Depth);
        Assert.AreEqual(4, o.Network.BaseWidth);
        Assert.AreEqual(3, o.Trainer.Network.Depth);
        using var r = IterativeGroundTruthTrainer.Train(Items(2, 0), o);
        Assert.AreEqual(2, r.Model.Options.Network.Depth);
        Assert.AreEqual(4, r.Model.Options.Network.BaseWidth);
        Assert.AreEqual(3, new IgttOptions { Trainer = o.Trainer }.Network.Depth);
        Assert.AreEqual("Depth", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => (o with { Depth = 0 }).Validate()).ParamName);
        Assert.AreEqual("BaseWidth", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => (o with { BaseWidth = 1 }).Validate()).ParamName);
        Assert.AreEqual("MaxForegroundShare", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => (o with { MaxForegroundShare = 0 }).Validate()).ParamName);
    }

    [TestMethod]
    public void Cancellation_StopsTraining()
    {
        var train = Items(4, 0);
        using var cts = new CancellationTokenSource();
        var o = Tiny(rounds: 3, steps: 5);
        int steps = 0;
        var progress = new SyncProgress(p => { if (p.Stage == IgttStage.Training && ++steps == 2) cts.Cancel(); });
        Assert.ThrowsExactly<OperationCanceledException>(() => IterativeGroundTruthTrainer.Train(train, o, progress, cts.Token));
        Assert.AreEqual(2, steps);
    }

    [TestMethod]
    public void WithoutEms_TrainsOnTheCandidates_AndIsDeterministic()
    {
        var train = Items(4, 0);
        var o = Tiny(ems: false, rounds: 2, steps: 2);
        using var a = IterativeGroundTruthTrainer.Train(train, o);
        using var b = IterativeGroundTruthTrainer.Train(train, o);
        for (int i = 0; i < train.Count; i++)
        {
            CollectionAssert.AreEqual(a.PseudoLabels[i], b.PseudoLabels[i]);
            CollectionAssert.AreEqual(a.Candidates[i], a.PseudoLabels[i]);
            Assert.IsTrue(Share(a.PseudoLabels[i]) <= 0.5, $"pseudo-label foreground {Share(a.PseudoLabels[i])}");
        }
        Assert.AreEqual(a.Orientation, b.Orientation);
        Assert.AreEqual(a.Decoding, b.Decoding);
    }

    internal sealed class SyncProgress(Action<IgttProgress> report) : IProgress<IgttProgress>
    {
        public void Report(IgttProgress value) => report(value);
    }
}
