using SkiaSharp;

namespace MLNet.NoisySeg.Data;

/// <summary>
/// Writes 8-bit gray or RGB PNG files through SkiaSharp. Files are written to a temporary name in the
/// same folder and renamed, so a crash never leaves a half-written PNG under the final name.
/// </summary>
public static class PngWriter
{
    /// <summary>Writes an 8-bit gray PNG (for masks: class indices as gray values).</summary>
    /// <param name="path">Destination file; its folder is created if needed.</param>
    /// <param name="pixels">Row-major gray values, width x height.</param>
    /// <param name="width">Width in pixels.</param>
    /// <param name="height">Height in pixels.</param>
    public static void WriteGray(string path, ReadOnlySpan<byte> pixels, int width, int height)
    {
        Core.Guard.MaskSize(pixels.Length, width, height, nameof(pixels));
        using var bmp = new SKBitmap(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque));
        int stride = bmp.RowBytes;
        for (int y = 0; y < height; y++)
            pixels.Slice(y * width, width).CopyTo(RowSpan(bmp, y, stride, width));
        Encode(path, bmp);
    }

    /// <summary>Writes an 8-bit RGB PNG from interleaved R, G, B bytes.</summary>
    /// <param name="path">Destination file; its folder is created if needed.</param>
    /// <param name="rgb">Interleaved RGB, 3 x width x height bytes.</param>
    /// <param name="width">Width in pixels.</param>
    /// <param name="height">Height in pixels.</param>
    public static void WriteRgb(string path, ReadOnlySpan<byte> rgb, int width, int height)
    {
        if (width <= 0 || height <= 0 || rgb.Length != 3L * width * height)
            throw new ArgumentException($"rgb has {rgb.Length} bytes; expected 3 x {width} x {height}.", nameof(rgb));
        using var bmp = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        int stride = bmp.RowBytes;
        for (int y = 0; y < height; y++)
        {
            var row = RowSpan(bmp, y, stride, width * 4);
            for (int x = 0; x < width; x++)
            {
                int s = 3 * (y * width + x);
                row[4 * x] = rgb[s];
                row[4 * x + 1] = rgb[s + 1];
                row[4 * x + 2] = rgb[s + 2];
                row[4 * x + 3] = 255;
            }
        }
        Encode(path, bmp);
    }

    /// <summary>
    /// Converts a float image (planar [C, H, W], C = 1 or 3) to 8-bit by linear min-max scaling and writes it.
    /// </summary>
    /// <param name="path">Destination file.</param>
    /// <param name="image">Planar pixels.</param>
    /// <param name="channels">1 or 3.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    public static void WriteScaled(string path, ReadOnlySpan<float> image, int channels, int height, int width)
    {
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), channels, "channels must be 1 or 3.");
        int n = height * width;
        if (image.Length != channels * n) throw new ArgumentException($"image has {image.Length} values; expected {channels}x{height}x{width}.", nameof(image));
        float min = float.PositiveInfinity, max = float.NegativeInfinity;
        foreach (var v in image) { if (v < min) min = v; if (v > max) max = v; }
        float scale = max > min ? 255f / (max - min) : 0f;
        byte Q(float v) => (byte)Math.Clamp((int)MathF.Round((v - min) * scale), 0, 255);
        if (channels == 1)
        {
            var g = new byte[n];
            for (int i = 0; i < n; i++) g[i] = Q(image[i]);
            WriteGray(path, g, width, height);
            return;
        }
        var rgb = new byte[3 * n];
        for (int i = 0; i < n; i++)
        {
            rgb[3 * i] = Q(image[i]);
            rgb[3 * i + 1] = Q(image[n + i]);
            rgb[3 * i + 2] = Q(image[2 * n + i]);
        }
        WriteRgb(path, rgb, width, height);
    }

    private static unsafe Span<byte> RowSpan(SKBitmap bmp, int y, int stride, int length)
        => new Span<byte>((void*)bmp.GetPixels(), bmp.ByteCount).Slice(y * stride, length);

    private static void Encode(string path, SKBitmap bmp)
    {
        using var image = SKImage.FromBitmap(bmp);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100)
            ?? throw new IOException($"{path}: PNG encoding failed.");
        AtomicFile.Write(path, data.AsSpan());
    }
}

/// <summary>Writes files atomically: a temporary file in the same folder, then a rename over the target.</summary>
internal static class AtomicFile
{
    public static void Write(string path, ReadOnlySpan<byte> bytes)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string tmp = full + "." + Environment.ProcessId + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp";
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write))
            {
                fs.Write(bytes);
                fs.Flush(true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    public static void WriteText(string path, string text) => Write(path, System.Text.Encoding.UTF8.GetBytes(text));
}
