using System.Buffers;
using System.Numerics;
using MLNet.NoisySeg.Core;

namespace MLNet.NoisySeg.MetaStructure;

/// <summary>
/// Per-class spatial density of a class-index mask: the label's meta-structure (method.md section 4).
/// For class m, density[m](x) is the (kernel-weighted) fraction of pixels labelled m around x.
/// Output is a planar float buffer [C, H, W] (class plane after class plane, rows row-major).
/// </summary>
/// <remarks>
/// <para><b>Box kernel</b> (bandwidth h): the window is the (2h+1) x (2h+1) square centred on x. It is
/// computed with a summed-area table per class (exact integer counts, O(1) per pixel whatever h;
/// h may exceed the image). <b>Gaussian kernel</b> (sigma): separable, truncated at
/// <see cref="GaussianTruncate"/> = 4 standard deviations (radius <see cref="GaussianRadius(double)"/>,
/// the scipy.ndimage default), weights normalised to sum 1 over the truncated support.</para>
/// <para><b>Border and ignore</b> (<see cref="DensityBorder"/>): by default the divisor is the number
/// (or kernel weight) of window pixels that are inside the image and not ignore (255), so the class
/// densities sum to 1; a window containing only ignore pixels gives 0 for every class. With
/// <see cref="DensityBorder.ZeroPadding"/> the divisor is constant ((2h+1)^2, or 1 for the Gaussian)
/// and ignore pixels count as no class. Ignore pixels themselves receive the density of their
/// neighbourhood like any other pixel. ValidPixels Gaussian densities are clamped to [0, 1] against float
/// rounding; box densities are exact integer ratios.</para>
/// <para><b>Binary masks</b> (classCount = 2): only class 1 is filtered; class 0 is the labelled
/// window count (or weight) minus the class-1 count. For the box this is exactly the direct count;
/// for the Gaussian it equals a direct convolution of class 0 within float rounding (about 1e-7).
/// <see cref="ComputeClass(ReadOnlySpan{byte}, int, int, byte, DensityOptions, Span{float})"/>
/// computes a single plane directly.</para>
/// <para><b>Threads and determinism</b>: large images are processed in parallel over rows (and column
/// strips); every output value is computed by the same arithmetic in the same order regardless of
/// how rows are split, so results never depend on the thread count.</para>
/// </remarks>
public static class DensityMap
{
    /// <summary>The Gaussian kernel is truncated at this many standard deviations (scipy.ndimage's default).</summary>
    public const double GaussianTruncate = 4.0;

    /// <summary>Largest accepted box bandwidth h.</summary>
    public const int MaxBandwidth = 1 << 20;

    /// <summary>Largest accepted Gaussian sigma, in pixels.</summary>
    public const double MaxSigma = 1 << 16;

    /// <summary>Images with fewer pixels than this are processed on the calling thread only.</summary>
    internal const int ParallelThreshold = 1 << 16;

    /// <summary>Radius of the truncated Gaussian kernel: <c>(int)(GaussianTruncate * sigma + 0.5)</c>, as scipy.ndimage.</summary>
    /// <param name="sigma">Standard deviation in pixels, finite and &gt; 0.</param>
    public static int GaussianRadius(double sigma)
    {
        CheckSigma(sigma, nameof(sigma));
        return (int)(GaussianTruncate * sigma + 0.5);
    }

    /// <summary>The normalised 1-D Gaussian weights for offsets -r..r (length 2r+1, summing to 1).</summary>
    /// <param name="sigma">Standard deviation in pixels, finite and &gt; 0.</param>
    public static double[] GaussianWeights(double sigma)
    {
        int r = GaussianRadius(sigma);
        var w = new double[2 * r + 1];
        double sum = 0;
        for (int k = -r; k <= r; k++)
        {
            double v = Math.Exp(-0.5 * (k / sigma) * (k / sigma));
            w[k + r] = v;
            sum += v;
        }
        for (int i = 0; i < w.Length; i++) w[i] /= sum;
        return w;
    }

    // ------------------------------------------------------------------ public entry points

    /// <summary>Box-kernel density of every class into <paramref name="density"/> ([C, H, W]).</summary>
    /// <param name="mask">Row-major class indices (0..classCount-1, or 255 = ignore), width*height bytes.</param>
    /// <param name="width">Image width.</param>
    /// <param name="height">Image height.</param>
    /// <param name="classCount">Number of classes C (1..255).</param>
    /// <param name="bandwidth">Box half-width h ≥ 0; the window is (2h+1) x (2h+1).</param>
    /// <param name="density">Destination, exactly C*H*W floats.</param>
    /// <param name="border">Border and ignore handling.</param>
    /// <exception cref="ArgumentException">Sizes disagree, or the mask holds a value in [classCount, 254].</exception>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
    public static void ComputeBox(ReadOnlySpan<byte> mask, int width, int height, int classCount, int bandwidth, Span<float> density, DensityBorder border = DensityBorder.ValidPixels)
    {
        CheckBandwidth(bandwidth, nameof(bandwidth));
        Run(mask, width, height, classCount, isClass: false, 0, DensityKernel.Box, bandwidth, 0, border, density, parallel: true);
    }

    /// <summary>Box-kernel density of every class, as a new [C, H, W] buffer.</summary>
    /// <param name="mask">Row-major class indices (0..classCount-1, or 255 = ignore), width*height bytes.</param>
    /// <param name="width">Image width.</param>
    /// <param name="height">Image height.</param>
    /// <param name="classCount">Number of classes C (1..255).</param>
    /// <param name="bandwidth">Box half-width h ≥ 0.</param>
    /// <param name="border">Border and ignore handling.</param>
    public static float[] ComputeBox(ReadOnlySpan<byte> mask, int width, int height, int classCount, int bandwidth, DensityBorder border = DensityBorder.ValidPixels)
    {
        var d = new float[CheckedPlaneCount(width, height, classCount)];
        ComputeBox(mask, width, height, classCount, bandwidth, d, border);
        return d;
    }

    /// <summary>Gaussian-kernel density of every class into <paramref name="density"/> ([C, H, W]).</summary>
    /// <param name="mask">Row-major class indices (0..classCount-1, or 255 = ignore), width*height bytes.</param>
    /// <param name="width">Image width.</param>
    /// <param name="height">Image height.</param>
    /// <param name="classCount">Number of classes C (1..255).</param>
    /// <param name="sigma">Standard deviation in pixels (finite, &gt; 0); truncated at 4 sigma.</param>
    /// <param name="density">Destination, exactly C*H*W floats.</param>
    /// <param name="border">Border and ignore handling.</param>
    /// <exception cref="ArgumentException">Sizes disagree, or the mask holds a value in [classCount, 254].</exception>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
    public static void ComputeGaussian(ReadOnlySpan<byte> mask, int width, int height, int classCount, double sigma, Span<float> density, DensityBorder border = DensityBorder.ValidPixels)
    {
        CheckSigma(sigma, nameof(sigma));
        Run(mask, width, height, classCount, isClass: false, 0, DensityKernel.Gaussian, 0, sigma, border, density, parallel: true);
    }

    /// <summary>Gaussian-kernel density of every class, as a new [C, H, W] buffer.</summary>
    /// <param name="mask">Row-major class indices (0..classCount-1, or 255 = ignore), width*height bytes.</param>
    /// <param name="width">Image width.</param>
    /// <param name="height">Image height.</param>
    /// <param name="classCount">Number of classes C (1..255).</param>
    /// <param name="sigma">Standard deviation in pixels (finite, &gt; 0).</param>
    /// <param name="border">Border and ignore handling.</param>
    public static float[] ComputeGaussian(ReadOnlySpan<byte> mask, int width, int height, int classCount, double sigma, DensityBorder border = DensityBorder.ValidPixels)
    {
        var d = new float[CheckedPlaneCount(width, height, classCount)];
        ComputeGaussian(mask, width, height, classCount, sigma, d, border);
        return d;
    }

    /// <summary>Density of every class with the kernel chosen by <paramref name="options"/>, into [C, H, W].</summary>
    /// <param name="mask">Row-major class indices (0..classCount-1, or 255 = ignore), width*height bytes.</param>
    /// <param name="width">Image width.</param>
    /// <param name="height">Image height.</param>
    /// <param name="classCount">Number of classes C (1..255).</param>
    /// <param name="options">Kernel, bandwidth/sigma and border; validated.</param>
    /// <param name="density">Destination, exactly C*H*W floats.</param>
    public static void Compute(ReadOnlySpan<byte> mask, int width, int height, int classCount, DensityOptions options, Span<float> density)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Run(mask, width, height, classCount, isClass: false, 0, options.Kernel, options.Bandwidth, options.Sigma, options.Border, density, parallel: true);
    }

    /// <summary>Density of every class with the kernel chosen by <paramref name="options"/>, as a new [C, H, W] buffer.</summary>
    /// <param name="mask">Row-major class indices (0..classCount-1, or 255 = ignore), width*height bytes.</param>
    /// <param name="width">Image width.</param>
    /// <param name="height">Image height.</param>
    /// <param name="classCount">Number of classes C (1..255).</param>
    /// <param name="options">Kernel, bandwidth/sigma and border; validated.</param>
    public static float[] Compute(ReadOnlySpan<byte> mask, int width, int height, int classCount, DensityOptions options)
    {
        var d = new float[CheckedPlaneCount(width, height, classCount)];
        Compute(mask, width, height, classCount, options, d);
        return d;
    }

    /// <summary>
    /// Density of a single class (e.g. the foreground of a binary mask) into an [H, W] plane: the
    /// fast path when only one plane is needed. Identical to that class's plane of
    /// <see cref="Compute(ReadOnlySpan{byte}, int, int, int, DensityOptions, Span{float})"/>; other
    /// non-ignore values simply count as "not this class" and are not validated.
    /// </summary>
    /// <param name="mask">Row-major class indices (255 = ignore), width*height bytes.</param>
    /// <param name="width">Image width.</param>
    /// <param name="height">Image height.</param>
    /// <param name="classIndex">The class whose density is wanted, 0..254 (e.g. <see cref="MaskConventions.Foreground"/>).</param>
    /// <param name="options">Kernel, bandwidth/sigma and border; validated.</param>
    /// <param name="density">Destination, exactly H*W floats.</param>
    public static void ComputeClass(ReadOnlySpan<byte> mask, int width, int height, byte classIndex, DensityOptions options, Span<float> density)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (classIndex == MaskConventions.IgnoreIndex)
            throw new ArgumentOutOfRangeException(nameof(classIndex), classIndex, $"{nameof(classIndex)} must not be the ignore index 255.");
        Run(mask, width, height, 1, isClass: true, classIndex, options.Kernel, options.Bandwidth, options.Sigma, options.Border, density, parallel: true);
    }

    /// <summary>Density of a single class as a new [H, W] plane; see <see cref="ComputeClass(ReadOnlySpan{byte}, int, int, byte, DensityOptions, Span{float})"/>.</summary>
    /// <param name="mask">Row-major class indices (255 = ignore), width*height bytes.</param>
    /// <param name="width">Image width.</param>
    /// <param name="height">Image height.</param>
    /// <param name="classIndex">The class whose density is wanted, 0..254.</param>
    /// <param name="options">Kernel, bandwidth/sigma and border; validated.</param>
    public static float[] ComputeClass(ReadOnlySpan<byte> mask, int width, int height, byte classIndex, DensityOptions options)
    {
        var d = new float[CheckedPlaneCount(width, height, 1)];
        ComputeClass(mask, width, height, classIndex, options, d);
        return d;
    }

    // ------------------------------------------------------------------ validation

    private static void CheckBandwidth(int bandwidth, string name)
    {
        if (bandwidth < 0 || bandwidth > MaxBandwidth)
            throw new ArgumentOutOfRangeException(name, bandwidth, $"{name} must be in [0, {MaxBandwidth}].");
    }

    private static void CheckSigma(double sigma, string name)
    {
        if (!double.IsFinite(sigma) || sigma <= 0 || sigma > MaxSigma)
            throw new ArgumentOutOfRangeException(name, sigma, $"{name} must be a finite number in (0, {MaxSigma}].");
    }

    private static int CheckedPlaneCount(int width, int height, int classCount)
    {
        if (width <= 0 || height <= 0)
            throw new ArgumentOutOfRangeException(nameof(width), $"width and height must be positive; got {width}x{height}.");
        if (classCount < 1 || classCount > MaskConventions.MaxClassCount)
            throw new ArgumentOutOfRangeException(nameof(classCount), classCount, $"classCount must be in [1, {MaskConventions.MaxClassCount}].");
        long n = (long)width * height * classCount;
        if (n > Array.MaxLength)
            throw new ArgumentException($"A [{classCount}, {height}, {width}] density does not fit in one array.", nameof(classCount));
        return (int)n;
    }

    /// <summary>Throws if the mask holds a value in [classCount, 254]; returns whether it holds ignore pixels.</summary>
    internal static bool ValidateClasses(ReadOnlySpan<byte> mask, int classCount, string name)
    {
        if (classCount < MaskConventions.MaxClassCount)
        {
            int bad = mask.IndexOfAnyInRange((byte)classCount, (byte)(MaskConventions.IgnoreIndex - 1));
            if (bad >= 0)
                throw new ArgumentException($"{name}[{bad}] = {mask[bad]} is not a class index in [0, {classCount - 1}] nor the ignore index 255.", name);
        }
        return mask.Contains(MaskConventions.IgnoreIndex);
    }

    // ------------------------------------------------------------------ driver

    internal static unsafe void Run(ReadOnlySpan<byte> mask, int width, int height, int classCount, bool isClass, byte classIndex,
        DensityKernel kernel, int bandwidth, double sigma, DensityBorder border, Span<float> density, bool parallel)
    {
        Guard.MaskSize(mask.Length, width, height, nameof(mask));
        int total = CheckedPlaneCount(width, height, classCount);
        if (density.Length != total)
            throw new ArgumentException($"{nameof(density)} has {density.Length} elements; expected classCount x height x width = {classCount}x{height}x{width} = {total}.", nameof(density));
        if (!Enum.IsDefined(border))
            throw new ArgumentOutOfRangeException(nameof(border), border, $"{nameof(border)} must be ValidPixels or ZeroPadding.");
        if ((long)(width + 1) * (height + 1) > Array.MaxLength)
            throw new ArgumentException("The image is too large for a summed-area table.", nameof(mask));
        bool hasIgnore = isClass ? mask.Contains(MaskConventions.IgnoreIndex) : ValidateClasses(mask, classCount, nameof(mask));
        parallel &= (long)width * height >= ParallelThreshold && Environment.ProcessorCount > 1;
        int first = isClass ? classIndex : 0;
        int planes = isClass ? 1 : classCount;

        fixed (byte* m = mask)
        fixed (float* d = density)
        {
            if (kernel == DensityKernel.Box)
                BoxPlanes(m, width, height, first, planes, bandwidth, border, d, parallel, hasIgnore);
            else
                GaussianPlanes(m, width, height, first, planes, sigma, border, d, parallel, hasIgnore);
        }
    }

    /// <summary>Runs body(start, end) over [0, count) in contiguous blocks; the split never changes results.</summary>
    private static void ForBlocks(int count, bool parallel, Action<int, int> body)
    {
        if (!parallel || count < 2)
        {
            body(0, count);
            return;
        }
        int blocks = Math.Min(count, Environment.ProcessorCount * 4);
        Parallel.For(0, blocks, i => body((int)((long)count * i / blocks), (int)((long)count * (i + 1) / blocks)));
    }

    // ------------------------------------------------------------------ box kernel (summed-area tables)

    private static unsafe void BoxPlanes(byte* mask, int w, int h, int first, int planes, int bw, DensityBorder border, float* dst, bool parallel, bool hasIgnore)
    {
        // Binary fast path: one table for class 1; class 0 is counted exactly as (labelled pixels - class-1 pixels).
        bool binary = planes == 2 && first == 0;
        int satLen = (w + 1) * (h + 1);
        int[] sat = ArrayPool<int>.Shared.Rent(satLen);
        int[]? ign = hasIgnore && (border == DensityBorder.ValidPixels || binary) ? ArrayPool<int>.Shared.Rent(satLen) : null;
        try
        {
            fixed (int* s = sat)
            fixed (int* ig = ign)
            {
                if (ig != null) BuildSat(mask, w, h, MaskConventions.IgnoreIndex, ig, parallel);
                long plane = (long)w * h;
                if (binary)
                {
                    BuildSat(mask, w, h, 1, s, parallel);
                    QueryBox(s, ig, w, h, bw, border, dst + plane, dst, parallel);
                }
                else
                {
                    for (int p = 0; p < planes; p++)
                    {
                        BuildSat(mask, w, h, (byte)(first + p), s, parallel);
                        QueryBox(s, ig, w, h, bw, border, dst + p * plane, null, parallel);
                    }
                }
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(sat);
            if (ign != null) ArrayPool<int>.Shared.Return(ign);
        }
    }

    /// <summary>S[y, x] (stride w+1, (h+1) rows) = number of pixels equal to <paramref name="value"/> in [0, y) x [0, x).</summary>
    private static unsafe void BuildSat(byte* mask, int w, int h, byte value, int* sat, bool parallel)
    {
        int stride = w + 1;
        nint m = (nint)mask, s = (nint)sat;
        new Span<int>(sat, stride).Clear();
        // Pass 1: running count along each row.
        ForBlocks(h, parallel, (y0, y1) =>
        {
            for (int y = y0; y < y1; y++)
            {
                byte* mr = (byte*)m + (long)y * w;
                int* row = (int*)s + (long)(y + 1) * stride;
                row[0] = 0;
                int run = 0;
                for (int x = 0; x < w; x++)
                {
                    run += mr[x] == value ? 1 : 0;
                    row[x + 1] = run;
                }
            }
        });
        // Pass 2: cumulative sum down the columns, in vertical strips.
        int vc = Vector<int>.Count;
        int strips = parallel ? Math.Max(1, Math.Min(Environment.ProcessorCount * 2, stride / (8 * vc))) : 1;
        ForBlocks(strips, parallel, (i0, i1) =>
        {
            int xs = (int)((long)stride * i0 / strips), xe = (int)((long)stride * i1 / strips);
            for (int y = 2; y <= h; y++)
            {
                int* prev = (int*)s + (long)(y - 1) * stride;
                int* cur = (int*)s + (long)y * stride;
                int x = xs;
                for (; x <= xe - vc; x += vc)
                    Vector.Store(Vector.Load(cur + x) + Vector.Load(prev + x), cur + x);
                for (; x < xe; x++)
                    cur[x] += prev[x];
            }
        });
    }

    /// <summary>
    /// dst = count / divisor per pixel from the class table; when <paramref name="complement"/> is
    /// given it also receives (labelled - count) / divisor, the other class of a binary mask.
    /// <paramref name="ign"/> (ignore-pixel table) may be null when the mask has no ignore pixels.
    /// </summary>
    private static unsafe void QueryBox(int* sat, int* ign, int w, int h, int bw, DensityBorder border, float* dst, float* complement, bool parallel)
    {
        int stride = w + 1;
        bool zero = border == DensityBorder.ZeroPadding;
        long k = 2L * bw + 1;
        float zeroDen = (float)(k * k);
        nint s = (nint)sat, ig = (nint)ign, o = (nint)dst, co = (nint)complement;
        ForBlocks(h, parallel, (y0, y1) =>
        {
            int vc = Vector<int>.Count;
            for (int y = y0; y < y1; y++)
            {
                int ya = Math.Max(0, y - bw), yb = (int)Math.Min(h, (long)y + bw + 1);
                int rows = yb - ya;
                int* s1 = (int*)s + (long)ya * stride, s2 = (int*)s + (long)yb * stride;
                int* i1 = ig == 0 ? null : (int*)ig + (long)ya * stride;
                int* i2 = ig == 0 ? null : (int*)ig + (long)yb * stride;
                float* row = (float*)o + (long)y * w;
                float* crow = co == 0 ? null : (float*)co + (long)y * w;

                // Interior columns [xs, xe): the window [x-bw, x+bw] lies inside the row.
                int xs = w, xe = w;
                if (2L * bw + 1 <= w) { xs = bw; xe = w - bw; }
                for (int x = 0; x < xs; x++) BoxAt(s1, s2, i1, i2, x, w, bw, rows, zero, zeroDen, row, crow);
                int x0 = xs;
                if (xe > xs)
                {
                    int off = bw + 1;
                    var area = new Vector<int>(rows * (int)k);
                    var zden = new Vector<float>(zeroDen);
                    for (; x0 <= xe - vc; x0 += vc)
                    {
                        var c = Vector.Load(s2 + x0 + off) - Vector.Load(s2 + x0 - bw) - Vector.Load(s1 + x0 + off) + Vector.Load(s1 + x0 - bw);
                        var n = i1 == null ? area
                            : area - (Vector.Load(i2 + x0 + off) - Vector.Load(i2 + x0 - bw) - Vector.Load(i1 + x0 + off) + Vector.Load(i1 + x0 - bw));
                        var den = zero ? zden : Vector.ConvertToSingle(n);
                        var q = Vector.ConvertToSingle(c) / den;
                        Vector<float> cq = crow == null ? default : Vector.ConvertToSingle(n - c) / den;
                        if (!zero && i1 != null)
                        {
                            var empty = Vector.Equals(n, Vector<int>.Zero).As<int, float>();
                            q = Vector.ConditionalSelect(empty, Vector<float>.Zero, q);
                            cq = Vector.ConditionalSelect(empty, Vector<float>.Zero, cq);
                        }
                        Vector.Store(q, row + x0);
                        if (crow != null) Vector.Store(cq, crow + x0);
                    }
                }
                for (int x = x0; x < w; x++) BoxAt(s1, s2, i1, i2, x, w, bw, rows, zero, zeroDen, row, crow);
            }
        });
    }

    private static unsafe void BoxAt(int* s1, int* s2, int* i1, int* i2, int x, int w, int bw, int rows, bool zero, float zeroDen, float* row, float* crow)
    {
        int xa = Math.Max(0, x - bw), xb = (int)Math.Min(w, (long)x + bw + 1);
        int c = s2[xb] - s2[xa] - s1[xb] + s1[xa];
        int n = rows * (xb - xa);
        if (i1 != null) n -= i2[xb] - i2[xa] - i1[xb] + i1[xa];
        if (!zero && n == 0)
        {
            row[x] = 0f;
            if (crow != null) crow[x] = 0f;
            return;
        }
        float den = zero ? zeroDen : n;
        row[x] = c / den;
        if (crow != null) crow[x] = (n - c) / den;
    }

    // ------------------------------------------------------------------ Gaussian kernel (separable)

    private static unsafe void GaussianPlanes(byte* mask, int w, int h, int first, int planes, double sigma, DensityBorder border, float* dst, bool parallel, bool hasIgnore)
    {
        double[] wd = GaussianWeights(sigma);
        int r = (wd.Length - 1) / 2;
        var wf = new float[wd.Length];
        for (int i = 0; i < wd.Length; i++) wf[i] = (float)wd[i];
        int rx = Math.Min(r, w - 1), ry = Math.Min(r, h - 1);
        bool zero = border == DensityBorder.ZeroPadding;
        // Binary fast path: convolve class 1 only; class 0 = (labelled weight - class-1 weight).
        bool binary = planes == 2 && first == 0;
        bool needLabelled = !zero || binary;          // the kernel weight of the labelled window pixels
        bool ignorePlane = needLabelled && hasIgnore;  // ... as a plane when ignore pixels exist

        // Without ignore pixels the labelled weight is separable: total weight inside the image.
        float[]? nx = null, ny = null;
        if (needLabelled && !hasIgnore)
        {
            nx = InsideWeight(wd, r, w);
            ny = InsideWeight(wd, r, h);
        }

        int plane = w * h;
        float[] tmp = ArrayPool<float>.Shared.Rent(plane);
        float[]? norm = ignorePlane ? ArrayPool<float>.Shared.Rent(plane) : null;
        try
        {
            fixed (float* t = tmp)
            fixed (float* nv = norm)
            fixed (float* wp = wf)
            fixed (float* nxp = nx)
            fixed (float* nyp = ny)
            {
                if (nv != null)
                {
                    HorizontalPass(mask, w, h, MaskConventions.IgnoreIndex, notEqual: true, wp + r, rx, t, parallel);
                    VerticalPass(t, w, h, wp + r, ry, nv, null, null, null, null, divide: false, parallel);
                }
                if (binary)
                {
                    HorizontalPass(mask, w, h, 1, notEqual: false, wp + r, rx, t, parallel);
                    VerticalPass(t, w, h, wp + r, ry, dst + plane, dst, nxp, nyp, nv, divide: !zero, parallel);
                }
                else
                {
                    for (int p = 0; p < planes; p++)
                    {
                        HorizontalPass(mask, w, h, (byte)(first + p), notEqual: false, wp + r, rx, t, parallel);
                        VerticalPass(t, w, h, wp + r, ry, dst + (long)p * plane, null, nxp, nyp, nv, divide: !zero, parallel);
                    }
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(tmp);
            if (norm != null) ArrayPool<float>.Shared.Return(norm);
        }
    }

    /// <summary>For each position, the sum of the 1-D weights whose tap lies inside [0, n).</summary>
    private static float[] InsideWeight(double[] wd, int r, int n)
    {
        var res = new float[n];
        for (int i = 0; i < n; i++)
        {
            double s = 0;
            int kmin = Math.Max(-r, -i), kmax = (int)Math.Min(r, (long)n - 1 - i);
            for (int k = kmin; k <= kmax; k++) s += wd[k + r];
            res[i] = (float)s;
        }
        return res;
    }

    /// <summary>tmp[y, x] = sum_k w[k] * ind(mask[y, x + k]); taps outside the row are zero. <paramref name="wc"/> points at w[0].</summary>
    private static unsafe void HorizontalPass(byte* mask, int w, int h, byte value, bool notEqual, float* wc, int rx, float* tmp, bool parallel)
    {
        nint m = (nint)mask, t = (nint)tmp, wcp = (nint)wc;
        ForBlocks(h, parallel, (y0, y1) =>
        {
            int vc = Vector<float>.Count;
            int padLen = w + 2 * rx;
            float[] padArr = ArrayPool<float>.Shared.Rent(padLen);
            try
            {
                fixed (float* pad = padArr)
                {
                    float* wk = (float*)wcp;
                    float* lut = stackalloc float[256];
                    for (int v = 0; v < 256; v++) lut[v] = (v == value) != notEqual ? 1f : 0f;
                    new Span<float>(pad, rx).Clear();
                    new Span<float>(pad + rx + w, rx).Clear();
                    float* pc = pad + rx;
                    for (int y = y0; y < y1; y++)
                    {
                        byte* mr = (byte*)m + (long)y * w;
                        for (int x = 0; x < w; x++) pc[x] = lut[mr[x]];
                        float* row = (float*)t + (long)y * w;
                        int x0 = 0;
                        // Four independent accumulators hide the FMA latency; each pixel still sums
                        // its taps in ascending k with one FMA each, whichever loop handles it.
                        for (; x0 <= w - 4 * vc; x0 += 4 * vc)
                        {
                            Vector<float> a0 = Vector<float>.Zero, a1 = a0, a2 = a0, a3 = a0;
                            float* src = pc + x0;
                            for (int k = -rx; k <= rx; k++)
                            {
                                var wv = new Vector<float>(wk[k]);
                                a0 = Vector.FusedMultiplyAdd(Vector.Load(src + k), wv, a0);
                                a1 = Vector.FusedMultiplyAdd(Vector.Load(src + k + vc), wv, a1);
                                a2 = Vector.FusedMultiplyAdd(Vector.Load(src + k + 2 * vc), wv, a2);
                                a3 = Vector.FusedMultiplyAdd(Vector.Load(src + k + 3 * vc), wv, a3);
                            }
                            Vector.Store(a0, row + x0);
                            Vector.Store(a1, row + x0 + vc);
                            Vector.Store(a2, row + x0 + 2 * vc);
                            Vector.Store(a3, row + x0 + 3 * vc);
                        }
                        for (; x0 <= w - vc; x0 += vc)
                        {
                            var acc = Vector<float>.Zero;
                            float* src = pc + x0;
                            for (int k = -rx; k <= rx; k++)
                                acc = Vector.FusedMultiplyAdd(Vector.Load(src + k), new Vector<float>(wk[k]), acc);
                            Vector.Store(acc, row + x0);
                        }
                        for (; x0 < w; x0++)
                        {
                            float acc = 0f;
                            for (int k = -rx; k <= rx; k++)
                                acc = MathF.FusedMultiplyAdd(pc[x0 + k], wk[k], acc);
                            row[x0] = acc;
                        }
                    }
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(padArr);
            }
        });
    }

    /// <summary>
    /// dst[y, x] = v = sum_k w[k] * tmp[y + k, x] (taps outside the image are zero). The labelled
    /// weight L is nx[x]*ny[y] when nx is given, else norm[y, x] when norm is given. With
    /// <paramref name="divide"/>: dst = v / L and complement = (L - v) / L, both clamped to [0, 1]
    /// against float rounding, and 0 where L = 0. Without: dst = v and complement = max(L - v, 0).
    /// </summary>
    private static unsafe void VerticalPass(float* tmp, int w, int h, float* wc, int ry, float* dst, float* complement,
        float* nx, float* ny, float* norm, bool divide, bool parallel)
    {
        nint t = (nint)tmp, d = (nint)dst, cp = (nint)complement, wcp = (nint)wc, nxp = (nint)nx, nyp = (nint)ny, np = (nint)norm;
        ForBlocks(h, parallel, (y0, y1) =>
        {
            int vc = Vector<float>.Count;
            float* wk = (float*)wcp;
            for (int y = y0; y < y1; y++)
            {
                int kmin = Math.Max(-ry, -y), kmax = Math.Min(ry, h - 1 - y);
                float* col = (float*)t + (long)y * w; // tmp row y; tap k is at col + k*w
                float* row = (float*)d + (long)y * w;
                float* crow = cp == 0 ? null : (float*)cp + (long)y * w;
                float* nrow = np == 0 ? null : (float*)np + (long)y * w;
                float nyv = nyp == 0 ? 1f : ((float*)nyp)[y];
                // Row-streaming accumulation (k outer): reading the 2r+1 source rows one after the other
                // avoids the cache-set conflicts of gathering a column whose rows are 2^n bytes apart.
                // Every pixel still sums its taps in ascending k with one FMA each.
                new Span<float>(row, w).Clear();
                for (int k = kmin; k <= kmax; k++)
                {
                    float* src = col + (long)k * w;
                    var wv = new Vector<float>(wk[k]);
                    float ws = wk[k];
                    int x = 0;
                    for (; x <= w - vc; x += vc)
                        Vector.Store(Vector.FusedMultiplyAdd(Vector.Load(src + x), wv, Vector.Load(row + x)), row + x);
                    for (; x < w; x++)
                        row[x] = MathF.FusedMultiplyAdd(src[x], ws, row[x]);
                }
                if (!divide && crow == null) continue;
                var nyvv = new Vector<float>(nyv);
                var one = Vector<float>.One;
                int xv = 0;
                for (; xv <= w - vc; xv += vc)
                {
                    var v = Vector.Load(row + xv);
                    var l = nxp != 0 ? Vector.Load((float*)nxp + xv) * nyvv : Vector.Load(nrow + xv);
                    if (divide)
                    {
                        var pos = Vector.GreaterThan(l, Vector<float>.Zero).As<int, float>();
                        Vector.Store(Vector.ConditionalSelect(pos, Vector.Min(v / l, one), Vector<float>.Zero), row + xv);
                        if (crow != null)
                            Vector.Store(Vector.ConditionalSelect(pos, Vector.Max((l - v) / l, Vector<float>.Zero), Vector<float>.Zero), crow + xv);
                    }
                    else
                        Vector.Store(Vector.Max(l - v, Vector<float>.Zero), crow + xv);
                }
                for (; xv < w; xv++)
                {
                    float v = row[xv];
                    float l = nxp != 0 ? ((float*)nxp)[xv] * nyv : nrow[xv];
                    if (divide)
                    {
                        bool pos = l > 0f;
                        row[xv] = pos ? MathF.Min(v / l, 1f) : 0f;
                        if (crow != null) crow[xv] = pos ? MathF.Max((l - v) / l, 0f) : 0f;
                    }
                    else
                        crow[xv] = MathF.Max(l - v, 0f);
                }
            }
        });
    }
}
