using MLNet.NoisySeg.Core;

namespace MLNet.NoisySeg.MetaStructure;

/// <summary>
/// Summary statistics of density maps for reports: per-class mean density, and the "structure
/// correlation" (per-class Pearson correlation) between two density maps. Sampled or flipped
/// labels keep the meta-structure (high correlation with the clean density); random labels do not
/// (correlation near 0).
/// </summary>
public static class DensityStatistics
{
    /// <summary>Mean density of each class over the pixels that are not ignore in <paramref name="mask"/> (all pixels if empty).</summary>
    /// <param name="density">Planar [C, H, W] density.</param>
    /// <param name="width">Image width.</param>
    /// <param name="height">Image height.</param>
    /// <param name="classCount">Number of classes C.</param>
    /// <param name="mask">Optional mask whose ignore (255) pixels are skipped.</param>
    /// <returns>C means (0 for every class when no pixel is scored).</returns>
    public static double[] MeanDensity(ReadOnlySpan<float> density, int width, int height, int classCount, ReadOnlySpan<byte> mask = default)
    {
        int plane = Lemma1.CheckPlanar(density.Length, width, height, classCount, nameof(density));
        if (!mask.IsEmpty) Guard.MaskSize(mask.Length, width, height, nameof(mask));
        var result = new double[classCount];
        for (int m = 0; m < classCount; m++)
        {
            ReadOnlySpan<float> p = density.Slice(m * plane, plane);
            double s = 0;
            long n = 0;
            for (int i = 0; i < plane; i++)
            {
                if (!mask.IsEmpty && mask[i] == MaskConventions.IgnoreIndex) continue;
                s += p[i];
                n++;
            }
            result[m] = n == 0 ? 0 : s / n;
        }
        return result;
    }

    /// <summary>
    /// Pearson correlation, per class, between two density maps over the pixels that are not
    /// ignore in <paramref name="mask"/> (all pixels if empty). A class whose plane is constant in
    /// either map (zero variance, e.g. the class is absent) gets <see cref="double.NaN"/>.
    /// </summary>
    /// <param name="a">First planar [C, H, W] density (e.g. of the clean mask).</param>
    /// <param name="b">Second planar [C, H, W] density (e.g. of a noisy mask).</param>
    /// <param name="width">Image width.</param>
    /// <param name="height">Image height.</param>
    /// <param name="classCount">Number of classes C.</param>
    /// <param name="mask">Optional mask whose ignore (255) pixels are skipped.</param>
    public static double[] StructureCorrelation(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int width, int height, int classCount, ReadOnlySpan<byte> mask = default)
    {
        int plane = Lemma1.CheckPlanar(a.Length, width, height, classCount, nameof(a));
        if (b.Length != a.Length)
            throw new ArgumentException($"{nameof(b)} has {b.Length} elements; expected {a.Length}.", nameof(b));
        if (!mask.IsEmpty) Guard.MaskSize(mask.Length, width, height, nameof(mask));
        var result = new double[classCount];
        for (int m = 0; m < classCount; m++)
        {
            ReadOnlySpan<float> pa = a.Slice(m * plane, plane), pb = b.Slice(m * plane, plane);
            double sa = 0, sb = 0;
            long n = 0;
            for (int i = 0; i < plane; i++)
            {
                if (!mask.IsEmpty && mask[i] == MaskConventions.IgnoreIndex) continue;
                sa += pa[i];
                sb += pb[i];
                n++;
            }
            if (n == 0)
            {
                result[m] = double.NaN;
                continue;
            }
            double ma = sa / n, mb = sb / n, cov = 0, va = 0, vb = 0;
            for (int i = 0; i < plane; i++)
            {
                if (!mask.IsEmpty && mask[i] == MaskConventions.IgnoreIndex) continue;
                double da = pa[i] - ma, db = pb[i] - mb;
                cov += da * db;
                va += da * da;
                vb += db * db;
            }
            result[m] = va <= 0 || vb <= 0 ? double.NaN : Math.Clamp(cov / Math.Sqrt(va * vb), -1.0, 1.0);
        }
        return result;
    }

    /// <summary>Mean of the per-class structure correlations, skipping NaN classes (NaN if all are NaN).</summary>
    /// <param name="a">First planar [C, H, W] density.</param>
    /// <param name="b">Second planar [C, H, W] density.</param>
    /// <param name="width">Image width.</param>
    /// <param name="height">Image height.</param>
    /// <param name="classCount">Number of classes C.</param>
    /// <param name="mask">Optional mask whose ignore (255) pixels are skipped.</param>
    public static double MeanStructureCorrelation(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int width, int height, int classCount, ReadOnlySpan<byte> mask = default)
    {
        double[] r = StructureCorrelation(a, b, width, height, classCount, mask);
        double s = 0;
        int n = 0;
        foreach (double v in r)
        {
            if (double.IsNaN(v)) continue;
            s += v;
            n++;
        }
        return n == 0 ? double.NaN : s / n;
    }
}
