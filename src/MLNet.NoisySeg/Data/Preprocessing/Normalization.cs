using MLNet.NoisySeg.Core;
using System.Numerics;
using System.Runtime.InteropServices;

namespace MLNet.NoisySeg.Data.Preprocessing;

/// <summary>
/// Intensity normalization of planar images (<c>float[C*H*W]</c>), in place and without allocations.
/// </summary>
public static class Normalization
{
    /// <summary>
    /// Standard deviations below this value (absolute, in the image's own units) count as zero: the
    /// image (or channel) is then only centred (mean subtracted), never divided, so constant images
    /// become all zeros instead of NaN or huge values. Value: 1e-6.
    /// </summary>
    public const double ZScoreEpsilon = 1e-6;

    /// <summary>
    /// Per-image z-score: subtracts the mean and divides by the (population) standard deviation so
    /// that the result has mean 0 and standard deviation 1, as in the paper's preprocessing.
    /// Statistics are accumulated in <see cref="double"/>. If the standard deviation is below
    /// <see cref="ZScoreEpsilon"/> only the mean is subtracted.
    /// </summary>
    /// <param name="image">Planar image <c>[C, H, W]</c>; normalized in place.</param>
    /// <param name="channels">Number of channels C (at least 1).</param>
    /// <param name="height">Image height H (at least 1).</param>
    /// <param name="width">Image width W (at least 1).</param>
    /// <param name="perChannel">
    /// <c>true</c>: each channel gets its own mean and standard deviation; <c>false</c>: one mean
    /// and standard deviation over all channels.
    /// </param>
    /// <exception cref="ArgumentException">The buffer length is not C*H*W.</exception>
    public static void ZScore(Span<float> image, int channels, int height, int width, bool perChannel)
    {
        Guard.ImageSize(image.Length, channels, height, width, nameof(image));
        if (perChannel)
        {
            int plane = height * width;
            for (int c = 0; c < channels; c++)
                ZScoreBlock(image.Slice(c * plane, plane));
        }
        else
        {
            ZScoreBlock(image);
        }
    }

    /// <summary>Computes the mean and population standard deviation of <paramref name="values"/> (two-pass, double accumulation).</summary>
    /// <param name="values">The values; must not be empty.</param>
    /// <returns>The mean and the population standard deviation.</returns>
    public static (double Mean, double StdDev) MeanAndStdDev(ReadOnlySpan<float> values)
    {
        if (values.IsEmpty) throw new ArgumentException("values must not be empty.", nameof(values));
        double mean = Sum(values) / values.Length;
        double ss = SumSquaredDeviations(values, mean);
        return (mean, Math.Sqrt(ss / values.Length));
    }

    private static void ZScoreBlock(Span<float> values)
    {
        var (mean, std) = MeanAndStdDev(values);
        double scale = std < ZScoreEpsilon ? 1.0 : 1.0 / std;
        // x' = (x - mean) * scale = x * scale + offset
        float s = (float)scale;
        float m = (float)mean;
        int i = 0;
        if (Vector.IsHardwareAccelerated && values.Length >= Vector<float>.Count)
        {
            var vs = new Vector<float>(s);
            var vm = new Vector<float>(m);
            var vecs = MemoryMarshal.Cast<float, Vector<float>>(values);
            for (int k = 0; k < vecs.Length; k++)
                vecs[k] = (vecs[k] - vm) * vs;
            i = vecs.Length * Vector<float>.Count;
        }
        for (; i < values.Length; i++)
            values[i] = (values[i] - m) * s;
    }

    private static double Sum(ReadOnlySpan<float> values)
    {
        // Float vector partial sums over short blocks, then double accumulation: fast and accurate.
        const int Block = 1024;
        double total = 0;
        for (int start = 0; start < values.Length; start += Block)
        {
            var block = values.Slice(start, Math.Min(Block, values.Length - start));
            int i = 0;
            if (Vector.IsHardwareAccelerated && block.Length >= Vector<float>.Count)
            {
                var acc = Vector<float>.Zero;
                var vecs = MemoryMarshal.Cast<float, Vector<float>>(block);
                for (int k = 0; k < vecs.Length; k++) acc += vecs[k];
                total += Vector.Sum(acc);
                i = vecs.Length * Vector<float>.Count;
            }
            for (; i < block.Length; i++) total += block[i];
        }
        return total;
    }

    private static double SumSquaredDeviations(ReadOnlySpan<float> values, double mean)
    {
        const int Block = 1024;
        double total = 0;
        float m = (float)mean;
        for (int start = 0; start < values.Length; start += Block)
        {
            var block = values.Slice(start, Math.Min(Block, values.Length - start));
            int i = 0;
            if (Vector.IsHardwareAccelerated && block.Length >= Vector<float>.Count)
            {
                var acc = Vector<float>.Zero;
                var vm = new Vector<float>(m);
                var vecs = MemoryMarshal.Cast<float, Vector<float>>(block);
                for (int k = 0; k < vecs.Length; k++)
                {
                    var d = vecs[k] - vm;
                    acc += d * d;
                }
                total += Vector.Sum(acc);
                i = vecs.Length * Vector<float>.Count;
            }
            for (; i < block.Length; i++)
            {
                double d = block[i] - mean;
                total += d * d;
            }
        }
        return total;
    }
}
