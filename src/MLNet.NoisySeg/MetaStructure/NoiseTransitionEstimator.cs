using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using MLNet.NoisySeg.Core;

namespace MLNet.NoisySeg.MetaStructure;

/// <summary>
/// Raw (true class, noisy class) pixel counts accumulated over one or many (clean, noisy) mask
/// pairs: the data behind an estimated noise transition matrix. Mutable accumulator; not thread-safe.
/// </summary>
public sealed class TransitionCounts
{
    private readonly long[] _counts;

    /// <summary>Creates empty counts for <paramref name="classCount"/> classes.</summary>
    /// <param name="classCount">Number of classes, 2..255.</param>
    public TransitionCounts(int classCount)
    {
        if (classCount < 2 || classCount > MaskConventions.MaxClassCount)
            throw new ArgumentOutOfRangeException(nameof(classCount), classCount, $"{nameof(classCount)} must be in [2, {MaskConventions.MaxClassCount}].");
        ClassCount = classCount;
        _counts = new long[classCount * classCount];
    }

    /// <summary>Number of classes.</summary>
    public int ClassCount { get; }

    /// <summary>Number of pixels counted (pixels where neither mask is ignore).</summary>
    public long PixelCount { get; private set; }

    /// <summary>Number of pixels skipped because the clean or the noisy mask holds the ignore index 255.</summary>
    public long IgnoredCount { get; private set; }

    /// <summary>Number of counted pixels with true class <paramref name="truth"/> and noisy class <paramref name="noisy"/>.</summary>
    /// <param name="truth">True (clean) class, the row.</param>
    /// <param name="noisy">Noisy class, the column.</param>
    public long this[int truth, int noisy] => _counts[truth * ClassCount + noisy];

    /// <summary>Number of counted pixels whose true class is <paramref name="truth"/>.</summary>
    /// <param name="truth">True (clean) class.</param>
    public long RowTotal(int truth)
    {
        long s = 0;
        for (int m = 0; m < ClassCount; m++) s += _counts[truth * ClassCount + m];
        return s;
    }

    /// <summary>Adds the pixels of one (clean, noisy) pair; pixels where either mask is 255 are skipped.</summary>
    /// <param name="clean">True class indices.</param>
    /// <param name="noisy">Noisy class indices, same length.</param>
    /// <exception cref="ArgumentException">Lengths differ or a value is neither a class index nor 255.</exception>
    public void Add(ReadOnlySpan<byte> clean, ReadOnlySpan<byte> noisy)
    {
        if (clean.Length != noisy.Length)
            throw new ArgumentException($"{nameof(clean)} has {clean.Length} pixels but {nameof(noisy)} has {noisy.Length}.", nameof(noisy));
        if (ClassCount == 2 && TryAddBinary(clean, noisy))
            return;
        DensityMap.ValidateClasses(clean, ClassCount, nameof(clean));
        DensityMap.ValidateClasses(noisy, ClassCount, nameof(noisy));
        int c = ClassCount;
        // Counted in a local table first: the shared array is only touched once per call.
        Span<long> local = c <= 16 ? stackalloc long[c * c] : new long[c * c];
        long ignored = 0;
        for (int i = 0; i < clean.Length; i++)
        {
            int t = clean[i], n = noisy[i];
            if (t == MaskConventions.IgnoreIndex || n == MaskConventions.IgnoreIndex)
            {
                ignored++;
                continue;
            }
            local[t * c + n]++;
        }
        for (int i = 0; i < local.Length; i++) _counts[i] += local[i];
        IgnoredCount += ignored;
        PixelCount += clean.Length - ignored;
    }

    /// <summary>Two classes, one vectorised pass: the four cells are popcounts of the lanes' class masks.
    /// False (nothing added) when a value other than 0, 1 or 255 occurs; the general path then reports it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool TryAddBinary(ReadOnlySpan<byte> clean, ReadOnlySpan<byte> noisy)
    {
        int len = clean.Length, i = 0;
        long c00 = 0, c01 = 0, c10 = 0, c11 = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref byte t0 = ref MemoryMarshal.GetReference(clean);
            ref byte n0 = ref MemoryMarshal.GetReference(noisy);
            var one = Vector256.Create((byte)1);
            var ign = Vector256.Create(MaskConventions.IgnoreIndex);
            for (; i <= len - 32; i += 32)
            {
                var t = Vector256.LoadUnsafe(ref t0, (nuint)i);
                var n = Vector256.LoadUnsafe(ref n0, (nuint)i);
                var tZero = Vector256.Equals(t, Vector256<byte>.Zero);
                var tOne = Vector256.Equals(t, one);
                var nZero = Vector256.Equals(n, Vector256<byte>.Zero);
                var nOne = Vector256.Equals(n, one);
                if (((tZero | tOne | Vector256.Equals(t, ign)) & (nZero | nOne | Vector256.Equals(n, ign))) != Vector256<byte>.AllBitsSet)
                    return false;
                uint mt0 = tZero.ExtractMostSignificantBits(), mt1 = tOne.ExtractMostSignificantBits();
                uint mn0 = nZero.ExtractMostSignificantBits(), mn1 = nOne.ExtractMostSignificantBits();
                c00 += BitOperations.PopCount(mt0 & mn0);
                c01 += BitOperations.PopCount(mt0 & mn1);
                c10 += BitOperations.PopCount(mt1 & mn0);
                c11 += BitOperations.PopCount(mt1 & mn1);
            }
        }
        for (; i < len; i++)
        {
            int t = clean[i], n = noisy[i];
            if ((t > 1 && t != MaskConventions.IgnoreIndex) || (n > 1 && n != MaskConventions.IgnoreIndex))
                return false;
            if (t == MaskConventions.IgnoreIndex || n == MaskConventions.IgnoreIndex) continue;
            if (t == 0) { if (n == 0) c00++; else c01++; }
            else { if (n == 0) c10++; else c11++; }
        }
        long counted = c00 + c01 + c10 + c11;
        _counts[0] += c00;
        _counts[1] += c01;
        _counts[2] += c10;
        _counts[3] += c11;
        IgnoredCount += len - counted;
        PixelCount += counted;
        return true;
    }

    /// <summary>Adds another set of counts (e.g. from a parallel worker).</summary>
    /// <param name="other">Counts with the same class count.</param>
    public void Add(TransitionCounts other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.ClassCount != ClassCount)
            throw new ArgumentException($"Cannot add counts for {other.ClassCount} classes to counts for {ClassCount}.", nameof(other));
        for (int i = 0; i < _counts.Length; i++) _counts[i] += other._counts[i];
        PixelCount += other.PixelCount;
        IgnoredCount += other.IgnoredCount;
    }

    /// <summary>A copy of the counts as [truth, noisy].</summary>
    public long[,] ToArray()
    {
        var a = new long[ClassCount, ClassCount];
        for (int j = 0; j < ClassCount; j++)
            for (int m = 0; m < ClassCount; m++)
                a[j, m] = _counts[j * ClassCount + m];
        return a;
    }

    /// <summary>
    /// The row-normalised matrix Q[j, m] = count[j, m] / (row total of j). A true class that never
    /// occurs (row total 0) gets the identity row (Q[j, j] = 1): nothing is known about its noise,
    /// and the identity keeps the matrix valid and does not lower its rank.
    /// </summary>
    public NoiseTransitionMatrix ToMatrix()
    {
        int c = ClassCount;
        var q = new double[c, c];
        for (int j = 0; j < c; j++)
        {
            long total = RowTotal(j);
            if (total == 0)
            {
                q[j, j] = 1;
                continue;
            }
            for (int m = 0; m < c; m++) q[j, m] = (double)_counts[j * c + m] / total;
        }
        return new NoiseTransitionMatrix(q);
    }
}

/// <summary>
/// Estimates the noise transition matrix Q[j, m] = P(noisy = m | true = j) from (clean, noisy)
/// mask pairs by counting pixels (ignore pixels excluded; see <see cref="TransitionCounts.ToMatrix"/>
/// for classes that never occur).
/// </summary>
public static class NoiseTransitionEstimator
{
    /// <summary>Q estimated from one pair.</summary>
    /// <param name="clean">True class indices (255 = ignore).</param>
    /// <param name="noisy">Noisy class indices, same length.</param>
    /// <param name="classCount">Number of classes, 2..255.</param>
    public static NoiseTransitionMatrix Estimate(ReadOnlySpan<byte> clean, ReadOnlySpan<byte> noisy, int classCount)
        => Count(clean, noisy, classCount).ToMatrix();

    /// <summary>Q estimated from many pairs (pixels pooled over all pairs).</summary>
    /// <param name="pairs">(clean, noisy) masks; each pair's two masks have equal length.</param>
    /// <param name="classCount">Number of classes, 2..255.</param>
    public static NoiseTransitionMatrix Estimate(IEnumerable<(byte[] Clean, byte[] Noisy)> pairs, int classCount)
        => Count(pairs, classCount).ToMatrix();

    /// <summary>Raw transition counts of one pair.</summary>
    /// <param name="clean">True class indices (255 = ignore).</param>
    /// <param name="noisy">Noisy class indices, same length.</param>
    /// <param name="classCount">Number of classes, 2..255.</param>
    public static TransitionCounts Count(ReadOnlySpan<byte> clean, ReadOnlySpan<byte> noisy, int classCount)
    {
        var counts = new TransitionCounts(classCount);
        counts.Add(clean, noisy);
        return counts;
    }

    /// <summary>Raw transition counts pooled over many pairs.</summary>
    /// <param name="pairs">(clean, noisy) masks; each pair's two masks have equal length.</param>
    /// <param name="classCount">Number of classes, 2..255.</param>
    public static TransitionCounts Count(IEnumerable<(byte[] Clean, byte[] Noisy)> pairs, int classCount)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        var counts = new TransitionCounts(classCount);
        foreach (var (clean, noisy) in pairs)
        {
            if (clean is null || noisy is null)
                throw new ArgumentException("A (clean, noisy) pair holds a null mask.", nameof(pairs));
            counts.Add(clean, noisy);
        }
        return counts;
    }
}
