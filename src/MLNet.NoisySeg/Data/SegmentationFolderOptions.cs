using MLNet.NoisySeg.Core;

namespace MLNet.NoisySeg.Data;

/// <summary>
/// Options for loading a data set split laid out as <c>&lt;split&gt;/images/*</c> and
/// <c>&lt;split&gt;/masks/*</c> with identical file names (the layout of ISBI 2012 and CamVid here).
/// </summary>
public sealed record SegmentationFolderOptions
{
    /// <summary>Defaults.</summary>
    public static class Defaults
    {
        /// <summary>Sub-folder holding the images.</summary>
        public const string ImagesFolderName = "images";
        /// <summary>Sub-folder holding the masks.</summary>
        public const string MasksFolderName = "masks";
        /// <summary>Image column (<see cref="SegmentationColumnNames.Image"/>).</summary>
        public const string ImageColumnName = SegmentationColumnNames.Image;
        /// <summary>Mask column (<see cref="SegmentationColumnNames.Mask"/>).</summary>
        public const string MaskColumnName = SegmentationColumnNames.Mask;
        /// <summary>Name column (<see cref="SegmentationColumnNames.Name"/>).</summary>
        public const string NameColumnName = SegmentationColumnNames.Name;
        /// <summary>Largest accepted image or mask, in pixels (width x height): 268,435,456 = 16384 x 16384.</summary>
        public const long MaxImagePixels = 16384L * 16384L;
    }

    /// <summary>
    /// Upper bound for <see cref="MaxImagePixels"/>: 536,870,897, the largest pixel count whose 4-byte-per-pixel
    /// decode buffer still fits in one .NET array (<see cref="Array.MaxLength"/> / 4).
    /// </summary>
    public const long MaxImagePixelsUpperBound = 536_870_897;

    /// <summary>Sub-folder holding the images. Default "images".</summary>
    public string ImagesFolderName { get; init; } = Defaults.ImagesFolderName;

    /// <summary>Sub-folder holding the masks. Default "masks".</summary>
    public string MasksFolderName { get; init; } = Defaults.MasksFolderName;

    /// <summary>
    /// How masks encode classes. Default <see cref="Data.MaskEncoding.ClassIndex"/>. PNG masks are decoded at their
    /// stored bit depth (1-16 bits): class indices are taken as stored; binary and palette masks, which compare
    /// 8-bit values, must hold exact 8-bit values or are refused. Masks are never silently rounded.
    /// </summary>
    public MaskEncoding MaskEncoding { get; init; } = MaskEncoding.ClassIndex;

    /// <summary>For <see cref="Data.MaskEncoding.Binary"/>: the gray value (0-255) that marks foreground. Default 255; ISBI 2012 uses 0.</summary>
    public int ForegroundValue { get; init; } = 255;

    /// <summary>Number of classes (2 for binary). Class indices in files must be below it (the ignore value excepted).</summary>
    public int ClassCount { get; init; } = 2;

    /// <summary>A value in mask files that marks pixels to ignore (CamVid: 11); mapped to <see cref="MaskConventions.IgnoreIndex"/>.</summary>
    public int? IgnoreValue { get; init; }

    /// <summary>For <see cref="Data.MaskEncoding.RgbPalette"/>: colour (0xRRGGBB) to class index.</summary>
    public IReadOnlyDictionary<int, int>? Palette { get; init; }

    /// <summary>For palettes: treat colours missing from <see cref="Palette"/> as ignore instead of failing. Default false.</summary>
    public bool UnknownColorIsIgnore { get; init; }

    /// <summary>
    /// Image channels: 0 = as stored (the first file decides, all must agree), 1 = gray (colour files fail),
    /// 3 = RGB (gray files are replicated). Default 0.
    /// </summary>
    public int Channels { get; init; }

    /// <summary>Resize every image to this width (bilinear; masks nearest-neighbour). Null keeps the stored size; set both or neither.</summary>
    public int? Width { get; init; }

    /// <summary>Resize every image to this height. Null keeps the stored size; set both or neither.</summary>
    public int? Height { get; init; }

    /// <summary>Per-image z-score normalisation (the paper's). When false, pixels are scaled to [0, 1]. Default true.</summary>
    public bool ZScore { get; init; } = true;

    /// <summary>When false, images without a mask are loaded with a null mask instead of failing. Default true.</summary>
    public bool RequireMasks { get; init; } = true;

    /// <summary>
    /// When false, only images are loaded: the masks folder is never read (it may be absent or hold anything) and every
    /// item has a null mask, e.g. to predict on new images. <see cref="RequireMasks"/> is then ignored. Default true.
    /// </summary>
    public bool LoadMasks { get; init; } = true;

    /// <summary>
    /// File extensions considered images (case-insensitive). Default .png, .jpg, .jpeg, .bmp. Files are decoded by
    /// their content, not their extension: PNG, JPEG (Huffman-coded) and BMP are read; anything else (GIF, WebP,
    /// TIFF, ...) is refused with a <see cref="SegmentationDataException"/>.
    /// </summary>
    public IReadOnlyList<string> Extensions { get; init; } = [".png", ".jpg", ".jpeg", ".bmp"];

    /// <summary>
    /// Largest accepted image or mask, in pixels (width x height). Every file's header is read by managed code
    /// before any pixel buffer is allocated or any native decoder runs; a file declaring more pixels is refused with
    /// a <see cref="SegmentationDataException"/> naming the file and this limit. Decoding needs about 4 bytes per
    /// pixel plus the 4-byte float image per channel. Default <see cref="Defaults.MaxImagePixels"/>
    /// (16384 x 16384); at most <see cref="MaxImagePixelsUpperBound"/>.
    /// </summary>
    public long MaxImagePixels { get; init; } = Defaults.MaxImagePixels;

    /// <summary>Decoding parallelism; results never depend on it. Default: processor count.</summary>
    public int MaxDegreeOfParallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>Checks every option; throws naming the first bad one.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range.</exception>
    /// <exception cref="ArgumentException">Options contradict each other.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(ImagesFolderName)) throw new ArgumentException("ImagesFolderName must not be empty.", nameof(ImagesFolderName));
        if (string.IsNullOrWhiteSpace(MasksFolderName)) throw new ArgumentException("MasksFolderName must not be empty.", nameof(MasksFolderName));
        if (!Enum.IsDefined(MaskEncoding)) throw new ArgumentOutOfRangeException(nameof(MaskEncoding), MaskEncoding, "Unknown MaskEncoding.");
        if (ForegroundValue is < 0 or > 255) throw new ArgumentOutOfRangeException(nameof(ForegroundValue), ForegroundValue, "ForegroundValue must be a gray value in [0, 255].");
        if (ClassCount is < 2 or > MaskConventions.MaxClassCount)
            throw new ArgumentOutOfRangeException(nameof(ClassCount), ClassCount, $"ClassCount must be in [2, {MaskConventions.MaxClassCount}].");
        if (MaskEncoding == MaskEncoding.Binary && ClassCount != 2)
            throw new ArgumentException("ClassCount must be 2 for binary masks.", nameof(ClassCount));
        if (IgnoreValue is < 0 or > 255) throw new ArgumentOutOfRangeException(nameof(IgnoreValue), IgnoreValue, "IgnoreValue must be in [0, 255].");
        if (MaskEncoding == MaskEncoding.ClassIndex && IgnoreValue is int iv && iv < ClassCount && iv != MaskConventions.IgnoreIndex)
            throw new ArgumentException($"IgnoreValue {iv} collides with a class index (ClassCount = {ClassCount}).", nameof(IgnoreValue));
        if (MaskEncoding == MaskEncoding.RgbPalette)
        {
            if (Palette is null || Palette.Count == 0) throw new ArgumentException("Palette is required for RgbPalette masks.", nameof(Palette));
            foreach (var (colour, cls) in Palette)
            {
                if (colour is < 0 or > 0xFFFFFF) throw new ArgumentOutOfRangeException(nameof(Palette), colour, "Palette colours must be 0xRRGGBB.");
                if ((cls < 0 || cls >= ClassCount) && cls != MaskConventions.IgnoreIndex)
                    throw new ArgumentOutOfRangeException(nameof(Palette), cls, $"Palette class {cls} is outside [0, {ClassCount - 1}] (or 255 = ignore).");
            }
        }
        if (Channels is not (0 or 1 or 3)) throw new ArgumentOutOfRangeException(nameof(Channels), Channels, "Channels must be 0 (as stored), 1 or 3.");
        if (Width.HasValue != Height.HasValue) throw new ArgumentException("Set both Width and Height, or neither.", Width.HasValue ? nameof(Height) : nameof(Width));
        if (Width is <= 0) throw new ArgumentOutOfRangeException(nameof(Width), Width, "Width must be positive.");
        if (Height is <= 0) throw new ArgumentOutOfRangeException(nameof(Height), Height, "Height must be positive.");
        if (Extensions is null || Extensions.Count == 0) throw new ArgumentException("Extensions must list at least one extension.", nameof(Extensions));
        if (MaxImagePixels is < 1 or > MaxImagePixelsUpperBound)
            throw new ArgumentOutOfRangeException(nameof(MaxImagePixels), MaxImagePixels, $"MaxImagePixels must be in [1, {MaxImagePixelsUpperBound}].");
        if (MaxDegreeOfParallelism < 1) throw new ArgumentOutOfRangeException(nameof(MaxDegreeOfParallelism), MaxDegreeOfParallelism, "MaxDegreeOfParallelism must be at least 1.");
    }

    /// <summary>Binary masks with the given foreground gray value (ISBI 2012: 0).</summary>
    /// <param name="foregroundValue">Gray value of the structure.</param>
    public static SegmentationFolderOptions BinaryMasks(int foregroundValue = 255) => new() { MaskEncoding = MaskEncoding.Binary, ForegroundValue = foregroundValue, ClassCount = 2 };

    /// <summary>Class-index masks (CamVid: 11 classes, ignore value 11).</summary>
    /// <param name="classCount">Number of classes.</param>
    /// <param name="ignoreValue">Value marking ignored pixels, if any.</param>
    public static SegmentationFolderOptions ClassIndexMasks(int classCount, int? ignoreValue = null) => new() { MaskEncoding = MaskEncoding.ClassIndex, ClassCount = classCount, IgnoreValue = ignoreValue };
}
