namespace MLNet.NoisySeg.Evaluation;

/// <summary>
/// Quality of multi-class segmentation masks against ground truth, at pixel level over the set
/// (pixel accuracy, per-class and mean IoU/Dice, frequency-weighted IoU, the confusion matrix) and
/// per image (mean of the per-image mIoU). Immutable; produced by
/// <see cref="MulticlassSegmentationEvaluator.GetMetrics"/>.
/// </summary>
/// <remarks>
/// <para>Pixels whose truth is the ignore index are never counted.</para>
/// <para>
/// A class that appears neither in the truth nor in the prediction has an undefined IoU and Dice:
/// its <see cref="PerClassIoU"/> and <see cref="PerClassDice"/> entries are <see cref="double.NaN"/>
/// and it is left out of <see cref="MeanIoU"/> and <see cref="MeanDice"/>, which average over the
/// classes present in the truth or the prediction (a class only predicted counts, with IoU 0).
/// The same rule applies per image for <see cref="PerImageMeanIoU"/>; images with no scored pixel
/// are left out. With no scored pixel at all every ratio is NaN.
/// </para>
/// </remarks>
public sealed class MulticlassSegmentationMetrics
{
    private readonly double[] _perClassIoU;
    private readonly double[] _perClassDice;

    internal MulticlassSegmentationMetrics(long[] confusion, int classCount, int imageCount, double perImageMeanIoU)
    {
        ConfusionMatrix = new SegmentationConfusionMatrix(confusion, classCount);
        ClassCount = classCount;
        ImageCount = imageCount;
        PerImageMeanIoU = perImageMeanIoU;
        PixelCount = ConfusionMatrix.Total;

        _perClassIoU = new double[classCount];
        _perClassDice = new double[classCount];
        long correct = 0;
        double iouSum = 0, diceSum = 0, fw = 0;
        int present = 0;
        for (int c = 0; c < classCount; c++)
        {
            long tp = confusion[c * classCount + c];
            long row = ConfusionMatrix.RowTotal(c), col = ConfusionMatrix.ColumnTotal(c);
            long union = row + col - tp;
            correct += tp;
            if (union == 0)
            {
                _perClassIoU[c] = double.NaN;
                _perClassDice[c] = double.NaN;
                continue;
            }
            double iou = (double)tp / union;
            _perClassIoU[c] = iou;
            _perClassDice[c] = 2.0 * tp / (row + col);
            iouSum += iou;
            diceSum += _perClassDice[c];
            present++;
            fw += row * iou;
        }
        PixelAccuracy = PixelCount == 0 ? double.NaN : (double)correct / PixelCount;
        MeanIoU = present == 0 ? double.NaN : iouSum / present;
        MeanDice = present == 0 ? double.NaN : diceSum / present;
        FrequencyWeightedIoU = PixelCount == 0 ? double.NaN : fw / PixelCount;
        PerClassIoU = Array.AsReadOnly(_perClassIoU);
        PerClassDice = Array.AsReadOnly(_perClassDice);
    }

    /// <summary>Number of classes.</summary>
    public int ClassCount { get; }

    /// <summary>Scored pixels (ignored pixels excluded).</summary>
    public long PixelCount { get; }

    /// <summary>Images with at least one scored pixel (the images behind <see cref="PerImageMeanIoU"/>).</summary>
    public int ImageCount { get; }

    /// <summary>Fraction of scored pixels whose predicted class is the true class.</summary>
    public double PixelAccuracy { get; }

    /// <summary>Mean of <see cref="PerClassIoU"/> over classes present in the truth or the prediction (mIoU).</summary>
    public double MeanIoU { get; }

    /// <summary>Mean of <see cref="PerClassDice"/> over classes present in the truth or the prediction.</summary>
    public double MeanDice { get; }

    /// <summary>IoU of each class over the set: TP / (TP + FP + FN); NaN for a class absent from truth and prediction.</summary>
    public IReadOnlyList<double> PerClassIoU { get; }

    /// <summary>Dice of each class over the set: 2TP / (2TP + FP + FN); NaN for a class absent from truth and prediction.</summary>
    public IReadOnlyList<double> PerClassDice { get; }

    /// <summary>Sum over classes of (true pixels of the class / scored pixels) x IoU of the class (Long et al., FCN).</summary>
    public double FrequencyWeightedIoU { get; }

    /// <summary>Mean over images of each image's mIoU (over the classes present in that image's truth or prediction).</summary>
    public double PerImageMeanIoU { get; }

    /// <summary>Confusion counts, rows = truth, columns = prediction.</summary>
    public SegmentationConfusionMatrix ConfusionMatrix { get; }

    /// <summary>Pixels of true class <paramref name="truth"/> predicted as <paramref name="predicted"/>.</summary>
    /// <param name="truth">True class (row).</param>
    /// <param name="predicted">Predicted class (column).</param>
    public long GetConfusion(int truth, int predicted) => ConfusionMatrix[truth, predicted];

    /// <inheritdoc />
    public override string ToString() => FormattableString.Invariant(
        $"PixelAcc={PixelAccuracy:0.####} mIoU={MeanIoU:0.####} mDice={MeanDice:0.####} fwIoU={FrequencyWeightedIoU:0.####} perImage mIoU={PerImageMeanIoU:0.####} ({ClassCount} classes, {PixelCount} pixels, {ImageCount} images)");
}
