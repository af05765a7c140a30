using MLNet.NoisySeg.Core;

namespace MLNet.NoisySeg.Quality;

/// <summary>
/// How well label-quality scores find known (planted) label errors: image-level ROC AUC and average precision.
/// Scores are in label-quality orientation, as every score of this namespace: lower = more suspicious.
/// </summary>
/// <remarks>
/// <para><b>AUROC</b>: the Mann-Whitney form P(s_issue &lt; s_clean) + 0.5 P(s_issue = s_clean), equal to the
/// trapezoidal area sklearn's <c>roc_auc_score(has_issue, -score)</c> reports (tied scores form one ROC step).</para>
/// <para><b>Average precision</b>: sklearn's <c>average_precision_score(has_issue, -score)</c>,
/// AP = Σ_k (R_k - R_{k-1}) P_k over the distinct score values taken as thresholds from most to least suspicious
/// (a group of tied scores enters at once), without interpolation.</para>
/// <para>NaN scores (images with nothing scored) count as least suspicious, as in
/// <see cref="LabelQualityReport.Rank(LabelQualityScoreKind)"/>. Both metrics are NaN without any image with an issue;
/// AUROC also without any clean image.</para>
/// </remarks>
public static class IssueDetectionMetrics
{
    /// <summary>Image-level ROC AUC of detecting the images with issues by low scores.</summary>
    /// <param name="scores">Label-quality score per image (lower = more suspicious).</param>
    /// <param name="hasIssue">Per image, whether it truly has a label issue.</param>
    /// <exception cref="ArgumentException">The lengths differ.</exception>
    public static double Auroc(ReadOnlySpan<double> scores, ReadOnlySpan<bool> hasIssue)
    {
        int[] order = SortBySuspicion(scores, hasIssue, out double[] keys);
        long positives = 0, negatives = 0;
        foreach (bool b in hasIssue) { if (b) positives++; else negatives++; }
        if (positives == 0 || negatives == 0) return double.NaN;
        // Walk from least to most suspicious: each issue image outranks the clean images seen before its tie group.
        double twiceU = 0;
        long cleanBelow = 0;
        int i = order.Length - 1;
        while (i >= 0)
        {
            int j = i;
            long groupIssues = 0, groupClean = 0;
            while (j >= 0 && keys[order[j]] == keys[order[i]])
            {
                if (hasIssue[order[j]]) groupIssues++; else groupClean++;
                j--;
            }
            twiceU += groupIssues * (2.0 * cleanBelow + groupClean);
            cleanBelow += groupClean;
            i = j;
        }
        return twiceU / (2.0 * positives * negatives);
    }

    /// <summary>Image-level average precision of detecting the images with issues by low scores.</summary>
    /// <param name="scores">Label-quality score per image (lower = more suspicious).</param>
    /// <param name="hasIssue">Per image, whether it truly has a label issue.</param>
    /// <exception cref="ArgumentException">The lengths differ.</exception>
    public static double AveragePrecision(ReadOnlySpan<double> scores, ReadOnlySpan<bool> hasIssue)
    {
        int[] order = SortBySuspicion(scores, hasIssue, out double[] keys);
        long positives = 0;
        foreach (bool b in hasIssue) if (b) positives++;
        if (positives == 0) return double.NaN;
        double ap = 0, previousRecall = 0;
        long tp = 0, seen = 0;
        int i = 0;
        while (i < order.Length)
        {
            int j = i;
            while (j < order.Length && keys[order[j]] == keys[order[i]])
            {
                if (hasIssue[order[j]]) tp++;
                seen++;
                j++;
            }
            double recall = (double)tp / positives, precision = (double)tp / seen;
            ap += (recall - previousRecall) * precision;
            previousRecall = recall;
            i = j;
        }
        return ap;
    }

    /// <summary>Indices sorted most suspicious (lowest score) first; NaN mapped to +infinity.</summary>
    private static int[] SortBySuspicion(ReadOnlySpan<double> scores, ReadOnlySpan<bool> hasIssue, out double[] keys)
    {
        if (scores.Length != hasIssue.Length)
            throw new ArgumentException($"scores has {scores.Length} values but hasIssue has {hasIssue.Length}.", nameof(hasIssue));
        keys = new double[scores.Length];
        var order = new int[scores.Length];
        for (int i = 0; i < keys.Length; i++)
        {
            keys[i] = double.IsNaN(scores[i]) ? double.PositiveInfinity : scores[i];
            order[i] = i;
        }
        var k = keys;
        Array.Sort(order, (a, b) => k[a] != k[b] ? k[a].CompareTo(k[b]) : a.CompareTo(b));
        return order;
    }
}

/// <summary>
/// Pixel-level detection counts of flagged label issues against the truly changed pixels, accumulated over images:
/// precision, recall and F1 of the flags.
/// </summary>
public sealed class PixelIssueDetection
{
    /// <summary>Changed pixels that were flagged.</summary>
    public long TruePositives { get; private set; }

    /// <summary>Unchanged pixels that were flagged.</summary>
    public long FalsePositives { get; private set; }

    /// <summary>Changed pixels that were not flagged.</summary>
    public long FalseNegatives { get; private set; }

    /// <summary>Unchanged pixels that were not flagged.</summary>
    public long TrueNegatives { get; private set; }

    /// <summary>TP / (TP + FP); NaN when nothing was flagged.</summary>
    public double Precision => TruePositives + FalsePositives == 0 ? double.NaN : (double)TruePositives / (TruePositives + FalsePositives);

    /// <summary>TP / (TP + FN); NaN when nothing was changed.</summary>
    public double Recall => TruePositives + FalseNegatives == 0 ? double.NaN : (double)TruePositives / (TruePositives + FalseNegatives);

    /// <summary>2TP / (2TP + FP + FN); NaN when nothing was flagged or changed.</summary>
    public double F1
    {
        get
        {
            long d = 2 * TruePositives + FalsePositives + FalseNegatives;
            return d == 0 ? double.NaN : 2.0 * TruePositives / d;
        }
    }

    /// <summary>Adds one image.</summary>
    /// <param name="flagged">Per pixel: nonzero = flagged as an issue; 255 = ignore (not counted).</param>
    /// <param name="changed">Per pixel: nonzero = the label truly is wrong; 255 = ignore (not counted).</param>
    /// <exception cref="ArgumentException">The lengths differ.</exception>
    public void Add(ReadOnlySpan<byte> flagged, ReadOnlySpan<byte> changed)
    {
        if (flagged.Length != changed.Length)
            throw new ArgumentException($"flagged has {flagged.Length} pixels but changed has {changed.Length}.", nameof(changed));
        long tp = 0, fp = 0, fn = 0, tn = 0;
        for (int i = 0; i < flagged.Length; i++)
        {
            byte f = flagged[i], c = changed[i];
            if (f == MaskConventions.IgnoreIndex || c == MaskConventions.IgnoreIndex) continue;
            if (f != 0) { if (c != 0) tp++; else fp++; }
            else if (c != 0) fn++;
            else tn++;
        }
        TruePositives += tp;
        FalsePositives += fp;
        FalseNegatives += fn;
        TrueNegatives += tn;
    }

    /// <inheritdoc />
    public override string ToString()
        => FormattableString.Invariant($"precision {Precision:F3}, recall {Recall:F3}, F1 {F1:F3} (TP {TruePositives}, FP {FalsePositives}, FN {FalseNegatives})");
}
