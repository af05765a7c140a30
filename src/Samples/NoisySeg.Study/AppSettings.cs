using System.Globalization;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Study;
using MLNet.NoisySeg.Training;

namespace NoisySeg.Study;

/// <summary>
/// Every setting of the app, bound from appsettings.json, then NOISYSEG_* environment variables, then the command line
/// (later wins). Names are case-insensitive; the command-line options that set them are defined in <see cref="Cli.CliOptions"/>.
/// </summary>
public sealed class AppSettings
{
    /// <summary>quick | paper.</summary>
    public string Profile { get; set; } = "quick";
    /// <summary>Data set folder (with train/ and test/) for run; split folder for train/evaluate. Empty = embedded ISBI + CamVid.</summary>
    public string? Data { get; set; }
    /// <summary>Name of the data set given with --data.</summary>
    public string? Name { get; set; }
    /// <summary>binary | classindex; null = binary (or, for a saved model, how it was trained).</summary>
    public string? MaskEncoding { get; set; }
    /// <summary>Gray value of the foreground in binary masks; null = 255 (or the model's).</summary>
    public int? Foreground { get; set; }
    /// <summary>Classes; null = 2 (or the model's).</summary>
    public int? Classes { get; set; }
    /// <summary>Ignore value of class-index masks.</summary>
    public int? Ignore { get; set; }
    /// <summary>Resize width.</summary>
    public int? Width { get; set; }
    /// <summary>Resize height.</summary>
    public int? Height { get; set; }
    /// <summary>Comma-separated seeds.</summary>
    public string? Seeds { get; set; }
    /// <summary>Training steps.</summary>
    public int? Steps { get; set; }
    /// <summary>Batch size.</summary>
    public int? BatchSize { get; set; }
    /// <summary>U-Net depth.</summary>
    public int? Depth { get; set; }
    /// <summary>U-Net base width.</summary>
    public int? BaseWidth { get; set; }
    /// <summary>Learning rate.</summary>
    public double? LearningRate { get; set; }
    /// <summary>Learning-rate schedule: none | cosine.</summary>
    public string? Schedule { get; set; }
    /// <summary>Steps between budget-curve points.</summary>
    public int? BudgetEvery { get; set; }
    /// <summary>Patch training: crop size "N" (N x N) or "WxH" for every data set of the run; empty = whole images.</summary>
    public string? Crop { get; set; }
    /// <summary>Online noise: redraw every condition's corruption each epoch (true/false).</summary>
    public bool? Online { get; set; }
    /// <summary>Output folder.</summary>
    public string Out { get; set; } = "study-output";
    /// <summary>Shard i/n.</summary>
    public string Shard { get; set; } = "0/1";
    /// <summary>libtorch threads per condition.</summary>
    public int? Threads { get; set; }
    /// <summary>Conditions trained at the same time.</summary>
    public int? Parallel { get; set; }
    /// <summary>Comma-separated condition filter (substrings of the noise text).</summary>
    public string? Filter { get; set; }
    /// <summary>merge: comma-separated result folders (default: shard-*-of-* below --out).</summary>
    public string? Inputs { get; set; }
    /// <summary>train/evaluate/predict: model zip.</summary>
    public string? Model { get; set; }
    /// <summary>train: optional labelled test split folder.</summary>
    public string? Test { get; set; }
    /// <summary>train: simulated noise, e.g. sampling(0.1).</summary>
    public string Noise { get; set; } = "clean";
    /// <summary>train: seed.</summary>
    public int Seed { get; set; }
    /// <summary>train: labelfree | fixed.</summary>
    public string Decoding { get; set; } = "labelfree";
    /// <summary>unsupervised: iGTT rounds.</summary>
    public int? Rounds { get; set; }
    /// <summary>unsupervised: auto | bright | dark.</summary>
    public string? Polarity { get; set; }
    /// <summary>predict: images folder.</summary>
    public string? Images { get; set; }
    /// <summary>issues: k of the k-fold cross-fitting (default 5).</summary>
    public int? Folds { get; set; }
    /// <summary>issues: overlays for the N most suspicious images (default 10).</summary>
    public int? Top { get; set; }
    /// <summary>issues: meta-structure (default) | softmin | confident.</summary>
    public string? RankBy { get; set; }

    /// <summary>The data sets of a run: --data, or the embedded ones at the profile's sizes; --crop applies to every one.</summary>
    public IReadOnlyList<StudyDatasetOptions> Datasets(StudyProfile profile)
    {
        var sets = string.IsNullOrWhiteSpace(Data)
            ? StudyDatasetOptions.Embedded(Path.Combine(AppContext.BaseDirectory, "datasets"), profile)
            : [DatasetFrom(Data, Name ?? new DirectoryInfo(Data).Name)];
        return ParseCrop(Crop) is { } crop ? sets.Select(d => d with { CropWidth = crop.Width, CropHeight = crop.Height }).ToList() : sets;
    }

    /// <summary>A data set from the --data/--mask-encoding/... settings.</summary>
    public StudyDatasetOptions DatasetFrom(string path, string name) => new()
    {
        Name = string.Concat(name.Select(ch => char.IsLetterOrDigit(ch) || ch is '-' or '_' or '.' ? ch : '_')),
        Path = path,
        Folder = FolderOptions(),
    };

    /// <summary>The mask encoding.</summary>
    public MaskEncoding ParseEncoding() => (MaskEncoding ?? "binary").Replace("-", "").ToLowerInvariant() switch
    {
        "binary" => MLNet.NoisySeg.Data.MaskEncoding.Binary,
        "classindex" or "index" => MLNet.NoisySeg.Data.MaskEncoding.ClassIndex,
        _ => throw new ArgumentException($"MaskEncoding must be binary or classindex; got '{MaskEncoding}'.", nameof(MaskEncoding)),
    };

    /// <summary>Loader options of a split folder from the settings (explicit size/channels override them).</summary>
    public SegmentationFolderOptions FolderOptions(int? width = null, int? height = null, int channels = 0) => new()
    {
        MaskEncoding = ParseEncoding(),
        ForegroundValue = Foreground ?? 255,
        ClassCount = Classes ?? 2,
        IgnoreValue = Ignore,
        Width = width ?? Width,
        Height = height ?? Height,
        Channels = channels,
    };

    /// <summary>The profile named by --profile.</summary>
    public StudyProfile ParseProfile() => Profile.ToLowerInvariant() switch
    {
        "quick" => StudyProfile.Quick,
        "paper" => StudyProfile.Paper,
        _ => throw new ArgumentException($"Profile must be quick or paper; got '{Profile}'.", nameof(Profile)),
    };

    /// <summary>The profile's training settings (<see cref="StudyOptions.ForProfile"/>) with the command line's overrides: the run and train verbs share them.</summary>
    public StudyOptions Training(StudyOptions profile) => profile with
    {
        Seeds = Seeds is null ? profile.Seeds : ParseSeeds(Seeds),
        Steps = Steps ?? profile.Steps,
        BatchSize = BatchSize ?? profile.BatchSize,
        Depth = Depth ?? profile.Depth,
        BaseWidth = BaseWidth ?? profile.BaseWidth,
        LearningRate = LearningRate ?? profile.LearningRate,
        Schedule = ParseSchedule() ?? profile.Schedule,
        BudgetEvery = BudgetEvery ?? profile.BudgetEvery,
        OnlineNoise = Online ?? profile.OnlineNoise,
        Threads = Threads ?? profile.Threads,
        MaxParallelConditions = Parallel ?? profile.MaxParallelConditions,
    };

    /// <summary>The validated study options of the run/merge verbs.</summary>
    public StudyOptions ToStudyOptions(bool checkFolders = true)
    {
        var profile = ParseProfile();
        var o = Training(StudyOptions.ForProfile(profile, Datasets(profile), Out)) with
        {
            Shard = StudyShard.Parse(Shard),
            ConditionFilter = string.IsNullOrWhiteSpace(Filter) ? null : Filter.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
        };
        o.Validate(checkFolders);
        return o;
    }

    /// <summary>Parses --schedule (none | cosine); null when not given.</summary>
    public LearningRateSchedule? ParseSchedule() => Schedule?.Trim().ToLowerInvariant() switch
    {
        null => null,
        "none" or "constant" => LearningRateSchedule.None,
        "cosine" => LearningRateSchedule.Cosine,
        _ => throw new ArgumentException($"Schedule must be none or cosine; got '{Schedule}'.", nameof(Schedule)),
    };

    /// <summary>Parses --crop ("N" or "WxH"); null when empty.</summary>
    public static (int Width, int Height)? ParseCrop(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        var parts = text.ToLowerInvariant().Split('x', StringSplitOptions.TrimEntries);
        if (parts.Length is 1 or 2
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int w)
            && int.TryParse(parts[^1], NumberStyles.None, CultureInfo.InvariantCulture, out int h))
            return (w, h);
        throw new ArgumentException($"Crop must be N or WxH in pixels (e.g. 128 or 120x90); got '{text}'.", nameof(Crop));
    }

    private static int[] ParseSeeds(string text)
    {
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var seeds = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out seeds[i]))
                throw new ArgumentException($"Seeds must be comma-separated integers; got '{text}'.", nameof(Seeds));
        return seeds;
    }
}
