using SkiaSharp;

namespace MLNet.NoisySeg.Data;

/// <summary>
/// Decodes image files through SkiaSharp (the codec library ML.NET ImageAnalytics uses) into 8-bit
/// gray or RGB pixels. 16-bit files decode at 8-bit precision (Skia rounds v/257).
/// </summary>
internal static class ImageFileDecoder
{
    /// <summary>Decoded pixels: gray = 1 byte per pixel, colour = R,G,B interleaved.</summary>
    internal readonly record struct Decoded(int Width, int Height, bool IsGray, byte[] Pixels);

    /// <summary>Decodes a file; throws <see cref="SegmentationDataException"/> naming it on any failure.</summary>
    public static Decoded Decode(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SegmentationDataException(path, $"cannot be read ({e.Message}).", e);
        }
        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(data);
        if (codec is null)
            throw new SegmentationDataException(path, "is not a readable image (corrupt, or not PNG/JPEG/BMP).");
        var info = codec.Info;
        if (info.Width <= 0 || info.Height <= 0)
            throw new SegmentationDataException(path, $"has an invalid size {info.Width}x{info.Height}.");
        bool gray = info.ColorType == SKColorType.Gray8;
        var target = new SKImageInfo(info.Width, info.Height, gray ? SKColorType.Gray8 : SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var buffer = new byte[target.BytesSize];
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
        var rgb = new byte[n * 3];
        for (int i = 0; i < n; i++)
        {
            rgb[3 * i] = buffer[4 * i];
            rgb[3 * i + 1] = buffer[4 * i + 1];
            rgb[3 * i + 2] = buffer[4 * i + 2];
        }
        return new Decoded(info.Width, info.Height, false, rgb);
    }

    /// <summary>True when every pixel of an RGB buffer has R = G = B.</summary>
    public static bool IsNeutral(ReadOnlySpan<byte> rgb)
    {
        for (int i = 0; i < rgb.Length; i += 3)
            if (rgb[i] != rgb[i + 1] || rgb[i] != rgb[i + 2]) return false;
        return true;
    }
}
