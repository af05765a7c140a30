namespace MLNet.NoisySeg.Evaluation;

/// <summary>
/// Quality of binary segmentation masks (foreground = 1) against ground truth: the paper's metrics
/// (IoU, Dice, accuracy, sensitivity, specificity, precision, AUC) computed at pixel level over the
/// whole set, the confusion counts they come from, and per-image means of Dice and IoU. Immutable;
/// produced by <see cref="BinarySegmentationEvaluator.GetMetrics"/>.
/// </summary>
/// <remarks>
/// <para>Pixels whose truth is the ignore index are never counted.</para>
/// <para>
/// Empty cases (the convention, like sklearn's <c>zero_division</c>, is chosen per metric):
/// <list type="bullet">
/// <item>No scored pixel at all: every ratio is <see cref="double.NaN"/>.</item>
/// <item><see cref="IoU"/> and <see cref="Dice"/>: 1 when neither the truth nor the prediction has any
/// foreground pixel (perfect agreement on "nothing there"), the same rule as per image.</item>
/// <item><see cref="Sensitivity"/>: NaN without foreground truth; <see cref="Specificity"/>: NaN without
/// background truth; <see cref="Precision"/>: NaN without predicted foreground.</item>
/// <item><see cref="Auc"/>: NaN when no probabilities were given or the truth has a single class
/// (sklearn raises an error there).</item>
/// <item><see cref="PerImageMeanDice"/> / <see cref="PerImageMeanIoU"/>: an image with no foreground
/// in truth and prediction scores 1; images with no scored pixel are left out of the mean; NaN when
/// no image counted.</item>
/// </list>
/// </para>
/// </remarks>
public sealed class BinarySegmentationMetrics
{
    internal BinarySegmentationMetrics(long truePositives, long falsePositives, long trueNegatives, long falseNegatives,
        int imageCount, double perImageMeanDice, double perImageMeanIoU, double auc, double aucApproximationBound)
    {
        TruePositives = truePositives;
        FalsePositives = falsePositives;
        TrueNegatives = trueNegatives;
        FalseNegatives = falseNegatives;
        PixelCount = truePositives + falsePositives + trueNegatives + falseNegatives;
        ImageCount = imageCount;
        PerImageMeanDice = perImageMeanDice;
        PerImageMeanIoU = perImageMeanIoU;
        Auc = auc;
        AucApproximationBound = aucApproximationBound;

        long union = truePositives + falsePositives + falseNegatives;
        bool any = PixelCount > 0;
        IoU = !any ? double.NaN : union == 0 ? 1.0 : (double)truePositives / union;
        Dice = !any ? double.NaN : union == 0 ? 1.0 : 2.0 * truePositives / (2.0 * truePositives + falsePositives + falseNegatives);
        Accuracy = Ratio(truePositives + trueNegatives, PixelCount);
        Sensitivity = Ratio(truePositives, truePositives + falseNegatives);
        Specificity = Ratio(trueNegatives, trueNegatives + falsePositives);
        Precision = Ratio(truePositives, truePositives + falsePositives);
    }

    private static double Ratio(long numerator, long denominator)
        => denominator == 0 ? double.NaN : (double)numerator / denominator;

    /// <summary>Foreground pixels predicted foreground.</summary>
    public long TruePositives { get; }

    /// <summary>Background pixels predicted foreground.</summary>
    public long FalsePositives { get; }

    /// <summary>Background pixels predicted background.</summary>
    public long TrueNegatives { get; }

    /// <summary>Foreground pixels predicted background.</summary>
    public long FalseNegatives { get; }

    /// <summary>Scored pixels (ignored pixels excluded) = TP + FP + TN + FN.</summary>
    public long PixelCount { get; }

    /// <summary>Images with at least one scored pixel (the images behind the per-image means).</summary>
    public int ImageCount { get; }

    /// <summary>Intersection over union (Jaccard) of the foreground over the set: TP / (TP + FP + FN).</summary>
    public double IoU { get; }

    /// <summary>Dice coefficient (F1 score) over the set: 2TP / (2TP + FP + FN).</summary>
    public double Dice { get; }

    /// <summary>(TP + TN) / PixelCount.</summary>
    public double Accuracy { get; }

    /// <summary>Sensitivity (recall, true positive rate): TP / (TP + FN).</summary>
    public double Sensitivity { get; }

    /// <summary>Specificity (true negative rate): TN / (TN + FP).</summary>
    public double Specificity { get; }

    /// <summary>Precision (positive predictive value): TP / (TP + FP).</summary>
    public double Precision { get; }

    /// <summary>
    /// Area under the ROC curve of the foreground probabilities over all scored pixels, with ties
    /// handled like sklearn's <c>roc_auc_score</c> (a tied positive/negative pair counts 1/2).
    /// </summary>
    public double Auc { get; }

    /// <summary>
    /// 0 when <see cref="Auc"/> is exact; in histogram mode the largest possible distance between
    /// <see cref="Auc"/> and the exact value (half the fraction of positive/negative pairs that share a bin).
    /// </summary>
    public double AucApproximationBound { get; }

    /// <summary>Mean over images of the per-image Dice.</summary>
    public double PerImageMeanDice { get; }

    /// <summary>Mean over images of the per-image IoU.</summary>
    public double PerImageMeanIoU { get; }

    /// <inheritdoc />
    public override string ToString() => FormattableString.Invariant(
        $"IoU={IoU:0.####} Dice={Dice:0.####} Acc={Accuracy:0.####} Sens={Sensitivity:0.####} Spec={Specificity:0.####} Prec={Precision:0.####} AUC={Auc:0.####} meanDice={PerImageMeanDice:0.####} meanIoU={PerImageMeanIoU:0.####} (TP={TruePositives} FP={FalsePositives} TN={TrueNegatives} FN={FalseNegatives}, {ImageCount} images)");
}
