namespace MLNet.NoisySeg.Decoding;

/// <summary>
/// Two-component Gaussian mixture fitted by EM to a histogram (internal), used to judge whether a
/// network's outputs really have two separate levels.
/// </summary>
internal static class TwoLevelMixture
{
    /// <summary>
    /// Fits the mixture starting from Otsu's split and returns Ashman's D =
    /// sqrt(2) |m1 - m0| / sqrt(v0 + v1) of the fitted components (D &gt; 2: clean separation).
    /// Variances are floored at width^2 / 12 (one bin). NaN for constant input.
    /// </summary>
    public static double AshmanD(long[] hist, double min, double max, OtsuResult otsu, double lowVariance, double highVariance, int iterations = 200)
    {
        if (max <= min || double.IsNaN(otsu.HighMean)) return double.NaN;
        int bins = hist.Length;
        double width = (max - min) / bins, floor = width * width / 12;
        double total = 0;
        foreach (long c in hist) total += c;
        double w1 = 1 - otsu.LowFraction, m0 = otsu.LowMean, m1 = otsu.HighMean;
        double v0 = Math.Max(lowVariance, floor), v1 = Math.Max(highVariance, floor);
        for (int it = 0; it < iterations; it++)
        {
            double a0 = 0, a1 = 0, x0 = 0, x1 = 0, q0 = 0, q1 = 0;
            double c0 = (1 - w1) / Math.Sqrt(v0), c1 = w1 / Math.Sqrt(v1);
            for (int b = 0; b < bins; b++)
            {
                if (hist[b] == 0) continue;
                double x = min + (b + 0.5) * width;
                double p0 = c0 * Math.Exp(-0.5 * (x - m0) * (x - m0) / v0);
                double p1 = c1 * Math.Exp(-0.5 * (x - m1) * (x - m1) / v1);
                double s = p0 + p1;
                double g1 = s > 0 ? p1 / s : (Math.Abs(x - m1) < Math.Abs(x - m0) ? 1 : 0), g0 = 1 - g1;
                double h = hist[b];
                a0 += h * g0; a1 += h * g1;
                x0 += h * g0 * x; x1 += h * g1 * x;
                q0 += h * g0 * x * x; q1 += h * g1 * x * x;
            }
            if (a0 <= 0 || a1 <= 0) break; // one component absorbed everything: keep the last fit
            double n0 = x0 / a0, n1 = x1 / a1;
            double nv0 = Math.Max(q0 / a0 - n0 * n0, floor), nv1 = Math.Max(q1 / a1 - n1 * n1, floor);
            bool converged = Math.Abs(n0 - m0) < 1e-9 * (max - min) && Math.Abs(n1 - m1) < 1e-9 * (max - min);
            m0 = n0; m1 = n1; v0 = nv0; v1 = nv1; w1 = a1 / total;
            if (converged) break;
        }
        return Math.Sqrt(2) * Math.Abs(m1 - m0) / Math.Sqrt(v0 + v1);
    }
}
