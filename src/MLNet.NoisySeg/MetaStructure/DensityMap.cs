using System.Buffers;
using System.Numerics;
using System.Runtime.Intrinsics;
using MLNet.NoisySeg.Core;

namespace MLNet.NoisySeg.MetaStructure;

/// <summary>
/// Per-class spatial density of a class-index mask: the label's meta-structure (method.md section 4).
/// For class m, density[m](x) is the (kernel-weighted) fraction of pixels labelled m around x.
/// Output is a planar float buffer [C, H, W] (class plane after class plane, rows row-major).
/// </summary>
/// <remarks>
/// <para><b>Box kernel</b> (bandwidth h): the window is the (2h+1) x (2h+1) square centred on x. It is
/// computed with sliding-window counts per class (running column sums over the window rows and a prefix
/// sum along each row, the row-by-row form of a summed-area table: exact integer counts, O(1) per pixel whatever h;
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
    /// <summary>The Gaussian kernel is truncated at this many standard deviations (<see cref="GaussianKernel.Truncate"/>).</summary>
    public const double GaussianTruncate = GaussianKernel.Truncate;

    /// <summary>Largest accepted box bandwidth h.</summary>
    public const int MaxBandwidth = 1 << 20;

    /// <summary>Largest accepted Gaussian sigma, in pixels.</summary>
    public const double MaxSigma = GaussianKernel.MaxSigma;

    /// <summary>Images with fewer pixels than this are processed on the calling thread only, even when asked for threads.</summary>
    internal const int ParallelThreshold = 1 << 16;

    /// <summary>The public entry points use threads from this many pixels up: below a megapixel a density map
    /// takes about a millisecond, and on a busy machine the thread hand-offs cost more than they save.</summary>
    internal const long DefaultParallelPixels = 1L << 20;

    /// <summary>Radius of the truncated Gaussian kernel: <c>(int)(GaussianTruncate * sigma + 0.5)</c>, as scipy.ndimage (<see cref="GaussianKernel.Radius"/>).</summary>
    /// <param name="sigma">Standard deviation in pixels, finite and &gt; 0.</param>
    public static int GaussianRadius(double sigma) => GaussianKernel.Radius(sigma);

    /// <summary>The normalised 1-D Gaussian weights for offsets -r..r (length 2r+1, summing to 1; <see cref="GaussianKernel.Weights"/>).</summary>
    /// <param name="sigma">Standard deviation in pixels, finite and &gt; 0.</param>
    public static double[] GaussianWeights(double sigma) => GaussianKernel.Weights(sigma);

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
        Run(mask, width, height, classCount, isClass: false, 0, DensityKernel.Box, bandwidth, 0, border, density, parallel: (long)width * height >= DefaultParallelPixels);
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
        Run(mask, width, height, classCount, isClass: false, 0, DensityKernel.Gaussian, 0, sigma, border, density, parallel: (long)width * height >= DefaultParallelPixels);
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
        Run(mask, width, height, classCount, isClass: false, 0, options.Kernel, options.Bandwidth, options.Sigma, options.Border, density, parallel: (long)width * height >= DefaultParallelPixels);
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
        Run(mask, width, height, 1, isClass: true, classIndex, options.Kernel, options.Bandwidth, options.Sigma, options.Border, density, parallel: (long)width * height >= DefaultParallelPixels);
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

    // ------------------------------------------------------------------ box kernel (sliding-window counts)

    private static unsafe void BoxPlanes(byte* mask, int w, int h, int first, int planes, int bw, DensityBorder border, float* dst, bool parallel, bool hasIgnore)
    {
        // Binary fast path: one count for class 1; class 0 is counted exactly as (labelled pixels - class-1 pixels).
        bool binary = planes == 2 && first == 0;
        bool withIgnore = hasIgnore && (border == DensityBorder.ValidPixels || binary);
        // Sliding window counts (running column sums + a row prefix sum): the same exact integer counts
        // as summed-area tables, without building them; a row block starts its column sums from scratch.
        long plane = (long)w * h;
        if (binary)
            BoxSliding(mask, w, h, 1, withIgnore, bw, border, dst + plane, dst, parallel);
        else
            for (int p = 0; p < planes; p++)
                BoxSliding(mask, w, h, (byte)(first + p), withIgnore, bw, border, dst + p * plane, null, parallel);
    }

    /// <summary>
    /// dst = count / divisor per pixel, count = pixels equal to <paramref name="value"/> in the window;
    /// when <paramref name="complement"/> is given it also receives (labelled - count) / divisor, the other
    /// class of a binary mask. With <paramref name="withIgnore"/> the labelled count excludes ignore pixels.
    /// </summary>
    private static unsafe void BoxSliding(byte* mask, int w, int h, byte value, bool withIgnore, int bw, DensityBorder border, float* dst, float* complement, bool parallel)
    {
        bool zero = border == DensityBorder.ZeroPadding;
        long k = 2L * bw + 1;
        float zeroDen = (float)(k * k);
        nint m = (nint)mask, o = (nint)dst, co = (nint)complement;
        ForBlocks(h, parallel, (y0, y1) =>
        {
            // col: class count per column over the window rows [ya, yb); pre: its prefix sum along the row
            // (pre[x] = sum of col[0..x)); same for ignore pixels.
            int[] buf = ArrayPool<int>.Shared.Rent(withIgnore ? 4 * w + 2 : 2 * w + 1);
            try
            {
                fixed (int* b = buf)
                {
                    int* col = b, pre = b + w;
                    int* icol = withIgnore ? b + 2 * w + 1 : null, ipre = withIgnore ? icol + w : null;
                    new Span<int>(b, withIgnore ? 4 * w + 2 : 2 * w + 1).Clear();
                    int ya = (int)Math.Max(0, (long)y0 - bw), yb = ya;
                    for (int y = y0; y < y1; y++)
                    {
                        int na = (int)Math.Max(0, (long)y - bw), nb = (int)Math.Min(h, (long)y + bw + 1);
                        for (; yb < nb; yb++)
                        {
                            AddRow((byte*)m + (long)yb * w, w, value, col, 1);
                            if (withIgnore) AddRow((byte*)m + (long)yb * w, w, MaskConventions.IgnoreIndex, icol, 1);
                        }
                        for (; ya < na; ya++)
                        {
                            AddRow((byte*)m + (long)ya * w, w, value, col, -1);
                            if (withIgnore) AddRow((byte*)m + (long)ya * w, w, MaskConventions.IgnoreIndex, icol, -1);
                        }
                        int run = 0;
                        for (int x = 0; x < w; x++) { pre[x] = run; run += col[x]; }
                        pre[w] = run;
                        if (withIgnore)
                        {
                            run = 0;
                            for (int x = 0; x < w; x++) { ipre[x] = run; run += icol[x]; }
                            ipre[w] = run;
                        }
                        BoxRow(pre, ipre, w, bw, nb - na, zero, zeroDen, (float*)o + (long)y * w, co == 0 ? null : (float*)co + (long)y * w);
                    }
                }
            }
            finally
            {
                ArrayPool<int>.Shared.Return(buf);
            }
        });
    }

    /// <summary>col[x] += sign where row[x] == value.</summary>
    private static unsafe void AddRow(byte* row, int w, byte value, int* col, int sign)
    {
        int x = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var target = Vector256.Create(value);
            var one = Vector256.Create((byte)1);
            for (; x <= w - 32; x += 32)
            {
                var eq = Vector256.Equals(Vector256.Load(row + x), target) & one;
                var (lo, hi) = Vector256.Widen(eq);
                var (a, b) = Vector256.Widen(lo);
                var (c, d) = Vector256.Widen(hi);
                if (sign > 0)
                {
                    (Vector256.Load(col + x) + a.AsInt32()).Store(col + x);
                    (Vector256.Load(col + x + 8) + b.AsInt32()).Store(col + x + 8);
                    (Vector256.Load(col + x + 16) + c.AsInt32()).Store(col + x + 16);
                    (Vector256.Load(col + x + 24) + d.AsInt32()).Store(col + x + 24);
                }
                else
                {
                    (Vector256.Load(col + x) - a.AsInt32()).Store(col + x);
                    (Vector256.Load(col + x + 8) - b.AsInt32()).Store(col + x + 8);
                    (Vector256.Load(col + x + 16) - c.AsInt32()).Store(col + x + 16);
                    (Vector256.Load(col + x + 24) - d.AsInt32()).Store(col + x + 24);
                }
            }
        }
        for (; x < w; x++)
            if (row[x] == value) col[x] += sign;
    }

    /// <summary>One output row from the prefix sums of the window's column counts (count / divisor; see <see cref="BoxSliding"/>).</summary>
    private static unsafe void BoxRow(int* pre, int* ipre, int w, int bw, int rows, bool zero, float zeroDen, float* row, float* crow)
    {
        int k = 2 * bw + 1; // only used for interior columns, which exist only when 2bw+1 <= w
        int xs = w, xe = w;
        if (2L * bw + 1 <= w) { xs = bw; xe = w - bw; }
        for (int x = 0; x < xs; x++) BoxAt(pre, ipre, x, w, bw, rows, zero, zeroDen, row, crow);
        int x0 = xs;
        if (xe > xs)
        {
            int vc = Vector<int>.Count, off = bw + 1;
            var area = new Vector<int>(rows * k);
            var zden = new Vector<float>(zeroDen);
            for (; x0 <= xe - vc; x0 += vc)
            {
                var c = Vector.Load(pre + x0 + off) - Vector.Load(pre + x0 - bw);
                var n = ipre == null ? area : area - (Vector.Load(ipre + x0 + off) - Vector.Load(ipre + x0 - bw));
                var den = zero ? zden : Vector.ConvertToSingle(n);
                var q = Vector.ConvertToSingle(c) / den;
                Vector<float> cq = crow == null ? default : Vector.ConvertToSingle(n - c) / den;
                if (!zero && ipre != null)
                {
                    var empty = Vector.Equals(n, Vector<int>.Zero).As<int, float>();
                    q = Vector.ConditionalSelect(empty, Vector<float>.Zero, q);
                    cq = Vector.ConditionalSelect(empty, Vector<float>.Zero, cq);
                }
                Vector.Store(q, row + x0);
                if (crow != null) Vector.Store(cq, crow + x0);
            }
        }
        for (int x = x0; x < w; x++) BoxAt(pre, ipre, x, w, bw, rows, zero, zeroDen, row, crow);
    }

    /// <summary>One border pixel: count and divisor from the row prefix sums of the window's column counts.</summary>
    private static unsafe void BoxAt(int* pre, int* ipre, int x, int w, int bw, int rows, bool zero, float zeroDen, float* row, float* crow)
    {
        int xa = Math.Max(0, x - bw), xb = (int)Math.Min(w, (long)x + bw + 1);
        int c = pre[xb] - pre[xa];
        int n = rows * (xb - xa);
        if (ipre != null) n -= ipre[xb] - ipre[xa];
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
