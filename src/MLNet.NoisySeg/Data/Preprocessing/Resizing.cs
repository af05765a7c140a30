using MLNet.NoisySeg.Core;
using System.Buffers;

namespace MLNet.NoisySeg.Data.Preprocessing;

/// <summary>
/// Resizing of planar images (bilinear) and masks (nearest neighbour). Images and their masks
/// resized with these functions stay aligned: both use the pixel-centre convention
/// (a destination pixel <c>d</c> looks at source coordinate <c>(d + 0.5) * src / dst - 0.5</c>).
/// </summary>
public static class Resizing
{
    /// <summary>
    /// Bilinear resize of a planar image with <c>align_corners = false</c>: the formula of
    /// <c>torch.nn.functional.interpolate(mode="bilinear", align_corners=False, antialias=False)</c>
    /// with an explicit output size (and of OpenCV <c>INTER_LINEAR</c>), evaluated in single
    /// precision in PyTorch's order, so results agree to float rounding. The source coordinate of
    /// destination pixel <c>d</c> is <c>s = max(0, (d + 0.5) * srcSize / dstSize - 0.5)</c>,
    /// interpolated between <c>floor(s)</c> and <c>min(floor(s) + 1, srcSize - 1)</c>.
    /// No antialiasing when shrinking (resize in steps of at most 2x, or blur first, to avoid aliasing).
    /// </summary>
    /// <param name="source">Source image <c>[C, sourceHeight, sourceWidth]</c>.</param>
    /// <param name="channels">Number of channels C.</param>
    /// <param name="sourceHeight">Source height.</param>
    /// <param name="sourceWidth">Source width.</param>
    /// <param name="destination">Destination <c>[C, height, width]</c>; fully overwritten.</param>
    /// <param name="height">Destination height.</param>
    /// <param name="width">Destination width.</param>
    public static void Bilinear(ReadOnlySpan<float> source, int channels, int sourceHeight, int sourceWidth,
        Span<float> destination, int height, int width)
    {
        Guard.ImageSize(source.Length, channels, sourceHeight, sourceWidth, nameof(source));
        Guard.ImageSize(destination.Length, channels, height, width, nameof(destination));

        int[] rented = ArrayPool<int>.Shared.Rent(2 * width + 2 * height);
        float[] rentedW = ArrayPool<float>.Shared.Rent(2 * width + 2 * height);
        try
        {
            Span<int> x0 = rented.AsSpan(0, width), x1 = rented.AsSpan(width, width);
            Span<int> y0 = rented.AsSpan(2 * width, height), y1 = rented.AsSpan(2 * width + height, height);
            Span<float> wx1 = rentedW.AsSpan(0, width), wx0 = rentedW.AsSpan(width, width);
            Span<float> wy1 = rentedW.AsSpan(2 * width, height), wy0 = rentedW.AsSpan(2 * width + height, height);
            SourceIndices(sourceWidth, width, x0, x1, wx0, wx1);
            SourceIndices(sourceHeight, height, y0, y1, wy0, wy1);

            int srcPlane = sourceHeight * sourceWidth, dstPlane = height * width;
            for (int c = 0; c < channels; c++)
            {
                var src = source.Slice(c * srcPlane, srcPlane);
                var dst = destination.Slice(c * dstPlane, dstPlane);
                for (int y = 0; y < height; y++)
                {
                    var r0 = src.Slice(y0[y] * sourceWidth, sourceWidth);
                    var r1 = src.Slice(y1[y] * sourceWidth, sourceWidth);
                    float a0 = wy0[y], a1 = wy1[y];
                    var row = dst.Slice(y * width, width);
                    for (int x = 0; x < width; x++)
                    {
                        int i0 = x0[x], i1 = x1[x];
                        float b0 = wx0[x], b1 = wx1[x];
                        // Same evaluation order as PyTorch's CPU kernel.
                        row[x] = a0 * (b0 * r0[i0] + b1 * r0[i1]) + a1 * (b0 * r1[i0] + b1 * r1[i1]);
                    }
                }
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(rented);
            ArrayPool<float>.Shared.Return(rentedW);
        }
    }

    /// <summary>Bilinear resize returning a new array; see <see cref="Bilinear(ReadOnlySpan{float}, int, int, int, Span{float}, int, int)"/>.</summary>
    /// <param name="source">Source image <c>[C, sourceHeight, sourceWidth]</c>.</param>
    /// <param name="channels">Number of channels C.</param>
    /// <param name="sourceHeight">Source height.</param>
    /// <param name="sourceWidth">Source width.</param>
    /// <param name="height">Destination height.</param>
    /// <param name="width">Destination width.</param>
    /// <returns>The resized image <c>[C, height, width]</c>.</returns>
    public static float[] Bilinear(ReadOnlySpan<float> source, int channels, int sourceHeight, int sourceWidth, int height, int width)
    {
        Guard.Size(width, height, "destination");
        var result = new float[(long)channels * height * width];
        Bilinear(source, channels, sourceHeight, sourceWidth, result, height, width);
        return result;
    }

    /// <summary>
    /// Nearest-neighbour resize of a mask (class indices, including the ignore value, are copied,
    /// never blended). Source row of destination row <c>y</c> is
    /// <c>floor((y + 0.5) * sourceHeight / height)</c> (clamped), likewise for columns: the
    /// pixel-centre convention of <c>torch interpolate(mode="nearest-exact")</c> and OpenCV
    /// <c>INTER_NEAREST_EXACT</c>, which keeps masks aligned with <see cref="Bilinear(ReadOnlySpan{float}, int, int, int, Span{float}, int, int)"/>
    /// (PyTorch's legacy <c>"nearest"</c> uses <c>floor(y * src / dst)</c> and shifts by half a pixel).
    /// Computed in exact integer arithmetic.
    /// </summary>
    /// <param name="source">Source mask <c>[sourceHeight, sourceWidth]</c>.</param>
    /// <param name="sourceHeight">Source height.</param>
    /// <param name="sourceWidth">Source width.</param>
    /// <param name="destination">Destination mask <c>[height, width]</c>; fully overwritten.</param>
    /// <param name="height">Destination height.</param>
    /// <param name="width">Destination width.</param>
    public static void Nearest(ReadOnlySpan<byte> source, int sourceHeight, int sourceWidth, Span<byte> destination, int height, int width)
        => NearestCore(source, 1, sourceHeight, sourceWidth, destination, height, width);

    /// <summary>Nearest-neighbour resize of a mask returning a new array; see <see cref="Nearest(ReadOnlySpan{byte}, int, int, Span{byte}, int, int)"/>.</summary>
    /// <param name="source">Source mask <c>[sourceHeight, sourceWidth]</c>.</param>
    /// <param name="sourceHeight">Source height.</param>
    /// <param name="sourceWidth">Source width.</param>
    /// <param name="height">Destination height.</param>
    /// <param name="width">Destination width.</param>
    /// <returns>The resized mask <c>[height, width]</c>.</returns>
    public static byte[] Nearest(ReadOnlySpan<byte> source, int sourceHeight, int sourceWidth, int height, int width)
    {
        Guard.Size(width, height, "destination");
        var result = new byte[(long)height * width];
        Nearest(source, sourceHeight, sourceWidth, result, height, width);
        return result;
    }

    /// <summary>Nearest-neighbour resize of a planar float image (for example per-class probability maps), same convention as the mask overload.</summary>
    /// <param name="source">Source image <c>[C, sourceHeight, sourceWidth]</c>.</param>
    /// <param name="channels">Number of channels C.</param>
    /// <param name="sourceHeight">Source height.</param>
    /// <param name="sourceWidth">Source width.</param>
    /// <param name="destination">Destination <c>[C, height, width]</c>; fully overwritten.</param>
    /// <param name="height">Destination height.</param>
    /// <param name="width">Destination width.</param>
    public static void Nearest(ReadOnlySpan<float> source, int channels, int sourceHeight, int sourceWidth, Span<float> destination, int height, int width)
        => NearestCore(source, channels, sourceHeight, sourceWidth, destination, height, width);

    /// <summary>Source index of destination index <paramref name="d"/> under the nearest-exact convention.</summary>
    /// <param name="d">Destination index in [0, dstSize).</param>
    /// <param name="srcSize">Source size.</param>
    /// <param name="dstSize">Destination size.</param>
    /// <returns><c>min(floor((d + 0.5) * srcSize / dstSize), srcSize - 1)</c>.</returns>
    public static int NearestSourceIndex(int d, int srcSize, int dstSize)
        => (int)Math.Min((2L * d + 1) * srcSize / (2L * dstSize), srcSize - 1);

    private static void NearestCore<T>(ReadOnlySpan<T> source, int channels, int sourceHeight, int sourceWidth, Span<T> destination, int height, int width)
        where T : unmanaged
    {
        Guard.ImageSize(source.Length, channels, sourceHeight, sourceWidth, nameof(source));
        Guard.ImageSize(destination.Length, channels, height, width, nameof(destination));
        int[] rented = ArrayPool<int>.Shared.Rent(width);
        try
        {
            Span<int> xs = rented.AsSpan(0, width);
            for (int x = 0; x < width; x++) xs[x] = NearestSourceIndex(x, sourceWidth, width);
            int srcPlane = sourceHeight * sourceWidth, dstPlane = height * width;
            for (int c = 0; c < channels; c++)
            {
                for (int y = 0; y < height; y++)
                {
                    var srcRow = source.Slice(c * srcPlane + NearestSourceIndex(y, sourceHeight, height) * sourceWidth, sourceWidth);
                    var row = destination.Slice(c * dstPlane + y * width, width);
                    for (int x = 0; x < width; x++) row[x] = srcRow[xs[x]];
                }
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(rented);
        }
    }

    private static void SourceIndices(int srcSize, int dstSize, Span<int> i0, Span<int> i1, Span<float> w0, Span<float> w1)
    {
        // PyTorch: scale = (float)src/dst; real = max(scale * (d + 0.5) - 0.5, 0); i0 = (int)real; lambda = real - i0.
        float scale = (float)srcSize / dstSize;
        for (int d = 0; d < dstSize; d++)
        {
            float real = scale * (d + 0.5f) - 0.5f;
            if (real < 0) real = 0;
            int a = (int)real;
            if (a > srcSize - 1) a = srcSize - 1;
            int b = a < srcSize - 1 ? a + 1 : a;
            float lambda = real - a;
            i0[d] = a;
            i1[d] = b;
            w1[d] = lambda;
            w0[d] = 1f - lambda;
        }
    }
}
