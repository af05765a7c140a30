using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.NoisySeg.Losses;

/// <summary>The training objective of a segmentation network.</summary>
public enum LossKind
{
    /// <summary>Binary cross-entropy with logits (1 output channel). The paper's loss.</summary>
    Bce,

    /// <summary>Multi-class cross-entropy (K &gt;= 2 output channels).</summary>
    CrossEntropy,

    /// <summary>Soft Dice alone (binary: on the sigmoid; multi-class: on the softmax against one-hot targets).</summary>
    Dice,

    /// <summary>Soft-IoU alone (binary or multi-class like <see cref="Dice"/>).</summary>
    SoftIoU,

    /// <summary>BCE + SecondaryWeight x soft-IoU (binary).</summary>
    BceSoftIoU,

    /// <summary>BCE + SecondaryWeight x Dice (binary).</summary>
    BceDice,

    /// <summary>Cross-entropy + SecondaryWeight x Dice (multi-class).</summary>
    CrossEntropyDice,

    /// <summary>DMI + SecondaryWeight x soft-IoU (binary; iGTT pseudo-label training).</summary>
    DmiSoftIoU,
}

/// <summary>Dispatches a <see cref="LossKind"/> on network logits and an integer mask.</summary>
public static class SegmentationLoss
{
    /// <summary>True if <paramref name="kind"/> can train a network with <paramref name="outputChannels"/> outputs.</summary>
    /// <param name="kind">The loss.</param>
    /// <param name="outputChannels">1 (binary) or K &gt;= 2 (multi-class).</param>
    public static bool Supports(LossKind kind, int outputChannels) => kind switch
    {
        LossKind.Bce or LossKind.BceSoftIoU or LossKind.BceDice or LossKind.DmiSoftIoU => outputChannels == 1,
        LossKind.CrossEntropy or LossKind.CrossEntropyDice => outputChannels >= 2,
        LossKind.Dice or LossKind.SoftIoU => outputChannels >= 1,
        _ => false,
    };

    /// <summary>The scalar loss of <paramref name="kind"/>.</summary>
    /// <param name="kind">The loss.</param>
    /// <param name="logits">[N, K, H, W] network output.</param>
    /// <param name="mask">[N, H, W] class indices (binary: 0/1), <paramref name="ignoreIndex"/> for ignored pixels.</param>
    /// <param name="ignoreIndex">Mask value to ignore.</param>
    /// <param name="secondaryWeight">Weight of the second term of combined losses.</param>
    public static Tensor Compute(LossKind kind, Tensor logits, Tensor mask, int ignoreIndex = SegmentationLosses.DefaultIgnoreIndex, double secondaryWeight = 1.0)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(mask);
        if (logits.dim() != 4) throw new ArgumentException("logits must be [N, K, H, W].", nameof(logits));
        int k = (int)logits.shape[1];
        if (!Supports(kind, k))
            throw new ArgumentException($"Loss {kind} does not support {k} output channel(s).", nameof(kind));

        using var scope = NewDisposeScope();
        using Scalar ignore = ignoreIndex.ToScalar(); // held alive for libtorch (see LiveScalars)
        Tensor result;
        if (k == 1)
        {
            Tensor z = logits.squeeze(1);
            Tensor valid = mask.ne(ignore).to(z.dtype);
            Tensor y = mask.to(z.dtype).mul(valid);
            Tensor p = z.sigmoid();
            result = kind switch
            {
                LossKind.Bce => SegmentationLosses.BceWithLogits(z, mask, ignoreIndex),
                LossKind.Dice => SegmentationLosses.Dice(p, y, valid),
                LossKind.SoftIoU => SegmentationLosses.SoftIoU(p, y, valid),
                LossKind.BceSoftIoU => SegmentationLosses.Combined((1.0, SegmentationLosses.BceWithLogits(z, mask, ignoreIndex)), (secondaryWeight, SegmentationLosses.SoftIoU(p, y, valid))),
                LossKind.BceDice => SegmentationLosses.Combined((1.0, SegmentationLosses.BceWithLogits(z, mask, ignoreIndex)), (secondaryWeight, SegmentationLosses.Dice(p, y, valid))),
                LossKind.DmiSoftIoU => SegmentationLosses.Combined((1.0, SegmentationLosses.Dmi(p, y, valid)), (secondaryWeight, SegmentationLosses.SoftIoU(p, y, valid))),
                _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
            };
        }
        else
        {
            Tensor valid = mask.ne(ignore).unsqueeze(1).to(logits.dtype);
            Tensor probs = logits.softmax(1);
            Tensor oh = SegmentationLosses.OneHot(mask, k, logits.dtype, ignoreIndex);
            result = kind switch
            {
                LossKind.CrossEntropy => SegmentationLosses.CrossEntropy(logits, mask, ignoreIndex),
                LossKind.Dice => SegmentationLosses.Dice(probs, oh, valid),
                LossKind.SoftIoU => SegmentationLosses.SoftIoU(probs, oh, valid),
                LossKind.CrossEntropyDice => SegmentationLosses.Combined((1.0, SegmentationLosses.CrossEntropy(logits, mask, ignoreIndex)), (secondaryWeight, SegmentationLosses.Dice(probs, oh, valid))),
                _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
            };
        }
        return result.MoveToOuterDisposeScope();
    }
}
