using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Noise;

namespace MLNet.NoisySeg.Pipelines;

/// <summary>Options of <see cref="LabelNoiseEstimator"/>.</summary>
public sealed class LabelNoiseOptions
{
    /// <summary>Clean mask column (byte class indices, <c>[H, W]</c>). Default "Mask".</summary>
    public string InputColumnName { get; init; } = SegmentationFolderOptions.Defaults.MaskColumnName;

    /// <summary>Corrupted mask column to create. Default "NoisyMask".</summary>
    public string OutputColumnName { get; init; } = "NoisyMask";

    /// <summary>
    /// Text column that identifies each image (e.g. the file name). The corruption of an image depends only on
    /// (seed, this identity, epoch), never on row order or threads. Default "Name".
    /// </summary>
    public string NameColumnName { get; init; } = SegmentationFolderOptions.Defaults.NameColumnName;

    /// <summary>The corruption (see <see cref="LabelNoiseSpec"/>; e.g. <c>LabelNoiseSpec.Sampling(0.1)</c>).</summary>
    public LabelNoiseSpec Noise { get; init; } = LabelNoiseSpec.Clean();

    /// <summary>Seed of the corruption. Default 0.</summary>
    public int Seed { get; init; }

    /// <summary>Epoch of an online (redrawn) corruption; 0 for offline noise. Default 0.</summary>
    public int Epoch { get; init; }

    /// <summary>Checks every option; throws naming the first bad one.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(InputColumnName)) throw new ArgumentException("InputColumnName must not be empty.", nameof(InputColumnName));
        if (string.IsNullOrWhiteSpace(OutputColumnName)) throw new ArgumentException("OutputColumnName must not be empty.", nameof(OutputColumnName));
        if (string.IsNullOrWhiteSpace(NameColumnName)) throw new ArgumentException("NameColumnName must not be empty.", nameof(NameColumnName));
        ArgumentNullException.ThrowIfNull(Noise, nameof(Noise));
        Noise.Validate();
        if (Epoch < 0) throw new ArgumentOutOfRangeException(nameof(Epoch), Epoch, "Epoch must be at least 0.");
    }
}

/// <summary>
/// Estimator of the label-corruption transform: every way the study corrupts labels (method.md §2-3), applied
/// to a mask column into a new column. Deterministic: the output depends only on (seed, image identity, epoch).
/// </summary>
public sealed class LabelNoiseEstimator : IEstimator<LabelNoiseTransformer>
{
    private readonly TransformsCatalog _catalog;
    private readonly LabelNoiseOptions _options;

    internal LabelNoiseEstimator(TransformsCatalog catalog, LabelNoiseOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _catalog = catalog;
        _options = options;
    }

    /// <inheritdoc />
    public LabelNoiseTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var col = SchemaChecks.RequireVector(input.Schema, _options.InputColumnName, NumberDataViewType.Byte, "mask");
        RequireName(input.Schema);
        var (h, w) = SchemaChecks.MaskShape((VectorDataViewType)col.Type, _options.InputColumnName, null, null);
        var state = LabelNoiseState.From(_options, h, w);
        return new LabelNoiseTransformer(BuildChain(_catalog, _options, state).Fit(input), _options, h, w);
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        SchemaChecks.RequireVectorShape(inputSchema, _options.InputColumnName, NumberDataViewType.Byte, "mask");
        if (!inputSchema.Any(c => c.Name == _options.NameColumnName && c.ItemType is TextDataViewType))
            throw new ArgumentException($"The identity column '{_options.NameColumnName}' (text) was not found; the corruption is keyed by image identity.", nameof(inputSchema));
        return BuildChain(_catalog, _options, LabelNoiseState.From(_options, 0, 0)).GetOutputSchema(inputSchema);
    }

    private void RequireName(DataViewSchema schema)
    {
        var name = schema.GetColumnOrNull(_options.NameColumnName);
        if (name is null || name.Value.Type is not TextDataViewType)
            throw new ArgumentException($"The identity column '{_options.NameColumnName}' (text) was not found or is not text; the corruption of an image is keyed by (seed, identity, epoch). Set NameColumnName.", "input");
    }

    private static IEstimator<ITransformer> BuildChain(TransformsCatalog catalog, LabelNoiseOptions o, LabelNoiseState state)
    {
        DataViewType? outType = state.Height > 0 ? new VectorDataViewType(NumberDataViewType.Byte, state.Height, state.Width) : null;
        return StatefulMapping.Build<LabelNoiseFactory.Input, LabelNoiseFactory.Output>(catalog, StateBlob.Create(JsonSerializer.SerializeToUtf8Bytes(state)),
            [(o.InputColumnName, LabelNoiseFactory.MaskColumn), (o.NameColumnName, LabelNoiseFactory.NameColumn)],
            LabelNoiseFactory.Mapping, LabelNoiseFactory.ContractName,
            [(LabelNoiseFactory.NoisyColumn, o.OutputColumnName, outType)]);
    }
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
public sealed class LabelNoiseFactory : CustomMappingFactory<LabelNoiseFactory.Input, LabelNoiseFactory.Output>
{
    /// <summary>Contract name stored in model zips.</summary>
    public const string ContractName = "NoisySeg.LabelNoise.v1";
    internal const string MaskColumn = "__NoisySeg_Noise_Mask";
    internal const string NameColumn = "__NoisySeg_Noise_Name";
    internal const string NoisyColumn = "__NoisySeg_Noise_Out";

    private sealed record Loaded(LabelNoiseState State, LabelNoiseSpec Spec);

    private static readonly StateCache<Loaded> Cache = new(b =>
    {
        var s = JsonSerializer.Deserialize<LabelNoiseState>(b) ?? throw new InvalidDataException("Label-noise state is empty.");
        return new Loaded(s, LabelNoiseSpec.Parse(s.Noise));
    });

    /// <summary>The mapping action.</summary>
    public static readonly Action<Input, Output> Mapping = (i, o) =>
    {
        var m = Cache.Get(i.State);
        var s = m.State;
        if (i.Mask.Length != s.Height * s.Width)
            throw new InvalidOperationException($"Mask has {i.Mask.Length} pixels; the label-noise transform was fitted on {s.Height}x{s.Width} masks.");
        o.Noisy = m.Spec.Apply(i.Mask, s.Width, s.Height, s.Seed, i.Name ?? "", s.Epoch);
    };

    /// <inheritdoc />
    public override Action<Input, Output> GetMapping() => Mapping;

    /// <summary>Input row of the mapping.</summary>
    public sealed class Input
    {
        /// <summary>Clean mask.</summary>
        [ColumnName(MaskColumn), VectorType] public byte[] Mask { get; set; } = [];
        /// <summary>Image identity.</summary>
        [ColumnName(NameColumn)] public string Name { get; set; } = "";
        /// <summary>Serialized state.</summary>
        [ColumnName(StatefulMapping.StateColumn), VectorType] public byte[] State { get; set; } = [];
    }

    /// <summary>Output row of the mapping.</summary>
    public sealed class Output
    {
        /// <summary>Corrupted mask.</summary>
        [ColumnName(NoisyColumn), VectorType] public byte[] Noisy { get; set; } = [];
    }
}
