using MLNet.NoisySeg.Core;

namespace MLNet.NoisySeg.Unsupervised;

/// <summary>The candidate mask kept for one image by <see cref="DmiThresholdSelection.Select"/>.</summary>
/// <param name="Index">0-based index of the kept level among the K candidates.</param>
/// <param name="Threshold">The kept level t: a pixel is foreground when p &gt; t.</param>
/// <param name="Loss">Its DMI loss -log(|det U| + eps).</param>
/// <param name="ForegroundFraction">Fraction of pixels of the kept candidate that are foreground.</param>
public sealed record DmiSelection(int Index, double Threshold, double Loss, double ForegroundFraction);

/// <summary>
/// DMI candidate selection of iGTT (step 2 of iGTT, Luo et al., AAAI 2022): threshold one prediction map P at K evenly spaced levels
/// between its minimum and maximum and keep the candidate S that minimises L_DMI(P, S) = -log(|det U| + eps), with U
/// the 2x2 joint matrix of (p, 1-p) and (s, 1-s) over the pixels (the same definition as
/// <see cref="Losses.SegmentationLosses.Dmi"/>, evaluated in double precision on the CPU).
/// </summary>
/// <remarks>
/// <para>
/// Levels are the K interior points t_k = min + (max - min)(k + 1)/(K + 1), k = 0..K-1 [ours: the endpoints would give
/// the all-foreground and the (near) empty mask, whose det U is 0]. For a hard candidate S = [p &gt; t] the joint matrix
/// needs only the count and the probability mass above t, so all K candidates are scored in one pass over the pixels
/// (O(n + K)). Ties keep the lowest level. A constant map has no candidates: the result is the empty mask (Index -1).
/// </para>
/// <para>
/// Where the optimum lies: for S = [p &gt; t], n² det U = n Σ_S p - Σp |S|, so det U = Cov(p, s) =
/// (1/n) Σ_{p_i &gt; t} (p_i - p̄). Lowering t past a pixel adds p_i - p̄, which is positive exactly when p_i &gt; p̄: the
/// loss is unimodal in t with its minimum at t = p̄, the mean of the map, so the unconstrained choice is one of the two
/// levels around p̄. When the structure is a small minority of a
/// noisy map, p̄ lies just above the background level, so the best candidate also claims every background pixel
/// that the noise lifts above p̄ (a balanced-accuracy split rather than a maximum-Dice one). iGTT therefore bounds the
/// candidates' foreground share (the maxForegroundShare argument of <see cref="Select"/>; see
/// <see cref="IgttOptions.AreaGuard"/>).
/// </para>
/// </remarks>
public static class DmiThresholdSelection
{
    /// <summary>The paper's number of candidate levels.</summary>
    public const int DefaultCandidateCount = 30;

    /// <summary>Default eps added to |det U| (Xu et al.'s code, as <see cref="Losses.SegmentationLosses.Dmi"/>).</summary>
    public const double DefaultEpsilon = 1e-3;

    /// <summary>The K levels between <paramref name="min"/> and <paramref name="max"/> (exclusive).</summary>
    /// <param name="min">Minimum of the map.</param>
    /// <param name="max">Maximum of the map.</param>
    /// <param name="candidateCount">K ≥ 1.</param>
    public static double[] Levels(double min, double max, int candidateCount)
    {
        Guard.AtLeast(candidateCount, 1, nameof(candidateCount));
        var levels = new double[candidateCount];
        for (int k = 0; k < candidateCount; k++) levels[k] = min + (max - min) * (k + 1) / (candidateCount + 1);
        return levels;
    }

    /// <summary>
    /// The DMI loss -log(|det U| + eps) of probabilities <paramref name="p"/> against a (pseudo-)label mask
    /// <paramref name="s"/> (0 = background, any other value except 255 = foreground; 255 pixels are skipped).
    /// </summary>
    /// <param name="p">Foreground probabilities (or any scores in [0, 1]).</param>
    /// <param name="s">The label mask, same length.</param>
    /// <param name="eps">Added to |det U| before the log.</param>
    public static double Loss(ReadOnlySpan<float> p, ReadOnlySpan<byte> s, double eps = DefaultEpsilon)
    {
        if (p.Length != s.Length) throw new ArgumentException($"p has {p.Length} values but s has {s.Length}.", nameof(s));
        double sumP = 0, sumPs = 0, countS = 0, n = 0;
        for (int i = 0; i < p.Length; i++)
        {
            byte v = s[i];
            if (v == MaskConventions.IgnoreIndex) continue;
            double pi = p[i];
            n++;
            sumP += pi;
            if (v != 0) { sumPs += pi; countS++; }
        }
        return FromSums(sumPs, countS, sumP, n, eps);
    }

    /// <summary>DMI loss of the hard candidate with the given sums: Σ p·s, Σ s, Σ p and n.</summary>
    internal static double FromSums(double sumPs, double countS, double sumP, double n, double eps)
    {
        if (n <= 0) return -Math.Log(eps);
        double u00 = sumPs / n, u01 = (sumP - sumPs) / n, u10 = (countS - sumPs) / n, u11 = (n - countS - (sumP - sumPs)) / n;
        return -Math.Log(Math.Abs(u00 * u11 - u01 * u10) + eps);
    }

    /// <summary>
    /// Scores the K candidates [p &gt; t_k] of one map and writes the best one (0/1) into <paramref name="mask"/>.
    /// </summary>
    /// <param name="p">The prediction map (one value per pixel).</param>
    /// <param name="mask">Output mask, same length.</param>
    /// <param name="candidateCount">K ≥ 1 (the paper: 30).</param>
    /// <param name="eps">Added to |det U| before the log.</param>
    /// <param name="losses">Optional output of the K candidate losses (length ≥ K); NaN-free.</param>
    /// <param name="maxForegroundShare">
    /// Area bound: only candidates whose foreground share (foreground pixels / all pixels) is at most this value are
    /// eligible; 1 (default) keeps all K. When no candidate is eligible the result is the empty mask with Index -1 and
    /// the loss -log(eps).
    /// </param>
    public static DmiSelection Select(ReadOnlySpan<float> p, Span<byte> mask, int candidateCount = DefaultCandidateCount,
        double eps = DefaultEpsilon, Span<double> losses = default, double maxForegroundShare = 1.0)
    {
        Guard.AtLeast(candidateCount, 1, nameof(candidateCount));
        if (!(maxForegroundShare >= 0 && maxForegroundShare <= 1))
            throw new ArgumentOutOfRangeException(nameof(maxForegroundShare), maxForegroundShare, "maxForegroundShare must be in [0, 1].");
        if (p.Length != mask.Length) throw new ArgumentException($"mask has {mask.Length} pixels; p has {p.Length}.", nameof(mask));
        if (p.Length == 0) throw new ArgumentException("p must not be empty.", nameof(p));
        if (!losses.IsEmpty && losses.Length < candidateCount) throw new ArgumentException($"losses must hold at least {candidateCount} values.", nameof(losses));

        float min = float.PositiveInfinity, max = float.NegativeInfinity;
        double sumP = 0;
        foreach (float v in p)
        {
            if (!float.IsFinite(v)) throw new ArgumentException("p contains a non-finite value.", nameof(p));
            if (v < min) min = v;
            if (v > max) max = v;
            sumP += v;
        }
        if (!(max > min))
        {
            mask.Clear();
            if (!losses.IsEmpty) losses[..candidateCount].Fill(-Math.Log(eps));
            return new DmiSelection(-1, max, -Math.Log(eps), 0);
        }

        // Bucket b (0..K) holds pixels with t_{b-1} < p <= t_b (t_{-1} = -inf, t_K = +inf);
        // candidate k (p > t_k) is the union of buckets k+1..K.
        int k = candidateCount;
        var levels = Levels(min, max, k);
        var count = new double[k + 1];
        var mass = new double[k + 1];
        double scale = (k + 1) / ((double)max - min);
        foreach (float v in p)
        {
            int b = (int)Math.Ceiling((v - (double)min) * scale) - 1; // first guess: number of levels strictly below v
            b = Math.Clamp(b, 0, k);
            while (b < k && v > levels[b]) b++;
            while (b > 0 && v <= levels[b - 1]) b--;
            count[b]++;
            mass[b] += v;
        }

        double n = p.Length, cs = 0, ms = 0, bestLoss = double.PositiveInfinity;
        int best = -1;
        var candidateLoss = new double[k];
        var candidatePixels = new double[k];
        for (int c = k - 1; c >= 0; c--)
        {
            cs += count[c + 1];
            ms += mass[c + 1];
            candidateLoss[c] = FromSums(ms, cs, sumP, n, eps);
            candidatePixels[c] = cs;
        }
        double bestCount = 0;
        for (int c = 0; c < k; c++)
        {
            if (candidatePixels[c] > maxForegroundShare * n) continue;
            if (candidateLoss[c] < bestLoss) { bestLoss = candidateLoss[c]; best = c; }
        }
        if (!losses.IsEmpty) candidateLoss.CopyTo(losses);
        if (best < 0)
        {
            mask.Clear();
            return new DmiSelection(-1, max, -Math.Log(eps), 0);
        }
        double t = levels[best];
        for (int i = 0; i < p.Length; i++)
        {
            bool fg = p[i] > t;
            mask[i] = fg ? (byte)1 : (byte)0;
            if (fg) bestCount++;
        }
        return new DmiSelection(best, t, bestLoss, bestCount / n);
    }
}
