namespace MLNet.NoisySeg.Data;

/// <summary>
/// The output columns of the label-quality transform (<c>mlContext.Transforms.ScoreLabelQuality</c>), as
/// <see cref="SegmentationColumnNames"/> are of the other components. Image scores are label-quality scores in [0, 1]:
/// lower = more likely to hold label errors. Pixel columns are <c>[H, W]</c>.
/// </summary>
public static class LabelQualityColumnNames
{
    /// <summary>Noise-aware meta-structure score of the image (<c>Double</c>) [ours].</summary>
    public const string MetaStructureScore = "MetaStructureScore";

    /// <summary>Per-class meta-structure scores (<c>Vector&lt;Double, C&gt;</c>).</summary>
    public const string ClassMetaStructureScores = "ClassMetaStructureScores";

    /// <summary>Contradiction-outlier score of the image (<c>Double</c>) [ours]: Φ(-z) of the largest robust z over the
    /// classes' surplus and deficit of confidently contradicted labels, against the data set's spread.</summary>
    public const string ContradictionOutlierScore = "ContradictionOutlierScore";

    /// <summary>The z behind <see cref="ContradictionOutlierScore"/> (<c>Double</c>; higher = more suspicious).</summary>
    public const string ContradictionZ = "ContradictionZ";

    /// <summary>cleanlab's softmin image score of the per-pixel self-confidence (<c>Double</c>) [baseline].</summary>
    public const string SoftminScore = "SoftminScore";

    /// <summary>Pixels flagged by the meta-structure comparison (<c>Int64</c>).</summary>
    public const string StructuralIssueCount = "StructuralIssueCount";

    /// <summary>Pixels flagged by confident learning (<c>Int64</c>).</summary>
    public const string ConfidentIssueCount = "ConfidentIssueCount";

    /// <summary>Structural pixel flags (<c>Vector&lt;Byte, H, W&gt;</c>: 1 flagged, 0 not, 255 ignore) [ours].</summary>
    public const string StructuralIssues = "StructuralIssues";

    /// <summary>Confident-learning pixel flags (<c>Vector&lt;Byte, H, W&gt;</c>: 1 flagged, 0 not, 255 ignore) [baseline].</summary>
    public const string ConfidentIssues = "ConfidentIssues";

    /// <summary>The decoded prediction the given mask is compared with (<c>Vector&lt;Byte, H, W&gt;</c>, 255 at ignore pixels).</summary>
    public const string DecodedMask = "DecodedMask";

    /// <summary>Per-pixel self-confidence p_label, cleanlab's pixel score (<c>Vector&lt;Single, H, W&gt;</c>, NaN at ignore pixels).</summary>
    public const string SelfConfidence = "SelfConfidence";

    /// <summary>Per-pixel significant density residual, a heat map of structural problems (<c>Vector&lt;Single, H, W&gt;</c>).</summary>
    public const string StructuralExcess = "StructuralExcess";
}
