using System.Numerics;
using System.Runtime.InteropServices;
using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Data.Preprocessing;

namespace MLNet.NoisySeg.Data.Synthetic;

/// <summary>Shared raster kernels of the synthetic generators (noise fields, blur, sensor noise).</summary>
internal static class SyntheticRaster
{
    /// <summary>
    /// Smooth value noise in about [-1, 1]: random values on a lattice of spacing
    /// <paramref name="spacing"/> pixels, smoothstep-interpolated. Pure +,-,*,/ arithmetic, so the
    /// field is bit-identical on every platform.
    /// </summary>
    public static float[] ValueNoise(ref SeededRandom rng, int height, int width, float spacing)
    {
        int gw = (int)(width / spacing) + 3, gh = (int)(height / spacing) + 3;
        var lattice = new float[gw * gh];
        for (int i = 0; i < lattice.Length; i++) lattice[i] = (float)(2 * rng.NextDouble() - 1);
        var field = new float[height * width];
        float inv = 1f / spacing;
        var fx = new int[width];
        var tx = new float[width];
        for (int x = 0; x < width; x++)
        {
            float gx = x * inv;
            int ix = (int)gx;
            fx[x] = ix;
            tx[x] = Smooth(gx - ix);
        }
        for (int y = 0; y < height; y++)
        {
            float gy = y * inv;
            int iy = (int)gy;
            float ty = Smooth(gy - iy);
            var r0 = lattice.AsSpan(iy * gw, gw);
            var r1 = lattice.AsSpan((iy + 1) * gw, gw);
            var row = field.AsSpan(y * width, width);
            for (int x = 0; x < width; x++)
            {
                int ix = fx[x];
                float t = tx[x];
                float a = r0[ix] + t * (r0[ix + 1] - r0[ix]);
                float b = r1[ix] + t * (r1[ix + 1] - r1[ix]);
                row[x] = a + ty * (b - a);
            }
        }
        return field;
    }

    private static float Smooth(float t) => t * t * (3f - 2f * t);

    /// <summary>A uniformly random unit vector (rejection in the unit disk; no trigonometry, platform-exact).</summary>
    public static (double Cos, double Sin) RandomDirection(ref SeededRandom rng)
    {
        while (true)
        {
            double x = 2 * rng.NextDouble() - 1, y = 2 * rng.NextDouble() - 1;
            double r2 = x * x + y * y;
            if (r2 > 1e-4 && r2 <= 1)
            {
                double r = Math.Sqrt(r2);
                return (x / r, y / r);
            }
        }
    }

    /// <summary>Uniform value in [min, max).</summary>
    public static double Uniform(ref SeededRandom rng, double min, double max) => min + (max - min) * rng.NextDouble();

    /// <summary>In-place separable Gaussian blur of one plane (reflect-101 borders, kernel radius ceil(3 sigma)).</summary>
    public static void GaussianBlur(Span<float> plane, int height, int width, double sigma, float[] scratch)
    {
        if (sigma <= 0) return;
        int radius = Math.Max(1, (int)Math.Ceiling(3 * sigma));
        var kernel = new float[2 * radius + 1];
        double sum = 0;
        for (int k = -radius; k <= radius; k++) sum += kernel[k + radius] = (float)Math.Exp(-0.5 * k * k / (sigma * sigma));
        for (int k = 0; k < kernel.Length; k++) kernel[k] = (float)(kernel[k] / sum);

        // Horizontal pass: plane -> scratch (via a reflect-padded row).
        var padded = new float[width + 2 * radius];
        for (int y = 0; y < height; y++)
        {
            var src = plane.Slice(y * width, width);
            for (int i = 0; i < padded.Length; i++) padded[i] = src[Cropping.ReflectIndex(i - radius, width)];
            var dst = scratch.AsSpan(y * width, width);
            dst.Clear();
            for (int k = 0; k < kernel.Length; k++) AddScaled(dst, padded.AsSpan(k, width), kernel[k]);
        }
        // Vertical pass: scratch -> plane.
        for (int y = 0; y < height; y++)
        {
            var dst = plane.Slice(y * width, width);
            dst.Clear();
            for (int k = 0; k < kernel.Length; k++)
                AddScaled(dst, scratch.AsSpan(Cropping.ReflectIndex(y + k - radius, height) * width, width), kernel[k]);
        }
    }

    /// <summary>dst += w * src, vectorized.</summary>
    public static void AddScaled(Span<float> dst, ReadOnlySpan<float> src, float w)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && dst.Length >= Vector<float>.Count)
        {
            var vw = new Vector<float>(w);
            var d = MemoryMarshal.Cast<float, Vector<float>>(dst);
            var s = MemoryMarshal.Cast<float, Vector<float>>(src);
            for (int k = 0; k < d.Length; k++) d[k] += s[k] * vw;
            i = d.Length * Vector<float>.Count;
        }
        for (; i < dst.Length; i++) dst[i] += src[i] * w;
    }

    /// <summary>
    /// Camera noise in place: Poisson shot noise with <paramref name="photons"/> expected photons at
    /// intensity 1 (0 disables it) plus Gaussian read noise of standard deviation
    /// <paramref name="readNoise"/>; then clamps to [0, 1]. Shot noise is sampled exactly when the
    /// expected count is below 12 and by its normal approximation (merged with the read noise into
    /// one Gaussian draw) above.
    /// </summary>
    public static void AddCameraNoise(Span<float> plane, ref SeededRandom rng, double photons, double readNoise)
    {
        var normal = new NormalSampler();
        double readVar = readNoise * readNoise;
        for (int i = 0; i < plane.Length; i++)
        {
            double v = Math.Max(0, plane[i]);
            double variance = readVar;
            if (photons > 0)
            {
                double lambda = v * photons;
                if (lambda < 12)
                {
                    double limit = Math.Exp(-lambda), p = rng.NextDouble();
                    int n = 0;
                    while (p > limit) { p *= rng.NextDouble(); n++; }
                    v = n / photons;
                }
                else
                {
                    variance += v / photons;
                }
            }
            if (variance > 0) v += Math.Sqrt(variance) * normal.Next(ref rng);
            plane[i] = (float)Math.Clamp(v, 0, 1);
        }
    }

    /// <summary>Standard normal samples by Marsaglia's polar method (two per logarithm).</summary>
    internal struct NormalSampler
    {
        private double _spare;
        private bool _hasSpare;

        public double Next(ref SeededRandom rng)
        {
            if (_hasSpare)
            {
                _hasSpare = false;
                return _spare;
            }
            double u, v, s;
            do
            {
                u = 2 * rng.NextDouble() - 1;
                v = 2 * rng.NextDouble() - 1;
                s = u * u + v * v;
            }
            while (s >= 1 || s == 0);
            double m = Math.Sqrt(-2 * Math.Log(s) / s);
            _spare = v * m;
            _hasSpare = true;
            return u * m;
        }
    }
}
