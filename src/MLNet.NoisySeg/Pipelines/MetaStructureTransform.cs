using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.MetaStructure;

namespace MLNet.NoisySeg.Pipelines;

/// <summary>Options of <see cref="MetaStructureEstimator"/>: which mask column, how many classes, which kernel.</summary>
public sealed record MetaStructureOptions
{
    /// <summary>Mask column (byte class indices, <c>[H, W]</c>). Default "Mask".</summary>
    public string InputColumnName { get; init; } = SegmentationColumnNames.Mask;

    /// <summary>Output density column (<c>Vector&lt;Single, C, H, W&gt;</c>). Default "Density".</summary>
    public string OutputColumnName { get; init; } = SegmentationColumnNames.Density;

    /// <summary>Number of classes C (2 for binary masks). Default 2. Checked against the masks at Fit: a class index at or
    /// above it, or more than 2 classes for binary masks, is an error.</summary>
    public int ClassCount { get; init; } = 2;

    /// <summary>Kernel, bandwidth, sigma and border rule of the density estimator.</summary>
    public DensityOptions Density { get; init; } = new();

    /// <summary>
    /// Whether the step only prepares training data (default false). False: the step is saved and always runs, so a
    /// loaded model computes the densities of the masks it is given (the density maps are the product). True, as a
    /// trainer's label is: the fitted transform computes densities when the data has the mask column and passes the data
    /// through unchanged when it has not, and a saved model keeps the settings but not the step, so a loaded pipeline
    /// scores images without asking for a mask.
    /// </summary>
    public bool TrainingOnly { get; init; }

    /// <summary>Checks every option; throws naming the first bad one.</summary>
    public void Validate()
    {
        OptionChecks.Columns((InputColumnName, nameof(InputColumnName)), (OutputColumnName, nameof(OutputColumnName)));
        if (ClassCount is < 2 or > Core.MaskConventions.MaxClassCount)
            throw new ArgumentOutOfRangeException(nameof(ClassCount), ClassCount, $"ClassCount must be in [2, {Core.MaskConventions.MaxClassCount}].");
        ArgumentNullException.ThrowIfNull(Density, nameof(Density));
        Density.Validate();
    }
}

/// <summary>
/// Estimator of the meta-structure transform: per-class spatial density maps of a mask column
/// (Luo et al., AAAI 2022). Stateless given its options; Fit records the mask shape and checks the class count against the masks.
/// </summary>
public sealed class MetaStructureEstimator : NoisySegEstimator<MetaStructureTransformer>
{
    private readonly MetaStructureOptions _options;

    internal MetaStructureEstimator(TransformsCatalog catalog, MetaStructureOptions options) : base(catalog)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
    }

    private protected override IEnumerable<InputColumn> InputColumns => [new(_options.InputColumnName, NumberDataViewType.Byte, "mask")];

    private protected override (MappingPlan Plan, Func<ITransformer, MetaStructureTransformer> Wrap) FitPlan(IDataView input)
    {
        var (h, w) = SchemaChecks.MaskShape(input.Schema[_options.InputColumnName], null, null);
        CheckClassCount(input);
        var plan = Plan(h, w, out var blob);
        var scoring = _options.TrainingOnly ? FitStateOnly(blob, input) : null;
        return (plan, chain => new MetaStructureTransformer(chain, scoring, _options, h, w));
    }

    /// <summary>
    /// The masks must fit ClassCount: no class index at or above it, and binary masks (classes 0 and 1 only) are not
    /// given more than two classes, whose extra density planes would be zero without anyone noticing.
    /// </summary>
    private void CheckClassCount(IDataView input)
    {
        int k = _options.ClassCount, highest = -1;
        long row = 0;
        var column = input.Schema[_options.InputColumnName];
        // Through the unwrapping cursor: an upstream mapping's own exception reaches the caller as itself.
        using var cursor = ExceptionUnwrapping.GetRowCursor(input, [column]);
        var get = cursor.GetGetter<VBuffer<byte>>(column);
        VBuffer<byte> mask = default;
        while (cursor.MoveNext())
        {
            get(ref mask);
            foreach (byte v in mask.DenseValues())
            {
                if (v == Core.MaskConventions.IgnoreIndex) continue;
                if (v >= k)
                    throw new ArgumentException($"Row {row} of the mask column '{_options.InputColumnName}' holds class {v}, but ClassCount is {k}: " +
                        $"set ClassCount to the number of classes of the masks (at least {v + 1}).", "input");
                if (v > highest) highest = v;
            }
            row++;
        }
        if (k > 2 && highest <= 1)
            throw new ArgumentException($"ClassCount is {k}, but the mask column '{_options.InputColumnName}' holds binary masks (classes 0 and 1 only" +
                $"{(highest < 0 ? ", or no labelled pixel" : "")}); the density planes of classes 2..{k - 1} would be all zeros. Use ClassCount = 2.", "input");
    }

    private protected override MappingPlan SchemaPlan() => Plan(0, 0, out _);

    private MappingPlan Plan(int h, int w, out byte[] blob)
    {
        var d = _options.Density;
        var state = new MetaStructureState(_options.ClassCount, d.Kernel, d.Bandwidth, d.Sigma, d.Border, h, w, _options.InputColumnName);
        blob = StateBlob.Create(JsonSerializer.SerializeToUtf8Bytes(state));
        return MetaStructureFactory.Plan(blob,
            [(_options.InputColumnName, MetaStructureFactory.MaskColumn)],
            [(MetaStructureFactory.DensityColumn, _options.OutputColumnName, SchemaChecks.ShapedType(NumberDataViewType.Single, _options.ClassCount, h, w))]);
    }
}

/// <summary>
/// Fitted meta-structure transform: adds a density column <c>[C, H, W]</c> computed from the mask column.
/// Saved and loaded by plain <c>mlContext.Model.Save/Load</c>; with <see cref="MetaStructureOptions.TrainingOnly"/> it runs
/// only on data that has the mask column and saves as a pass-through.
/// </summary>
public sealed class MetaStructureTransformer : ChainBackedTransformer
{
    private readonly MetaStructureOptions _options;

    internal MetaStructureTransformer(ITransformer chain, ITransformer? scoring, MetaStructureOptions options, int height, int width)
        : base(chain, scoring, options.InputColumnName)
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

    private protected override IEnumerable<FittedInput> FittedInputs =>
        [new(_options.InputColumnName, NumberDataViewType.Byte, "mask", [Height, Width], "meta-structure transform")];
}

/// <summary>State serialized into model zips by the meta-structure transform. Column: the mask column read (null in zips written before it was recorded).</summary>
internal sealed record MetaStructureState(int ClassCount, DensityKernel Kernel, int Bandwidth, double Sigma, DensityBorder Border, int Height, int Width, string? Column = null)
{
    public DensityOptions ToOptions() => new() { Kernel = Kernel, Bandwidth = Bandwidth, Sigma = Sigma, Border = Border };
}

/// <summary>Compute mapping of the meta-structure transform, found again at load by its contract name.</summary>
[CustomMappingFactoryAttribute(ContractName)]
internal sealed class MetaStructureFactory : StateMappingFactory<MetaStructureFactory, MetaStructureFactory.Input, MetaStructureFactory.Output, MetaStructureState>
{
    public const string ContractName = "NoisySeg.MetaStructure.v1";
    internal const string MaskColumn = "__NoisySeg_MetaStructure_Mask";
    internal const string DensityColumn = "__NoisySeg_MetaStructure_Density";

    protected override string Contract => ContractName;

    protected override MetaStructureState Decode(byte[] payload) => JsonSerializer.Deserialize<MetaStructureState>(payload)
        ?? throw new InvalidDataException("Meta-structure state is empty.");

    protected override void Map(Input input, Output output, MetaStructureState s)
    {
        SchemaChecks.RequireFittedSize(input.Mask.Length, 1, s.Height, s.Width, "Mask", "meta-structure transform", s.Column);
        output.Density = DensityMap.Compute(input.Mask, s.Width, s.Height, s.ClassCount, s.ToOptions());
    }

    internal sealed class Input : IStateRow
    {
        [ColumnName(MaskColumn), VectorType] public byte[] Mask { get; set; } = [];
        [ColumnName(StatefulMapping.StateColumn), VectorType] public byte[] State { get; set; } = [];
    }

    internal sealed class Output
    {
        [ColumnName(DensityColumn), VectorType] public float[] Density { get; set; } = [];
    }
}
