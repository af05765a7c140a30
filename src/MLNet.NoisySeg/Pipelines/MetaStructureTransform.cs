using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.MetaStructure;

namespace MLNet.NoisySeg.Pipelines;

/// <summary>Options of <see cref="MetaStructureEstimator"/>: which mask column, how many classes, which kernel.</summary>
public sealed class MetaStructureOptions
{
    /// <summary>Mask column (byte class indices, <c>[H, W]</c>). Default "Mask".</summary>
    public string InputColumnName { get; init; } = SegmentationFolderOptions.Defaults.MaskColumnName;

    /// <summary>Output density column (<c>Vector&lt;Single, C, H, W&gt;</c>). Default "Density".</summary>
    public string OutputColumnName { get; init; } = "Density";

    /// <summary>Number of classes C (2 for binary masks). Default 2.</summary>
    public int ClassCount { get; init; } = 2;

    /// <summary>Kernel, bandwidth, sigma and border rule of the density estimator.</summary>
    public DensityOptions Density { get; init; } = new();

    /// <summary>Checks every option; throws naming the first bad one.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(InputColumnName)) throw new ArgumentException("InputColumnName must not be empty.", nameof(InputColumnName));
        if (string.IsNullOrWhiteSpace(OutputColumnName)) throw new ArgumentException("OutputColumnName must not be empty.", nameof(OutputColumnName));
        if (ClassCount is < 2 or > Core.MaskConventions.MaxClassCount)
            throw new ArgumentOutOfRangeException(nameof(ClassCount), ClassCount, $"ClassCount must be in [2, {Core.MaskConventions.MaxClassCount}].");
        ArgumentNullException.ThrowIfNull(Density, nameof(Density));
        Density.Validate();
    }
}

/// <summary>
/// Estimator of the meta-structure transform: per-class spatial density maps of a mask column
/// (method.md §4). Stateless given its options; Fit only records the mask shape.
/// </summary>
public sealed class MetaStructureEstimator : IEstimator<MetaStructureTransformer>
{
    private readonly TransformsCatalog _catalog;
    private readonly MetaStructureOptions _options;

    internal MetaStructureEstimator(TransformsCatalog catalog, MetaStructureOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _catalog = catalog;
        _options = options;
    }

    /// <inheritdoc />
    public MetaStructureTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var col = SchemaChecks.RequireVector(input.Schema, _options.InputColumnName, NumberDataViewType.Byte, "mask");
        var (h, w) = SchemaChecks.MaskShape((VectorDataViewType)col.Type, _options.InputColumnName, null, null);
        var state = new MetaStructureState(_options.ClassCount, _options.Density.Kernel, _options.Density.Bandwidth, _options.Density.Sigma, _options.Density.Border, h, w);
        var chain = BuildChain(_catalog, _options, state).Fit(input);
        return new MetaStructureTransformer(chain, _options, h, w);
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        SchemaChecks.RequireVectorShape(inputSchema, _options.InputColumnName, NumberDataViewType.Byte, "mask");
        var dummy = new MetaStructureState(_options.ClassCount, _options.Density.Kernel, _options.Density.Bandwidth, _options.Density.Sigma, _options.Density.Border, 0, 0);
        return BuildChain(_catalog, _options, dummy).GetOutputSchema(inputSchema);
    }

    private static IEstimator<ITransformer> BuildChain(TransformsCatalog catalog, MetaStructureOptions o, MetaStructureState state)
    {
        var blob = StateBlob.Create(JsonSerializer.SerializeToUtf8Bytes(state));
        DataViewType? outType = state.Height > 0 ? new VectorDataViewType(NumberDataViewType.Single, o.ClassCount, state.Height, state.Width) : null;
        return StatefulMapping.Build<MetaStructureFactory.Input, MetaStructureFactory.Output>(catalog, blob,
            [(o.InputColumnName, MetaStructureFactory.MaskColumn)], MetaStructureFactory.Mapping, MetaStructureFactory.ContractName,
            [(MetaStructureFactory.DensityColumn, o.OutputColumnName, outType)]);
    }
}

/// <summary>
/// Fitted meta-structure transform: adds a density column <c>[C, H, W]</c> computed from the mask column.
/// Saved and loaded by plain <c>mlContext.Model.Save/Load</c>.
/// </summary>
public sealed class MetaStructureTransformer : ChainBackedTransformer
{
    private readonly MetaStructureOptions _options;

    internal MetaStructureTransformer(ITransformer chain, MetaStructureOptions options, int height, int width) : base(chain)
    {
        _options = options;
        Height = height;
        Width = width;
    }

    /// <summary>Mask height the transform was fitted on.</summary>
    public int Height { get; }

    /// <summary>Mask width the transform was fitted on.</summary>
    public int Width { get; }

    /// <summary>Typed convenience: the density of one mask, planar <c>[C, H, W]</c>.</summary>
    /// <param name="mask">Class indices, <c>Height x Width</c>.</param>
    public float[] Compute(ReadOnlySpan<byte> mask) => DensityMap.Compute(mask, Width, Height, _options.ClassCount, _options.Density);
}

/// <summary>State serialized into model zips by the meta-structure transform.</summary>
internal sealed record MetaStructureState(int ClassCount, DensityKernel Kernel, int Bandwidth, double Sigma, DensityBorder Border, int Height, int Width)
{
    public DensityOptions ToOptions() => new() { Kernel = Kernel, Bandwidth = Bandwidth, Sigma = Sigma, Border = Border };
}

/// <summary>Compute mapping of the meta-structure transform, found again at load by its contract name.</summary>
[CustomMappingFactoryAttribute(ContractName)]
public sealed class MetaStructureFactory : CustomMappingFactory<MetaStructureFactory.Input, MetaStructureFactory.Output>
{
    /// <summary>Contract name stored in model zips.</summary>
    public const string ContractName = "NoisySeg.MetaStructure.v1";
    internal const string MaskColumn = "__NoisySeg_MetaStructure_Mask";
    internal const string DensityColumn = "__NoisySeg_MetaStructure_Density";

    private static readonly StateCache<MetaStructureState> Cache = new(b => JsonSerializer.Deserialize<MetaStructureState>(b)
        ?? throw new InvalidDataException("Meta-structure state is empty."));

    /// <summary>The mapping action.</summary>
    public static readonly Action<Input, Output> Mapping = (i, o) =>
    {
        var s = Cache.Get(i.State);
        if (i.Mask.Length != s.Height * s.Width)
            throw new InvalidOperationException($"Mask has {i.Mask.Length} pixels; the meta-structure transform was fitted on {s.Height}x{s.Width} masks.");
        o.Density = DensityMap.Compute(i.Mask, s.Width, s.Height, s.ClassCount, s.ToOptions());
    };

    /// <inheritdoc />
    public override Action<Input, Output> GetMapping() => Mapping;

    /// <summary>Input row of the mapping.</summary>
    public sealed class Input
    {
        /// <summary>Mask.</summary>
        [ColumnName(MaskColumn), VectorType] public byte[] Mask { get; set; } = [];
        /// <summary>Serialized state.</summary>
        [ColumnName(StatefulMapping.StateColumn), VectorType] public byte[] State { get; set; } = [];
    }

    /// <summary>Output row of the mapping.</summary>
    public sealed class Output
    {
        /// <summary>Density <c>[C, H, W]</c>.</summary>
        [ColumnName(DensityColumn), VectorType] public float[] Density { get; set; } = [];
    }
}
