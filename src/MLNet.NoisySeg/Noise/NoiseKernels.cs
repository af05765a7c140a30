using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Morphology;

namespace MLNet.NoisySeg.Noise;

/// <summary>The kernels behind <see cref="LabelNoiseSpec.Apply(ReadOnlySpan{byte}, Span{byte}, int, int, ref SeededRandom)"/>.</summary>
internal static class NoiseKernels
{
    private const byte Ignore = MaskConventions.IgnoreIndex;
    private const int ParallelMinPixels = 1 << 20;

    /// <summary>ceil(fraction·n) clamped to [0, n], robust to floating error (ceil(0.1·10) = 1, ceil(0.7·10) = 7).</summary>
    internal static int CeilCount(double fraction, int n)
    {
        double x = fraction * n;
        double c = Math.Ceiling(x - (1e-9 + 1e-12 * Math.Abs(x)));
        return (int)Math.Clamp(c, 0, n);
    }

    /// <summary>Throws unless every value is 0, 1 or 255.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void EnsureBinary(ReadOnlySpan<byte> clean, LabelNoiseSpec spec)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref byte r = ref MemoryMarshal.GetReference(clean);
            var zero = Vector256<byte>.Zero;
            var one = Vector256.Create((byte)1);
            var ign = Vector256.Create(Ignore);
            for (; i <= clean.Length - 32; i += 32)
            {
                var v = Vector256.LoadUnsafe(ref r, (nuint)i);
                var ok = Vector256.Equals(v, zero) | Vector256.Equals(v, one) | Vector256.Equals(v, ign);
                if (ok != Vector256<byte>.AllBitsSet) break;
            }
        }
        for (; i < clean.Length; i++)
        {
            byte v = clean[i];
            if (v > 1 && v != Ignore)
                throw new ArgumentException($"clean has value {v} at pixel {i}; '{spec}' needs a binary mask (0 = background, 1 = foreground, 255 = ignore).", nameof(clean));
        }
    }

    /// <summary>Binary exact-count flipping: keep ceil(keepFg·N_fg) foreground pixels and turn
    /// N_bg - ceil(keepBg·N_bg) background pixels into foreground (sampling: keepBg = 1). The foreground
    /// subset is drawn first, then the background one (see <see cref="ExactSubset"/>).</summary>
    /// <remarks>Two passes over the mask: one validates it and counts both classes, one writes every output
    /// pixel (ignore copied, chosen pixels flipped); in between, the subsets are drawn as rank bitmaps.</remarks>
    internal static void Flip(ReadOnlySpan<byte> clean, Span<byte> noisy, double keepFgFraction, double keepBgFraction, ref SeededRandom rng, LabelNoiseSpec spec)
    {
        if (!ExactSubset.CountBinary(clean, out int nFg, out int nBg))
            EnsureBinary(clean, spec); // throws the message naming the first bad pixel
        int keep = CeilCount(keepFgFraction, nFg);
        // Few survivors (e.g. sampling 0.1): draw the kept pixels and flip the others; else draw the flipped ones.
        bool keepMode = keep < nFg - keep;
        int fgDraw = keepMode ? keep : nFg - keep;
        int bgDraw = keepBgFraction < 1 ? nBg - CeilCount(keepBgFraction, nBg) : 0;
        ExactSubset.ApplyBinaryFlip(clean, noisy, nFg, fgDraw, keepMode, nBg, bgDraw, ref rng);
    }

    /// <summary>Number of pixels equal to <paramref name="value"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static int CountValue(ReadOnlySpan<byte> mask, byte value)
    {
        int count = 0, i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref byte r = ref MemoryMarshal.GetReference(mask);
            var target = Vector256.Create(value);
            for (; i <= mask.Length - 32; i += 32)
                count += BitOperations.PopCount(Vector256.Equals(Vector256.LoadUnsafe(ref r, (nuint)i), target).ExtractMostSignificantBits());
        }
        for (; i < mask.Length; i++)
            count += mask[i] == value ? 1 : 0;
        return count;
    }

    /// <summary>Boundary-biased flipping restricted to the band within <paramref name="distance"/> of the other class.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void BoundaryFlip(ReadOnlySpan<byte> clean, Span<byte> noisy, int width, int height, int distance, double rate, ref SeededRandom rng)
    {
        const byte NotCandidate = 254;
        int n = clean.Length;
        byte[] band = ArrayPool<byte>.Shared.Rent(n);
        try
        {
            Span<byte> b = band.AsSpan(0, n);
            BinaryMorphology.BoundaryBand(clean, b, width, height, distance);
            // Candidates: band pixels keep their class (0 or 1), all others become NotCandidate.
            for (int i = 0; i < n; i++)
                b[i] = b[i] == 1 ? clean[i] : NotCandidate;
            clean.CopyTo(noisy);
            int nFg = CountValue(b, MaskConventions.Foreground), nBg = CountValue(b, MaskConventions.Background);
            ExactSubset.Apply(b, MaskConventions.Foreground, nFg, nFg - CeilCount(1 - rate, nFg), noisy, MaskConventions.Background, ref rng);
            ExactSubset.Apply(b, MaskConventions.Background, nBg, nBg - CeilCount(1 - rate, nBg), noisy, MaskConventions.Foreground, ref rng);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(band);
        }
    }

    /// <summary>
    /// Random binary labels: each non-ignore pixel is 1 with probability <paramref name="rate"/> (resolved on a
    /// 2^-32 grid). Pixels are taken in pairs, the low and high halves of one 64-bit draw; 32 pixels are
    /// compared at a time with vectors, giving the same bytes as the scalar loop.
    /// </summary>
    internal static void RandomBinary(Span<byte> noisy, ReadOnlySpan<byte> clean, int width, int height, double rate, ref SeededRandom rng)
    {
        ulong threshold = (ulong)Math.Round(rate * 4294967296.0);
        var baseRng = rng;
        rng.NextUInt64();
        ForEachTile(clean, noisy, width, height, baseRng, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (src, dst, start, count, ref tileRng) =>
        {
            var t = tileRng; // a local copy keeps the generator state in registers
            int i = 0;
            if (Vector256.IsHardwareAccelerated && threshold <= uint.MaxValue)
            {
                Span<uint> u = stackalloc uint[32];
                var thr = Vector256.Create((uint)threshold);
                var one = Vector256.Create((byte)1);
                var ign = Vector256.Create(Ignore);
                ref byte s0 = ref MemoryMarshal.GetReference(src);
                ref byte d0 = ref MemoryMarshal.GetReference(dst);
                ref uint u0 = ref MemoryMarshal.GetReference(u);
                for (; i + 32 <= count; i += 32)
                {
                    for (int j = 0; j < 32; j += 2)
                    {
                        ulong r = t.NextUInt64();
                        u[j] = (uint)r;
                        u[j + 1] = (uint)(r >> 32);
                    }
                    var a = Vector256.Narrow(Vector256.LessThan(Vector256.LoadUnsafe(ref u0, 0), thr), Vector256.LessThan(Vector256.LoadUnsafe(ref u0, 8), thr));
                    var b = Vector256.Narrow(Vector256.LessThan(Vector256.LoadUnsafe(ref u0, 16), thr), Vector256.LessThan(Vector256.LoadUnsafe(ref u0, 24), thr));
                    var bits = Vector256.Narrow(a, b) & one;
                    var sv = Vector256.LoadUnsafe(ref s0, (nuint)(start + i));
                    Vector256.ConditionalSelect(Vector256.Equals(sv, ign), sv, bits).StoreUnsafe(ref d0, (nuint)(start + i));
                }
            }
            for (; i + 1 < count; i += 2)
            {
                ulong u = t.NextUInt64();
                byte a = src[start + i], b = src[start + i + 1];
                dst[start + i] = a == Ignore ? Ignore : ((u & 0xFFFFFFFFUL) < threshold ? (byte)1 : (byte)0);
                dst[start + i + 1] = b == Ignore ? Ignore : ((u >> 32) < threshold ? (byte)1 : (byte)0);
            }
            if (i < count)
            {
                ulong u = t.NextUInt64();
                byte a = src[start + i];
                dst[start + i] = a == Ignore ? Ignore : ((u & 0xFFFFFFFFUL) < threshold ? (byte)1 : (byte)0);
            }
            tileRng = t;
        });
    }

    /// <summary>
    /// Per-pixel categorical draws: the noisy class of a pixel is drawn from row <c>q[truth, :]</c>
    /// (<paramref name="truthRows"/>) or from the single row <c>q[0, :]</c> (a prior). Probabilities are
    /// resolved on a 2^-32 grid, one 32-bit draw per pixel.
    /// </summary>
    internal static void PerPixel(ReadOnlySpan<byte> clean, Span<byte> noisy, int width, int height, double[,] q, bool truthRows, ref SeededRandom rng)
    {
        int rows = q.GetLength(0), k = q.GetLength(1);
        if (truthRows)
        {
            for (int i = 0; i < clean.Length; i++)
            {
                byte v = clean[i];
                if (v != Ignore && v >= k)
                    throw new ArgumentException($"clean has class {v} at pixel {i} but the noise transition matrix has {k} classes (0..{k - 1}; 255 = ignore).", nameof(clean));
            }
        }
        var cum = new ulong[rows * k];
        for (int j = 0; j < rows; j++)
        {
            double s = 0;
            for (int m = 0; m < k; m++)
            {
                s += q[j, m];
                cum[j * k + m] = m == k - 1 ? 1UL << 32 : (ulong)Math.Min(Math.Round(s * 4294967296.0), 4294967296.0);
            }
        }
        var baseRng = rng;
        rng.NextUInt64();
        ForEachTile(clean, noisy, width, height, baseRng, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (src, dst, start, count, ref tileRng) =>
        {
            var t = tileRng; // a local copy keeps the generator state in registers
            ulong u = 0;
            for (int i = 0; i < count; i++)
            {
                if ((i & 1) == 0) u = t.NextUInt64();
                else u >>= 32;
                byte v = src[start + i];
                if (v == Ignore) { dst[start + i] = Ignore; continue; }
                ulong r = u & 0xFFFFFFFFUL;
                int o = truthRows ? v * k : 0;
                int m = 0;
                while (r >= cum[o + m]) m++;
                dst[start + i] = (byte)m;
            }
            tileRng = t;
        });
    }

    /// <summary>Class-wise exact-count sampling: keep ceil(s·N_c) pixels of each non-background class c (ascending c).</summary>
    internal static void ClassSampling(ReadOnlySpan<byte> clean, Span<byte> noisy, double rate, byte background, ref SeededRandom rng)
    {
        Span<int> counts = stackalloc int[256];
        counts.Clear();
        foreach (byte v in clean) counts[v]++;
        clean.CopyTo(noisy);
        for (int c = 0; c < 255; c++)
        {
            int len = counts[c];
            if (len == 0 || c == background) continue;
            ExactSubset.Apply(clean, (byte)c, len, len - CeilCount(rate, len), noisy, background, ref rng);
        }
    }

    /// <summary>Class-wise dilation (lowest class wins a contested background pixel) or erosion (eroded pixels become background).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void ClassMorphology(ReadOnlySpan<byte> clean, Span<byte> noisy, int width, int height, int radius, byte background, bool dilate)
    {
        int n = clean.Length;
        Span<bool> present = stackalloc bool[256];
        present.Clear();
        foreach (byte v in clean) present[v] = true;
        clean.CopyTo(noisy);
        if (radius == 0) return;
        byte[] temp = ArrayPool<byte>.Shared.Rent(n);
        byte[] reach = ArrayPool<byte>.Shared.Rent(n);
        try
        {
            Span<byte> t = temp.AsSpan(0, n), r = reach.AsSpan(0, n);
            // Dilation: descending class order with overwrite, so the lowest class index wins ties.
            for (int step = 0; step < 255; step++)
            {
                int c = dilate ? 254 - step : step;
                if (!present[c] || c == background) continue;
                byte cls = (byte)c;
                for (int i = 0; i < n; i++) t[i] = clean[i] == cls ? (byte)1 : (byte)0;
                if (dilate)
                {
                    BinaryMorphology.DiskReach<BinaryMorphology.ForegroundRule>(t, r, width, height, radius, false, BinaryMorphology.OutputMode.Raw);
                    for (int i = 0; i < n; i++)
                        if (r[i] != 0 && clean[i] == background) noisy[i] = cls;
                }
                else
                {
                    BinaryMorphology.DiskReach<BinaryMorphology.NotForegroundRule>(t, r, width, height, radius, true, BinaryMorphology.OutputMode.Raw);
                    for (int i = 0; i < n; i++)
                        if (r[i] != 0 && clean[i] == cls) noisy[i] = background;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(temp);
            ArrayPool<byte>.Shared.Return(reach);
        }
    }

    internal delegate void TileAction(ReadOnlySpan<byte> src, Span<byte> dst, int start, int count, ref SeededRandom tileRng);

    /// <summary>Runs <paramref name="action"/> on fixed tiles of <see cref="LabelNoiseSpec.TileRows"/> rows, tile t
    /// using <c>baseRng.Fork(t)</c>: the result depends on the tile position only, never on the thread.</summary>
    private static unsafe void ForEachTile(ReadOnlySpan<byte> clean, Span<byte> noisy, int width, int height, SeededRandom baseRng, TileAction action)
    {
        int n = clean.Length;
        int tiles = (height + LabelNoiseSpec.TileRows - 1) / LabelNoiseSpec.TileRows;
        fixed (byte* ps = clean, pd = noisy)
        {
            nint sAddr = (nint)ps, dAddr = (nint)pd;
            void Run(int tile)
            {
                var t = baseRng.Fork((ulong)tile);
                int start = tile * LabelNoiseSpec.TileRows * width;
                int count = Math.Min(n, start + LabelNoiseSpec.TileRows * width) - start;
                action(new ReadOnlySpan<byte>((byte*)sAddr, n), new Span<byte>((byte*)dAddr, n), start, count, ref t);
            }
            if (n >= ParallelMinPixels) Parallel.For(0, tiles, Run);
            else for (int tile = 0; tile < tiles; tile++) Run(tile);
        }
    }
}
