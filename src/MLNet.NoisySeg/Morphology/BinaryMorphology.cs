using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MLNet.NoisySeg.Core;

namespace MLNet.NoisySeg.Morphology;

/// <summary>
/// Morphology on binary masks (row-major bytes, see <see cref="MaskConventions"/>): dilation and
/// erosion with a disk, topology-preserving skeletonization, random pixel shift and the band of
/// pixels near a foreground/background boundary.
/// </summary>
/// <remarks>
/// <para>Input values: 0 is background, <see cref="MaskConventions.IgnoreIndex"/> (255) is ignore,
/// every other value is foreground. Ignore pixels count as background for the structure and are
/// written back as 255 unchanged; every other output pixel is 0 or 1.</para>
/// <para>The disk of radius k holds the offsets with dx² + dy² ≤ k² (as
/// <c>skimage.morphology.disk(k)</c>); k = 0 is the identity. Erosion treats pixels outside the
/// image as background, like <c>scipy.ndimage.binary_erosion</c> with its default
/// <c>border_value=0</c>: a foreground pixel closer than k to the image edge (along the disk) is eroded.</para>
/// <para>Dilation and erosion decompose the disk into one horizontal run per row offset: a first
/// pass computes, for every pixel, the horizontal distance (capped at k + 1) to the nearest relevant
/// pixel in its row, and a second pass ORs 2k + 1 comparisons per output row against the run
/// half-widths, so the cost is O(2k + 1) per pixel; both passes are vectorised (System.Numerics.Vector)
/// and, from one megapixel on, parallel over fixed blocks of rows; the result does not depend on thread count.</para>
/// </remarks>
public static partial class BinaryMorphology
{
    /// <summary>Largest supported disk radius (distances are stored as saturating bytes).</summary>
    public const int MaxRadius = 254;

    private const int ParallelMinPixels = 1 << 20;
    private const int RowsPerChunk = 16;

    /// <summary>Dilation with a disk of radius <paramref name="radius"/>: a pixel becomes foreground
    /// if any foreground pixel lies within the disk around it.</summary>
    /// <param name="src">Source mask (width x height).</param>
    /// <param name="dst">Destination mask of the same size; must not overlap <paramref name="src"/>.</param>
    /// <param name="width">Mask width.</param>
    /// <param name="height">Mask height.</param>
    /// <param name="radius">Disk radius k in [0, <see cref="MaxRadius"/>].</param>
    public static void Dilate(ReadOnlySpan<byte> src, Span<byte> dst, int width, int height, int radius)
    {
        CheckArgs(src, dst, width, height, radius);
        DiskReach<ForegroundRule>(src, dst, width, height, radius, outsideIsSet: false, OutputMode.Dilate);
    }

    /// <summary>Erosion with a disk of radius <paramref name="radius"/>: a foreground pixel stays
    /// foreground only if every pixel of the disk around it is foreground (outside the image = background).</summary>
    /// <param name="src">Source mask (width x height).</param>
    /// <param name="dst">Destination mask of the same size; must not overlap <paramref name="src"/>.</param>
    /// <param name="width">Mask width.</param>
    /// <param name="height">Mask height.</param>
    /// <param name="radius">Disk radius k in [0, <see cref="MaxRadius"/>].</param>
    public static void Erode(ReadOnlySpan<byte> src, Span<byte> dst, int width, int height, int radius)
    {
        CheckArgs(src, dst, width, height, radius);
        DiskReach<NotForegroundRule>(src, dst, width, height, radius, outsideIsSet: true, OutputMode.Erode);
    }

    /// <summary>
    /// Marks the pixels within Euclidean distance <paramref name="distance"/> of the other class:
    /// a foreground pixel is in the band if a background pixel lies within the disk of radius
    /// <paramref name="distance"/> around it, and vice versa. Ignore pixels belong to neither class,
    /// are never in the band and are written back as 255. Pixels outside the image are neither.
    /// </summary>
    /// <param name="src">Source mask (width x height).</param>
    /// <param name="band">Output: 1 inside the band, 0 outside, 255 for ignore pixels.</param>
    /// <param name="width">Mask width.</param>
    /// <param name="height">Mask height.</param>
    /// <param name="distance">Band half-width d in [0, <see cref="MaxRadius"/>]; 0 gives an empty band.</param>
    public static void BoundaryBand(ReadOnlySpan<byte> src, Span<byte> band, int width, int height, int distance)
    {
        CheckArgs(src, band, width, height, distance, nameof(distance));
        int n = src.Length;
        byte[] nearFg = ArrayPool<byte>.Shared.Rent(n);
        byte[] nearBg = ArrayPool<byte>.Shared.Rent(n);
        try
        {
            DiskReach<ForegroundRule>(src, nearFg.AsSpan(0, n), width, height, distance, false, OutputMode.Raw);
            DiskReach<BackgroundRule>(src, nearBg.AsSpan(0, n), width, height, distance, false, OutputMode.Raw);
            for (int i = 0; i < n; i++)
            {
                byte v = src[i];
                band[i] = v == MaskConventions.IgnoreIndex ? MaskConventions.IgnoreIndex
                    : v == 0 ? nearFg[i] : nearBg[i];
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(nearFg);
            ArrayPool<byte>.Shared.Return(nearBg);
        }
    }

    /// <summary>
    /// Pixel shift: every foreground pixel moves by independent integer offsets drawn uniformly from
    /// [-r, r] along x and then y, clipped to the image; pixels landing on the same place merge.
    /// Ignore pixels stay 255 and absorb (lose) foreground pixels that land on them.
    /// </summary>
    /// <param name="src">Source mask (width x height).</param>
    /// <param name="dst">Destination of the same size; must not overlap <paramref name="src"/>.</param>
    /// <param name="width">Mask width.</param>
    /// <param name="height">Mask height.</param>
    /// <param name="radius">Shift radius r ≥ 0 (0 copies the mask).</param>
    /// <param name="rng">Random stream; foreground pixels consume two draws each, in raster order.</param>
    public static void Shift(ReadOnlySpan<byte> src, Span<byte> dst, int width, int height, int radius, ref SeededRandom rng)
    {
        Guard.MaskSize(src.Length, width, height, nameof(src));
        Guard.MaskSize(dst.Length, width, height, nameof(dst));
        Guard.AtLeast(radius, 0, nameof(radius));
        for (int i = 0; i < src.Length; i++)
            dst[i] = src[i] == MaskConventions.IgnoreIndex ? MaskConventions.IgnoreIndex : (byte)0;
        int span = 2 * radius + 1;
        var local = rng; // a local copy keeps the generator state in registers
        for (int y = 0, i = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++, i++)
            {
                byte v = src[i];
                if (v == 0 || v == MaskConventions.IgnoreIndex) continue;
                int nx = x, ny = y;
                if (radius > 0)
                {
                    nx = Math.Clamp(x + local.NextInt(span) - radius, 0, width - 1);
                    ny = Math.Clamp(y + local.NextInt(span) - radius, 0, height - 1);
                }
                int j = ny * width + nx;
                if (dst[j] != MaskConventions.IgnoreIndex) dst[j] = 1;
            }
        }
        rng = local;
    }

    /// <summary>Half-widths of the disk's horizontal runs: entry dy + k is the largest a with a² + dy² ≤ k².</summary>
    /// <param name="radius">Disk radius k ≥ 0.</param>
    internal static int[] DiskHalfWidths(int radius)
    {
        var a = new int[2 * radius + 1];
        long k2 = (long)radius * radius;
        for (int dy = -radius; dy <= radius; dy++)
        {
            long rest = k2 - (long)dy * dy;
            int h = (int)Math.Sqrt(rest);
            while ((long)h * h > rest) h--;
            while ((long)(h + 1) * (h + 1) <= rest) h++;
            a[dy + radius] = h;
        }
        return a;
    }

    private static void CheckArgs(ReadOnlySpan<byte> src, Span<byte> dst, int width, int height, int radius, string radiusName = "radius")
    {
        Guard.MaskSize(src.Length, width, height, nameof(src));
        Guard.MaskSize(dst.Length, width, height, nameof(dst));
        if (radius < 0 || radius > MaxRadius)
            throw new ArgumentOutOfRangeException(radiusName, radius, $"{radiusName} must be in [0, {MaxRadius}].");
        if (src.Overlaps(dst))
            throw new ArgumentException("dst must not overlap src.", nameof(dst));
    }

    internal enum OutputMode { Raw, Dilate, Erode }

    internal interface ISetRule
    {
        static abstract bool IsSet(byte v);

        /// <summary>All-ones lanes where the pixel is set.</summary>
        static abstract Vector<byte> IsSet(Vector<byte> v);
    }

    internal readonly struct ForegroundRule : ISetRule
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static bool IsSet(byte v) => v != 0 && v != MaskConventions.IgnoreIndex;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector<byte> IsSet(Vector<byte> v)
            => ~(Vector.Equals(v, Vector<byte>.Zero) | Vector.Equals(v, new Vector<byte>(MaskConventions.IgnoreIndex)));
    }

    internal readonly struct NotForegroundRule : ISetRule
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static bool IsSet(byte v) => v == 0 || v == MaskConventions.IgnoreIndex;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector<byte> IsSet(Vector<byte> v)
            => Vector.Equals(v, Vector<byte>.Zero) | Vector.Equals(v, new Vector<byte>(MaskConventions.IgnoreIndex));
    }

    internal readonly struct BackgroundRule : ISetRule
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static bool IsSet(byte v) => v == 0;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector<byte> IsSet(Vector<byte> v) => Vector.Equals(v, Vector<byte>.Zero);
    }

    /// <summary>
    /// reach[p] = 1 if a "set" pixel (per <typeparamref name="TRule"/>) lies within the disk around p.
    /// With <paramref name="outsideIsSet"/>, pixels outside the image count as set. The output is
    /// mapped by <paramref name="mode"/>: Raw writes reach, Dilate writes reach (255 kept),
    /// Erode writes 1 - reach (255 kept).
    /// </summary>
    internal static unsafe void DiskReach<TRule>(ReadOnlySpan<byte> src, Span<byte> dst, int width, int height, int radius, bool outsideIsSet, OutputMode mode)
        where TRule : struct, ISetRule
    {
        int n = width * height;
        int[] half = DiskHalfWidths(radius);
        byte[] dist = ArrayPool<byte>.Shared.Rent(n);
        bool parallel = n >= ParallelMinPixels;
        int chunks = (height + RowsPerChunk - 1) / RowsPerChunk;
        try
        {
            fixed (byte* ps = src, pd = dst, pdist = dist)
            {
                nint sAddr = (nint)ps, dAddr = (nint)pd, hdAddr = (nint)pdist;
                int w = width, h = height, k = radius;
                bool outSet = outsideIsSet;
                OutputMode m = mode;

                void DistanceChunk(int c)
                {
                    int y1 = Math.Min(h, (c + 1) * RowsPerChunk);
                    byte[] padded = ArrayPool<byte>.Shared.Rent(w + 2 * k);
                    fixed (byte* pad = padded)
                    {
                        for (int y = c * RowsPerChunk; y < y1; y++)
                            RowDistance<TRule>((byte*)sAddr + (long)y * w, (byte*)hdAddr + (long)y * w, w, k, outSet, pad);
                    }
                    ArrayPool<byte>.Shared.Return(padded);
                }

                void ReachChunk(int c)
                {
                    int y1 = Math.Min(h, (c + 1) * RowsPerChunk);
                    for (int y = c * RowsPerChunk; y < y1; y++)
                        ReachRow((byte*)sAddr, (byte*)hdAddr, (byte*)dAddr, w, h, y, k, half, outSet, m);
                }

                if (parallel)
                {
                    Parallel.For(0, chunks, DistanceChunk);
                    Parallel.For(0, chunks, ReachChunk);
                }
                else
                {
                    for (int c = 0; c < chunks; c++) DistanceChunk(c);
                    for (int c = 0; c < chunks; c++) ReachChunk(c);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(dist);
        }
    }

    /// <summary>
    /// Horizontal distance from each pixel to the nearest set pixel of its row, exact up to
    /// <paramref name="k"/> and 255 beyond: min over |t| ≤ k of max(notSet[x + t], |t|), vectorised,
    /// on a row copy padded with k outside pixels per side (<paramref name="pad"/>, w + 2k bytes).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void RowDistance<TRule>(byte* row, byte* dist, int w, int k, bool outsideIsSet, byte* pad)
        where TRule : struct, ISetRule
    {
        byte outside = outsideIsSet ? (byte)0 : (byte)255;
        for (int i = 0; i < k; i++)
        {
            pad[i] = outside;
            pad[k + w + i] = outside;
        }
        byte* mid = pad + k;
        int vc = Vector<byte>.Count;
        int x = 0;
        for (; x <= w - vc; x += vc)
            Unsafe.WriteUnaligned(mid + x, ~TRule.IsSet(Unsafe.ReadUnaligned<Vector<byte>>(row + x)));
        for (; x < w; x++)
            mid[x] = TRule.IsSet(row[x]) ? (byte)0 : (byte)255;

        x = 0;
        for (; x <= w - vc; x += vc)
        {
            var acc = Unsafe.ReadUnaligned<Vector<byte>>(mid + x);
            for (int t = 1; t <= k; t++)
            {
                var tv = new Vector<byte>((byte)t);
                acc = Vector.Min(acc, Vector.Max(Unsafe.ReadUnaligned<Vector<byte>>(mid + x - t), tv));
                acc = Vector.Min(acc, Vector.Max(Unsafe.ReadUnaligned<Vector<byte>>(mid + x + t), tv));
            }
            Unsafe.WriteUnaligned(dist + x, acc);
        }
        for (; x < w; x++)
        {
            int d = mid[x];
            for (int t = 1; t <= k && d > t; t++)
                if (mid[x - t] == 0 || mid[x + t] == 0) d = t;
            dist[x] = (byte)d;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ReachRow(byte* src, byte* hd, byte* dst, int w, int h, int y, int k, int[] half, bool outsideIsSet, OutputMode mode)
    {
        byte* outRow = dst + (long)y * w;
        byte* srcRow = src + (long)y * w;
        // Rows of the disk that fall outside the image: with outsideIsSet the whole output row is "reached".
        int dyMin = -Math.Min(k, y), dyMax = Math.Min(k, h - 1 - y);
        bool allReached = outsideIsSet && (dyMin > -k || dyMax < k);
        int x = 0;
        int vc = Vector<byte>.Count;
        var one = new Vector<byte>(1);
        var ignore = new Vector<byte>(MaskConventions.IgnoreIndex);
        if (!allReached)
        {
            for (; x <= w - vc; x += vc)
            {
                Vector<byte> acc = Vector<byte>.Zero;
                for (int dy = dyMin; dy <= dyMax; dy++)
                {
                    var dv = Unsafe.ReadUnaligned<Vector<byte>>(hd + (long)(y + dy) * w + x);
                    acc |= Vector.LessThanOrEqual(dv, new Vector<byte>((byte)half[dy + k]));
                }
                StoreOutput(srcRow + x, outRow + x, acc, mode, one, ignore);
            }
        }
        for (; x < w; x++)
        {
            bool reached = allReached;
            for (int dy = dyMin; !reached && dy <= dyMax; dy++)
                reached = hd[(long)(y + dy) * w + x] <= half[dy + k];
            byte v = srcRow[x];
            outRow[x] = mode switch
            {
                OutputMode.Raw => reached ? (byte)1 : (byte)0,
                _ when v == MaskConventions.IgnoreIndex => v,
                OutputMode.Dilate => reached ? (byte)1 : (byte)0,
                _ => reached ? (byte)0 : (byte)1,
            };
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void StoreOutput(byte* s, byte* o, Vector<byte> acc, OutputMode mode, Vector<byte> one, Vector<byte> ignore)
    {
        Vector<byte> r;
        if (mode == OutputMode.Raw)
        {
            r = acc & one;
        }
        else
        {
            var sv = Unsafe.ReadUnaligned<Vector<byte>>(s);
            var bit = mode == OutputMode.Dilate ? acc & one : Vector.AndNot(one, acc);
            r = Vector.ConditionalSelect(Vector.Equals(sv, ignore), sv, bit);
        }
        Unsafe.WriteUnaligned(o, r);
    }
}
