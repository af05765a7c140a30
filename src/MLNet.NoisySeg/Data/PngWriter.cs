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
        Core.Guard.ImageSize(rgb.Length, 3, height, width, nameof(rgb));
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
    /// Converts a float image (planar [C, H, W], C = 1 or 3) to 8-bit (<paramref name="scaling"/>) and writes it as a gray
    /// or RGB PNG: the one float-to-8-bit writer of the library.
    /// </summary>
    /// <param name="path">Destination file.</param>
    /// <param name="image">Planar pixels.</param>
    /// <param name="channels">1 or 3.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="scaling">How values become 0-255. Default <see cref="PixelScaling.MinMax"/>.</param>
    public static void WriteScaled(string path, ReadOnlySpan<float> image, int channels, int height, int width, PixelScaling scaling = PixelScaling.MinMax)
    {
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), channels, "channels must be 1 or 3.");
        Core.Guard.ImageSize(image.Length, channels, height, width, nameof(image));
        var q = new Quantizer(image, scaling);
        if (channels == 1)
        {
            var g = new byte[image.Length];
            for (int i = 0; i < g.Length; i++) g[i] = q.Map(image[i]);
            WriteGray(path, g, width, height);
            return;
        }
        WriteRgb(path, ToRgb(image, channels, height, width, scaling), width, height);
    }

    /// <summary>
    /// A float image (planar [C, H, W], C = 1 or 3) as interleaved 8-bit RGB (gray replicated to the three channels),
    /// scaled as <see cref="WriteScaled"/> does: for composing panels and overlays.
    /// </summary>
    /// <param name="image">Planar pixels.</param>
    /// <param name="channels">1 or 3.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="scaling">How values become 0-255. Default <see cref="PixelScaling.MinMax"/> (over all channels).</param>
    /// <returns>3 x height x width bytes, R, G, B per pixel.</returns>
    public static byte[] ToRgb(ReadOnlySpan<float> image, int channels, int height, int width, PixelScaling scaling = PixelScaling.MinMax)
    {
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), channels, "channels must be 1 or 3.");
        Core.Guard.ImageSize(image.Length, channels, height, width, nameof(image));
        var q = new Quantizer(image, scaling);
        int n = height * width;
        var rgb = new byte[3 * n];
        for (int i = 0; i < n; i++)
            for (int c = 0; c < 3; c++)
                rgb[3 * i + c] = q.Map(image[(channels == 3 ? c : 0) * n + i]);
        return rgb;
    }

    /// <summary>Maps float pixels to bytes under one <see cref="PixelScaling"/>.</summary>
    private readonly struct Quantizer
    {
        private readonly PixelScaling _scaling;
        private readonly float _min, _scale;

        public Quantizer(ReadOnlySpan<float> image, PixelScaling scaling)
        {
            if (!Enum.IsDefined(scaling)) throw new ArgumentOutOfRangeException(nameof(scaling), scaling, "scaling must be MinMax or UnitRange.");
            _scaling = scaling;
            float min = float.PositiveInfinity, max = float.NegativeInfinity;
            if (scaling == PixelScaling.MinMax)
                foreach (var v in image) { if (v < min) min = v; if (v > max) max = v; }
            _min = min;
            _scale = max > min ? 255f / (max - min) : 0f;
        }

        public byte Map(float v) => _scaling == PixelScaling.MinMax
            ? (byte)Math.Clamp((int)MathF.Round((v - _min) * _scale), 0, 255)
            : (byte)MathF.Round(Math.Clamp(v, 0f, 1f) * 255f);
    }

    private static unsafe Span<byte> RowSpan(SKBitmap bmp, int y, int stride, int length)
        => new Span<byte>((void*)bmp.GetPixels(), bmp.ByteCount).Slice(y * stride, length);

    private static void Encode(string path, SKBitmap bmp)
    {
        using var image = SKImage.FromBitmap(bmp);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100)
            ?? throw new IOException($"{path}: PNG encoding failed.");
        Core.AtomicFile.Write(path, data.AsSpan());
    }
}

/// <summary>How float pixels become 8-bit values when written (<see cref="PngWriter.WriteScaled"/>).</summary>
public enum PixelScaling
{
    /// <summary>Linear from the image's minimum (0) to its maximum (255), over all channels: any normalisation (e.g. z-scored images).</summary>
    MinMax,

    /// <summary>Values in [0, 1] times 255 (clamped): intensities that are already on a fixed scale (e.g. synthetic images).</summary>
    UnitRange,
}
