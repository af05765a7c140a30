namespace MLNet.NoisySeg.Evaluation;

/// <summary>ROC AUC kernels shared by the evaluators (internal).</summary>
/// <remarks>
/// Both kernels compute the Mann-Whitney form AUC = P(s+ &gt; s-) + 0.5 P(s+ = s-), which is exactly
/// the trapezoidal area that sklearn's <c>roc_auc_score</c> reports (tied scores form one ROC step).
/// </remarks>
internal static class RocAuc
{
    /// <summary>Exact AUC; sorts both spans in place. NaN when either span is empty.</summary>
    public static double Exact(Span<float> positives, Span<float> negatives)
    {
        if (positives.IsEmpty || negatives.IsEmpty) return double.NaN;
        positives.Sort();
        negatives.Sort();
        // twiceU = sum over positives of 2 * #(neg < s) + #(neg == s); may exceed 2^63 for huge sets.
        UInt128 twiceU = 0;
        int below = 0, belowOrEqual = 0;
        int i = 0;
        while (i < positives.Length)
        {
            float s = positives[i];
            int run = 1;
            while (i + run < positives.Length && positives[i + run] == s) run++;
            while (below < negatives.Length && negatives[below] < s) below++;
            if (belowOrEqual < below) belowOrEqual = below;
            while (belowOrEqual < negatives.Length && negatives[belowOrEqual] == s) belowOrEqual++;
            ulong perPositive = 2UL * (ulong)below + (ulong)(belowOrEqual - below);
            twiceU += (UInt128)perPositive * (ulong)run;
            i += run;
        }
        double pairs = (double)positives.Length * negatives.Length;
        return (double)twiceU / (2.0 * pairs);
    }

    /// <summary>
    /// AUC from per-class histograms over equal bins; pairs sharing a bin count as ties.
    /// <paramref name="bound"/> receives the largest possible distance to the exact AUC:
    /// 0.5 * sum_b pos[b] * neg[b] / (P * N).
    /// </summary>
    public static double FromHistograms(ReadOnlySpan<long> positives, ReadOnlySpan<long> negatives, out double bound)
    {
        long p = 0, n = 0;
        for (int b = 0; b < positives.Length; b++) { p += positives[b]; n += negatives[b]; }
        if (p == 0 || n == 0) { bound = double.NaN; return double.NaN; }
        double pairs = (double)p * n;
        double twiceU = 0, ties = 0;
        long negBelow = 0;
        for (int b = 0; b < positives.Length; b++)
        {
            double pb = positives[b], nb = negatives[b];
            twiceU += pb * (2.0 * negBelow + nb);
            ties += pb * nb;
            negBelow += negatives[b];
        }
        bound = 0.5 * ties / pairs;
        return twiceU / (2.0 * pairs);
    }
}
