namespace MLNet.NoisySeg.Data;

/// <summary>
/// The default column names of NoisySeg pipelines, as ML.NET's <c>DefaultColumnNames</c>: the folder loader writes
/// <see cref="Image"/>, <see cref="Mask"/> and <see cref="Name"/>; every transform, trainer and evaluation defaults to
/// these names, so a pipeline needs no column name unless it departs from them.
/// </summary>
public static class SegmentationColumnNames
{
    /// <summary>Planar float image <c>Vector&lt;Single, C, H, W&gt;</c>.</summary>
    public const string Image = "Image";

    /// <summary>Clean class-index mask <c>Vector&lt;Byte, H, W&gt;</c> (255 = ignore).</summary>
    public const string Mask = "Mask";

    /// <summary>Image identity (file name): keys every per-image random stream.</summary>
    public const string Name = "Name";

    /// <summary>Corrupted mask written by <c>CorruptLabels</c>.</summary>
    public const string NoisyMask = "NoisyMask";

    /// <summary>Per-class density maps <c>Vector&lt;Single, C, H, W&gt;</c> written by <c>ExtractMetaStructure</c>.</summary>
    public const string Density = "Density";

    /// <summary>Network output <c>Vector&lt;Single, K, H, W&gt;</c> (K = 1 for binary: the foreground probability).</summary>
    public const string Probability = "Probability";

    /// <summary>Decoded (predicted) mask <c>Vector&lt;Byte, H, W&gt;</c>.</summary>
    public const string PredictedMask = "PredictedMask";
}
