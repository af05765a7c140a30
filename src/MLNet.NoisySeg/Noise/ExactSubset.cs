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

    /// <summary>Marks exactly <paramref name="count"/> of the ranks [0, total) in <paramref name="bits"/>, uniformly without replacement.</summary>
    internal static void ChooseRanks(Span<ulong> bits, int total, int count, ref SeededRandom rng)
    {
        bool complement = count > total - count;
        int draws = complement ? total - count : count;
        var local = rng; // a local copy keeps the generator state in registers
        uint range = (uint)total, threshold = (0u - range) % range;
        ulong buffer = 0;
        bool buffered = false;
        for (int j = 0; j < draws; j++)
        {
            int r;
            do
            {
                // Lemire's exact bounded draw on 32-bit halves of the 64-bit output (two draws per call).
                ulong m;
                do
                {
                    uint x;
                    if (buffered) { x = (uint)(buffer >> 32); buffered = false; }
                    else { buffer = local.NextUInt64(); x = (uint)buffer; buffered = true; }
                    m = (ulong)x * range;
                }
                while ((uint)m < threshold);
                r = (int)(m >> 32);
            }
            while ((bits[r >> 6] & (1UL << r)) != 0);
            bits[r >> 6] |= 1UL << r;
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
