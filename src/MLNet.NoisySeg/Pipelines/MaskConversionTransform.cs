using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Microsoft.ML.Transforms.Image;
using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Data.Preprocessing;

namespace MLNet.NoisySeg.Pipelines;

/// <summary>
/// Options of <c>mlContext.Transforms.ConvertMaskToClassIndices</c>: which mask column, how its values become class
/// indices (binary with a foreground value or a threshold, gray-value class indices or a gray-value map, an RGB palette),
/// and an optional nearest-neighbour resize.
/// </summary>
public sealed record MaskConversionOptions
{
    /// <summary>
    /// The mask column: a text column of mask file paths (decoded at their stored bit depth, as the folder loader does),
    /// an <see cref="MLImage"/> column (LoadImages), or a float or byte pixel vector, planar <c>[C, H, W]</c> / <c>[H, W]</c>
    /// or interleaved <c>[H, W, C]</c> with 1 or 3 channels (ExtractPixels). Default "MaskPath".
    /// </summary>
    public string InputColumnName { get; init; } = SegmentationColumnNames.MaskPath;

    /// <summary>Class-index mask column to create, <c>Vector&lt;Byte, H, W&gt;</c> (255 = ignore). Default "Mask".</summary>
    public string OutputColumnName { get; init; } = SegmentationColumnNames.Mask;

    /// <summary>File paths: the folder relative paths are resolved against; null = as given.</summary>
    public string? ImageFolder { get; init; }

    /// <summary>How values encode classes (binary, class index, RGB palette). Default <see cref="MaskEncoding.Binary"/>.</summary>
    public MaskEncoding Encoding { get; init; } = MaskEncoding.Binary;

    /// <summary>Binary: the gray value (0-255) of the foreground. Default 255; ISBI 2012 uses 0.</summary>
    public int ForegroundValue { get; init; } = 255;

    /// <summary>
    /// Binary: when set, a pixel is foreground when its gray value is on <see cref="ForegroundValue"/>'s side of this
    /// threshold (at or above it when ForegroundValue is above it, at or below otherwise), so masks blended by a
    /// (bilinear or cubic) resize still convert; null (default) = exactly <see cref="ForegroundValue"/>, as the folder loader.
    /// </summary>
    public double? Threshold { get; init; }

    /// <summary>Class index: gray value to class index; null (default) = the gray value is the class index.</summary>
    public IReadOnlyDictionary<int, int>? GrayValues { get; init; }

    /// <summary>RGB palette: colour (0xRRGGBB) to class index.</summary>
    public IReadOnlyDictionary<int, int>? Palette { get; init; }

    /// <summary>Treat values missing from <see cref="GrayValues"/> or <see cref="Palette"/> as ignore (255) instead of failing. Default false.</summary>
    public bool UnknownValueIsIgnore { get; init; }

    /// <summary>A value that marks pixels to ignore (CamVid: 11); mapped to 255.</summary>
    public int? IgnoreValue { get; init; }

    /// <summary>Number of classes (2 for binary); class indices must be below it (the ignore value excepted). Default 2.</summary>
    public int ClassCount { get; init; } = 2;

    /// <summary>Resize every mask to this width (nearest neighbour, as the folder loader); null keeps the size; set both or neither.</summary>
    public int? Width { get; init; }

    /// <summary>Resize every mask to this height.</summary>
    public int? Height { get; init; }

    /// <summary>Height of a pixel-vector column without dimensions (with <see cref="InputWidth"/>).</summary>
    public int? InputHeight { get; init; }

    /// <summary>Width of a pixel-vector column without dimensions.</summary>
    public int? InputWidth { get; init; }

    /// <summary>Files: the largest accepted width x height. Default 16384 x 16384.</summary>
    public long MaxImagePixels { get; init; } = SegmentationFolderOptions.Defaults.MaxImagePixels;

    /// <summary>
    /// Mask conversion prepares labels, a training-only step (default true): the fitted transform converts when the data has
    /// the mask column and passes the data through when it has not, and a saved model keeps the settings but not the step,
    /// so a loaded pipeline scores images without a mask. Set false to save the conversion itself.
    /// </summary>
    public bool TrainingOnly { get; init; } = true;

    /// <summary>Checks every option; throws naming the first bad one.</summary>
    public void Validate()
    {
        OptionChecks.Columns((InputColumnName, nameof(InputColumnName)), (OutputColumnName, nameof(OutputColumnName)));
        if (Threshold is double t && (!double.IsFinite(t) || t < 0 || t > 255)) throw new ArgumentOutOfRangeException(nameof(Threshold), t, "Threshold must be in [0, 255].");
        if (Threshold is not null && Encoding != MaskEncoding.Binary) throw new ArgumentException("Threshold applies to binary masks only.", nameof(Threshold));
        if (GrayValues is not null && Encoding != MaskEncoding.ClassIndex) throw new ArgumentException("GrayValues applies to class-index masks only.", nameof(GrayValues));
        if (GrayValues is not null)
            foreach (var (gray, cls) in GrayValues)
            {
                if (gray is < 0 or > 255) throw new ArgumentOutOfRangeException(nameof(GrayValues), gray, "GrayValues keys must be gray values in [0, 255].");
                if ((cls < 0 || cls >= ClassCount) && cls != MaskConventions.IgnoreIndex)
                    throw new ArgumentOutOfRangeException(nameof(GrayValues), cls, $"GrayValues class {cls} is outside [0, {ClassCount - 1}] (or 255 = ignore).");
            }
        if (Width.HasValue != Height.HasValue) throw new ArgumentException("Set both Width and Height, or neither.", Width.HasValue ? nameof(Height) : nameof(Width));
        if (Width is <= 0) throw new ArgumentOutOfRangeException(nameof(Width), Width, "Width must be positive.");
        if (Height is <= 0) throw new ArgumentOutOfRangeException(nameof(Height), Height, "Height must be positive.");
        if (InputWidth.HasValue != InputHeight.HasValue) throw new ArgumentException("Set both InputWidth and InputHeight, or neither.", InputWidth.HasValue ? nameof(InputHeight) : nameof(InputWidth));
        ToFolderOptions().Validate(); // encoding, foreground value, class count, ignore value, palette: the folder loader's rules
    }

    internal SegmentationFolderOptions ToFolderOptions() => new()
    {
        MaskEncoding = Encoding, ForegroundValue = ForegroundValue, ClassCount = ClassCount, IgnoreValue = IgnoreValue,
        Palette = Palette, UnknownColorIsIgnore = UnknownValueIsIgnore, MaxImagePixels = MaxImagePixels,
    };
}

/// <summary>
/// Estimator of the mask conversion: turns a mask column (file paths, <see cref="MLImage"/>, or ExtractPixels vectors) into
/// class indices <c>[H, W]</c>, as the folder loader converts mask files. Deterministic; Fit fixes the mask size.
/// </summary>
public sealed class MaskConversionEstimator : NoisySegEstimator<MaskConversionTransformer>
{
    private readonly MaskConversionOptions _options;

    internal MaskConversionEstimator(TransformsCatalog catalog, MaskConversionOptions options) : base(catalog)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
    }

    private protected override IEnumerable<InputColumn> InputColumns => [];

    private protected override (MappingPlan Plan, Func<ITransformer, MaskConversionTransformer> Wrap) FitPlan(IDataView input)
    {
        var column = input.Schema.GetColumnOrNull(_options.InputColumnName)
            ?? throw new ArgumentOutOfRangeException(nameof(input), _options.InputColumnName,
                $"The mask column '{_options.InputColumnName}' was not found in the input schema (columns: {string.Join(", ", input.Schema.Select(c => c.Name))}).");
        var image = ImageColumns.Describe(column, "mask column", 0, ImageScaling.None, null, null, _options.InputHeight, _options.InputWidth,
            _options.ImageFolder, _options.MaxImagePixels, "");
        var state = MaskConversionState.From(_options, image);
        if (state.Height <= 0 || state.Width <= 0)
        {
            // Files and unsized images: the first mask's size (every row must have it) unless resized.
            var settled = ImageRows.Settle(input, column, image with { Channels = 1 });
            state = state with { Height = settled.Height, Width = settled.Width };
        }
        var plan = MaskConversionFactories.Plan(state, _options.InputColumnName, _options.OutputColumnName, out var blob);
        var scoring = _options.TrainingOnly ? FitStateOnly(blob, input) : null;
        return (plan, chain => new MaskConversionTransformer(chain, scoring, _options.InputColumnName, state));
    }

    private protected override MappingPlan SchemaPlan() => SchemaPlan(ImageSource.FilePath);

    private protected override MappingPlan SchemaPlan(SchemaShape inputSchema)
    {
        var column = inputSchema.FirstOrDefault(c => c.Name == _options.InputColumnName);
        if (column.Name is null)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), _options.InputColumnName,
                $"The mask column '{_options.InputColumnName}' was not found in the input schema (columns: {string.Join(", ", inputSchema.Select(c => c.Name))}).");
        return SchemaPlan(column.ItemType switch
        {
            TextDataViewType => ImageSource.FilePath,
            ImageDataViewType => ImageSource.MLImage,
            _ when column.Kind != SchemaShape.Column.VectorKind.Scalar && column.ItemType == NumberDataViewType.Single => ImageSource.FloatVector,
            _ when column.Kind != SchemaShape.Column.VectorKind.Scalar && column.ItemType == NumberDataViewType.Byte => ImageSource.ByteVector,
            _ => throw new ArgumentException($"The mask column '{_options.InputColumnName}' is {column.ItemType} ({column.Kind}); expected file paths (text), " +
                "an MLImage or a float or byte pixel vector.", nameof(inputSchema)),
        });
    }

    private MappingPlan SchemaPlan(ImageSource source)
    {
        var image = new ImageInputState(source, false, 0, 0, 0, 1, null, null, ImageScaling.None, _options.ImageFolder, _options.MaxImagePixels, 0, 0);
        return MaskConversionFactories.Plan(MaskConversionState.From(_options, image) with { Height = 0, Width = 0 },
            _options.InputColumnName, _options.OutputColumnName, out _);
    }
}

/// <summary>
/// Fitted mask conversion: adds a class-index mask column <c>[H, W]</c>. By default (<see cref="MaskConversionOptions.TrainingOnly"/>)
/// it runs only on data that has the mask column and saves as a pass-through.
/// </summary>
public sealed class MaskConversionTransformer : ChainBackedTransformer
{
    private readonly MaskConversionState _state;

    internal MaskConversionTransformer(ITransformer chain, ITransformer? scoring, string input, MaskConversionState state) : base(chain, scoring, input) => _state = state;

    /// <summary>Mask height.</summary>
    public int Height => _state.Height;

    /// <summary>Mask width.</summary>
    public int Width => _state.Width;

    /// <summary>Typed convenience: the class indices of one mask file (what the column holds for that path).</summary>
    /// <param name="maskPath">The mask file (relative paths against the options' ImageFolder).</param>
    public byte[] Convert(string maskPath) => _state.FromFile(maskPath);
}

/// <summary>State of the mask conversion (saved in model zips).</summary>
internal sealed record MaskConversionState(ImageInputState Image, MaskEncoding Encoding, int ForegroundValue, double? Threshold,
    Dictionary<int, int>? GrayValues, Dictionary<int, int>? Palette, bool UnknownValueIsIgnore, int? IgnoreValue, int ClassCount,
    int? ResizeHeight, int? ResizeWidth, int Height, int Width)
{
    public static MaskConversionState From(MaskConversionOptions o, ImageInputState image) => new(image, o.Encoding, o.ForegroundValue, o.Threshold,
        o.GrayValues?.ToDictionary(), o.Palette?.ToDictionary(), o.UnknownValueIsIgnore, o.IgnoreValue, o.ClassCount, o.Height, o.Width,
        o.Height ?? (image.Source is ImageSource.FloatVector or ImageSource.ByteVector or ImageSource.MLImage ? image.InHeight : 0),
        o.Width ?? (image.Source is ImageSource.FloatVector or ImageSource.ByteVector or ImageSource.MLImage ? image.InWidth : 0));

    private SegmentationFolderOptions Folder => new()
    {
        MaskEncoding = Encoding, ForegroundValue = ForegroundValue, ClassCount = ClassCount, IgnoreValue = IgnoreValue,
        Palette = Palette, UnknownColorIsIgnore = UnknownValueIsIgnore, MaxImagePixels = Image.MaxPixels,
    };

    public byte[] FromFile(string? path)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new InvalidOperationException("The mask path is empty.");
        string full = Image.Folder is null ? path : Path.Combine(Image.Folder, path);
        var m = ImageFileDecoder.DecodeMask(full, Image.MaxPixels);
        return Finish(Encode(m, full), m.Height, m.Width);
    }

    public byte[] FromVector(ReadOnlySpan<float> values, string row)
    {
        int c = Image.InChannels, h = Image.InHeight, w = Image.InWidth, n = h * w;
        if (values.Length != (long)c * n)
            throw new InvalidOperationException($"{row}: the mask has {values.Length} values; the transform was fitted on {c}x{h}x{w} = {(long)c * n}.");
        // Samples as the folder loader sees them: gray, or RGB interleaved; exact 8-bit values only (no silent rounding).
        var samples = new byte[c * n];
        var gray = Threshold is null ? null : new float[n];
        for (int i = 0; i < n; i++)
            for (int k = 0; k < c; k++)
            {
                float v = Image.Interleaved ? values[i * c + k] : values[k * n + i];
                if (gray is not null)
                {
                    gray[i] += v / c;
                    continue;
                }
                if (v is < 0 or > 255 || v != MathF.Round(v))
                    throw new InvalidOperationException($"{row}: mask pixel ({i % w}, {i / w}) has the value {v}, not an exact 8-bit value, so it cannot be mapped to a class " +
                        "without guessing. Masks resized by ResizeImages are blended: resize them with ResizingKind.Fill (nearest), or let this transform resize " +
                        "(Width, Height), or set Threshold for binary masks.");
                samples[i * c + k] = (byte)v;
            }
        if (gray is not null) return Finish(Thresholded(gray), h, w);
        return Finish(Encode(new MaskSamples(w, h, c == 1, 8, samples, null), row), h, w);
    }

    private byte[] Thresholded(ReadOnlySpan<float> gray)
    {
        double t = Threshold!.Value;
        bool above = ForegroundValue >= t;
        var mask = new byte[gray.Length];
        for (int i = 0; i < gray.Length; i++)
        {
            if (IgnoreValue is int iv && Math.Abs(gray[i] - iv) < 0.5f) { mask[i] = MaskConventions.IgnoreIndex; continue; }
            mask[i] = (above ? gray[i] >= t : gray[i] <= t) ? MaskConventions.Foreground : MaskConventions.Background;
        }
        return mask;
    }

    private byte[] Encode(MaskSamples m, string source)
    {
        if (Threshold is not null)
        {
            var gray = new float[m.Width * m.Height];
            int stride = m.IsGray ? 1 : 3;
            for (int i = 0; i < gray.Length; i++)
            {
                float sum = 0;
                for (int k = 0; k < stride; k++) sum += m.To8Bit(m[i * stride + k]);
                gray[i] = sum / stride;
            }
            return Thresholded(gray);
        }
        if (Encoding == MaskEncoding.ClassIndex && GrayValues is not null)
        {
            if (!m.IsNeutral()) throw new SegmentationDataException(source, "is a colour mask; gray-value maps need gray masks (use RgbPalette for colour-coded masks).");
            int stride = m.IsGray ? 1 : 3;
            var mask = new byte[m.Width * m.Height];
            for (int i = 0; i < mask.Length; i++)
            {
                int v = m.To8Bit(m[i * stride]);
                if (IgnoreValue == v) mask[i] = MaskConventions.IgnoreIndex;
                else if (GrayValues.TryGetValue(v, out int cls)) mask[i] = (byte)cls;
                else if (UnknownValueIsIgnore) mask[i] = MaskConventions.IgnoreIndex;
                else throw new SegmentationDataException(source, $"pixel ({i % m.Width}, {i / m.Width}) has the gray value {v}, which is not in GrayValues " +
                    $"({string.Join(", ", GrayValues.Keys.Order())}); add it or set UnknownValueIsIgnore.");
            }
            return mask;
        }
        return SegmentationFolderLoader.EncodeMask(m, source, Folder);
    }

    private byte[] Finish(byte[] mask, int h, int w)
    {
        if (ResizeHeight is int th && ResizeWidth is int tw && (th != h || tw != w))
        {
            mask = Resizing.Nearest(mask, h, w, th, tw);
            (h, w) = (th, tw);
        }
        if (Height > 0 && Width > 0 && (h != Height || w != Width))
            throw new InvalidOperationException($"The mask is {w}x{h} (width x height); the transform was fitted on {Width}x{Height} masks. Set Width and Height to resize every mask.");
        return mask;
    }
}

/// <summary>The per-row mappings of the mask conversion, one per input kind, found again at load by contract name.</summary>
internal static class MaskConversionFactories
{
    internal const string InputColumn = "__NoisySeg_MaskIn";
    internal const string OutputColumn = "__NoisySeg_MaskOut";

    public static MappingPlan Plan(MaskConversionState state, string input, string output, out byte[] blob)
    {
        blob = StateBlob.Create(JsonSerializer.SerializeToUtf8Bytes(state with { Image = state.Image.AsExtractedPixels() }, SegmentationImageFactories.Json));
        IReadOnlyList<(string, string)> inputs = [(input, InputColumn)];
        IReadOnlyList<(string, string, DataViewType?)> outputs = [(OutputColumn, output, SchemaChecks.MaskType(state.Height, state.Width))];
        return state.Image.Source switch
        {
            ImageSource.FilePath => FromPathFactory.Plan(blob, inputs, outputs),
            ImageSource.MLImage => FromFloatsFactory.PlanFromImages(blob, inputs, outputs),
            ImageSource.ByteVector => FromBytesFactory.Plan(blob, inputs, outputs),
            _ => FromFloatsFactory.Plan(blob, inputs, outputs),
        };
    }

    private static MaskConversionState Decode(byte[] payload)
        => JsonSerializer.Deserialize<MaskConversionState>(payload, SegmentationImageFactories.Json) ?? throw new InvalidDataException("Mask conversion state is empty.");

    internal sealed class Output
    {
        [ColumnName(OutputColumn), VectorType] public byte[] Mask { get; set; } = [];
    }

    [CustomMappingFactoryAttribute(ContractName)]
    internal sealed class FromPathFactory : StateMappingFactory<FromPathFactory, FromPathFactory.Input, Output, MaskConversionState>
    {
        public const string ContractName = "NoisySeg.Mask.Path.v1";
        protected override string Contract => ContractName;
        protected override MaskConversionState Decode(byte[] payload) => MaskConversionFactories.Decode(payload);
        protected override void Map(Input input, Output output, MaskConversionState state) => output.Mask = state.FromFile(input.Path);

        internal sealed class Input : IStateRow
        {
            [ColumnName(InputColumn)] public string Path { get; set; } = "";
            [ColumnName(StatefulMapping.StateColumn), VectorType] public byte[] State { get; set; } = [];
        }
    }

    [CustomMappingFactoryAttribute(ContractName)]
    internal sealed class FromFloatsFactory : StateMappingFactory<FromFloatsFactory, FromFloatsFactory.Input, Output, MaskConversionState>
    {
        public const string ContractName = "NoisySeg.Mask.Floats.v1";
        protected override string Contract => ContractName;
        protected override MaskConversionState Decode(byte[] payload) => MaskConversionFactories.Decode(payload);
        protected override void Map(Input input, Output output, MaskConversionState state) => output.Mask = state.FromVector(input.Pixels, "mask");

        internal sealed class Input : IStateRow
        {
            [ColumnName(InputColumn), VectorType] public float[] Pixels { get; set; } = [];
            [ColumnName(StatefulMapping.StateColumn), VectorType] public byte[] State { get; set; } = [];
        }
    }

    [CustomMappingFactoryAttribute(ContractName)]
    internal sealed class FromBytesFactory : StateMappingFactory<FromBytesFactory, FromBytesFactory.Input, Output, MaskConversionState>
    {
        public const string ContractName = "NoisySeg.Mask.Bytes.v1";
        protected override string Contract => ContractName;
        protected override MaskConversionState Decode(byte[] payload) => MaskConversionFactories.Decode(payload);

        protected override void Map(Input input, Output output, MaskConversionState state)
        {
            var f = new float[input.Pixels.Length];
            for (int i = 0; i < f.Length; i++) f[i] = input.Pixels[i];
            output.Mask = state.FromVector(f, "mask");
        }

        internal sealed class Input : IStateRow
        {
            [ColumnName(InputColumn), VectorType] public byte[] Pixels { get; set; } = [];
            [ColumnName(StatefulMapping.StateColumn), VectorType] public byte[] State { get; set; } = [];
        }
    }
}
