using System.Runtime.CompilerServices;
using System.Text;

namespace MLNet.NoisySeg.Core;

/// <summary>
/// A small, fast, machine-independent pseudo-random generator (xoshiro256**), seeded from a
/// (seed, item identity, epoch) triple so that the random stream of one image never depends on
/// thread count, batch order or platform. Every random decision in the library goes through it.
/// </summary>
/// <remarks>
/// This is a mutable struct: pass it by <c>ref</c>. Use <see cref="For(int, string, int)"/> to
/// derive the stream of one image, never a shared instance across images.
/// </remarks>
public struct SeededRandom
{
    private ulong _s0, _s1, _s2, _s3;

    /// <summary>Creates a generator from a 64-bit key (expanded with SplitMix64).</summary>
    /// <param name="key">Any 64-bit value; equal keys give equal streams.</param>
    public SeededRandom(ulong key)
    {
        ulong x = key;
        _s0 = SplitMix64(ref x);
        _s1 = SplitMix64(ref x);
        _s2 = SplitMix64(ref x);
        _s3 = SplitMix64(ref x);
        if ((_s0 | _s1 | _s2 | _s3) == 0)
            _s0 = 0x9E3779B97F4A7C15UL;
    }

    /// <summary>
    /// The stream for one item: depends only on <paramref name="seed"/>, the item's identity
    /// (for example its file name) and the epoch (0 for offline noise).
    /// </summary>
    /// <param name="seed">The user's seed.</param>
    /// <param name="itemId">A stable identity of the item, such as its file name.</param>
    /// <param name="epoch">The epoch (or step) for online noise; 0 otherwise.</param>
    public static SeededRandom For(int seed, string itemId, int epoch = 0)
        => new(Combine((ulong)(uint)seed, StableHash(itemId), (ulong)(uint)epoch));

    /// <summary>The stream for one item identified by an index instead of a name.</summary>
    /// <param name="seed">The user's seed.</param>
    /// <param name="itemIndex">A stable index of the item.</param>
    /// <param name="epoch">The epoch (or step) for online noise; 0 otherwise.</param>
    public static SeededRandom For(int seed, long itemIndex, int epoch = 0)
        => new(Combine((ulong)(uint)seed, Mix((ulong)itemIndex ^ 0xA0761D6478BD642FUL), (ulong)(uint)epoch));

    /// <summary>Derives an independent generator for a sub-task (e.g. one of several noise passes).</summary>
    /// <param name="stream">A stream number; different numbers give independent generators.</param>
    public readonly SeededRandom Fork(ulong stream)
        => new(Mix(_s0 ^ Mix(stream + 0x632BE59BD9B4E019UL)) ^ _s3);

    /// <summary>Stable 64-bit FNV-1a hash of a string's UTF-8 bytes (identical on every platform and run).</summary>
    /// <param name="text">The text to hash; <c>null</c> hashes as empty.</param>
    public static ulong StableHash(string? text)
    {
        ulong h = 0xCBF29CE484222325UL;
        if (text is null) return h;
        foreach (byte b in Encoding.UTF8.GetBytes(text))
        {
            h ^= b;
            h *= 0x100000001B3UL;
        }
        return h;
    }

    /// <summary>Next uniformly distributed 64-bit value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong NextUInt64()
    {
        ulong result = RotL(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = RotL(_s3, 45);
        return result;
    }

    /// <summary>Uniform double in [0, 1) with 53 random bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, <paramref name="exclusiveMax"/>) without modulo bias (Lemire's method).</summary>
    /// <param name="exclusiveMax">Upper bound, must be positive.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int NextInt(int exclusiveMax)
    {
        if (exclusiveMax <= 0) throw new ArgumentOutOfRangeException(nameof(exclusiveMax), exclusiveMax, "Must be positive.");
        ulong range = (ulong)exclusiveMax;
        ulong m = Math.BigMul(NextUInt64(), range, out ulong low);
        if (low < range)
        {
            ulong threshold = (0UL - range) % range;
            while (low < threshold)
                m = Math.BigMul(NextUInt64(), range, out low);
        }
        return (int)m;
    }

    /// <summary>Uniform integer in [<paramref name="min"/>, <paramref name="max"/>] (both inclusive).</summary>
    /// <param name="min">Inclusive lower bound.</param>
    /// <param name="max">Inclusive upper bound, at least <paramref name="min"/>.</param>
    public int NextIntInclusive(int min, int max) => min + NextInt(max - min + 1);

    /// <summary>Standard normal sample (Box-Muller, one value per call).</summary>
    public double NextGaussian()
    {
        double u1 = 1.0 - NextDouble();
        double u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>In-place Fisher-Yates shuffle.</summary>
    /// <typeparam name="T">Element type.</typeparam>
    /// <param name="items">The items to shuffle.</param>
    public void Shuffle<T>(Span<T> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>
    /// Moves a uniformly random subset of exactly <paramref name="count"/> elements to the front of
    /// <paramref name="items"/> (partial Fisher-Yates): sampling without replacement.
    /// </summary>
    /// <typeparam name="T">Element type.</typeparam>
    /// <param name="items">The population; reordered in place.</param>
    /// <param name="count">How many to choose, in [0, items.Length].</param>
    public void ChooseInPlace<T>(Span<T> items, int count)
    {
        if ((uint)count > (uint)items.Length) throw new ArgumentOutOfRangeException(nameof(count), count, $"Must be in [0, {items.Length}].");
        for (int i = 0; i < count; i++)
        {
            int j = i + NextInt(items.Length - i);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    private static ulong Combine(ulong a, ulong b, ulong c) => Mix(Mix(Mix(a) ^ b) ^ (c * 0x9E3779B97F4A7C15UL));

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static ulong SplitMix64(ref ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        return Mix(x);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong RotL(ulong x, int k) => (x << k) | (x >> (64 - k));
}
