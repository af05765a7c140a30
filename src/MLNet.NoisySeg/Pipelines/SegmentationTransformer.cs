using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using MLNet.NoisySeg.Decoding;
using MLNet.NoisySeg.Training;

namespace MLNet.NoisySeg.Pipelines;

/// <summary>What a trained segmentation model reads and writes: its image column and the image shape it was trained on.</summary>
/// <param name="ImageColumnName">The image column the model reads (null for models saved before it was recorded).</param>
/// <param name="Channels">Image channels C.</param>
/// <param name="Height">Image height H of the trained pipeline's column (the network itself accepts any size).</param>
/// <param name="Width">Image width W.</param>
/// <param name="ClassCount">Number of classes (2 = binary).</param>
public sealed record SegmentationModelInput(string? ImageColumnName, int Channels, int Height, int Width, int ClassCount)
{
    /// <summary>Probability planes K of the output: 1 for binary (the foreground probability), else ClassCount.</summary>
    public int ProbabilityChannels => ClassCount == 2 ? 1 : ClassCount;
}

/// <summary>
/// A trained segmentation model inside an ML.NET pipeline: adds the probability <c>[K, H, W]</c> and predicted-mask
/// <c>[H, W]</c> columns. After Fit it holds the network the trainer trained (no reload); plain <c>mlContext.Model.Save</c>
/// writes the weights and the decoding rule into the zip, and <see cref="From"/> finds the model again in a loaded pipeline.
/// Dispose it to release the network's native memory.
/// </summary>
public sealed class SegmentationTransformer : ChainBackedTransformer, IDisposable
{
    private readonly byte[] _blob;
    private readonly SegmentationFactory.Loaded _model;

    private SegmentationTransformer(ITransformer chain, byte[] blob, SegmentationFactory.Loaded model) : base(chain)
    {
        _blob = blob;
        _model = model;
        SegmentationFactory.Remember(blob, model); // the chain's per-row mapping serves this network, not a copy read back from the bytes
    }

    /// <summary>The decoding rule this model uses (saved with it).</summary>
    public DecodingRule Decoding => _model.Rule;

    /// <summary>How the decoding was chosen (levels, thresholds), for reports.</summary>
    public string DecodingReport => _model.State.Report;

    /// <summary>Number of classes.</summary>
    public int ClassCount => _model.State.ClassCount;

    /// <summary>What the model reads: image column, channels, size and classes (also for a model found in a loaded zip).</summary>
    public SegmentationModelInput Input => new(_model.State.ImageColumn, _model.State.Channels, _model.State.Height, _model.State.Width, _model.State.ClassCount);

    /// <summary>The trained network.</summary>
    public TrainedSegmentationModel Model => _model.Model;

    /// <summary>Typed convenience: probabilities <c>[K, H, W]</c> and the decoded mask for one image of any size.</summary>
    /// <param name="image">Planar pixels <c>[C, H, W]</c>, normalised as in training.</param>
    /// <param name="channels">C.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    public (float[] Probability, byte[] Mask) Predict(float[] image, int channels, int height, int width) => _model.Predict(image, channels, height, width);

    /// <summary>Releases the network (the pipeline then reads it back from its saved bytes if it is used again).</summary>
    public void Dispose()
    {
        SegmentationFactory.Forget(_blob, _model);
        _model.Model.Dispose();
    }

    /// <summary>
    /// The segmentation model inside a fitted pipeline, or inside one loaded with <c>mlContext.Model.Load</c> (where it is
    /// a plain ML.NET chain): the typed transformer with <see cref="Input"/>, <see cref="Model"/> and <see cref="Decoding"/>.
    /// </summary>
    /// <param name="model">A fitted or loaded pipeline (or the segmentation transformer itself).</param>
    /// <exception cref="ArgumentException">The pipeline holds no NoisySeg segmentation model.</exception>
    public static SegmentationTransformer From(ITransformer model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Find(model) ?? throw new ArgumentException("The pipeline holds no NoisySeg segmentation model (trained by Segmentation().Trainers.UNet or .Unsupervised).", nameof(model));
    }

    private static SegmentationTransformer? Find(ITransformer model)
    {
        if (model is SegmentationTransformer segmentation) return segmentation;
        if (model is not IEnumerable<ITransformer> chain) return null;
        var parts = chain.ToList();
        // A loaded NoisySeg chain starts with the state key, then the state map (StatefulMapping.Build).
        if (parts.Count >= 2 && StatefulMapping.ReadState(parts[0], parts[1]) is { } blob
            && SegmentationFactory.TryLoad(blob) is { } loaded)
            return new SegmentationTransformer(model, blob, loaded);
        foreach (var part in parts.AsEnumerable().Reverse())
            if (Find(part) is { } found) return found;
        return null;
    }

    /// <summary>The Fit result of a trainer: the plan carrying the trained network's state, and the transformer holding the network.</summary>
    internal static (MappingPlan Plan, Func<ITransformer, SegmentationTransformer> Wrap) FitPlan(SegmentationColumns columns, SegmentationState state, TrainedSegmentationModel model)
    {
        state = state with { Weights = model.ToBytes(), ImageColumn = columns.Image };
        var blob = StateBlob.Create(state.Serialize());
        var loaded = new SegmentationFactory.Loaded(state, model);
        return (Plan(columns, state, blob), chain => new SegmentationTransformer(chain, blob, loaded));
    }

    /// <summary>The plan with the shapes unknown, for GetOutputSchema.</summary>
    internal static MappingPlan SchemaPlan(SegmentationColumns columns, int classCount, int channels)
    {
        var state = new SegmentationState([], classCount == 2 ? DecodingRule.FixedThreshold.ToString() : DecodingRule.Argmax.ToString(), classCount, channels, 0, 0, "");
        return Plan(columns, state, StateBlob.Create(state.Serialize()));
    }

    private static MappingPlan Plan(SegmentationColumns columns, SegmentationState state, byte[] blob)
    {
        int k = state.ClassCount == 2 ? 1 : state.ClassCount;
        return SegmentationFactory.Plan(blob, [(columns.Image, SegmentationFactory.ImageColumn)],
        [
            (SegmentationFactory.ProbabilityColumn, columns.Probability, SchemaChecks.ShapedType(NumberDataViewType.Single, k, state.Height, state.Width)),
            (SegmentationFactory.MaskColumn, columns.PredictedMask, SchemaChecks.MaskType(state.Height, state.Width)),
        ]);
    }
}

/// <summary>The columns of a segmentation transformer.</summary>
internal sealed record SegmentationColumns(string Image, string Probability, string PredictedMask);

/// <summary>What a segmentation transformer saves: weights, decoding rule, shapes and (since issue 11) its image column.</summary>
internal sealed record SegmentationState(byte[] Weights, string Rule, int ClassCount, int Channels, int Height, int Width, string Report, string? ImageColumn = null)
{
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
        catch (Exception e) when (e is EndOfStreamException or JsonException or ArgumentException or IOException)
        {
            throw new InvalidDataException("Segmentation model state is truncated or corrupt.", e);
        }
    }
}

/// <summary>Per-row inference mapping of segmentation models, found again at load by its contract name.</summary>
[CustomMappingFactoryAttribute(ContractName)]
internal sealed class SegmentationFactory : StateMappingFactory<SegmentationFactory, SegmentationFactory.Input, SegmentationFactory.Output, SegmentationFactory.Loaded>
{
    public const string ContractName = "NoisySeg.UNetSegmentation.v1";
    internal const string ImageColumn = "__NoisySeg_Seg_Image";
    internal const string ProbabilityColumn = "__NoisySeg_Seg_Probability";
    internal const string MaskColumn = "__NoisySeg_Seg_Mask";

    /// <summary>A decoded state: the network, its decoding rule, and a lock (a network is not thread-safe).</summary>
    internal sealed class Loaded(SegmentationState state, TrainedSegmentationModel model)
    {
        public SegmentationState State { get; } = state;
        public TrainedSegmentationModel Model { get; } = model;
        public DecodingRule Rule { get; } = DecodingRule.Parse(state.Rule);
        private readonly object _gate = new();

        public (float[] Probability, byte[] Mask) Predict(float[] image, int channels, int height, int width)
        {
            float[] p;
            lock (_gate) p = Model.PredictProbabilities(image, channels, height, width);
            var mask = new byte[height * width];
            Rule.Decode(p, State.ClassCount == 2 ? 1 : State.ClassCount, mask);
            return (p, mask);
        }
    }

    protected override string Contract => ContractName;

    protected override int CacheCapacity => 8;

    protected override Loaded Decode(byte[] payload)
    {
        var state = SegmentationState.Deserialize(payload);
        return new Loaded(state, TrainedSegmentationModel.FromBytes(state.Weights));
    }

    /// <summary>The decoded model of a state blob, or null when the blob is not a segmentation state.</summary>
    internal static Loaded? TryLoad(byte[] blob)
    {
        // A segmentation state is an int32 header length, then the JSON header; the other transforms' states are JSON.
        var payload = StateBlob.Payload(blob);
        return payload.Length < 5 || payload[0] == (byte)'{' || payload[4] != (byte)'{' ? null : Get(blob);
    }

    protected override void Map(Input input, Output output, Loaded model)
    {
        var s = model.State;
        SchemaChecks.RequireFittedSize(input.Image.Length, s.Channels, s.Height, s.Width, "Image", "segmentation model");
        (output.Probability, output.Mask) = model.Predict(input.Image, s.Channels, s.Height, s.Width);
    }

    internal sealed class Input : IStateRow
    {
        [ColumnName(ImageColumn), VectorType] public float[] Image { get; set; } = [];
        [ColumnName(StatefulMapping.StateColumn), VectorType] public byte[] State { get; set; } = [];
    }

    internal sealed class Output
    {
        [ColumnName(ProbabilityColumn), VectorType] public float[] Probability { get; set; } = [];
        [ColumnName(MaskColumn), VectorType] public byte[] Mask { get; set; } = [];
    }
}
