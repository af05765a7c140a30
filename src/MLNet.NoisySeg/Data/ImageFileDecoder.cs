using SkiaSharp;

namespace MLNet.NoisySeg.Data;

/// <summary>
/// Decodes image and mask files. Every file's header is first parsed and checked by managed code
/// (<see cref="ImageHeaderReader"/>): format, declared size against the pixel limit and, for PNG, whether the
/// compressed data can hold that size. Only then is a pixel buffer allocated or a native decoder called.
/// Images go through SkiaSharp (the codec library ML.NET ImageAnalytics uses) into 8-bit gray or RGB pixels;
/// 16-bit images decode at 8-bit precision (Skia rounds v/257). PNG masks go through
/// <see cref="PngSampleDecoder"/> at their stored bit depth, so 16-bit class indices are kept exactly.
/// </summary>
internal static class ImageFileDecoder
{
    /// <summary>Decoded pixels: gray = 1 byte per pixel, colour = R,G,B interleaved.</summary>
    internal readonly record struct Decoded(int Width, int Height, bool IsGray, byte[] Pixels);

    /// <summary>Decodes an image file at 8-bit precision; throws <see cref="SegmentationDataException"/> naming it on any failure.</summary>
    /// <param name="path">The file.</param>
    /// <param name="maxPixels">The largest accepted width x height, checked on the header before decoding.</param>
    public static Decoded Decode(string path, long maxPixels)
    {
        byte[] bytes = ReadFile(path);
        var header = ImageHeaderReader.Read(bytes, path, maxPixels);
        return DecodeWithSkia(bytes, header, path);
    }

    /// <summary>
    /// Decodes a mask file at its stored precision: PNG samples as stored (1-16 bits, palette entries as 8-bit
    /// RGB); other formats through SkiaSharp when they have 8 bits per channel at most, refused otherwise.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="maxPixels">The largest accepted width x height, checked on the header before decoding.</param>
    public static MaskSamples DecodeMask(string path, long maxPixels)
    {
        byte[] bytes = ReadFile(path);
        var header = ImageHeaderReader.Read(bytes, path, maxPixels);
        if (header.Format == ImageFormat.Png)
            return PngSampleDecoder.Decode(bytes, header, path);
        // SkiaSharp decodes to 8 bits per channel; wider channels (JPEG 12-bit, BMP bit fields) would be rounded.
        if (header.BitDepth > 8)
            throw new SegmentationDataException(path, $"is a {header.Format} mask with {header.BitDepth}-bit channels, which can only be decoded at 8 bits; " +
                "that would change labels. Save the mask as PNG (8 or 16 bits).");
        var d = DecodeWithSkia(bytes, header, path);
        return new MaskSamples(d.Width, d.Height, d.IsGray, 8, d.Pixels, null);
    }

    private static byte[] ReadFile(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SegmentationDataException(path, $"cannot be read ({e.Message}).", e);
        }
    }

    private static Decoded DecodeWithSkia(byte[] bytes, ImageHeader header, string path)
    {
        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(data);
        if (codec is null)
            throw new SegmentationDataException(path, $"is not a readable image (a corrupt or unsupported {header.Format} file).");
        var info = codec.Info;
        // Defence in depth: the native decoder must agree with the header we validated (JPEG may swap sides for EXIF orientation).
        bool agrees = (info.Width == header.Width && info.Height == header.Height) || (info.Width == header.Height && info.Height == header.Width);
        if (!agrees || ToFormat(codec.EncodedFormat) != header.Format)
            throw new SegmentationDataException(path, $"is a corrupt image: its {header.Format} header declares {header.Width}x{header.Height} but the decoder reads a {codec.EncodedFormat} of {info.Width}x{info.Height}.");
        bool gray = info.ColorType == SKColorType.Gray8;
        var target = new SKImageInfo(info.Width, info.Height, gray ? SKColorType.Gray8 : SKColorType.Rgba8888, SKAlphaType.Unpremul);
        long size = (long)info.Width * info.Height * (gray ? 1 : 4);
        if (size > Array.MaxLength)
            throw new SegmentationDataException(path, $"is {info.Width}x{info.Height}, too large to decode into one array.");
        byte[] buffer;
        byte[]? rgb = null;
        try
        {
            buffer = new byte[size];
            if (!gray) rgb = new byte[size / 4 * 3];
        }
        catch (OutOfMemoryException e)
        {
            throw new SegmentationDataException(path, $"is {info.Width}x{info.Height}; not enough memory to decode it.", e);
        }
        SKCodecResult result;
        unsafe
        {
            fixed (byte* p = buffer)
                result = codec.GetPixels(target, (IntPtr)p);
        }
        if (result != SKCodecResult.Success)
            throw new SegmentationDataException(path, $"could not be fully decoded ({result}); the file is truncated or corrupt.");
        if (gray)
            return new Decoded(info.Width, info.Height, true, buffer);
        int n = info.Width * info.Height;
        for (int i = 0; i < n; i++)
        {
            rgb![3 * i] = buffer[4 * i];
            rgb[3 * i + 1] = buffer[4 * i + 1];
            rgb[3 * i + 2] = buffer[4 * i + 2];
        }
        return new Decoded(info.Width, info.Height, false, rgb!);
    }

    private static ImageFormat? ToFormat(SKEncodedImageFormat f) => f switch
    {
        SKEncodedImageFormat.Png => ImageFormat.Png,
        SKEncodedImageFormat.Jpeg => ImageFormat.Jpeg,
        SKEncodedImageFormat.Bmp => ImageFormat.Bmp,
        _ => null,
    };

    /// <summary>True when every pixel of an RGB buffer has R = G = B.</summary>
    public static bool IsNeutral(ReadOnlySpan<byte> rgb)
    {
        for (int i = 0; i < rgb.Length; i += 3)
            if (rgb[i] != rgb[i + 1] || rgb[i] != rgb[i + 2]) return false;
        return true;
    }
}

/// <summary>
/// Mask samples at the file's stored precision: gray = one sample per pixel, colour = R,G,B interleaved.
/// Exactly one of <see cref="Narrow"/> (bit depth 1-8) and <see cref="Wide"/> (bit depth 16) is set.
/// </summary>
/// <param name="Width">Width in pixels.</param>
/// <param name="Height">Height in pixels.</param>
/// <param name="IsGray">One sample per pixel (gray) rather than three (RGB).</param>
/// <param name="BitDepth">Bits per stored sample: 1, 2, 4, 8 or 16; values are 0..2^BitDepth-1, not rescaled.</param>
/// <param name="Narrow">Samples when <paramref name="BitDepth"/> is at most 8.</param>
/// <param name="Wide">Samples when <paramref name="BitDepth"/> is 16.</param>
internal sealed record MaskSamples(int Width, int Height, bool IsGray, int BitDepth, byte[]? Narrow, ushort[]? Wide)
{
    /// <summary>Sample <paramref name="i"/> as stored.</summary>
    public int this[int i] => Wide is null ? Narrow![i] : Wide[i];

    /// <summary>True when gray, or every pixel has R = G = B.</summary>
    public bool IsNeutral()
    {
        if (IsGray) return true;
        int n = 3 * Width * Height;
        for (int i = 0; i < n; i += 3)
            if (this[i] != this[i + 1] || this[i] != this[i + 2]) return false;
        return true;
    }

    /// <summary>
    /// The 8-bit gray value of a stored sample: depths below 8 are scaled exactly (1 bit: x255, 2: x85, 4: x17);
    /// 16-bit samples must be multiples of 257 (an 8-bit value widened); -1 when there is no exact 8-bit value.
    /// </summary>
    public int To8Bit(int sample) => BitDepth switch
    {
        8 => sample,
        16 => sample % 257 == 0 ? sample / 257 : -1,
        1 => sample * 255,
        2 => sample * 85,
        4 => sample * 17,
        _ => -1,
    };
}
