using MLNet.NoisySeg.Core;

namespace MLNet.NoisySeg.Quality;

/// <summary>
/// The contradiction-outlier score [ours, issue 15]: does an image's labelling contradict its model more than the data
/// set's labelling does, in one class and one direction?
/// </summary>
/// <remarks>
/// <para><b>Per pixel.</b> A pixel labelled m whose out-of-sample probability of another class j exceeds j's confident
/// threshold t_j (cleanlab's: the mean p_j over the pixels labelled j) contradicts its label by the margin
/// max(0, p_j - t_j). Thresholds are those of the model that predicted the image: with k-fold cross-fitting every fold
/// has its own network, calibrated its own way, so each fold's thresholds are computed on that fold's images
/// (<see cref="LabelQualityImage.Fold"/>; images without a fold use the thresholds of the whole data set).</para>
/// <para><b>Per image and class m</b> (every class but <see cref="LabelQualityOptions.ExcludedClass"/>), two directions,
/// each a mean over the scored pixels: the <i>surplus</i> of m, Σ over pixels labelled m of Σ_{j≠m} max(0, p_j - t_j)
/// (labels of m the model contradicts: a dilated mask, an added object), and the <i>deficit</i> of m, Σ over pixels
/// labelled j ≠ m of max(0, p_m - t_m) (confident m left unlabelled: an eroded mask, a dropped object). A shift raises
/// both. For binary masks with the background excluded these are the extra and the missing foreground.</para>
/// <para><b>Against the data set.</b> Each of these statistics is compared with its distribution over the fitted images:
/// z = (value - median) / (1.4826 · median absolute deviation), a robust z-score that a minority of wrong masks does not
/// move (when the MAD is 0, 1.2533 · the mean absolute deviation from the median is used instead). The image's z is the
/// largest over classes and directions, and its score Φ(-z) (the upper normal tail): 0.5 for a typical image, towards 0
/// for an outlier. Comparing each direction with the data set's own spread is what makes the score noise-aware: label
/// noise that is homogeneous over the data set (sampled or flipped labels, a network's systematic boundary offset)
/// raises every image's statistics alike and is absorbed by the median and the spread, while an error in one image
/// moves one direction of one class. Splitting the directions keeps a mask that misses foreground in one place and has
/// too much in another from looking average.</para>
/// <para>Measured on ISBI 2012 with 20% of the masks corrupted (docs/label-quality.md): image AUROC 0.93 against 0.76
/// for cleanlab's softmin on the same out-of-sample probabilities.</para>
/// </remarks>
public sealed class ContradictionCalibration
{
    /// <summary>1 / Φ⁻¹(3/4): turns a median absolute deviation into a normal standard deviation.</summary>
    internal const double MadToSigma = 1.482602218505602;

    /// <summary>√(π/2): turns a mean absolute deviation into a normal standard deviation.</summary>
    internal const double MeanDeviationToSigma = 1.2533141373155003;

    /// <summary>Smallest scale: a statistic that is the same for every fitted image makes any departure from it an outlier.</summary>
    internal const double MinimumScale = 1e-12;

    internal ContradictionCalibration(double[] center, double[] scale, int images)
    {
        Center = Array.AsReadOnly(center);
        Scale = Array.AsReadOnly(scale);
        ImageCount = images;
    }

    /// <summary>Per statistic (index 2m = surplus of class m, 2m + 1 = deficit of class m): the median over the fitted images; NaN for the excluded class.</summary>
    public IReadOnlyList<double> Center { get; }

    /// <summary>Per statistic: the robust spread (see <see cref="ContradictionCalibration"/>); NaN for the excluded class.</summary>
    public IReadOnlyList<double> Scale { get; }

    /// <summary>Images the calibration was computed on.</summary>
    public int ImageCount { get; }

    /// <summary>Robust centre and spread of each statistic over the images (rows: images, NaN rows skipped).</summary>
    internal static ContradictionCalibration FromStatistics(IReadOnlyList<double[]> perImage, int labelClassCount, int? excluded)
    {
        int s = 2 * labelClassCount;
        var center = new double[s];
        var scale = new double[s];
        int used = 0;
        var values = new List<double>(perImage.Count);
        for (int j = 0; j < s; j++)
        {
            if (excluded == j / 2) { center[j] = double.NaN; scale[j] = double.NaN; continue; }
            values.Clear();
            foreach (var row in perImage)
                if (!double.IsNaN(row[j])) values.Add(row[j]);
            used = Math.Max(used, values.Count);
            if (values.Count == 0) { center[j] = double.NaN; scale[j] = double.NaN; continue; }
            double median = Median(values);
            var deviations = values.Select(v => Math.Abs(v - median)).ToList();
            double spread = MadToSigma * Median(deviations);
            if (!(spread > 0)) spread = MeanDeviationToSigma * deviations.Average();
            center[j] = median;
            scale[j] = Math.Max(spread, MinimumScale);
        }
        return new ContradictionCalibration(center, scale, used);
    }

    private static double Median(List<double> values)
    {
        var sorted = values.ToArray();
        Array.Sort(sorted);
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
    }

    /// <summary>The largest robust z over the valid statistics of one image and its statistic's index; (NaN, -1) when it has none.</summary>
    internal (double Z, int Statistic) MaxZ(ReadOnlySpan<double> statistics)
    {
        double z = double.NaN;
        int at = -1;
        for (int j = 0; j < statistics.Length; j++)
        {
            double c = Center[j];
            if (double.IsNaN(c) || double.IsNaN(statistics[j])) continue;
            double v = (statistics[j] - c) / Scale[j];
            if (at < 0 || v > z) { z = v; at = j; }
        }
        return (z, at);
    }

    /// <summary>The score of a z: Φ(-z), NaN for NaN.</summary>
    internal static double ScoreOf(double z) => double.IsNaN(z) ? double.NaN : 0.5 * MetaStructureScorer.Erfc(z / Math.Sqrt(2));
}

/// <summary>Which way an image's labelling departs most from the data set's (<see cref="ImageLabelQuality.ContradictionDirection"/>).</summary>
public enum ContradictionDirection
{
    /// <summary>Not known: the model is not calibrated or the image has no scored pixel.</summary>
    None = 0,

    /// <summary>The class is labelled where the model confidently sees another (too much of it: dilated, added).</summary>
    Surplus = 1,

    /// <summary>The model confidently sees the class where it is not labelled (too little of it: eroded, dropped).</summary>
    Deficit = 2,
}

/// <summary>Per-image contradiction statistics (internal; see <see cref="ContradictionCalibration"/>).</summary>
internal static class ContradictionStatistics
{
    /// <summary>
    /// Surplus (index 2m) and deficit (2m + 1) of every class, per scored pixel; NaN for the excluded class and for every
    /// entry when no pixel is scored.
    /// </summary>
    /// <param name="labels">Normalised labels (255 = ignore).</param>
    /// <param name="p">Planar [K, H, W] probabilities.</param>
    /// <param name="k">K (1 = binary sigmoid).</param>
    /// <param name="c">Label classes.</param>
    /// <param name="thresholds">Confident thresholds t_j of the model that predicted the image.</param>
    /// <param name="excluded">Class without statistics, or null.</param>
    public static double[] Compute(byte[] labels, ReadOnlySpan<float> p, int k, int c, double[] thresholds, int? excluded)
    {
        int n = labels.Length;
        var stats = new double[2 * c];
        long scored = 0;
        for (int i = 0; i < n; i++)
        {
            byte m = labels[i];
            if (m == MaskConventions.IgnoreIndex) continue;
            scored++;
            for (int j = 0; j < c; j++)
            {
                if (j == m) continue;
                double margin = QualityPixels.Probability(p, k, n, i, j) - thresholds[j];
                if (margin <= 0) continue;
                stats[2 * m] += margin;
                stats[2 * j + 1] += margin;
            }
        }
        for (int j = 0; j < stats.Length; j++)
            stats[j] = scored == 0 || excluded == j / 2 ? double.NaN : stats[j] / scored;
        return stats;
    }
}
