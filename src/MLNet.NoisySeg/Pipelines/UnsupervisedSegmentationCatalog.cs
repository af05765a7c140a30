using MLNet.NoisySeg.Losses;
using MLNet.NoisySeg.Networks;
using MLNet.NoisySeg.Pipelines;
using MLNet.NoisySeg.Training;
using MLNet.NoisySeg.Unsupervised;

namespace Microsoft.ML;

/// <summary>Unsupervised segmentation trainers: <c>mlContext.Segmentation().Trainers.Unsupervised(...)</c>.</summary>
public static class UnsupervisedSegmentationCatalog
{
    /// <summary>
    /// iGTT + EMS (method.md §6) on an image column only: a U-Net (depth 4, base width 16) trained for
    /// <paramref name="rounds"/> rounds on its own DMI-selected, meta-structure-extracted pseudo-labels. The input
    /// channel count is taken from the image column at Fit.
    /// </summary>
    /// <param name="trainers">The segmentation trainers.</param>
    /// <param name="imageColumnName">Image column <c>[C, H, W]</c>.</param>
    /// <param name="rounds">iGTT rounds.</param>
    /// <param name="epochsPerRound">Training epochs per round.</param>
    /// <param name="useMetaStructureExtraction">Apply EMS to the pseudo-labels (the paper's best variant).</param>
    /// <param name="seed">Seed of initialisation, batch order, augmentation and EMS.</param>
    public static UnsupervisedSegmentationTrainer Unsupervised(this SegmentationTrainers trainers, string imageColumnName = "Image",
        int rounds = 5, int epochsPerRound = 5, bool useMetaStructureExtraction = true, int seed = 0)
    {
        var trainer = Unsupervised(trainers, new UnsupervisedSegmentationTrainerOptions
        {
            ImageColumnName = imageColumnName,
            Igtt = new IgttOptions
            {
                Rounds = rounds,
                EpochsPerRound = epochsPerRound,
                UseMetaStructureExtraction = useMetaStructureExtraction,
                Trainer = new SegmentationTrainerOptions { Network = new UNetOptions(), Loss = LossKind.DmiSoftIoU, Seed = seed },
            },
        });
        trainer.InferInputChannels = true;
        return trainer;
    }

    /// <summary>iGTT with full options. Uses <c>MLContext.GpuDeviceId</c>/<c>FallbackToCpu</c> when the options name no device.</summary>
    /// <param name="trainers">The segmentation trainers.</param>
    /// <param name="options">The options.</param>
    public static UnsupervisedSegmentationTrainer Unsupervised(this SegmentationTrainers trainers, UnsupervisedSegmentationTrainerOptions options)
    {
        ArgumentNullException.ThrowIfNull(trainers);
        ArgumentNullException.ThrowIfNull(options);
        var ml = trainers.Context;
        var t = options.Igtt?.Trainer;
        if (t is not null && t.GpuDeviceId is null && ml.GpuDeviceId is int gpu)
            options = options.WithIgtt(options.Igtt! with { Trainer = t with { GpuDeviceId = gpu, FallbackToCpu = ml.FallbackToCpu } });
        return new UnsupervisedSegmentationTrainer(ml.Transforms, options);
    }
}
