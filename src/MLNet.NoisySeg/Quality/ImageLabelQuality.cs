namespace MLNet.NoisySeg.Quality;

/// <summary>The image-level scores a ranking can sort by.</summary>
public enum LabelQualityScoreKind
{
    /// <summary>The noise-aware meta-structure score (<see cref="ImageLabelQuality.MetaStructureScore"/>) [ours].</summary>
    MetaStructure = 0,

    /// <summary>cleanlab's softmin of the per-pixel self-confidence (<see cref="ImageLabelQuality.SoftminScore"/>).</summary>
    Softmin = 1,

    /// <summary>One minus the fraction of scored pixels flagged by confident learning (<see cref="ImageLabelQuality.ConfidentIssueCount"/>).</summary>
    ConfidentIssues = 2,

    /// <summary>The contradiction-outlier score (<see cref="ImageLabelQuality.ContradictionOutlierScore"/>) [ours].</summary>
    ContradictionOutlier = 3,
}

/// <summary>
/// The judgement of one image's given mask (<see cref="LabelQualityModel.Score(ReadOnlySpan{byte}, ReadOnlySpan{float}, int, int, string?, int)"/>).
/// Every score is a label-quality score in [0, 1] as in cleanlab: lower = more likely to hold label errors.
/// </summary>
/// <remarks>Pixel maps are row-major width*height and null when <see cref="LabelQualityOptions.StorePixelMaps"/> is
/// false; the arrays belong to this object. Issue masks hold 1 (flagged), 0, or 255 at ignore pixels.</remarks>
public sealed class ImageLabelQuality
{
    internal ImageLabelQuality(string? id, int index, int? fold, int width, int height, double softmin, MetaStructureScoreResult meta,
        long scored, long ignored, long disagreements, long confidentIssues, double[] contradiction, double contradictionZ, int contradictionStatistic,
        float[]? selfConfidence, byte[]? decoded, byte[]? confidentMask, byte[]? structuralMask, float[]? excess)
    {
        Id = id;
        Index = index;
        Fold = fold;
        int c = contradiction.Length / 2;
        var surplus = new double[c];
        var deficit = new double[c];
        for (int m = 0; m < c; m++) { surplus[m] = contradiction[2 * m]; deficit[m] = contradiction[2 * m + 1]; }
        ClassSurplus = Array.AsReadOnly(surplus);
        ClassDeficit = Array.AsReadOnly(deficit);
        ContradictionZ = contradictionZ;
        ContradictionClass = contradictionStatistic < 0 ? -1 : contradictionStatistic / 2;
        ContradictionDirection = contradictionStatistic < 0 ? ContradictionDirection.None
            : contradictionStatistic % 2 == 0 ? ContradictionDirection.Surplus : ContradictionDirection.Deficit;
        Width = width;
        Height = height;
        SoftminScore = softmin;
        MetaStructure = meta;
        ScoredPixelCount = scored;
        IgnoredPixelCount = ignored;
        DisagreementCount = disagreements;
        ConfidentIssueCount = confidentIssues;
        SelfConfidenceMap = selfConfidence;
        DecodedMask = decoded;
        ConfidentIssueMask = confidentMask;
        StructuralIssueMask = structuralMask;
        StructuralExcessMap = excess;
    }

    /// <summary>The image's name, as given.</summary>
    public string? Id { get; }

    /// <summary>The image's position in the scored data set (-1 when not given).</summary>
    public int Index { get; }

    /// <summary>The fold whose model predicted the image, as given (null: none).</summary>
    public int? Fold { get; }

    /// <summary>Image width.</summary>
    public int Width { get; }

    /// <summary>Image height.</summary>
    public int Height { get; }

    /// <summary>cleanlab's image score: softmin of the per-pixel self-confidence (see <see cref="SelfConfidence"/>); NaN without scored pixels.</summary>
    public double SoftminScore { get; }

    /// <summary>The noise-aware meta-structure score (see <see cref="MetaStructureScorer"/>); NaN without scored pixels.</summary>
    public double MetaStructureScore => MetaStructure.Score;

    /// <summary>Per-class meta-structure scores.</summary>
    public IReadOnlyList<double> ClassMetaStructureScores => MetaStructure.ClassScores;

    /// <summary>The meta-structure comparison in full (per-class excess and mass).</summary>
    public MetaStructureScoreResult MetaStructure { get; }

    /// <summary>
    /// The contradiction-outlier score [ours] (see <see cref="ContradictionCalibration"/>): Φ(-<see cref="ContradictionZ"/>),
    /// 0.5 for an image as typical as the data set's median, towards 0 when one class is labelled too much or too little
    /// where the model is confident, far beyond the data set's spread. NaN when the model is not calibrated or the
    /// image has no scored pixel.
    /// </summary>
    public double ContradictionOutlierScore => ContradictionCalibration.ScoreOf(ContradictionZ);

    /// <summary>The largest robust z-score over the classes' surplus and deficit (NaN as the score).</summary>
    public double ContradictionZ { get; }

    /// <summary>The class whose surplus or deficit gives <see cref="ContradictionZ"/>; -1 when unknown.</summary>
    public int ContradictionClass { get; }

    /// <summary>Whether <see cref="ContradictionClass"/> is labelled too much (surplus) or too little (deficit) for the model.</summary>
    public ContradictionDirection ContradictionDirection { get; }

    /// <summary>Per class m: Σ over pixels labelled m of Σ_{j≠m} max(0, p_j - t_j), per scored pixel (labels the model
    /// confidently contradicts); NaN for the excluded class.</summary>
    public IReadOnlyList<double> ClassSurplus { get; }

    /// <summary>Per class m: Σ over pixels labelled j ≠ m of max(0, p_m - t_m), per scored pixel (confident m left
    /// unlabelled); NaN for the excluded class.</summary>
    public IReadOnlyList<double> ClassDeficit { get; }

    /// <summary>Pixels scored (not ignore).</summary>
    public long ScoredPixelCount { get; }

    /// <summary>Ignore pixels.</summary>
    public long IgnoredPixelCount { get; }

    /// <summary>Scored pixels whose given label differs from the decoded prediction (sparse labels make this large without any error).</summary>
    public long DisagreementCount { get; }

    /// <summary>Pixels flagged by the confident-learning rule (<see cref="LabelQualityOptions.IssueRule"/>).</summary>
    public long ConfidentIssueCount { get; }

    /// <summary>Pixels flagged as structural issues by the meta-structure comparison.</summary>
    public long StructuralIssueCount => MetaStructure.StructuralIssueCount;

    /// <summary>Per-pixel self-confidence p_label (NaN at ignore pixels): cleanlab's pixel scores.</summary>
    public float[]? SelfConfidenceMap { get; }

    /// <summary>The decoded prediction (255 at ignore pixels).</summary>
    public byte[]? DecodedMask { get; }

    /// <summary>Pixels flagged by confident learning.</summary>
    public byte[]? ConfidentIssueMask { get; }

    /// <summary>Pixels flagged as structural issues (given label in excess, or predicted class in deficit, beyond noise).</summary>
    public byte[]? StructuralIssueMask { get; }

    /// <summary>Per pixel, the largest significant density residual over the classes, max(0, |r_m| - z·σ_m - δ_m)
    /// (density units; 0 where the meta-structure agrees within noise and tolerance): a heat map of structural problems.</summary>
    public float[]? StructuralExcessMap { get; }

    /// <summary>The score of the given kind (label-quality orientation: lower = more suspicious).</summary>
    /// <param name="kind">Which score.</param>
    public double GetScore(LabelQualityScoreKind kind) => kind switch
    {
        LabelQualityScoreKind.MetaStructure => MetaStructureScore,
        LabelQualityScoreKind.Softmin => SoftminScore,
        LabelQualityScoreKind.ConfidentIssues => ScoredPixelCount == 0 ? double.NaN : 1.0 - (double)ConfidentIssueCount / ScoredPixelCount,
        LabelQualityScoreKind.ContradictionOutlier => ContradictionOutlierScore,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown score kind."),
    };

    /// <summary>
    /// The sort key of a ranking by <paramref name="kind"/>, lower = more suspicious: the score itself, except for the
    /// contradiction outlier, whose key is -<see cref="ContradictionZ"/> (the same order as its score, which reaches 0 in
    /// double precision beyond z ≈ 38 while z keeps strong outliers apart).
    /// </summary>
    /// <param name="kind">Which score.</param>
    public double GetRankingKey(LabelQualityScoreKind kind) => kind == LabelQualityScoreKind.ContradictionOutlier ? -ContradictionZ : GetScore(kind);

    /// <inheritdoc />
    public override string ToString()
        => FormattableString.Invariant($"{Id ?? Index.ToString(System.Globalization.CultureInfo.InvariantCulture)}: contradiction outlier {ContradictionOutlierScore:F4} (z {ContradictionZ:F2}), meta-structure {MetaStructureScore:F4}, softmin {SoftminScore:F4}, confident issues {ConfidentIssueCount}, structural issues {StructuralIssueCount}");
}
