using System.Diagnostics;
using System.Globalization;
using System.Text;
using MLNet.NoisySeg.Core;
using Microsoft.ML;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Decoding;
using MLNet.NoisySeg.Evaluation;
using MLNet.NoisySeg.Losses;
using MLNet.NoisySeg.Training;
using MLNet.NoisySeg.Unsupervised;

namespace MLNet.NoisySeg.Study;

/// <summary>Options of <see cref="UnsupervisedComparison.Run"/>.</summary>
public sealed record UnsupervisedComparisonOptions
{
    /// <summary>Training seeds; each learned method is trained once per seed (the baselines are deterministic). Default {0, 1}.</summary>
    public IReadOnlyList<int> Seeds { get; init; } = [0, 1];

    /// <summary>iGTT options (budget, network); Trainer.Seed is replaced by each seed. UseMetaStructureExtraction is set per variant.</summary>
    public IgttOptions Igtt { get; init; } = new();

    /// <summary>The supervised U-Net's trainer options (clean masks, BCE, decoded at 0.5); Seed is replaced by each seed.</summary>
    public SegmentationTrainerOptions Supervised { get; init; } = new() { Loss = LossKind.Bce };

    /// <summary>Train and score the supervised U-Net (the upper reference). Default true.</summary>
    public bool IncludeSupervised { get; init; } = true;

    /// <summary>Polarity of the structure for the Otsu and adaptive baselines (prior knowledge iGTT does not get). Default Bright.</summary>
    public ThresholdPolarity Polarity { get; init; } = ThresholdPolarity.Bright;

    /// <summary>Gaussian sigma (pixels) of the adaptive threshold.</summary>
    public double AdaptiveSigma { get; init; } = ThresholdBaselines.DefaultSigma;

    /// <summary>Offset (image units) of the adaptive threshold.</summary>
    public double AdaptiveOffset { get; init; }

    /// <summary>
    /// Record budget curves: after every iGTT round, and at the same steps of the supervised U-Net, score the model on
    /// the test images (<see cref="UnsupervisedMethodResult.Curve"/>). Default true.
    /// </summary>
    public bool RecordCurves { get; init; } = true;

    /// <summary>Optional log of what is running.</summary>
    public IProgress<string>? Log { get; init; }

    /// <summary>Throws naming the first invalid option.</summary>
    public void Validate()
    {
        if (Seeds is null || Seeds.Count == 0) throw new ArgumentException("Seeds must hold at least one seed.", nameof(Seeds));
        if (Igtt is null) throw new ArgumentException("Igtt must not be null.", nameof(Igtt));
        Igtt.Validate();
        if (Supervised is null) throw new ArgumentException("Supervised must not be null.", nameof(Supervised));
        Supervised.Validate();
        if (Supervised.Network.OutputChannels != 1) throw new ArgumentException("Supervised.Network.OutputChannels must be 1 (binary).", nameof(Supervised));
        if (!Enum.IsDefined(Polarity)) throw new ArgumentOutOfRangeException(nameof(Polarity), Polarity, "Polarity must be Bright or Dark.");
        if (!double.IsFinite(AdaptiveSigma) || AdaptiveSigma <= 0) throw new ArgumentOutOfRangeException(nameof(AdaptiveSigma), AdaptiveSigma, "AdaptiveSigma must be a finite number greater than 0.");
        if (!double.IsFinite(AdaptiveOffset)) throw new ArgumentOutOfRangeException(nameof(AdaptiveOffset), AdaptiveOffset, "AdaptiveOffset must be finite.");
    }
}

/// <summary>One method's scores on the test images.</summary>
/// <param name="Method">Method name.</param>
/// <param name="Dice">Pixel-level Dice over the test set.</param>
/// <param name="Auc">Pixel-level ROC AUC of the method's score map.</param>
/// <param name="Accuracy">Pixel accuracy.</param>
/// <param name="Seconds">Mean wall time per seed (training + scoring).</param>
/// <param name="Notes">How the output was decoded.</param>
public sealed record UnsupervisedMethodResult(string Method, MeanStd Dice, MeanStd Auc, MeanStd Accuracy, double Seconds, string Notes)
{
    /// <summary>
    /// Budget curve of the learned methods (empty for the thresholds): one point per iGTT round (or the same steps of
    /// the supervised U-Net), over the seeds.
    /// </summary>
    public IReadOnlyList<UnsupervisedCurvePoint> Curve { get; init; } = [];
}

/// <summary>One point of a budget curve: test Dice after <paramref name="Step"/> training steps, over the seeds.</summary>
/// <param name="Step">Training steps done.</param>
/// <param name="Dice">Test Dice of the model at that point, decoded as the final model would be.</param>
/// <param name="CandidateShare">iGTT: mean foreground share of the DMI-selected candidates the round trained on (NaN for the supervised U-Net).</param>
public sealed record UnsupervisedCurvePoint(int Step, MeanStd Dice, MeanStd CandidateShare);

/// <summary>Result of <see cref="UnsupervisedComparison.Run"/>.</summary>
/// <param name="Methods">One row per method.</param>
public sealed record UnsupervisedComparisonResult(IReadOnlyList<UnsupervisedMethodResult> Methods)
{
    /// <summary>The named method's row.</summary>
    /// <param name="method">One of the <see cref="UnsupervisedComparison"/> method names.</param>
    public UnsupervisedMethodResult this[string method] => Methods.Single(m => m.Method == method);

    /// <summary>A Markdown table (Dice, AUC, accuracy as mean ± std over seeds).</summary>
    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        sb.AppendLine("| method | Dice | AUC | accuracy | s/seed | decoding |");
        sb.AppendLine("|---|---|---|---|---|---|");
        foreach (var m in Methods)
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {m.Method} | {m.Dice.Format("0.0000")} | {m.Auc.Format("0.0000")} | {m.Accuracy.Format("0.0000")} | {m.Seconds:0.0} | {m.Notes} |");
        var curves = Methods.Where(m => m.Curve.Count > 0).ToList();
        if (curves.Count > 0)
        {
            sb.AppendLine().AppendLine("Budget curve: test Dice (and, for iGTT, the candidates' foreground share) after each round's steps.").AppendLine();
            sb.AppendLine("| step | " + string.Join(" | ", curves.Select(m => m.Method)) + " |");
            sb.AppendLine("|---|" + string.Concat(curves.Select(_ => "---|")));
            foreach (int step in curves.SelectMany(m => m.Curve.Select(p => p.Step)).Distinct().Order())
            {
                sb.Append(CultureInfo.InvariantCulture, $"| {step} |");
                foreach (var m in curves)
                {
                    var p = m.Curve.FirstOrDefault(q => q.Step == step);
                    sb.Append(p is null ? " |" : double.IsFinite(p.CandidateShare.Mean)
                        ? $" {p.Dice.Format("0.000")} (share {p.CandidateShare.Mean.ToString("0.000", CultureInfo.InvariantCulture)}) |"
                        : $" {p.Dice.Format("0.000")} |");
                }
                sb.AppendLine();
            }
        }
        return sb.ToString();
    }
}

/// <summary>
/// The comparison of method.md §6: iGTT with EMS, iGTT without EMS, Otsu, adaptive threshold and a supervised U-Net,
/// scored pixel-level on test images with clean masks (Dice, AUC, accuracy; mean ± std over seeds).
/// </summary>
/// <remarks>
/// The learned unsupervised methods see the training images only; their outputs are decoded with
/// <see cref="IgttResult.Decoding"/> (label-free: the threshold at which the training outputs cover the last
/// candidates' foreground share), exactly as the ML.NET transformer does, and scored without any orientation fix: the
/// returned network's output is the foreground probability of the structure iGTT chose (<see cref="IgttOrientation"/>,
/// recorded in the notes). The baselines use the given polarity (prior knowledge). The supervised U-Net trains on the
/// training masks and is decoded at 0.5.
/// </remarks>
public static class UnsupervisedComparison
{
    /// <summary>Method name: iGTT with EMS.</summary>
    public const string IgttWithEms = "iGTT + EMS";
    /// <summary>Method name: iGTT without EMS.</summary>
    public const string IgttWithoutEms = "iGTT (no EMS)";
    /// <summary>Method name: Otsu per image.</summary>
    public const string OtsuName = "Otsu";
    /// <summary>Method name: adaptive Gaussian threshold.</summary>
    public const string AdaptiveName = "Adaptive threshold";
    /// <summary>Method name: supervised U-Net.</summary>
    public const string SupervisedName = "Supervised U-Net";

    /// <summary>Runs the comparison.</summary>
    /// <param name="train">Training images (masks needed only for the supervised U-Net), all of one size.</param>
    /// <param name="test">Test images with clean binary masks, same size.</param>
    /// <param name="options">Options.</param>
    /// <param name="cancellationToken">Cancels between and inside trainings.</param>
    public static UnsupervisedComparisonResult Run(IReadOnlyList<SegmentationItem> train, IReadOnlyList<SegmentationItem> test,
        UnsupervisedComparisonOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (train.Count == 0) throw new ArgumentException("train must not be empty.", nameof(train));
        if (test.Count == 0) throw new ArgumentException("test must not be empty.", nameof(test));
        foreach (var t in test)
            if (t.Mask is null) throw new ArgumentException($"test item '{t.Name}' has no mask.", nameof(test));
        if (options.IncludeSupervised)
            foreach (var t in train)
                if (t.Mask is null) throw new ArgumentException($"train item '{t.Name}' has no mask (needed by the supervised U-Net; set IncludeSupervised = false).", nameof(train));
        var log = options.Log;
        int c = test[0].Channels, h = test[0].Height, w = test[0].Width;
        var results = new List<UnsupervisedMethodResult>();

        int stepsPerRound = options.Igtt.StepsPerRound ?? checked(options.Igtt.EpochsPerRound * (train.Count / Math.Min(options.Igtt.Trainer.BatchSize, train.Count)));
        var testImages = test.Select(t => t.Image).ToList();
        var trainImages = train.Select(t => t.Image).ToList();
        foreach (bool ems in new[] { true, false })
        {
            string name = ems ? IgttWithEms : IgttWithoutEms;
            var rows = new List<BinarySegmentationMetrics>();
            var curve = new List<(int Round, double Dice, double Share)>();
            var sw = Stopwatch.StartNew();
            var orientations = new List<string>();
            foreach (int seed in options.Seeds)
            {
                var o = options.Igtt with { UseMetaStructureExtraction = ems, Trainer = options.Igtt.Trainer with { Seed = seed } };
                log?.Report($"{name} seed {seed}: training");
                void AfterRound(IgttRoundEnd end)
                {
                    // The model as it stands after this round's steps, aligned by the trainer, decoded as the final one is:
                    // thresholded where the training outputs cover the share of the candidates it trained on.
                    double share = end.Selection.MeanCandidateForeground;
                    var probs = end.Model.PredictProbabilities(testImages, c, h, w);
                    var rule = DecodingRule.AtThreshold(double.IsFinite(share)
                        ? LabelFreeDecoder.ThresholdAtForegroundShare(end.TrainingOutputs, share) : LabelFreeDecoder.EstimateBinary(end.TrainingOutputs).Threshold);
                    double dice = Score(test, probs, rule).Dice;
                    curve.Add((end.Round, dice, share));
                    log?.Report(string.Create(CultureInfo.InvariantCulture, $"  after round {end.Round} ({(end.Round + 1) * stepsPerRound} steps): test Dice {dice:0.0000}, candidate share {share:0.000}"));
                }
                using var r = IterativeGroundTruthTrainer.Train(train, o, null, cancellationToken, options.RecordCurves ? AfterRound : null);
                var m = Score(test, r.Model.PredictProbabilities(testImages, c, h, w), r.Decoding);
                rows.Add(m);
                orientations.Add(string.Create(CultureInfo.InvariantCulture, $"seed {seed}: {r.Orientation.ObservedPolarity}{(r.Orientation.Inverted ? " (head inverted)" : "")}"));
                log?.Report(string.Create(CultureInfo.InvariantCulture, $"  Dice {m.Dice:0.0000} AUC {m.Auc:0.0000} acc {m.Accuracy:0.0000}; decoded at share {r.ForegroundShare:0.###}; {r.Orientation}"));
                log?.Report("  rounds: " + string.Join(" ", r.Rounds.Select(s => string.Create(CultureInfo.InvariantCulture, $"[cand {s.MeanCandidateForeground:0.000} pseudo {s.MeanPseudoLabelForeground:0.0000}{(s.NetworkInverted ? " inverted" : "")}]"))));
            }
            string notes = $"decoded at the last candidates' foreground share (label-free); observed polarity {string.Join("; ", orientations)}";
            var points = curve.GroupBy(q => q.Round).OrderBy(g => g.Key)
                .Select(g => new UnsupervisedCurvePoint((g.Key + 1) * stepsPerRound, MeanStd.Of(g.Select(q => q.Dice)), MeanStd.Of(g.Select(q => q.Share)))).ToList();
            results.Add(Summarise(name, rows, sw.Elapsed.TotalSeconds / options.Seeds.Count, notes) with { Curve = points });
        }

        {
            var sw = Stopwatch.StartNew();
            var m = ScoreBaseline(test, (t, mask, score) => ThresholdBaselines.Otsu(t.Image, c, h, w, options.Polarity, mask, score));
            results.Add(Summarise(OtsuName, Enumerable.Repeat(m, options.Seeds.Count).ToList(), sw.Elapsed.TotalSeconds, $"per image, polarity {options.Polarity}"));
            log?.Report(string.Create(CultureInfo.InvariantCulture, $"{OtsuName}: Dice {m.Dice:0.0000}"));
        }
        {
            var sw = Stopwatch.StartNew();
            var m = ScoreBaseline(test, (t, mask, score) => ThresholdBaselines.Adaptive(t.Image, c, h, w, options.AdaptiveSigma, options.AdaptiveOffset, options.Polarity, mask, score));
            results.Add(Summarise(AdaptiveName, Enumerable.Repeat(m, options.Seeds.Count).ToList(), sw.Elapsed.TotalSeconds,
                string.Create(CultureInfo.InvariantCulture, $"Gaussian sigma {options.AdaptiveSigma}, offset {options.AdaptiveOffset}, polarity {options.Polarity}")));
            log?.Report(string.Create(CultureInfo.InvariantCulture, $"{AdaptiveName}: Dice {m.Dice:0.0000}"));
        }

        if (options.IncludeSupervised)
        {
            var rows = new List<BinarySegmentationMetrics>();
            var curve = new List<(int Step, double Dice)>();
            var sw = Stopwatch.StartNew();
            foreach (int seed in options.Seeds)
            {
                log?.Report($"{SupervisedName} seed {seed}: training");
                var so = options.Supervised with { Seed = seed };
                if (options.RecordCurves) so = so with { ValidateEvery = stepsPerRound };
                IReadOnlyDictionary<string, double> Validate(int step, TrainedSegmentationModel model)
                {
                    double dice = Score(test, model.PredictProbabilities(testImages, c, h, w), DecodingRule.FixedThreshold).Dice;
                    curve.Add((step, dice));
                    return new Dictionary<string, double> { ["testDice"] = dice };
                }
                using var model = SegmentationTrainer.Train(train, so, null, cancellationToken, options.RecordCurves ? Validate : null);
                var m = Score(test, model.PredictProbabilities(testImages, c, h, w), DecodingRule.FixedThreshold);
                rows.Add(m);
                log?.Report(string.Create(CultureInfo.InvariantCulture, $"  Dice {m.Dice:0.0000} AUC {m.Auc:0.0000} acc {m.Accuracy:0.0000}"));
            }
            var points = curve.GroupBy(q => q.Step).OrderBy(g => g.Key)
                .Select(g => new UnsupervisedCurvePoint(g.Key, MeanStd.Of(g.Select(q => q.Dice)), MeanStd.Of([]))).ToList();
            results.Add(Summarise(SupervisedName, rows, sw.Elapsed.TotalSeconds / options.Seeds.Count, "clean masks, BCE, threshold 0.5") with { Curve = points });
        }
        return new UnsupervisedComparisonResult(results);
    }

    /// <summary>Decodes the probabilities with <paramref name="rule"/> and scores them through the catalog (AUC from the probabilities).</summary>
    private static BinarySegmentationMetrics Score(IReadOnlyList<SegmentationItem> test, float[][] probs, DecodingRule rule)
    {
        var masks = probs.Select(p =>
        {
            var mask = new byte[p.Length];
            rule.Decode(p, 1, mask);
            return mask;
        }).ToList();
        return StudyScoring.EvaluateBinary(new MLContext(), test.Select(t => t.Mask!).ToList(), masks, probs);
    }

    /// <summary>Runs a baseline (mask and score per image) over the test images and scores it through the catalog.</summary>
    private static BinarySegmentationMetrics ScoreBaseline(IReadOnlyList<SegmentationItem> test, Action<SegmentationItem, byte[], float[]> baseline)
    {
        var masks = new List<byte[]>();
        var scores = new List<float[]>();
        foreach (var t in test)
        {
            var mask = new byte[t.Height * t.Width];
            var score = new float[mask.Length];
            baseline(t, mask, score);
            masks.Add(mask);
            scores.Add(score);
        }
        return StudyScoring.EvaluateBinary(new MLContext(), test.Select(t => t.Mask!).ToList(), masks, scores);
    }

    private static UnsupervisedMethodResult Summarise(string name, IReadOnlyList<BinarySegmentationMetrics> rows, double seconds, string notes)
        => new(name, MeanStd.Of(rows.Select(r => r.Dice)), MeanStd.Of(rows.Select(r => r.Auc)), MeanStd.Of(rows.Select(r => r.Accuracy)), seconds, notes);
}
