using System.Numerics;
using System.Runtime.InteropServices;
using MLNet.NoisySeg.Core;

namespace MLNet.NoisySeg.Data.Preprocessing;

/// <summary>Image filters on one float plane <c>[H, W]</c>.</summary>
public static class Filtering
{
    /// <summary>
    /// In-place separable Gaussian blur with the library's kernel (<see cref="GaussianKernel"/>: truncated at 4 sigma)
    /// and reflect-101 borders. Sigma 0 leaves the plane unchanged.
    /// </summary>
    /// <param name="plane">Row-major pixels, height x width.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="sigma">Standard deviation in pixels (&gt;= 0).</param>
    public static void GaussianBlur(Span<float> plane, int height, int width, double sigma)
    {
        Guard.ImageSize(plane.Length, 1, height, width, nameof(plane));
        if (sigma == 0) return;
        double[] weights = GaussianKernel.Weights(sigma);
        int radius = weights.Length / 2;
        var kernel = new float[weights.Length];
        for (int k = 0; k < kernel.Length; k++) kernel[k] = (float)weights[k];
        var scratch = new float[plane.Length];

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
    private static void AddScaled(Span<float> dst, ReadOnlySpan<float> src, float w)
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
}
