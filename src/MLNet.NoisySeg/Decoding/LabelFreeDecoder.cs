using MLNet.NoisySeg.Core;

namespace MLNet.NoisySeg.Decoding;

/// <summary>
/// Output levels of a binary network estimated without clean labels (<see cref="LabelFreeDecoder.EstimateBinary(IReadOnlyList{float[]}, NoiseTransitionMatrix?, int)"/>).
/// </summary>
/// <param name="Threshold">Otsu's threshold on the outputs.</param>
/// <param name="Inverted">True when foreground is predicted where p &lt; <paramref name="Threshold"/> (known Q with det &lt; 0).</param>
/// <param name="LowLevel">Mean output of the low class (values &lt;= threshold).</param>
/// <param name="HighLevel">Mean output of the high class (values &gt; threshold); NaN for constant outputs.</param>
/// <param name="LowFraction">Fraction of pixels in the low class.</param>
/// <param name="Effectiveness">Otsu's between-class / total variance, see <see cref="OtsuResult.Effectiveness"/>.</param>
/// <param name="Separation">(HighLevel - LowLevel) / within-class standard deviation, see <see cref="OtsuResult.Separation"/>.</param>
/// <param name="MixtureSeparation">
/// Ashman's D = sqrt(2) |m1 - m0| / sqrt(s0^2 + s1^2) of a two-Gaussian mixture fitted by EM to the output
/// histogram, started from Otsu's split. D &gt; 2 means two cleanly separated levels. Unlike
/// <paramref name="Effectiveness"/> it does not penalise imbalanced classes (10% foreground at levels
/// 3 standard deviations apart: D ≈ 3 but eta ≈ 0.6, the same eta as a single Gaussian). Measured reference
/// values: one Gaussian 0.7; two equal-weight levels 2 sd apart 2.0, 4 sd apart 4.0; 10% foreground 3 sd
/// apart 3.0, 5 sd apart 5.0; a uniform distribution 3.0 (limitation: flat outputs pass); a skewed
/// log-normal 1.5; outputs with a large spike of identical values (e.g. clamped at 0) can score low
/// although a threshold works. NaN for constant outputs.
/// </param>
public sealed record BinaryLevelEstimate(double Threshold, bool Inverted, double LowLevel, double HighLevel,
    double LowFraction, double Effectiveness, double Separation, double MixtureSeparation)
{
    /// <summary>The output level on background pixels (the low level unless inverted).</summary>
    public double BackgroundLevel => Inverted ? HighLevel : LowLevel;

    /// <summary>The output level on foreground pixels (the high level unless inverted).</summary>
    public double ForegroundLevel => Inverted ? LowLevel : HighLevel;

    /// <summary>
    /// Heuristic: <see cref="MixtureSeparation"/> &gt;= <see cref="LabelFreeDecoder.MinimumMixtureSeparation"/> (2).
    /// False means the outputs do not show two separate levels and the threshold is not trustworthy.
    /// </summary>
    public bool AreLevelsSeparated => MixtureSeparation >= LabelFreeDecoder.MinimumMixtureSeparation;

    /// <summary>Mean of all outputs. With BCE the network fits this first; it estimates the noisy labels' foreground share.</summary>
    public double MeanOutput => LowFraction >= 1 || double.IsNaN(HighLevel) ? LowLevel : LowFraction * LowLevel + (1 - LowFraction) * HighLevel;

    /// <summary>The rule that decodes with this estimate (Otsu's threshold, oriented). When the levels may not separate, prefer
    /// <see cref="NoiseAwareDecoding.ChooseBinaryRule"/>, which says so and uses the noise matrix instead.</summary>
    public DecodingRule ToRule() => DecodingRule.AtThreshold(Threshold, Inverted);
}

/// <summary>
/// Output levels of a multi-class network estimated without clean labels (<see cref="LabelFreeDecoder.EstimateLevels"/>):
/// an NTM-like matrix whose row j is the mean output vector on pixels of (estimated) true class j.
/// </summary>
/// <param name="Levels">Row j = mean output (a probability vector) of the cluster assigned to class j.</param>
/// <param name="ClassFractions">Fraction of pixels in each row's cluster.</param>
/// <param name="Determinant">det(Levels); near 0 means the levels do not separate and the correction is ill-posed.</param>
/// <param name="Iterations">k-means iterations run.</param>
public sealed record MulticlassLevelEstimate(NoiseTransitionMatrix Levels, IReadOnlyList<double> ClassFractions, double Determinant, int Iterations)
{
    /// <summary>The exact inverse-NTM rule with <see cref="Levels"/> as Q. Unconditional; <see cref="NoiseAwareDecoding.ChooseRule(MulticlassLevelEstimate, NoiseAwareDecodingOptions?)"/>
    /// decides between argmax, the exact and the regularised inverse.</summary>
    /// <exception cref="InvalidOperationException">The levels matrix is singular.</exception>
    public DecodingRule ToRule() => DecodingRule.InverseNtm(Levels);
}

/// <summary>
/// Label-free decoding ([ours], beyond the paper): estimate the network's output levels from its
/// own outputs on its training data, where no clean mask exists, and decode with them.
/// </summary>
/// <remarks>
/// <para>Binary: with BCE the optimal output is E[noisy label | x], so a network trained on sampling(s)
/// outputs about s on foreground and 0 on background, and on flipping(f, b) about 1 - f and b. Otsu's
/// threshold on the pooled outputs splits the two levels; the class means are the levels. Orientation
/// cannot be told from noisy labels alone (a 90%/90% flip looks like labelling the other class); with a
/// known Q, det(Q) = 1 - f - b &lt; 0 means the map is inverted.</para>
/// <para>Multi-class: with CE the output on a pixel of true class j is about row j of Q (p_noisy = Qᵀ e_j).
/// The rows are estimated by k-means on the output vectors (initialised at the mean output of each
/// argmax group, empty groups filled farthest-point first; deterministic), and clusters are matched to
/// classes by the assignment that maximises the trace (each true class keeps its own label more often
/// than any other class's cluster does; exhaustive up to 8 classes, greedy above). Decode with
/// <see cref="DecodingRule.InverseNtm(NoiseTransitionMatrix)"/>.</para>
/// <para>These are the estimators; <see cref="NoiseAwareDecoding"/> decides which rule to decode with (argmax, exact or regularised
/// inverse, Otsu or prior-matched threshold) and says why.</para>
/// </remarks>
public static class LabelFreeDecoder
{
    /// <summary>Ashman's D at or above which binary output levels count as separated (the usual criterion
    /// for a clean separation of two Gaussian components); see <see cref="BinaryLevelEstimate.MixtureSeparation"/>.</summary>
    public const double MinimumMixtureSeparation = 2.0;

    /// <summary>Estimates the two output levels of a binary network from its outputs on (training) images.</summary>
    /// <param name="outputs">Per image, the foreground probability map (K = 1).</param>
    /// <param name="knownNoise">The binary noise matrix when known (simulated noise); fixes the orientation.</param>
    /// <param name="binCount">Otsu histogram bins (default 256).</param>
    /// <exception cref="ArgumentException">No value, NaN/infinite values, or <paramref name="knownNoise"/> is not 2x2.</exception>
    /// <exception cref="InvalidOperationException"><paramref name="knownNoise"/> is singular (f + b = 1): the labels carry no structure.</exception>
    public static BinaryLevelEstimate EstimateBinary(IReadOnlyList<float[]> outputs, NoiseTransitionMatrix? knownNoise = null, int binCount = Otsu.DefaultBinCount)
    {
        bool inverted = IsInvertedOrientation(knownNoise);
        return FromOtsu(Otsu.ComputeDetailed(outputs, binCount, nameof(outputs)), inverted);
    }

    /// <summary>Estimates the two output levels of a binary network from pooled outputs.</summary>
    /// <param name="outputs">Foreground probabilities (any number of pixels and images, concatenated).</param>
    /// <param name="knownNoise">The binary noise matrix when known (simulated noise); fixes the orientation.</param>
    /// <param name="binCount">Otsu histogram bins (default 256).</param>
    /// <exception cref="ArgumentException">No value, NaN/infinite values, or <paramref name="knownNoise"/> is not 2x2.</exception>
    /// <exception cref="InvalidOperationException"><paramref name="knownNoise"/> is singular (f + b = 1).</exception>
    public static BinaryLevelEstimate EstimateBinary(ReadOnlySpan<float> outputs, NoiseTransitionMatrix? knownNoise = null, int binCount = Otsu.DefaultBinCount)
    {
        bool inverted = IsInvertedOrientation(knownNoise);
        return FromOtsu(Otsu.ComputeDetailed(outputs, binCount, nameof(outputs)), inverted);
    }

    private static BinaryLevelEstimate FromOtsu((OtsuResult Result, long[] Histogram, double Min, double Max, double LowVariance, double HighVariance) d, bool inverted)
    {
        var r = d.Result;
        double mixture = TwoLevelMixture.AshmanD(d.Histogram, d.Min, d.Max, r, d.LowVariance, d.HighVariance);
        return new(r.Threshold, inverted, r.LowMean, r.HighMean, r.LowFraction, r.Effectiveness, r.Separation, mixture);
    }

    /// <summary>
    /// True when a binary noise matrix inverts the learned map: det(Q) = Q[0,0] Q[1,1] - Q[0,1] Q[1,0]
    /// (= 1 - f - b for flipping) is negative. Null means not known: not inverted.
    /// </summary>
    /// <param name="knownNoise">A 2x2 noise matrix, or null.</param>
    /// <exception cref="ArgumentException"><paramref name="knownNoise"/> is not 2x2.</exception>
    /// <exception cref="InvalidOperationException">det(Q) = 0: labels carry no structure, no orientation exists.</exception>
    public static bool IsInvertedOrientation(NoiseTransitionMatrix? knownNoise)
    {
        if (knownNoise is null) return false;
        if (knownNoise.ClassCount != 2)
            throw new ArgumentException($"knownNoise must be a binary (2x2) matrix; got {knownNoise.ClassCount}x{knownNoise.ClassCount}.", nameof(knownNoise));
        double det = knownNoise[0, 0] * knownNoise[1, 1] - knownNoise[0, 1] * knownNoise[1, 0];
        if (Math.Abs(det) < 1e-12)
            throw new InvalidOperationException("knownNoise is singular (det(Q) = 1 - f - b = 0): the noisy labels carry no structure, so no decoding orientation exists.");
        return det < 0;
    }

    /// <summary>
    /// The clean foreground share implied by a noisy one under a binary Q = [[1-b, b], [f, 1-f]]: the noisy share is
    /// π_n = π (1 - f) + (1 - π) b, so π = (π_n - b) / (1 - f - b), clamped to [0, 1]. Sampling(s): π_n / s.
    /// </summary>
    /// <param name="noisyShare">Foreground share of the noisy labels (or the mean output of a network trained on them), in [0, 1].</param>
    /// <param name="noiseMatrix">The 2x2 noise matrix.</param>
    /// <returns>The clean share; NaN when Q is singular (f + b = 1: the noisy share says nothing about the clean one).</returns>
    /// <exception cref="ArgumentException"><paramref name="noiseMatrix"/> is not 2x2, or the share is outside [0, 1].</exception>
    public static double ImpliedForegroundShare(double noisyShare, NoiseTransitionMatrix noiseMatrix)
    {
        ArgumentNullException.ThrowIfNull(noiseMatrix);
        if (noiseMatrix.ClassCount != 2)
            throw new ArgumentException($"noiseMatrix must be a binary (2x2) matrix; got {noiseMatrix.ClassCount}x{noiseMatrix.ClassCount}.", nameof(noiseMatrix));
        if (!(noisyShare >= 0 && noisyShare <= 1))
            throw new ArgumentException($"noisyShare must be in [0, 1]; got {noisyShare}.", nameof(noisyShare));
        double b = noiseMatrix[0, 1], gap = noiseMatrix[1, 1] - noiseMatrix[0, 1];
        if (Math.Abs(gap) < 1e-12) return double.NaN;
        return Math.Clamp((noisyShare - b) / gap, 0, 1);
    }

    /// <summary>Share of foreground (value 1) pixels among the non-ignored pixels of binary masks; NaN when every pixel is ignored.</summary>
    /// <param name="masks">Binary masks (0 = background, 1 = foreground, <paramref name="ignoreIndex"/> = not counted).</param>
    /// <param name="ignoreIndex">Value left out (default 255).</param>
    /// <exception cref="ArgumentException">A mask is null.</exception>
    public static double ForegroundShare(IEnumerable<byte[]> masks, byte ignoreIndex = MaskConventions.IgnoreIndex)
    {
        ArgumentNullException.ThrowIfNull(masks);
        long fg = 0, counted = 0;
        foreach (var m in masks)
        {
            if (m is null) throw new ArgumentException("A mask is null.", nameof(masks));
            foreach (byte v in m)
            {
                if (v == ignoreIndex) continue;
                counted++;
                if (v == MaskConventions.Foreground) fg++;
            }
        }
        return counted == 0 ? double.NaN : (double)fg / counted;
    }

    /// <summary>
    /// The threshold that maximises the clean Dice <b>estimated from the noisy labels</b> under a known binary Q = [[1-b, b], [f, 1-f]],
    /// without any clean label. For a candidate foreground set P (p &gt; t, or p &lt; t when inverted) the noisy labels ỹ satisfy
    /// E[ỹ | y] = b + (1 - f - b) y, so the clean true positives and the clean foreground are estimated without bias by
    /// TP = (Σ_P ỹ - b |P|) / (1 - f - b) and F = (Σ ỹ - b N) / (1 - f - b), and Dice(t) = 2 TP / (|P| + F) (TP clamped to
    /// [0, min(|P|, F)]). One histogram pass (<paramref name="binCount"/> bins over the output range) counts pixels and noisy
    /// foreground per bin; every bin edge is a candidate. The outputs are the network's on the images it trained on: a network
    /// that memorised individual noisy pixels would bias the estimate, which early in training (the regime where the output levels
    /// blur) it has not.
    /// </summary>
    /// <param name="outputs">Per image, the foreground probability map (K = 1).</param>
    /// <param name="noisyMasks">Per image, the noisy binary mask the network trained on (0, 1, or <paramref name="ignoreIndex"/>), same length.</param>
    /// <param name="noiseMatrix">The 2x2 Q the noisy masks were drawn with; det(Q) = 1 - f - b must not be 0.</param>
    /// <param name="inverted">Foreground is p &lt; t instead of p &gt; t (det(Q) &lt; 0).</param>
    /// <param name="binCount">Histogram bins (at least 2; default 1024).</param>
    /// <param name="ignoreIndex">Mask value left out (default 255).</param>
    /// <returns>The threshold and the estimated clean Dice there.</returns>
    /// <exception cref="ArgumentException">Counts or lengths differ, a null or non-finite output, Q not 2x2 or singular, or no labelled pixel.</exception>
    public static (double Threshold, double EstimatedDice) NoiseCorrectedDiceThreshold(IReadOnlyList<float[]> outputs, IReadOnlyList<byte[]> noisyMasks,
        NoiseTransitionMatrix noiseMatrix, bool inverted, int binCount = 1024, byte ignoreIndex = MaskConventions.IgnoreIndex)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        ArgumentNullException.ThrowIfNull(noisyMasks);
        ArgumentNullException.ThrowIfNull(noiseMatrix);
        Guard.AtLeast(binCount, 2, nameof(binCount));
        if (noiseMatrix.ClassCount != 2)
            throw new ArgumentException($"noiseMatrix must be a binary (2x2) matrix; got {noiseMatrix.ClassCount}x{noiseMatrix.ClassCount}.", nameof(noiseMatrix));
        if (outputs.Count != noisyMasks.Count)
            throw new ArgumentException($"outputs has {outputs.Count} maps but noisyMasks has {noisyMasks.Count}.", nameof(noisyMasks));
        double b = noiseMatrix[0, 1], gap = noiseMatrix[1, 1] - noiseMatrix[0, 1];
        if (Math.Abs(gap) < 1e-12)
            throw new ArgumentException("noiseMatrix is singular (1 - f - b = 0): the noisy labels say nothing about the clean ones.", nameof(noiseMatrix));
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        for (int i = 0; i < outputs.Count; i++)
        {
            var o = outputs[i] ?? throw new ArgumentException($"outputs[{i}] is null.", nameof(outputs));
            var m = noisyMasks[i] ?? throw new ArgumentException($"noisyMasks[{i}] is null.", nameof(noisyMasks));
            if (m.Length != o.Length) throw new ArgumentException($"noisyMasks[{i}] has {m.Length} pixels; outputs[{i}] has {o.Length}.", nameof(noisyMasks));
            Otsu.MinMax(o, ref min, ref max, nameof(outputs));
        }
        var pixels = new long[binCount];
        var noisyForeground = new long[binCount];
        double scale = max > min ? binCount / (max - min) : 0;
        long total = 0, totalForeground = 0;
        for (int i = 0; i < outputs.Count; i++)
        {
            var o = outputs[i];
            var m = noisyMasks[i];
            for (int k = 0; k < o.Length; k++)
            {
                if (m[k] == ignoreIndex) continue;
                int bin = Math.Min((int)((o[k] - min) * scale), binCount - 1);
                pixels[bin]++;
                total++;
                if (m[k] == MaskConventions.Foreground) { noisyForeground[bin]++; totalForeground++; }
            }
        }
        if (total == 0) throw new ArgumentException("Every pixel of noisyMasks is ignored.", nameof(noisyMasks));
        double cleanForeground = Math.Clamp((totalForeground - b * total) / gap, 0, total);
        // Candidate e = 0..binCount: the edge min + e * width. Not inverted, P = bins e.. (p > edge); inverted, P = bins ..e-1 (p < edge).
        double width = max > min ? (max - min) / binCount : 0;
        double bestDice = double.NegativeInfinity;
        int bestEdge = inverted ? binCount : 0;
        long inP = 0, fgInP = 0;
        for (int step = 0; step <= binCount; step++)
        {
            int edge = inverted ? step : binCount - step;
            if (step > 0)
            {
                int bin = inverted ? step - 1 : binCount - step;
                inP += pixels[bin];
                fgInP += noisyForeground[bin];
            }
            double tp = Math.Clamp((fgInP - b * inP) / gap, 0, Math.Min(inP, cleanForeground));
            double denominator = inP + cleanForeground;
            double dice = denominator > 0 ? 2 * tp / denominator : 0;
            if (dice > bestDice) { bestDice = dice; bestEdge = edge; }
        }
        double threshold = min + bestEdge * width;
        // Bin edges are where P changes: pixels of bin e have values in [edge_e, edge_e+1). A threshold just below the edge keeps
        // bin e in "p > t"; inverted, "p < t" at the edge itself keeps bin e out.
        if (!inverted) threshold = bestEdge == 0 ? min - Math.Max(1e-6, 1e-6 * Math.Abs(min)) : Math.BitDecrement(threshold);
        else if (bestEdge == binCount) threshold = max + Math.Max(1e-6, 1e-6 * Math.Abs(max));
        return (threshold, bestDice);
    }

    /// <summary>
    /// The prior-matched threshold: the quantile of the outputs at which the rule <c>threshold(t)</c> (or <c>threshold(t, inverted)</c>)
    /// marks <paramref name="foregroundShare"/> of the pixels as foreground. Uses only the ranking of the outputs, so it works
    /// where the two output levels blur into one mode. Two histogram passes (65536 bins, then 65536 within the quantile's bin);
    /// the share is met to within the pixels in one fine bin (ties cannot be split).
    /// </summary>
    /// <param name="outputs">Per image, the foreground probability map (K = 1).</param>
    /// <param name="foregroundShare">Target share, in [0, 1].</param>
    /// <param name="inverted">Foreground is p &lt; t instead of p &gt; t.</param>
    /// <exception cref="ArgumentException">No value, a null or non-finite output, or the share outside [0, 1].</exception>
    public static double ThresholdAtForegroundShare(IReadOnlyList<float[]> outputs, double foregroundShare, bool inverted = false)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        if (!(foregroundShare >= 0 && foregroundShare <= 1))
            throw new ArgumentException($"foregroundShare must be in [0, 1]; got {foregroundShare}.", nameof(foregroundShare));
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        long total = 0;
        for (int i = 0; i < outputs.Count; i++)
        {
            var o = outputs[i] ?? throw new ArgumentException($"outputs[{i}] is null.", nameof(outputs));
            Otsu.MinMax(o, ref min, ref max, nameof(outputs));
            total += o.Length;
        }
        if (total == 0) throw new ArgumentException("outputs holds no value.", nameof(outputs));
        // r = how many of the smallest values fall on the low side of t: background when not inverted, foreground when inverted.
        long foreground = (long)Math.Round(foregroundShare * total);
        long r = inverted ? foreground : total - foreground;
        if (r <= 0) return inverted ? min : min - Math.Max(1e-6, 1e-6 * Math.Abs(min));
        if (r >= total) return inverted ? max + Math.Max(1e-6, 1e-6 * Math.Abs(max)) : max;
        const int bins = 1 << 16;
        double lo = min, hi = max;
        for (int pass = 0; pass < 2 && hi > lo; pass++)
        {
            var hist = new long[bins];
            long below = 0;
            double scale = bins / (hi - lo);
            foreach (var o in outputs)
                foreach (float v in o)
                {
                    if (v < lo) { below++; continue; }
                    if (v > hi) continue;
                    int b = (int)((v - lo) * scale);
                    hist[Math.Min(b, bins - 1)]++;
                }
            long cum = below;
            int k = 0;
            while (k < bins - 1 && cum + hist[k] <= r) { cum += hist[k]; k++; }
            double width = (hi - lo) / bins;
            double newLo = lo + k * width;
            hi = Math.Min(hi, lo + (k + 1) * width);
            lo = newLo;
            if (cum == r) break; // the r smallest values lie exactly below this bin edge
        }
        // About r values lie below lo and the r-th smallest lies in [lo, lo + fine bin). Non-inverted, p > lo leaves them (and any
        // values equal to lo) as background; inverted, p < lo marks them as foreground.
        return lo;
    }

    /// <summary>
    /// Estimates the level matrix of a multi-class network from its softmax outputs on (training) images.
    /// </summary>
    /// <param name="outputs">Per image, planar [K, H, W] probabilities with K = <paramref name="classCount"/>.</param>
    /// <param name="classCount">Number of classes, 2 to 255.</param>
    /// <param name="maxIterations">Upper bound on k-means iterations (default 20, at least 1).</param>
    /// <exception cref="ArgumentException">No pixel, a length not divisible by <paramref name="classCount"/>, or NaN/infinite values.</exception>
    public static MulticlassLevelEstimate EstimateLevels(IReadOnlyList<float[]> outputs, int classCount, int maxIterations = 20)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        if (classCount < 2 || classCount > MaskConventions.MaxClassCount)
            throw new ArgumentOutOfRangeException(nameof(classCount), classCount, $"classCount must be in [2, {MaskConventions.MaxClassCount}].");
        Guard.AtLeast(maxIterations, 1, nameof(maxIterations));
        int c = classCount;
        long pixels = 0;
        for (int i = 0; i < outputs.Count; i++)
        {
            var o = outputs[i] ?? throw new ArgumentException($"outputs[{i}] is null.", nameof(outputs));
            if (o.Length % c != 0)
                throw new ArgumentException($"outputs[{i}] has {o.Length} values, not a multiple of classCount = {c}.", nameof(outputs));
            for (int k = 0; k < o.Length; k++)
                if (!float.IsFinite(o[k])) throw new ArgumentException($"outputs[{i}][{k}] = {o[k]} is not finite.", nameof(outputs));
            pixels += o.Length / c;
        }
        if (pixels == 0) throw new ArgumentException("outputs holds no pixel.", nameof(outputs));

        var centers = new double[c * c];
        var sums = new double[c * c];
        var counts = new long[c];
        Span<double> v = stackalloc double[c];

        // Initialisation: mean output of each argmax group.
        foreach (var o in outputs)
        {
            int n = o.Length / c;
            for (int i = 0; i < n; i++)
            {
                int arg = 0;
                for (int k = 0; k < c; k++) { v[k] = o[k * n + i]; if (v[k] > v[arg]) arg = k; }
                counts[arg]++;
                for (int k = 0; k < c; k++) sums[arg * c + k] += v[k];
            }
        }
        var alive = new bool[c];
        for (int g = 0; g < c; g++)
            if (counts[g] > 0) { alive[g] = true; for (int k = 0; k < c; k++) centers[g * c + k] = sums[g * c + k] / counts[g]; }
        for (int g = 0; g < c; g++)
        {
            if (alive[g]) continue;
            // Farthest point from the live centres (first one on ties).
            double far = -1;
            foreach (var o in outputs)
            {
                int n = o.Length / c;
                for (int i = 0; i < n; i++)
                {
                    for (int k = 0; k < c; k++) v[k] = o[k * n + i];
                    double d = Nearest(v, centers, alive, c, out _);
                    if (d > far) { far = d; for (int k = 0; k < c; k++) centers[g * c + k] = v[k]; }
                }
            }
            alive[g] = true;
        }

        // Lloyd iterations.
        int iterations = 0;
        for (; iterations < maxIterations;)
        {
            iterations++;
            Array.Clear(sums); Array.Clear(counts);
            foreach (var o in outputs)
            {
                int n = o.Length / c;
                for (int i = 0; i < n; i++)
                {
                    for (int k = 0; k < c; k++) v[k] = o[k * n + i];
                    Nearest(v, centers, alive, c, out int g);
                    counts[g]++;
                    for (int k = 0; k < c; k++) sums[g * c + k] += v[k];
                }
            }
            double moved = 0;
            for (int g = 0; g < c; g++)
            {
                if (counts[g] == 0) continue; // keep an emptied centre where it was
                for (int k = 0; k < c; k++)
                {
                    double nc = sums[g * c + k] / counts[g];
                    moved = Math.Max(moved, Math.Abs(nc - centers[g * c + k]));
                    centers[g * c + k] = nc;
                }
            }
            if (moved < 1e-9) break;
        }

        int[] classOfCluster = MatchClusters(centers, c);
        var levels = new double[c, c];
        var fractions = new double[c];
        for (int g = 0; g < c; g++)
        {
            int j = classOfCluster[g];
            double rowSum = 0;
            for (int k = 0; k < c; k++) rowSum += Math.Max(0, centers[g * c + k]);
            for (int k = 0; k < c; k++)
                levels[j, k] = rowSum > 0 ? Math.Max(0, centers[g * c + k]) / rowSum : 1.0 / c;
            fractions[j] = (double)counts[g] / pixels;
        }
        var q = new NoiseTransitionMatrix(levels);
        double det = q.Determinant();
        return new MulticlassLevelEstimate(q, Array.AsReadOnly(fractions), det, iterations);
    }

    private static double Nearest(ReadOnlySpan<double> v, double[] centers, bool[] alive, int c, out int best)
    {
        best = -1;
        double bestD = double.PositiveInfinity;
        for (int g = 0; g < c; g++)
        {
            if (!alive[g]) continue;
            double d = 0;
            for (int k = 0; k < c; k++) { double e = v[k] - centers[g * c + k]; d += e * e; }
            if (d < bestD) { bestD = d; best = g; }
        }
        return bestD;
    }

    /// <summary>Cluster -> class assignment maximising sum of centers[g, class(g)].</summary>
    private static int[] MatchClusters(double[] centers, int c)
    {
        var assign = new int[c];
        if (c <= 8)
        {
            var perm = new int[c];
            for (int i = 0; i < c; i++) perm[i] = i;
            double best = double.NegativeInfinity;
            Permute(perm, 0, centers, c, ref best, assign);
            return assign;
        }
        var usedCluster = new bool[c];
        var usedClass = new bool[c];
        for (int step = 0; step < c; step++)
        {
            int bg = -1, bj = -1; double bv = double.NegativeInfinity;
            for (int g = 0; g < c; g++)
            {
                if (usedCluster[g]) continue;
                for (int j = 0; j < c; j++)
                    if (!usedClass[j] && centers[g * c + j] > bv) { bv = centers[g * c + j]; bg = g; bj = j; }
            }
            usedCluster[bg] = true; usedClass[bj] = true; assign[bg] = bj;
        }
        return assign;
    }

    private static void Permute(int[] perm, int pos, double[] centers, int c, ref double best, int[] assign)
    {
        if (pos == c)
        {
            double s = 0;
            for (int g = 0; g < c; g++) s += centers[g * c + perm[g]];
            if (s > best + 1e-12) { best = s; Array.Copy(perm, assign, c); }
            return;
        }
        for (int i = pos; i < c; i++)
        {
            (perm[pos], perm[i]) = (perm[i], perm[pos]);
            Permute(perm, pos + 1, centers, c, ref best, assign);
            (perm[pos], perm[i]) = (perm[i], perm[pos]);
        }
    }

    /// <summary>
    /// Corrects one pixel's noisy posterior with the inverse NTM: p_clean ∝ max(0, solve(Qᵀ, p_noisy)),
    /// normalised to sum 1 (all zeros stay zeros). For whole maps use <see cref="DecodingRule.InverseNtm(NoiseTransitionMatrix)"/>, which
    /// inverts Q once.
    /// </summary>
    /// <param name="noisyPosterior">The network's output for one pixel (length C).</param>
    /// <param name="noiseMatrix">Q, C x C, Q[j, m] = P(noisy = m | true = j).</param>
    /// <param name="cleanPosterior">Receives the corrected posterior (length C).</param>
    /// <exception cref="ArgumentException">A length differs from C or a value is NaN.</exception>
    /// <exception cref="InvalidOperationException">Q is singular.</exception>
    public static void CorrectPosterior(ReadOnlySpan<float> noisyPosterior, NoiseTransitionMatrix noiseMatrix, Span<double> cleanPosterior)
    {
        ArgumentNullException.ThrowIfNull(noiseMatrix);
        int c = noiseMatrix.ClassCount;
        if (noisyPosterior.Length != c)
            throw new ArgumentException($"noisyPosterior has {noisyPosterior.Length} values; Q is {c}x{c}.", nameof(noisyPosterior));
        if (cleanPosterior.Length != c)
            throw new ArgumentException($"cleanPosterior has {cleanPosterior.Length} values; Q is {c}x{c}.", nameof(cleanPosterior));
        foreach (float x in noisyPosterior)
            if (float.IsNaN(x)) throw new ArgumentException("noisyPosterior contains NaN.", nameof(noisyPosterior));
        double[] m = LinearAlgebra.InverseTranspose(noiseMatrix);
        double sum = 0;
        for (int j = 0; j < c; j++)
        {
            double x = 0;
            for (int l = 0; l < c; l++) x += m[j * c + l] * noisyPosterior[l];
            cleanPosterior[j] = Math.Max(0, x);
            sum += cleanPosterior[j];
        }
        if (sum > 0)
            for (int j = 0; j < c; j++) cleanPosterior[j] /= sum;
    }
}
