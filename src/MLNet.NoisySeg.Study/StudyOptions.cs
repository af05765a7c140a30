using System.Globalization;
using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Losses;
using MLNet.NoisySeg.Networks;
using MLNet.NoisySeg.Noise;
using MLNet.NoisySeg.Pipelines;
using MLNet.NoisySeg.Training;

namespace MLNet.NoisySeg.Study;

/// <summary>Preset scale of a study run.</summary>
public enum StudyProfile
{
    /// <summary>Minutes on a laptop CPU: small images, a small U-Net, a few hundred steps, one seed.</summary>
    Quick,

    /// <summary>The paper's scale (hours; GPU advised): 256² images, a deeper/wider U-Net, thousands of steps, three seeds.</summary>
    Paper,
}

/// <summary>One data set of a study: a folder with <c>train/</c> and <c>test/</c> splits in the <c>images|masks</c> layout.</summary>
public sealed record StudyDatasetOptions
{
    /// <summary>Short name used in condition keys, tables and file names (letters, digits, '-', '_', '.').</summary>
    [RunSetting]
    public string Name { get; init; } = "";

    /// <summary>Data set root folder holding the split folders.</summary>
    [RunSetting]
    public string Path { get; init; } = "";

    /// <summary>Training split folder name (the validation split is carved from it). Default "train".</summary>
    [ResultSetting]
    public string TrainSplit { get; init; } = "train";

    /// <summary>Test split folder name. Default "test".</summary>
    [ResultSetting]
    public string TestSplit { get; init; } = "test";

    /// <summary>
    /// How both splits are loaded: the folder loader's own options (mask encoding, foreground value, classes, ignore value,
    /// resize). Default binary masks with foreground 255. Binary or class-index masks (a palette cannot be recorded in the
    /// results folder's settings).
    /// </summary>
    [ResultSetting(nameof(SegmentationFolderOptions.MaskEncoding), nameof(SegmentationFolderOptions.ForegroundValue), nameof(SegmentationFolderOptions.ClassCount),
        nameof(SegmentationFolderOptions.IgnoreValue), nameof(SegmentationFolderOptions.Width), nameof(SegmentationFolderOptions.Height))]
    public SegmentationFolderOptions Folder { get; init; } = SegmentationFolderOptions.BinaryMasks();

    /// <summary>Background class of class-wise sampling, dilation and erosion (multi-class). Default 0.</summary>
    [ResultSetting]
    public int BackgroundClass { get; init; }

    /// <summary>
    /// Patch training: train on random <c>CropHeight</c> x <c>CropWidth</c> windows of the (resized) training images, a
    /// fresh window per image and step (see <see cref="Training.SegmentationTrainerOptions.CropHeight"/>); evaluation
    /// always predicts whole images. Null = whole images. Set both or neither; at most the image size.
    /// </summary>
    [ResultSetting]
    public int? CropHeight { get; init; }

    /// <summary>Patch training: crop width (see <see cref="CropHeight"/>).</summary>
    [ResultSetting]
    public int? CropWidth { get; init; }

    /// <summary>Number of classes (2 = binary grid, more = multi-class grid): <c>Folder.ClassCount</c>.</summary>
    public int ClassCount => Folder.ClassCount;

    /// <summary>True when the data set is binary (ClassCount 2).</summary>
    public bool IsBinary => ClassCount == 2;

    /// <summary>"name (WxH, N classes[, random AxB crops])" for logs and reports.</summary>
    public string Describe()
    {
        string size = Folder.Width is int w && Folder.Height is int h ? FormattableString.Invariant($"{w}x{h}") : "stored size";
        string text = FormattableString.Invariant($"{Name} ({size}, {ClassCount} classes");
        if (CropWidth is int cw && CropHeight is int ch) text += FormattableString.Invariant($", random {cw}x{ch} crops");
        return text + ")";
    }

    /// <summary>
    /// The data sets embedded with the study app (<c>src/Samples/datasets</c>) at a profile's sizes: ISBI 2012 at 256²
    /// (quick: trained on random 128² crops, the cost of 128² steps; crops also slow down memorisation of fixed noisy
    /// labels, see docs/reproduction.md) and CamVid at 120x90 (quick) or 240x180 (paper).
    /// </summary>
    /// <param name="root">The folder holding <c>isbi2012_em_membrane/</c> and <c>camvid11_small/</c>.</param>
    /// <param name="profile">The profile.</param>
    public static IReadOnlyList<StudyDatasetOptions> Embedded(string root, StudyProfile profile)
    {
        bool quick = profile == StudyProfile.Quick;
        return
        [
            new StudyDatasetOptions
            {
                Name = "isbi", Path = System.IO.Path.Combine(root, "isbi2012_em_membrane"),
                Folder = SegmentationFolderOptions.BinaryMasks(foregroundValue: 0) with { Width = 256, Height = 256 },
                CropWidth = quick ? 128 : null, CropHeight = quick ? 128 : null,
            },
            new StudyDatasetOptions
            {
                Name = "camvid", Path = System.IO.Path.Combine(root, "camvid11_small"),
                Folder = SegmentationFolderOptions.ClassIndexMasks(11, ignoreValue: 11) with { Width = quick ? 120 : 240, Height = quick ? 90 : 180 },
            },
        ];
    }

    /// <summary>Checks every option; the exception names it (prefixed with <paramref name="prefix"/>, e.g. "Datasets[0].").</summary>
    /// <param name="prefix">Prefix of option names in messages.</param>
    /// <param name="checkFolders">Also check that the split folders exist.</param>
    public void Validate(string prefix = "", bool checkFolders = true)
    {
        if (string.IsNullOrWhiteSpace(Name) || Name.Any(ch => !(char.IsLetterOrDigit(ch) || ch is '-' or '_' or '.')))
            throw new ArgumentException($"{prefix}Name must be a non-empty name of letters, digits, '-', '_' or '.'; got '{Name}'.", prefix + nameof(Name));
        if (string.IsNullOrWhiteSpace(Path))
            throw new ArgumentException($"{prefix}Path must name the data set folder (with {TrainSplit}/ and {TestSplit}/ splits).", prefix + nameof(Path));
        if (string.IsNullOrWhiteSpace(TrainSplit)) throw new ArgumentException($"{prefix}TrainSplit must not be empty.", prefix + nameof(TrainSplit));
        if (string.IsNullOrWhiteSpace(TestSplit)) throw new ArgumentException($"{prefix}TestSplit must not be empty.", prefix + nameof(TestSplit));
        if (Folder is null) throw new ArgumentException($"{prefix}Folder must not be null.", prefix + nameof(Folder));
        try
        {
            Folder.Validate();
        }
        catch (ArgumentException e)
        {
            string message = e.ParamName is null ? e.Message : e.Message.Replace($" (Parameter '{e.ParamName}')", "", StringComparison.Ordinal);
            throw new ArgumentException($"{prefix}{nameof(Folder)}: {message}", $"{prefix}{nameof(Folder)}.{e.ParamName}", e);
        }
        if (Folder.MaskEncoding is not (MaskEncoding.Binary or MaskEncoding.ClassIndex))
            throw new ArgumentOutOfRangeException($"{prefix}Folder.MaskEncoding", Folder.MaskEncoding, $"{prefix}Folder.MaskEncoding must be Binary or ClassIndex.");
        if (BackgroundClass < 0 || BackgroundClass >= ClassCount)
            throw new ArgumentOutOfRangeException(prefix + nameof(BackgroundClass), BackgroundClass, $"{prefix}BackgroundClass must be a class index in [0, {ClassCount - 1}].");
        if (CropHeight.HasValue != CropWidth.HasValue)
            throw new ArgumentException($"{prefix}CropHeight and {prefix}CropWidth must be set together (or neither).", prefix + (CropHeight.HasValue ? nameof(CropWidth) : nameof(CropHeight)));
        if (CropHeight is < 8 or > 4096) throw new ArgumentOutOfRangeException(prefix + nameof(CropHeight), CropHeight, $"{prefix}CropHeight must be null or in [8, 4096].");
        if (CropWidth is < 8 or > 4096) throw new ArgumentOutOfRangeException(prefix + nameof(CropWidth), CropWidth, $"{prefix}CropWidth must be null or in [8, 4096].");
        if (CropHeight > Folder.Height || CropWidth > Folder.Width)
            throw new ArgumentException($"{prefix}CropHeight x {prefix}CropWidth = {CropHeight}x{CropWidth} is larger than the images ({Folder.Height}x{Folder.Width}).", prefix + (CropHeight > Folder.Height ? nameof(CropHeight) : nameof(CropWidth)));
        if (checkFolders)
        {
            foreach (var (split, name) in new[] { (TrainSplit, nameof(TrainSplit)), (TestSplit, nameof(TestSplit)) })
            {
                string folder = System.IO.Path.Combine(Path, split);
                if (!Directory.Exists(folder))
                    throw new ArgumentException($"{prefix}Path: the split folder '{folder}' does not exist (expected {Path}/{split}/images and /masks; see {prefix}{name}).", prefix + nameof(Path));
            }
        }
    }
}

/// <summary>A deterministic slice of the condition grid: the k-th selected condition runs on shard k mod Count.</summary>
/// <param name="Index">0-based shard index, below <paramref name="Count"/>.</param>
/// <param name="Count">Number of shards, at least 1.</param>
public readonly record struct StudyShard(int Index, int Count)
{
    /// <summary>The whole grid.</summary>
    public static StudyShard All => new(0, 1);

    /// <summary>True when this shard runs the condition at <paramref name="position"/> of the (filtered) grid.</summary>
    /// <param name="position">The condition's 0-based position in the grid the run selects (<see cref="StudyGrid.Build"/>).</param>
    public bool Owns(int position) => position % Count == Index;

    /// <summary>Parses "i/n" (e.g. "0/2"); throws <see cref="ArgumentException"/> naming Shard.</summary>
    /// <param name="text">The text.</param>
    public static StudyShard Parse(string text)
    {
        var parts = (text ?? "").Split('/');
        if (parts.Length != 2
            || !int.TryParse(parts[0].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int i)
            || !int.TryParse(parts[1].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int n)
            || n < 1 || i >= n)
            throw new ArgumentException($"Shard must be 'i/n' with 0 <= i < n (e.g. 0/4); got '{text}'.", "Shard");
        return new StudyShard(i, n);
    }

    /// <inheritdoc />
    public override string ToString() => FormattableString.Invariant($"{Index}/{Count}");
}

/// <summary>
/// Options of a study run (<see cref="StudyRunner"/>). Start from <see cref="ForProfile"/> and adjust with <c>with</c>-style
/// object initialisers; <see cref="Validate"/> names the first bad option.
/// </summary>
public sealed record StudyOptions
{
    /// <summary>The preset this run started from (informational; every knob below is explicit).</summary>
    [RunSetting]
    public StudyProfile Profile { get; init; } = StudyProfile.Quick;

    /// <summary>Data sets; each gets the binary or the multi-class grid by its class count.</summary>
    [RunSetting]
    public IReadOnlyList<StudyDatasetOptions> Datasets { get; init; } = [];

    /// <summary>Seeds (each condition runs once per seed; the corruption and the training use it). At least one, distinct.</summary>
    [RunSetting]
    public IReadOnlyList<int> Seeds { get; init; } = [0];

    /// <summary>Training steps per condition.</summary>
    [ResultSetting]
    public int Steps { get; init; } = 160;

    /// <summary>Images per step.</summary>
    [ResultSetting]
    public int BatchSize { get; init; } = 4;

    /// <summary>Adam learning rate.</summary>
    [ResultSetting]
    public double LearningRate { get; init; } = 3e-3;

    /// <summary>Learning-rate schedule over the step budget: <see cref="LearningRateSchedule.None"/> (constant, default) or
    /// <see cref="LearningRateSchedule.Cosine"/> (annealed to 0 at the last step; the paper decays its rate too).</summary>
    [ResultSetting]
    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.None;

    /// <summary>U-Net depth (down-sampling levels).</summary>
    [ResultSetting]
    public int Depth { get; init; } = 3;

    /// <summary>U-Net channels of the first level.</summary>
    [ResultSetting]
    public int BaseWidth { get; init; } = 8;

    /// <summary>Random flips/rotations during training.</summary>
    [ResultSetting]
    public bool Augment { get; init; } = true;

    /// <summary>
    /// Online noise (method.md §2): every epoch trains on a fresh draw of each condition's corruption instead of one
    /// fixed draw. Statistics, panels and the known-noise decoding use the first draw (epoch 0). Default false (the
    /// paper's main setting: the noisy labels are drawn once).
    /// </summary>
    [ResultSetting]
    public bool OnlineNoise { get; init; }

    /// <summary>Fraction of the training split carved off (deterministically, <c>DataSplit</c>) as the clean validation split of the paper protocol.</summary>
    [ResultSetting]
    public double ValidationFraction { get; init; } = 0.2;

    /// <summary>Seed of the train/validation carving (the same split for every condition and seed).</summary>
    [ResultSetting]
    public int SplitSeed { get; init; }

    /// <summary>Budget curves: steps between evaluations (label-free, paper protocol, fixed) of CL and RCL conditions; 0 = no curves.</summary>
    [ResultSetting]
    public int BudgetEvery { get; init; } = 40;

    /// <summary>Box-kernel half-size h of the density maps (meta-structure statistics and panels).</summary>
    [ResultSetting]
    public int DensityBandwidth { get; init; } = 5;

    /// <summary>
    /// Relative tolerance of the effective rank of the estimated noise matrix: a pivot below this fraction of the largest
    /// entry counts as zero, so the sampling error of a counted matrix does not make random labels look full-rank.
    /// </summary>
    [ResultSetting]
    public double RankTolerance { get; init; } = 0.02;

    /// <summary>Pass the simulated noise matrix (when defined, whatever its determinant) to label-free decoding as the known noise;
    /// <c>NoiseAwareDecoding</c> reports a rank-deficient one as not recoverable. Default true.</summary>
    [ResultSetting]
    public bool UseKnownNoise { get; init; } = true;

    /// <summary>Write an image panel (image | clean | corrupted | density | prediction) per condition of the first seed.</summary>
    [RunSetting]
    public bool WritePanels { get; init; } = true;

    /// <summary>Output folder (results.jsonl, results.csv, panels/). A sharded run writes to <c>shard-i-of-n/</c> below it.</summary>
    [RunSetting]
    public string OutputFolder { get; init; } = "study-output";

    /// <summary>The slice of the grid this process runs.</summary>
    [RunSetting]
    public StudyShard Shard { get; init; } = StudyShard.All;

    /// <summary>libtorch threads (null = processor count). Results are reproducible for a fixed thread count.</summary>
    [RunSetting]
    public int? Threads { get; init; }

    /// <summary>
    /// Conditions trained at the same time in this process (default 1). On small CPUs, 2 conditions with
    /// <see cref="Threads"/> = 1 each can use the cores better than one condition with 2 libtorch threads. A 1000-step
    /// CamVid run with 2 crashed inside TorchSharp's BatchNorm ("For integral input tensors, argument alpha must not be a
    /// floating point number"); the cause was TorchSharp freeing an implicitly created scalar while libtorch read it,
    /// which allocations on another thread make likely, and the library no longer hands libtorch such scalars (see
    /// <c>LiveScalars</c> and docs/reproduction.md). TorchSharp still does not document training from several threads as
    /// safe (dotnet/TorchSharp#941), so the default stays 1; shards (separate processes) scale out without that question.
    /// Results do not depend on it (every condition is seeded by its own seed; keep <see cref="Threads"/> fixed for
    /// bit-identical runs).
    /// </summary>
    [RunSetting]
    public int MaxParallelConditions { get; init; } = 1;

    /// <summary>Restrict the grid to conditions whose noise text contains one of these strings (null/empty = all).</summary>
    [RunSetting]
    public IReadOnlyList<string>? ConditionFilter { get; init; }

    /// <summary>The folder this run writes its results to (the shard folder when sharded).</summary>
    public string ResultsFolder => Shard.Count > 1
        ? System.IO.Path.Combine(OutputFolder, FormattableString.Invariant($"shard-{Shard.Index}-of-{Shard.Count}"))
        : OutputFolder;

    /// <summary>
    /// Preset options, the one source of the profiles (the record's defaults are the quick profile).
    /// <see cref="StudyProfile.Quick"/>: 1 seed, U-Net depth 3 / base 8, 160 steps, batch 4, Adam 3e-3, budget points every
    /// 40 steps (the embedded data sets at their quick sizes: <see cref="StudyDatasetOptions.Embedded"/>).
    /// <see cref="StudyProfile.Paper"/>: 3 seeds, depth 4 / base 32, 3000 steps, batch 8, Adam 1e-3 with cosine decay.
    /// </summary>
    /// <param name="profile">The profile.</param>
    /// <param name="datasets">The data sets.</param>
    /// <param name="outputFolder">Output folder.</param>
    public static StudyOptions ForProfile(StudyProfile profile, IReadOnlyList<StudyDatasetOptions> datasets, string outputFolder) => profile switch
    {
        StudyProfile.Paper => new StudyOptions
        {
            Profile = profile, Datasets = datasets, OutputFolder = outputFolder, Seeds = [0, 1, 2],
            Steps = 3000, BatchSize = 8, Depth = 4, BaseWidth = 32, LearningRate = 1e-3, Schedule = LearningRateSchedule.Cosine, BudgetEvery = 250,
        },
        _ => new StudyOptions { Profile = StudyProfile.Quick, Datasets = datasets, OutputFolder = outputFolder },
    };

    /// <summary>
    /// The U-Net trainer options of one training with these settings (a study condition, or the app's train verb): budget,
    /// optimizer, schedule, network, augmentation, crops, and the label column (the corrupted one, or the clean one with the
    /// corruption redrawn every epoch when <see cref="OnlineNoise"/> is on). Decoding is label-free; callers add progress,
    /// cancellation, known noise and callbacks with <c>with</c>.
    /// </summary>
    /// <param name="noise">The condition's corruption.</param>
    /// <param name="seed">Seed of the corruption and the training.</param>
    /// <param name="channels">Image channels.</param>
    /// <param name="classCount">Number of classes.</param>
    /// <param name="cropHeight">Training crop height, or null for whole images.</param>
    /// <param name="cropWidth">Training crop width, or null.</param>
    public UNetSegmentationTrainerOptions TrainerOptions(LabelNoiseSpec noise, int seed, int channels, int classCount, int? cropHeight, int? cropWidth) => new()
    {
        LabelColumnName = OnlineNoise ? SegmentationColumnNames.Mask : SegmentationColumnNames.NoisyMask,
        OnlineNoise = OnlineNoise ? noise : null,
        OnlineNoiseSeed = seed,
        ClassCount = classCount,
        Decoding = SegmentationDecoding.LabelFree,
        Trainer = new SegmentationTrainerOptions
        {
            Network = new UNetOptions { InputChannels = channels, OutputChannels = classCount == 2 ? 1 : classCount, Depth = Depth, BaseWidth = BaseWidth },
            Loss = classCount == 2 ? LossKind.Bce : LossKind.CrossEntropy,
            Optimizer = OptimizerKind.Adam,
            LearningRate = LearningRate,
            Schedule = Schedule,
            MaxSteps = Steps,
            BatchSize = BatchSize,
            Seed = seed,
            Threads = Threads,
            Augment = Augment,
            CropHeight = cropHeight,
            CropWidth = cropWidth,
            ValidateEvery = BudgetEvery,
        },
    };

    /// <summary>One line describing the training of every condition (budget, optimizer, network, crops, online noise).</summary>
    public string DescribeTraining()
    {
        var text = FormattableString.Invariant($"{Steps} steps, batch {BatchSize}, Adam lr {LearningRate}{(Schedule == LearningRateSchedule.Cosine ? " (cosine decay)" : "")}, U-Net depth {Depth} base {BaseWidth}");
        if (Augment) text += ", flips/rotations";
        if (OnlineNoise) text += ", online noise (redrawn every epoch)";
        return text;
    }

    /// <summary>
    /// The options that change what a result means (budget, network, data sizes, noise handling), as invariant text by
    /// name: every property marked <see cref="ResultSettingAttribute"/> here and in each data set (keys
    /// <c>Datasets[name].Option</c>). A results folder records them in <c>settings.json</c>, and a run or merge with
    /// different settings is refused, so resuming never mixes, say, 160-step and 1000-step results. Options marked
    /// <see cref="RunSettingAttribute"/> (seeds, filters, paths, threads, shards, parallelism) select conditions or resources
    /// and are not part of it.
    /// </summary>
    public IReadOnlyDictionary<string, string> ResultSettings()
    {
        var settings = new SortedDictionary<string, string>(StringComparer.Ordinal);
        StudySettings.Collect(this, "", settings);
        foreach (var ds in Datasets)
            StudySettings.Collect(ds, $"Datasets[{ds.Name}].", settings);
        return settings;
    }

    /// <summary>Checks every option; throws <see cref="ArgumentException"/>/<see cref="ArgumentOutOfRangeException"/> naming the first bad one.</summary>
    /// <param name="checkFolders">Also check that the data set folders exist.</param>
    public void Validate(bool checkFolders = true)
    {
        if (!Enum.IsDefined(Profile)) throw new ArgumentOutOfRangeException(nameof(Profile), Profile, "Profile must be Quick or Paper.");
        if (Datasets is null || Datasets.Count == 0) throw new ArgumentException("Datasets must list at least one data set.", nameof(Datasets));
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < Datasets.Count; i++)
        {
            var d = Datasets[i] ?? throw new ArgumentException($"Datasets[{i}] is null.", nameof(Datasets));
            d.Validate($"Datasets[{i}].", checkFolders);
            if (!names.Add(d.Name)) throw new ArgumentException($"Datasets[{i}].Name '{d.Name}' is used twice.", $"Datasets[{i}].Name");
        }
        if (Seeds is null || Seeds.Count == 0) throw new ArgumentException("Seeds must list at least one seed.", nameof(Seeds));
        if (Seeds.Distinct().Count() != Seeds.Count) throw new ArgumentException("Seeds must be distinct.", nameof(Seeds));
        if (Steps is < 1 or > 10_000_000) throw new ArgumentOutOfRangeException(nameof(Steps), Steps, "Steps must be in [1, 10000000].");
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize must be at least 1.");
        if (!double.IsFinite(LearningRate) || LearningRate <= 0) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "LearningRate must be a finite number greater than 0.");
        if (Schedule is not (LearningRateSchedule.None or LearningRateSchedule.Cosine))
            throw new ArgumentOutOfRangeException(nameof(Schedule), Schedule, "Schedule must be None or Cosine (a step schedule needs epochs; the study budgets steps).");
        if (Depth is < 1 or > 8) throw new ArgumentOutOfRangeException(nameof(Depth), Depth, "Depth must be in [1, 8].");
        if (BaseWidth is < 1 or > 1024) throw new ArgumentOutOfRangeException(nameof(BaseWidth), BaseWidth, "BaseWidth must be in [1, 1024].");
        if (double.IsNaN(ValidationFraction) || ValidationFraction <= 0 || ValidationFraction >= 1)
            throw new ArgumentOutOfRangeException(nameof(ValidationFraction), ValidationFraction, "ValidationFraction must be in (0, 1): the paper protocol needs a clean validation split.");
        if (BudgetEvery < 0) throw new ArgumentOutOfRangeException(nameof(BudgetEvery), BudgetEvery, "BudgetEvery must be >= 0 (0 = no budget curves).");
        if (DensityBandwidth is < 1 or > 256) throw new ArgumentOutOfRangeException(nameof(DensityBandwidth), DensityBandwidth, "DensityBandwidth must be in [1, 256].");
        if (!double.IsFinite(RankTolerance) || RankTolerance < 0 || RankTolerance >= 1)
            throw new ArgumentOutOfRangeException(nameof(RankTolerance), RankTolerance, "RankTolerance must be in [0, 1).");
        if (string.IsNullOrWhiteSpace(OutputFolder)) throw new ArgumentException("OutputFolder must not be empty.", nameof(OutputFolder));
        if (Shard.Count < 1 || Shard.Index < 0 || Shard.Index >= Shard.Count)
            throw new ArgumentOutOfRangeException(nameof(Shard), Shard.ToString(), "Shard must be i/n with 0 <= i < n.");
        if (MaxParallelConditions is < 1 or > 64) throw new ArgumentOutOfRangeException(nameof(MaxParallelConditions), MaxParallelConditions, "MaxParallelConditions must be in [1, 64].");
        if (Threads is < 1) throw new ArgumentOutOfRangeException(nameof(Threads), Threads, "Threads must be null or at least 1.");
    }
}
