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
/// supervised U-Net, mean ± std over seeds — on the embedded ISBI set and on synthetic noisy fluorescence nuclei. Writes
/// <c>unsupervised.md</c> into --out and adds it to <c>report.md</c> when one exists.
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
    public override string? Details => "Runs on the embedded ISBI 2012 set and on synthetic noisy nuclei; writes unsupervised.md to --out and appends it to report.md when present.";
    /// <inheritdoc/>
    public override IReadOnlyList<string> Examples => ["unsupervised --seeds 0,1,2 --steps 20 --out study-output"];
    /// <inheritdoc/>
    public override IReadOnlyList<CliOption> Options =>
    [
        CliOptions.Seeds with { Default = "0,1" },
        CliOptions.Steps with { Description = "Training steps per iGTT round (4 rounds; the supervised U-Net gets 4 x N)", Default = "20" },
        CliOptions.Width with { Description = "Size the ISBI images are resized to (square)", Default = "128" },
        CliOptions.Threads, CliOptions.Out,
    ];

    /// <inheritdoc/>
    public override int Execute(VerbContext context)
    {
        var (s, log, ct) = (context.Settings, context.Log, context.Cancellation);
        var seeds = string.IsNullOrWhiteSpace(s.Seeds) ? new[] { 0, 1 }
            : s.Seeds.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray();
        int stepsPerRound = s.Steps ?? 20;
        if (stepsPerRound < 1) throw new ArgumentException("--steps must be at least 1 (steps per iGTT round).", "Steps");
        const int rounds = 4;
        string isbiRoot = Path.Combine(AppContext.BaseDirectory, "datasets", "isbi2012_em_membrane");
        int size = s.Width ?? 128;

        var sets = new List<(string Name, IReadOnlyList<SegmentationItem> Train, IReadOnlyList<SegmentationItem> Test, ThresholdPolarity Polarity)>();
        var synth = new SyntheticFluorescenceOptions
        {
            Kind = SyntheticFluorescenceKind.Nuclei, Width = 64, Height = 64, NucleusRadiusMin = 5, NucleusRadiusMax = 10,
            PhotonCount = 20, NoiseLevel = 0.08, BackgroundVariation = 0.6,
        };
        sets.Add(("synthetic noisy nuclei 64x64", SyntheticData.FluorescenceBatch(synth, 7, 16).Select(x => x.AsLoaded()).ToList(),
            SyntheticData.FluorescenceBatch(synth, 7, 8, 1000).Select(x => x.AsLoaded()).ToList(), ThresholdPolarity.Bright));
        var isbi = new SegmentationFolderOptions { MaskEncoding = MaskEncoding.Binary, ForegroundValue = 0, Width = size, Height = size };
        sets.Add(($"ISBI 2012 {size}x{size} (membranes dark)", SegmentationFolderLoader.Load(Path.Combine(isbiRoot, "train"), isbi, cancellationToken: ct),
            SegmentationFolderLoader.Load(Path.Combine(isbiRoot, "test"), isbi, cancellationToken: ct), ThresholdPolarity.Dark));

        var md = new StringBuilder("## Unsupervised segmentation: iGTT with meta-structure (method.md §6)\n\n");
        md.Append(CultureInfo.InvariantCulture, $"iGTT {rounds} rounds x {stepsPerRound} steps (K = 30, r = 1, p = 0.1), U-Net depth 3 / base 16, Adam 1e-3; ");
        md.Append(CultureInfo.InvariantCulture, $"supervised U-Net {rounds * stepsPerRound} steps; seeds {string.Join(",", seeds)}. Otsu and adaptive thresholds are told the structure's polarity; iGTT is not. ");
        md.Append("Paper (ER data, Dice %): iGTT + EMS 78.84, without EMS 73.96, Otsu 69.47, supervised 85.99.\n\n");
        var net = new UNetOptions { Depth = 3, BaseWidth = 16 };
        foreach (var (name, train, test, polarity) in sets)
        {
            log.LogInformation("Unsupervised comparison on {Name}: {Train} train / {Test} test images", name, train.Count, test.Count);
            var result = UnsupervisedComparison.Run(train, test, new UnsupervisedComparisonOptions
            {
                Seeds = seeds,
                Igtt = new IgttOptions
                {
                    Rounds = rounds, StepsPerRound = stepsPerRound,
                    Trainer = new SegmentationTrainerOptions { Loss = LossKind.DmiSoftIoU, Network = net, BatchSize = 4, Threads = s.Threads, LearningRate = 1e-3 },
                },
                Supervised = new SegmentationTrainerOptions { Loss = LossKind.Bce, Network = net, BatchSize = 4, Threads = s.Threads, MaxSteps = rounds * stepsPerRound },
                Polarity = polarity,
                Log = new Progress<string>(m => log.LogInformation("{Message}", m)),
            }, ct);
            md.Append(CultureInfo.InvariantCulture, $"### {name}\n\n{result.ToMarkdown()}\n\n");
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
}
