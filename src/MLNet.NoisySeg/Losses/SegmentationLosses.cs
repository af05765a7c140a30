using MLNet.NoisySeg.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.NoisySeg.Losses;

/// <summary>
/// Segmentation losses on logits or probabilities, each usable on its own. Masks are integer class-index tensors
/// (any integer dtype, e.g. uint8 straight from <c>byte[]</c> masks) in which <c>ignoreIndex</c> (255 by convention)
/// marks pixels that contribute nothing. All functions return a scalar tensor that is differentiable w.r.t. the
/// network output and work in float32 or float64. Every number reaches libtorch as a scalar held alive for the call
/// (<see cref="LiveScalars"/>).
/// </summary>
public static class SegmentationLosses
{
    /// <summary>Default ignore value (<see cref="Core.MaskConventions.IgnoreIndex"/>).</summary>
    public const int DefaultIgnoreIndex = Core.MaskConventions.IgnoreIndex;

    /// <summary>
    /// Binary cross-entropy with logits, averaged over the non-ignored pixels (0 when every pixel is ignored).
    /// </summary>
    /// <param name="logits">Foreground logits, [N, 1, H, W] or [N, H, W].</param>
    /// <param name="mask">Binary mask 0/1 (or <paramref name="ignoreIndex"/>), [N, H, W] or [N, 1, H, W].</param>
    /// <param name="ignoreIndex">Mask value to ignore.</param>
    public static Tensor BceWithLogits(Tensor logits, Tensor mask, int ignoreIndex = DefaultIgnoreIndex)
    {
        using var scope = NewDisposeScope();
        Tensor z = Squeeze1(logits, nameof(logits));
        Tensor m = Squeeze1(mask, nameof(mask));
        CheckSameShape(z, m);
        using Scalar ignore = ignoreIndex.ToScalar();
        Tensor valid = m.ne(ignore).to(z.dtype);
        Tensor y = m.to(z.dtype).mul(valid);
        Tensor perPixel = nn.functional.binary_cross_entropy_with_logits(z, y, reduction: nn.Reduction.None);
        return perPixel.mul(valid).sum().div(valid.sum().clamp_min(LiveScalars.OneDouble)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Multi-class cross-entropy with an ignore index, averaged over the non-ignored pixels (0 when all are ignored).
    /// </summary>
    /// <param name="logits">Class logits [N, K, H, W].</param>
    /// <param name="mask">Class indices in [0, K) or <paramref name="ignoreIndex"/>, [N, H, W].</param>
    /// <param name="ignoreIndex">Mask value to ignore.</param>
    public static Tensor CrossEntropy(Tensor logits, Tensor mask, int ignoreIndex = DefaultIgnoreIndex)
    {
        using var scope = NewDisposeScope();
        if (logits.dim() != 4) throw new ArgumentException("logits must be [N, K, H, W].", nameof(logits));
        Tensor m = mask.dim() == 4 ? mask.squeeze(1) : mask;
        if (m.dim() != 3 || m.shape[0] != logits.shape[0] || m.shape[1] != logits.shape[2] || m.shape[2] != logits.shape[3])
            throw new ArgumentException($"mask must be [N, H, W] matching logits [{string.Join(", ", logits.shape)}].", nameof(mask));
        Tensor target = m.to(ScalarType.Int64);
        Tensor perPixel = nn.functional.cross_entropy(logits, target, ignore_index: ignoreIndex, reduction: nn.Reduction.None);
        using Scalar ignore = ignoreIndex.ToScalar();
        Tensor count = target.ne(ignore).sum().to(logits.dtype).clamp_min(LiveScalars.OneDouble);
        return perPixel.sum().div(count).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Soft-IoU (Jaccard) loss of the paper's unsupervised method: 1 - sum(p*y) / (sum(p^2 + y - p*y) + eps), summed over every element
    /// where <paramref name="weight"/> is non-zero.
    /// </summary>
    /// <param name="probabilities">Probabilities p in [0, 1].</param>
    /// <param name="targets">Targets y in [0, 1] (hard or soft), same shape.</param>
    /// <param name="weight">Optional per-element weight broadcastable to the shape (e.g. 0 on ignored pixels).</param>
    /// <param name="eps">Stabiliser in the denominator.</param>
    public static Tensor SoftIoU(Tensor probabilities, Tensor targets, Tensor? weight = null, double eps = 1e-6)
    {
        using var scope = NewDisposeScope();
        CheckSameShape(probabilities, targets);
        Tensor p = probabilities, y = targets.to(p.dtype);
        Tensor py = p.mul(y);
        Tensor den = p.mul(p).add(y, LiveScalars.One).sub(py);
        if (weight is not null) { Tensor w = weight.to(p.dtype); py = py.mul(w); den = den.mul(w); }
        using Scalar e = eps.ToScalar();
        return py.sum().div(den.sum().add(e, LiveScalars.One)).neg().add(LiveScalars.OneDouble, LiveScalars.One).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Soft Dice loss: 1 - (2 sum(p*y) + smooth) / (sum(p) + sum(y) + smooth), summed over every element where
    /// <paramref name="weight"/> is non-zero. <paramref name="smooth"/> = 1 keeps empty masks from giving 0/0.
    /// </summary>
    /// <param name="probabilities">Probabilities p in [0, 1].</param>
    /// <param name="targets">Targets y in [0, 1], same shape.</param>
    /// <param name="weight">Optional per-element weight broadcastable to the shape.</param>
    /// <param name="smooth">Additive smoothing in numerator and denominator.</param>
    public static Tensor Dice(Tensor probabilities, Tensor targets, Tensor? weight = null, double smooth = 1.0)
    {
        using var scope = NewDisposeScope();
        CheckSameShape(probabilities, targets);
        Tensor p = probabilities, y = targets.to(p.dtype);
        Tensor py = p.mul(y), sum = p.add(y, LiveScalars.One);
        if (weight is not null) { Tensor w = weight.to(p.dtype); py = py.mul(w); sum = sum.mul(w); }
        using Scalar s = smooth.ToScalar();
        return py.sum().mul(LiveScalars.TwoDouble).add(s, LiveScalars.One).div(sum.sum().add(s, LiveScalars.One)).neg().add(LiveScalars.OneDouble, LiveScalars.One).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Binary DMI loss (Xu et al., NeurIPS 2019; used by iGTT): -log(|det U| + eps) with the 2x2 joint matrix
    /// U = P_stack · S_stackᵀ / n, P_stack = (p, 1-p), S_stack = (s, 1-s) over the n pixels with non-zero weight.
    /// U[0,0] = Σ p s / n, U[0,1] = Σ p (1-s) / n, U[1,0] = Σ (1-p) s / n, U[1,1] = Σ (1-p)(1-s) / n.
    /// </summary>
    /// <param name="probabilities">Foreground probabilities p.</param>
    /// <param name="labels">(Pseudo-)labels s in [0, 1], same shape.</param>
    /// <param name="weight">Optional per-element weight (0 excludes a pixel); n is its sum.</param>
    /// <param name="eps">Added to |det U| before the log; Xu et al.'s code uses 1e-3. Use 0 for the exact value.</param>
    public static Tensor Dmi(Tensor probabilities, Tensor labels, Tensor? weight = null, double eps = 1e-3)
    {
        using var scope = NewDisposeScope();
        Tensor u = DmiJointMatrix(probabilities, labels, weight);
        Tensor det = u[0, 0].mul(u[1, 1]).sub(u[0, 1].mul(u[1, 0]));
        using Scalar e = eps.ToScalar();
        return det.abs().add(e, LiveScalars.One).log().neg().MoveToOuterDisposeScope();
    }

    /// <summary>The 2x2 joint matrix U of <see cref="Dmi"/> (rows: p, 1-p; columns: s, 1-s), normalised by the pixel count.</summary>
    /// <param name="probabilities">Foreground probabilities p.</param>
    /// <param name="labels">Labels s in [0, 1], same shape.</param>
    /// <param name="weight">Optional per-element weight (0 excludes a pixel).</param>
    public static Tensor DmiJointMatrix(Tensor probabilities, Tensor labels, Tensor? weight = null)
    {
        using var scope = NewDisposeScope();
        CheckSameShape(probabilities, labels);
        Tensor p = probabilities.reshape(-1), s = labels.to(p.dtype).reshape(-1);
        Tensor w = weight is null ? ones_like(p) : weight.to(p.dtype).expand(probabilities.shape).reshape(-1);
        Tensor pw = p.mul(w), qw = p.neg().add(LiveScalars.OneDouble, LiveScalars.One).mul(w);
        Tensor pStack = stack(new[] { pw, qw });                                  // [2, n]
        Tensor sStack = stack(new[] { s, s.neg().add(LiveScalars.OneDouble, LiveScalars.One) });   // [2, n]
        using Scalar tiny = 1e-12.ToScalar();
        Tensor n = w.sum().clamp_min(tiny);
        return pStack.matmul(sStack.t()).div(n).MoveToOuterDisposeScope();
    }

    /// <summary>Weighted sum Σ wᵢ Lᵢ of scalar loss terms (terms with weight 0 are skipped).</summary>
    /// <param name="terms">(weight, scalar loss) pairs; at least one.</param>
    public static Tensor Combined(params (double Weight, Tensor Loss)[] terms)
    {
        ArgumentNullException.ThrowIfNull(terms);
        if (terms.Length == 0) throw new ArgumentException("At least one loss term is needed.", nameof(terms));
        using var scope = NewDisposeScope();
        Tensor? total = null;
        foreach (var (w, l) in terms)
        {
            if (!double.IsFinite(w)) throw new ArgumentOutOfRangeException(nameof(terms), w, "Loss weights must be finite.");
            if (w == 0) continue;
            using Scalar weight = w.ToScalar();
            Tensor t = w == 1.0 ? l : l.mul(weight);
            total = total is null ? t.alias() : total.add(t, LiveScalars.One);
        }
        total ??= terms[0].Loss.mul(LiveScalars.ZeroDouble);
        return total.MoveToOuterDisposeScope();
    }

    /// <summary>One-hot encoding [N, K, H, W] of a class-index mask [N, H, W]; ignored pixels become all zeros.</summary>
    /// <param name="mask">Class indices (any integer dtype).</param>
    /// <param name="classes">K.</param>
    /// <param name="dtype">Floating dtype of the result.</param>
    /// <param name="ignoreIndex">Mask value to ignore.</param>
    public static Tensor OneHot(Tensor mask, int classes, ScalarType dtype, int ignoreIndex = DefaultIgnoreIndex)
    {
        using var scope = NewDisposeScope();
        Tensor m = mask.to(ScalarType.Int64);
        using Scalar ignore = ignoreIndex.ToScalar();
        Tensor valid = m.ne(ignore);
        Tensor safe = m.mul(valid.to(ScalarType.Int64));
        Tensor oh = nn.functional.one_hot(safe, classes).permute(0, 3, 1, 2).to(dtype);
        return oh.mul(valid.unsqueeze(1).to(dtype)).MoveToOuterDisposeScope();
    }

    private static Tensor Squeeze1(Tensor t, string name)
    {
        ArgumentNullException.ThrowIfNull(t, name);
        if (t.dim() == 4)
        {
            if (t.shape[1] != 1) throw new ArgumentException($"{name} must be [N, 1, H, W] or [N, H, W] for a binary loss; got [{string.Join(", ", t.shape)}].", name);
            return t.squeeze(1);
        }
        return t;
    }

    private static void CheckSameShape(Tensor a, Tensor b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (!a.shape.SequenceEqual(b.shape))
            throw new ArgumentException($"Shapes differ: [{string.Join(", ", a.shape)}] vs [{string.Join(", ", b.shape)}].");
    }
}
