using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Decoding;
using MLNet.NoisySeg.Losses;
using MLNet.NoisySeg.Networks;
using MLNet.NoisySeg.Training;

namespace MLNet.NoisySeg.Pipelines;

/// <summary>How a trained network's probabilities become a mask.</summary>
public enum SegmentationDecoding
{
    /// <summary>Threshold 0.5 (binary) or argmax (multi-class): right for clean labels, wrong for sparse or flipped ones.</summary>
    Fixed,

    /// <summary>
    /// Without clean labels: <see cref="NoiseAwareDecoding.Plan"/> on the model's own outputs on its training images, with
    /// <see cref="UNetSegmentationTrainerOptions.KnownNoise"/> when given (binary with a known Q: the threshold at the best clean Dice
    /// estimated from the noisy training masks through Q; without Q, or with noise redrawn every epoch: Otsu between the two output
    /// levels, or the prior-matched quantile when they do not separate; multi-class: argmax when Q preserves it, else the closed-form, exact or
    /// Tikhonov-regularised inverse-NTM correction with the known or estimated matrix). The decision and its reason are in the
    /// decoding report.
    /// </summary>
    LabelFree,

    /// <summary>The paper's protocol: sweep 50 thresholds on a validation set with clean masks, also scoring 1 - p (binary only).</summary>
    ValidationSweep,
}

/// <summary>Options of <see cref="UNetSegmentationTrainer"/>.</summary>
public sealed record UNetSegmentationTrainerOptions
{
    /// <summary>Image column: <c>Vector&lt;Single, C, H, W&gt;</c>. Default "Image".</summary>
    public string ImageColumnName { get; init; } = SegmentationColumnNames.Image;

    /// <summary>Training mask column (possibly noisy): <c>Vector&lt;Byte, H, W&gt;</c>. Default "Mask".</summary>
    public string LabelColumnName { get; init; } = SegmentationColumnNames.Mask;

    /// <summary>Optional text column identifying each image (seeds per-image randomness). Default "Name"; row index when absent.</summary>
    public string NameColumnName { get; init; } = SegmentationColumnNames.Name;

    /// <summary>Output probability column <c>[K, H, W]</c> (K = 1 for binary: foreground probability). Default "Probability".</summary>
    public string ProbabilityColumnName { get; init; } = SegmentationColumnNames.Probability;

    /// <summary>Output mask column <c>[H, W]</c>. Default "PredictedMask".</summary>
    public string PredictedLabelColumnName { get; init; } = SegmentationColumnNames.PredictedMask;

    /// <summary>Number of classes; 2 = binary (one logit, BCE). Default 2.</summary>
    public int ClassCount { get; init; } = 2;

    /// <summary>Network, loss, optimizer, schedule, budget, seed, device and checkpoint options.</summary>
    public SegmentationTrainerOptions Trainer { get; init; } = new();

    /// <summary>Decoding of the outputs. Default <see cref="SegmentationDecoding.LabelFree"/>.</summary>
    public SegmentationDecoding Decoding { get; init; } = SegmentationDecoding.LabelFree;

    /// <summary>
    /// The noise transition matrix of the training labels when known (simulated noise), for <see cref="SegmentationDecoding.LabelFree"/>:
    /// it sets the orientation and the correction. Any Q may be passed, whatever its determinant (class sampling 0.1 over 11 classes
    /// has det 1e-10 and is decoded exactly); a rank-deficient one (random labels, 50/50 flipping) is reported as not recoverable
    /// and decoded with the fixed rule.
    /// </summary>
    public NoiseTransitionMatrix? KnownNoise { get; init; }

    /// <summary>
    /// Validation data (same columns). <see cref="SegmentationDecoding.ValidationSweep"/> needs it with clean masks.
    /// With Trainer.EarlyStopping on <see cref="EarlyStoppingOptions.ValidationLossMetric"/>, the mean per-pixel loss
    /// on its label column is the watched metric: with noisy labels there (e.g. the same corruption applied to held-out
    /// images) early stopping needs no clean labels.
    /// </summary>
    public IDataView? ValidationData { get; init; }

    /// <summary>
    /// How the fitted model predicts each image: whole (null, the default) or by overlapping tiles blended at their borders,
    /// optionally with test-time augmentation (<see cref="SegmentationPredictionOptions"/>). Saved with the model; a loaded
    /// model can switch with <see cref="SegmentationTransformer.WithPrediction"/>.
    /// </summary>
    public SegmentationPredictionOptions? Prediction { get; init; }

    /// <summary>Progress of training (per step). Training also reports to <c>MLContext.Log</c> (see <see cref="LogEvery"/>).</summary>
    public IProgress<TrainingProgress>? Progress { get; init; }

    /// <summary>
    /// Steps between training messages on <c>MLContext.Log</c> (loss, learning rate, validation metrics, elapsed time and
    /// ETA), as ML.NET's own trainers report through the context; 0 (default) = about 20 messages per training.
    /// </summary>
    public int LogEvery { get; init; }

    /// <summary>Cancels Fit between steps (a checkpoint is written when Trainer.CheckpointPath is set).</summary>
    public CancellationToken CancellationToken { get; init; }

    /// <summary>Optional online-noise hook: the training mask of a sample in an epoch (e.g. a fresh noisy draw per epoch).</summary>
    public Func<SegmentationItem, int, byte[]>? MaskProvider { get; init; }

    /// <summary>
    /// Online noise (the paper's redrawn-per-epoch corruption): when set, the label column holds CLEAN masks and every
    /// epoch trains on a fresh corruption drawn from (<see cref="OnlineNoiseSeed"/>, image identity, epoch).
    /// Cannot be combined with <see cref="MaskProvider"/>.
    /// </summary>
    public Noise.LabelNoiseSpec? OnlineNoise { get; init; }

    /// <summary>Seed of <see cref="OnlineNoise"/>. Default 0.</summary>
    public int OnlineNoiseSeed { get; init; }

    /// <summary>
    /// Optional callback during training (completed steps, current model) returning metrics for the progress report,
    /// every Trainer.ValidateEvery steps; e.g. to record Dice against the step budget.
    /// </summary>
    public Func<int, TrainedSegmentationModel, IReadOnlyDictionary<string, double>>? ValidationCallback { get; init; }

    /// <summary>
    /// Checks every option, after filling in what is inferred (see <see cref="Resolve"/>); throws naming the first bad one.
    /// </summary>
    public void Validate()
    {
        OptionChecks.Columns((ImageColumnName, nameof(ImageColumnName)), (LabelColumnName, nameof(LabelColumnName)),
            (ProbabilityColumnName, nameof(ProbabilityColumnName)), (PredictedLabelColumnName, nameof(PredictedLabelColumnName)));
        if (ClassCount is < 2 or > MaskConventions.MaxClassCount)
            throw new ArgumentOutOfRangeException(nameof(ClassCount), ClassCount, $"ClassCount must be in [2, {MaskConventions.MaxClassCount}].");
        ArgumentNullException.ThrowIfNull(Trainer, nameof(Trainer));
        ArgumentNullException.ThrowIfNull(Trainer.Network, "Trainer.Network");
        Resolve().ValidateResolved();
    }

    /// <summary>
    /// These options with what the catalog's simple overload infers filled in, as the trainer uses them. Left at their
    /// defaults, <c>Trainer.Network.OutputChannels</c> (1) becomes what <see cref="ClassCount"/> needs (1 logit for binary,
    /// ClassCount logits otherwise), <c>Trainer.Loss</c> (Bce) becomes CrossEntropy for more than two classes, and (at Fit,
    /// given <paramref name="imageChannels"/>) <c>Trainer.Network.InputChannels</c> (1) becomes the image column's channel
    /// count. A value set to something else that contradicts ClassCount or the data is an error naming both.
    /// </summary>
    /// <param name="imageChannels">The image column's channel count, when known.</param>
    /// <exception cref="ArgumentException">An option set explicitly contradicts ClassCount or the image channels.</exception>
    public UNetSegmentationTrainerOptions Resolve(int? imageChannels = null)
    {
        ArgumentNullException.ThrowIfNull(Trainer, nameof(Trainer));
        ArgumentNullException.ThrowIfNull(Trainer.Network, "Trainer.Network");
        var network = Trainer.Network;
        var loss = Trainer.Loss;
        int expected = ClassCount == 2 ? 1 : ClassCount;
        if (network.OutputChannels != expected)
        {
            if (network.OutputChannels != DefaultChannels)
                throw new ArgumentException($"Trainer.Network.OutputChannels is {network.OutputChannels}; ClassCount {ClassCount} needs {expected} (1 logit for binary). " +
                    $"Leave it at its default ({DefaultChannels}) to have it set from ClassCount.", nameof(Trainer));
            network = network with { OutputChannels = expected };
        }
        if (ClassCount > 2 && loss == LossKind.Bce) loss = LossKind.CrossEntropy;
        if (!SegmentationLoss.Supports(loss, expected))
            throw new ArgumentException($"Trainer.Loss {loss} is a {(expected == 1 ? "multi-class" : "binary")} loss; ClassCount {ClassCount} needs " +
                (expected == 1 ? "Bce, BceSoftIoU, BceDice or DmiSoftIoU." : "CrossEntropy or CrossEntropyDice (Bce, the default, becomes CrossEntropy by itself)."), nameof(Trainer));
        if (imageChannels is int c && c != network.InputChannels)
        {
            if (network.InputChannels != DefaultChannels)
                throw new ArgumentException($"The image column '{ImageColumnName}' has {c} channels; Trainer.Network.InputChannels is {network.InputChannels}. " +
                    $"Leave InputChannels at its default ({DefaultChannels}) to take it from the image column.", nameof(Trainer));
            network = network with { InputChannels = c };
        }
        return network == Trainer.Network && loss == Trainer.Loss ? this : this with { Trainer = Trainer with { Network = network, Loss = loss } };
    }

    private const int DefaultChannels = 1;

    private void ValidateResolved()
    {
        Trainer.Validate();
        Prediction?.Validate();
        if (LogEvery < 0) throw new ArgumentOutOfRangeException(nameof(LogEvery), LogEvery, "LogEvery must be at least 0 (0 = about 20 messages per training).");
        if (!Enum.IsDefined(Decoding)) throw new ArgumentOutOfRangeException(nameof(Decoding), Decoding, "Unknown decoding.");
        if (Decoding == SegmentationDecoding.ValidationSweep && ValidationData is null)
            throw new ArgumentException("ValidationSweep decoding needs ValidationData with clean masks.", nameof(ValidationData));
        if (Decoding == SegmentationDecoding.ValidationSweep && ClassCount != 2)
            throw new ArgumentException("ValidationSweep decoding is defined for binary segmentation (ClassCount = 2).", nameof(Decoding));
        if (OnlineNoise is not null)
        {
            if (MaskProvider is not null) throw new ArgumentException("Set either OnlineNoise or MaskProvider, not both.", nameof(OnlineNoise));
            OnlineNoise.Validate();
        }
        if (Trainer.EarlyStopping is { } es && ValidationCallback is null
            && (ValidationData is null || es.Metric != EarlyStoppingOptions.ValidationLossMetric))
            throw new ArgumentException(ValidationData is null
                ? $"Trainer.EarlyStopping watches '{es.Metric}': set ValidationData (for '{EarlyStoppingOptions.ValidationLossMetric}') or a ValidationCallback returning that metric."
                : $"Trainer.EarlyStopping watches '{es.Metric}', which only a ValidationCallback can provide (ValidationData gives '{EarlyStoppingOptions.ValidationLossMetric}').",
                ValidationData is null ? nameof(ValidationData) : nameof(ValidationCallback));
        if (KnownNoise is not null && KnownNoise.ClassCount != ClassCount)
            throw new ArgumentException($"KnownNoise is {KnownNoise.ClassCount}x{KnownNoise.ClassCount}; ClassCount is {ClassCount}.", nameof(KnownNoise));
    }

    /// <summary>The options of the catalog's simple overload: a U-Net (depth 4, base width 16) with the loss of the class count.</summary>
    internal static UNetSegmentationTrainerOptions Simple(string imageColumnName, string labelColumnName, int classCount, int epochs, SegmentationDecoding decoding) => new()
    {
        ImageColumnName = imageColumnName,
        LabelColumnName = labelColumnName,
        ClassCount = classCount,
        Decoding = decoding,
        Trainer = new SegmentationTrainerOptions { Epochs = epochs }, // network outputs, loss and input channels: Resolve
    };

    /// <summary>The trainer options on the context's device (<c>MLContext.GpuDeviceId</c>/<c>FallbackToCpu</c>) unless they name one.</summary>
    internal static SegmentationTrainerOptions OnContextDevice(SegmentationTrainerOptions trainer, MLContext mlContext)
        => trainer.GpuDeviceId is null && mlContext.GpuDeviceId is int gpu ? trainer with { GpuDeviceId = gpu, FallbackToCpu = mlContext.FallbackToCpu } : trainer;
}

/// <summary>
/// ML.NET trainer for semantic segmentation: trains a TorchSharp U-Net on an image column and a (possibly noisy)
/// mask column, then chooses a decoding (fixed, label-free or the paper's validation sweep). The fitted
/// <see cref="SegmentationTransformer"/> holds the trained network itself (no reload) and adds probability and
/// predicted-mask columns; plain <c>mlContext.Model.Save</c> writes it, weights included.
/// </summary>
public sealed class UNetSegmentationTrainer : NoisySegEstimator<SegmentationTransformer>
{
    private readonly UNetSegmentationTrainerOptions _options;
    private readonly MLContext _mlContext;

    internal UNetSegmentationTrainer(MLContext mlContext, UNetSegmentationTrainerOptions options) : base(mlContext.Transforms)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        options = options.Resolve();
        _options = options with { Trainer = UNetSegmentationTrainerOptions.OnContextDevice(options.Trainer, mlContext) };
        _mlContext = mlContext;
    }

    /// <summary>The options, with what is inferred from ClassCount filled in (<see cref="UNetSegmentationTrainerOptions.Resolve"/>;
    /// the input channels are taken from the image column at Fit).</summary>
    public UNetSegmentationTrainerOptions Options => _options;

    private const string LabelHint = " The label column holds class-index masks [H, W] (bytes); convert mask images or files with mlContext.Transforms.ConvertMaskToClassIndices.";

    private protected override IEnumerable<InputColumn> InputColumns =>
    [
        new(_options.LabelColumnName, NumberDataViewType.Byte, "label (mask)", LabelHint),
    ];

    private protected override MappingPlan SchemaPlan() => SegmentationTransformer.SchemaPlan(Columns(_options), _options.ClassCount, _options.Trainer.Network.InputChannels);

    private protected override MappingPlan SchemaPlan(SchemaShape inputSchema)
    {
        var image = inputSchema.FirstOrDefault(c => c.Name == _options.ImageColumnName);
        if (image.Name is null)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), _options.ImageColumnName,
                $"The image column '{_options.ImageColumnName}' was not found in the input schema (columns: {string.Join(", ", inputSchema.Select(c => c.Name))}).");
        bool mlImage = image.ItemType is Microsoft.ML.Transforms.Image.ImageDataViewType;
        if (!mlImage && (image.Kind == SchemaShape.Column.VectorKind.Scalar || image.ItemType != NumberDataViewType.Single))
            throw new ArgumentException(ImageKindMessage(_options.ImageColumnName, image.ItemType is TextDataViewType, $"{image.ItemType} ({image.Kind})"), nameof(inputSchema));
        return SegmentationTransformer.SchemaPlan(Columns(_options), _options.ClassCount, _options.Trainer.Network.InputChannels, mlImage);
    }

    private static string ImageKindMessage(string column, bool text, string type) => text
        ? $"The image column '{column}' holds text (file paths?); the trainer reads images. Put mlContext.Transforms.LoadSegmentationImage(\"Image\", \"{column}\") " +
          "before it (it decodes, resizes and normalises the files, and is saved with the model)."
        : $"The image column '{column}' is {type}; the trainer reads a float vector [C, H, W] (or [H, W, C] as ExtractPixels interleaves) or an MLImage. " +
          $"Put mlContext.Transforms.NormalizeSegmentationImage(\"Image\", \"{column}\") before it.";

    /// <summary>
    /// How the trainer reads its image column: planar float vectors as they are (null); interleaved float vectors into
    /// planar layout, values as they are; MLImage columns into planar floats with the per-image z-score (as
    /// NormalizeSegmentationImage does by default). The conversion is saved with the model.
    /// </summary>
    internal static ImageInputState? ImageConversion(IDataView data, string column, string role)
    {
        var col = data.Schema.GetColumnOrNull(column)
            ?? throw new ArgumentOutOfRangeException(nameof(data), column, $"The {role} column '{column}' was not found in the input schema (columns: {string.Join(", ", data.Schema.Select(c => c.Name))}).");
        switch (col.Type)
        {
            case TextDataViewType:
                throw new ArgumentException(ImageKindMessage(column, true, ""), nameof(data));
            case Microsoft.ML.Transforms.Image.ImageDataViewType:
            {
                var state = ImageColumns.Describe(col, role + " column", 0, ImageScaling.ZScore, null, null, null, null, null, 0, "");
                return ImageRows.Settle(data, col, state);
            }
            case VectorDataViewType { ItemType: var item } when item == NumberDataViewType.Single:
            {
                var state = ImageColumns.Describe(col, role + " column", 0, ImageScaling.None, null, null, null, null, null, 0,
                    " The trainer has no size option: give the column its shape, or prepare it with NormalizeSegmentationImage (InputHeight, InputWidth).");
                return state.IsIdentity ? null : state;
            }
            default:
                throw new ArgumentException(ImageKindMessage(column, false, col.Type.ToString() ?? "an unknown type"), nameof(data));
        }
    }

    internal static SegmentationColumns Columns(UNetSegmentationTrainerOptions o) => new(o.ImageColumnName, o.ProbabilityColumnName, o.PredictedLabelColumnName);

    private protected override (MappingPlan Plan, Func<ITransformer, SegmentationTransformer> Wrap) FitPlan(IDataView input)
    {
        var o = _options;
        var conversion = ImageConversion(input, o.ImageColumnName, "image");
        var (c, h, w) = conversion is { } cv ? (cv.Channels, cv.Height, cv.Width) : SchemaChecks.ImageShape(input.Schema[o.ImageColumnName], null, null);
        o = o.Resolve(c);
        var samples = SegmentationDataView.ReadItems(input, o.ImageColumnName, conversion, c, h, w, o.LabelColumnName,
            input.Schema.GetColumnOrNull(o.NameColumnName) is null ? null : o.NameColumnName);
        CheckLabels(samples, o.ClassCount, o.LabelColumnName, "input");

        var maskProvider = o.MaskProvider;
        if (o.OnlineNoise is { } online)
        {
            var corruptor = new Noise.LabelCorruptor(online, o.OnlineNoiseSeed) { Online = true };
            maskProvider = (sample, epoch) => corruptor.Corrupt(sample.Mask!, sample.Width, sample.Height, sample.Name, epoch);
        }
        // Read once: early stopping scores it during training, the validation sweep decodes with it afterwards.
        var validation = o.ValidationData is not null && (o.Trainer.EarlyStopping is not null || o.Decoding == SegmentationDecoding.ValidationSweep)
            ? ReadValidation(o, c) : null;
        var validate = o.ValidationCallback;
        if (o.Trainer.EarlyStopping is not null && validation is { } val)
        {
            var user = o.ValidationCallback;
            validate = (step, m) =>
            {
                var metrics = new Dictionary<string, double>(StringComparer.Ordinal)
                {
                    [EarlyStoppingOptions.ValidationLossMetric] = ValidationLoss(m, val, c, o.ClassCount),
                };
                if (user is not null)
                    foreach (var (k, v) in user(step, m)) metrics[k] = v;
                return metrics;
            };
        }
        using var log = new TrainingLog(_mlContext, nameof(UNetSegmentationTrainer), o.LogEvery, o.Progress);
        log.Info(string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"training a U-Net on {samples.Count} images {c}x{h}x{w}, {o.ClassCount} classes, loss {o.Trainer.Loss}, labels '{o.LabelColumnName}'"));
        var model = SegmentationTrainer.Train(samples, o.Trainer, log, o.CancellationToken, validate, maskProvider);
        try
        {
            var (rule, report) = ChooseDecoding(o, model, samples, validation, c, h, w);
            if (model.EarlyStoppingResult is { } outcome) report += "; " + outcome;
            log.Info("decoding: " + report);
            return SegmentationTransformer.FitPlan(Columns(o), new SegmentationState([], rule.ToString(), o.ClassCount, c, h, w, report,
                Input: conversion, Prediction: o.Prediction), model);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static IReadOnlyList<SegmentationItem> ReadValidation(UNetSegmentationTrainerOptions o, int channels)
    {
        var data = o.ValidationData!;
        SchemaChecks.RequireVector(data.Schema, o.LabelColumnName, NumberDataViewType.Byte, "validation label (mask)", LabelHint);
        var conversion = ImageConversion(data, o.ImageColumnName, "validation image");
        var (c, h, w) = conversion is { } cv ? (cv.Channels, cv.Height, cv.Width) : SchemaChecks.ImageShape(data.Schema[o.ImageColumnName], null, null);
        if (c != channels)
            throw new ArgumentException($"ValidationData: the image column '{o.ImageColumnName}' has {c} channels; the training data has {channels}.", nameof(o.ValidationData));
        var items = SegmentationDataView.ReadItems(data, o.ImageColumnName, conversion, c, h, w, o.LabelColumnName, null);
        if (items.Count == 0) throw new ArgumentException("ValidationData has no rows.", nameof(o.ValidationData));
        CheckLabels(items, o.ClassCount, o.LabelColumnName, nameof(o.ValidationData), "ValidationData: ");
        return items;
    }

    /// <summary>Mean per-pixel negative log-likelihood of the labels (ignore pixels skipped) under the model's probabilities.</summary>
    internal static double ValidationLoss(TrainedSegmentationModel model, IReadOnlyList<SegmentationItem> items, int channels, int classCount)
    {
        const double eps = 1e-7;
        double sum = 0;
        long n = 0;
        // One image column has one fixed shape, so the images go through the network in batches.
        var probabilities = model.PredictProbabilities(items.Select(i => i.Image).ToList(), channels, items[0].Height, items[0].Width);
        for (int k = 0; k < items.Count; k++)
        {
            var p = probabilities[k];
            var mask = items[k].Mask!;
            int pixels = items[k].Height * items[k].Width;
            for (int i = 0; i < pixels; i++)
            {
                int y = mask[i];
                if (y == MaskConventions.IgnoreIndex) continue;
                double q = classCount == 2 ? (y == 1 ? p[i] : 1 - p[i]) : p[y * pixels + i];
                sum -= Math.Log(Math.Clamp(q, eps, 1));
                n++;
            }
        }
        return n == 0 ? double.NaN : sum / n;
    }

    private static void CheckLabels(IReadOnlyList<SegmentationItem> items, int classCount, string column, string paramName, string prefix = "")
    {
        int highest = -1;
        foreach (var item in items)
            foreach (var v in item.Mask!)
            {
                if (v == MaskConventions.IgnoreIndex) continue;
                if (v >= classCount)
                    throw new ArgumentException($"{prefix}image '{item.Name}' has mask value {v} in '{column}'; expected class indices 0..{classCount - 1} or {MaskConventions.IgnoreIndex} (ignore). " +
                        $"If the masks have {v + 1} or more classes, set ClassCount (classCount) to that number; if they are gray-level or colour files, convert them with mlContext.Transforms.ConvertMaskToClassIndices.", paramName);
                if (v > highest) highest = v;
            }
        if (classCount > 2 && highest <= 1 && paramName == "input")
            throw new ArgumentException($"ClassCount is {classCount}, but the label column '{column}' holds binary masks (classes 0 and 1 only); use ClassCount = 2.", paramName);
    }

    private static (DecodingRule Rule, string Report) ChooseDecoding(UNetSegmentationTrainerOptions o, TrainedSegmentationModel model, IReadOnlyList<SegmentationItem> samples,
        IReadOnlyList<SegmentationItem>? validation, int c, int h, int w)
    {
        bool binary = o.ClassCount == 2;
        switch (o.Decoding)
        {
            case SegmentationDecoding.Fixed:
                return (binary ? DecodingRule.FixedThreshold : DecodingRule.Argmax, "fixed");
            case SegmentationDecoding.LabelFree:
            {
                var outputs = model.PredictProbabilities(samples.Select(s => s.Image).ToList(), c, h, w);
                // Binary: the noisy labels' foreground share, unless the masks trained on are redrawn every epoch (online noise).
                var masks = binary && o.OnlineNoise is null && o.MaskProvider is null ? samples.Select(s => s.Mask!).ToList() : null;
                double? share = masks is null ? null : LabelFreeDecoder.ForegroundShare(masks);
                // Any known Q goes to the planner as is: a rank-deficient one is reported as not recoverable there. With the masks trained
                // on, a known Q places the threshold at the clean Dice estimated from them.
                var decision = NoiseAwareDecoding.Plan(outputs, o.ClassCount, o.KnownNoise, share, noisyMasks: masks);
                return (decision.Rule, $"label-free, {decision.Strategy}: {decision.Reason}");
            }
            default:
            {
                var val = validation!;
                var probs = model.PredictProbabilities(val.Select(v => v.Image).ToList(), c, h, w);
                var sweep = ThresholdSweep.Run(probs, val.Select(v => v.Mask!).ToList());
                return (sweep.ToRule(), $"validation sweep: threshold {sweep.Threshold:0.####}, inverted {sweep.Inverted}, mean Dice {sweep.MeanDice:0.####}");
            }
        }
    }
}
