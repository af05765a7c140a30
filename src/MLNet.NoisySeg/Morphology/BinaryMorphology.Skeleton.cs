using System.Buffers;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Runtime.CompilerServices;
using MLNet.NoisySeg.Core;

namespace MLNet.NoisySeg.Morphology;

public static partial class BinaryMorphology
{
    // Neighbour code bits: 0 N, 1 NE, 2 E, 3 SE, 4 S, 5 SW, 6 W, 7 NW.
    // Bit 0 of a table entry: removable in the first sub-iteration; bit 1: in the second.
    private static readonly byte[] s_thinningTable = BuildThinningTable();

    // 1 where the centre pixel is simple (Hilditch crossing number 1): deleting it changes no topology.
    private static readonly byte[] s_simpleTable = BuildSimpleTable();

    /// <summary>
    /// Skeletonization: one-pixel-wide, 8-connected, topology-preserving thinning of the foreground.
    /// </summary>
    /// <remarks>
    /// <para>Zhang-Suen style: passes alternate between two sub-iterations until nothing changes. A
    /// foreground pixel p is removable when (1) it has 2 to 6 foreground 8-neighbours (end points are
    /// kept), (2) its Hilditch crossing number is 1, i.e. p is a simple point for 8-connected
    /// foreground / 4-connected background (this also removes staircase corners, so diagonal lines end
    /// up 8-connected and one pixel wide), and (3) the directional condition of the sub-iteration
    /// holds: first N·E·S = 0 and E·S·W = 0 (south-east border and north-west corners), second
    /// N·E·W = 0 and N·S·W = 0. The conditions are precomputed in a 256-entry table indexed by the
    /// 8-neighbour pattern, as scikit-image's <c>skeletonize</c> does.</para>
    /// <para>Each sub-iteration first collects the removable pixels against the state at its start
    /// (one layer, like the parallel algorithm), then deletes them in order, re-checking only that each
    /// is still a simple point (re-checking the end-point condition too would leave spurs where a layer
    /// is peeled one pixel at a time). Every deletion is therefore a simple-point deletion: the number
    /// of 8-connected components and of 4-connected background holes never changes (plain parallel
    /// Zhang-Suen deletes 2x2 squares entirely).</para>
    /// <para>Speed: only border pixels and neighbours of deleted pixels are examined; every pixel's
    /// 8-neighbour code is kept up to date incrementally; a pixel found not removable in a sub-iteration
    /// is not examined in that sub-iteration again until a neighbour is deleted.</para>
    /// <para>The result is deterministic and close to, not bit-identical with, scikit-image's: on a
    /// 512x512 blob mask every pixel of ours lies within one pixel of scikit-image's skeleton, which
    /// keeps about 45% more end points (short spurs). Pixels outside the image count as background.</para>
    /// </remarks>
    /// <param name="src">Source mask (width x height).</param>
    /// <param name="dst">Destination: 1 on the skeleton, 0 elsewhere, 255 where <paramref name="src"/> is ignore. May be <paramref name="src"/> itself.</param>
    /// <param name="width">Mask width.</param>
    /// <param name="height">Mask height.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Skeletonize(ReadOnlySpan<byte> src, Span<byte> dst, int width, int height)
    {
        Guard.MaskSize(src.Length, width, height, nameof(src));
        Guard.MaskSize(dst.Length, width, height, nameof(dst));
        if (src.Overlaps(dst) && !Unsafe.AreSame(ref MemoryMarshal.GetReference(src), ref MemoryMarshal.GetReference(dst)))
            throw new ArgumentException("dst must not partially overlap src.", nameof(dst));
        int pw = width + 2, ph = height + 2, pn = pw * ph;
        // p: padded 0/1 copy (only to build the codes); code: current 8-neighbour pattern of every pixel,
        // kept up to date on every deletion; flags: NeedFirst/NeedSecond/Foreground/InList.
        byte[] pArr = ArrayPool<byte>.Shared.Rent(pn);
        byte[] cArr = ArrayPool<byte>.Shared.Rent(pn);
        byte[] fArr = ArrayPool<byte>.Shared.Rent(pn);
        int[]? listArr = null, remArr = null;
        try
        {
            Array.Clear(pArr, 0, pn);
            Array.Clear(cArr, 0, pn);
            Array.Clear(fArr, 0, pn);
            int vc = Vector<byte>.Count;
            var one = new Vector<byte>(1);
            int fgCount = 0;
            fixed (byte* ps = src, p0 = pArr)
            {
                // Padded copy: 1 for foreground, 0 for background, ignore and the one-pixel frame.
                for (int y = 0; y < height; y++)
                {
                    byte* row = ps + (long)y * width, o = p0 + (long)(y + 1) * pw + 1;
                    int x = 0;
                    for (; x <= width - vc; x += vc)
                        Unsafe.WriteUnaligned(o + x, ForegroundRule.IsSet(Unsafe.ReadUnaligned<Vector<byte>>(row + x)) & one);
                    for (; x < width; x++)
                        o[x] = ForegroundRule.IsSet(row[x]) ? (byte)1 : (byte)0;
                }
            }

            fixed (byte* p0 = pArr, c0 = cArr, f0 = fArr)
            {
                // Neighbour codes and flags of the image pixels (vectorised over each row).
                var fgFlag = new Vector<byte>(Foreground);
                for (int y = 1; y <= height; y++)
                {
                    int x = 1;
                    for (; x <= width - vc + 1; x += vc)
                    {
                        byte* c = p0 + (long)y * pw + x;
                        var code = Load(c - pw) | (Load(c - pw + 1) << 1) | (Load(c + 1) << 2) | (Load(c + pw + 1) << 3)
                                 | (Load(c + pw) << 4) | (Load(c + pw - 1) << 5) | (Load(c - 1) << 6) | (Load(c - pw - 1) << 7);
                        var isFg = Vector.Equals(Load(c), one);
                        Unsafe.WriteUnaligned(c0 + (long)y * pw + x, code);
                        Unsafe.WriteUnaligned(f0 + (long)y * pw + x, isFg & fgFlag);
                        fgCount += CountSet(isFg);
                    }
                    for (; x <= width; x++)
                    {
                        int i = y * pw + x;
                        c0[i] = (byte)Code(p0 + i, pw);
                        f0[i] = p0[i] != 0 ? Foreground : (byte)0;
                        fgCount += p0[i];
                    }
                }
            }

            // A pixel is listed at most once (InList), so the lists never exceed the foreground count.
            listArr = ArrayPool<int>.Shared.Rent(fgCount + 1);
            remArr = ArrayPool<int>.Shared.Rent(fgCount + 1);
            fixed (byte* code = cArr, flags = fArr, table = s_thinningTable, simple = s_simpleTable)
            fixed (int* list = listArr, removable = remArr)
            {
                int count = 0;
                const int FourNeighbours = 0b0101_0101; // N, E, S, W
                var four = Vector256.Create((byte)FourNeighbours);
                for (int y = 1; y <= height; y++)
                {
                    int o = y * pw;
                    int x = 1;
                    if (Vector256.IsHardwareAccelerated)
                    {
                        // Border pixels: foreground with a background 4-neighbour; 32 pixels at a time.
                        for (; x <= width - 31; x += 32)
                        {
                            var f = Vector256.Load(flags + o + x);
                            var c = Vector256.Load(code + o + x) & four;
                            uint bits = (~Vector256.Equals(f, Vector256<byte>.Zero) & ~Vector256.Equals(c, four)).ExtractMostSignificantBits();
                            while (bits != 0)
                            {
                                int i = o + x + BitOperations.TrailingZeroCount(bits);
                                bits &= bits - 1;
                                list[count++] = i;
                                flags[i] = NeedFirst | NeedSecond | Foreground | InList;
                            }
                        }
                    }
                    for (; x <= width; x++)
                    {
                        int i = o + x;
                        if (flags[i] != 0 && (code[i] & FourNeighbours) != FourNeighbours)
                        {
                            list[count++] = i;
                            flags[i] = NeedFirst | NeedSecond | Foreground | InList;
                        }
                    }
                }

                for (int sub = 0; count > 0; sub ^= 1)
                {
                    int bit = 1 << sub;
                    // Collect against the state at the start of the sub-iteration; a pixel found not removable
                    // is not examined again in this sub-iteration until one of its neighbours is deleted.
                    int nRem = 0;
                    for (int k = 0; k < count; k++)
                    {
                        int i = list[k];
                        if (k + PrefetchAhead < count) Prefetch(code, flags, list[k + PrefetchAhead], 0);
                        if ((flags[i] & bit) == 0) continue;
                        if ((table[code[i]] & bit) != 0) removable[nRem++] = i;
                        else flags[i] &= (byte)~bit;
                    }

                    // Delete sequentially, re-checking only simplicity; neighbours of deleted pixels need new checks.
                    for (int k = 0; k < nRem; k++)
                    {
                        int i = removable[k];
                        if (k + PrefetchAhead / 2 < nRem) Prefetch(code, flags, removable[k + PrefetchAhead / 2], pw);
                        if (simple[code[i]] == 0)
                        {
                            flags[i] &= (byte)~bit;
                            continue;
                        }
                        flags[i] &= InList; // no longer foreground
                        // Each neighbour loses the bit pointing back at i. A diagonal neighbour whose four
                        // 4-neighbours are all foreground has crossing number 0 and cannot become removable
                        // until one of those is deleted, so it is not queued.
                        Touch(code, flags, list, ref count, i - pw - 1, 1 << 3, diagonal: true);
                        Touch(code, flags, list, ref count, i - pw, 1 << 4, diagonal: false);
                        Touch(code, flags, list, ref count, i - pw + 1, 1 << 5, diagonal: true);
                        Touch(code, flags, list, ref count, i - 1, 1 << 2, diagonal: false);
                        Touch(code, flags, list, ref count, i + 1, 1 << 6, diagonal: false);
                        Touch(code, flags, list, ref count, i + pw - 1, 1 << 1, diagonal: true);
                        Touch(code, flags, list, ref count, i + pw, 1 << 0, diagonal: false);
                        Touch(code, flags, list, ref count, i + pw + 1, 1 << 7, diagonal: true);
                    }

                    // Compact: keep foreground pixels that still need a check in some sub-iteration.
                    int kept = 0;
                    for (int k = 0; k < count; k++)
                    {
                        int i = list[k];
                        if (Sse.IsSupported && k + PrefetchAhead < count) Sse.Prefetch0(flags + list[k + PrefetchAhead]);
                        if ((flags[i] & Foreground) != 0 && (flags[i] & (NeedFirst | NeedSecond)) != 0) list[kept++] = i;
                        else flags[i] &= Foreground;
                    }
                    count = kept;
                }
            }

            fixed (byte* ps = src, pd = dst, f0 = fArr)
            {
                var ignore = new Vector<byte>(MaskConventions.IgnoreIndex);
                var fgFlag = new Vector<byte>(Foreground);
                for (int y = 0; y < height; y++)
                {
                    byte* row = ps + (long)y * width, drow = pd + (long)y * width, o = f0 + (long)(y + 1) * pw + 1;
                    int x = 0;
                    for (; x <= width - vc; x += vc)
                    {
                        var sv = Unsafe.ReadUnaligned<Vector<byte>>(row + x);
                        var skel = Vector.Equals(Unsafe.ReadUnaligned<Vector<byte>>(o + x) & fgFlag, fgFlag) & one;
                        Unsafe.WriteUnaligned(drow + x, Vector.ConditionalSelect(Vector.Equals(sv, ignore), sv, skel));
                    }
                    for (; x < width; x++)
                        drow[x] = row[x] == MaskConventions.IgnoreIndex ? MaskConventions.IgnoreIndex : (o[x] & Foreground) != 0 ? (byte)1 : (byte)0;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(pArr);
            ArrayPool<byte>.Shared.Return(cArr);
            ArrayPool<byte>.Shared.Return(fArr);
            if (listArr is not null) ArrayPool<int>.Shared.Return(listArr);
            if (remArr is not null) ArrayPool<int>.Shared.Return(remArr);
        }
    }

    /// <summary>How many list entries ahead the thinning loops prefetch. On large masks the list visits pixels
    /// sparsely over the whole image and most visits miss the cache; prefetching changes no result.</summary>
    private const int PrefetchAhead = 16;

    /// <summary>Prefetches the code and flags of pixel <paramref name="i"/> and, with <paramref name="rowStride"/>
    /// &gt; 0, of the pixels above and below it (the 3x3 neighbourhood a deletion updates).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Prefetch(byte* code, byte* flags, int i, int rowStride)
    {
        if (!Sse.IsSupported) return;
        Sse.Prefetch0(code + i);
        Sse.Prefetch0(flags + i);
        if (rowStride > 0)
        {
            Sse.Prefetch0(code + i - rowStride);
            Sse.Prefetch0(flags + i - rowStride);
            Sse.Prefetch0(code + i + rowStride);
            Sse.Prefetch0(flags + i + rowStride);
        }
    }

    private const byte NeedFirst = 1, NeedSecond = 2, Foreground = 0x40, InList = 0x80;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector<byte> Load(byte* p) => Unsafe.ReadUnaligned<Vector<byte>>(p);

    /// <summary>Number of all-ones lanes of a comparison result.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int CountSet(Vector<byte> mask)
        => Vector<byte>.Count == 32 ? BitOperations.PopCount(mask.AsVector256().ExtractMostSignificantBits())
         : Vector<byte>.Count == 16 ? BitOperations.PopCount(mask.AsVector128().ExtractMostSignificantBits())
         : CountSetSlow(mask);

    private static int CountSetSlow(Vector<byte> mask)
    {
        int n = 0;
        for (int i = 0; i < Vector<byte>.Count; i++) n += mask[i] != 0 ? 1 : 0;
        return n;
    }

    /// <summary>A neighbour j of a deleted pixel: clear the bit of its code pointing at the deleted pixel and,
    /// if j is foreground, ask for new checks in both sub-iterations.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Touch(byte* code, byte* flags, int* list, ref int count, int j, int bitToDeleted, bool diagonal)
    {
        byte c = (byte)(code[j] & ~bitToDeleted);
        code[j] = c;
        byte f = flags[j];
        if ((f & Foreground) == 0 || (diagonal && (c & 0b0101_0101) == 0b0101_0101)) return;
        if ((f & InList) == 0) list[count++] = j;
        flags[j] = NeedFirst | NeedSecond | Foreground | InList;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe int Code(byte* c, int pw)
        => c[-pw] | (c[1 - pw] << 1) | (c[1] << 2) | (c[pw + 1] << 3)
         | (c[pw] << 4) | (c[pw - 1] << 5) | (c[-1] << 6) | (c[-pw - 1] << 7);

    private static int CrossingNumber(int c)
    {
        int n = c & 1, ne = (c >> 1) & 1, e = (c >> 2) & 1, se = (c >> 3) & 1;
        int s = (c >> 4) & 1, sw = (c >> 5) & 1, w = (c >> 6) & 1, nw = (c >> 7) & 1;
        // Hilditch crossing number: 4-neighbours that are background and followed (counter-clockwise) by foreground.
        return (e == 0 && (ne | n) != 0 ? 1 : 0) + (n == 0 && (nw | w) != 0 ? 1 : 0)
             + (w == 0 && (sw | s) != 0 ? 1 : 0) + (s == 0 && (se | e) != 0 ? 1 : 0);
    }

    private static byte[] BuildSimpleTable()
    {
        var table = new byte[256];
        for (int c = 0; c < 256; c++)
            table[c] = CrossingNumber(c) == 1 ? (byte)1 : (byte)0;
        return table;
    }

    private static byte[] BuildThinningTable()
    {
        var table = new byte[256];
        for (int c = 0; c < 256; c++)
        {
            int n = c & 1, ne = (c >> 1) & 1, e = (c >> 2) & 1, se = (c >> 3) & 1;
            int s = (c >> 4) & 1, sw = (c >> 5) & 1, w = (c >> 6) & 1, nw = (c >> 7) & 1;
            int count = n + ne + e + se + s + sw + w + nw;
            if (count < 2 || count > 6) continue;
            if (CrossingNumber(c) != 1) continue;
            byte entry = 0;
            if ((n & e & s) == 0 && (e & s & w) == 0) entry |= 1;
            if ((n & e & w) == 0 && (n & s & w) == 0) entry |= 2;
            table[c] = entry;
        }
        return table;
    }
}
