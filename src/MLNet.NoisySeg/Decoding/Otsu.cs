namespace MLNet.NoisySeg.Decoding;

/// <summary>
/// Result of Otsu's method on a set of values: the threshold, the two class means (for a network's
/// outputs: its two output levels) and how well the two classes separate.
/// </summary>
/// <param name="Threshold">Values &gt; Threshold form the high class, values &lt;= Threshold the low class.</param>
/// <param name="LowMean">Exact mean of the values &lt;= <paramref name="Threshold"/>.</param>
/// <param name="HighMean">Exact mean of the values &gt; <paramref name="Threshold"/>; NaN when there are none (constant input).</param>
/// <param name="LowFraction">Fraction of the values in the low class.</param>
/// <param name="BetweenClassVariance">w_low * w_high * (HighMean - LowMean)^2, exact for the chosen split.</param>
/// <param name="TotalVariance">Variance of all values (population).</param>
public sealed record OtsuResult(double Threshold, double LowMean, double HighMean, double LowFraction,
    double BetweenClassVariance, double TotalVariance)
{
    /// <summary>
    /// Otsu's effectiveness eta = between-class / total variance, in [0, 1]. 1 means two perfectly
    /// separated levels; reference values: 0.64 for one Gaussian, 0.75 for a uniform distribution,
    /// 0 for constant input. Caution: eta also drops with class imbalance (10% of values at a level
    /// 3 standard deviations above the rest gives eta = 0.6, like one Gaussian), so it is not a
    /// bimodality test on its own; see <see cref="BinaryLevelEstimate.MixtureSeparation"/>.
    /// </summary>
    public double Effectiveness => TotalVariance > 0 ? Math.Clamp(BetweenClassVariance / TotalVariance, 0, 1) : 0;

    /// <summary>
    /// Separation d' = (HighMean - LowMean) / sqrt(within-class variance); infinite for two exact
    /// levels, NaN for constant input.
    /// </summary>
    public double Separation
    {
        get
        {
            double within = TotalVariance - BetweenClassVariance;
            if (double.IsNaN(HighMean)) return double.NaN;
            return within <= 0 ? double.PositiveInfinity : (HighMean - LowMean) / Math.Sqrt(within);
        }
    }
}

/// <summary>
/// Otsu's threshold (Otsu 1979) on arbitrary float values, e.g. a network's output probabilities or
/// image intensities: the values are binned into equal bins over [min, max] and the split between
/// bins maximising the between-class variance is chosen.
/// </summary>
/// <remarks>
/// When several adjacent splits tie (typically an empty gap between two modes) the threshold is the
/// middle of that plateau rather than its first edge, which keeps it away from both modes. The class
/// means and variances in <see cref="OtsuResult"/> are computed exactly from the values for the
/// chosen threshold (a second pass), not from bin centres. Constant input gives Threshold = that value
/// and Effectiveness 0.
/// </remarks>
public static class Otsu
{
    /// <summary>Default number of histogram bins.</summary>
    public const int DefaultBinCount = 256;

    /// <summary>Otsu's threshold of <paramref name="values"/>; values above it form the high class.</summary>
    /// <param name="values">Finite values (at least one).</param>
    /// <param name="binCount">Histogram bins over [min, max], at least 2.</param>
    /// <exception cref="ArgumentException"><paramref name="values"/> is empty or holds NaN/infinity.</exception>
    public static double Threshold(ReadOnlySpan<float> values, int binCount = DefaultBinCount) => Compute(values, binCount).Threshold;

    /// <summary>Otsu's method on one buffer of values.</summary>
    /// <param name="values">Finite values (at least one).</param>
    /// <param name="binCount">Histogram bins over [min, max], at least 2.</param>
    /// <exception cref="ArgumentException"><paramref name="values"/> is empty or holds NaN/infinity.</exception>
    public static OtsuResult Compute(ReadOnlySpan<float> values, int binCount = DefaultBinCount)
        => ComputeDetailed(values, binCount, nameof(values)).Result;

    /// <summary>Otsu's method on the values of several buffers taken together (e.g. one output map per image).</summary>
    /// <param name="values">Buffers of finite values; at least one value in total.</param>
    /// <param name="binCount">Histogram bins over [min, max], at least 2.</param>
    /// <exception cref="ArgumentException">No value at all, a null buffer, or NaN/infinity.</exception>
    public static OtsuResult Compute(IReadOnlyList<float[]> values, int binCount = DefaultBinCount)
        => ComputeDetailed(values, binCount, nameof(values)).Result;

    /// <summary>Otsu plus what a two-level mixture fit needs: the histogram and per-class variances.</summary>
    internal static (OtsuResult Result, long[] Histogram, double Min, double Max, double LowVariance, double HighVariance) ComputeDetailed(ReadOnlySpan<float> values, int binCount, string name)
    {
        CheckBins(binCount);
        if (values.IsEmpty) throw new ArgumentException($"{name} must contain at least one value.", name);
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        MinMax(values, ref min, ref max, name);
        var hist = new long[binCount];
        Bin(values, min, max, hist);
        double t = ChooseThreshold(hist, min, max);
        var s = new Stats();
        s.Add(values, t, min);
        return (s.ToResult(t), hist, min, max, s.LowVariance, s.HighVariance);
    }

    /// <summary>List form of <see cref="ComputeDetailed(ReadOnlySpan{float}, int, string)"/>.</summary>
    internal static (OtsuResult Result, long[] Histogram, double Min, double Max, double LowVariance, double HighVariance) ComputeDetailed(IReadOnlyList<float[]> values, int binCount, string name)
    {
        ArgumentNullException.ThrowIfNull(values, name);
        CheckBins(binCount);
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        long n = 0;
        for (int i = 0; i < values.Count; i++)
        {
            var v = values[i] ?? throw new ArgumentException($"{name}[{i}] is null.", name);
            MinMax(v, ref min, ref max, name);
            n += v.Length;
        }
        if (n == 0) throw new ArgumentException($"{name} must contain at least one value.", name);
        var hist = new long[binCount];
        for (int i = 0; i < values.Count; i++) Bin(values[i], min, max, hist);
        double t = ChooseThreshold(hist, min, max);
        var s = new Stats();
        for (int i = 0; i < values.Count; i++) s.Add(values[i], t, min);
        return (s.ToResult(t), hist, min, max, s.LowVariance, s.HighVariance);
    }

    private static void CheckBins(int binCount)
    {
        if (binCount < 2)
            throw new ArgumentOutOfRangeException(nameof(binCount), binCount, "binCount must be at least 2.");
    }

    internal static void MinMax(ReadOnlySpan<float> values, ref double min, ref double max, string name)
    {
        float lo = float.PositiveInfinity, hi = float.NegativeInfinity;
        for (int i = 0; i < values.Length; i++)
        {
            float v = values[i];
            if (!float.IsFinite(v))
                throw new ArgumentException($"{name} contains a non-finite value ({v}) at index {i}.", name);
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
        if (values.Length > 0)
        {
            if (lo < min) min = lo;
            if (hi > max) max = hi;
        }
    }

    private static void Bin(ReadOnlySpan<float> values, double min, double max, long[] hist)
    {
        int bins = hist.Length;
        if (max <= min) { hist[0] += values.Length; return; }
        double scale = bins / (max - min);
        for (int i = 0; i < values.Length; i++)
        {
            int b = (int)((values[i] - min) * scale);
            if (b >= bins) b = bins - 1;
            hist[b]++;
        }
    }

    /// <summary>Threshold from a histogram over [min, max]: middle of the first plateau of maximal between-class variance.</summary>
    internal static double ChooseThreshold(long[] hist, double min, double max)
    {
        if (max <= min) return min;
        int bins = hist.Length;
        double width = (max - min) / bins;
        double total = 0, totalMoment = 0;
        for (int b = 0; b < bins; b++) { total += hist[b]; totalMoment += b * (double)hist[b]; }
        double muT = totalMoment / total;
        var between = new double[bins - 1];
        double w = 0, mu = 0, best = -1;
        for (int k = 0; k < bins - 1; k++)
        {
            w += hist[k] / total;
            mu += k * (hist[k] / total);
            double denom = w * (1 - w);
            double v = denom <= 0 ? 0 : (muT * w - mu) * (muT * w - mu) / denom;
            between[k] = v;
            if (v > best) best = v;
        }
        double tol = best * 1e-12;
        int first = 0;
        while (between[first] < best - tol) first++;
        int last = first;
        while (last + 1 < between.Length && between[last + 1] >= best - tol) last++;
        // Split after bin k lies at the upper edge of bin k.
        double lo = min + (first + 1) * width, hi = min + (last + 1) * width;
        return 0.5 * (lo + hi);
    }

    private struct Stats
    {
        private long _n0, _n1;
        private double _s0, _s1, _sq, _sq0, _sq1, _shift;
        private bool _shiftSet;

        public void Add(ReadOnlySpan<float> values, double threshold, double shift)
        {
            if (!_shiftSet) { _shift = shift; _shiftSet = true; }
            for (int i = 0; i < values.Length; i++)
            {
                double v = values[i] - _shift;
                _sq += v * v;
                if (values[i] > threshold) { _n1++; _s1 += v; _sq1 += v * v; } else { _n0++; _s0 += v; _sq0 += v * v; }
            }
        }

        public readonly double LowVariance => _n0 > 0 ? Math.Max(0, _sq0 / _n0 - (_s0 / _n0) * (_s0 / _n0)) : 0;

        public readonly double HighVariance => _n1 > 0 ? Math.Max(0, _sq1 / _n1 - (_s1 / _n1) * (_s1 / _n1)) : 0;

        public readonly OtsuResult ToResult(double threshold)
        {
            double n = _n0 + _n1;
            double m0 = _n0 > 0 ? _s0 / _n0 : double.NaN, m1 = _n1 > 0 ? _s1 / _n1 : double.NaN;
            double mean = (_s0 + _s1) / n;
            double total = Math.Max(0, _sq / n - mean * mean);
            double w0 = _n0 / n, w1 = _n1 / n;
            double between = _n0 > 0 && _n1 > 0 ? w0 * w1 * (m1 - m0) * (m1 - m0) : 0;
            return new OtsuResult(threshold, m0 + _shift, m1 + _shift, w0, between, total);
        }
    }
}
