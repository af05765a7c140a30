using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Microsoft.ML.Transforms.Image;
using MLNet.NoisySeg.Data;

namespace MLNet.NoisySeg.Pipelines;

/// <summary>
/// Options of the image preparation transform (<c>mlContext.Transforms.LoadSegmentationImage</c> /
/// <c>NormalizeSegmentationImage</c>): which column, how it becomes the planar float image <c>[C, H, W]</c> NoisySeg models
/// read, and the folder loader's preprocessing (resize, per-image z-score). The options are saved with the model, so a
/// loaded pipeline prepares a raw image (a file path, an <see cref="MLImage"/> or raw pixels) as at training.
/// </summary>
public sealed record SegmentationImageOptions
{
    /// <summary>Defaults.</summary>
    public static class Defaults
    {
        /// <summary>Input column of <c>LoadSegmentationImage</c>: image file paths.</summary>
        public const string PathColumnName = SegmentationColumnNames.ImagePath;
        /// <summary>Output column.</summary>
        public const string OutputColumnName = SegmentationColumnNames.Image;
        /// <summary>Scaling: per-image z-score, the paper's and the folder loader's.</summary>
        public const ImageScaling Scaling = ImageScaling.ZScore;
    }

    /// <summary>
    /// The input column: a text column of image file paths (PNG, JPEG, BMP; decoded as the folder loader decodes), an
    /// <see cref="MLImage"/> column (ImageAnalytics' LoadImages / ResizeImages), or a float or byte pixel vector, planar
    /// <c>[C, H, W]</c> / <c>[H, W]</c> or interleaved <c>[H, W, C]</c> (ExtractPixels). Default "ImagePath".
    /// </summary>
    public string InputColumnName { get; init; } = Defaults.PathColumnName;

    /// <summary>Output column <c>Vector&lt;Single, C, H, W&gt;</c>. Default "Image".</summary>
    public string OutputColumnName { get; init; } = Defaults.OutputColumnName;

    /// <summary>File paths: the folder relative paths are resolved against (saved with the model); null = as given. Absolute paths ignore it.</summary>
    public string? ImageFolder { get; init; }

    /// <summary>
    /// Output channels: 0 = as the input (vectors: their channels; files and images: the first one at Fit decides, gray
    /// or neutral = 1, colour = 3), 1 = gray (colour input must be neutral), 3 = RGB (gray input is replicated). Default 0.
    /// </summary>
    public int Channels { get; init; }

    /// <summary>Resize every image to this width (bilinear, as the folder loader). Null keeps the size; set both or neither.</summary>
    public int? Width { get; init; }

    /// <summary>Resize every image to this height. Null keeps the size; set both or neither.</summary>
    public int? Height { get; init; }

    /// <summary>
    /// Scaling after layout and resize: <see cref="ImageScaling.ZScore"/> (default: per image, over all channels),
    /// <see cref="ImageScaling.UnitRange"/> (8-bit values / 255) or <see cref="ImageScaling.None"/>.
    /// </summary>
    public ImageScaling Scaling { get; init; } = Defaults.Scaling;

    /// <summary>Height of a pixel-vector input column without dimensions (with <see cref="InputWidth"/>); vectors with dimensions need none.</summary>
    public int? InputHeight { get; init; }

    /// <summary>Width of a pixel-vector input column without dimensions.</summary>
    public int? InputWidth { get; init; }

    /// <summary>Files: the largest accepted width x height (checked on the header before decoding). Default 16384 x 16384.</summary>
    public long MaxImagePixels { get; init; } = SegmentationFolderOptions.Defaults.MaxImagePixels;

    /// <summary>Checks every option; throws naming the first bad one.</summary>
    public void Validate()
    {
        OptionChecks.Columns((InputColumnName, nameof(InputColumnName)), (OutputColumnName, nameof(OutputColumnName)));
        if (Channels is not (0 or 1 or 3)) throw new ArgumentOutOfRangeException(nameof(Channels), Channels, "Channels must be 0 (as the input), 1 or 3.");
        if (Width.HasValue != Height.HasValue) throw new ArgumentException("Set both Width and Height, or neither.", Width.HasValue ? nameof(Height) : nameof(Width));
        if (Width is <= 0) throw new ArgumentOutOfRangeException(nameof(Width), Width, "Width must be positive.");
        if (Height is <= 0) throw new ArgumentOutOfRangeException(nameof(Height), Height, "Height must be positive.");
        if (InputWidth.HasValue != InputHeight.HasValue) throw new ArgumentException("Set both InputWidth and InputHeight, or neither.", InputWidth.HasValue ? nameof(InputHeight) : nameof(InputWidth));
        if (InputWidth is <= 0) throw new ArgumentOutOfRangeException(nameof(InputWidth), InputWidth, "InputWidth must be positive.");
        if (InputHeight is <= 0) throw new ArgumentOutOfRangeException(nameof(InputHeight), InputHeight, "InputHeight must be positive.");
        if (!Enum.IsDefined(Scaling)) throw new ArgumentOutOfRangeException(nameof(Scaling), Scaling, "Scaling must be None, ZScore or UnitRange.");
        if (MaxImagePixels is < 1 or > SegmentationFolderOptions.MaxImagePixelsUpperBound)
            throw new ArgumentOutOfRangeException(nameof(MaxImagePixels), MaxImagePixels, $"MaxImagePixels must be in [1, {SegmentationFolderOptions.MaxImagePixelsUpperBound}].");
    }

    /// <summary>
    /// The image half of the folder loader as a transform: reads <see cref="SegmentationColumnNames.ImagePath"/> (which the
    /// loader writes) into <see cref="SegmentationColumnNames.Image"/> with the loader's channels, size and normalisation,
    /// so the same preprocessing is part of the saved model.
    /// </summary>
    /// <param name="folderOptions">The options the data was loaded with.</param>
    public static SegmentationImageOptions From(SegmentationFolderOptions folderOptions)
    {
        ArgumentNullException.ThrowIfNull(folderOptions);
        folderOptions.Validate();
        return new SegmentationImageOptions
        {
            Channels = folderOptions.Channels,
            Width = folderOptions.Width,
            Height = folderOptions.Height,
            Scaling = folderOptions.ZScore ? ImageScaling.ZScore : ImageScaling.UnitRange,
            MaxImagePixels = folderOptions.MaxImagePixels,
        };
    }
}

/// <summary>
/// Estimator of the image preparation transform: turns an image column of any kind NoisySeg reads (file paths,
/// <see cref="MLImage"/>, planar or interleaved pixel vectors) into the planar float image <c>[C, H, W]</c> the trainers
/// read, with an optional resize and the per-image z-score. Fit fixes the channels and size (from the options, the column
/// type or the first image). Put it at the head of a pipeline so the preprocessing is saved with the model.
/// </summary>
public sealed class SegmentationImageEstimator : NoisySegEstimator<SegmentationImageTransformer>
{
    private readonly SegmentationImageOptions _options;

    internal SegmentationImageEstimator(TransformsCatalog catalog, SegmentationImageOptions options) : base(catalog)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
    }

    /// <summary>The options.</summary>
    public SegmentationImageOptions Options => _options;

    private protected override IEnumerable<InputColumn> InputColumns => [];

    private const string Hint = " (mlContext.Transforms.LoadSegmentationImage / NormalizeSegmentationImage)";

    private protected override (MappingPlan Plan, Func<ITransformer, SegmentationImageTransformer> Wrap) FitPlan(IDataView input)
    {
        var column = input.Schema.GetColumnOrNull(_options.InputColumnName)
            ?? throw new ArgumentOutOfRangeException(nameof(input), _options.InputColumnName,
                $"The image column '{_options.InputColumnName}' was not found in the input schema (columns: {string.Join(", ", input.Schema.Select(c => c.Name))}).");
        var state = ImageRows.Settle(input, column, Describe(column));
        return (SegmentationImageFactories.Plan(state, _options.InputColumnName, _options.OutputColumnName),
            chain => new SegmentationImageTransformer(chain, state));
    }

    private ImageInputState Describe(DataViewSchema.Column column) => ImageColumns.Describe(column, "image column", _options.Channels, _options.Scaling,
        _options.Height, _options.Width, _options.InputHeight, _options.InputWidth, _options.ImageFolder, _options.MaxImagePixels, "");

    private protected override MappingPlan SchemaPlan() => SchemaPlan(ImageSource.FilePath);

    private MappingPlan SchemaPlan(ImageSource source) => SegmentationImageFactories.Plan(new ImageInputState(source, false, 0, 0, 0, _options.Channels,
        _options.Height, _options.Width, _options.Scaling, _options.ImageFolder, _options.MaxImagePixels, 0, 0), _options.InputColumnName, _options.OutputColumnName);

    private protected override MappingPlan SchemaPlan(SchemaShape inputSchema)
    {
        var column = inputSchema.FirstOrDefault(c => c.Name == _options.InputColumnName);
        if (column.Name is null)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), _options.InputColumnName,
                $"The image column '{_options.InputColumnName}' was not found in the input schema (columns: {string.Join(", ", inputSchema.Select(c => c.Name))}).");
        ImageSource source = column.ItemType switch
        {
            TextDataViewType => ImageSource.FilePath,
            ImageDataViewType => ImageSource.MLImage,
            _ when column.Kind != SchemaShape.Column.VectorKind.Scalar && column.ItemType == NumberDataViewType.Single => ImageSource.FloatVector,
            _ when column.Kind != SchemaShape.Column.VectorKind.Scalar && column.ItemType == NumberDataViewType.Byte => ImageSource.ByteVector,
            _ => throw new ArgumentException($"The image column '{_options.InputColumnName}' is {column.ItemType} ({column.Kind}); expected file paths (text), " +
                "an MLImage or a float or byte pixel vector.", nameof(inputSchema)),
        };
        return SchemaPlan(source);
    }
}

/// <summary>
/// Fitted image preparation: adds the planar float image column <c>[C, H, W]</c>. Saved and loaded by plain
/// <c>mlContext.Model.Save/Load</c> with its options (folder, channels, size, scaling).
/// </summary>
public sealed class SegmentationImageTransformer : ChainBackedTransformer
{
    private readonly ImageInputState _state;

    internal SegmentationImageTransformer(ITransformer chain, ImageInputState state) : base(chain) => _state = state;

    /// <summary>Output channels C.</summary>
    public int Channels => _state.Channels;

    /// <summary>Output height H.</summary>
    public int Height => _state.Height;

    /// <summary>Output width W.</summary>
    public int Width => _state.Width;

    /// <summary>How values are scaled.</summary>
    public ImageScaling Scaling => _state.Scaling;

    /// <summary>Typed convenience: the prepared image of one file, planar <c>[C, H, W]</c> (what the column holds for that path).</summary>
    /// <param name="imagePath">The image file (relative paths against the options' ImageFolder).</param>
    public float[] Prepare(string imagePath) => _state.FromFile(imagePath, imagePath);

    /// <summary>Typed convenience: the prepared image of one <see cref="MLImage"/>, planar <c>[C, H, W]</c>.</summary>
    /// <param name="image">The image.</param>
    public float[] Prepare(MLImage image) => _state.FromImage(image, "image");
}

/// <summary>The per-row mappings of the image preparation transform, one per input kind, found again at load by contract name.</summary>
internal static class SegmentationImageFactories
{
    internal const string InputColumn = "__NoisySeg_Image_In";
    internal const string OutputColumn = "__NoisySeg_Image_Out";

    internal static readonly JsonSerializerOptions Json = new() { Converters = { new JsonStringEnumConverter() } };

    public static MappingPlan Plan(ImageInputState state, string input, string output)
    {
        var blob = StateBlob.Create(JsonSerializer.SerializeToUtf8Bytes(state.AsExtractedPixels(), Json));
        IReadOnlyList<(string, string)> inputs = [(input, InputColumn)];
        IReadOnlyList<(string, string, DataViewType?)> outputs =
            [(OutputColumn, output, SchemaChecks.ShapedType(NumberDataViewType.Single, state.Channels, state.Height, state.Width))];
        return state.Source switch
        {
            ImageSource.FilePath => FromPathFactory.Plan(blob, inputs, outputs),
            ImageSource.MLImage => FromFloatsFactory.PlanFromImages(blob, inputs, outputs),
            ImageSource.ByteVector => FromBytesFactory.Plan(blob, inputs, outputs),
            _ => FromFloatsFactory.Plan(blob, inputs, outputs),
        };
    }

    public static ImageInputState Decode(byte[] payload)
        => JsonSerializer.Deserialize<ImageInputState>(payload, Json) ?? throw new InvalidDataException("Image preparation state is empty.");

    internal sealed class Output
    {
        [ColumnName(OutputColumn), VectorType] public float[] Image { get; set; } = [];
    }

    [CustomMappingFactoryAttribute(ContractName)]
    internal sealed class FromPathFactory : StateMappingFactory<FromPathFactory, FromPathFactory.Input, Output, ImageInputState>
    {
        public const string ContractName = "NoisySeg.Image.Path.v1";
        protected override string Contract => ContractName;
        protected override ImageInputState Decode(byte[] payload) => SegmentationImageFactories.Decode(payload);
        protected override void Map(Input input, Output output, ImageInputState state) => output.Image = state.FromFile(input.Path, input.Path);

        internal sealed class Input : IStateRow
        {
            [ColumnName(InputColumn)] public string Path { get; set; } = "";
            [ColumnName(StatefulMapping.StateColumn), VectorType] public byte[] State { get; set; } = [];
        }
    }

    [CustomMappingFactoryAttribute(ContractName)]
    internal sealed class FromFloatsFactory : StateMappingFactory<FromFloatsFactory, FromFloatsFactory.Input, Output, ImageInputState>
    {
        public const string ContractName = "NoisySeg.Image.Floats.v1";
        protected override string Contract => ContractName;
        protected override ImageInputState Decode(byte[] payload) => SegmentationImageFactories.Decode(payload);
        protected override void Map(Input input, Output output, ImageInputState state) => output.Image = state.FromVector(input.Pixels, "image");

        internal sealed class Input : IStateRow
        {
            [ColumnName(InputColumn), VectorType] public float[] Pixels { get; set; } = [];
            [ColumnName(StatefulMapping.StateColumn), VectorType] public byte[] State { get; set; } = [];
        }
    }

    [CustomMappingFactoryAttribute(ContractName)]
    internal sealed class FromBytesFactory : StateMappingFactory<FromBytesFactory, FromBytesFactory.Input, Output, ImageInputState>
    {
        public const string ContractName = "NoisySeg.Image.Bytes.v1";
        protected override string Contract => ContractName;
        protected override ImageInputState Decode(byte[] payload) => SegmentationImageFactories.Decode(payload);
        protected override void Map(Input input, Output output, ImageInputState state) => output.Image = state.FromBytes(input.Pixels, "image");

        internal sealed class Input : IStateRow
        {
            [ColumnName(InputColumn), VectorType] public byte[] Pixels { get; set; } = [];
            [ColumnName(StatefulMapping.StateColumn), VectorType] public byte[] State { get; set; } = [];
        }
    }
}
