using Microsoft.ML.Data;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Evaluation;
using MLNet.NoisySeg.Networks;
using MLNet.NoisySeg.Pipelines;
using MLNet.NoisySeg.Training;

namespace Microsoft.ML;

/// <summary>Entry point of segmentation components: <c>mlContext.Segmentation()</c>.</summary>
public static class SegmentationMLContextExtensions
{
    /// <summary>The segmentation catalog of this context (trainers and evaluation).</summary>
    /// <param name="mlContext">The ML.NET context.</param>
    public static SegmentationCatalog Segmentation(this MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        return new SegmentationCatalog(mlContext);
    }
}

/// <summary>Segmentation trainers and evaluation, in the style of ML.NET's task catalogs.</summary>
public sealed class SegmentationCatalog
{
    internal SegmentationCatalog(MLContext mlContext)
    {
        Context = mlContext;
        Trainers = new SegmentationTrainers(mlContext);
    }

    internal MLContext Context { get; }

    /// <summary>Segmentation trainers.</summary>
    public SegmentationTrainers Trainers { get; }

    /// <summary>
    /// Pixel-level binary metrics over the data set (IoU, Dice, accuracy, sensitivity, specificity, precision, AUC) plus
    /// per-image means. Pixels whose true label is 255 are ignored.
    /// </summary>
    /// <param name="data">Scored data.</param>
    /// <param name="labelColumnName">Clean mask column (0/1, 255 = ignore).</param>
    /// <param name="predictedLabelColumnName">Predicted mask column.</param>
    /// <param name="probabilityColumnName">Foreground probability column for AUC (<c>[1, H, W]</c> or <c>[H, W]</c>); null to skip AUC.</param>
    public BinarySegmentationMetrics EvaluateBinary(IDataView data, string labelColumnName = "Mask",
        string predictedLabelColumnName = "PredictedMask", string? probabilityColumnName = "Probability")
    {
        ArgumentNullException.ThrowIfNull(data);
        var label = SchemaChecks.RequireVector(data.Schema, labelColumnName, NumberDataViewType.Byte, "label");
        var pred = SchemaChecks.RequireVector(data.Schema, predictedLabelColumnName, NumberDataViewType.Byte, "predicted label");
        DataViewSchema.Column? prob = probabilityColumnName is null ? null : SchemaChecks.RequireVector(data.Schema, probabilityColumnName, NumberDataViewType.Single, "probability");
        var evaluator = new BinarySegmentationEvaluator();
        var cols = new List<DataViewSchema.Column> { label, pred };
        if (prob is { } pc) cols.Add(pc);
        using var cursor = data.GetRowCursor(cols);
        var lg = cursor.GetGetter<VBuffer<byte>>(label);
        var pg = cursor.GetGetter<VBuffer<byte>>(pred);
        var prg = prob is { } p2 ? cursor.GetGetter<VBuffer<float>>(p2) : null;
        VBuffer<byte> l = default, pr = default;
        VBuffer<float> pb = default;
        long row = 0;
        while (cursor.MoveNext())
        {
            lg(ref l);
            pg(ref pr);
            var truth = l.DenseValues().ToArray();
            var predicted = pr.DenseValues().ToArray();
            if (truth.Length != predicted.Length)
                throw new ArgumentException($"Row {row}: '{labelColumnName}' has {truth.Length} pixels but '{predictedLabelColumnName}' has {predicted.Length}.", nameof(data));
            if (prg is not null)
            {
                prg(ref pb);
                var probability = pb.DenseValues().ToArray();
                if (probability.Length != truth.Length)
                    throw new ArgumentException($"Row {row}: '{probabilityColumnName}' has {probability.Length} values; expected one foreground probability per pixel ({truth.Length}).", nameof(data));
                evaluator.Add(truth, predicted, probability);
            }
            else
            {
                evaluator.Add(truth, predicted);
            }
            row++;
        }
        return evaluator.GetMetrics();
    }

    /// <summary>Multi-class metrics: pixel accuracy, mean IoU, per-class IoU and Dice, confusion matrix; 255 is ignored.</summary>
    /// <param name="data">Scored data.</param>
    /// <param name="classCount">Number of classes.</param>
    /// <param name="labelColumnName">Clean mask column.</param>
    /// <param name="predictedLabelColumnName">Predicted mask column.</param>
    public MulticlassSegmentationMetrics EvaluateMulticlass(IDataView data, int classCount, string labelColumnName = "Mask", string predictedLabelColumnName = "PredictedMask")
    {
        ArgumentNullException.ThrowIfNull(data);
        var label = SchemaChecks.RequireVector(data.Schema, labelColumnName, NumberDataViewType.Byte, "label");
        var pred = SchemaChecks.RequireVector(data.Schema, predictedLabelColumnName, NumberDataViewType.Byte, "predicted label");
        var evaluator = new MulticlassSegmentationEvaluator(classCount);
        using var cursor = data.GetRowCursor(new[] { label, pred });
        var lg = cursor.GetGetter<VBuffer<byte>>(label);
        var pg = cursor.GetGetter<VBuffer<byte>>(pred);
        VBuffer<byte> l = default, p = default;
        while (cursor.MoveNext())
        {
            lg(ref l);
            pg(ref p);
            evaluator.Add(l.DenseValues().ToArray(), p.DenseValues().ToArray());
        }
        return evaluator.GetMetrics();
    }
}

/// <summary>Segmentation trainers: <c>mlContext.Segmentation().Trainers</c>.</summary>
public sealed class SegmentationTrainers
{
    private readonly MLContext _mlContext;

    internal SegmentationTrainers(MLContext mlContext) => _mlContext = mlContext;

    /// <summary>The context these trainers belong to (for trainer extensions such as Unsupervised).</summary>
    internal MLContext Context => _mlContext;

    /// <summary>
    /// A U-Net (depth 4, base width 16) trained with TorchSharp on an image column and a (possibly noisy) mask column;
    /// the input channel count is taken from the image column at Fit. Uses
    /// <c>MLContext.GpuDeviceId</c>/<c>FallbackToCpu</c> for the device and <c>MLContext</c>'s seed when none is set.
    /// </summary>
    /// <param name="imageColumnName">Image column <c>[C, H, W]</c>.</param>
    /// <param name="labelColumnName">Mask column <c>[H, W]</c>.</param>
    /// <param name="classCount">Number of classes (2 = binary).</param>
    /// <param name="epochs">Training epochs.</param>
    /// <param name="decoding">How outputs become masks.</param>
    public UNetSegmentationTrainer UNet(string imageColumnName = "Image", string labelColumnName = "Mask", int classCount = 2,
        int epochs = 10, SegmentationDecoding decoding = SegmentationDecoding.LabelFree)
    {
        var trainer = UNet(new UNetSegmentationTrainerOptions
        {
            ImageColumnName = imageColumnName,
            LabelColumnName = labelColumnName,
            ClassCount = classCount,
            Decoding = decoding,
            Trainer = new SegmentationTrainerOptions
            {
                Network = new UNetOptions { InputChannels = 1, OutputChannels = classCount == 2 ? 1 : classCount },
                Loss = classCount == 2 ? MLNet.NoisySeg.Losses.LossKind.Bce : MLNet.NoisySeg.Losses.LossKind.CrossEntropy,
                Epochs = epochs,
            },
        });
        trainer.InferInputChannels = true;
        return trainer;
    }

    /// <summary>A U-Net trainer with full options.</summary>
    /// <param name="options">The options.</param>
    public UNetSegmentationTrainer UNet(UNetSegmentationTrainerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var trainer = options.Trainer;
        if (trainer.GpuDeviceId is null && _mlContext.GpuDeviceId is int gpu)
            trainer = trainer with { GpuDeviceId = gpu, FallbackToCpu = _mlContext.FallbackToCpu };
        return new UNetSegmentationTrainer(_mlContext.Transforms, options with { Trainer = trainer });
    }
}
