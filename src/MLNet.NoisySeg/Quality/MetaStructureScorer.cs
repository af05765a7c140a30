using System.Numerics;
using System.Runtime.InteropServices;
using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.MetaStructure;

namespace MLNet.NoisySeg.Quality;

/// <summary>
/// Outcome of <see cref="MetaStructureScorer.Compute"/> for one image: the noise-aware meta-structure score overall
/// and per class, and the quantities it is made of.
/// </summary>
public sealed class MetaStructureScoreResult
{
    internal MetaStructureScoreResult(double score, double[] classScores, double[] classExcess, double[] classMass, long structuralIssueCount)
    {
        Score = score;
        ClassScores = Array.AsReadOnly(classScores);
        ClassExcess = Array.AsReadOnly(classExcess);
        ClassMass = Array.AsReadOnly(classMass);
        StructuralIssueCount = structuralIssueCount;
    }

    /// <summary>
    /// Overall score in [0, 1]: 1 - Σ_m excess_m / (Σ_m mass_m + μ) over the classes other than
    /// <see cref="LabelQualityOptions.ExcludedClass"/>. 1 = the given mask's meta-structure is what the prediction and
    /// the data set's noise rates lead one to expect; lower = more of it is misplaced. NaN when the image has no scored pixel.
    /// </summary>
    public double Score { get; }

    /// <summary>Per class m: 1 - excess_m / (mass_m + μ); 1 when the class is absent from both maps (and μ = 0).</summary>
    public IReadOnlyList<double> ClassScores { get; }

    /// <summary>Per class: the noise-corrected structural excess X_m (density summed over the scored pixels, in pixels: about the misplaced area).</summary>
    public IReadOnlyList<double> ClassExcess { get; }

    /// <summary>Per class: Σ over scored pixels of given density + expected density (in pixels, about twice the class area).</summary>
    public IReadOnlyList<double> ClassMass { get; }

    /// <summary>Pixels flagged as structural issues (see <see cref="MetaStructureScorer"/>).</summary>
    public long StructuralIssueCount { get; }
}

/// <summary>
/// The noise-aware meta-structure score [ours, issue 15]: does the spatial density (meta-structure, method.md §4) of
/// a given mask match what the model's decoded prediction and the data set's estimated label-noise rates predict?
/// </summary>
/// <remarks>
/// <para><b>Model.</b> Let d̂ be the decoded prediction (an estimate of the true mask) and Q̂[j, m] the estimated
/// rate at which a pixel predicted j carries the given label m (<see cref="LabelQualityModel.EstimatedNoise"/>,
/// counted over the whole data set on pixels whose whole window is predicted as one class, so that the network's
/// boundary imprecision is not mistaken for label noise). If the given mask differed from the truth only by
/// independent per-pixel label noise (sampling, flipping: the noise that keeps the meta-structure, Lemma 1), its
/// density for class m would be E_m(x) = Σ_j Q̂[j, m] · D_j(x), with D_j the density of class j in d̂, up to a
/// sampling error of variance σ_m²(x) = κ(x) · Σ_j Q̂[j, m](1 - Q̂[j, m]) · D_j(x), where κ(x) = Σ w_i² / (Σ w_i)²
/// over the kernel weights of the window at x (1/n for a box of n pixels; exact at the border, ignore pixels not
/// discounted; for the Gaussian, the w²-weighted mean of the per-pixel variance is approximated by the w-weighted one).</para>
/// <para><b>Per image.</b> With G_m the density of the given mask and r_m = G_m - E_m, the noise-corrected structural
/// excess of class m is X_m = max(0, Σ_x [max(0, |r_m(x)| - δ_m) - 2σ_m(x)·g(δ_m/σ_m(x))]) over scored (non-ignore)
/// pixels, where 2σ·g(δ/σ) = E[max(0, |r| - δ)] for r ~ N(0, σ²) (g(t) = φ(t) - t(1 - Φ(t))): the residual beyond a
/// tolerance, minus what pure label noise would leave on average. Subtracting the expectation instead of thresholding
/// each pixel keeps weak but consistent evidence (a dropped object under 10% sampling changes each window by less than
/// two noise standard deviations, but does so everywhere on the object). δ_m = τ · w₀ · c_m: τ =
/// <see cref="LabelQualityOptions.BoundaryTolerance"/> pixels of boundary displacement, w₀ the kernel's central 1-D
/// weight (1/(2h+1) for the box: the density change next to a boundary moved by one pixel) and
/// c_m = |Q̂[m, m] - max_{j≠m} Q̂[j, m]| the class's contrast (1 for clean labels, 0.1 for 10% sampling).
/// score_m = 1 - X_m / (M_m + μ) with the class mass M_m = Σ_x (G_m + E_m)(x): the fraction of the class's mass that
/// is not structurally misplaced, comparable across images whatever their foreground share and across noise levels
/// (residual and mass scale alike). Dropping one of three equal objects gives about 1 - 1/5 = 0.8, a mask placed
/// entirely elsewhere gives 0. The overall score pools the classes other than the excluded one:
/// 1 - Σ_m X_m / (Σ_m M_m + μ).</para>
/// <para><b>Pixel flags.</b> A pixel given m but predicted j ≠ m is a structural issue when the given class is in
/// significant excess there (r_m &gt; z·σ_m + δ_m) or the predicted class in significant deficit (r_j &lt; -(z·σ_j + δ_j)),
/// z = <see cref="LabelQualityOptions.NoiseAllowance"/>. Sparse labels (e.g. 10% sampled foreground) are thereby not
/// flagged pixel by pixel: the density of the sparse mask matches Q̂ᵀ D within the noise, so its unlabelled
/// foreground pixels are not errors.</para>
/// <para>What it detects: dilation/erosion of whole masks, dropped or added objects, shifts beyond the tolerance,
/// swapped classes (excess of one class and deficit of another). What it forgives: per-pixel label noise that is
/// homogeneous across the data set (it is in Q̂), sampling error, and τ pixels of boundary disagreement. Detection power
/// falls with the contrast: under 10% sampling a dropped small object leaves only a few missing labels.</para>
/// </remarks>
public static class MetaStructureScorer
{
    /// <summary>
    /// Compares one given mask with a predicted mask under a noise matrix.
    /// </summary>
    /// <param name="given">Given labels, row-major, 0..C-1 or ignore (<see cref="LabelQualityOptions.IgnoreIndex"/>, 255).</param>
    /// <param name="predicted">Predicted (decoded) classes 0..C-1 (values at ignore pixels of <paramref name="given"/> are not used).</param>
    /// <param name="width">Image width.</param>
    /// <param name="height">Image height.</param>
    /// <param name="noise">Q̂ (C x C): row j = predicted class, column m = given class; C = its class count.</param>
    /// <param name="options">Density kernel, z, δ, μ, excluded class; null = defaults.</param>
    /// <param name="structuralIssues">Optional, width*height bytes: receives 1 for flagged pixels, 0 otherwise, 255 at ignore pixels.</param>
    /// <param name="excess">Optional, width*height floats: receives max(0, max_m |r_m(x)| - z·σ_m(x) - δ_m), the significant residual (0 at ignore pixels).</param>
    /// <exception cref="ArgumentException">Sizes disagree or a mask holds a value that is not a class.</exception>
    public static MetaStructureScoreResult Compute(ReadOnlySpan<byte> given, ReadOnlySpan<byte> predicted, int width, int height,
        NoiseTransitionMatrix noise, LabelQualityOptions? options = null, Span<byte> structuralIssues = default, Span<float> excess = default)
    {
        ArgumentNullException.ThrowIfNull(noise);
        options ??= new LabelQualityOptions();
        int c = noise.ClassCount;
        options.ValidateFor(c);
        Guard.MaskSize(given.Length, width, height, nameof(given));
        Guard.MaskSize(predicted.Length, width, height, nameof(predicted));
        if (!structuralIssues.IsEmpty) Guard.MaskSize(structuralIssues.Length, width, height, nameof(structuralIssues));
        if (!excess.IsEmpty) Guard.MaskSize(excess.Length, width, height, nameof(excess));

        int n = given.Length;
        var g = new byte[n];
        var p = new byte[n];
        for (int i = 0; i < n; i++)
        {
            byte m = given[i];
            if (m == options.IgnoreIndex || m == MaskConventions.IgnoreIndex) { g[i] = MaskConventions.IgnoreIndex; p[i] = MaskConventions.IgnoreIndex; continue; }
            if (m >= c) throw new ArgumentException($"given[{i}] = {m} is not a class index in [0, {c - 1}] nor an ignore value.", nameof(given));
            byte j = predicted[i];
            if (j >= c) throw new ArgumentException($"predicted[{i}] = {j} is not a class index in [0, {c - 1}].", nameof(predicted));
            g[i] = m;
            p[i] = j;
        }
        var q = new double[c * c];
        for (int j = 0; j < c; j++)
            for (int m = 0; m < c; m++) q[j * c + m] = noise[j, m];
        var flags = new byte[n]; // always computed, so that StructuralIssueCount is right
        float[]? map = excess.IsEmpty ? null : new float[n];
        var result = ComputeCore(g, p, width, height, c, q, Contrast(q, c), options, flags, map);
        if (!structuralIssues.IsEmpty) flags.CopyTo(structuralIssues);
        map?.CopyTo(excess);
        return result;
    }

    /// <summary>c_m = |Q[m, m] - max_{j≠m} Q[j, m]| for every class m.</summary>
    internal static double[] Contrast(double[] q, int c)
    {
        var contrast = new double[c];
        for (int m = 0; m < c; m++)
        {
            double other = 0;
            for (int j = 0; j < c; j++)
                if (j != m && q[j * c + m] > other) other = q[j * c + m];
            contrast[m] = Math.Abs(q[m * c + m] - other);
        }
        return contrast;
    }

    /// <summary>
    /// The computation on normalised masks: <paramref name="given"/> uses 255 for ignore, <paramref name="predicted"/> holds
    /// 255 at exactly the same pixels, both are validated.
    /// </summary>
    internal static MetaStructureScoreResult ComputeCore(byte[] given, byte[] predicted, int width, int height, int c,
        double[] q, double[] contrast, LabelQualityOptions options, byte[]? structuralIssues, float[]? excess)
    {
        int n = given.Length;
        var density = options.Density;
        float[] gd = DensityMap.Compute(given, width, height, c, density);
        float[] pd = DensityMap.Compute(predicted, width, height, c, density);

        float[] kx = AxisVarianceFactors(width, density);
        float[] ky = AxisVarianceFactors(height, density);
        if (structuralIssues is not null)
            for (int i = 0; i < n; i++) structuralIssues[i] = given[i] == MaskConventions.IgnoreIndex ? MaskConventions.IgnoreIndex : (byte)0;
        if (excess is not null) Array.Clear(excess);

        var expected = new float[n];
        var variance = new float[n];
        var classExcess = new double[c];
        var classMass = new double[c];
        float z = (float)options.NoiseAllowance;
        double centralWeight = CentralWeight(density);
        for (int m = 0; m < c; m++)
        {
            Array.Clear(expected);
            Array.Clear(variance);
            for (int j = 0; j < c; j++)
            {
                double qjm = q[j * c + m];
                if (qjm == 0) continue;
                ReadOnlySpan<float> plane = pd.AsSpan(j * n, n);
                AddScaled(expected, plane, (float)qjm);
                double v = qjm * (1 - qjm);
                if (v > 0) AddScaled(variance, plane, (float)v);
            }
            float tolerance = (float)(options.BoundaryTolerance * centralWeight * contrast[m]);
            ScoreClass((byte)m, given, predicted, gd, m * n, expected, variance, kx, ky, width, height, z, tolerance,
                structuralIssues, excess, out double sumExcess, out double sumMass);
            classExcess[m] = Math.Max(0, sumExcess);
            classMass[m] = sumMass;
        }

        long flagged = 0;
        if (structuralIssues is not null)
            for (int i = 0; i < n; i++) if (structuralIssues[i] == 1) flagged++;

        double prior = options.MassPrior;
        var classScores = new double[c];
        double totalExcess = 0, totalMass = 0;
        for (int m = 0; m < c; m++)
        {
            double den = classMass[m] + prior;
            classScores[m] = den > 0 ? Math.Clamp(1 - classExcess[m] / den, 0, 1) : 1.0;
            if (options.ExcludedClass == m) continue;
            totalExcess += classExcess[m];
            totalMass += classMass[m];
        }
        bool anyScored = false;
        for (int i = 0; i < n; i++)
            if (given[i] != MaskConventions.IgnoreIndex) { anyScored = true; break; }
        double score = !anyScored ? double.NaN
            : totalMass + prior > 0 ? Math.Clamp(1 - totalExcess / (totalMass + prior), 0, 1) : 1.0;
        return new MetaStructureScoreResult(score, classScores, classExcess, classMass, flagged);
    }

    /// <summary>
    /// One class's pass over the pixels: noise-corrected excess and mass sums, the significant-residual map (max over
    /// classes) and the pixel flags (OR over classes) of <see cref="ComputeCore"/>.
    /// </summary>
    private static void ScoreClass(byte m, byte[] given, byte[] predicted, float[] gd, int offset, float[] expected, float[] variance,
        float[] kx, float[] ky, int width, int height, float z, float tolerance, byte[]? flags, float[]? excess,
        out double sumExcess, out double sumMass)
    {
        double[] table = s_nullTable;
        const double tableScale = (NullTableSize - 1) / NullTableMax;
        double excessSum = 0, massSum = 0;
        for (int y = 0; y < height; y++)
        {
            float fy = ky[y];
            int row = y * width;
            for (int x = 0; x < width; x++)
            {
                int i = row + x;
                byte gi = given[i];
                if (gi == MaskConventions.IgnoreIndex) continue;
                float e = expected[i], g = gd[offset + i];
                float r = g - e, ar = MathF.Abs(r);
                float v = kx[x] * fy * variance[i];
                float sigma = v > 0 ? MathF.Sqrt(v) : 0f;
                // Residual beyond the tolerance, minus its expectation under pure label noise.
                float beyond = ar - tolerance;
                double ex = beyond > 0 ? beyond : 0;
                if (sigma > 0)
                {
                    double u = tolerance / sigma * tableScale;
                    if (u < NullTableSize - 1)
                    {
                        int k = (int)u;
                        double f = u - k;
                        ex -= 2.0 * sigma * (table[k] + f * (table[k + 1] - table[k]));
                    }
                }
                excessSum += ex;
                massSum += g + e;
                float a = z * sigma + tolerance;
                if (excess is not null && ar - a > excess[i]) excess[i] = ar - a;
                if (flags is not null && ar > a)
                {
                    byte pj = predicted[i];
                    // Given class in excess where it was not predicted, or predicted class in deficit where it was not given.
                    if (r > 0 ? gi == m && pj != m : pj == m && gi != m) flags[i] = 1;
                }
            }
        }
        sumExcess = excessSum;
        sumMass = massSum;
    }

    /// <summary>Central weight of the normalised 1-D kernel: 1/(2h+1) for the box, w[0] for the Gaussian.</summary>
    internal static double CentralWeight(DensityOptions options)
    {
        if (options.Kernel == DensityKernel.Box) return 1.0 / (2.0 * options.Bandwidth + 1.0);
        double[] w = DensityMap.GaussianWeights(options.Sigma);
        return w[(w.Length - 1) / 2];
    }

    private const int NullTableSize = 4096;
    private const double NullTableMax = 10.0;
    private static readonly double[] s_nullTable = BuildNullTable();

    /// <summary>
    /// g(t) = φ(t) - t (1 - Φ(t)), so that E[max(0, |r| - δ)] = 2σ g(δ/σ) for r ~ N(0, σ²); g(0) = 1/sqrt(2π).
    /// Tabulated on [0, 10] and interpolated linearly (error below 1e-6); 0 beyond.
    /// </summary>
    internal static double NullExcess(double t)
    {
        if (t >= NullTableMax) return 0;
        double u = t * ((NullTableSize - 1) / NullTableMax);
        int k = (int)u;
        double f = u - k;
        return s_nullTable[k] + f * (s_nullTable[k + 1] - s_nullTable[k]);
    }

    private static double[] BuildNullTable()
    {
        var table = new double[NullTableSize + 1];
        for (int k = 0; k <= NullTableSize; k++)
        {
            double t = k * (NullTableMax / (NullTableSize - 1));
            double pdf = Math.Exp(-0.5 * t * t) / Math.Sqrt(2 * Math.PI);
            double tail = 0.5 * Erfc(t / Math.Sqrt(2));
            table[k] = Math.Max(0, pdf - t * tail);
        }
        return table;
    }

    /// <summary>Complementary error function (Numerical Recipes' erfcc, fractional error below 1.2e-7).</summary>
    internal static double Erfc(double x)
    {
        double z = Math.Abs(x);
        double t = 1.0 / (1.0 + 0.5 * z);
        double r = t * Math.Exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
            + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
        return x >= 0 ? r : 2.0 - r;
    }

    /// <summary>y += a * x, vectorised.</summary>
    private static void AddScaled(Span<float> y, ReadOnlySpan<float> x, float a)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && y.Length >= Vector<float>.Count)
        {
            var va = new Vector<float>(a);
            var vy = MemoryMarshal.Cast<float, Vector<float>>(y);
            var vx = MemoryMarshal.Cast<float, Vector<float>>(x);
            for (int k = 0; k < vy.Length; k++) vy[k] += va * vx[k];
            i = vy.Length * Vector<float>.Count;
        }
        for (; i < y.Length; i++) y[i] += a * x[i];
    }

    /// <summary>
    /// Per position along one axis: Σ_k w_k² / (divisor)², over the kernel taps that fall inside the axis, where the
    /// divisor is the in-axis weight (valid-pixel border) or the full kernel weight (zero padding). The product of
    /// the two axes' factors is κ(x) = Σ w_i² / (Σ w_i)² of the separable 2-D kernel.
    /// </summary>
    internal static float[] AxisVarianceFactors(int length, DensityOptions options)
    {
        var f = new float[length];
        bool valid = options.Border == DensityBorder.ValidPixels;
        if (options.Kernel == DensityKernel.Box)
        {
            long h = options.Bandwidth;
            double full = 2 * h + 1;
            for (int x = 0; x < length; x++)
            {
                long inside = Math.Min(x + h, length - 1) - Math.Max(x - h, 0) + 1;
                f[x] = (float)(valid ? 1.0 / inside : inside / (full * full));
            }
            return f;
        }
        double[] w = DensityMap.GaussianWeights(options.Sigma);
        int r = (w.Length - 1) / 2;
        var s1 = new double[w.Length + 1];
        var s2 = new double[w.Length + 1];
        for (int k = 0; k < w.Length; k++) { s1[k + 1] = s1[k] + w[k]; s2[k + 1] = s2[k] + w[k] * w[k]; }
        for (int x = 0; x < length; x++)
        {
            // taps k in [-r, r] with 0 <= x + k < length  ->  indices k + r in [lo, hi].
            int lo = Math.Max(0, r - x), hi = Math.Min(w.Length - 1, r + (length - 1 - x));
            double a = s1[hi + 1] - s1[lo], b = s2[hi + 1] - s2[lo];
            f[x] = (float)(valid ? b / (a * a) : b);
        }
        return f;
    }
}
