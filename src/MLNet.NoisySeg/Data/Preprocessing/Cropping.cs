using MLNet.NoisySeg.Core;

namespace MLNet.NoisySeg.Data.Preprocessing;

/// <summary>How <see cref="Cropping.Pad(ReadOnlySpan{float}, int, int, int, int, int, int, int, Span{float}, ImagePadMode, float)"/> fills image borders.</summary>
public enum ImagePadMode
{
    /// <summary>Fill with a constant value (0 by default).</summary>
    Constant = 0,

    /// <summary>
    /// Mirror without repeating the edge pixel (<c>numpy.pad(mode="reflect")</c>, PyTorch
    /// <c>"reflect"</c>): index -1 maps to 1. Padding larger than the image keeps reflecting
    /// back and forth; a 1-pixel-wide axis repeats its only pixel.
    /// </summary>
    Reflect = 1,
}

/// <summary>
/// Cropping and padding of planar images <c>[C, H, W]</c> and masks <c>[H, W]</c>. Every
/// function has a span form (caller-provided destination) and an allocating convenience form.
/// </summary>
public static class Cropping
{
    /// <summary>Copies the rectangle (<paramref name="x"/>, <paramref name="y"/>, <paramref name="cropWidth"/>, <paramref name="cropHeight"/>) of an image; the rectangle must lie inside the image.</summary>
    /// <param name="image">Source image <c>[C, H, W]</c>.</param>
    /// <param name="channels">Number of channels C.</param>
    /// <param name="height">Source height H.</param>
    /// <param name="width">Source width W.</param>
    /// <param name="x">Left column of the rectangle.</param>
    /// <param name="y">Top row of the rectangle.</param>
    /// <param name="cropWidth">Rectangle width.</param>
    /// <param name="cropHeight">Rectangle height.</param>
    /// <param name="destination">Destination <c>[C, cropHeight, cropWidth]</c>.</param>
    public static void Crop(ReadOnlySpan<float> image, int channels, int height, int width, int x, int y, int cropWidth, int cropHeight, Span<float> destination)
    {
        Guard.ImageSize(image.Length, channels, height, width, nameof(image));
        CropCore(image, channels, height, width, x, y, cropWidth, cropHeight, destination);
    }

    /// <summary>Crop returning a new array; see <see cref="Crop(ReadOnlySpan{float}, int, int, int, int, int, int, int, Span{float})"/>.</summary>
    /// <param name="image">Source image <c>[C, H, W]</c>.</param>
    /// <param name="channels">Number of channels C.</param>
    /// <param name="height">Source height H.</param>
    /// <param name="width">Source width W.</param>
    /// <param name="x">Left column of the rectangle.</param>
    /// <param name="y">Top row of the rectangle.</param>
    /// <param name="cropWidth">Rectangle width.</param>
    /// <param name="cropHeight">Rectangle height.</param>
    /// <returns>The cropped image <c>[C, cropHeight, cropWidth]</c>.</returns>
    public static float[] Crop(ReadOnlySpan<float> image, int channels, int height, int width, int x, int y, int cropWidth, int cropHeight)
    {
        Guard.Size(cropWidth, cropHeight, "crop");
        var result = new float[(long)channels * cropHeight * cropWidth];
        Crop(image, channels, height, width, x, y, cropWidth, cropHeight, result);
        return result;
    }

    /// <summary>Copies the rectangle (<paramref name="x"/>, <paramref name="y"/>, <paramref name="cropWidth"/>, <paramref name="cropHeight"/>) of a mask; the rectangle must lie inside the mask.</summary>
    /// <param name="mask">Source mask <c>[H, W]</c>.</param>
    /// <param name="height">Source height H.</param>
    /// <param name="width">Source width W.</param>
    /// <param name="x">Left column of the rectangle.</param>
    /// <param name="y">Top row of the rectangle.</param>
    /// <param name="cropWidth">Rectangle width.</param>
    /// <param name="cropHeight">Rectangle height.</param>
    /// <param name="destination">Destination <c>[cropHeight, cropWidth]</c>.</param>
    public static void Crop(ReadOnlySpan<byte> mask, int height, int width, int x, int y, int cropWidth, int cropHeight, Span<byte> destination)
    {
        Guard.MaskSize(mask.Length, width, height, nameof(mask));
        CropCore(mask, 1, height, width, x, y, cropWidth, cropHeight, destination);
    }

    /// <summary>Mask crop returning a new array; see <see cref="Crop(ReadOnlySpan{byte}, int, int, int, int, int, int, Span{byte})"/>.</summary>
    /// <param name="mask">Source mask <c>[H, W]</c>.</param>
    /// <param name="height">Source height H.</param>
    /// <param name="width">Source width W.</param>
    /// <param name="x">Left column of the rectangle.</param>
    /// <param name="y">Top row of the rectangle.</param>
    /// <param name="cropWidth">Rectangle width.</param>
    /// <param name="cropHeight">Rectangle height.</param>
    /// <returns>The cropped mask <c>[cropHeight, cropWidth]</c>.</returns>
    public static byte[] Crop(ReadOnlySpan<byte> mask, int height, int width, int x, int y, int cropWidth, int cropHeight)
    {
        Guard.Size(cropWidth, cropHeight, "crop");
        var result = new byte[(long)cropHeight * cropWidth];
        Crop(mask, height, width, x, y, cropWidth, cropHeight, result);
        return result;
    }

    /// <summary>
    /// Top-left corner of a centred crop: <c>x = (width - cropWidth) / 2</c>, <c>y = (height - cropHeight) / 2</c>
    /// (integer division, so an odd surplus leaves the extra pixel on the right/bottom).
    /// </summary>
    /// <param name="height">Source height.</param>
    /// <param name="width">Source width.</param>
    /// <param name="cropHeight">Crop height, at most <paramref name="height"/>.</param>
    /// <param name="cropWidth">Crop width, at most <paramref name="width"/>.</param>
    /// <returns>The crop's top-left corner.</returns>
    public static (int X, int Y) CenterCropOrigin(int height, int width, int cropHeight, int cropWidth)
    {
        CheckRectangle(height, width, 0, 0, cropWidth, cropHeight);
        return ((width - cropWidth) / 2, (height - cropHeight) / 2);
    }

    /// <summary>Centred crop of an image; see <see cref="CenterCropOrigin"/> for the placement.</summary>
    /// <param name="image">Source image <c>[C, H, W]</c>.</param>
    /// <param name="channels">Number of channels C.</param>
    /// <param name="height">Source height H.</param>
    /// <param name="width">Source width W.</param>
    /// <param name="cropHeight">Crop height.</param>
    /// <param name="cropWidth">Crop width.</param>
    /// <returns>The cropped image <c>[C, cropHeight, cropWidth]</c>.</returns>
    public static float[] CenterCrop(ReadOnlySpan<float> image, int channels, int height, int width, int cropHeight, int cropWidth)
    {
        var (x, y) = CenterCropOrigin(height, width, cropHeight, cropWidth);
        return Crop(image, channels, height, width, x, y, cropWidth, cropHeight);
    }

    /// <summary>Centred crop of a mask; see <see cref="CenterCropOrigin"/> for the placement.</summary>
    /// <param name="mask">Source mask <c>[H, W]</c>.</param>
    /// <param name="height">Source height H.</param>
    /// <param name="width">Source width W.</param>
    /// <param name="cropHeight">Crop height.</param>
    /// <param name="cropWidth">Crop width.</param>
    /// <returns>The cropped mask <c>[cropHeight, cropWidth]</c>.</returns>
    public static byte[] CenterCrop(ReadOnlySpan<byte> mask, int height, int width, int cropHeight, int cropWidth)
    {
        var (x, y) = CenterCropOrigin(height, width, cropHeight, cropWidth);
        return Crop(mask, height, width, x, y, cropWidth, cropHeight);
    }

    /// <summary>
    /// Pads an image by the given number of pixels on each side.
    /// </summary>
    /// <param name="image">Source image <c>[C, H, W]</c>.</param>
    /// <param name="channels">Number of channels C.</param>
    /// <param name="height">Source height H.</param>
    /// <param name="width">Source width W.</param>
    /// <param name="top">Rows added above (at least 0).</param>
    /// <param name="bottom">Rows added below (at least 0).</param>
    /// <param name="left">Columns added on the left (at least 0).</param>
    /// <param name="right">Columns added on the right (at least 0).</param>
    /// <param name="destination">Destination <c>[C, H + top + bottom, W + left + right]</c>.</param>
    /// <param name="mode">Constant fill or reflection.</param>
    /// <param name="value">Fill value for <see cref="ImagePadMode.Constant"/>.</param>
    public static void Pad(ReadOnlySpan<float> image, int channels, int height, int width, int top, int bottom, int left, int right,
        Span<float> destination, ImagePadMode mode = ImagePadMode.Constant, float value = 0f)
    {
        Guard.ImageSize(image.Length, channels, height, width, nameof(image));
        CheckPadding(top, bottom, left, right);
        if (mode != ImagePadMode.Constant && mode != ImagePadMode.Reflect)
            throw new ArgumentOutOfRangeException(nameof(mode), mode, "mode must be Constant or Reflect.");
        PadCore(image, channels, height, width, top, bottom, left, right, destination, mode == ImagePadMode.Reflect, value);
    }

    /// <summary>Image padding returning a new array; see <see cref="Pad(ReadOnlySpan{float}, int, int, int, int, int, int, int, Span{float}, ImagePadMode, float)"/>.</summary>
    /// <param name="image">Source image <c>[C, H, W]</c>.</param>
    /// <param name="channels">Number of channels C.</param>
    /// <param name="height">Source height H.</param>
    /// <param name="width">Source width W.</param>
    /// <param name="top">Rows added above.</param>
    /// <param name="bottom">Rows added below.</param>
    /// <param name="left">Columns added on the left.</param>
    /// <param name="right">Columns added on the right.</param>
    /// <param name="mode">Constant fill or reflection.</param>
    /// <param name="value">Fill value for <see cref="ImagePadMode.Constant"/>.</param>
    /// <returns>The padded image <c>[C, H + top + bottom, W + left + right]</c>.</returns>
    public static float[] Pad(ReadOnlySpan<float> image, int channels, int height, int width, int top, int bottom, int left, int right,
        ImagePadMode mode = ImagePadMode.Constant, float value = 0f)
    {
        CheckPadding(top, bottom, left, right);
        var result = new float[(long)channels * (height + top + bottom) * (width + left + right)];
        Pad(image, channels, height, width, top, bottom, left, right, result, mode, value);
        return result;
    }

    /// <summary>
    /// Pads a mask by the given number of pixels on each side with a constant class, by default
    /// <see cref="MaskConventions.IgnoreIndex"/> (255) so that padded pixels are never scored or trained on.
    /// </summary>
    /// <param name="mask">Source mask <c>[H, W]</c>.</param>
    /// <param name="height">Source height H.</param>
    /// <param name="width">Source width W.</param>
    /// <param name="top">Rows added above (at least 0).</param>
    /// <param name="bottom">Rows added below (at least 0).</param>
    /// <param name="left">Columns added on the left (at least 0).</param>
    /// <param name="right">Columns added on the right (at least 0).</param>
    /// <param name="destination">Destination <c>[H + top + bottom, W + left + right]</c>.</param>
    /// <param name="value">Fill class; 255 (ignore) by default.</param>
    public static void Pad(ReadOnlySpan<byte> mask, int height, int width, int top, int bottom, int left, int right,
        Span<byte> destination, byte value = MaskConventions.IgnoreIndex)
    {
        Guard.MaskSize(mask.Length, width, height, nameof(mask));
        CheckPadding(top, bottom, left, right);
        PadCore(mask, 1, height, width, top, bottom, left, right, destination, false, value);
    }

    /// <summary>Mask padding returning a new array; see <see cref="Pad(ReadOnlySpan{byte}, int, int, int, int, int, int, Span{byte}, byte)"/>.</summary>
    /// <param name="mask">Source mask <c>[H, W]</c>.</param>
    /// <param name="height">Source height H.</param>
    /// <param name="width">Source width W.</param>
    /// <param name="top">Rows added above.</param>
    /// <param name="bottom">Rows added below.</param>
    /// <param name="left">Columns added on the left.</param>
    /// <param name="right">Columns added on the right.</param>
    /// <param name="value">Fill class; 255 (ignore) by default.</param>
    /// <returns>The padded mask <c>[H + top + bottom, W + left + right]</c>.</returns>
    public static byte[] Pad(ReadOnlySpan<byte> mask, int height, int width, int top, int bottom, int left, int right,
        byte value = MaskConventions.IgnoreIndex)
    {
        CheckPadding(top, bottom, left, right);
        var result = new byte[(long)(height + top + bottom) * (width + left + right)];
        Pad(mask, height, width, top, bottom, left, right, result, value);
        return result;
    }

    /// <summary>Reflect-101 index (<c>numpy "reflect"</c>) of <paramref name="i"/> on an axis of length <paramref name="n"/>.</summary>
    /// <param name="i">Any index, possibly outside [0, n).</param>
    /// <param name="n">Axis length (at least 1).</param>
    /// <returns>The mirrored index in [0, n).</returns>
    public static int ReflectIndex(int i, int n)
    {
        if (n == 1) return 0;
        int period = 2 * (n - 1);
        int m = i % period;
        if (m < 0) m += period;
        return m < n ? m : period - m;
    }

    private static void CropCore<T>(ReadOnlySpan<T> src, int channels, int height, int width, int x, int y, int cropWidth, int cropHeight, Span<T> destination)
        where T : unmanaged
    {
        CheckRectangle(height, width, x, y, cropWidth, cropHeight);
        Guard.Destination(destination.Length, (long)channels * cropHeight * cropWidth, nameof(destination));
        int srcPlane = height * width, dstPlane = cropHeight * cropWidth;
        for (int c = 0; c < channels; c++)
            for (int r = 0; r < cropHeight; r++)
                src.Slice(c * srcPlane + (y + r) * width + x, cropWidth).CopyTo(destination.Slice(c * dstPlane + r * cropWidth, cropWidth));
    }

    private static void PadCore<T>(ReadOnlySpan<T> src, int channels, int height, int width, int top, int bottom, int left, int right,
        Span<T> destination, bool reflect, T value) where T : unmanaged
    {
        int h2 = height + top + bottom, w2 = width + left + right;
        Guard.Destination(destination.Length, (long)channels * h2 * w2, nameof(destination));
        int srcPlane = height * width, dstPlane = h2 * w2;
        for (int c = 0; c < channels; c++)
        {
            var s = src.Slice(c * srcPlane, srcPlane);
            var d = destination.Slice(c * dstPlane, dstPlane);
            for (int r = 0; r < h2; r++)
            {
                var row = d.Slice(r * w2, w2);
                int sr = r - top;
                if (!reflect && (sr < 0 || sr >= height))
                {
                    row.Fill(value);
                    continue;
                }
                if (reflect) sr = ReflectIndex(sr, height);
                var srcRow = s.Slice(sr * width, width);
                srcRow.CopyTo(row.Slice(left, width));
                if (reflect)
                {
                    for (int q = 0; q < left; q++) row[q] = srcRow[ReflectIndex(q - left, width)];
                    for (int q = left + width; q < w2; q++) row[q] = srcRow[ReflectIndex(q - left, width)];
                }
                else
                {
                    row.Slice(0, left).Fill(value);
                    row.Slice(left + width).Fill(value);
                }
            }
        }
    }

    private static void CheckPadding(int top, int bottom, int left, int right)
    {
        if (top < 0) throw new ArgumentOutOfRangeException(nameof(top), top, "top must be at least 0.");
        if (bottom < 0) throw new ArgumentOutOfRangeException(nameof(bottom), bottom, "bottom must be at least 0.");
        if (left < 0) throw new ArgumentOutOfRangeException(nameof(left), left, "left must be at least 0.");
        if (right < 0) throw new ArgumentOutOfRangeException(nameof(right), right, "right must be at least 0.");
    }

    private static void CheckRectangle(int height, int width, int x, int y, int cropWidth, int cropHeight)
    {
        if (cropWidth <= 0 || cropWidth > width)
            throw new ArgumentOutOfRangeException(nameof(cropWidth), cropWidth, $"cropWidth must be in [1, {width}] (the image width).");
        if (cropHeight <= 0 || cropHeight > height)
            throw new ArgumentOutOfRangeException(nameof(cropHeight), cropHeight, $"cropHeight must be in [1, {height}] (the image height).");
        if (x < 0 || x > width - cropWidth)
            throw new ArgumentOutOfRangeException(nameof(x), x, $"x must be in [0, {width - cropWidth}] so that the crop lies inside the image.");
        if (y < 0 || y > height - cropHeight)
            throw new ArgumentOutOfRangeException(nameof(y), y, $"y must be in [0, {height - cropHeight}] so that the crop lies inside the image.");
    }
}
