using System.Text.Json.Serialization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Data.Preprocessing;

namespace MLNet.NoisySeg.Pipelines;

/// <summary>How the per-pixel values of an image are scaled after it is brought into planar layout.</summary>
public enum ImageScaling
{
    /// <summary>Values as they are.</summary>
    None,

    /// <summary>Per-image z-score over all channels (mean 0, standard deviation 1): the paper's and the folder loader's default.</summary>
    ZScore,

    /// <summary>8-bit values divided by 255, to [0, 1] (the folder loader with <c>ZScore = false</c>).</summary>
    UnitRange,
}

/// <summary>What kind of column an image comes from.</summary>
internal enum ImageSource
{
    /// <summary>A float vector, planar <c>[C, H, W]</c> / <c>[H, W]</c> or interleaved <c>[H, W, C]</c> (ExtractPixels).</summary>
    FloatVector,

    /// <summary>A byte vector, planar or interleaved (ExtractPixels with <c>outputAsFloatArray: false</c>).</summary>
    ByteVector,

    /// <summary>An <see cref="MLImage"/> column (LoadImages, ResizeImages).</summary>
    MLImage,

    /// <summary>A text column holding image file paths.</summary>
    FilePath,
}

/// <summary>
/// How one image column becomes the planar float image <c>[C, H, W]</c> a NoisySeg model reads: where it comes from, its
/// layout and shape, the channel count, an optional bilinear resize and the scaling. Saved inside model states (JSON), so a
/// loaded pipeline converts raw images exactly as at training.
/// </summary>
/// <param name="Source">The column kind.</param>
/// <param name="Interleaved">Vectors: <c>[H, W, C]</c> rather than <c>[C, H, W]</c>.</param>
/// <param name="InChannels">Vectors: channels of the input (0 for images and files: decided per image).</param>
/// <param name="InHeight">Vectors: input height.</param>
/// <param name="InWidth">Vectors: input width.</param>
/// <param name="Channels">Output channels: 1 (gray; colour input must be neutral) or 3 (gray input is replicated).</param>
/// <param name="ResizeHeight">Bilinear resize to this height (with <paramref name="ResizeWidth"/>); null keeps the size.</param>
/// <param name="ResizeWidth">Bilinear resize to this width.</param>
/// <param name="Scaling">Scaling after layout and resize.</param>
/// <param name="Folder">File paths: the folder relative paths are resolved against; null = as given.</param>
/// <param name="MaxPixels">File paths: the largest accepted width x height.</param>
/// <param name="Height">Output height the model was fitted on (0 = any).</param>
/// <param name="Width">Output width the model was fitted on (0 = any).</param>
internal sealed record ImageInputState(ImageSource Source, bool Interleaved, int InChannels, int InHeight, int InWidth, int Channels,
    int? ResizeHeight, int? ResizeWidth, ImageScaling Scaling, string? Folder, long MaxPixels, int Height, int Width)
{
    /// <summary>True when the input already is what the model reads (planar floats, no resize, no scaling): no conversion.</summary>
    [JsonIgnore]
    public bool IsIdentity => Source == ImageSource.FloatVector && !Interleaved && InChannels == Channels && ResizeHeight is null && Scaling == ImageScaling.None;

    /// <summary>
    /// The state as the mapping of an MLImage column sees its rows: ML.NET's ExtractPixels output, planar RGB <c>[3, H, W]</c>
    /// with values 0-255 (see <see cref="StateMappingFactory{TSelf, TSrc, TDst, TState}.PlanFromImages"/>); other sources unchanged.
    /// </summary>
    public ImageInputState AsExtractedPixels() => Source == ImageSource.MLImage
        ? this with { Source = ImageSource.FloatVector, Interleaved = false, InChannels = 3 }
        : this;

    /// <summary>The planar image of one float-vector row.</summary>
    public float[] FromVector(ReadOnlySpan<float> values, string row) => Finish(Planar(values, row), InHeight, InWidth, row);

    /// <summary>The planar image of one byte-vector row.</summary>
    public float[] FromBytes(ReadOnlySpan<byte> values, string row)
    {
        var f = new float[values.Length];
        for (int i = 0; i < f.Length; i++) f[i] = values[i];
        return Finish(Planar(f, row), InHeight, InWidth, row);
    }

    /// <summary>The planar image of one <see cref="MLImage"/>.</summary>
    public float[] FromImage(MLImage? image, string row)
    {
        if (image is null) throw new InvalidOperationException($"{row}: the image is missing (null MLImage).");
        int w = image.Width, h = image.Height;
        var px = image.Pixels;
        var rgb = new byte[3 * w * h];
        bool bgra = image.PixelFormat == MLPixelFormat.Bgra32;
        if (!bgra && image.PixelFormat != MLPixelFormat.Rgba32)
            throw new InvalidOperationException($"{row}: MLImage pixel format {image.PixelFormat} is not supported (Bgra32 or Rgba32).");
        for (int i = 0, n = w * h; i < n; i++)
        {
            rgb[3 * i] = px[4 * i + (bgra ? 2 : 0)];
            rgb[3 * i + 1] = px[4 * i + 1];
            rgb[3 * i + 2] = px[4 * i + (bgra ? 0 : 2)];
        }
        var decoded = new ImageFileDecoder.Decoded(w, h, false, rgb);
        return Finish(SegmentationFolderLoader.ToPlanar(decoded, row, Channels, replicateGray: true), h, w, row);
    }

    /// <summary>The planar image of one image file.</summary>
    public float[] FromFile(string? path, string row)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new InvalidOperationException($"{row}: the image path is empty.");
        string full = Folder is null ? path : Path.Combine(Folder, path);
        var decoded = ImageFileDecoder.Decode(full, MaxPixels);
        return Finish(SegmentationFolderLoader.ToPlanar(decoded, full, Channels, replicateGray: true), decoded.Height, decoded.Width, full);
    }

    /// <summary>The channels the first image of a column has when the options leave them open (0): gray or neutral = 1, colour = 3.</summary>
    public static int ChannelsOf(MLImage image)
    {
        var px = image.Pixels;
        for (int i = 0, n = image.Width * image.Height; i < n; i++)
            if (px[4 * i] != px[4 * i + 1] || px[4 * i] != px[4 * i + 2]) return 3;
        return 1;
    }

    private float[] Planar(ReadOnlySpan<float> v, string row)
    {
        int c = InChannels, h = InHeight, w = InWidth, n = h * w;
        if (v.Length != (long)c * n)
            throw new InvalidOperationException($"{row}: the image has {v.Length} values; the model was fitted on {(Interleaved ? $"{h}x{w}x{c}" : $"{c}x{h}x{w}")} = {(long)c * n}.");
        var planar = new float[Channels * n];
        for (int k = 0; k < Channels; k++)
        {
            int src = c == 1 ? 0 : k; // 1 -> 3 channels: replicate
            for (int i = 0; i < n; i++) planar[k * n + i] = Interleaved ? v[i * c + src] : v[src * n + i];
        }
        if (Channels == 1 && c == 3)
            for (int i = 0; i < n; i++)
            {
                float r = Interleaved ? v[i * 3] : v[i], g = Interleaved ? v[i * 3 + 1] : v[n + i], b = Interleaved ? v[i * 3 + 2] : v[2 * n + i];
                if (r != g || r != b)
                    throw new InvalidOperationException($"{row}: the image has 3 colour channels but the model reads 1 (gray); pixel ({i % w}, {i / w}) is not neutral. " +
                        "Train on 3 channels, or convert to gray first (ImageAnalytics: ConvertToGrayscale before ExtractPixels).");
            }
        return planar;
    }

    private float[] Finish(float[] planar, int h, int w, string row)
    {
        if (Scaling == ImageScaling.None)
        {
            if (ResizeWidth is int tw && ResizeHeight is int th && (tw != w || th != h))
            {
                planar = Resizing.Bilinear(planar, Channels, h, w, th, tw);
                (h, w) = (th, tw);
            }
        }
        else
        {
            // Exactly the folder loader's preprocessing (same functions, same order), so a file scores as the loader loaded it.
            planar = SegmentationFolderLoader.ResizeAndNormalize(planar, Channels, ref h, ref w, ResizeWidth, ResizeHeight, Scaling == ImageScaling.ZScore);
        }
        if (Height > 0 && Width > 0 && (h != Height || w != Width))
            throw new InvalidOperationException($"{row}: the image is {w}x{h} (width x height); the model was fitted on {Width}x{Height} images. " +
                "Set Width and Height in the image options (LoadSegmentationImage / NormalizeSegmentationImage) to resize every image, or predict " +
                "other sizes with SegmentationTransformer.Predict (tiled prediction for large images).");
        return planar;
    }
}

/// <summary>Reads the kind and shape of image columns and says what to do when a column cannot be an image.</summary>
internal static class ImageColumns
{
    /// <summary>
    /// The conversion of <paramref name="column"/> into planar float images, or an <see cref="ArgumentException"/> that says
    /// what to do. Vectors: <c>[C, H, W]</c> or <c>[H, W]</c> (planar; C = 1 or 3), <c>[H, W, C]</c> with C = 1, 3 or 4
    /// and first dimension not 1 or 3 (interleaved, as ExtractPixels with interleaving); without dimensions they need
    /// <paramref name="inHeight"/> and <paramref name="inWidth"/>.
    /// </summary>
    /// <param name="column">The column.</param>
    /// <param name="role">"image column", for messages.</param>
    /// <param name="channels">Output channels: 0 = as the input (vectors) or decided later (images and files), 1 or 3.</param>
    /// <param name="scaling">The scaling.</param>
    /// <param name="resizeHeight">Resize height, if any.</param>
    /// <param name="resizeWidth">Resize width, if any.</param>
    /// <param name="inHeight">Height of vectors without dimensions.</param>
    /// <param name="inWidth">Width of vectors without dimensions.</param>
    /// <param name="folder">Folder of relative file paths.</param>
    /// <param name="maxPixels">Largest accepted file.</param>
    /// <param name="hint">What to do, appended to errors.</param>
    public static ImageInputState Describe(DataViewSchema.Column column, string role, int channels, ImageScaling scaling,
        int? resizeHeight, int? resizeWidth, int? inHeight, int? inWidth, string? folder, long maxPixels, string hint)
    {
        switch (column.Type)
        {
            case TextDataViewType:
                return new ImageInputState(ImageSource.FilePath, false, 0, 0, 0, channels, resizeHeight, resizeWidth, scaling, folder, maxPixels,
                    resizeHeight ?? 0, resizeWidth ?? 0);
            case ImageDataViewType img:
                if (img.Height <= 0 || img.Width <= 0)
                    throw new ArgumentException($"The {role} '{column.Name}' holds MLImages of unknown size (LoadImages without ResizeImages); NoisySeg " +
                        "reads MLImage columns of one known size. Put mlContext.Transforms.ResizeImages after LoadImages, or read the files with " +
                        "mlContext.Transforms.LoadSegmentationImage (images) / ConvertMaskToClassIndices (masks), which take file paths." + hint, "input");
                return new ImageInputState(ImageSource.MLImage, false, 0, img.Height, img.Width, channels, resizeHeight, resizeWidth, scaling, null, maxPixels,
                    resizeHeight ?? img.Height, resizeWidth ?? img.Width);
            case VectorDataViewType v when v.ItemType == NumberDataViewType.Single || v.ItemType == NumberDataViewType.Byte:
            {
                var (c, h, w, interleaved) = VectorShape(v, column.Name, role, inHeight, inWidth, hint);
                if (c is not (1 or 3))
                    throw new ArgumentException($"The {role} '{column.Name}' has {c} channels ({v}); NoisySeg images have 1 (gray) or 3 (RGB). " +
                        "Extract RGB only (ExtractPixels' default colorsToExtract: Rgb) or gray (ConvertToGrayscale first)." + hint, "input");
                var source = v.ItemType == NumberDataViewType.Single ? ImageSource.FloatVector : ImageSource.ByteVector;
                int outChannels = channels == 0 ? c : channels;
                return new ImageInputState(source, interleaved, c, h, w, outChannels, resizeHeight, resizeWidth, scaling, null, maxPixels,
                    resizeHeight ?? h, resizeWidth ?? w);
            }
            default:
                throw new ArgumentException($"The {role} '{column.Name}' is {column.Type}; expected a float vector [C, H, W] (or [H, W, C] as ExtractPixels " +
                    "interleaves), an MLImage (LoadImages) or a text column of file paths." + hint, "input");
        }
    }

    /// <summary>The (C, H, W, interleaved) of an image vector; an error that says what to do when its dimensions do not tell.</summary>
    public static (int C, int H, int W, bool Interleaved) VectorShape(VectorDataViewType type, string column, string role, int? inHeight, int? inWidth, string hint)
    {
        var d = type.Dimensions;
        if (d.Length == 3 && d.All(x => x > 0))
        {
            if (d[0] is 1 or 3) return (d[0], d[1], d[2], false);
            if (d[2] is 1 or 3 or 4) return (d[2], d[0], d[1], true);
            throw new ArgumentException($"The {role} '{column}' is {type}: neither planar [C, H, W] nor interleaved [H, W, C] with 1 or 3 channels." + hint, "input");
        }
        if (d.Length == 2 && d[0] > 0 && d[1] > 0) return (1, d[0], d[1], false);
        if (inHeight is int h && inWidth is int w && h > 0 && w > 0)
        {
            int size = type.Size;
            if (size > 0 && size % (h * w) != 0)
                throw new ArgumentException($"The {role} '{column}' has {size} values, not a multiple of the given {h}x{w}." + hint, "input");
            return (size > 0 ? size / (h * w) : 1, h, w, false);
        }
        throw new ArgumentException($"The {role} '{column}' is {type}, a vector without [C, H, W] dimensions (e.g. a column read back from a model zip, " +
            "or an array property without [VectorType(C, H, W)]). Declare its shape: [VectorType(1, 128, 128)] on the property, or a SchemaDefinition " +
            "column type new VectorDataViewType(NumberDataViewType.Single, C, H, W); or put mlContext.Transforms.NormalizeSegmentationImage with " +
            "InputHeight and InputWidth before this step." + hint, "input");
    }
}

/// <summary>Reads image columns of any supported kind row by row, converted by an <see cref="ImageInputState"/>.</summary>
internal static class ImageRows
{
    /// <summary>A getter of the current row's converted image, for a cursor over <paramref name="column"/>.</summary>
    public static Func<long, float[]> Getter(DataViewRowCursor cursor, DataViewSchema.Column column, ImageInputState state)
    {
        string name = column.Name;
        switch (state.Source)
        {
            case ImageSource.FloatVector:
            {
                var get = cursor.GetGetter<VBuffer<float>>(column);
                VBuffer<float> v = default;
                return row =>
                {
                    get(ref v);
                    if (state.IsIdentity) return v.DenseValues().ToArray();
                    return v.IsDense ? state.FromVector(v.GetValues(), Row(name, row)) : state.FromVector(v.DenseValues().ToArray(), Row(name, row));
                };
            }
            case ImageSource.ByteVector:
            {
                var get = cursor.GetGetter<VBuffer<byte>>(column);
                VBuffer<byte> v = default;
                return row =>
                {
                    get(ref v);
                    return state.FromBytes(v.DenseValues().ToArray(), Row(name, row));
                };
            }
            case ImageSource.MLImage:
            {
                var get = cursor.GetGetter<MLImage>(column);
                MLImage image = null!;
                return row =>
                {
                    get(ref image);
                    return state.FromImage(image, Row(name, row));
                };
            }
            default:
            {
                var get = cursor.GetGetter<ReadOnlyMemory<char>>(column);
                ReadOnlyMemory<char> path = default;
                return row =>
                {
                    get(ref path);
                    return state.FromFile(path.ToString(), Row(name, row));
                };
            }
        }
    }

    /// <summary>
    /// The state with what only the data can tell filled in from the first row: the channel count of images and files
    /// when it is left open (0), and the output size when it is neither resized nor known from the column type.
    /// </summary>
    public static ImageInputState Settle(IDataView data, DataViewSchema.Column column, ImageInputState state)
    {
        bool needChannels = state.Channels == 0, needSize = state.Height <= 0 || state.Width <= 0;
        if (!needChannels && !needSize) return state;
        // The first row, read and decoded once for both.
        using var cursor = ExceptionUnwrapping.GetRowCursor(data, new[] { column });
        if (!cursor.MoveNext()) throw new ArgumentException($"The data has no rows; the image column '{column.Name}' must show at least one image to fix the channels and size.", "input");
        int channels, height, width;
        if (state.Source == ImageSource.MLImage)
        {
            MLImage image = null!;
            cursor.GetGetter<MLImage>(column)(ref image);
            if (image is null && needSize)
                throw new ArgumentException($"The first row of the image column '{column.Name}' holds no image; its size cannot be read (resize, or give the size).", "input");
            (channels, height, width) = image is null ? (1, 0, 0) : (ImageInputState.ChannelsOf(image), image.Height, image.Width);
        }
        else
        {
            ReadOnlyMemory<char> path = default;
            cursor.GetGetter<ReadOnlyMemory<char>>(column)(ref path);
            string full = state.Folder is null ? path.ToString() : Path.Combine(state.Folder, path.ToString());
            var decoded = ImageFileDecoder.Decode(full, state.MaxPixels);
            (channels, height, width) = (decoded.IsGray ? 1 : 3, decoded.Height, decoded.Width);
        }
        if (needChannels) state = state with { Channels = channels };
        // Not resized and not known from the column type: the first image's own size (every row must have it).
        if (needSize) state = state with { Height = height, Width = width };
        return state;
    }

    private static string Row(string column, long row) => $"row {row} of '{column}'";
}
