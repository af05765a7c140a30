using System.Numerics;
using MLNet.NoisySeg.Core;

namespace MLNet.NoisySeg.MetaStructure;

/// <summary>
/// How well the measured noisy density matches the density Lemma 1 predicts from the clean
/// density and Q. Errors are absolute density differences over the scored (non-ignore) pixels.
/// </summary>
/// <param name="MeanAbsoluteError">Mean of |predicted - measured| over scored pixels and classes.</param>
/// <param name="MaxAbsoluteError">Largest |predicted - measured| over scored pixels and classes.</param>
/// <param name="PerClassMeanAbsoluteError">Mean absolute error of each class plane.</param>
/// <param name="PerClassMaxAbsoluteError">Largest absolute error of each class plane.</param>
/// <param name="PixelCount">Number of scored pixels (per class).</param>
public sealed record Lemma1Result(
    double MeanAbsoluteError,
    double MaxAbsoluteError,
    IReadOnlyList<double> PerClassMeanAbsoluteError,
    IReadOnlyList<double> PerClassMaxAbsoluteError,
    long PixelCount);

/// <summary>
/// Lemma 1 of the paper (Luo et al., AAAI 2022): for noise applied per pixel with transition matrix
/// Q, the noisy label's density is a mixture of the true class densities,
/// density_noisy[m](x) ≈ sum_j Q[j, m] * density_true[j](x), up to sampling error that shrinks
/// as the window grows. A structure-changing perturbation (shift, dilation, ...) breaks it.
/// </summary>
public static class Lemma1
{
    /// <summary>predicted[m](x) = sum_j Q[j, m] * cleanDensity[j](x), for planar [C, H, W] buffers.</summary>
    /// <param name="cleanDensity">Density of the clean mask, [C, H, W] with C = Q's class count.</param>
    /// <param name="width">Image width.</param>
    /// <param name="height">Image height.</param>
    /// <param name="q">The noise transition matrix.</param>
    /// <param name="predicted">Destination, same length as <paramref name="cleanDensity"/>.</param>
    public static void PredictNoisyDensity(ReadOnlySpan<float> cleanDensity, int width, int height, NoiseTransitionMatrix q, Span<float> predicted)
    {
        ArgumentNullException.ThrowIfNull(q);
        int c = q.ClassCount;
        int plane = CheckPlanar(cleanDensity.Length, width, height, c, nameof(cleanDensity));
        if (predicted.Length != cleanDensity.Length)
            throw new ArgumentException($"{nameof(predicted)} has {predicted.Length} elements; expected {cleanDensity.Length}.", nameof(predicted));
        int vc = Vector<float>.Count;
        for (int m = 0; m < c; m++)
        {
            Span<float> dst = predicted.Slice(m * plane, plane);
            dst.Clear();
            for (int j = 0; j < c; j++)
            {
                float w = (float)q[j, m];
                if (w == 0) continue;
                ReadOnlySpan<float> src = cleanDensity.Slice(j * plane, plane);
                var wv = new Vector<float>(w);
                int x = 0;
                for (; x <= plane - vc; x += vc)
                    Vector.FusedMultiplyAdd(new Vector<float>(src.Slice(x)), wv, new Vector<float>(dst.Slice(x))).CopyTo(dst.Slice(x));
                for (; x < plane; x++)
                    dst[x] = MathF.FusedMultiplyAdd(src[x], w, dst[x]);
            }
        }
    }

    /// <summary>The Lemma 1 prediction as a new [C, H, W] buffer.</summary>
    /// <param name="cleanDensity">Density of the clean mask, [C, H, W] with C = Q's class count.</param>
    /// <param name="width">Image width.</param>
    /// <param name="height">Image height.</param>
    /// <param name="q">The noise transition matrix.</param>
    public static float[] PredictNoisyDensity(ReadOnlySpan<float> cleanDensity, int width, int height, NoiseTransitionMatrix q)
    {
        var p = new float[cleanDensity.Length];
        PredictNoisyDensity(cleanDensity, width, height, q, p);
        return p;
    }

    /// <summary>
    /// Computes the densities of <paramref name="clean"/> and <paramref name="noisy"/> with
    /// <paramref name="options"/>, predicts the noisy density from the clean one with
    /// <paramref name="q"/>, and compares prediction and measurement over pixels that are not
    /// ignore in either mask.
    /// </summary>
    /// <param name="clean">Clean mask, row-major class indices (255 = ignore).</param>
    /// <param name="noisy">Noisy mask, same size.</param>
    /// <param name="width">Image width.</param>
    /// <param name="height">Image height.</param>
    /// <param name="q">The noise transition matrix that produced (or is assumed to produce) the noisy mask.</param>
    /// <param name="options">Density options (kernel, bandwidth or sigma, border).</param>
    public static Lemma1Result Check(ReadOnlySpan<byte> clean, ReadOnlySpan<byte> noisy, int width, int height, NoiseTransitionMatrix q, DensityOptions options)
    {
        ArgumentNullException.ThrowIfNull(q);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Guard.MaskSize(clean.Length, width, height, nameof(clean));
        Guard.MaskSize(noisy.Length, width, height, nameof(noisy));
        int c = q.ClassCount;
        float[] dClean = DensityMap.Compute(clean, width, height, c, options);
        float[] dNoisy = DensityMap.Compute(noisy, width, height, c, options);
        float[] predicted = PredictNoisyDensity(dClean, width, height, q);
        return Compare(predicted, dNoisy, width, height, c, clean, noisy);
    }

    /// <summary>
    /// As <see cref="Check(ReadOnlySpan{byte}, ReadOnlySpan{byte}, int, int, NoiseTransitionMatrix, DensityOptions)"/>
    /// with Q estimated from the pair itself (<see cref="NoiseTransitionEstimator.Estimate(ReadOnlySpan{byte}, ReadOnlySpan{byte}, int)"/>):
    /// tests whether the pair is explained by some per-pixel noise at all.
    /// </summary>
    /// <param name="clean">Clean mask, row-major class indices (255 = ignore).</param>
    /// <param name="noisy">Noisy mask, same size.</param>
    /// <param name="width">Image width.</param>
    /// <param name="height">Image height.</param>
    /// <param name="classCount">Number of classes, 2..255.</param>
    /// <param name="options">Density options.</param>
    public static Lemma1Result Check(ReadOnlySpan<byte> clean, ReadOnlySpan<byte> noisy, int width, int height, int classCount, DensityOptions options)
        => Check(clean, noisy, width, height, NoiseTransitionEstimator.Estimate(clean, noisy, classCount), options);

    /// <summary>
    /// Absolute errors between two [C, H, W] density buffers over the pixels that are not ignore
    /// in any of the given masks (pass empty spans to score every pixel).
    /// </summary>
    /// <param name="predicted">Predicted density, [C, H, W].</param>
    /// <param name="measured">Measured density, [C, H, W].</param>
    /// <param name="width">Image width.</param>
    /// <param name="height">Image height.</param>
    /// <param name="classCount">Number of classes C.</param>
    /// <param name="mask">Optional mask whose ignore (255) pixels are not scored.</param>
    /// <param name="otherMask">Optional second mask whose ignore pixels are not scored either.</param>
    public static Lemma1Result Compare(ReadOnlySpan<float> predicted, ReadOnlySpan<float> measured, int width, int height, int classCount,
        ReadOnlySpan<byte> mask = default, ReadOnlySpan<byte> otherMask = default)
    {
        int plane = CheckPlanar(predicted.Length, width, height, classCount, nameof(predicted));
        if (measured.Length != predicted.Length)
            throw new ArgumentException($"{nameof(measured)} has {measured.Length} elements; expected {predicted.Length}.", nameof(measured));
        if (!mask.IsEmpty) Guard.MaskSize(mask.Length, width, height, nameof(mask));
        if (!otherMask.IsEmpty) Guard.MaskSize(otherMask.Length, width, height, nameof(otherMask));
        var mean = new double[classCount];
        var max = new double[classCount];
        long scored = 0;
        for (int i = 0; i < plane; i++)
        {
            if (!mask.IsEmpty && mask[i] == MaskConventions.IgnoreIndex) continue;
            if (!otherMask.IsEmpty && otherMask[i] == MaskConventions.IgnoreIndex) continue;
            scored++;
            for (int m = 0; m < classCount; m++)
            {
                double e = Math.Abs((double)predicted[m * plane + i] - measured[m * plane + i]);
                mean[m] += e;
                if (e > max[m]) max[m] = e;
            }
        }
        double total = 0, overallMax = 0;
        for (int m = 0; m < classCount; m++)
        {
            total += mean[m];
            mean[m] = scored == 0 ? 0 : mean[m] / scored;
            overallMax = Math.Max(overallMax, max[m]);
        }
        double overall = scored == 0 ? 0 : total / ((double)scored * classCount);
        return new Lemma1Result(overall, overallMax, mean, max, scored);
    }

    internal static int CheckPlanar(int length, int width, int height, int classCount, string name)
    {
        if (width <= 0 || height <= 0)
            throw new ArgumentOutOfRangeException(nameof(width), $"width and height must be positive; got {width}x{height}.");
        if (classCount < 1)
            throw new ArgumentOutOfRangeException(nameof(classCount), classCount, "classCount must be at least 1.");
        long plane = (long)width * height;
        if (plane * classCount != length)
            throw new ArgumentException($"{name} has {length} elements; expected classCount x height x width = {classCount}x{height}x{width} = {plane * classCount}.", name);
        return (int)plane;
    }
}
