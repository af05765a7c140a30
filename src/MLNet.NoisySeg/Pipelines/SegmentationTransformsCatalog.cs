using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.MetaStructure;
using MLNet.NoisySeg.Noise;
using MLNet.NoisySeg.Pipelines;
using MLNet.NoisySeg.Unsupervised;

namespace Microsoft.ML;

/// <summary>
/// NoisySeg transforms on <c>mlContext.Transforms</c>: label corruption, meta-structure extraction and the classic
/// threshold baselines. Each has a simple overload (columns and the knobs that matter) and an options overload.
/// Before loading a saved model that contains them, call <c>mlContext.RegisterNoisySeg()</c>.
/// </summary>
public static class SegmentationTransformsCatalog
{
    /// <summary>
    /// Loads image files into the planar float image column NoisySeg models read, as the folder loader does (PNG, JPEG,
    /// BMP; gray or RGB; optional bilinear resize; per-image z-score). At the head of a pipeline it is saved with the model,
    /// so the loaded model scores an image file path: no preprocessing to repeat by hand. With the folder loader's data use
    /// <c>LoadSegmentationImage(SegmentationImageOptions.From(folderOptions))</c>: it reads the loader's ImagePath column.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">Image column to create <c>[C, H, W]</c>.</param>
    /// <param name="inputColumnName">Text column of image file paths.</param>
    /// <param name="imageFolder">Folder relative paths are resolved against; null = as given.</param>
    /// <param name="width">Resize every image to this width (with <paramref name="height"/>); null keeps the size.</param>
    /// <param name="height">Resize every image to this height.</param>
    public static SegmentationImageEstimator LoadSegmentationImage(this TransformsCatalog catalog, string outputColumnName = SegmentationColumnNames.Image,
        string inputColumnName = SegmentationColumnNames.ImagePath, string? imageFolder = null, int? width = null, int? height = null)
        => new(catalog, new SegmentationImageOptions { OutputColumnName = outputColumnName, InputColumnName = inputColumnName, ImageFolder = imageFolder, Width = width, Height = height });

    /// <summary>Loads image files (or prepares any image column) with full options (channels, scaling, size limits).</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="options">The options.</param>
    public static SegmentationImageEstimator LoadSegmentationImage(this TransformsCatalog catalog, SegmentationImageOptions options) => new(catalog, options);

    /// <summary>
    /// Turns an ImageAnalytics image column into the planar float image column NoisySeg models read: an <see cref="Microsoft.ML.Data.MLImage"/>
    /// (LoadImages, ResizeImages) or a pixel vector (ExtractPixels; planar <c>[C, H, W]</c> or interleaved <c>[H, W, C]</c>, float or
    /// byte), with an optional bilinear resize and the per-image z-score (the paper's). Saved with the model.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">Image column to create <c>[C, H, W]</c>.</param>
    /// <param name="inputColumnName">The MLImage or pixel-vector column.</param>
    /// <param name="scaling">Per-image z-score (default), 8-bit values / 255, or none.</param>
    public static SegmentationImageEstimator NormalizeSegmentationImage(this TransformsCatalog catalog, string outputColumnName = SegmentationColumnNames.Image,
        string inputColumnName = SegmentationColumnNames.Image, ImageScaling scaling = ImageScaling.ZScore)
        => new(catalog, new SegmentationImageOptions { OutputColumnName = outputColumnName, InputColumnName = inputColumnName, Scaling = scaling });

    /// <summary>Prepares an image column with full options (channels, resize, scaling, the shape of vectors without dimensions).</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="options">The options.</param>
    public static SegmentationImageEstimator NormalizeSegmentationImage(this TransformsCatalog catalog, SegmentationImageOptions options) => new(catalog, options);

    /// <summary>
    /// Converts a mask column into class indices <c>[H, W]</c> (255 = ignore), as the folder loader converts mask files:
    /// binary masks (pixels equal to <paramref name="foregroundValue"/> are class 1), gray-level class indices or RGB
    /// palettes (options overload). Reads mask file paths, an <see cref="Microsoft.ML.Data.MLImage"/> column (LoadImages) or
    /// ExtractPixels vectors. A training-only step: a saved model scores images without a mask column.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">Class-index mask column to create.</param>
    /// <param name="inputColumnName">Mask file paths, MLImage or pixel-vector column.</param>
    /// <param name="foregroundValue">Gray value of the foreground (ISBI 2012: 0).</param>
    /// <param name="threshold">When set, foreground is every gray value on the foreground's side of it (for masks blended by a resize); null = exactly <paramref name="foregroundValue"/>.</param>
    public static MaskConversionEstimator ConvertMaskToClassIndices(this TransformsCatalog catalog, string outputColumnName = SegmentationColumnNames.Mask,
        string inputColumnName = SegmentationColumnNames.MaskPath, int foregroundValue = 255, double? threshold = null)
        => new(catalog, new MaskConversionOptions { OutputColumnName = outputColumnName, InputColumnName = inputColumnName, ForegroundValue = foregroundValue, Threshold = threshold });

    /// <summary>Converts a mask column into class indices with full options (class-index and gray-value maps, palettes, ignore value, resize).</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="options">The options.</param>
    public static MaskConversionEstimator ConvertMaskToClassIndices(this TransformsCatalog catalog, MaskConversionOptions options) => new(catalog, options);

    /// <summary>
    /// Corrupts a mask column into a new column with one of the study's label corruptions, e.g.
    /// <c>LabelNoiseSpec.Sampling(0.1)</c> (keep 10% of the foreground) or <c>LabelNoiseSpec.Flipping(0.45, 0.45)</c>.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="noise">The corruption.</param>
    /// <param name="outputColumnName">Corrupted mask column to create.</param>
    /// <param name="inputColumnName">Clean mask column.</param>
    /// <param name="seed">Seed of the corruption.</param>
    public static LabelNoiseEstimator CorruptLabels(this TransformsCatalog catalog, LabelNoiseSpec noise, string outputColumnName = SegmentationColumnNames.NoisyMask,
        string inputColumnName = SegmentationColumnNames.Mask, int seed = 0)
        => new(catalog, new LabelNoiseOptions { Noise = noise, OutputColumnName = outputColumnName, InputColumnName = inputColumnName, Seed = seed });

    /// <summary>Corrupts a mask column with full options (identity column, epoch for online noise).</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="options">The options.</param>
    public static LabelNoiseEstimator CorruptLabels(this TransformsCatalog catalog, LabelNoiseOptions options) => new(catalog, options);

    /// <summary>
    /// Extracts the meta-structure of a mask column: per-class box-kernel density maps <c>[C, H, W]</c>
    /// (the fraction of pixels of each class in the (2h+1)² window around each pixel).
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">Density column to create.</param>
    /// <param name="inputColumnName">Mask column (byte class indices).</param>
    /// <param name="classCount">Number of classes (2 for binary masks).</param>
    /// <param name="bandwidth">Window half-size h.</param>
    public static MetaStructureEstimator ExtractMetaStructure(this TransformsCatalog catalog, string outputColumnName = SegmentationColumnNames.Density,
        string inputColumnName = SegmentationColumnNames.Mask, int classCount = 2, int bandwidth = 5)
        => new(catalog, new MetaStructureOptions
        {
            OutputColumnName = outputColumnName, InputColumnName = inputColumnName, ClassCount = classCount,
            Density = new DensityOptions { Kernel = DensityKernel.Box, Bandwidth = bandwidth },
        });

    /// <summary>Extracts the meta-structure of a mask column with full options (kernel, sigma, border rule).</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="options">The options.</param>
    public static MetaStructureEstimator ExtractMetaStructure(this TransformsCatalog catalog, MetaStructureOptions options) => new(catalog, options);

    /// <summary>Otsu's global threshold per image: a predicted-mask column <c>[H, W]</c> from an image column.</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">Mask column to create.</param>
    /// <param name="inputColumnName">Image column <c>[C, H, W]</c>.</param>
    /// <param name="polarity">Bright (fluorescence) or dark (e.g. EM membranes) structures; Auto (default) decides at Fit:
    /// the side of the threshold with fewer pixels over the training images is the structure.</param>
    public static ThresholdEstimator OtsuThreshold(this TransformsCatalog catalog, string outputColumnName = SegmentationColumnNames.PredictedMask,
        string inputColumnName = SegmentationColumnNames.Image, ThresholdPolarity polarity = ThresholdPolarity.Auto)
        => new(catalog, new OtsuThresholdOptions { OutputColumnName = outputColumnName, InputColumnName = inputColumnName, Polarity = polarity });

    /// <summary>Otsu's global threshold per image, with options.</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="options">The options.</param>
    public static ThresholdEstimator OtsuThreshold(this TransformsCatalog catalog, OtsuThresholdOptions options) => new(catalog, options);

    /// <summary>Adaptive threshold against the local Gaussian-weighted mean: a predicted-mask column from an image column.</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">Mask column to create.</param>
    /// <param name="inputColumnName">Image column <c>[C, H, W]</c>.</param>
    /// <param name="sigma">Gaussian sigma of the local mean, in pixels.</param>
    /// <param name="offset">Subtracted from the local mean, in image units.</param>
    /// <param name="polarity">Bright or dark structures; Auto (default) decides at Fit as <see cref="OtsuThreshold(TransformsCatalog, string, string, ThresholdPolarity)"/> does.</param>
    public static ThresholdEstimator AdaptiveThreshold(this TransformsCatalog catalog, string outputColumnName = SegmentationColumnNames.PredictedMask,
        string inputColumnName = SegmentationColumnNames.Image, double sigma = ThresholdBaselines.DefaultSigma, double offset = 0, ThresholdPolarity polarity = ThresholdPolarity.Auto)
        => new(catalog, new AdaptiveThresholdOptions { OutputColumnName = outputColumnName, InputColumnName = inputColumnName, Sigma = sigma, Offset = offset, Polarity = polarity });

    /// <summary>Adaptive threshold, with options.</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="options">The options.</param>
    public static ThresholdEstimator AdaptiveThreshold(this TransformsCatalog catalog, AdaptiveThresholdOptions options) => new(catalog, options);
}
