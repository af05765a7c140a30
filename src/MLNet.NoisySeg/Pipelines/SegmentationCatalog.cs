using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Evaluation;
using MLNet.NoisySeg.Pipelines;
using MLNet.NoisySeg.Unsupervised;

namespace Microsoft.ML;

/// <summary>NoisySeg on <see cref="MLContext"/>: <c>mlContext.Segmentation()</c> and <c>mlContext.RegisterNoisySeg()</c>.</summary>
public static class SegmentationMLContextExtensions
{
    /// <summary>The segmentation catalog of this context (trainers and evaluation).</summary>
    /// <param name="mlContext">The ML.NET context.</param>
    public static SegmentationCatalog Segmentation(this MLContext mlContext) => new(mlContext ?? throw new ArgumentNullException(nameof(mlContext)));

    /// <summary>
    /// Registers this library with the context's component catalog so that <c>mlContext.Model.Load</c> can find
    /// its components (ML.NET finds custom-mapping components only in registered assemblies). Idempotent. Returns the
    /// context for chaining.
    /// </summary>
    /// <param name="mlContext">The ML.NET context.</param>
    public static MLContext RegisterNoisySeg(this MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        mlContext.ComponentCatalog.RegisterAssembly(typeof(SegmentationCatalog).Assembly);
        return mlContext;
    }
}

/// <summary>Segmentation trainers and evaluation, in the style of ML.NET's task catalogs: <c>mlContext.Segmentation()</c>.</summary>
public sealed class SegmentationCatalog
{
    internal SegmentationCatalog(MLContext mlContext) => Trainers = new SegmentationTrainers(mlContext);

    /// <summary>Segmentation trainers.</summary>
    public SegmentationTrainers Trainers { get; }

    /// <summary>
    /// Pixel-level binary metrics over the data set (IoU, Dice, accuracy, sensitivity, specificity, precision, AUC) plus
    /// per-image means. Pixels whose true label is 255 are ignored. The data set is read once.
    /// </summary>
    /// <param name="data">Scored data.</param>
    /// <param name="labelColumnName">Clean mask column (0/1, 255 = ignore).</param>
    /// <param name="predictedLabelColumnName">Predicted mask column.</param>
    /// <param name="probabilityColumnName">Foreground probability (or any score, higher = foreground) column for AUC
    /// (<c>[1, H, W]</c> or <c>[H, W]</c>); null to skip AUC. When it is the default name and the data has no such column
    /// (e.g. a threshold baseline's output), AUC is skipped (NaN); a name given explicitly must exist.</param>
    public BinarySegmentationMetrics EvaluateBinary(IDataView data, string labelColumnName = SegmentationColumnNames.Mask,
        string predictedLabelColumnName = SegmentationColumnNames.PredictedMask, string? probabilityColumnName = SegmentationColumnNames.Probability)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (probabilityColumnName == SegmentationColumnNames.Probability && data.Schema.GetColumnOrNull(probabilityColumnName) is null)
            probabilityColumnName = null;
        return BinarySegmentationEvaluator.Evaluate(ScoredRows.Read(data, labelColumnName, predictedLabelColumnName, probabilityColumnName));
    }

    /// <summary>Multi-class metrics: pixel accuracy, mean IoU, per-class IoU and Dice, confusion matrix; 255 is ignored. The data set is read once.</summary>
    /// <param name="data">Scored data.</param>
    /// <param name="classCount">Number of classes.</param>
    /// <param name="labelColumnName">Clean mask column.</param>
    /// <param name="predictedLabelColumnName">Predicted mask column.</param>
    public MulticlassSegmentationMetrics EvaluateMulticlass(IDataView data, int classCount, string labelColumnName = SegmentationColumnNames.Mask,
        string predictedLabelColumnName = SegmentationColumnNames.PredictedMask)
        => MulticlassSegmentationEvaluator.Evaluate(ScoredRows.Read(data, labelColumnName, predictedLabelColumnName, null), classCount);

    /// <summary>Segmentation trainers: <c>mlContext.Segmentation().Trainers</c>. Both use <c>MLContext.GpuDeviceId</c>/<c>FallbackToCpu</c> when their options name no device.</summary>
    public sealed class SegmentationTrainers
    {
        private readonly MLContext _mlContext;

        internal SegmentationTrainers(MLContext mlContext) => _mlContext = mlContext;

        /// <summary>
        /// A U-Net (depth 4, base width 16) trained with TorchSharp on an image column and a (possibly noisy) mask column;
        /// the input channel count is taken from the image column at Fit.
        /// </summary>
        /// <param name="imageColumnName">Image column <c>[C, H, W]</c>.</param>
        /// <param name="labelColumnName">Mask column <c>[H, W]</c>.</param>
        /// <param name="classCount">Number of classes (2 = binary).</param>
        /// <param name="epochs">Training epochs.</param>
        /// <param name="decoding">How outputs become masks.</param>
        public UNetSegmentationTrainer UNet(string imageColumnName = SegmentationColumnNames.Image, string labelColumnName = SegmentationColumnNames.Mask,
            int classCount = 2, int epochs = 10, SegmentationDecoding decoding = SegmentationDecoding.LabelFree)
            => new(_mlContext, UNetSegmentationTrainerOptions.Simple(imageColumnName, labelColumnName, classCount, epochs, decoding));

        /// <summary>
        /// A U-Net trainer with full options. What the simple overload infers is inferred here too when left at its default:
        /// the network's input channels (from the image column), its output channels and the loss (from ClassCount); see
        /// <see cref="UNetSegmentationTrainerOptions.Resolve"/>.
        /// </summary>
        /// <param name="options">The options.</param>
        public UNetSegmentationTrainer UNet(UNetSegmentationTrainerOptions options) => new(_mlContext, options);

        /// <summary>
        /// iGTT + EMS (Luo et al., AAAI 2022) on an image column only: a U-Net (<paramref name="depth"/>,
        /// <paramref name="baseWidth"/>) trained for <paramref name="rounds"/> rounds on its own DMI-selected,
        /// meta-structure-extracted pseudo-labels. The input channel count is taken from the image column at Fit.
        /// Probability is the foreground probability of the structure found; see
        /// <see cref="UnsupervisedSegmentationTrainer.LastOrientation"/> for the side it chose and why.
        /// </summary>
        /// <param name="imageColumnName">Image column <c>[C, H, W]</c>.</param>
        /// <param name="rounds">iGTT rounds.</param>
        /// <param name="epochsPerRound">Training epochs per round.</param>
        /// <param name="useMetaStructureExtraction">Apply EMS to the pseudo-labels (the paper's best variant).</param>
        /// <param name="seed">Seed of initialisation, batch order, augmentation and EMS.</param>
        /// <param name="depth">U-Net depth (2x down-samplings), 1-8.</param>
        /// <param name="baseWidth">U-Net channels at full resolution (doubled per level).</param>
        /// <param name="polarity">Which side of the intensity the structure is on, when known (Auto: the minority class).</param>
        public UnsupervisedSegmentationTrainer Unsupervised(string imageColumnName = SegmentationColumnNames.Image, int rounds = 5, int epochsPerRound = 5,
            bool useMetaStructureExtraction = true, int seed = 0, int depth = 4, int baseWidth = 16, ForegroundPolarity polarity = ForegroundPolarity.Auto)
            => new(_mlContext, UnsupervisedSegmentationTrainerOptions.Simple(imageColumnName, rounds, epochsPerRound, useMetaStructureExtraction, seed, depth, baseWidth, polarity), inferInputChannels: true);

        /// <summary>iGTT with full options.</summary>
        /// <param name="options">The options.</param>
        public UnsupervisedSegmentationTrainer Unsupervised(UnsupervisedSegmentationTrainerOptions options) => new(_mlContext, options);
    }
}
