using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using MLNet.NoisySeg.Core;

namespace MLNet.NoisySeg.Decoding;

/// <summary>The kinds of <see cref="DecodingRule"/>.</summary>
public enum DecodingRuleKind
{
    /// <summary>Binary: foreground where p &gt; t, or where p &lt; t when inverted.</summary>
    Threshold,

    /// <summary>The class with the largest probability (binary: foreground where p &gt; 0.5).</summary>
    Argmax,

    /// <summary>Correct the posteriors with the inverse noise matrix (exact, or Tikhonov-regularised when
    /// <see cref="DecodingRule.Regularization"/> &gt; 0), then argmax.</summary>
    InverseNtm,
}

/// <summary>
/// How a network's probability maps become a mask. Immutable and serialisable: <see cref="ToString"/>
/// gives a compact invariant-culture form that <see cref="Parse"/> reads back exactly, and
/// System.Text.Json writes the rule as that string.
/// </summary>
/// <remarks>
/// <para>
/// Probability layout for <see cref="Decode"/>: planar [K, H, W] floats, K = <c>classCount</c> planes of
/// H x W row-major values. Binary (sigmoid) networks use K = 1, the single plane holding the foreground
/// probability p; softmax networks use K = number of classes (K = 2 is accepted by the binary rules,
/// which then read plane 1 as the foreground).
/// </para>
/// <para>String forms: <c>threshold(0.5)</c>, <c>threshold(0.1, inverted)</c>, <c>argmax</c>,
/// <c>inverse-ntm([[0.9, 0.1], [0.2, 0.8]])</c> (rows = true classes),
/// <c>inverse-ntm([[0.9, 0.1], [0.2, 0.8]], tikhonov=0.0025)</c>.</para>
/// <para>
/// Inverse-NTM math (Luo et al., AAAI 2022): with Q[j, m] = P(noisy = m | true = j), a network
/// trained on noisy labels estimates the noisy posterior p_noisy = Qᵀ p_clean. The clean posterior is
/// recovered as p_clean ∝ max(0, solve(Qᵀ, p_noisy)) (negative components clipped to 0), and the
/// mask is its argmax. For K = 1 with a 2x2 Q the noisy posterior is (1 - p, p). Ties in every argmax go
/// to the lowest class index.
/// </para>
/// <para>
/// When Q is class sampling to a background class b (row b = e_b; every other row j keeps j with a rate
/// s_j &gt; 0 and otherwise goes to b), the exact inverse is evaluated in closed form, O(C) per pixel:
/// p_clean(j) = p_noisy(j) / s_j for j ≠ b and p_clean(b) = p_noisy(b) - Σ_{j≠b} (1 - s_j) / s_j · p_noisy(j).
/// This is the same rule as the general inverse (which this Q has, with det = Π s_j, however small).
/// </para>
/// <para>
/// Tikhonov-regularised inverse (<see cref="InverseNtm(NoiseTransitionMatrix, double)"/> with λ &gt; 0): the
/// corrected posterior is argmin_x ‖Qᵀx - p_noisy‖² + λ‖x‖² = (Q Qᵀ + λI)⁻¹ Q p_noisy, computed once through the
/// SVD Q = U S Vᵀ as U diag(σ / (σ² + λ)) Vᵀ; no singular direction is amplified more than 1 / (2 sqrt(λ)).
/// It also exists for a singular Q. Negative components are clipped and the argmax taken as above.
/// <see cref="NoiseAwareDecoding"/> decides when to use which.
/// </para>
/// </remarks>
[JsonConverter(typeof(DecodingRuleJsonConverter))]
public sealed record DecodingRule
{
    // Inverse-NTM state, built once: the row-major correction matrix (exact (Qᵀ)⁻¹ or Tikhonov), or the
    // background class and keep rates of the class-sampling closed form (then _correction stays null).
    private double[]? _correction;
    private int _backgroundClass = -1;
    private double[]? _keepRates;

    private DecodingRule(DecodingRuleKind kind, double threshold, bool inverted, NoiseTransitionMatrix? noiseMatrix, double regularization = double.NaN)
    {
        Kind = kind;
        Threshold = threshold;
        Inverted = inverted;
        NoiseMatrix = noiseMatrix;
        Regularization = regularization;
    }

    /// <summary>The kind of rule.</summary>
    public DecodingRuleKind Kind { get; }

    /// <summary>The threshold on the foreground probability p (<see cref="DecodingRuleKind.Threshold"/>); NaN otherwise.</summary>
    public double Threshold { get; }

    /// <summary>
    /// True when foreground is predicted where p &lt; <see cref="Threshold"/>: the paper's inverted map 1 - p
    /// thresholded at 1 - <see cref="Threshold"/> (a network trained with flipping f + b &gt; 1 learns the inverted map).
    /// </summary>
    public bool Inverted { get; }

    /// <summary>Q for <see cref="DecodingRuleKind.InverseNtm"/>; null otherwise.</summary>
    public NoiseTransitionMatrix? NoiseMatrix { get; }

    /// <summary>
    /// The Tikhonov parameter λ of an <see cref="DecodingRuleKind.InverseNtm"/> rule: 0 for the exact inverse,
    /// &gt; 0 for the regularised one; NaN for the other kinds.
    /// </summary>
    public double Regularization { get; }

    /// <summary>True when this exact inverse-NTM rule runs the closed form of class sampling to a background class.</summary>
    internal bool UsesClosedForm => _backgroundClass >= 0;

    /// <summary>The naive rule: foreground where p &gt; 0.5.</summary>
    public static DecodingRule FixedThreshold { get; } = new(DecodingRuleKind.Threshold, 0.5, false, null);

    /// <summary>Argmax over the class planes (binary K = 1: foreground where p &gt; 0.5).</summary>
    public static DecodingRule Argmax { get; } = new(DecodingRuleKind.Argmax, double.NaN, false, null);

    /// <summary>A binary threshold rule.</summary>
    /// <param name="threshold">Threshold on the foreground probability; any finite number.</param>
    /// <param name="inverted">Predict foreground where p &lt; threshold instead of p &gt; threshold.</param>
    public static DecodingRule AtThreshold(double threshold, bool inverted = false)
    {
        if (!double.IsFinite(threshold))
            throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "threshold must be a finite number.");
        return new(DecodingRuleKind.Threshold, threshold, inverted, null);
    }

    /// <summary>The exact inverse-NTM correction followed by argmax (closed form for class sampling to a background class).</summary>
    /// <param name="noiseMatrix">Q, known (simulated noise) or estimated (<see cref="LabelFreeDecoder.EstimateLevels"/>).</param>
    /// <exception cref="InvalidOperationException">Q is singular.</exception>
    /// <remarks>Whether the exact inverse is the right rule for a given Q is decided by
    /// <see cref="NoiseAwareDecoding.ChooseRule(NoiseTransitionMatrix, NoiseMatrixSource, NoiseAwareDecodingOptions?)"/>.</remarks>
    public static DecodingRule InverseNtm(NoiseTransitionMatrix noiseMatrix) => InverseNtm(noiseMatrix, 0);

    /// <summary>The inverse-NTM correction, exact (λ = 0) or Tikhonov-regularised (λ &gt; 0), followed by argmax.</summary>
    /// <param name="noiseMatrix">Q, known (simulated noise) or estimated (<see cref="LabelFreeDecoder.EstimateLevels"/>).</param>
    /// <param name="regularization">Tikhonov λ ≥ 0 (finite). Q is stochastic, so its largest singular value is at least 1 and
    /// λ is on the scale of σ²: λ = 0.0025 caps every singular direction's gain at 10.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="regularization"/> is negative or not finite.</exception>
    /// <exception cref="InvalidOperationException"><paramref name="regularization"/> is 0 and Q is singular.</exception>
    public static DecodingRule InverseNtm(NoiseTransitionMatrix noiseMatrix, double regularization)
    {
        ArgumentNullException.ThrowIfNull(noiseMatrix);
        if (!double.IsFinite(regularization) || regularization < 0)
            throw new ArgumentOutOfRangeException(nameof(regularization), regularization, "regularization must be a finite number ≥ 0.");
        var rule = new DecodingRule(DecodingRuleKind.InverseNtm, double.NaN, false, noiseMatrix, regularization);
        if (regularization > 0)
        {
            rule._correction = LinearAlgebra.TikhonovCorrection(
                LinearAlgebra.SingularValueDecomposition(LinearAlgebra.ToRowMajor(noiseMatrix), noiseMatrix.ClassCount), regularization);
        }
        else if (NoiseAwareDecoding.TryGetBackgroundSampling(noiseMatrix, out int background, out double[] rates))
        {
            rule._backgroundClass = background;
            rule._keepRates = rates;
        }
        else
        {
            rule._correction = LinearAlgebra.InverseTranspose(noiseMatrix);
        }
        return rule;
    }

    /// <summary>Decodes one image.</summary>
    /// <param name="probabilities">Planar [K, H, W] probabilities, K = <paramref name="classCount"/>; no NaN.</param>
    /// <param name="classCount">K, the number of planes: 1 for a binary sigmoid output, else the number of classes.</param>
    /// <param name="mask">Receives H x W class indices (binary: 0/1).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classCount"/> is below 1 or above 255.</exception>
    /// <exception cref="ArgumentException">Lengths do not match, the mask is empty, a probability is NaN, or the
    /// rule does not fit <paramref name="classCount"/> (a threshold needs K = 1 or 2; inverse-NTM needs K = Q's size, or K = 1 with a 2x2 Q).</exception>
    public void Decode(ReadOnlySpan<float> probabilities, int classCount, Span<byte> mask)
    {
        if (classCount < 1 || classCount > MaskConventions.MaxClassCount)
            throw new ArgumentOutOfRangeException(nameof(classCount), classCount, $"classCount must be in [1, {MaskConventions.MaxClassCount}].");
        if (mask.IsEmpty)
            throw new ArgumentException("mask must have at least one pixel.", nameof(mask));
        if ((long)mask.Length * classCount != probabilities.Length)
            throw new ArgumentException(
                $"probabilities has {probabilities.Length} values but classCount x mask pixels = {classCount} x {mask.Length} = {(long)mask.Length * classCount}.",
                nameof(probabilities));
        for (int i = 0; i < probabilities.Length; i++)
            if (float.IsNaN(probabilities[i]))
                throw new ArgumentException($"probabilities[{i}] is NaN.", nameof(probabilities));

        int n = mask.Length;
        switch (Kind)
        {
            case DecodingRuleKind.Threshold:
                if (classCount > 2)
                    throw new ArgumentException($"A threshold rule decodes binary outputs (classCount 1 or 2); got {classCount}.", nameof(classCount));
                DecodeThreshold(probabilities.Slice((classCount - 1) * n, n), Threshold, Inverted, mask);
                break;
            case DecodingRuleKind.Argmax:
                if (classCount == 1) DecodeThreshold(probabilities, 0.5, false, mask);
                else DecodeArgmax(probabilities, classCount, mask);
                break;
            default:
                DecodeInverseNtm(probabilities, classCount, mask);
                break;
        }
    }

    private static void DecodeThreshold(ReadOnlySpan<float> p, double t, bool inverted, Span<byte> mask)
    {
        if (inverted)
            for (int i = 0; i < mask.Length; i++) mask[i] = p[i] < t ? (byte)1 : (byte)0;
        else
            for (int i = 0; i < mask.Length; i++) mask[i] = p[i] > t ? (byte)1 : (byte)0;
    }

    private static void DecodeArgmax(ReadOnlySpan<float> p, int k, Span<byte> mask)
    {
        int n = mask.Length;
        var best = p.Slice(0, n);
        mask.Clear();
        float[] bestValues = best.ToArray();
        for (int c = 1; c < k; c++)
        {
            var plane = p.Slice(c * n, n);
            for (int i = 0; i < n; i++)
                if (plane[i] > bestValues[i]) { bestValues[i] = plane[i]; mask[i] = (byte)c; }
        }
    }

    private void DecodeInverseNtm(ReadOnlySpan<float> p, int k, Span<byte> mask)
    {
        var q = NoiseMatrix!;
        int c = q.ClassCount;
        if (!(k == c || (k == 1 && c == 2)))
            throw new ArgumentException($"The {c}x{c} noise matrix needs classCount = {c}{(c == 2 ? " or 1" : "")}; got {k}.", "classCount");
        int n = mask.Length;
        Span<double> noisy = c <= 64 ? stackalloc double[c] : new double[c];
        int b = _backgroundClass;
        double[]? m = _correction;
        double[]? rates = _keepRates;
        for (int i = 0; i < n; i++)
        {
            if (k == 1) { noisy[1] = p[i]; noisy[0] = 1.0 - p[i]; }
            else for (int j = 0; j < c; j++) noisy[j] = p[j * n + i];
            int arg = 0; double best = double.NegativeInfinity;
            if (b >= 0)
            {
                // Closed form of class sampling to background b.
                double vb = noisy[b];
                for (int j = 0; j < c; j++)
                    if (j != b) vb -= (1 - rates![j]) / rates[j] * noisy[j];
                for (int j = 0; j < c; j++)
                {
                    double v = j == b ? vb : noisy[j] / rates![j];
                    if (v < 0) v = 0;
                    if (v > best) { best = v; arg = j; }
                }
            }
            else
            {
                for (int j = 0; j < c; j++)
                {
                    double v = 0;
                    for (int l = 0; l < c; l++) v += m![j * c + l] * noisy[l];
                    if (v < 0) v = 0;
                    if (v > best) { best = v; arg = j; }
                }
            }
            mask[i] = (byte)arg;
        }
    }

    /// <summary>Compact invariant-culture form, e.g. <c>threshold(0.1, inverted)</c>; round-trips through <see cref="Parse"/>.</summary>
    public override string ToString()
    {
        var ci = CultureInfo.InvariantCulture;
        switch (Kind)
        {
            case DecodingRuleKind.Threshold:
                return Inverted ? $"threshold({Threshold.ToString("R", ci)}, inverted)" : $"threshold({Threshold.ToString("R", ci)})";
            case DecodingRuleKind.Argmax:
                return "argmax";
            default:
                var q = NoiseMatrix!;
                var sb = new StringBuilder("inverse-ntm([");
                for (int j = 0; j < q.ClassCount; j++)
                {
                    if (j > 0) sb.Append(", ");
                    sb.Append('[');
                    for (int m = 0; m < q.ClassCount; m++)
                    {
                        if (m > 0) sb.Append(", ");
                        sb.Append(q[j, m].ToString("R", ci));
                    }
                    sb.Append(']');
                }
                sb.Append(']');
                if (Regularization > 0) sb.Append(", tikhonov=").Append(Regularization.ToString("R", ci));
                return sb.Append(')').ToString();
        }
    }

    /// <summary>Reads the form written by <see cref="ToString"/> (case and spaces do not matter).</summary>
    /// <param name="text">e.g. <c>threshold(0.5)</c>, <c>argmax</c>, <c>inverse-ntm([[1, 0], [0, 1]])</c>,
    /// <c>inverse-ntm([[1, 0], [0, 1]], tikhonov=0.01)</c>.</param>
    /// <exception cref="FormatException">Not a rule.</exception>
    public static DecodingRule Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (TryParse(text, out var rule, out string? error)) return rule!;
        throw new FormatException($"'{text}' is not a decoding rule: {error}");
    }

    /// <summary>Tries to read the form written by <see cref="ToString"/>.</summary>
    /// <param name="text">The text.</param>
    /// <param name="rule">The rule, or null on failure.</param>
    public static bool TryParse(string? text, out DecodingRule? rule) => TryParse(text, out rule, out _);

    private static bool TryParse(string? text, out DecodingRule? rule, out string? error)
    {
        rule = null;
        error = null;
        if (text is null) { error = "null"; return false; }
        string s = string.Concat(text.Where(ch => !char.IsWhiteSpace(ch))).ToLowerInvariant();
        var ci = CultureInfo.InvariantCulture;
        if (s == "argmax") { rule = Argmax; return true; }
        if (s.StartsWith("threshold(", StringComparison.Ordinal) && s.EndsWith(')'))
        {
            string[] parts = s["threshold(".Length..^1].Split(',');
            bool inverted = false;
            if (parts.Length == 2)
            {
                if (parts[1] != "inverted") { error = "expected 'inverted' after the threshold"; return false; }
                inverted = true;
            }
            else if (parts.Length != 1) { error = "expected threshold(t) or threshold(t, inverted)"; return false; }
            if (!double.TryParse(parts[0], NumberStyles.Float, ci, out double t) || !double.IsFinite(t))
            { error = $"'{parts[0]}' is not a finite number"; return false; }
            rule = AtThreshold(t, inverted);
            return true;
        }
        if (s.StartsWith("inverse-ntm([[", StringComparison.Ordinal) && s.EndsWith(')') && s.LastIndexOf("]]", StringComparison.Ordinal) is int close and > 0)
        {
            string body = s["inverse-ntm([[".Length..close];
            string tail = s[(close + 2)..^1];
            double lambda = 0;
            if (tail.Length > 0)
            {
                const string key = ",tikhonov=";
                if (!tail.StartsWith(key, StringComparison.Ordinal)
                    || !double.TryParse(tail[key.Length..], NumberStyles.Float, ci, out lambda) || !double.IsFinite(lambda) || lambda < 0)
                { error = "expected inverse-ntm([[...]]) or inverse-ntm([[...]], tikhonov=λ) with a finite λ ≥ 0"; return false; }
            }
            string[] rows = body.Split("],[");
            int c = rows.Length;
            var q = new double[c, c];
            for (int j = 0; j < c; j++)
            {
                string[] cells = rows[j].Split(',');
                if (cells.Length != c) { error = $"row {j} has {cells.Length} entries, expected {c}"; return false; }
                for (int m = 0; m < c; m++)
                    if (!double.TryParse(cells[m], NumberStyles.Float, ci, out q[j, m])) { error = $"'{cells[m]}' is not a number"; return false; }
            }
            try { rule = InverseNtm(new NoiseTransitionMatrix(q), lambda); }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException) { error = e.Message; return false; }
            return true;
        }
        error = "expected threshold(...), argmax or inverse-ntm(...)";
        return false;
    }

    /// <summary>Rules are equal when kind, threshold, orientation, regularisation and every entry of Q are equal.</summary>
    /// <param name="other">The other rule.</param>
    public bool Equals(DecodingRule? other)
    {
        if (other is null) return false;
        if (ReferenceEquals(this, other)) return true;
        if (Kind != other.Kind || Inverted != other.Inverted || !Threshold.Equals(other.Threshold) || !Regularization.Equals(other.Regularization)) return false;
        if (NoiseMatrix is null || other.NoiseMatrix is null) return NoiseMatrix is null && other.NoiseMatrix is null;
        if (NoiseMatrix.ClassCount != other.NoiseMatrix.ClassCount) return false;
        for (int j = 0; j < NoiseMatrix.ClassCount; j++)
            for (int m = 0; m < NoiseMatrix.ClassCount; m++)
                if (!NoiseMatrix[j, m].Equals(other.NoiseMatrix[j, m])) return false;
        return true;
    }

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(Kind); h.Add(Threshold); h.Add(Inverted); h.Add(Regularization);
        if (NoiseMatrix is not null)
            for (int j = 0; j < NoiseMatrix.ClassCount; j++)
                for (int m = 0; m < NoiseMatrix.ClassCount; m++)
                    h.Add(NoiseMatrix[j, m]);
        return h.ToHashCode();
    }
}

/// <summary>Writes a <see cref="DecodingRule"/> as its compact string form.</summary>
public sealed class DecodingRuleJsonConverter : JsonConverter<DecodingRule>
{
    /// <inheritdoc />
    public override DecodingRule? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        string? text = reader.GetString();
        if (text is null) return null;
        try { return DecodingRule.Parse(text); }
        catch (FormatException e) { throw new JsonException(e.Message, e); }
    }

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, DecodingRule value, JsonSerializerOptions options)
        => writer.WriteStringValue(value.ToString());
}
