namespace MLNet.NoisySeg.Study;

/// <summary>Test-set scores of one decoding of a trained model.</summary>
public sealed record StudyScores
{
    /// <summary>The decoding rule (text form of <c>DecodingRule</c>).</summary>
    public string Rule { get; init; } = "";

    /// <summary>The headline score: pixel-level Dice (binary) or mean IoU (multi-class).</summary>
    public double Score { get; init; } = double.NaN;

    /// <summary>Binary: pixel-level Dice; multi-class: mean Dice over classes.</summary>
    public double Dice { get; init; } = double.NaN;

    /// <summary>Binary: foreground IoU; multi-class: mean IoU.</summary>
    public double IoU { get; init; } = double.NaN;

    /// <summary>Pixel accuracy.</summary>
    public double Accuracy { get; init; } = double.NaN;

    /// <summary>Per-class IoU (multi-class only; empty for binary).</summary>
    public IReadOnlyList<double> PerClassIoU { get; init; } = [];
}

/// <summary>Test scores of a model after a number of training steps (budget curve), decoded as at the end of training.</summary>
/// <param name="Step">Completed training steps.</param>
/// <param name="Score">Label-free Dice (binary) or mean IoU (multi-class) on the test split; NaN when no label-free rule existed yet.</param>
public sealed record StudyBudgetPoint(int Step, double Score)
{
    /// <summary>The paper protocol's score at this step (its rule chosen on the clean validation split at this step); NaN in
    /// results recorded before it was measured.</summary>
    public double Paper { get; init; } = double.NaN;

    /// <summary>The fixed decoding's score at this step (threshold 0.5 / argmax); NaN in results recorded before it was measured.</summary>
    public double Fixed { get; init; } = double.NaN;
}

/// <summary>Everything measured for one condition; one line of <c>results.jsonl</c>, one row of <c>results.csv</c>.</summary>
public sealed record StudyResult
{
    /// <summary>Index of the condition in the full grid.</summary>
    public int Index { get; init; }

    /// <summary>Unique key <c>dataset|noise|seed=s</c>.</summary>
    public string Key { get; init; } = "";

    /// <summary>Data set name.</summary>
    public string Dataset { get; init; } = "";

    /// <summary>Label family (CL, RCL, PCL, RL).</summary>
    public string Family { get; init; } = "";

    /// <summary>The corruption in its text form, e.g. <c>sampling(0.1)</c>.</summary>
    public string Condition { get; init; } = "";

    /// <summary>The corruption kind (e.g. Sampling).</summary>
    public string Kind { get; init; } = "";

    /// <summary>The plotting parameter (rate or radius; NaN when none).</summary>
    public double Parameter { get; init; } = double.NaN;

    /// <summary>Seed.</summary>
    public int Seed { get; init; }

    /// <summary>Number of classes.</summary>
    public int ClassCount { get; init; }

    /// <summary>Training steps.</summary>
    public int Steps { get; init; }

    /// <summary>The paper protocol: binary, the best of 50 thresholds (and the inverted map) on the clean validation split;
    /// multi-class [ours], the better of argmax and the label-free rule on the clean validation split.</summary>
    public StudyScores Paper { get; init; } = new();

    /// <summary>Label-free decoding chosen by the trainer from its own outputs on the (noisy) training images.</summary>
    public StudyScores LabelFree { get; init; } = new();

    /// <summary>Fixed decoding: threshold 0.5 (binary) or argmax.</summary>
    public StudyScores Fixed { get; init; } = new();

    /// <summary>Area under the ROC curve of the foreground probability (binary; NaN for multi-class).</summary>
    public double Auc { get; init; } = double.NaN;

    /// <summary>The trainer's report of how the label-free rule was chosen.</summary>
    public string LabelFreeReport { get; init; } = "";

    /// <summary>The noise transition matrix estimated from clean vs corrupted training labels, rows = true class.</summary>
    public IReadOnlyList<IReadOnlyList<double>> NoiseMatrix { get; init; } = [];

    /// <summary>Effective rank of the estimated noise matrix (recoverable classes; see <see cref="StudyOptions.RankTolerance"/>).</summary>
    public int NoiseRank { get; init; }

    /// <summary>Determinant of the estimated noise matrix.</summary>
    public double NoiseDeterminant { get; init; } = double.NaN;

    /// <summary>Mean (over training images) of the mean per-class Pearson correlation between corrupted and clean density maps.</summary>
    public double StructureCorrelation { get; init; } = double.NaN;

    /// <summary>Label-free, paper-protocol and fixed scores against training steps (CL and RCL conditions).</summary>
    public IReadOnlyList<StudyBudgetPoint> Budget { get; init; } = [];

    /// <summary>Image panel path relative to the results folder, or empty.</summary>
    public string Panel { get; init; } = "";

    /// <summary>Wall time of the condition (data already loaded), seconds.</summary>
    public double WallSeconds { get; init; }

    /// <summary>The family as an enum.</summary>
    public StudyFamily FamilyKind => Enum.Parse<StudyFamily>(Family);
}
