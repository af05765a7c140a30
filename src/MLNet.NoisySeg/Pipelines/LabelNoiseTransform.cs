using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Noise;

namespace MLNet.NoisySeg.Pipelines;

/// <summary>Options of <see cref="LabelNoiseEstimator"/>.</summary>
public sealed record LabelNoiseOptions
{
    /// <summary>Clean mask column (byte class indices, <c>[H, W]</c>). Default "Mask".</summary>
    public string InputColumnName { get; init; } = SegmentationColumnNames.Mask;

    /// <summary>Corrupted mask column to create. Default "NoisyMask".</summary>
    public string OutputColumnName { get; init; } = SegmentationColumnNames.NoisyMask;

    /// <summary>
    /// Text column that identifies each image (e.g. the file name). The corruption of an image depends only on
    /// (seed, this identity, epoch), never on row order or threads. Default "Name".
    /// </summary>
    public string NameColumnName { get; init; } = SegmentationColumnNames.Name;

    /// <summary>The corruption (see <see cref="LabelNoiseSpec"/>; e.g. <c>LabelNoiseSpec.Sampling(0.1)</c>).</summary>
    public LabelNoiseSpec Noise { get; init; } = LabelNoiseSpec.Clean();

    /// <summary>Seed of the corruption. Default 0.</summary>
    public int Seed { get; init; }

    /// <summary>Epoch of an online (redrawn) corruption; 0 for offline noise. Default 0.</summary>
    public int Epoch { get; init; }

    /// <summary>Checks every option; throws naming the first bad one.</summary>
    public void Validate()
    {
        OptionChecks.Columns((InputColumnName, nameof(InputColumnName)), (OutputColumnName, nameof(OutputColumnName)), (NameColumnName, nameof(NameColumnName)));
        ArgumentNullException.ThrowIfNull(Noise, nameof(Noise));
        Noise.Validate();
        if (Epoch < 0) throw new ArgumentOutOfRangeException(nameof(Epoch), Epoch, "Epoch must be at least 0.");
    }
}

/// <summary>
/// Estimator of the label-corruption transform: every way the study corrupts labels (method.md §2-3), applied
/// to a mask column into a new column. Deterministic: the output depends only on (seed, image identity, epoch).
/// </summary>
public sealed class LabelNoiseEstimator : NoisySegEstimator<LabelNoiseTransformer>
{
    private readonly LabelNoiseOptions _options;

    internal LabelNoiseEstimator(TransformsCatalog catalog, LabelNoiseOptions options) : base(catalog)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
    }

    private protected override IEnumerable<InputColumn> InputColumns =>
    [
        new(_options.InputColumnName, NumberDataViewType.Byte, "mask"),
        new(_options.NameColumnName, TextDataViewType.Instance, "identity",
            " The corruption of an image is keyed by (seed, identity, epoch); set NameColumnName."),
    ];

    private protected override (MappingPlan Plan, Func<ITransformer, LabelNoiseTransformer> Wrap) FitPlan(IDataView input)
    {
        var (h, w) = SchemaChecks.MaskShape(input.Schema[_options.InputColumnName], null, null);
        return (Plan(LabelNoiseState.From(_options, h, w)), chain => new LabelNoiseTransformer(chain, _options, h, w));
    }

    private protected override MappingPlan SchemaPlan() => Plan(LabelNoiseState.From(_options, 0, 0));

    private MappingPlan Plan(LabelNoiseState state) => LabelNoiseFactory.Plan(StateBlob.Create(JsonSerializer.SerializeToUtf8Bytes(state)),
        [(_options.InputColumnName, LabelNoiseFactory.MaskColumn), (_options.NameColumnName, LabelNoiseFactory.NameColumn)],
        [(LabelNoiseFactory.NoisyColumn, _options.OutputColumnName, SchemaChecks.MaskType(state.Height, state.Width))]);
}

/// <summary>Fitted label-corruption transform. Saved and loaded by plain <c>mlContext.Model.Save/Load</c>.</summary>
public sealed class LabelNoiseTransformer : ChainBackedTransformer
{
    private readonly LabelNoiseOptions _options;

    internal LabelNoiseTransformer(ITransformer chain, LabelNoiseOptions options, int height, int width) : base(chain)
    {
        _options = options;
        Height = height;
        Width = width;
    }

    /// <summary>The corruption.</summary>
    public LabelNoiseSpec Noise => _options.Noise;

    /// <summary>Mask height the transform was fitted on.</summary>
    public int Height { get; }

    /// <summary>Mask width the transform was fitted on.</summary>
    public int Width { get; }

    /// <summary>Typed convenience: the corrupted version of one mask (identical to what the column holds).</summary>
    /// <param name="mask">Clean class indices, <c>Height x Width</c>.</param>
    /// <param name="imageId">The image's identity (its Name column value).</param>
    public byte[] Corrupt(ReadOnlySpan<byte> mask, string imageId) => _options.Noise.Apply(mask, Width, Height, _options.Seed, imageId, _options.Epoch);
}

/// <summary>State serialized into model zips by the label-corruption transform.</summary>
internal sealed record LabelNoiseState(string Noise, int Seed, int Epoch, int Height, int Width)
{
    public static LabelNoiseState From(LabelNoiseOptions o, int h, int w) => new(o.Noise.ToString(), o.Seed, o.Epoch, h, w);
}

/// <summary>Per-row mapping of the label-corruption transform, found again at load by its contract name.</summary>
[CustomMappingFactoryAttribute(ContractName)]
internal sealed class LabelNoiseFactory : StateMappingFactory<LabelNoiseFactory, LabelNoiseFactory.Input, LabelNoiseFactory.Output, LabelNoiseFactory.Loaded>
{
    public const string ContractName = "NoisySeg.LabelNoise.v1";
    internal const string MaskColumn = "__NoisySeg_Noise_Mask";
    internal const string NameColumn = "__NoisySeg_Noise_Name";
    internal const string NoisyColumn = "__NoisySeg_Noise_Out";

    internal sealed record Loaded(LabelNoiseState State, LabelNoiseSpec Spec);

    protected override string Contract => ContractName;

    protected override Loaded Decode(byte[] payload)
    {
        var s = JsonSerializer.Deserialize<LabelNoiseState>(payload) ?? throw new InvalidDataException("Label-noise state is empty.");
        return new Loaded(s, LabelNoiseSpec.Parse(s.Noise));
    }

    protected override void Map(Input input, Output output, Loaded state)
    {
        var s = state.State;
        SchemaChecks.RequireFittedSize(input.Mask.Length, 1, s.Height, s.Width, "Mask", "label-noise transform");
        output.Noisy = state.Spec.Apply(input.Mask, s.Width, s.Height, s.Seed, input.Name ?? "", s.Epoch);
    }

    internal sealed class Input : IStateRow
    {
        [ColumnName(MaskColumn), VectorType] public byte[] Mask { get; set; } = [];
        [ColumnName(NameColumn)] public string Name { get; set; } = "";
        [ColumnName(StatefulMapping.StateColumn), VectorType] public byte[] State { get; set; } = [];
    }

    internal sealed class Output
    {
        [ColumnName(NoisyColumn), VectorType] public byte[] Noisy { get; set; } = [];
    }
}
