using System.Numerics;
using System.Runtime.InteropServices;
using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Data.Preprocessing;

namespace MLNet.NoisySeg.Data.Synthetic;

/// <summary>Shared raster kernels of the synthetic generators (noise fields, sensor noise).</summary>
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
