using System.Globalization;
using MLNet.NoisySeg.Core;

namespace MLNet.NoisySeg.Decoding;

/// <summary>Where the noise matrix a <see cref="DecodingDecision"/> used came from.</summary>
public enum NoiseMatrixSource
{
    /// <summary>No matrix: binary outputs decoded from their levels alone.</summary>
    None,

    /// <summary>Known exactly (simulated noise, <c>LabelNoiseSpec.ExpectedTransitionMatrix</c>): tested exactly.</summary>
    Known,

    /// <summary>Estimated from the network's outputs (<see cref="LabelFreeDecoder.EstimateLevels"/>): tested with
    /// <see cref="NoiseAwareDecodingOptions.EstimatedArgmaxTolerance"/>.</summary>
    Estimated,
}

/// <summary>How a <see cref="DecodingDecision"/> decodes.</summary>
public enum DecodingStrategy
{
    /// <summary>Plain argmax: Q preserves the argmax, so the noisy posterior's argmax is the clean one's.</summary>
    Argmax,

    /// <summary>Exact inverse of class sampling to a background class, in closed form.</summary>
    ClosedFormInverse,

    /// <summary>Exact inverse-NTM correction: Q is invertible and its inverse does not tilt the decision boundaries much.</summary>
    ExactInverse,

    /// <summary>Tikhonov-regularised inverse-NTM correction: Q is invertible but its exact inverse makes pure-class pixels fragile.</summary>
    RegularizedInverse,

    /// <summary>Binary: threshold between the two output levels the outputs show (Otsu's split).</summary>
    OutputLevelThreshold,

    /// <summary>Binary: threshold at the quantile of the outputs that predicts the foreground share Q implies.</summary>
    PriorMatchedThreshold,

    /// <summary>Binary: threshold halfway between the output levels Q predicts (b and 1 - f); the exact inverse for calibrated outputs.</summary>
    PredictedLevelThreshold,

    /// <summary>Binary: threshold at the best clean Dice estimated from the noisy training labels and Q (no clean label).</summary>
    NoiseCorrectedDiceThreshold,

    /// <summary>Nothing is recoverable (rank-deficient Q): the fixed baseline (argmax, or threshold 0.5).</summary>
    Fallback,
}

/// <summary>How <see cref="NoiseAwareDecoding.ChooseBinaryRule"/> places a binary threshold.</summary>
public enum BinaryThresholdPolicy
{
    /// <summary>With Q and the noisy training masks known, the noise-corrected Dice threshold (<see cref="NoiseCorrectedDice"/>);
    /// otherwise Otsu's split when the output levels separate; otherwise, with Q known, the prior-matched quantile;
    /// otherwise Otsu's split, flagged as untrustworthy.</summary>
    Auto,

    /// <summary>Always Otsu's split between the output levels.</summary>
    OutputLevels,

    /// <summary>The prior-matched quantile (needs a known Q; without one, Otsu's split with a note).</summary>
    PriorMatched,

    /// <summary>Halfway between the levels Q predicts (needs a known Q; without one, Otsu's split with a note).</summary>
    PredictedLevels,

    /// <summary>The threshold that maximises the clean Dice estimated from the noisy training labels and the known Q
    /// (<see cref="LabelFreeDecoder.NoiseCorrectedDiceThreshold"/>; needs Q and the noisy masks; without them, as <see cref="Auto"/>).</summary>
    NoiseCorrectedDice,
}

/// <summary>Options of <see cref="NoiseAwareDecoding"/>. Defaults are the recommended values.</summary>
public sealed class NoiseAwareDecodingOptions
{
    /// <summary>
    /// Largest accepted <see cref="NoiseMatrixDiagnostics.DecisionAmplification"/> of an inverse (default 2): the exact
    /// inverse is used while every pure-class pixel tolerates at least half the output error that the best pairwise
    /// boundary (the perpendicular bisector of the two noisy class rows) would; above it the smallest Tikhonov λ
    /// (from a 1-2-5 grid) meeting the cap is used. At least 1.
    /// </summary>
    public double MaxDecisionAmplification { get; init; } = 2;

    /// <summary>
    /// Relative numerical-rank tolerance (default 1e-9, as <see cref="NoiseTransitionMatrix.DefaultRankTolerance"/>): a singular
    /// value ≤ tolerance x σ_max counts as zero, and Q as rank-deficient (not recoverable, Lemma 2). In [0, 1).
    /// </summary>
    public double RankTolerance { get; init; } = NoiseTransitionMatrix.DefaultRankTolerance;

    /// <summary>
    /// For an estimated matrix only: argmax is kept when the estimate misses argmax preservation by at most this much
    /// (<see cref="NoiseMatrixDiagnostics.ArgmaxMargin"/> ≥ -tolerance, in posterior units; default 0.05). Heuristic, not derived:
    /// rows of a k-means level estimate are biased by a few hundredths where clusters cut through mixed pixels, and in the quick
    /// study the correction with estimated matrices lost 0.03-0.04 mIoU to plain argmax on CamVid class dilation/erosion (no known
    /// Q). Known matrices are tested exactly. In [0, 1].
    /// </summary>
    public double EstimatedArgmaxTolerance { get; init; } = 0.05;

    /// <summary>Binary threshold placement (default <see cref="BinaryThresholdPolicy.Auto"/>).</summary>
    public BinaryThresholdPolicy BinaryThreshold { get; init; } = BinaryThresholdPolicy.Auto;

    /// <summary>Ashman's D at or above which binary output levels count as separated (default
    /// <see cref="LabelFreeDecoder.MinimumMixtureSeparation"/> = 2). Positive.</summary>
    public double MinimumMixtureSeparation { get; init; } = LabelFreeDecoder.MinimumMixtureSeparation;

    /// <summary>Otsu histogram bins for binary level estimation (default 256, at least 2).</summary>
    public int BinCount { get; init; } = Otsu.DefaultBinCount;

    /// <summary>Upper bound on k-means iterations when a multi-class level matrix is estimated (default 20, at least 1).</summary>
    public int MaxIterations { get; init; } = 20;

    /// <summary>Throws when an option is out of range; the exception names the option.</summary>
    public void Validate()
    {
        if (!(MaxDecisionAmplification >= 1) || double.IsPositiveInfinity(MaxDecisionAmplification))
            throw new ArgumentOutOfRangeException(nameof(MaxDecisionAmplification), MaxDecisionAmplification, "MaxDecisionAmplification must be a finite number ≥ 1.");
        if (!(RankTolerance >= 0 && RankTolerance < 1))
            throw new ArgumentOutOfRangeException(nameof(RankTolerance), RankTolerance, "RankTolerance must be in [0, 1).");
        if (!(EstimatedArgmaxTolerance >= 0 && EstimatedArgmaxTolerance <= 1))
            throw new ArgumentOutOfRangeException(nameof(EstimatedArgmaxTolerance), EstimatedArgmaxTolerance, "EstimatedArgmaxTolerance must be in [0, 1].");
        if (!Enum.IsDefined(BinaryThreshold))
            throw new ArgumentOutOfRangeException(nameof(BinaryThreshold), BinaryThreshold, "Unknown binary threshold policy.");
        if (!(MinimumMixtureSeparation > 0) || double.IsPositiveInfinity(MinimumMixtureSeparation))
            throw new ArgumentOutOfRangeException(nameof(MinimumMixtureSeparation), MinimumMixtureSeparation, "MinimumMixtureSeparation must be a finite positive number.");
        Guard.AtLeast(BinCount, 2, nameof(BinCount));
        Guard.AtLeast(MaxIterations, 1, nameof(MaxIterations));
    }
}

/// <summary>
/// What decides how a noise matrix Q (Q[j, m] = P(noisy = m | true = j)) is used for decoding; see
/// <see cref="NoiseAwareDecoding.Analyze"/> for the definitions.
/// </summary>
/// <param name="SingularValues">Singular values of Q, descending (one-sided Jacobi SVD).</param>
/// <param name="NumericalRank">Number of singular values above the rank tolerance x σ_max: the number of recoverable classes (Lemma 2).</param>
/// <param name="Determinant">det(Q). Binary: 1 - f - b, negative when the learned map is inverted. Not a conditioning measure: with C classes it is a
/// product of C factors (class sampling 0.1 over 11 classes: 1e-10, perfectly recoverable).</param>
/// <param name="RowDominance">min over j ≠ m of Q[j, j] - Q[j, m]: &gt; 0 when every true class keeps its own label more often than any other (necessary for argmax preservation).</param>
/// <param name="ArgmaxMargin">Worst noisy-posterior gap p_noisy(i) - p_noisy(m) over clean posteriors whose argmax is i, over all i ≠ m; ≥ 0 (with <paramref name="RowDominance"/> &gt; 0) iff Q preserves the argmax.</param>
/// <param name="PreservesArgmax">argmax_m p_noisy(m) = argmax_j p_clean(j) for every clean posterior with a unique maximum (exact test, tolerance 1e-12).</param>
/// <param name="DecisionAmplification">ρ of the exact inverse, ≥ 1: how much closer its decision boundaries come to a pure-class noisy posterior than the
/// perpendicular bisector between the two classes' noisy rows would (1 = no tilt). Infinite when Q is rank-deficient.</param>
/// <param name="BackgroundClass">b when Q is class sampling to a background class b (rows j ≠ b keep j or go to b; row b = e_b); null otherwise.</param>
public sealed record NoiseMatrixDiagnostics(IReadOnlyList<double> SingularValues, int NumericalRank, double Determinant,
    double RowDominance, double ArgmaxMargin, bool PreservesArgmax, double DecisionAmplification, int? BackgroundClass)
{
    /// <summary>Number of classes.</summary>
    public int ClassCount => SingularValues.Count;

    /// <summary>σ_max. At least 1 for a row-stochastic Q (Q 1 = 1).</summary>
    public double LargestSingularValue => SingularValues[0];

    /// <summary>σ_min: the distance of Q to the nearest singular matrix (2-norm).</summary>
    public double SmallestSingularValue => SingularValues[^1];

    /// <summary>κ = σ_max / σ_min (infinite for σ_min = 0): the worst-case amplification of an output error by the exact inverse,
    /// relative to the signal. Symmetric flip 0.9 over 11 classes: κ = 100, although its argmax needs no inverse at all.</summary>
    public double ConditionNumber => SmallestSingularValue > 0 ? LargestSingularValue / SmallestSingularValue : double.PositiveInfinity;

    /// <summary>True when <see cref="NumericalRank"/> equals the class count: every class is recoverable.</summary>
    public bool IsFullRank => NumericalRank == ClassCount;
}

/// <summary>
/// The outcome of <see cref="NoiseAwareDecoding"/>: the rule, how it was chosen and why.
/// </summary>
/// <param name="Rule">The rule to decode with.</param>
/// <param name="Strategy">How it decodes.</param>
/// <param name="Reason">One or two human-readable sentences with the numbers behind the choice (invariant culture).</param>
public sealed record DecodingDecision(DecodingRule Rule, DecodingStrategy Strategy, string Reason)
{
    /// <summary>Where the noise matrix came from (<see cref="NoiseMatrixSource.None"/> for binary decoding without one).</summary>
    public NoiseMatrixSource MatrixSource { get; init; }

    /// <summary>Diagnostics of the known or estimated Q; null when there was none.</summary>
    public NoiseMatrixDiagnostics? Diagnostics { get; init; }

    /// <summary>False when Q is rank-deficient: some classes cannot be recovered from these labels (Lemma 2) and the
    /// rule is the fixed baseline. True otherwise (also when Q is unknown).</summary>
    public bool IsRecoverable { get; init; } = true;

    /// <summary>Binary: whether the outputs show two separate levels (Ashman's D ≥ the option's minimum); null for multi-class.
    /// False means an Otsu threshold would be a guess: the reason says what was used instead.</summary>
    public bool? LevelsSeparated { get; init; }

    /// <summary>Binary: the output-level estimate; null for multi-class.</summary>
    public BinaryLevelEstimate? BinaryLevels { get; init; }

    /// <summary>Multi-class without a known Q: the estimated level matrix; null otherwise.</summary>
    public MulticlassLevelEstimate? EstimatedLevels { get; init; }

    /// <summary>Binary with a known Q: the clean foreground share implied by the noisy share, (π_noisy - b) / (1 - f - b); NaN otherwise.</summary>
    public double ForegroundShare { get; init; } = double.NaN;

    /// <summary><c>rule: reason</c>.</summary>
    public override string ToString() => $"{Rule}: {Reason}";
}

/// <summary>
/// Chooses how to decode a network trained on noisy labels without clean labels ([ours], beyond the paper): from the
/// noise matrix Q when it is known (simulated noise) or estimated from the outputs, and for binary outputs from the output
/// levels. One entry point per situation: <see cref="Plan"/> (outputs in, rule out), <see cref="ChooseRule(NoiseTransitionMatrix, NoiseMatrixSource, NoiseAwareDecodingOptions?)"/>
/// (Q alone), <see cref="ChooseBinaryRule"/> (binary outputs), and <see cref="Analyze"/> for the diagnostics.
/// </summary>
/// <remarks>
/// <para><b>Model.</b> A network trained with CE/BCE on noisy labels estimates the noisy posterior p_n = Qᵀ p (p = clean posterior,
/// both on the probability simplex). A pure pixel of true class j has p_n = q_j, row j of Q.</para>
/// <para><b>Decision rule for a matrix</b> (known or estimated; first match wins):</para>
/// <list type="number">
/// <item>Rank-deficient (σ_min ≤ <see cref="NoiseAwareDecodingOptions.RankTolerance"/> x σ_max, from an SVD, not the determinant): only
/// rank(Q) classes are recoverable (Lemma 2) and no inverse exists. Reported as not recoverable; the rule falls back to the fixed
/// baseline, argmax (binary: threshold 0.5) - the network's own prediction of the noisy label. It is the rule the study's Fixed column
/// scores, so label-free decoding cannot do worse than it there, while any pseudo-inverse would pick arbitrarily among the classes Q merges.</item>
/// <item>Q preserves the argmax (<see cref="NoiseMatrixDiagnostics.PreservesArgmax"/>; estimated matrices within
/// <see cref="NoiseAwareDecodingOptions.EstimatedArgmaxTolerance"/>): plain argmax. Exact on every noise-free posterior and it amplifies
/// nothing. Symmetric flip e over C classes qualifies iff e &lt; (C-1)/C (0.9 over 11 classes does: diagonal 0.10 &gt; 0.09).</item>
/// <item>Exact inverse when its <see cref="NoiseMatrixDiagnostics.DecisionAmplification"/> ρ ≤ <see cref="NoiseAwareDecodingOptions.MaxDecisionAmplification"/>;
/// class sampling to a background class has ρ = 1 (its boundaries are perpendicular bisectors) whatever κ, and runs in closed form.</item>
/// <item>Otherwise the Tikhonov-regularised inverse with the smallest λ on a 1-2-5 grid whose ρ meets the cap (or, if none does, the
/// smallest ρ found): the least bias that restores the noise tolerance.</item>
/// </list>
/// <para><b>Why argmax preservation has this test.</b> Fix i ≠ m and let D_j = Q[j, i] - Q[j, m], so p_n(i) - p_n(m) = Σ_j D_j p_j,
/// a linear function of p. The clean posteriors whose argmax is i form the polytope {p in the simplex, p_i ≥ p_j for all j}, whose
/// vertices are v_S = 1_S / |S| for the sets S ∋ i (sort p descending: p = Σ_k (p_(k) - p_(k+1)) 1_{top k}, each top-k set contains i).
/// A linear function is ≥ 0 on a polytope iff it is ≥ 0 at every vertex, i.e. iff D_i + Σ_{j≠i} min(0, D_j) ≥ 0 (S = i plus every j
/// with D_j &lt; 0 is the worst vertex). If moreover D_i &gt; 0, a posterior with a unique maximum at i puts weight p_i - p_(2) &gt; 0 on
/// the vertex e_i and gets a strictly positive gap, so argmax p_n = i. Conversely, if the vertex sum is negative, posteriors close to
/// that vertex with a unique maximum at i have m ahead in p_n; and if D_i ≤ 0, p = e_i ties or loses. Hence: Q preserves the argmax
/// iff for every i ≠ m, Q[i, i] &gt; Q[i, m] and D_i + Σ_{j≠i} min(0, D_j) ≥ 0; checked in O(C³ log C).
/// <see cref="NoiseMatrixDiagnostics.ArgmaxMargin"/> reports the worst vertex value, min over S of (1 / |S|) Σ_{j in S} D_j: the
/// smallest lead of the right noisy class over clean posteriors with the right argmax (a noisy-posterior gap).</para>
/// <para>Consequences: diagonal dominance of the <i>columns</i> (Q[i, i] &gt; Q[j, i]) is neither necessary nor sufficient (Q = [[0.4, 0.6],
/// [0, 1]] has it, yet p = e_0 gives p_n = (0.4, 0.6)); row dominance is necessary, not sufficient. For Q = a I + 1 rᵀ (a &gt; 0, r ≥ 0),
/// p_n = a p + r, which preserves the argmax iff r is constant: exactly the symmetric flips. Binary flipping preserves it iff f = b &lt; 1/2.
/// Class sampling never does: a pixel split evenly between a foreground class and the background is labelled background more
/// often than not (0.5 + 0.5 (1 - s) &gt; 0.5 s).</para>
/// <para><b>Why the condition number is not the test for inverting.</b> κ bounds the error of the recovered posterior values, but
/// decoding needs only the argmax. For the exact inverse the boundary between j and k is w·p_n = 0 with w = Q⁻¹(e_j - e_k); since
/// w·q_j = 1 and w·q_k = -1 it always passes through the middle of the two noisy rows, but it may be tilted. A pure-j pixel is decoded
/// correctly while its output error along the boundary normal stays below d_jk = 1 / ‖P w‖ (P projects onto the simplex plane,
/// 1ᵀ p_n = 1), and no linear argmax rule can do better for both j and k than ‖q_j - q_k‖ / 2. ρ = max_{j≠k} (‖q_j - q_k‖ / 2) / d_jk ≥ 1
/// measures the tilt. Symmetric flip 0.9 and class sampling 0.1 over 11 classes have ρ = 1 although κ = 100 and 91 (det 1e-20 and
/// 1e-10); a Q with two
/// nearly equal rows has boundaries to a third class tilted by the near-singular direction (ρ ≫ 1), and there an output error of a
/// few hundredths moves third-class pixels into the confused pair. Tikhonov's map (Q Qᵀ + λI)⁻¹ Q runs from the exact inverse (λ = 0)
/// towards the matched filter Q (λ → ∞), untilting the boundaries at the price of a bias on mixed posteriors; ρ is evaluated with
/// the same formula (margin (e_j - e_k)ᵀ M q_j instead of 1).</para>
/// <para><b>Binary</b> (<see cref="ChooseBinaryRule"/>): see there.</para>
/// </remarks>
public static class NoiseAwareDecoding
{
    private const double ExactTolerance = 1e-12;

    /// <summary>Computes the <see cref="NoiseMatrixDiagnostics"/> of Q.</summary>
    /// <param name="q">The noise matrix.</param>
    /// <param name="rankTolerance">Relative numerical-rank tolerance, in [0, 1) (default 1e-9).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rankTolerance"/> is outside [0, 1).</exception>
    public static NoiseMatrixDiagnostics Analyze(NoiseTransitionMatrix q, double rankTolerance = NoiseTransitionMatrix.DefaultRankTolerance)
    {
        ArgumentNullException.ThrowIfNull(q);
        if (!(rankTolerance >= 0 && rankTolerance < 1))
            throw new ArgumentOutOfRangeException(nameof(rankTolerance), rankTolerance, "rankTolerance must be in [0, 1).");
        int n = q.ClassCount;
        double[] a = LinearAlgebra.ToRowMajor(q);
        var svd = LinearAlgebra.SingularValueDecomposition(a, n);
        double tol = rankTolerance * svd.S[0];
        int rank = svd.S.Count(s => s > tol);
        var (dominance, margin) = ArgmaxMargins(a, n);
        bool preserves = dominance > ExactTolerance && margin >= -ExactTolerance;
        double rho = rank == n ? DecisionAmplification(a, LinearAlgebra.TikhonovCorrection(svd, 0), n) : double.PositiveInfinity;
        int? background = TryGetBackgroundSampling(q, out int b, out _) ? b : null;
        return new NoiseMatrixDiagnostics(Array.AsReadOnly(svd.S), rank, q.Determinant(), dominance, margin, preserves, rho, background);
    }

    /// <summary>
    /// Chooses the rule for a noise matrix alone (no outputs needed); see the class remarks for the decision rule. A 2x2 Q gives
    /// a threshold rule: halfway between the levels Q predicts (b and 1 - f), inverted when det(Q) &lt; 0 - the exact inverse-NTM
    /// decision for calibrated outputs. For binary outputs prefer <see cref="ChooseBinaryRule"/>, which also looks at the outputs.
    /// </summary>
    /// <param name="q">The noise matrix.</param>
    /// <param name="source"><see cref="NoiseMatrixSource.Known"/> (exact tests) or <see cref="NoiseMatrixSource.Estimated"/>
    /// (argmax kept within <see cref="NoiseAwareDecodingOptions.EstimatedArgmaxTolerance"/>).</param>
    /// <param name="options">Options; null for the defaults.</param>
    /// <exception cref="ArgumentException"><paramref name="source"/> is <see cref="NoiseMatrixSource.None"/> or undefined.</exception>
    public static DecodingDecision ChooseRule(NoiseTransitionMatrix q, NoiseMatrixSource source = NoiseMatrixSource.Known, NoiseAwareDecodingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(q);
        if (source is not (NoiseMatrixSource.Known or NoiseMatrixSource.Estimated))
            throw new ArgumentException($"source must be Known or Estimated; got {source}.", nameof(source));
        options ??= new NoiseAwareDecodingOptions();
        options.Validate();
        var d = Analyze(q, options.RankTolerance);
        string what = source == NoiseMatrixSource.Known ? "The known Q" : "The estimated Q";
        DecodingDecision Make(DecodingRule rule, DecodingStrategy strategy, string reason, bool recoverable = true)
            => new(rule, strategy, reason) { MatrixSource = source, Diagnostics = d, IsRecoverable = recoverable };

        if (!d.IsFullRank)
        {
            var fallback = q.ClassCount == 2 ? DecodingRule.FixedThreshold : DecodingRule.Argmax;
            return Make(fallback, DecodingStrategy.Fallback, Inv(
                $"{what} is rank-deficient (rank {d.NumericalRank} of {d.ClassCount}, σ_min/σ_max = {F(d.SmallestSingularValue / d.LargestSingularValue)}): only {d.NumericalRank} class(es) are recoverable (Lemma 2) and no inverse exists. Not recoverable; fell back to the fixed baseline {fallback} (the network's own noisy-label prediction, as in the Fixed column) rather than a pseudo-inverse that would pick arbitrarily among the merged classes."),
                recoverable: false);
        }

        bool argmax = source == NoiseMatrixSource.Known
            ? d.PreservesArgmax
            : d.RowDominance > 0 && d.ArgmaxMargin >= -options.EstimatedArgmaxTolerance;
        if (argmax)
        {
            string how = d.PreservesArgmax
                ? "preserves the argmax"
                : Inv($"preserves the argmax within the estimate's tolerance (worst noisy gap {F(d.ArgmaxMargin)} ≥ -{F(options.EstimatedArgmaxTolerance)})");
            return Make(DecodingRule.Argmax, DecodingStrategy.Argmax, Inv(
                $"{what} {how}: every class keeps its own label most often (by {F(d.RowDominance)}) and no clean posterior is out-voted, so argmax of the noisy posterior is the clean argmax; no inverse needed (det {F(d.Determinant)}, κ {F(d.ConditionNumber)} are irrelevant here)."));
        }

        if (q.ClassCount == 2)
        {
            double lo = q[0, 1], hi = q[1, 1];
            bool inverted = d.Determinant < 0;
            double t = 0.5 * (lo + hi);
            return Make(DecodingRule.AtThreshold(t, inverted), DecodingStrategy.PredictedLevelThreshold, Inv(
                $"{what} predicts output levels {F(lo)} (background) and {F(hi)} (foreground); threshold halfway, {F(t)}{(inverted ? ", inverted (det < 0)" : "")}: the exact inverse-NTM decision for calibrated outputs."));
        }

        if (d.BackgroundClass is int b && d.DecisionAmplification <= options.MaxDecisionAmplification)
        {
            return Make(DecodingRule.InverseNtm(q), DecodingStrategy.ClosedFormInverse, Inv(
                $"{what} is class sampling to background class {b}: invertible in closed form (det {F(d.Determinant)}, κ {F(d.ConditionNumber)}, yet decision amplification {F(d.DecisionAmplification)}: the boundaries lie halfway between the noisy class rows), so it is decoded exactly."));
        }

        if (d.DecisionAmplification <= options.MaxDecisionAmplification)
        {
            return Make(DecodingRule.InverseNtm(q), DecodingStrategy.ExactInverse, Inv(
                $"{what} is invertible (σ_min {F(d.SmallestSingularValue)}, κ {F(d.ConditionNumber)}) and does not preserve the argmax (worst noisy gap {F(d.ArgmaxMargin)}); its exact inverse tilts the decision boundaries by ρ = {F(d.DecisionAmplification)} ≤ {F(options.MaxDecisionAmplification)}, so it is used."));
        }

        var (lambda, rho) = ChooseTikhonov(q, d, options.MaxDecisionAmplification);
        if (lambda == 0)
        {
            return Make(DecodingRule.InverseNtm(q), DecodingStrategy.ExactInverse, Inv(
                $"{what} is invertible but its exact inverse tilts the decision boundaries (ρ = {F(d.DecisionAmplification)} > {F(options.MaxDecisionAmplification)}) and no Tikhonov λ did better; exact inverse used."));
        }
        return Make(DecodingRule.InverseNtm(q, lambda), DecodingStrategy.RegularizedInverse, Inv(
            $"{what} is invertible but ill-conditioned for decoding (σ_min {F(d.SmallestSingularValue)}, κ {F(d.ConditionNumber)}): its exact inverse tilts the decision boundaries by ρ = {F(d.DecisionAmplification)} > {F(options.MaxDecisionAmplification)}; Tikhonov-regularised inverse with λ = {F(lambda)} (ρ = {F(rho)}){(rho <= options.MaxDecisionAmplification ? "" : ", the best on the grid")}."));
    }

    /// <summary>Chooses the rule for an estimated multi-class level matrix (<see cref="LabelFreeDecoder.EstimateLevels"/>).</summary>
    /// <param name="estimate">The estimate; its <see cref="MulticlassLevelEstimate.Levels"/> is Q̂.</param>
    /// <param name="options">Options; null for the defaults.</param>
    public static DecodingDecision ChooseRule(MulticlassLevelEstimate estimate, NoiseAwareDecodingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(estimate);
        return ChooseRule(estimate.Levels, NoiseMatrixSource.Estimated, options) with { EstimatedLevels = estimate };
    }

    /// <summary>
    /// Chooses the threshold for a binary (K = 1) network from its outputs on its training images, using what is known
    /// without clean labels.
    /// </summary>
    /// <remarks>
    /// <para>With BCE the output is about E[noisy label | x]: b on background and 1 - f on foreground for Q = [[1-b, b], [f, 1-f]]
    /// (sampling(s): 0 and s). So a known Q predicts the levels, fixes the orientation (det(Q) = 1 - f - b &lt; 0: inverted) and turns
    /// the noisy foreground share π_n into the clean one, π = (π_n - b) / (1 - f - b) (π_n = π(1-f) + (1-π)b). Policy
    /// <see cref="BinaryThresholdPolicy.Auto"/>:</para>
    /// <list type="number">
    /// <item>Known Q rank-deficient (f + b = 1, random labels): the labels are independent of the truth, nothing is recoverable;
    /// fixed threshold 0.5 (the baseline: a threshold fitted to such outputs would only split noise), reported as not recoverable.</item>
    /// <item>Q and the noisy training masks known: the threshold that maximises the clean Dice estimated from the noisy labels through Q
    /// (<see cref="LabelFreeDecoder.NoiseCorrectedDiceThreshold"/>): unbiased for any full-rank Q, no calibration or level separation
    /// needed. The rules below apply when the masks are not known (e.g. noise redrawn every epoch).</item>
    /// <item>The outputs show two separate levels (Ashman's D ≥ <see cref="NoiseAwareDecodingOptions.MinimumMixtureSeparation"/>): Otsu's
    /// split (measured within 0.01 Dice of the oracle sweep wherever levels separated), oriented by Q when known.</item>
    /// <item>Levels do not separate (short budgets, e.g. sampling 0.05): Otsu would split one blurred mode. With Q known, the threshold is
    /// the quantile of the outputs that marks π of them as foreground (prior-matched): it needs only the ranking of the outputs,
    /// not their calibration. π_n is the noisy labels' share when given, else the mean output (BCE fits the mean first).</item>
    /// <item>Levels do not separate and Q is unknown: nothing better is known; Otsu's split is returned but
    /// <see cref="DecodingDecision.LevelsSeparated"/> is false and the reason says it is not trustworthy.</item>
    /// </list>
    /// </remarks>
    /// <param name="outputs">Per training image, the foreground probability map (K = 1).</param>
    /// <param name="knownNoise">The 2x2 noise matrix when known (simulated noise), any determinant; null when unknown.</param>
    /// <param name="noisyForegroundShare">Share of foreground pixels in the noisy training labels (ignored pixels excluded, see
    /// <see cref="LabelFreeDecoder.ForegroundShare"/>); null or NaN to use the mean output.</param>
    /// <param name="options">Options; null for the defaults.</param>
    /// <param name="noisyMasks">The noisy binary masks the network trained on, one per output map (null when not known, e.g. noise
    /// redrawn every epoch). With a known Q they give the noise-corrected Dice threshold (<see cref="BinaryThresholdPolicy.NoiseCorrectedDice"/>).</param>
    /// <exception cref="ArgumentException">No output, non-finite outputs, <paramref name="knownNoise"/> not 2x2, the share outside [0, 1], or
    /// masks that do not match the outputs.</exception>
    public static DecodingDecision ChooseBinaryRule(IReadOnlyList<float[]> outputs, NoiseTransitionMatrix? knownNoise = null,
        double? noisyForegroundShare = null, NoiseAwareDecodingOptions? options = null, IReadOnlyList<byte[]>? noisyMasks = null)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        options ??= new NoiseAwareDecodingOptions();
        options.Validate();
        if (knownNoise is not null && knownNoise.ClassCount != 2)
            throw new ArgumentException($"knownNoise must be a binary (2x2) matrix; got {knownNoise.ClassCount}x{knownNoise.ClassCount}.", nameof(knownNoise));
        if (noisyForegroundShare is double nan && double.IsNaN(nan)) noisyForegroundShare = null; // ForegroundShare of all-ignored masks
        if (noisyForegroundShare is double share0 && !(share0 >= 0 && share0 <= 1))
            throw new ArgumentException($"noisyForegroundShare must be in [0, 1]; got {share0}.", nameof(noisyForegroundShare));

        NoiseMatrixDiagnostics? d = knownNoise is null ? null : Analyze(knownNoise, options.RankTolerance);
        var source = knownNoise is null ? NoiseMatrixSource.None : NoiseMatrixSource.Known;
        if (d is not null && (!d.IsFullRank || Math.Abs(d.Determinant) < 1e-12))
        {
            var blind = LabelFreeDecoder.EstimateBinary(outputs, null, options.BinCount);
            return new DecodingDecision(DecodingRule.FixedThreshold, DecodingStrategy.Fallback, Inv(
                $"The known Q is rank-deficient (det {F(d.Determinant)}, f + b = 1): the noisy labels are independent of the truth (Lemma 2), nothing is recoverable and no orientation exists. Fell back to the fixed threshold 0.5, the baseline; a threshold fitted to these outputs would only split noise."))
            {
                MatrixSource = source, Diagnostics = d, IsRecoverable = false, BinaryLevels = blind,
                LevelsSeparated = Separated(blind, options),
            };
        }

        var est = LabelFreeDecoder.EstimateBinary(outputs, knownNoise, options.BinCount);
        bool separated = Separated(est, options);
        string levels = Inv($"output levels {F(est.BackgroundLevel)} / {F(est.ForegroundLevel)} (Ashman's D {F(est.MixtureSeparation)}{(separated ? " ≥ " : " < ")}{F(options.MinimumMixtureSeparation)}: {(separated ? "separated" : "not separated")})");
        var otsu = new DecodingDecision(est.ToRule(), DecodingStrategy.OutputLevelThreshold, "")
        {
            MatrixSource = source, Diagnostics = d, BinaryLevels = est, LevelsSeparated = separated,
        };
        if (knownNoise is null)
        {
            string why = options.BinaryThreshold is BinaryThresholdPolicy.PriorMatched or BinaryThresholdPolicy.PredictedLevels
                ? $" (policy {options.BinaryThreshold} needs a known noise matrix)" : "";
            return otsu with
            {
                Reason = separated
                    ? Inv($"Otsu threshold {F(est.Threshold)} between the {levels}{why}; orientation not known without Q (assumed not inverted).")
                    : Inv($"The {levels}; with no noise matrix nothing better is known, so Otsu's threshold {F(est.Threshold)} is returned but is NOT trustworthy{why}. Give the noise matrix (simulated noise) to match the foreground share instead."),
            };
        }

        double bgLevel = knownNoise[0, 1], fgLevel = knownNoise[1, 1];
        bool inverted = est.Inverted;
        string predicted = Inv($"Q predicts {F(bgLevel)} / {F(fgLevel)}{(inverted ? ", inverted (det < 0)" : "")}");
        double noisyShare = noisyForegroundShare ?? est.MeanOutput;
        string shareSource = noisyForegroundShare is null ? "mean output" : "noisy labels";
        double cleanShare = LabelFreeDecoder.ImpliedForegroundShare(noisyShare, knownNoise);
        otsu = otsu with { ForegroundShare = cleanShare };

        var policy = options.BinaryThreshold;
        if (policy is BinaryThresholdPolicy.Auto or BinaryThresholdPolicy.NoiseCorrectedDice)
            policy = noisyMasks is not null ? BinaryThresholdPolicy.NoiseCorrectedDice
                : separated ? BinaryThresholdPolicy.OutputLevels : BinaryThresholdPolicy.PriorMatched;
        switch (policy)
        {
            case BinaryThresholdPolicy.NoiseCorrectedDice:
            {
                var (t, dice) = LabelFreeDecoder.NoiseCorrectedDiceThreshold(outputs, noisyMasks!, knownNoise, inverted);
                return otsu with
                {
                    Rule = DecodingRule.AtThreshold(t, inverted), Strategy = DecodingStrategy.NoiseCorrectedDiceThreshold,
                    Reason = Inv($"Noise-corrected threshold {F(t)}{(inverted ? " (inverted)" : "")}: the best clean Dice estimated from the noisy training labels through Q ({F(dice)} on the training images); {predicted}; {levels}."),
                };
            }
            case BinaryThresholdPolicy.PredictedLevels:
            {
                double t = 0.5 * (bgLevel + fgLevel);
                return otsu with
                {
                    Rule = DecodingRule.AtThreshold(t, inverted), Strategy = DecodingStrategy.PredictedLevelThreshold,
                    Reason = Inv($"Threshold {F(t)} halfway between the levels {predicted}; observed {levels}."),
                };
            }
            case BinaryThresholdPolicy.PriorMatched when cleanShare > 0 && cleanShare < 1:
            {
                double t = LabelFreeDecoder.ThresholdAtForegroundShare(outputs, cleanShare, inverted);
                string lead = separated ? "" : Inv($"The {levels}, so Otsu's split would be a guess. ");
                return otsu with
                {
                    Rule = DecodingRule.AtThreshold(t, inverted), Strategy = DecodingStrategy.PriorMatchedThreshold,
                    Reason = Inv($"{lead}Prior-matched threshold {F(t)}{(inverted ? " (inverted)" : "")}: marks {F(cleanShare)} of the training pixels as foreground, the clean share Q implies from the noisy share {F(noisyShare)} ({shareSource}); {predicted}."),
                };
            }
            case BinaryThresholdPolicy.PriorMatched:
                return otsu with
                {
                    Reason = Inv($"The implied clean foreground share {F(cleanShare)} (from the noisy share {F(noisyShare)}, {shareSource}) is degenerate, so no prior-matched threshold; Otsu threshold {F(est.Threshold)} between the {levels}{(separated ? "" : ", NOT trustworthy")}; {predicted}."),
                };
            default:
                return otsu with
                {
                    Reason = Inv($"Otsu threshold {F(est.Threshold)}{(inverted ? " (inverted)" : "")} between the {levels}{(separated ? "" : ", NOT trustworthy")}; {predicted}; it marks {F(inverted ? est.LowFraction : 1 - est.LowFraction)} of the training pixels as foreground, Q implies {F(cleanShare)}."),
                };
        }
    }

    /// <summary>
    /// Outputs in, rule out: the label-free decoding of a trained network. Binary (<paramref name="classCount"/> = 2, K = 1 maps):
    /// <see cref="ChooseBinaryRule"/>. Multi-class: with a known Q, <see cref="ChooseRule(NoiseTransitionMatrix, NoiseMatrixSource, NoiseAwareDecodingOptions?)"/>
    /// (the outputs are not needed); without one, the level matrix is estimated (<see cref="LabelFreeDecoder.EstimateLevels"/>)
    /// and <see cref="ChooseRule(MulticlassLevelEstimate, NoiseAwareDecodingOptions?)"/> decides.
    /// </summary>
    /// <param name="outputs">Per training image: binary, the foreground map; multi-class, planar [K, H, W] softmax outputs.</param>
    /// <param name="classCount">Number of classes, 2 to 255.</param>
    /// <param name="knownNoise">Q when known (simulated noise), any determinant; null when unknown.</param>
    /// <param name="noisyForegroundShare">Binary only: foreground share of the noisy training labels; null or NaN to use the mean output.</param>
    /// <param name="options">Options; null for the defaults.</param>
    /// <param name="noisyMasks">Binary only: the noisy masks the network trained on, one per output map; null when not known.</param>
    /// <exception cref="ArgumentException"><paramref name="knownNoise"/> does not have <paramref name="classCount"/> classes, or the outputs are invalid.</exception>
    public static DecodingDecision Plan(IReadOnlyList<float[]> outputs, int classCount, NoiseTransitionMatrix? knownNoise = null,
        double? noisyForegroundShare = null, NoiseAwareDecodingOptions? options = null, IReadOnlyList<byte[]>? noisyMasks = null)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        if (classCount < 2 || classCount > MaskConventions.MaxClassCount)
            throw new ArgumentOutOfRangeException(nameof(classCount), classCount, $"classCount must be in [2, {MaskConventions.MaxClassCount}].");
        if (knownNoise is not null && knownNoise.ClassCount != classCount)
            throw new ArgumentException($"knownNoise is {knownNoise.ClassCount}x{knownNoise.ClassCount}; classCount is {classCount}.", nameof(knownNoise));
        if (classCount == 2)
            return ChooseBinaryRule(outputs, knownNoise, noisyForegroundShare, options, noisyMasks);
        options ??= new NoiseAwareDecodingOptions();
        options.Validate();
        if (knownNoise is not null)
            return ChooseRule(knownNoise, NoiseMatrixSource.Known, options);
        return ChooseRule(LabelFreeDecoder.EstimateLevels(outputs, classCount, options.MaxIterations), options);
    }

    private static bool Separated(BinaryLevelEstimate e, NoiseAwareDecodingOptions o) => e.MixtureSeparation >= o.MinimumMixtureSeparation;

    /// <summary>
    /// Recognises class sampling to a background class b: row b = e_b and every other row j has Q[j, j] = s_j &gt; 0,
    /// Q[j, b] = 1 - s_j and zeros elsewhere (absolute tolerance 1e-12). The first b that fits is returned.
    /// </summary>
    internal static bool TryGetBackgroundSampling(NoiseTransitionMatrix q, out int background, out double[] keepRates)
    {
        int n = q.ClassCount;
        for (int b = 0; b < n; b++)
        {
            if (Math.Abs(q[b, b] - 1) > ExactTolerance) continue;
            var rates = new double[n];
            rates[b] = 1;
            bool fits = true;
            for (int j = 0; j < n && fits; j++)
            {
                if (j == b) continue;
                for (int m = 0; m < n && fits; m++)
                    if (m != j && m != b && q[j, m] > ExactTolerance) fits = false;
                rates[j] = q[j, j];
                if (!(rates[j] > ExactTolerance)) fits = false;
            }
            if (fits)
            {
                background = b;
                keepRates = rates;
                return true;
            }
        }
        background = -1;
        keepRates = Array.Empty<double>();
        return false;
    }

    /// <summary>(min_{i≠m} Q[i,i] - Q[i,m], min over i ≠ m and vertices S ∋ i of the mean of D_j over S); see the class remarks.</summary>
    internal static (double RowDominance, double Margin) ArgmaxMargins(double[] q, int n)
    {
        double dominance = double.PositiveInfinity, margin = double.PositiveInfinity;
        var others = new double[n - 1];
        for (int i = 0; i < n; i++)
            for (int m = 0; m < n; m++)
            {
                if (m == i) continue;
                double di = q[i * n + i] - q[i * n + m];
                dominance = Math.Min(dominance, di);
                int c = 0;
                for (int j = 0; j < n; j++)
                    if (j != i) others[c++] = q[j * n + i] - q[j * n + m];
                Array.Sort(others);
                // The worst vertex adds the most negative D_j first; the mean over a prefix is minimal somewhere along it.
                double sum = di, best = di;
                for (int k = 0; k < others.Length; k++)
                {
                    sum += others[k];
                    best = Math.Min(best, sum / (k + 2));
                }
                margin = Math.Min(margin, best);
            }
        return (dominance, margin);
    }

    /// <summary>
    /// ρ of the linear decoder x = M p_n (row-major M) on the noise matrix q: max over ordered pairs j ≠ k of
    /// (‖q_j - q_k‖ / 2) ‖P a‖ / (a·q_j) with a = M[j,:] - M[k,:]; infinite when a pure-class pixel is not decoded as its class.
    /// </summary>
    internal static double DecisionAmplification(double[] q, double[] m, int n)
    {
        double rho = 1;
        var a = new double[n];
        for (int j = 0; j < n; j++)
            for (int k = 0; k < n; k++)
            {
                if (j == k) continue;
                double mean = 0, margin = 0, dist = 0;
                for (int l = 0; l < n; l++)
                {
                    a[l] = m[j * n + l] - m[k * n + l];
                    mean += a[l];
                    margin += a[l] * q[j * n + l];
                    double e = q[j * n + l] - q[k * n + l];
                    dist += e * e;
                }
                mean /= n;
                double norm = 0;
                for (int l = 0; l < n; l++) norm += (a[l] - mean) * (a[l] - mean);
                norm = Math.Sqrt(norm);
                if (!(margin > ExactTolerance * Math.Max(1, norm))) return double.PositiveInfinity;
                rho = Math.Max(rho, 0.5 * Math.Sqrt(dist) * norm / margin);
            }
        return rho;
    }

    /// <summary>Smallest λ on a 1-2-5 grid from about σ_min²/10 to σ_max² whose ρ meets the cap; else the λ with the smallest ρ
    /// (0 when no λ beats the exact inverse).</summary>
    private static (double Lambda, double Rho) ChooseTikhonov(NoiseTransitionMatrix q, NoiseMatrixDiagnostics d, double cap)
    {
        int n = q.ClassCount;
        double[] a = LinearAlgebra.ToRowMajor(q);
        var svd = LinearAlgebra.SingularValueDecomposition(a, n);
        double smin = d.SmallestSingularValue, smax = d.LargestSingularValue;
        int lo = (int)Math.Floor(Math.Log10(Math.Max(smin * smin / 10, 1e-300)));
        int hi = (int)Math.Ceiling(Math.Log10(smax * smax));
        lo = Math.Max(lo, hi - 30);
        double bestLambda = 0, bestRho = d.DecisionAmplification;
        foreach (int decade in Enumerable.Range(lo, hi - lo + 1))
            foreach (double mantissa in new[] { 1.0, 2.0, 5.0 })
            {
                double lambda = double.Parse(string.Create(CultureInfo.InvariantCulture, $"{mantissa}e{decade}"), CultureInfo.InvariantCulture);
                double rho = DecisionAmplification(a, LinearAlgebra.TikhonovCorrection(svd, lambda), n);
                if (rho <= cap) return (lambda, rho);
                if (rho < bestRho) { bestRho = rho; bestLambda = lambda; }
            }
        return (bestLambda, bestRho);
    }

    /// <summary>Four decimals, or scientific notation for small nonzero magnitudes (det = 1e-10 must not print as 0).</summary>
    private static string F(double x)
    {
        if (double.IsPositiveInfinity(x)) return "∞";
        if (x != 0 && Math.Abs(x) < 1e-3) return x.ToString("0.###E+0", CultureInfo.InvariantCulture);
        return x.ToString("0.####", CultureInfo.InvariantCulture);
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
