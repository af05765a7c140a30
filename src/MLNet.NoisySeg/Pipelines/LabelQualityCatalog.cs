using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Pipelines;

namespace Microsoft.ML;

/// <summary>
/// Finding bad labels (issue 15) on the ML.NET catalogs: <c>mlContext.Segmentation().CrossFitProbabilities</c> produces
/// out-of-sample probabilities by k-fold cross-fitting, and <c>mlContext.Transforms.ScoreLabelQuality</c> scores every
/// image and pixel with them (docs/label-quality.md). Before loading a saved model that contains the transform, call
/// <c>mlContext.RegisterNoisySeg()</c>.
/// </summary>
public static class LabelQualityCatalog
{
    /// <summary>
    /// Scores the given masks against out-of-sample probabilities: cleanlab's softmin score (baseline), the noise-aware
    /// meta-structure score per image and per class, the contradiction-outlier score, issue counts and flagged-pixel
    /// masks (<see cref="LabelQualityColumnNames"/>). Lower scores = more suspicious. Default scoring options; binary
    /// outputs are decoded label-free.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="maskColumnName">The given mask column <c>[H, W]</c>.</param>
    /// <param name="probabilityColumnName">Out-of-sample probabilities <c>[K, H, W]</c> (K = 1 for a binary sigmoid).</param>
    /// <param name="classCount">Number of classes of the masks (2 = binary).</param>
    /// <param name="foldColumnName">The <c>Int32</c> column naming the cross-fitted model of each row (e.g.
    /// <see cref="SegmentationColumnNames.Fold"/> of <see cref="CrossFittedSegmentation.ToDataView"/>), or null: see
    /// <see cref="LabelQualityScoringOptions.FoldColumnName"/>.</param>
    public static LabelQualityEstimator ScoreLabelQuality(this TransformsCatalog catalog, string maskColumnName = SegmentationColumnNames.Mask,
        string probabilityColumnName = SegmentationColumnNames.Probability, int classCount = 2, string? foldColumnName = null)
        => new(catalog, new LabelQualityScoringOptions
        {
            MaskColumnName = maskColumnName, ProbabilityColumnName = probabilityColumnName, ClassCount = classCount, FoldColumnName = foldColumnName,
        });

    /// <summary>Scores label quality with full options (<see cref="LabelQualityScoringOptions.Quality"/> wraps <c>LabelQualityOptions</c>).</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="options">The options.</param>
    public static LabelQualityEstimator ScoreLabelQuality(this TransformsCatalog catalog, LabelQualityScoringOptions options) => new(catalog, options);

    /// <summary>
    /// k-fold cross-fitting with the U-Net trainer: trains a model on every k−1 folds of <paramref name="data"/> (folds by
    /// seed and image name) so that each image's probabilities come from a model that did not train on it. Read them with
    /// <see cref="CrossFittedSegmentation.ToDataView"/> or <see cref="CrossFittedSegmentation.Predictions"/>; dispose the result.
    /// </summary>
    /// <param name="catalog">The segmentation catalog.</param>
    /// <param name="data">Images and their given masks (read once into memory).</param>
    /// <param name="options">Folds, classes, training, progress and cancellation.</param>
    public static CrossFittedSegmentation CrossFitProbabilities(this SegmentationCatalog catalog, IDataView data, CrossFitOptions options)
        => CrossFitting.Fit(SegmentationDataView.ReadItems(data, (options ?? throw new ArgumentNullException(nameof(options))).ImageColumnName, options.LabelColumnName, options.NameColumnName), options);
}
