namespace MLNet.NoisySeg.Data;

/// <summary>
/// The default column names of NoisySeg pipelines, as ML.NET's <c>DefaultColumnNames</c>: the folder loader writes
/// <see cref="Image"/>, <see cref="Mask"/>, <see cref="Name"/> and <see cref="ImagePath"/>; every transform, trainer and evaluation defaults to
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

    /// <summary>
    /// The image file's path (text), written by the folder loader; what <c>mlContext.Transforms.LoadSegmentationImage</c>
    /// reads by default, so a saved pipeline can score an image file.
    /// </summary>
    public const string ImagePath = "ImagePath";

    /// <summary>The mask file's path (text); what <c>mlContext.Transforms.ConvertMaskToClassIndices</c> reads when given file paths.</summary>
    public const string MaskPath = "MaskPath";

    /// <summary>Corrupted mask written by <c>CorruptLabels</c>.</summary>
    public const string NoisyMask = "NoisyMask";

    /// <summary>Per-class density maps <c>Vector&lt;Single, C, H, W&gt;</c> written by <c>ExtractMetaStructure</c>.</summary>
    public const string Density = "Density";

    /// <summary>Network output <c>Vector&lt;Single, K, H, W&gt;</c> (K = 1 for binary: the foreground probability).</summary>
    public const string Probability = "Probability";

    /// <summary>The fold of a cross-fitted row (<c>Int32</c>): which of the k models predicted it (<c>CrossFittedSegmentation.ToDataView</c>).</summary>
    public const string Fold = "Fold";

    /// <summary>Decoded (predicted) mask <c>Vector&lt;Byte, H, W&gt;</c>.</summary>
    public const string PredictedMask = "PredictedMask";
}
