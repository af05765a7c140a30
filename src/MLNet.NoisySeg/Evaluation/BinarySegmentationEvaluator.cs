using System.Runtime.InteropServices;
using MLNet.NoisySeg.Core;

namespace MLNet.NoisySeg.Evaluation;

/// <summary>How <see cref="BinarySegmentationEvaluator"/> computes ROC AUC.</summary>
public enum AucMode
{
    /// <summary>
    /// Exact (default): every scored probability is kept (4 bytes per pixel) and sorted when the
    /// metrics are read. Ties are handled like sklearn's <c>roc_auc_score</c>.
    /// </summary>
    Exact,

    /// <summary>
    /// Memory-bounded: one histogram of probabilities per class with
    /// <see cref="BinarySegmentationEvaluatorOptions.HistogramBinCount"/> equal bins over [0, 1]
    /// (16 bytes per bin); pairs sharing a bin count as ties. The error is at most
    /// <see cref="BinarySegmentationMetrics.AucApproximationBound"/>, reported with the metrics
    /// (well under 1e-3 with 4096 bins unless the outputs crowd into a few bins).
    /// Probabilities must lie in [0, 1].
    /// </summary>
    Histogram,
}

/// <summary>Options of <see cref="BinarySegmentationEvaluator"/>.</summary>
public sealed class BinarySegmentationEvaluatorOptions
{
    /// <summary>Truth value that is never scored (default <see cref="MaskConventions.IgnoreIndex"/> = 255). Must not be 0 or 1.</summary>
    public byte IgnoreIndex { get; init; } = MaskConventions.IgnoreIndex;

    /// <summary>How AUC is computed (default <see cref="AucMode.Exact"/>).</summary>
    public AucMode AucMode { get; init; } = AucMode.Exact;

    /// <summary>Bins per class in <see cref="AucMode.Histogram"/> mode (default 4096, at least 16).</summary>
    public int HistogramBinCount { get; init; } = 4096;

    /// <summary>Throws when an option is out of range; the exception names the option.</summary>
    public void Validate()
    {
        if (IgnoreIndex <= 1)
            throw new ArgumentOutOfRangeException(nameof(IgnoreIndex), IgnoreIndex, "IgnoreIndex must not be a binary class (0 or 1).");
        if (!Enum.IsDefined(AucMode))
            throw new ArgumentOutOfRangeException(nameof(AucMode), AucMode, "AucMode must be Exact or Histogram.");
        Guard.AtLeast(HistogramBinCount, 16, nameof(HistogramBinCount));
    }
}

/// <summary>
/// Accumulates binary segmentation results image by image and produces
/// <see cref="BinarySegmentationMetrics"/>. All members are thread-safe; for parallel evaluation give
/// each worker its own evaluator and <see cref="Merge"/> them (the result does not depend on the order).
/// </summary>
public sealed class BinarySegmentationEvaluator
{
    private readonly object _gate = new();
    private readonly byte _ignore;
    private readonly AucMode _aucMode;
    private long _tp, _fp, _tn, _fn;
    private readonly List<double> _imageDice = new();
    private readonly List<double> _imageIoU = new();
    private int _probabilityState; // 0 = no image yet, 1 = with probabilities, 2 = without
    private readonly List<float> _positiveScores = new();
    private readonly List<float> _negativeScores = new();
    private readonly long[]? _positiveHistogram;
    private readonly long[]? _negativeHistogram;

    /// <summary>Creates an empty evaluator.</summary>
    /// <param name="options">Options; defaults when null.</param>
    public BinarySegmentationEvaluator(BinarySegmentationEvaluatorOptions? options = null)
    {
        options ??= new BinarySegmentationEvaluatorOptions();
        options.Validate();
        Options = options;
        _ignore = options.IgnoreIndex;
        _aucMode = options.AucMode;
        if (_aucMode == AucMode.Histogram)
        {
            _positiveHistogram = new long[options.HistogramBinCount];
            _negativeHistogram = new long[options.HistogramBinCount];
        }
    }

    /// <summary>The options this evaluator was created with.</summary>
    public BinarySegmentationEvaluatorOptions Options { get; }

    /// <summary>
    /// Scores one image.
    /// </summary>
    /// <param name="truth">Ground-truth mask: 0, 1 or the ignore index, row-major.</param>
    /// <param name="predicted">Predicted mask of the same length: 0 or 1.</param>
    /// <param name="probability">
    /// Optional foreground probabilities of the same length, for AUC. Give them for every image or for none.
    /// </param>
    /// <exception cref="ArgumentException">A length differs, a value is not a binary class, a probability
    /// is NaN (or outside [0, 1] in histogram mode), or probabilities are given for some images only.</exception>
    /// <exception cref="InvalidOperationException">Exact AUC would exceed <see cref="Array.MaxLength"/> scores per class.</exception>
    public void Add(ReadOnlySpan<byte> truth, ReadOnlySpan<byte> predicted, ReadOnlySpan<float> probability = default)
    {
        if (truth.IsEmpty)
            throw new ArgumentException("truth must contain at least one pixel.", nameof(truth));
        if (predicted.Length != truth.Length)
            throw new ArgumentException($"predicted has {predicted.Length} pixels but truth has {truth.Length}.", nameof(predicted));
        bool withProbability = !probability.IsEmpty;
        if (withProbability && probability.Length != truth.Length)
            throw new ArgumentException($"probability has {probability.Length} values but truth has {truth.Length}.", nameof(probability));

        byte ignore = _ignore;
        long tp = 0, fp = 0, tn = 0, fn = 0;
        for (int i = 0; i < truth.Length; i++)
        {
            int t = truth[i];
            if (t == ignore) continue;
            int p = predicted[i];
            if (t > 1)
                throw new ArgumentException($"truth[{i}] = {t} is neither 0, 1 nor the ignore index {ignore}.", nameof(truth));
            if (p > 1)
                throw new ArgumentException($"predicted[{i}] = {p} is neither 0 nor 1.", nameof(predicted));
            if (t == 1) { if (p == 1) tp++; else fn++; }
            else { if (p == 1) fp++; else tn++; }
        }
        if (withProbability)
        {
            bool histogram = _aucMode == AucMode.Histogram;
            for (int i = 0; i < probability.Length; i++)
            {
                if (truth[i] == ignore) continue;
                float v = probability[i];
                if (float.IsNaN(v) || (histogram && (v < 0 || v > 1)) || float.IsInfinity(v))
                    throw new ArgumentException($"probability[{i}] = {v} is not a valid probability{(histogram ? " in [0, 1]" : "")}.", nameof(probability));
            }
        }

        long union = tp + fp + fn;
        long scored = union + tn;
        double dice = union == 0 ? 1.0 : 2.0 * tp / (2.0 * tp + fp + fn);
        double iou = union == 0 ? 1.0 : (double)tp / union;

        lock (_gate)
        {
            int state = withProbability ? 1 : 2;
            if (_probabilityState != 0 && _probabilityState != state)
                throw new ArgumentException("probability must be given for every image or for none.", nameof(probability));
            if (withProbability && _aucMode == AucMode.Exact &&
                (_positiveScores.Count + tp + fn > Array.MaxLength || _negativeScores.Count + fp + tn > Array.MaxLength))
                throw new InvalidOperationException(
                    $"Exact AUC keeps at most {Array.MaxLength} scores per class; use AucMode.Histogram for larger evaluations.");
            _probabilityState = state;
            _tp += tp; _fp += fp; _tn += tn; _fn += fn;
            if (scored > 0)
            {
                _imageDice.Add(dice);
                _imageIoU.Add(iou);
            }
            if (withProbability)
                AppendScores(truth, probability, tp + fn, fp + tn);
        }
    }

    private void AppendScores(ReadOnlySpan<byte> truth, ReadOnlySpan<float> probability, long positives, long negatives)
    {
        byte ignore = _ignore;
        if (_aucMode == AucMode.Histogram)
        {
            long[] pos = _positiveHistogram!, neg = _negativeHistogram!;
            int bins = pos.Length;
            for (int i = 0; i < truth.Length; i++)
            {
                int t = truth[i];
                if (t == ignore) continue;
                int b = (int)(probability[i] * bins);
                if (b >= bins) b = bins - 1;
                if (t == 1) pos[b]++; else neg[b]++;
            }
            return;
        }
        int p0 = _positiveScores.Count, n0 = _negativeScores.Count;
        CollectionsMarshal.SetCount(_positiveScores, checked(p0 + (int)positives));
        CollectionsMarshal.SetCount(_negativeScores, checked(n0 + (int)negatives));
        Span<float> ps = CollectionsMarshal.AsSpan(_positiveScores), ns = CollectionsMarshal.AsSpan(_negativeScores);
        int pi = p0, ni = n0;
        for (int i = 0; i < truth.Length; i++)
        {
            int t = truth[i];
            if (t == ignore) continue;
            if (t == 1) ps[pi++] = probability[i]; else ns[ni++] = probability[i];
        }
    }

    /// <summary>
    /// Adds everything <paramref name="other"/> has accumulated to this evaluator; <paramref name="other"/>
    /// is unchanged. Both must use the same options.
    /// </summary>
    /// <param name="other">A partial accumulator, e.g. one worker's.</param>
    /// <exception cref="ArgumentException"><paramref name="other"/> is this evaluator, has different
    /// options, or only one of the two has probabilities.</exception>
    public void Merge(BinarySegmentationEvaluator other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (ReferenceEquals(other, this))
            throw new ArgumentException("An evaluator cannot be merged into itself.", nameof(other));
        if (other._ignore != _ignore || other._aucMode != _aucMode || (_aucMode == AucMode.Histogram && other.Options.HistogramBinCount != Options.HistogramBinCount))
            throw new ArgumentException("other must use the same IgnoreIndex, AucMode and HistogramBinCount.", nameof(other));

        // Snapshot under the other's lock, then apply under ours: never hold both locks (no deadlock).
        long tp, fp, tn, fn; double[] dice, iou; int state; float[] pos, neg; long[]? posH = null, negH = null;
        lock (other._gate)
        {
            tp = other._tp; fp = other._fp; tn = other._tn; fn = other._fn;
            dice = other._imageDice.ToArray(); iou = other._imageIoU.ToArray();
            state = other._probabilityState;
            pos = other._positiveScores.ToArray(); neg = other._negativeScores.ToArray();
            if (other._positiveHistogram is not null) { posH = (long[])other._positiveHistogram.Clone(); negH = (long[])other._negativeHistogram!.Clone(); }
        }
        lock (_gate)
        {
            if (state != 0 && _probabilityState != 0 && state != _probabilityState)
                throw new ArgumentException("Only one of the evaluators has probabilities; give them for every image or for none.", nameof(other));
            if (state != 0) _probabilityState = state;
            _tp += tp; _fp += fp; _tn += tn; _fn += fn;
            _imageDice.AddRange(dice); _imageIoU.AddRange(iou);
            _positiveScores.AddRange(pos); _negativeScores.AddRange(neg);
            if (posH is not null)
                for (int b = 0; b < posH.Length; b++) { _positiveHistogram![b] += posH[b]; _negativeHistogram![b] += negH![b]; }
        }
    }

    /// <summary>The metrics of everything added so far.</summary>
    public BinarySegmentationMetrics GetMetrics()
    {
        lock (_gate)
        {
            double auc, bound = 0;
            if (_probabilityState != 1) { auc = double.NaN; bound = double.NaN; }
            else if (_aucMode == AucMode.Histogram) auc = RocAuc.FromHistograms(_positiveHistogram, _negativeHistogram, out bound);
            else
            {
                auc = RocAuc.Exact(CollectionsMarshal.AsSpan(_positiveScores), CollectionsMarshal.AsSpan(_negativeScores));
                if (double.IsNaN(auc)) bound = double.NaN;
            }
            return new BinarySegmentationMetrics(_tp, _fp, _tn, _fn, _imageDice.Count,
                OrderIndependentMean(_imageDice), OrderIndependentMean(_imageIoU), auc, bound);
        }
    }

    /// <summary>Mean of values summed in sorted order, so merge order cannot change the last bits.</summary>
    internal static double OrderIndependentMean(List<double> values)
    {
        if (values.Count == 0) return double.NaN;
        var copy = values.ToArray();
        Array.Sort(copy);
        double sum = 0;
        foreach (double v in copy) sum += v;
        return sum / copy.Length;
    }

    /// <summary>
    /// The evaluation loop: scores every image of <paramref name="images"/> (what
    /// <c>mlContext.Segmentation().EvaluateBinary</c> reads from an <c>IDataView</c>) and returns the metrics.
    /// </summary>
    /// <param name="images">Scored images; with probabilities for every image or for none.</param>
    /// <param name="options">Options; defaults when null.</param>
    /// <exception cref="ArgumentException">An image is inconsistent; the message names its 0-based row.</exception>
    public static BinarySegmentationMetrics Evaluate(IEnumerable<ScoredMask> images, BinarySegmentationEvaluatorOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        var evaluator = new BinarySegmentationEvaluator(options);
        long row = 0;
        foreach (var (truth, predicted, probability) in images)
        {
            try { evaluator.Add(truth, predicted, probability); }
            catch (ArgumentException e) { throw new ArgumentException($"Row {row}: {e.Message}", nameof(images), e); }
            row++;
        }
        return evaluator.GetMetrics();
    }
}
