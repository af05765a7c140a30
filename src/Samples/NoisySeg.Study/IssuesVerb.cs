using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Losses;
using MLNet.NoisySeg.MetaStructure;
using MLNet.NoisySeg.Networks;
using MLNet.NoisySeg.Pipelines;
using MLNet.NoisySeg.Quality;
using MLNet.NoisySeg.Study;
using MLNet.NoisySeg.Training;
using NoisySeg.Study.Cli;

namespace NoisySeg.Study;

/// <summary>
/// Options of the <c>issues</c> verb: a labelled split folder in, a ranked CSV and overlays out. Independent of how the
/// command line is parsed: <see cref="FromSettings"/> builds it from the current host's settings; another CLI builds it directly.
/// </summary>
public sealed record IssuesOptions
{
    /// <summary>Split folder with images/ and masks/ (the labels being judged).</summary>
    public required string Data { get; init; }

    /// <summary>Output folder: <c>issues.csv</c> and <c>overlays/</c>.</summary>
    public required string Out { get; init; }

    /// <summary>How the folder is read (mask encoding, foreground value, classes, ignore value, size).</summary>
    public SegmentationFolderOptions Folder { get; init; } = new();

    /// <summary>k of the k-fold cross-fitting (at least 2).</summary>
    public int Folds { get; init; } = 5;

    /// <summary>Seed of the folds and the training.</summary>
    public int Seed { get; init; }

    /// <summary>Training steps per fold.</summary>
    public int Steps { get; init; } = 160;

    /// <summary>Images per step.</summary>
    public int BatchSize { get; init; } = 4;

    /// <summary>U-Net depth.</summary>
    public int Depth { get; init; } = 3;

    /// <summary>U-Net base width.</summary>
    public int BaseWidth { get; init; } = 8;

    /// <summary>Adam learning rate.</summary>
    public double LearningRate { get; init; } = 3e-3;

    /// <summary>Learning-rate schedule.</summary>
    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.None;

    /// <summary>Training crop (width, height); null = min(128, smallest image side) in each direction.</summary>
    public (int Width, int Height)? Crop { get; init; }

    /// <summary>libtorch threads (null = the library's default).</summary>
    public int? Threads { get; init; }

    /// <summary>The score the CSV is sorted by (most suspicious first) and the overlays are chosen by.</summary>
    public LabelQualityScoreKind RankBy { get; init; } = LabelQualityScoreKind.ContradictionOutlier;

    /// <summary>Overlays written for the most suspicious images (0 = none).</summary>
    public int Top { get; init; } = 10;

    /// <summary>Box half-width h of the meta-structure comparison.</summary>
    public int Bandwidth { get; init; } = LabelQualityOptions.DefaultBandwidth;

    /// <summary>
    /// The options from the study app's settings: the data options of <c>train</c> (<c>--data --mask-encoding --foreground
    /// --classes --ignore --width --height</c>), its training settings (<c>--profile</c>'s, overridden by <c>--steps --batch-size
    /// --depth --base-width --learning-rate --schedule --threads --crop --seed</c>), and <c>--folds --top --rank-by --out</c>.
    /// </summary>
    /// <param name="s">The bound settings.</param>
    public static IssuesOptions FromSettings(AppSettings s)
    {
        ArgumentNullException.ThrowIfNull(s);
        string data = VerbSupport.Require(s.Data, "--data", "the split folder with images/ and masks/ whose labels are judged");
        if (!Directory.Exists(data)) throw new DirectoryNotFoundException($"--data: folder '{data}' does not exist.");
        var training = s.Training(StudyOptions.ForProfile(s.ParseProfile(), [], s.Out));
        return new IssuesOptions
        {
            Data = data,
            Out = s.Out,
            Folder = s.FolderOptions(),
            Folds = s.Folds ?? 5,
            Seed = s.Seed,
            Steps = training.Steps,
            BatchSize = training.BatchSize,
            Depth = training.Depth,
            BaseWidth = training.BaseWidth,
            LearningRate = training.LearningRate,
            Schedule = training.Schedule,
            Crop = AppSettings.ParseCrop(s.Crop),
            Threads = training.Threads,
            RankBy = ParseScore(s.RankBy),
            Top = s.Top ?? 10,
        };
    }

    /// <summary>Parses a score name: contradiction (default), meta-structure, softmin, confident.</summary>
    /// <param name="text">The name, or null.</param>
    public static LabelQualityScoreKind ParseScore(string? text) => text?.Trim().Replace("-", "").Replace("_", "").ToLowerInvariant() switch
    {
        null or "" or "contradiction" or "contradictionoutlier" => LabelQualityScoreKind.ContradictionOutlier,
        "meta" or "metastructure" => LabelQualityScoreKind.MetaStructure,
        "softmin" or "cleanlab" => LabelQualityScoreKind.Softmin,
        "confident" or "confidentissues" => LabelQualityScoreKind.ConfidentIssues,
        _ => throw new ArgumentException($"RankBy must be contradiction, meta-structure, softmin or confident; got '{text}'.", "RankBy"),
    };

    /// <summary>Throws naming the first bad option.</summary>
    public void Validate()
    {
        if (!Directory.Exists(Data)) throw new DirectoryNotFoundException($"Data: folder '{Data}' does not exist.");
        if (string.IsNullOrWhiteSpace(Out)) throw new ArgumentException("Out must not be empty.", nameof(Out));
        ArgumentNullException.ThrowIfNull(Folder, nameof(Folder));
        Folder.Validate();
        if (Folds < 2) throw new ArgumentOutOfRangeException(nameof(Folds), Folds, "Folds must be at least 2.");
        if (Steps < 1) throw new ArgumentOutOfRangeException(nameof(Steps), Steps, "Steps must be at least 1.");
        if (Top < 0) throw new ArgumentOutOfRangeException(nameof(Top), Top, "Top must be at least 0.");
        if (!Enum.IsDefined(RankBy)) throw new ArgumentOutOfRangeException(nameof(RankBy), RankBy, "Unknown score.");
        if (Crop is { } c && (c.Width < 1 || c.Height < 1)) throw new ArgumentOutOfRangeException(nameof(Crop), Crop, "Crop must be positive.");
    }
}

/// <summary>
/// The <c>issues</c> verb: find the bad labels of a folder. k-fold cross-fitting of the U-Net on the given masks
/// (<see cref="CrossFitting"/>: every image is predicted by a model that did not train on it), label-quality scores for
/// every image (<see cref="LabelQualityModel"/>: the contradiction-outlier score, the noise-aware meta-structure score and
/// cleanlab's softmin score), a CSV
/// ranked most suspicious first, and for the top N an overlay PNG: the image with the given mask | the decoded prediction |
/// where they disagree (light blue), the structural flags (red) and the confident-learning flags not also structural (yellow)
/// with the given mask's outline (green). Every file is written atomically.
/// </summary>
public sealed class IssuesVerb : Verb
{
    /// <inheritdoc/>
    public override string Name => "issues";
    /// <inheritdoc/>
    public override int Order => 45;
    /// <inheritdoc/>
    public override string Summary => "Find the bad labels of a folder: k-fold cross-fitting of the U-Net, label-quality scores for every image, a ranked CSV and overlays of the most suspicious.";
    /// <inheritdoc/>
    public override string? Details => "Every image is predicted by a model that did not train on it and scored three ways: the contradiction-outlier score "
        + "(does the model confidently contradict one class of this mask, too much or too little of it, far more than it does across the folder?), "
        + "the noise-aware meta-structure score (does the given mask's density map match that of the decoded prediction?) and cleanlab's softmin "
        + "of the self-confidence; lower = more suspicious. "
        + "Writes <out>/issues.csv (rank, name, fold, scores, flagged-pixel counts, per-class scores; most suspicious first by --rank-by) and "
        + "<out>/overlays/NNN-NAME.png for the --top N: given mask | decoded prediction | disagreement (light blue), structural flags (red), "
        + "confident-learning flags (yellow), given mask outlined (green). Training from --profile, overridden by --steps, --depth, ...; "
        + "crops default to 128 or the smallest image side. See docs/label-quality.md.";
    /// <inheritdoc/>
    public override IReadOnlyList<string> Examples =>
    [
        "issues --data my/train --mask-encoding binary --foreground 255 --folds 5 --steps 300 --top 20 --out issues",
        "issues --data camvid/train --mask-encoding classindex --classes 11 --ignore 11 --width 240 --height 180 --rank-by meta-structure --out issues",
    ];
    /// <inheritdoc/>
    public override IReadOnlyList<CliOption> Options =>
    [
        CliOptions.Data with { Description = "Split folder with images/ and masks/: the labels being judged (required)", Default = null },
        CliOptions.Out with { Description = "Folder for issues.csv and overlays/" },
        CliOptions.MaskEncoding, CliOptions.Foreground, CliOptions.Classes, CliOptions.Ignore,
        CliOptions.Width with { Default = "the stored size" }, CliOptions.Height with { Default = "the stored size" },
        CliOptions.Folds, CliOptions.Top, CliOptions.RankBy,
        CliOptions.Seed with { Description = "Seed of the folds, the initial weights and the batches" },
        CliOptions.Profile, CliOptions.Steps with { Description = "Training steps per fold" }, CliOptions.BatchSize, CliOptions.Depth,
        CliOptions.BaseWidth, CliOptions.LearningRate, CliOptions.Schedule,
        CliOptions.Crop with { Default = "128, or the smallest image side" }, CliOptions.Threads,
    ];

    /// <inheritdoc/>
    public override int Execute(VerbContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return Run(IssuesOptions.FromSettings(context.Settings), context.Log, context.Cancellation);
    }

    /// <summary>File name of the ranked CSV inside the output folder.</summary>
    public const string CsvName = "issues.csv";

    /// <summary>The contradiction z beyond which the log counts an image as an outlier (a summary only; the CSV ranks all).</summary>
    public const double OutlierZ = 3;

    /// <summary>Folder of the overlays inside the output folder.</summary>
    public const string OverlayFolder = "overlays";

    /// <summary>Runs the verb.</summary>
    /// <param name="o">Options (validated here).</param>
    /// <param name="log">Progress and results.</param>
    /// <param name="ct">Cancels training between steps and scoring between images.</param>
    /// <returns>The exit code: <see cref="ExitCodes.Ok"/>.</returns>
    public static int Run(IssuesOptions o, ILogger log, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(log);
        o.Validate();
        var items = SegmentationFolderLoader.Load(o.Data, o.Folder, cancellationToken: ct);
        if (items.Count < o.Folds)
            throw new ArgumentException($"Folds: {items.Count} image(s) in '{o.Data}' cannot be split into {o.Folds} folds.", "Folds");
        int classes = o.Folder.ClassCount;
        var crop = o.Crop ?? (Math.Min(128, items.Min(i => i.Width)), Math.Min(128, items.Min(i => i.Height)));
        var trainer = new SegmentationTrainerOptions
        {
            Network = new UNetOptions { OutputChannels = classes == 2 ? 1 : classes, Depth = o.Depth, BaseWidth = o.BaseWidth },
            Loss = classes == 2 ? LossKind.Bce : LossKind.CrossEntropy,
            LearningRate = o.LearningRate,
            Schedule = o.Schedule,
            MaxSteps = o.Steps,
            BatchSize = o.BatchSize,
            Seed = o.Seed,
            Threads = o.Threads,
            CropWidth = crop.Width,
            CropHeight = crop.Height,
        };
        log.LogInformation("Issues in {Data}: {Count} images, {Classes} classes; {Folds}-fold cross-fitting, {Steps} steps per fold, U-Net depth {Depth} base {Base}, crops {W}x{H}",
            o.Data, items.Count, classes, o.Folds, o.Steps, o.Depth, o.BaseWidth, crop.Width, crop.Height);
        int every = Math.Max(1, o.Steps / 4);
        var progress = new LogProgress(p =>
        {
            if (p.Training is null)
                log.LogInformation("fold {Fold}/{Folds}: training on {Train} images, {HeldOut} held out", p.Fold + 1, p.FoldCount, p.TrainingImages, p.HeldOutImages);
            else if (p.Training.Step % every == 0 || p.Training.Step == p.Training.TotalSteps)
                log.LogInformation("fold {Fold}/{Folds}: step {Step}/{Total} loss {Loss:0.0000}", p.Fold + 1, p.FoldCount, p.Training.Step, p.Training.TotalSteps, p.Training.Loss);
        });
        using var fitted = CrossFitting.Fit(items, new CrossFitOptions
        {
            FoldCount = o.Folds, Seed = o.Seed, ClassCount = classes, Trainer = trainer, Progress = progress, CancellationToken = ct,
        });

        var options = new LabelQualityOptions
        {
            Density = new DensityOptions { Kernel = DensityKernel.Box, Bandwidth = o.Bandwidth },
            ExcludedClass = classes == 2 ? MaskConventions.Background : null,
            IgnoreIndex = MaskConventions.IgnoreIndex,
            StorePixelMaps = true,
        };
        int k = fitted.ProbabilityChannels;
        var model = LabelQualityModel.Fit(Images(fitted, ct), k, options);
        log.LogInformation("Decoding {Rule}; estimated label noise Q̂ = {Q}", model.Decoding, model.EstimatedNoise);
        if (model.DecodingEstimate is { AreLevelsSeparated: false } est)
            log.LogWarning("The cross-fitted outputs do not form two separate levels (Ashman D {D:0.00}); the decoded predictions, and the meta-structure score with them, are unreliable: train longer (--steps).", est.MixtureSeparation);

        // Pass 2: score every image, keeping scores only; the pixel maps of the top N are recomputed below.
        var lean = model.WithStorePixelMaps(false);
        var results = new List<ImageLabelQuality>(items.Count);
        int index = 0;
        foreach (var image in Images(fitted, ct)) results.Add(lean.Score(image, index++));
        var ranked = LabelQualityReport.Rank(results, o.RankBy);
        Directory.CreateDirectory(o.Out);
        string csv = Path.Combine(o.Out, CsvName);
        StudyResultStore.WriteAtomically(csv, ToCsv(ranked, classes));
        log.LogInformation("Ranked {Count} images by {Score} (most suspicious first): {Csv}", ranked.Count, o.RankBy, Path.GetFullPath(csv));
        int outliers = results.Count(r => r.ContradictionZ > OutlierZ);
        log.LogInformation("{Outliers} image(s) are contradicted by their model beyond z = {Z} of the folder's spread (contradiction_z in the CSV; a clean folder has few or none)",
            outliers, OutlierZ);
        foreach (var r in ranked.Take(5))
            log.LogInformation("  {Name}: contradiction outlier {Contradiction:0.0000} ({Direction} of class {Class}), meta-structure {Meta:0.0000}, softmin {Softmin:0.0000}, {Structural} structural / {Confident} confident-learning flagged pixels",
                r.Id, r.ContradictionOutlierScore, r.ContradictionDirection, r.ContradictionClass, r.MetaStructureScore, r.SoftminScore, r.StructuralIssueCount, r.ConfidentIssueCount);

        int top = Math.Min(o.Top, ranked.Count);
        if (top > 0)
        {
            string folder = Path.Combine(o.Out, OverlayFolder);
            Directory.CreateDirectory(folder);
            for (int r = 0; r < top; r++)
            {
                ct.ThrowIfCancellationRequested();
                int i = ranked[r].Index;
                var item = items[i];
                var q = model.Score(item.Mask, fitted.PredictProbabilities(i), item.Width, item.Height, item.Name, i, ranked[r].Fold);
                string path = Path.Combine(folder, string.Create(CultureInfo.InvariantCulture, $"{r + 1:000}-{SafeStem(item.Name)}.png"));
                var (rgb, width, height) = Overlay(item, q, classes);
                PngWriter.WriteRgb(path, rgb, width, height);
            }
            log.LogInformation("Wrote {Top} overlay(s) to {Folder}: given mask | decoded prediction | disagreement (light blue), structural flags (red), confident-learning flags (yellow), given mask outlined (green)",
                top, Path.GetFullPath(folder));
        }
        return ExitCodes.Ok;
    }

    /// <summary>The cross-fitted images as label-quality inputs (with their folds), predicted one at a time.</summary>
    private static IEnumerable<LabelQualityImage> Images(CrossFittedSegmentation fitted, CancellationToken ct)
        => fitted.Predictions(ct).Select(p => new LabelQualityImage(p.Item.Name, p.Item.Mask!, p.Probability, p.Item.Width, p.Item.Height, p.Fold));

    /// <summary>The ranked CSV: rank, name, fold, the four scores, the contradiction's z, class and direction, pixel counts, per-class meta-structure scores.</summary>
    internal static string ToCsv(IReadOnlyList<ImageLabelQuality> ranked, int classes)
    {
        var ci = CultureInfo.InvariantCulture;
        var sb = new StringBuilder("rank,name,fold,contradiction_outlier_score,meta_structure_score,softmin_score,confident_issue_score,contradiction_z,contradiction_class,contradiction_direction,"
            + "structural_issue_pixels,confident_issue_pixels,disagreeing_pixels,scored_pixels");
        for (int c = 0; c < classes; c++) sb.Append(ci, $",meta_structure_class_{c}");
        sb.Append('\n');
        for (int r = 0; r < ranked.Count; r++)
        {
            var q = ranked[r];
            sb.Append(ci, $"{r + 1},{Quote(q.Id ?? "")},{q.Fold},{q.ContradictionOutlierScore:R},{q.MetaStructureScore:R},{q.SoftminScore:R},{q.GetScore(LabelQualityScoreKind.ConfidentIssues):R},");
            sb.Append(ci, $"{q.ContradictionZ:R},{q.ContradictionClass},{q.ContradictionDirection.ToString().ToLowerInvariant()},");
            sb.Append(ci, $"{q.StructuralIssueCount},{q.ConfidentIssueCount},{q.DisagreementCount},{q.ScoredPixelCount}");
            foreach (double s in q.ClassMetaStructureScores) sb.Append(ci, $",{s:R}");
            sb.Append('\n');
        }
        return sb.ToString();
    }

    private static string Quote(string text)
        => text.IndexOfAny([',', '"', '\n', '\r']) < 0 ? text : "\"" + text.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static string SafeStem(string name)
        => string.Concat(Path.GetFileNameWithoutExtension(name).Select(ch => char.IsLetterOrDigit(ch) || ch is '-' or '_' or '.' ? ch : '_'));

    /// <summary>Three panels side by side (4-pixel white gaps): given mask, decoded prediction, flags.</summary>
    internal static (byte[] Rgb, int Width, int Height) Overlay(SegmentationItem item, ImageLabelQuality q, int classes)
    {
        const int gap = 4;
        int w = item.Width, h = item.Height, n = w * h;
        var image = PngWriter.ToRgb(item.Image, item.Channels, h, w);
        byte[] given = item.Mask!, decoded = q.DecodedMask!, structural = q.StructuralIssueMask!, confident = q.ConfidentIssueMask!;
        var panels = new byte[3][];
        panels[0] = Tint(image, given, classes);
        panels[1] = Tint(image, decoded, classes);
        var flags = (byte[])image.Clone();
        for (int i = 0; i < n; i++)
        {
            // Dim the image so the colours stand out.
            for (int ch = 0; ch < 3; ch++) flags[3 * i + ch] = (byte)(flags[3 * i + ch] * 6 / 10);
            if (given[i] == MaskConventions.IgnoreIndex) continue;
            if (structural[i] == 1) Paint(flags, i, (230, 30, 30), 1f);
            else if (confident[i] == 1) Paint(flags, i, (240, 220, 0), 1f);
            else if (decoded[i] != given[i]) Paint(flags, i, (120, 190, 255), 0.6f);
        }
        Outline(flags, given, w, h, classes, (0, 230, 0));
        panels[2] = flags;

        int width = 3 * w + 2 * gap;
        var rgb = new byte[3 * width * h];
        Array.Fill(rgb, (byte)255);
        for (int p = 0; p < 3; p++)
            for (int y = 0; y < h; y++)
                panels[p].AsSpan(3 * y * w, 3 * w).CopyTo(rgb.AsSpan(3 * (y * width + p * (w + gap))));
        return (rgb, width, h);
    }

    /// <summary>Binary: foreground tinted orange; multi-class: every class in its colour (ignore left as is).</summary>
    private static byte[] Tint(byte[] image, byte[] mask, int classes)
    {
        var rgb = (byte[])image.Clone();
        for (int i = 0; i < mask.Length; i++)
        {
            byte m = mask[i];
            if (m == MaskConventions.IgnoreIndex) continue;
            if (classes == 2) { if (m == 1) Paint(rgb, i, (255, 140, 0), 0.45f); }
            else Paint(rgb, i, StudyPanels.ClassColor(m, classes), 0.5f);
        }
        return rgb;
    }

    private static void Paint(byte[] rgb, int i, (byte R, byte G, byte B) colour, float alpha)
    {
        rgb[3 * i] = Blend(rgb[3 * i], colour.R, alpha);
        rgb[3 * i + 1] = Blend(rgb[3 * i + 1], colour.G, alpha);
        rgb[3 * i + 2] = Blend(rgb[3 * i + 2], colour.B, alpha);

        static byte Blend(byte a, byte b, float t) => (byte)Math.Clamp((int)MathF.Round((1 - t) * a + t * b), 0, 255);
    }

    /// <summary>Colours the pixels whose class differs from a 4-neighbour's (the mask's outlines; binary: the foreground
    /// side only, so thin structures are not drawn over); ignore pixels have none.</summary>
    private static void Outline(byte[] rgb, byte[] mask, int w, int h, int classes, (byte R, byte G, byte B) colour)
    {
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int i = y * w + x;
                byte m = mask[i];
                if (m == MaskConventions.IgnoreIndex || (classes == 2 && m == 0)) continue;
                bool edge = (x > 0 && Differs(mask[i - 1], m)) || (x + 1 < w && Differs(mask[i + 1], m))
                    || (y > 0 && Differs(mask[i - w], m)) || (y + 1 < h && Differs(mask[i + w], m));
                if (edge) Paint(rgb, i, colour, 1f);
            }

        static bool Differs(byte a, byte b) => a != b && a != MaskConventions.IgnoreIndex;
    }

    /// <summary>Reports on the training thread (Progress&lt;T&gt; would post to the thread pool and reorder lines).</summary>
    private sealed class LogProgress(Action<CrossFitProgress> report) : IProgress<CrossFitProgress>
    {
        public void Report(CrossFitProgress value) => report(value);
    }
}
