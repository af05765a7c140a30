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
    /// <param name="polarity">Bright (fluorescence) or dark (e.g. EM membranes) structures.</param>
    public static ThresholdEstimator OtsuThreshold(this TransformsCatalog catalog, string outputColumnName = SegmentationColumnNames.PredictedMask,
        string inputColumnName = SegmentationColumnNames.Image, ThresholdPolarity polarity = ThresholdPolarity.Bright)
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
    /// <param name="polarity">Bright or dark structures.</param>
    public static ThresholdEstimator AdaptiveThreshold(this TransformsCatalog catalog, string outputColumnName = SegmentationColumnNames.PredictedMask,
        string inputColumnName = SegmentationColumnNames.Image, double sigma = ThresholdBaselines.DefaultSigma, double offset = 0, ThresholdPolarity polarity = ThresholdPolarity.Bright)
        => new(catalog, new AdaptiveThresholdOptions { OutputColumnName = outputColumnName, InputColumnName = inputColumnName, Sigma = sigma, Offset = offset, Polarity = polarity });

    /// <summary>Adaptive threshold, with options.</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="options">The options.</param>
    public static ThresholdEstimator AdaptiveThreshold(this TransformsCatalog catalog, AdaptiveThresholdOptions options) => new(catalog, options);
}
