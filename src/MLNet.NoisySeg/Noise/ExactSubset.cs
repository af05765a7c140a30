using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using MLNet.NoisySeg.Core;

namespace MLNet.NoisySeg.Noise;

/// <summary>
/// Exact-count corruption without index lists: "set exactly <c>count</c> of the pixels whose value is
/// <c>candidate</c> to <c>value</c>, the subset chosen uniformly without replacement".
/// </summary>
/// <remarks>
/// <para>Candidates are numbered by rank in raster order. The chosen ranks are drawn as a bitmap by
/// sequential rejection sampling (each draw an exact uniform rank, Lemire's method on 32-bit halves
/// of the generator's output, redrawn while already chosen; when more than
/// half are needed the complement is drawn instead), which gives every subset of that size the
/// same probability, exactly like a partial Fisher-Yates over an index list.</para>
/// <para>The bitmap is then applied in one vectorised raster pass: for every 32 pixels, the
/// candidate mask takes the next popcount bits of the bitmap (a parallel bit deposit, BMI2 where
/// available, an equivalent loop elsewhere) and the chosen lanes are blended in (AVX2; a scalar
/// loop elsewhere). No index list of N ints is built, so the cost is one
/// pass over the mask plus O(count) draws in a cache-resident bitmap. The output is identical
/// on every machine.</para>
/// </remarks>
internal static class ExactSubset
{
    /// <summary>Sets exactly <paramref name="count"/> uniformly chosen pixels with
    /// <c>candidates[i] == candidate</c> to <c>noisy[i] = value</c>; <paramref name="total"/> is their number.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Apply(ReadOnlySpan<byte> candidates, byte candidate, int total, int count, Span<byte> noisy, byte value, ref SeededRandom rng)
    {
        if (count <= 0 || total <= 0) return;
        count = Math.Min(count, total);
        int words = (total >> 6) + 2; // one spare word for the unaligned 64-bit reads
        ulong[] bitmap = ArrayPool<ulong>.Shared.Rent(words);
        try
        {
            Span<ulong> bits = bitmap.AsSpan(0, words);
            bits.Clear();
            ChooseRanks(bits, total, count, ref rng);
            Deposit(candidates, candidate, bits, noisy, value);
        }
        finally
        {
            ArrayPool<ulong>.Shared.Return(bitmap);
        }
    }

    /// <summary>Counts the foreground (1) and background (0) pixels of a binary mask in one pass;
    /// false when a value other than 0, 1 or 255 occurs (the counts are then incomplete).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static bool CountBinary(ReadOnlySpan<byte> clean, out int foreground, out int background)
    {
        int n = clean.Length, i = 0, fg = 0, bg = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref byte c0 = ref MemoryMarshal.GetReference(clean);
            var one = Vector256.Create((byte)1);
            var ign = Vector256.Create(MaskConventions.IgnoreIndex);
            for (; i <= n - 32; i += 32)
            {
                var v = Vector256.LoadUnsafe(ref c0, (nuint)i);
                var is0 = Vector256.Equals(v, Vector256<byte>.Zero);
                var is1 = Vector256.Equals(v, one);
                if ((is0 | is1 | Vector256.Equals(v, ign)) != Vector256<byte>.AllBitsSet)
                {
                    foreground = background = 0;
                    return false;
                }
                fg += BitOperations.PopCount(is1.ExtractMostSignificantBits());
                bg += BitOperations.PopCount(is0.ExtractMostSignificantBits());
            }
        }
        for (; i < n; i++)
        {
            byte v = clean[i];
            if (v == 1) fg++;
            else if (v == 0) bg++;
            else if (v != MaskConventions.IgnoreIndex)
            {
                foreground = background = 0;
                return false;
            }
        }
        foreground = fg;
        background = bg;
        return true;
    }

    /// <summary>
    /// Binary exact-count flipping in one output pass. Draws <paramref name="fgDraw"/> of the
    /// <paramref name="nFg"/> foreground ranks, then <paramref name="bgDraw"/> of the <paramref name="nBg"/>
    /// background ranks (that order, as two <see cref="Apply"/> calls would), and writes
    /// <paramref name="noisy"/>: ignore pixels copied; a background pixel becomes 1 when drawn; a foreground
    /// pixel becomes 0 when drawn (or, with <paramref name="keepMode"/>, when not drawn).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void ApplyBinaryFlip(ReadOnlySpan<byte> clean, Span<byte> noisy, int nFg, int fgDraw, bool keepMode, int nBg, int bgDraw, ref SeededRandom rng)
    {
        int fgWords = (nFg >> 6) + 2, bgWords = (nBg >> 6) + 2;
        bool hasBg = bgDraw > 0 && nBg > 0;
        ulong[] fgArr = ArrayPool<ulong>.Shared.Rent(fgWords);
        ulong[] bgArr = ArrayPool<ulong>.Shared.Rent(hasBg ? bgWords : 1);
        try
        {
            Span<ulong> fgBits = fgArr.AsSpan(0, fgWords);
            fgBits.Clear();
            if (fgDraw > 0 && nFg > 0) ChooseRanks(fgBits, nFg, Math.Min(fgDraw, nFg), ref rng);
            Span<ulong> bgBits = hasBg ? bgArr.AsSpan(0, bgWords) : default;
            if (hasBg)
            {
                bgBits.Clear();
                ChooseRanks(bgBits, nBg, Math.Min(bgDraw, nBg), ref rng);
            }
            DepositFlip(clean, noisy, fgBits, keepMode, bgBits, hasBg);
        }
        finally
        {
            ArrayPool<ulong>.Shared.Return(fgArr);
            ArrayPool<ulong>.Shared.Return(bgArr);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DepositFlip(ReadOnlySpan<byte> clean, Span<byte> noisy, ReadOnlySpan<ulong> fgBits, bool keepMode, ReadOnlySpan<ulong> bgBits, bool hasBg)
    {
        int n = clean.Length, i = 0;
        long fgRank = 0, bgRank = 0;
        uint invert = keepMode ? uint.MaxValue : 0;
        if (Avx2.IsSupported)
        {
            ref byte c0 = ref MemoryMarshal.GetReference(clean);
            ref byte d0 = ref MemoryMarshal.GetReference(noisy);
            var one = Vector256.Create((byte)1);
            var spreadIndex = Vector256.Create((byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
            var bitOfLane = Vector256.Create((byte)1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128);
            for (; i <= n - 32; i += 32)
            {
                var v = Vector256.LoadUnsafe(ref c0, (nuint)i);
                uint mFg = Vector256.Equals(v, one).ExtractMostSignificantBits();
                uint flip = (Pdep((uint)ReadBits(fgBits, fgRank), mFg) ^ invert) & mFg;
                fgRank += BitOperations.PopCount(mFg);
                if (hasBg)
                {
                    uint mBg = Vector256.Equals(v, Vector256<byte>.Zero).ExtractMostSignificantBits();
                    flip |= Pdep((uint)ReadBits(bgBits, bgRank), mBg);
                    bgRank += BitOperations.PopCount(mBg);
                }
                // Bit k of the flip mask -> lane k (see Deposit), then XOR 1 into the chosen lanes (values are 0/1 there).
                var spread = Avx2.Shuffle(Vector256.Create(flip).AsByte(), spreadIndex);
                var lanes = Vector256.Equals(spread & bitOfLane, bitOfLane) & one;
                (v ^ lanes).StoreUnsafe(ref d0, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            byte v = clean[i];
            bool flip = false;
            if (v == 1)
            {
                flip = ((fgBits[(int)(fgRank >> 6)] & (1UL << (int)fgRank)) != 0) != keepMode;
                fgRank++;
            }
            else if (v == 0 && hasBg)
            {
                flip = (bgBits[(int)(bgRank >> 6)] & (1UL << (int)bgRank)) != 0;
                bgRank++;
            }
            noisy[i] = flip ? (byte)(v ^ 1) : v;
        }
    }

    /// <summary>Marks exactly <paramref name="count"/> of the ranks [0, total) in <paramref name="bits"/>, uniformly without replacement.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // fully optimised at once: the loop runs once per call, so tiering reaches it late (OSR)
    internal static void ChooseRanks(Span<ulong> bits, int total, int count, ref SeededRandom rng)
    {
        if (bits.Length < (int)(((long)total + 63) >> 6))
            throw new ArgumentException($"The bitmap has {bits.Length} words; {total} ranks need {((long)total + 63) >> 6}.", nameof(bits));
        bool complement = count > total - count;
        int draws = complement ? total - count : count;
        var local = rng; // a local copy keeps the generator state in registers
        uint range = (uint)total, threshold = (0u - range) % range;
        // Attempts use the 32-bit halves of successive outputs in order (low, then high); an attempt is
        // rejected by Lemire's threshold or when the rank is already chosen. Unrolled by output so the
        // generator and both halves stay in registers; the sequence of attempts is unchanged.
        int j = 0;
        if (draws > 0)
        {
            ref ulong b0 = ref MemoryMarshal.GetReference(bits);
            while (true)
            {
                ulong u = local.NextUInt64();
                ulong m = (ulong)(uint)u * range;
                if ((uint)m >= threshold)
                {
                    uint r = (uint)(m >> 32);
                    ref ulong word = ref Unsafe.Add(ref b0, (nint)(r >> 6));
                    ulong bit = 1UL << (int)r;
                    if ((word & bit) == 0)
                    {
                        word |= bit;
                        if (++j == draws) break;
                    }
                }
                m = (u >> 32) * range;
                if ((uint)m >= threshold)
                {
                    uint r = (uint)(m >> 32);
                    ref ulong word = ref Unsafe.Add(ref b0, (nint)(r >> 6));
                    ulong bit = 1UL << (int)r;
                    if ((word & bit) == 0)
                    {
                        word |= bit;
                        if (++j == draws) break;
                    }
                }
            }
        }
        rng = local;
        if (complement)
        {
            int full = total >> 6;
            for (int w = 0; w < full; w++) bits[w] = ~bits[w];
            if ((total & 63) != 0) bits[full] = ~bits[full] & ((1UL << (total & 63)) - 1);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Deposit(ReadOnlySpan<byte> candidates, byte candidate, ReadOnlySpan<ulong> bits, Span<byte> noisy, byte value)
    {
        int n = candidates.Length, i = 0;
        long rank = 0;
        if (Avx2.IsSupported)
        {
            // Branch-free per 32 pixels: candidate mask -> deposit the next bitmap bits -> expand to bytes -> blend.
            ref byte c0 = ref MemoryMarshal.GetReference(candidates);
            ref byte d0 = ref MemoryMarshal.GetReference(noisy);
            var target = Vector256.Create(candidate);
            var fill = Vector256.Create(value);
            var spreadIndex = Vector256.Create((byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
            var bitOfLane = Vector256.Create((byte)1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128);
            for (; i <= n - 32; i += 32)
            {
                uint m = Vector256.Equals(Vector256.LoadUnsafe(ref c0, (nuint)i), target).ExtractMostSignificantBits();
                uint chosen = Pdep((uint)ReadBits(bits, rank), m);
                rank += BitOperations.PopCount(m);
                // Byte k of the chosen mask goes to lanes 8k..8k+7 (vpshufb works per 128-bit half, and the
                // broadcast holds the 4 bytes in both halves), then each lane tests its own bit.
                var spread = Avx2.Shuffle(Vector256.Create(chosen).AsByte(), spreadIndex);
                var selected = Vector256.Equals(spread & bitOfLane, bitOfLane);
                var old = Vector256.LoadUnsafe(ref d0, (nuint)i);
                Vector256.ConditionalSelect(selected, fill, old).StoreUnsafe(ref d0, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            if (candidates[i] != candidate) continue;
            if ((bits[(int)(rank >> 6)] & (1UL << (int)rank)) != 0) noisy[i] = value;
            rank++;
        }
    }

    /// <summary>64 bits of the bitmap starting at bit <paramref name="rank"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong ReadBits(ReadOnlySpan<ulong> bits, long rank)
    {
        int w = (int)(rank >> 6), off = (int)(rank & 63);
        return (bits[w] >> off) | ((bits[w + 1] << 1) << (63 - off)); // no branch for off = 0
    }

    /// <summary>Parallel bit deposit: the low bits of <paramref name="source"/> go to the set positions of <paramref name="mask"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static uint Pdep(uint source, uint mask)
        => Bmi2.IsSupported ? Bmi2.ParallelBitDeposit(source, mask) : PdepPortable(source, mask);

    /// <summary>The portable loop behind <see cref="Pdep"/> (same result as BMI2's PDEP).</summary>
    internal static uint PdepPortable(uint source, uint mask)
    {
        uint result = 0;
        for (uint bit = 1; mask != 0; bit <<= 1)
        {
            uint lowest = mask & (0 - mask);
            if ((source & bit) != 0) result |= lowest;
            mask &= mask - 1;
        }
        return result;
    }
}
