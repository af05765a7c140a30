using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Data.Synthetic;
using MLNet.NoisySeg.Losses;
using MLNet.NoisySeg.Networks;
using MLNet.NoisySeg.Study;
using MLNet.NoisySeg.Training;
using MLNet.NoisySeg.Unsupervised;
using NoisySeg.Study.Cli;

namespace NoisySeg.Study;

/// <summary>
/// unsupervised: the paper's unsupervised comparison — iGTT with and without EMS, Otsu, adaptive threshold and a
/// supervised U-Net, mean ± std over seeds, with budget curves — on a user's split folder (--data, scored on --test or
/// on the folder's own masks when it has them) or, without --data, on the embedded ISBI set and on synthetic noisy
/// fluorescence nuclei. Writes <c>unsupervised.md</c> into --out and adds it to <c>report.md</c> when one exists.
/// </summary>
public sealed class UnsupervisedVerb : Verb
{
    /// <inheritdoc/>
    public override string Name => "unsupervised";
    /// <inheritdoc/>
    public override int Order => 50;
    /// <inheritdoc/>
    public override string Summary => "Compare label-free segmentation (iGTT with and without EMS) with Otsu, adaptive threshold and a supervised U-Net.";
    /// <inheritdoc/>
    public override string? Details => "With --data, iGTT trains on the images of that split folder (masks not needed); it is scored on --test, or on the folder's "
        + "own masks when it has them, and the supervised U-Net runs only when the training images have masks. Without masks to score on, only iGTT runs "
        + "and its orientation and foreground share are reported. Without --data: the embedded ISBI 2012 set and synthetic noisy nuclei. "
        + "Writes unsupervised.md to --out and appends it to report.md when present.";
    /// <inheritdoc/>
    public override IReadOnlyList<string> Examples =>
    [
        "unsupervised --seeds 0,1,2 --steps 20 --out study-output",
        "unsupervised --data my/train --test my/test --foreground 255 --width 128 --height 128 --polarity bright --seeds 0,1,2",
    ];
    /// <inheritdoc/>
    public override IReadOnlyList<CliOption> Options =>
    [
        CliOptions.Data with { Description = "Split folder with images/ (masks/ optional) to train on", Default = "the embedded ISBI 2012 set and synthetic nuclei" },
        CliOptions.Test with { Description = "Labelled split folder (images/ + masks/) to score on", Default = "the --data folder's masks, when it has them" },
        CliOptions.MaskEncoding, CliOptions.Foreground, CliOptions.Ignore,
        CliOptions.Width with { Default = "the stored size (embedded ISBI: 128)" }, CliOptions.Height with { Default = "the stored size (embedded ISBI: 128)" },
        CliOptions.Seeds with { Default = "0,1" },
        CliOptions.Rounds,
        CliOptions.Steps with { Description = "Training steps per iGTT round (the supervised U-Net gets rounds x N)", Default = "20" },
        CliOptions.Depth with { Default = "3" }, CliOptions.BaseWidth with { Default = "16" },
        CliOptions.BatchSize with { Default = "4" }, CliOptions.LearningRate with { Default = "0.001" },
        CliOptions.Polarity, CliOptions.Threads, CliOptions.Out,
    ];

    /// <inheritdoc/>
    public override int Execute(VerbContext context)
    {
        var (s, log, ct) = (context.Settings, context.Log, context.Cancellation);
        var seeds = string.IsNullOrWhiteSpace(s.Seeds) ? new[] { 0, 1 }
            : s.Seeds.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray();
        int stepsPerRound = s.Steps ?? 20;
        if (stepsPerRound < 1) throw new ArgumentException("--steps must be at least 1 (steps per iGTT round).", "Steps");
        int rounds = s.Rounds ?? 4;
        if (rounds < 1) throw new ArgumentException("--rounds must be at least 1.", "Rounds");
        var polarity = ParsePolarity(s.Polarity);
        var net = new UNetOptions { Depth = s.Depth ?? 3, BaseWidth = s.BaseWidth ?? 16 };
        int batch = s.BatchSize ?? 4;
        double lr = s.LearningRate ?? 1e-3;

        var sets = string.IsNullOrWhiteSpace(s.Data) ? Embedded(s, polarity, ct) : [FromFolder(s, polarity, ct)];

        var md = new StringBuilder("## Unsupervised segmentation: iGTT with meta-structure (method.md §6)\n\n");
        md.Append(CultureInfo.InvariantCulture, $"iGTT {rounds} rounds x {stepsPerRound} steps (K = 30, r = 1, p = 0.1, polarity {polarity}, area guard {new IgttOptions().AreaGuard}), U-Net depth {net.Depth} / base {net.BaseWidth}, batch {batch}, Adam {lr}; ");
        md.Append(CultureInfo.InvariantCulture, $"supervised U-Net {rounds * stepsPerRound} steps; seeds {string.Join(",", seeds)}. Otsu and adaptive thresholds are told the structure's polarity; iGTT is told it only with --polarity. ");
        md.Append("Paper (ER data, Dice %): iGTT + EMS 78.84, without EMS 73.96, Otsu 69.47, supervised 85.99.\n\n");
        foreach (var set in sets)
        {
            var igtt = new IgttOptions
            {
                Rounds = rounds, StepsPerRound = stepsPerRound, Polarity = polarity,
                Trainer = new SegmentationTrainerOptions { Loss = LossKind.DmiSoftIoU, Network = net with { InputChannels = set.Train[0].Channels }, BatchSize = batch, Threads = s.Threads, LearningRate = lr },
            };
            if (set.Test is null)
            {
                md.Append(CultureInfo.InvariantCulture, $"### {set.Name}\n\n{IgttOnly(set.Train, igtt, seeds, log, ct)}\n\n");
                continue;
            }
            bool supervised = set.Train.All(t => t.Mask is not null);
            log.LogInformation("Unsupervised comparison on {Name}: {Train} train / {Test} test images; baselines' polarity {Polarity} ({Why})",
                set.Name, set.Train.Count, set.Test.Count, set.BaselinePolarity, set.PolarityReason);
            var result = UnsupervisedComparison.Run(set.Train, set.Test, new UnsupervisedComparisonOptions
            {
                Seeds = seeds,
                Igtt = igtt,
                Supervised = new SegmentationTrainerOptions { Loss = LossKind.Bce, Network = igtt.Trainer.Network, BatchSize = batch, Threads = s.Threads, LearningRate = lr, MaxSteps = rounds * stepsPerRound },
                IncludeSupervised = supervised,
                Polarity = set.BaselinePolarity,
                Log = new SyncLog(m => log.LogInformation("{Message}", m)),
            }, ct);
            md.Append(CultureInfo.InvariantCulture, $"### {set.Name}\n\n{set.Train.Count} train / {set.Test.Count} test images; thresholds' polarity {set.BaselinePolarity} ({set.PolarityReason})");
            md.Append(supervised ? ".\n\n" : "; no supervised U-Net (the training images have no masks).\n\n");
            md.Append(CultureInfo.InvariantCulture, $"{result.ToMarkdown()}\n\n");
        }

        Directory.CreateDirectory(s.Out);
        string path = Path.Combine(s.Out, "unsupervised.md");
        StudyResultStore.WriteAtomically(path, md.ToString());
        string report = Path.Combine(s.Out, "report.md");
        if (File.Exists(report))
        {
            string text = File.ReadAllText(report);
            const string marker = "\n## Unsupervised segmentation";
            int at = text.IndexOf(marker, StringComparison.Ordinal);
            if (at >= 0) text = text[..at];
            StudyResultStore.WriteAtomically(report, text.TrimEnd() + "\n\n" + md);
        }
        log.LogInformation("Unsupervised comparison: {Path}", Path.GetFullPath(path));
        Console.WriteLine(md.ToString());
        return ExitCodes.Ok;
    }

    /// <summary>A data set of the comparison: training images, test images with masks (null: nothing to score on) and the thresholds' polarity.</summary>
    private sealed record Set(string Name, IReadOnlyList<SegmentationItem> Train, IReadOnlyList<SegmentationItem>? Test, ThresholdPolarity BaselinePolarity, string PolarityReason);

    private static ForegroundPolarity ParsePolarity(string? text) => (text ?? "auto").Trim().ToLowerInvariant() switch
    {
        "auto" => ForegroundPolarity.Auto,
        "bright" => ForegroundPolarity.Bright,
        "dark" => ForegroundPolarity.Dark,
        _ => throw new ArgumentException($"--polarity must be auto, bright or dark; got '{text}'.", "Polarity"),
    };

    private static List<Set> Embedded(AppSettings s, ForegroundPolarity polarity, CancellationToken ct)
    {
        string isbiRoot = Path.Combine(AppContext.BaseDirectory, "datasets", "isbi2012_em_membrane");
        int width = s.Width ?? 128, height = s.Height ?? s.Width ?? 128;
        var synth = new SyntheticFluorescenceOptions
        {
            Kind = SyntheticFluorescenceKind.Nuclei, Width = 64, Height = 64, NucleusRadiusMin = 5, NucleusRadiusMax = 10,
            PhotonCount = 20, NoiseLevel = 0.08, BackgroundVariation = 0.6,
        };
        var isbi = new SegmentationFolderOptions { MaskEncoding = MaskEncoding.Binary, ForegroundValue = 0, Width = width, Height = height };
        return
        [
            new("synthetic noisy nuclei 64x64", SyntheticData.FluorescenceBatch(synth, 7, 16).Select(x => x.AsLoaded()).ToList(),
                SyntheticData.FluorescenceBatch(synth, 7, 8, 1000).Select(x => x.AsLoaded()).ToList(), ThresholdPolarity.Bright, "bright nuclei"),
            new($"ISBI 2012 {width}x{height} (membranes dark)", SegmentationFolderLoader.Load(Path.Combine(isbiRoot, "train"), isbi, cancellationToken: ct),
                SegmentationFolderLoader.Load(Path.Combine(isbiRoot, "test"), isbi, cancellationToken: ct), ThresholdPolarity.Dark, "dark membranes"),
        ];
    }

    private static Set FromFolder(AppSettings s, ForegroundPolarity polarity, CancellationToken ct)
    {
        var folder = s.FolderOptions() with { RequireMasks = false };
        folder.Validate();
        if (folder.ClassCount != 2) throw new ArgumentException($"unsupervised is binary: --classes must be 2; got {folder.ClassCount}.", "Classes");
        var train = SegmentationFolderLoader.Load(s.Data!, folder, cancellationToken: ct);
        if (train.Count == 0) throw new ArgumentException($"--data '{s.Data}' holds no images.", "Data");
        int h = train[0].Height, w = train[0].Width;
        var odd = train.FirstOrDefault(t => t.Height != h || t.Width != w);
        if (odd is not null)
            throw new ArgumentException($"--data: image '{odd.Name}' is {odd.Width}x{odd.Height}, '{train[0].Name}' is {w}x{h}; iGTT needs one size: pass --width and --height.", "Data");
        IReadOnlyList<SegmentationItem>? test;
        if (!string.IsNullOrWhiteSpace(s.Test))
            test = SegmentationFolderLoader.Load(s.Test, s.FolderOptions(width: w, height: h), cancellationToken: ct);
        else
        {
            var labelled = train.Where(t => t.Mask is not null).ToList();
            test = labelled.Count > 0 ? labelled : null;
        }
        var dir = new DirectoryInfo(Path.TrimEndingDirectorySeparator(s.Data!));
        string name = dir.Parent is null ? dir.Name : dir.Parent.Name + "/" + dir.Name; // "camvid/train", not just "train"
        if (test is null) return new Set(name, train, null, ThresholdPolarity.Bright, "");
        if (polarity != ForegroundPolarity.Auto)
            return new Set(name, train, test, polarity == ForegroundPolarity.Bright ? ThresholdPolarity.Bright : ThresholdPolarity.Dark, "--polarity");
        // Unknown polarity: the thresholds get the side the scoring masks show (prior knowledge iGTT does not get).
        double inside = 0, outside = 0, nIn = 0, nOut = 0;
        foreach (var t in test)
        {
            int plane = t.Height * t.Width;
            for (int j = 0; j < plane; j++)
            {
                byte m = t.Mask![j];
                if (m == MLNet.NoisySeg.Core.MaskConventions.IgnoreIndex) continue;
                double v = 0;
                for (int ch = 0; ch < t.Channels; ch++) v += t.Image[ch * plane + j];
                if (m != 0) { inside += v; nIn++; } else { outside += v; nOut++; }
            }
        }
        bool bright = nIn == 0 || nOut == 0 || inside / nIn >= outside / nOut;
        return new Set(name, train, test, bright ? ThresholdPolarity.Bright : ThresholdPolarity.Dark, "from the scoring masks: the foreground is " + (bright ? "brighter" : "darker"));
    }

    /// <summary>No masks to score on: trains iGTT + EMS per seed and reports what it found.</summary>
    private static string IgttOnly(IReadOnlyList<SegmentationItem> train, IgttOptions options, IReadOnlyList<int> seeds, ILogger log, CancellationToken ct)
    {
        var sb = new StringBuilder(string.Create(CultureInfo.InvariantCulture, $"{train.Count} images, no masks to score on: iGTT + EMS only.\n\n"));
        sb.AppendLine("| seed | foreground share | observed polarity | network inverted | candidate share per round |");
        sb.AppendLine("|---|---|---|---|---|");
        foreach (int seed in seeds)
        {
            log.LogInformation("iGTT + EMS seed {Seed}: training on {Count} images", seed, train.Count);
            using var r = IterativeGroundTruthTrainer.Train(train, options with { Trainer = options.Trainer with { Seed = seed } }, null, ct);
            log.LogInformation("  {Orientation}", r.Orientation.ToString());
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"| {seed} | {r.ForegroundShare:0.000} | {r.Orientation.ObservedPolarity} | {r.Orientation.Inverted} | {string.Join(" ", r.Rounds.Select(x => x.MeanCandidateForeground.ToString("0.000", CultureInfo.InvariantCulture)))} |");
        }
        return sb.ToString();
    }

    /// <summary>Logs on the calling thread, in order (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class SyncLog(Action<string> write) : IProgress<string>
    {
        public void Report(string value) => write(value);
    }
}
