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
}

/// <summary>
/// The judgement of one image's given mask (<see cref="LabelQualityModel.Score(ReadOnlySpan{byte}, ReadOnlySpan{float}, int, int, string?, int)"/>).
/// Every score is a label-quality score in [0, 1] as in cleanlab: lower = more likely to hold label errors.
/// </summary>
/// <remarks>Pixel maps are row-major width*height and null when <see cref="LabelQualityOptions.StorePixelMaps"/> is
/// false; the arrays belong to this object. Issue masks hold 1 (flagged), 0, or 255 at ignore pixels.</remarks>
public sealed class ImageLabelQuality
{
    internal ImageLabelQuality(string? id, int index, int width, int height, double softmin, MetaStructureScoreResult meta,
        long scored, long ignored, long disagreements, long confidentIssues,
        float[]? selfConfidence, byte[]? decoded, byte[]? confidentMask, byte[]? structuralMask, float[]? excess)
    {
        Id = id;
        Index = index;
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
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown score kind."),
    };

    /// <inheritdoc />
    public override string ToString()
        => FormattableString.Invariant($"{Id ?? Index.ToString(System.Globalization.CultureInfo.InvariantCulture)}: meta-structure {MetaStructureScore:F4}, softmin {SoftminScore:F4}, confident issues {ConfidentIssueCount}, structural issues {StructuralIssueCount}");
}
