using MLNet.NoisySeg.Core;

namespace MLNet.NoisySeg.Quality;

/// <summary>
/// cleanlab's label-quality scores for segmentation, the baseline of issue 15: the per-pixel self-confidence and
/// its softmin pooling into one score per image (<c>cleanlab.segmentation.rank.get_label_quality_scores</c> with
/// <c>method="softmin"</c>, cleanlab 2.5+).
/// </summary>
/// <remarks>
/// <para><b>Self-confidence</b> of a pixel labelled j: s = p_j, the out-of-sample predicted probability of its given
/// label (1 = the model agrees completely, 0 = it rules the label out).</para>
/// <para><b>Softmin</b> (cleanlab's <c>_get_label_quality_per_image</c> → <c>cleanlab.internal.multilabel_scorer.softmin</c>,
/// which is <c>einsum(s, softmax((1 - s) / T, shift=True))</c>):
/// score = Σ_i s_i · exp((1 - s_i)/T) / Σ_i exp((1 - s_i)/T) = Σ_i s_i · exp(-s_i/T) / Σ_i exp(-s_i/T),
/// a weighted mean that puts almost all weight on the lowest pixel scores (T = 0.1 by default). Like cleanlab, the
/// exponent is shifted by its maximum (here (1 - min s)/T) so nothing overflows; sums run in double precision.</para>
/// <para>Differences from cleanlab, both deliberate: ignore pixels (255) get no score (NaN) and are left out of the
/// pooling, where cleanlab has no ignore index; binary sigmoid outputs (one plane p) are read as the two classes
/// (1 - p, p), which is what cleanlab would receive as a two-column <c>pred_probs</c>.</para>
/// </remarks>
public static class SelfConfidence
{
    /// <summary>Per-pixel self-confidence p_label into <paramref name="scores"/>; ignore pixels receive NaN.</summary>
    /// <param name="mask">Row-major given labels, 0..C-1 or 255 (ignore); C = max(<paramref name="classCount"/>, 2).</param>
    /// <param name="probabilities">Planar [K, H, W] probabilities, K = <paramref name="classCount"/> (K = 1: foreground probability).</param>
    /// <param name="classCount">K: 1 for a binary sigmoid output, else the number of classes (2..255).</param>
    /// <param name="scores">Destination, one value per pixel.</param>
    /// <exception cref="ArgumentException">Lengths disagree, or a label is not a class of K planes.</exception>
    public static void Compute(ReadOnlySpan<byte> mask, ReadOnlySpan<float> probabilities, int classCount, Span<float> scores)
    {
        CheckClassCount(classCount);
        int n = mask.Length;
        if (n == 0) throw new ArgumentException("mask must have at least one pixel.", nameof(mask));
        if ((long)n * classCount != probabilities.Length)
            throw new ArgumentException($"probabilities has {probabilities.Length} values but classCount x pixels = {classCount} x {n}.", nameof(probabilities));
        if (scores.Length != n)
            throw new ArgumentException($"scores has {scores.Length} values; the mask has {n} pixels.", nameof(scores));
        int labels = Math.Max(2, classCount);
        for (int i = 0; i < n; i++)
        {
            byte m = mask[i];
            if (m == MaskConventions.IgnoreIndex) { scores[i] = float.NaN; continue; }
            if (m >= labels)
                throw new ArgumentException($"mask[{i}] = {m} is not a class index in [0, {labels - 1}] nor the ignore index 255.", nameof(mask));
            scores[i] = classCount == 1
                ? (m == 1 ? probabilities[i] : 1f - probabilities[i])
                : probabilities[m * n + i];
        }
    }

    /// <summary>
    /// cleanlab's softmin pooling of pixel scores into one image score, Σ s_i exp(-s_i/T) / Σ exp(-s_i/T); NaN scores
    /// (ignore pixels) are skipped. Returns NaN when no score is left.
    /// </summary>
    /// <param name="pixelScores">Per-pixel label-quality scores (normally in [0, 1]); NaN = not scored.</param>
    /// <param name="temperature">T &gt; 0 (cleanlab's default 0.1).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="temperature"/> is not a finite number &gt; 0.</exception>
    public static double Softmin(ReadOnlySpan<float> pixelScores, double temperature = LabelQualityOptions.DefaultSoftminTemperature)
    {
        if (!double.IsFinite(temperature) || temperature <= 0)
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "temperature must be a finite number > 0.");
        float min = float.PositiveInfinity;
        for (int i = 0; i < pixelScores.Length; i++)
        {
            float s = pixelScores[i];
            if (s < min) min = s; // NaN compares false
        }
        if (float.IsPositiveInfinity(min)) return double.NaN;
        // exp((1 - s)/T - (1 - min)/T) = exp((min - s)/T) <= 1.
        double inv = 1.0 / temperature;
        double num = 0, den = 0;
        for (int i = 0; i < pixelScores.Length; i++)
        {
            float s = pixelScores[i];
            if (float.IsNaN(s)) continue;
            double w = Math.Exp(((double)min - s) * inv);
            num += s * w;
            den += w;
        }
        return num / den;
    }

    internal static void CheckClassCount(int classCount)
    {
        if (classCount < 1 || classCount > MaskConventions.MaxClassCount)
            throw new ArgumentOutOfRangeException(nameof(classCount), classCount, $"classCount must be in [1, {MaskConventions.MaxClassCount}].");
    }
}
