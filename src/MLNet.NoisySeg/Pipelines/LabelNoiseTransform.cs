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

    /// <summary>
    /// The corruption is a training-only step, as a trainer's label is (default true): the fitted transform corrupts the
    /// mask column when the data has it and passes the data through unchanged when it has not, and a saved model keeps
    /// the corruption's settings but not the step, so a loaded pipeline scores images without asking for a mask (and
    /// adds no corrupted column). Set false to save the corruption itself: a loaded model then corrupts masks again
    /// and needs the mask column.
    /// </summary>
    public bool TrainingOnly { get; init; } = true;

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
/// Estimator of the label-corruption transform: every way the study corrupts labels, applied
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
        LabelNoiseClasses.RequireInRange(input, _options, w);
        var blob = Blob(LabelNoiseState.From(_options, h, w));
        var scoring = _options.TrainingOnly ? FitStateOnly(blob, input) : null;
        return (Plan(blob, h, w), chain => new LabelNoiseTransformer(chain, scoring, _options, h, w));
    }

    private protected override MappingPlan SchemaPlan() => Plan(Blob(LabelNoiseState.From(_options, 0, 0)), 0, 0);

    private static byte[] Blob(LabelNoiseState state) => StateBlob.Create(JsonSerializer.SerializeToUtf8Bytes(state));

    private MappingPlan Plan(byte[] blob, int h, int w) => LabelNoiseFactory.Plan(blob,
        [(_options.InputColumnName, LabelNoiseFactory.MaskColumn), (_options.NameColumnName, LabelNoiseFactory.NameColumn)],
        [(LabelNoiseFactory.NoisyColumn, _options.OutputColumnName, SchemaChecks.MaskType(h, w))]);
}

/// <summary>
/// Fitted label-corruption transform. Saved and loaded by plain <c>mlContext.Model.Save/Load</c>; by default
/// (<see cref="LabelNoiseOptions.TrainingOnly"/>) it corrupts only data that has the mask column and saves as a
/// pass-through, so a trained pipeline scores images without masks.
/// </summary>
public sealed class LabelNoiseTransformer : ChainBackedTransformer
{
    private readonly LabelNoiseOptions _options;

    internal LabelNoiseTransformer(ITransformer chain, ITransformer? scoring, LabelNoiseOptions options, int height, int width)
        : base(chain, scoring, options.InputColumnName)
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
    /// <exception cref="ArgumentException">The mask has another size, or a class the corruption does not cover (ParamName "mask").</exception>
    public byte[] Corrupt(ReadOnlySpan<byte> mask, string imageId)
    {
        try
        {
            return _options.Noise.Apply(mask, Width, Height, _options.Seed, imageId, _options.Epoch);
        }
        catch (ArgumentException e) when (e.ParamName == "clean" && LabelNoiseClasses.Error(mask, _options.Noise, _options.InputColumnName, imageId, Width, "mask", e) is { } precise)
        {
            throw precise;
        }
    }

    private protected override IEnumerable<FittedInput> FittedInputs =>
        [new(_options.InputColumnName, NumberDataViewType.Byte, "mask", [Height, Width], "label-noise transform")];
}

/// <summary>State serialized into model zips by the label-corruption transform. Column: the mask column read (null in zips written before it was recorded).</summary>
internal sealed record LabelNoiseState(string Noise, int Seed, int Epoch, int Height, int Width, string? Column = null)
{
    public static LabelNoiseState From(LabelNoiseOptions o, int h, int w) => new(o.Noise.ToString(), o.Seed, o.Epoch, h, w, o.InputColumnName);
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
        SchemaChecks.RequireFittedSize(input.Mask.Length, 1, s.Height, s.Width, "Mask", "label-noise transform", s.Column);
        try
        {
            output.Noisy = state.Spec.Apply(input.Mask, s.Width, s.Height, s.Seed, input.Name ?? "", s.Epoch);
        }
        catch (ArgumentException e) when (e.ParamName == "clean" && LabelNoiseClasses.Error(input.Mask, state.Spec, s.Column, input.Name ?? "", s.Width, "input", e) is { } precise)
        {
            throw precise; // the kernel names its own parameter; say which image, column, pixel and option instead
        }
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

/// <summary>
/// Which class indices a corruption accepts, checked at Fit on the whole mask column and, on failure, described per row:
/// a binary corruption takes 0, 1 and 255; a noise transition matrix (or a symmetric flip) of K classes takes 0..K-1
/// and 255. The other corruptions take any class index.
/// </summary>
internal static class LabelNoiseClasses
{
    /// <summary>The number of classes <paramref name="noise"/> accepts, or null for any.</summary>
    public static int? Bound(LabelNoiseSpec noise) => noise.IsBinary ? 2 : noise.Kind switch
    {
        LabelNoiseKind.TransitionMatrix => noise.Matrix?.ClassCount,
        LabelNoiseKind.SymmetricFlip => noise.ClassCount,
        _ => null,
    };

    /// <summary>Index of the first pixel whose class <paramref name="noise"/> does not accept, or -1.</summary>
    public static int FirstOutOfRange(ReadOnlySpan<byte> mask, LabelNoiseSpec noise)
    {
        if (Bound(noise) is not int k) return -1;
        for (int i = 0; i < mask.Length; i++)
            if (mask[i] >= k && mask[i] != Core.MaskConventions.IgnoreIndex) return i;
        return -1;
    }

    /// <summary>
    /// Fit-time check: reads the mask (and identity) column once and throws <see cref="ArgumentException"/> (ParamName
    /// "input") at the first pixel whose class the corruption does not accept.
    /// </summary>
    public static void RequireInRange(IDataView input, LabelNoiseOptions options, int width)
    {
        if (Bound(options.Noise) is null) return;
        var maskColumn = input.Schema[options.InputColumnName];
        var nameColumn = input.Schema.GetColumnOrNull(options.NameColumnName);
        var columns = nameColumn is { } n ? new[] { maskColumn, n } : new[] { maskColumn };
        using var cursor = ExceptionUnwrapping.GetRowCursor(input, columns);
        var getMask = cursor.GetGetter<VBuffer<byte>>(maskColumn);
        var getName = nameColumn is { } nc ? cursor.GetGetter<ReadOnlyMemory<char>>(nc) : null;
        VBuffer<byte> mask = default;
        ReadOnlyMemory<char> name = default;
        byte[] dense = [];
        while (cursor.MoveNext())
        {
            getMask(ref mask);
            ReadOnlySpan<byte> values = mask.GetValues();
            if (!mask.IsDense)
            {
                if (dense.Length != mask.Length) dense = new byte[mask.Length];
                mask.CopyTo(dense);
                values = dense;
            }
            if (FirstOutOfRange(values, options.Noise) < 0) continue;
            string image = cursor.Position.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (getName is not null)
            {
                getName(ref name);
                image = name.ToString();
            }
            throw Error(values, options.Noise, options.InputColumnName, image, width, "input", null)!;
        }
    }

    /// <summary>The precise error for the first pixel of <paramref name="mask"/> that <paramref name="noise"/> does not accept, or null when there is none.</summary>
    public static ArgumentException? Error(ReadOnlySpan<byte> mask, LabelNoiseSpec noise, string? column, string image, int width, string paramName, Exception? inner)
    {
        int i = FirstOutOfRange(mask, noise);
        if (i < 0 || Bound(noise) is not int k) return null;
        byte v = mask[i];
        string where = $"Image '{image}': the mask column{(column is null ? "" : $" '{column}'")} holds {v} at pixel (x={i % width}, y={i / width})";
        string message = noise.IsBinary
            ? $"{where}, but the corruption {noise} (LabelNoiseOptions.Noise) needs binary masks: expected 0 (background), 1 (foreground) or 255 (ignore). " +
              "Corrupt masks with more classes with a multi-class kind (ntm, symflip, classsample, classdilate, classerode, randomprior)."
            : noise.Kind == LabelNoiseKind.TransitionMatrix
                ? $"{where}, but the corruption {noise} (LabelNoiseOptions.Noise) has a {k}x{k} noise transition matrix: expected classes 0..{k - 1} or 255 (ignore). " +
                  "Give the matrix one row and one column per class of the masks."
                : $"{where}, but the corruption {noise} (LabelNoiseOptions.Noise) has {k} classes: expected classes 0..{k - 1} or 255 (ignore). " +
                  "Set its class count to the masks' number of classes.";
        return inner is null ? new ArgumentException(message, paramName) : new ArgumentException(message, paramName, inner);
    }
}
