using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.MetaStructure;

namespace MLNet.NoisySeg.Tests.MetaStructure;

/// <summary>Deterministic masks, per-pixel corruption and brute-force references for the meta-structure tests.</summary>
internal static class MetaStructureTestMasks
{
    /// <summary>Each pixel an independent uniform class in [0, classCount), or 255 with probability ignoreRate.</summary>
    public static byte[] RandomMask(int width, int height, int classCount, double ignoreRate, int seed)
    {
        var rng = SeededRandom.For(seed, "random-mask");
        var m = new byte[width * height];
        for (int i = 0; i < m.Length; i++)
            m[i] = rng.NextDouble() < ignoreRate ? MaskConventions.IgnoreIndex : (byte)rng.NextInt(classCount);
        return m;
    }

    /// <summary>Background 0 with filled discs of classes 1..classCount-1.</summary>
    public static byte[] DiscMask(int width, int height, int classCount, int discs, int minRadius, int maxRadius, int seed)
    {
        var rng = SeededRandom.For(seed, "disc-mask");
        var m = new byte[width * height];
        for (int d = 0; d < discs; d++)
        {
            int cx = rng.NextInt(width), cy = rng.NextInt(height), r = rng.NextIntInclusive(minRadius, maxRadius);
            byte c = (byte)(1 + rng.NextInt(classCount - 1));
            for (int y = Math.Max(0, cy - r); y <= Math.Min(height - 1, cy + r); y++)
                for (int x = Math.Max(0, cx - r); x <= Math.Min(width - 1, cx + r); x++)
                    if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r) m[y * width + x] = c;
        }
        return m;
    }

    /// <summary>Per-pixel corruption with a known Q: a pixel of class j becomes m with probability Q[j, m]; 255 stays.</summary>
    public static byte[] Corrupt(byte[] clean, NoiseTransitionMatrix q, int seed)
    {
        var rng = SeededRandom.For(seed, "corrupt");
        int c = q.ClassCount;
        var noisy = new byte[clean.Length];
        for (int i = 0; i < clean.Length; i++)
        {
            byte j = clean[i];
            if (j == MaskConventions.IgnoreIndex)
            {
                noisy[i] = j;
                continue;
            }
            double u = rng.NextDouble(), cum = 0;
            int m = c - 1;
            for (int k = 0; k < c; k++)
            {
                cum += q[j, k];
                if (u < cum) { m = k; break; }
            }
            noisy[i] = (byte)m;
        }
        return noisy;
    }

    /// <summary>Moves the mask content by (dx, dy); uncovered pixels become background 0.</summary>
    public static byte[] Shift(byte[] mask, int width, int height, int dx, int dy)
    {
        var s = new byte[mask.Length];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int sx = x - dx, sy = y - dy;
                s[y * width + x] = sx >= 0 && sx < width && sy >= 0 && sy < height ? mask[sy * width + sx] : (byte)0;
            }
        return s;
    }

    /// <summary>Brute-force box density by explicit window counts.</summary>
    public static double[] BruteBox(byte[] mask, int width, int height, int classCount, int h, DensityBorder border)
    {
        var d = new double[classCount * width * height];
        double k2 = (2.0 * h + 1) * (2.0 * h + 1);
        var counts = new int[classCount];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                Array.Clear(counts);
                int valid = 0;
                for (int yy = Math.Max(0, y - h); yy <= Math.Min(height - 1, y + h); yy++)
                    for (int xx = Math.Max(0, x - h); xx <= Math.Min(width - 1, x + h); xx++)
                    {
                        byte v = mask[yy * width + xx];
                        if (v == MaskConventions.IgnoreIndex) continue;
                        counts[v]++;
                        valid++;
                    }
                for (int m = 0; m < classCount; m++)
                {
                    double den = border == DensityBorder.ZeroPadding ? k2 : valid;
                    d[(m * height + y) * width + x] = den == 0 ? 0 : counts[m] / den;
                }
            }
        return d;
    }

    /// <summary>Brute-force 2-D Gaussian density (weights w(dy)*w(dx) of the truncated, normalised 1-D kernel).</summary>
    public static double[] BruteGaussian(byte[] mask, int width, int height, int classCount, double sigma, DensityBorder border)
    {
        double[] w = DensityMap.GaussianWeights(sigma);
        int r = (w.Length - 1) / 2;
        var d = new double[classCount * width * height];
        var num = new double[classCount];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                Array.Clear(num);
                double valid = 0;
                for (int dy = -r; dy <= r; dy++)
                {
                    int yy = y + dy;
                    if (yy < 0 || yy >= height) continue;
                    for (int dx = -r; dx <= r; dx++)
                    {
                        int xx = x + dx;
                        if (xx < 0 || xx >= width) continue;
                        byte v = mask[yy * width + xx];
                        if (v == MaskConventions.IgnoreIndex) continue;
                        double wt = w[dy + r] * w[dx + r];
                        num[v] += wt;
                        valid += wt;
                    }
                }
                for (int m = 0; m < classCount; m++)
                {
                    double den = border == DensityBorder.ZeroPadding ? 1.0 : valid;
                    d[(m * height + y) * width + x] = den == 0 ? 0 : num[m] / den;
                }
            }
        return d;
    }

    public static double MaxAbsDiff(float[] actual, double[] expected)
    {
        Assert.AreEqual(expected.Length, actual.Length);
        double max = 0;
        for (int i = 0; i < actual.Length; i++) max = Math.Max(max, Math.Abs(actual[i] - expected[i]));
        return max;
    }
}
