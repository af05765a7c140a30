using MLNet.NoisySeg.MetaStructure;
using MLNet.NoisySeg.Noise;
using MLNet.NoisySeg.Pipelines;

namespace Microsoft.ML;

/// <summary>
/// NoisySeg transforms on <c>mlContext.Transforms</c>: label corruption and meta-structure extraction.
/// Before loading a saved model that contains them, call <see cref="RegisterNoisySeg(MLContext)"/> (ML.NET finds
/// custom-mapping components only in registered assemblies).
/// </summary>
public static class NoisySegCatalog
{
    /// <summary>
    /// Registers this library with the context's component catalog so that <c>mlContext.Model.Load</c> can find
    /// its components. Idempotent. Returns the context for chaining.
    /// </summary>
    /// <param name="mlContext">The ML.NET context.</param>
    public static MLContext RegisterNoisySeg(this MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        mlContext.ComponentCatalog.RegisterAssembly(typeof(NoisySegCatalog).Assembly);
        return mlContext;
    }

    /// <summary>
    /// Extracts the meta-structure of a mask column: per-class box-kernel density maps <c>[C, H, W]</c>
    /// (the fraction of pixels of each class in the (2h+1)² window around each pixel).
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">Density column to create.</param>
    /// <param name="inputColumnName">Mask column (byte class indices).</param>
    /// <param name="classCount">Number of classes (2 for binary masks).</param>
    /// <param name="bandwidth">Window half-size h.</param>
    public static MetaStructureEstimator ExtractMetaStructure(this TransformsCatalog catalog, string outputColumnName = "Density",
        string inputColumnName = "Mask", int classCount = 2, int bandwidth = 5)
        => new(catalog, new MetaStructureOptions
        {
            OutputColumnName = outputColumnName,
            InputColumnName = inputColumnName,
            ClassCount = classCount,
            Density = new DensityOptions { Kernel = DensityKernel.Box, Bandwidth = bandwidth },
        });

    /// <summary>Extracts the meta-structure of a mask column with full options (kernel, sigma, border rule).</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="options">The options.</param>
    public static MetaStructureEstimator ExtractMetaStructure(this TransformsCatalog catalog, MetaStructureOptions options)
        => new(catalog, options);

    /// <summary>
    /// Corrupts a mask column into a new column with one of the study's label corruptions, e.g.
    /// <c>LabelNoiseSpec.Sampling(0.1)</c> (keep 10% of the foreground) or <c>LabelNoiseSpec.Flipping(0.45, 0.45)</c>.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="noise">The corruption.</param>
    /// <param name="outputColumnName">Corrupted mask column to create.</param>
    /// <param name="inputColumnName">Clean mask column.</param>
    /// <param name="seed">Seed of the corruption.</param>
    public static LabelNoiseEstimator CorruptLabels(this TransformsCatalog catalog, LabelNoiseSpec noise, string outputColumnName = "NoisyMask",
        string inputColumnName = "Mask", int seed = 0)
        => new(catalog, new LabelNoiseOptions { Noise = noise, OutputColumnName = outputColumnName, InputColumnName = inputColumnName, Seed = seed });

    /// <summary>Corrupts a mask column with full options (identity column, epoch for online noise).</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="options">The options.</param>
    public static LabelNoiseEstimator CorruptLabels(this TransformsCatalog catalog, LabelNoiseOptions options) => new(catalog, options);
}
