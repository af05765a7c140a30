using MLNet.NoisySeg.Core;

namespace MLNet.NoisySeg.Decoding;

/// <summary>Options of <see cref="ThresholdSweep"/>.</summary>
public sealed class ThresholdSweepOptions
{
    /// <summary>Number of thresholds, evenly spaced from the global minimum to the global maximum output (default 50, the paper's; at least 2).</summary>
    public int ThresholdCount { get; init; } = 50;

    /// <summary>Also score the inverted map 1 - p (default true, as in the paper).</summary>
    public bool IncludeInverted { get; init; } = true;

    /// <summary>Clean-mask value that is never scored (default 255). Must not be 0 or 1.</summary>
    public byte IgnoreIndex { get; init; } = MaskConventions.IgnoreIndex;

    /// <summary>Throws when an option is out of range; the exception names the option.</summary>
    public void Validate()
    {
        Guard.AtLeast(ThresholdCount, 2, nameof(ThresholdCount));
        if (IgnoreIndex <= 1)
            throw new ArgumentOutOfRangeException(nameof(IgnoreIndex), IgnoreIndex, "IgnoreIndex must not be a binary class (0 or 1).");
    }
}

/// <summary>
/// Outcome of <see cref="ThresholdSweep.Run"/>: the best rule and the whole Dice curve.
/// </summary>
/// <param name="Threshold">The best threshold, on the probability scale p.</param>
/// <param name="Inverted">True when the inverted map won: foreground where p &lt; <paramref name="Threshold"/>
/// (the paper's 1 - p thresholded at 1 - <paramref name="Threshold"/>).</param>
/// <param name="MeanDice">Mean per-image Dice at the best rule.</param>
/// <param name="Thresholds">The swept thresholds, ascending, first = global min, last = global max.</param>
/// <param name="MeanDiceCurve">Mean Dice of "p &gt; Thresholds[k]" for every k.</param>
/// <param name="InvertedMeanDiceCurve">Mean Dice of "p &lt; Thresholds[k]" for every k; empty when the inverted map was not scored.</param>
public sealed record ThresholdSweepResult(double Threshold, bool Inverted, double MeanDice,
    IReadOnlyList<double> Thresholds, IReadOnlyList<double> MeanDiceCurve, IReadOnlyList<double> InvertedMeanDiceCurve)
{
    /// <summary>The winning rule, ready to decode new maps.</summary>
    public DecodingRule ToRule() => DecodingRule.AtThreshold(Threshold, Inverted);
}

/// <summary>
/// The paper's decoding protocol (Luo et al., AAAI 2022): on a validation set with clean masks, sweep
/// evenly spaced thresholds between the minimum and maximum of all outputs, score both the map and the
/// inverted map, and keep the rule with the best mean Dice.
/// </summary>
/// <remarks>
/// <para>"Mean Dice" is the mean over images of the per-image Dice (an image whose clean mask and prediction
/// both have no foreground scores 1; images whose clean mask is entirely ignored are left out).</para>
/// <para>Foreground is p &gt; t (strict); inverted, p &lt; t. The minimum and maximum are taken over all
/// output pixels, ignored ones included (the outputs do not depend on labels). Ties between rules go
/// to the lowest threshold, and to the non-inverted map before the inverted one.</para>
/// <para>Cost: one pass over the pixels (each pixel is binned against the sorted thresholds), then
/// O(thresholds) per image; images run in parallel but are summed in their order, so the result does
/// not depend on the thread count.</para>
/// </remarks>
public static class ThresholdSweep
{
    /// <summary>Runs the sweep.</summary>
    /// <param name="probabilities">Per image, the foreground probability map (K = 1, H x W row-major).</param>
    /// <param name="cleanMasks">Per image, the clean mask (0, 1 or the ignore index) of the same length.</param>
    /// <param name="options">Options; defaults when null.</param>
    /// <exception cref="ArgumentException">Counts or lengths differ, no image, a NaN/infinite probability,
    /// a mask value that is not 0, 1 or the ignore index, or no scored pixel at all.</exception>
    public static ThresholdSweepResult Run(IReadOnlyList<float[]> probabilities, IReadOnlyList<byte[]> cleanMasks, ThresholdSweepOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(probabilities);
        ArgumentNullException.ThrowIfNull(cleanMasks);
        options ??= new ThresholdSweepOptions();
        options.Validate();
        if (probabilities.Count == 0)
            throw new ArgumentException("probabilities must hold at least one image.", nameof(probabilities));
        if (cleanMasks.Count != probabilities.Count)
            throw new ArgumentException($"cleanMasks has {cleanMasks.Count} images but probabilities has {probabilities.Count}.", nameof(cleanMasks));

        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        for (int i = 0; i < probabilities.Count; i++)
        {
            var p = probabilities[i] ?? throw new ArgumentException($"probabilities[{i}] is null.", nameof(probabilities));
            var m = cleanMasks[i] ?? throw new ArgumentException($"cleanMasks[{i}] is null.", nameof(cleanMasks));
            if (p.Length != m.Length)
                throw new ArgumentException($"probabilities[{i}] has {p.Length} values but cleanMasks[{i}] has {m.Length} pixels.", nameof(probabilities));
            Otsu.MinMax(p, ref min, ref max, nameof(probabilities));
        }
        if (double.IsInfinity(min))
            throw new ArgumentException("probabilities holds no value.", nameof(probabilities));

        int count = options.ThresholdCount;
        var thresholds = new double[count];
        double step = (max - min) / (count - 1);
        for (int k = 0; k < count; k++) thresholds[k] = min + k * step;
        thresholds[count - 1] = max;

        bool inverted = options.IncludeInverted;
        var perImage = new double[probabilities.Count][];
        var perImageInv = new double[probabilities.Count][];
        try
        {
            Parallel.For(0, probabilities.Count, i =>
                ScoreImage(i, probabilities[i], cleanMasks[i], thresholds, min, step, options.IgnoreIndex, inverted, out perImage[i], out perImageInv[i]));
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0 && e.InnerExceptions[0] is ArgumentException)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
            throw;
        }

        var curve = new double[count];
        var invCurve = inverted ? new double[count] : Array.Empty<double>();
        int images = 0;
        for (int i = 0; i < perImage.Length; i++)
        {
            if (perImage[i] is null) continue;
            images++;
            for (int k = 0; k < count; k++)
            {
                curve[k] += perImage[i][k];
                if (inverted) invCurve[k] += perImageInv[i][k];
            }
        }
        if (images == 0)
            throw new ArgumentException("cleanMasks has no scored pixel (every pixel is the ignore index).", nameof(cleanMasks));
        for (int k = 0; k < count; k++)
        {
            curve[k] /= images;
            if (inverted) invCurve[k] /= images;
        }

        int best = 0; bool bestInverted = false; double bestDice = curve[0];
        for (int k = 1; k < count; k++)
            if (curve[k] > bestDice) { bestDice = curve[k]; best = k; }
        if (inverted)
            for (int k = 0; k < count; k++)
                if (invCurve[k] > bestDice) { bestDice = invCurve[k]; best = k; bestInverted = true; }

        return new ThresholdSweepResult(thresholds[best], bestInverted, bestDice,
            Array.AsReadOnly(thresholds), Array.AsReadOnly(curve), Array.AsReadOnly(invCurve));
    }

    private static void ScoreImage(int image, float[] p, byte[] truth, double[] t, double min, double step, byte ignore, bool inverted,
        out double[] dice, out double[] invDice)
    {
        int count = t.Length;
        // above[y][a]: pixels of class y with exactly a thresholds strictly below them (foreground at k < a).
        // atOrBelow[y][e]: pixels with exactly e thresholds <= them (inverted foreground at k >= e).
        var above = new long[2 * (count + 1)];
        var atOrBelow = new long[2 * (count + 1)];
        long scored = 0;
        for (int i = 0; i < p.Length; i++)
        {
            int y = truth[i];
            if (y == ignore) continue;
            if (y > 1)
                throw new ArgumentException($"cleanMasks[{image}][{i}] = {y} is neither 0, 1 nor the ignore index {ignore}.", "cleanMasks");
            double v = p[i];
            int a = step > 0 ? (int)Math.Clamp(Math.Floor((v - min) / step), 0, count - 1) : 0;
            while (a < count && t[a] < v) a++;
            while (a > 0 && t[a - 1] >= v) a--;
            int e = a;
            while (e < count && t[e] <= v) e++;
            above[y * (count + 1) + a]++;
            atOrBelow[y * (count + 1) + e]++;
            scored++;
        }
        if (scored == 0) { dice = null!; invDice = null!; return; }

        long positives = 0;
        for (int a = 0; a <= count; a++) positives += above[(count + 1) + a];
        dice = new double[count];
        // Walk k downwards: foreground at threshold k = pixels with a > k.
        long tp = 0, fp = 0;
        for (int k = count - 1; k >= 0; k--)
        {
            tp += above[(count + 1) + k + 1];
            fp += above[k + 1];
            dice[k] = Dice(tp, fp, positives - tp);
        }
        invDice = null!;
        if (!inverted) return;
        invDice = new double[count];
        tp = 0; fp = 0;
        for (int k = 0; k < count; k++)
        {
            // Inverted foreground at threshold k = pixels with e <= k.
            tp += atOrBelow[(count + 1) + k];
            fp += atOrBelow[k];
            invDice[k] = Dice(tp, fp, positives - tp);
        }
    }

    private static double Dice(long tp, long fp, long fn)
    {
        long d = 2 * tp + fp + fn;
        return d == 0 ? 1.0 : 2.0 * tp / d;
    }
}
