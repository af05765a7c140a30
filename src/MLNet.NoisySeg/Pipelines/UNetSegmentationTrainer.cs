using System.Text;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Decoding;
using MLNet.NoisySeg.Training;

namespace MLNet.NoisySeg.Pipelines;

/// <summary>How a trained network's probabilities become a mask (method.md §5).</summary>
public enum SegmentationDecoding
{
    /// <summary>Threshold 0.5 (binary) or argmax (multi-class): right for clean labels, wrong for sparse or flipped ones.</summary>
    Fixed,

    /// <summary>
    /// Without clean labels: estimate the output levels from the model's own outputs on its training images
    /// (binary: Otsu between the two levels; multi-class: inverse-NTM correction with the known or estimated matrix).
    /// With a known noise matrix (simulated noise), det(Q) &lt; 0 marks an inverted map.
    /// </summary>
    LabelFree,

    /// <summary>The paper's protocol: sweep 50 thresholds on a validation set with clean masks, also scoring 1 - p (binary only).</summary>
    ValidationSweep,
}

/// <summary>Options of <see cref="UNetSegmentationTrainer"/>.</summary>
public sealed record UNetSegmentationTrainerOptions
{
    /// <summary>Image column: <c>Vector&lt;Single, C, H, W&gt;</c>. Default "Image".</summary>
    public string ImageColumnName { get; init; } = SegmentationFolderOptions.Defaults.ImageColumnName;

    /// <summary>Training mask column (possibly noisy): <c>Vector&lt;Byte, H, W&gt;</c>. Default "Mask".</summary>
    public string LabelColumnName { get; init; } = SegmentationFolderOptions.Defaults.MaskColumnName;

    /// <summary>Optional text column identifying each image (seeds per-image randomness). Default "Name"; row index when absent.</summary>
    public string NameColumnName { get; init; } = SegmentationFolderOptions.Defaults.NameColumnName;

    /// <summary>Output probability column <c>[K, H, W]</c> (K = 1 for binary: foreground probability). Default "Probability".</summary>
    public string ProbabilityColumnName { get; init; } = "Probability";

    /// <summary>Output mask column <c>[H, W]</c>. Default "PredictedMask".</summary>
    public string PredictedLabelColumnName { get; init; } = "PredictedMask";

    /// <summary>Number of classes; 2 = binary (one logit, BCE). Default 2.</summary>
    public int ClassCount { get; init; } = 2;

    /// <summary>Network, loss, optimizer, schedule, budget, seed, device and checkpoint options.</summary>
    public SegmentationTrainerOptions Trainer { get; init; } = new();

    /// <summary>Decoding of the outputs. Default <see cref="SegmentationDecoding.LabelFree"/>.</summary>
    public SegmentationDecoding Decoding { get; init; } = SegmentationDecoding.LabelFree;

    /// <summary>The noise transition matrix of the training labels when known (simulated noise); sets orientation and the inverse-NTM correction.</summary>
    public NoiseTransitionMatrix? KnownNoise { get; init; }

    /// <summary>
    /// Validation data (same columns). <see cref="SegmentationDecoding.ValidationSweep"/> needs it with clean masks.
    /// With Trainer.EarlyStopping on <see cref="EarlyStoppingOptions.ValidationLossMetric"/>, the mean per-pixel loss
    /// on its label column is the watched metric: with noisy labels there (e.g. the same corruption applied to held-out
    /// images) early stopping needs no clean labels.
    /// </summary>
    public IDataView? ValidationData { get; init; }

    /// <summary>Progress of training (per step).</summary>
    public IProgress<TrainingProgress>? Progress { get; init; }

    /// <summary>Cancels Fit between steps (a checkpoint is written when Trainer.CheckpointPath is set).</summary>
    public CancellationToken CancellationToken { get; init; }

    /// <summary>Optional online-noise hook: the training mask of a sample in an epoch (e.g. a fresh noisy draw per epoch).</summary>
    public Func<SegmentationSample, int, byte[]>? MaskProvider { get; init; }

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

    /// <summary>Checks every option; throws naming the first bad one.</summary>
    public void Validate()
    {
        foreach (var (value, name) in new[] { (ImageColumnName, nameof(ImageColumnName)), (LabelColumnName, nameof(LabelColumnName)),
                     (ProbabilityColumnName, nameof(ProbabilityColumnName)), (PredictedLabelColumnName, nameof(PredictedLabelColumnName)) })
            if (string.IsNullOrWhiteSpace(value)) throw new ArgumentException($"{name} must not be empty.", name);
        if (ClassCount is < 2 or > MaskConventions.MaxClassCount)
            throw new ArgumentOutOfRangeException(nameof(ClassCount), ClassCount, $"ClassCount must be in [2, {MaskConventions.MaxClassCount}].");
        ArgumentNullException.ThrowIfNull(Trainer, nameof(Trainer));
        int expected = ClassCount == 2 ? 1 : ClassCount;
        if (Trainer.Network.OutputChannels != expected)
            throw new ArgumentException($"Trainer.Network.OutputChannels is {Trainer.Network.OutputChannels}; ClassCount {ClassCount} needs {expected} (1 logit for binary).", nameof(Trainer));
        Trainer.Validate();
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
}

/// <summary>
/// ML.NET trainer for semantic segmentation: trains a TorchSharp U-Net on an image column and a (possibly noisy)
/// mask column, then chooses a decoding (fixed, label-free or the paper's validation sweep). The fitted
/// <see cref="SegmentationTransformer"/> adds probability and predicted-mask columns and is saved, weights included,
/// by plain <c>mlContext.Model.Save</c>.
/// </summary>
public sealed class UNetSegmentationTrainer : IEstimator<SegmentationTransformer>
{
    private readonly TransformsCatalog _catalog;
    private readonly UNetSegmentationTrainerOptions _options;

    internal UNetSegmentationTrainer(TransformsCatalog catalog, UNetSegmentationTrainerOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _catalog = catalog;
        _options = options;
    }

    /// <summary>The options.</summary>
    public UNetSegmentationTrainerOptions Options => _options;

    /// <summary>When true (simple catalog overload), Fit takes the network's input channels from the image column.</summary>
    internal bool InferInputChannels { get; set; }

    /// <inheritdoc />
    public SegmentationTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var o = _options;
        var imageCol = SchemaChecks.RequireVector(input.Schema, o.ImageColumnName, NumberDataViewType.Single, "image");
        SchemaChecks.RequireVector(input.Schema, o.LabelColumnName, NumberDataViewType.Byte, "label (mask)");
        var (c, h, w) = SchemaChecks.ImageShape((VectorDataViewType)imageCol.Type, o.ImageColumnName, null, null);
        if (InferInputChannels && c != o.Trainer.Network.InputChannels)
            o = o with { Trainer = o.Trainer with { Network = o.Trainer.Network with { InputChannels = c } } };
        if (c != o.Trainer.Network.InputChannels)
            throw new ArgumentException($"The image column '{o.ImageColumnName}' has {c} channels; Trainer.Network.InputChannels is {o.Trainer.Network.InputChannels}.", nameof(input));
        var items = SegmentationDataView.ReadItems(input, o.ImageColumnName, o.LabelColumnName,
            input.Schema.GetColumnOrNull(o.NameColumnName) is null ? null : o.NameColumnName);
        var samples = items.Select(i => new SegmentationSample(i.Name, i.Image, i.Mask!, h, w)).ToList();
        CheckLabels(samples, o.ClassCount);

        var maskProvider = o.MaskProvider;
        if (o.OnlineNoise is { } online)
        {
            var corruptor = new Noise.LabelCorruptor(online, o.OnlineNoiseSeed) { Online = true };
            maskProvider = (sample, epoch) => corruptor.Corrupt(sample.Mask, sample.Width, sample.Height, sample.Id, epoch);
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
        using var model = SegmentationTrainer.Train(samples, o.Trainer, o.Progress, o.CancellationToken, validate, maskProvider);
        var (rule, report) = ChooseDecoding(o, model, samples, validation, c, h, w);
        if (model.EarlyStoppingResult is { } outcome) report += "; " + outcome;
        var state = new SegmentationState(model.ToBytes(), rule.ToString(), o.ClassCount, c, h, w, report);
        return SegmentationTransformer.Create(_catalog, o, state, input);
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        SchemaChecks.RequireVectorShape(inputSchema, _options.ImageColumnName, NumberDataViewType.Single, "image");
        SchemaChecks.RequireVectorShape(inputSchema, _options.LabelColumnName, NumberDataViewType.Byte, "label (mask)");
        return SegmentationTransformer.BuildChain(_catalog, _options, SegmentationState.Placeholder(_options)).GetOutputSchema(inputSchema);
    }

    private static IReadOnlyList<SegmentationItem> ReadValidation(UNetSegmentationTrainerOptions o, int channels)
    {
        var data = o.ValidationData!;
        var imageCol = SchemaChecks.RequireVector(data.Schema, o.ImageColumnName, NumberDataViewType.Single, "validation image");
        SchemaChecks.RequireVector(data.Schema, o.LabelColumnName, NumberDataViewType.Byte, "validation label (mask)");
        var (c, _, _) = SchemaChecks.ImageShape((VectorDataViewType)imageCol.Type, o.ImageColumnName, null, null);
        if (c != channels)
            throw new ArgumentException($"ValidationData: the image column '{o.ImageColumnName}' has {c} channels; the training data has {channels}.", nameof(o.ValidationData));
        var items = SegmentationDataView.ReadItems(data, o.ImageColumnName, o.LabelColumnName, null);
        if (items.Count == 0) throw new ArgumentException("ValidationData has no rows.", nameof(o.ValidationData));
        foreach (var item in items)
            foreach (var v in item.Mask!)
                if (v >= o.ClassCount && v != MaskConventions.IgnoreIndex)
                    throw new ArgumentException($"ValidationData: image '{item.Name}' has mask value {v} in '{o.LabelColumnName}'; expected class indices 0..{o.ClassCount - 1} or {MaskConventions.IgnoreIndex} (ignore).", nameof(o.ValidationData));
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

    private static void CheckLabels(IReadOnlyList<SegmentationSample> samples, int classCount)
    {
        foreach (var s in samples)
            foreach (var v in s.Mask)
                if (v >= classCount && v != MaskConventions.IgnoreIndex)
                    throw new ArgumentException($"Image '{s.Id}' has mask value {v}; expected class indices 0..{classCount - 1} or {MaskConventions.IgnoreIndex} (ignore).", "input");
    }

    private static (DecodingRule Rule, string Report) ChooseDecoding(UNetSegmentationTrainerOptions o, TrainedSegmentationModel model, IReadOnlyList<SegmentationSample> samples,
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
                var known = o.KnownNoise;
                string note = "";
                if (known is not null && !known.IsInvertible)
                {
                    // A singular Q (random labels, 50/50 flipping) carries no orientation and has no inverse (Lemma 2).
                    note = $" (known noise matrix is singular, rank {known.Rank()}: decoded without it)";
                    known = null;
                }
                if (binary)
                {
                    var est = LabelFreeDecoder.EstimateBinary(outputs, known);
                    return (est.ToRule(), $"label-free: levels {est.BackgroundLevel:0.####}/{est.ForegroundLevel:0.####}, threshold {est.Threshold:0.####}, inverted {est.Inverted}, separation {est.MixtureSeparation:0.##}{note}");
                }
                if (known is not null)
                    return (DecodingRule.InverseNtm(known), "label-free: inverse of the known noise matrix");
                var levels = LabelFreeDecoder.EstimateLevels(outputs, o.ClassCount);
                return (levels.ToRule(), $"label-free: estimated level matrix, det {levels.Determinant:0.####}{note}");
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

/// <summary>
/// A trained segmentation model inside an ML.NET pipeline: adds the probability <c>[K, H, W]</c> and predicted-mask
/// <c>[H, W]</c> columns. Saved by plain <c>mlContext.Model.Save</c> with the weights and the decoding rule inside the zip.
/// </summary>
public sealed class SegmentationTransformer : ChainBackedTransformer, IDisposable
{
    private readonly SegmentationState _state;
    private TrainedSegmentationModel? _model;

    private SegmentationTransformer(ITransformer chain, SegmentationState state) : base(chain)
    {
        _state = state;
        Decoding = DecodingRule.Parse(state.Rule);
    }

    /// <summary>The decoding rule this model uses (saved with it).</summary>
    public DecodingRule Decoding { get; }

    /// <summary>How the decoding was chosen (levels, thresholds), for reports.</summary>
    public string DecodingReport => _state.Report;

    /// <summary>Number of classes.</summary>
    public int ClassCount => _state.ClassCount;

    /// <summary>The trained network (loaded lazily from the saved weights).</summary>
    public TrainedSegmentationModel Model => _model ??= TrainedSegmentationModel.FromBytes(_state.Weights);

    /// <summary>Typed convenience: probabilities <c>[K, H, W]</c> and the decoded mask for one image of any size.</summary>
    /// <param name="image">Planar pixels <c>[C, H, W]</c>, normalised as in training.</param>
    /// <param name="channels">C.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    public (float[] Probability, byte[] Mask) Predict(float[] image, int channels, int height, int width)
    {
        var p = Model.PredictProbabilities(image, channels, height, width);
        var mask = new byte[height * width];
        Decoding.Decode(p, _state.ClassCount == 2 ? 1 : _state.ClassCount, mask);
        return (p, mask);
    }

    /// <inheritdoc />
    public void Dispose() => _model?.Dispose();

    internal static SegmentationTransformer Create(TransformsCatalog catalog, UNetSegmentationTrainerOptions o, SegmentationState state, IDataView input)
        => new(BuildChain(catalog, o, state).Fit(input), state);

    internal static IEstimator<ITransformer> BuildChain(TransformsCatalog catalog, UNetSegmentationTrainerOptions o, SegmentationState state)
    {
        int k = state.ClassCount == 2 ? 1 : state.ClassCount;
        DataViewType? probType = state.Height > 0 ? new VectorDataViewType(NumberDataViewType.Single, k, state.Height, state.Width) : null;
        DataViewType? maskType = state.Height > 0 ? new VectorDataViewType(NumberDataViewType.Byte, state.Height, state.Width) : null;
        return StatefulMapping.Build<SegmentationFactory.Input, SegmentationFactory.Output>(catalog, StateBlob.Create(state.Serialize()),
            [(o.ImageColumnName, SegmentationFactory.ImageColumn)], SegmentationFactory.Mapping, SegmentationFactory.ContractName,
            [(SegmentationFactory.ProbabilityColumn, o.ProbabilityColumnName, probType), (SegmentationFactory.MaskColumn, o.PredictedLabelColumnName, maskType)]);
    }
}

/// <summary>What a segmentation transformer saves: weights, decoding rule and shapes.</summary>
internal sealed record SegmentationState(byte[] Weights, string Rule, int ClassCount, int Channels, int Height, int Width, string Report)
{
    public static SegmentationState Placeholder(UNetSegmentationTrainerOptions o)
        => new([], o.ClassCount == 2 ? DecodingRule.FixedThreshold.ToString() : DecodingRule.Argmax.ToString(), o.ClassCount, o.Trainer.Network.InputChannels, 0, 0, "");

    public byte[] Serialize()
    {
        var header = JsonSerializer.SerializeToUtf8Bytes(this with { Weights = [] });
        using var ms = new MemoryStream();
        using var w = new BinaryWriter(ms);
        w.Write(header.Length);
        w.Write(header);
        w.Write(Weights.Length);
        w.Write(Weights);
        w.Flush();
        return ms.ToArray();
    }

    public static SegmentationState Deserialize(byte[] payload)
    {
        try
        {
            using var r = new BinaryReader(new MemoryStream(payload));
            var header = JsonSerializer.Deserialize<SegmentationState>(r.ReadBytes(r.ReadInt32()))
                ?? throw new InvalidDataException("Segmentation state header is empty.");
            int n = r.ReadInt32();
            var weights = r.ReadBytes(n);
            if (weights.Length != n) throw new EndOfStreamException();
            return header with { Weights = weights };
        }
        catch (Exception e) when (e is EndOfStreamException or JsonException or ArgumentException)
        {
            throw new InvalidDataException("Segmentation model state is truncated or corrupt.", e);
        }
    }
}

/// <summary>Per-row inference mapping of saved segmentation models, found again at load by its contract name.</summary>
[CustomMappingFactoryAttribute(ContractName)]
public sealed class SegmentationFactory : CustomMappingFactory<SegmentationFactory.Input, SegmentationFactory.Output>
{
    /// <summary>Contract name stored in model zips.</summary>
    public const string ContractName = "NoisySeg.UNetSegmentation.v1";
    internal const string ImageColumn = "__NoisySeg_Seg_Image";
    internal const string ProbabilityColumn = "__NoisySeg_Seg_Probability";
    internal const string MaskColumn = "__NoisySeg_Seg_Mask";

    private sealed class Loaded(SegmentationState state)
    {
        public SegmentationState State { get; } = state;
        public TrainedSegmentationModel Model { get; } = TrainedSegmentationModel.FromBytes(state.Weights);
        public DecodingRule Rule { get; } = DecodingRule.Parse(state.Rule);
        public object Gate { get; } = new();
    }

    private static readonly StateCache<Loaded> Cache = new(b => new Loaded(SegmentationState.Deserialize(b)), capacity: 8);

    /// <summary>The mapping action.</summary>
    public static readonly Action<Input, Output> Mapping = (i, o) =>
    {
        var m = Cache.Get(i.State);
        var s = m.State;
        if (i.Image.Length != s.Channels * s.Height * s.Width)
            throw new InvalidOperationException($"Image has {i.Image.Length} values; the model was trained on {s.Channels}x{s.Height}x{s.Width} images.");
        float[] p;
        lock (m.Gate) p = m.Model.PredictProbabilities(i.Image, s.Channels, s.Height, s.Width);
        var mask = new byte[s.Height * s.Width];
        m.Rule.Decode(p, s.ClassCount == 2 ? 1 : s.ClassCount, mask);
        o.Probability = p;
        o.Mask = mask;
    };

    /// <inheritdoc />
    public override Action<Input, Output> GetMapping() => Mapping;

    /// <summary>Input row of the mapping.</summary>
    public sealed class Input
    {
        /// <summary>Image.</summary>
        [ColumnName(ImageColumn), VectorType] public float[] Image { get; set; } = [];
        /// <summary>Serialized state.</summary>
        [ColumnName(StatefulMapping.StateColumn), VectorType] public byte[] State { get; set; } = [];
    }

    /// <summary>Output row of the mapping.</summary>
    public sealed class Output
    {
        /// <summary>Probabilities <c>[K, H, W]</c>.</summary>
        [ColumnName(ProbabilityColumn), VectorType] public float[] Probability { get; set; } = [];
        /// <summary>Decoded mask <c>[H, W]</c>.</summary>
        [ColumnName(MaskColumn), VectorType] public byte[] Mask { get; set; } = [];
    }
}
