using System.Buffers;
using MLNet.NoisySeg.Core;

namespace MLNet.NoisySeg.Evaluation;

/// <summary>Options of <see cref="MulticlassSegmentationEvaluator"/>.</summary>
public sealed class MulticlassSegmentationEvaluatorOptions
{
    /// <summary>Truth value that is never scored (default <see cref="MaskConventions.IgnoreIndex"/> = 255); must not be a class index.</summary>
    public byte IgnoreIndex { get; init; } = MaskConventions.IgnoreIndex;

    /// <summary>Throws when an option is out of range for <paramref name="classCount"/> classes; the exception names the option.</summary>
    /// <param name="classCount">Number of classes the evaluator scores.</param>
    public void Validate(int classCount)
    {
        if (IgnoreIndex < classCount)
            throw new ArgumentOutOfRangeException(nameof(IgnoreIndex), IgnoreIndex, $"IgnoreIndex must not be a class index (0..{classCount - 1}).");
    }
}

/// <summary>
/// Accumulates multi-class segmentation results image by image and produces
/// <see cref="MulticlassSegmentationMetrics"/>. All members are thread-safe; for parallel evaluation give
/// each worker its own evaluator and <see cref="Merge"/> them (the result does not depend on the order).
/// </summary>
public sealed class MulticlassSegmentationEvaluator
{
    private readonly object _gate = new();
    private readonly long[] _confusion;
    private readonly List<double> _imageMeanIoU = new();

    /// <summary>Creates an empty evaluator.</summary>
    /// <param name="classCount">Number of classes, 2 to 255; truth and predictions use 0..classCount-1.</param>
    /// <param name="options">Options; defaults when null.</param>
    public MulticlassSegmentationEvaluator(int classCount, MulticlassSegmentationEvaluatorOptions? options = null)
    {
        if (classCount < 2 || classCount > MaskConventions.MaxClassCount)
            throw new ArgumentOutOfRangeException(nameof(classCount), classCount, $"classCount must be in [2, {MaskConventions.MaxClassCount}].");
        options ??= new MulticlassSegmentationEvaluatorOptions();
        options.Validate(classCount);
        ClassCount = classCount;
        Options = options;
        _confusion = new long[classCount * classCount];
    }

    /// <summary>Number of classes.</summary>
    public int ClassCount { get; }

    /// <summary>The options this evaluator was created with.</summary>
    public MulticlassSegmentationEvaluatorOptions Options { get; }

    /// <summary>Scores one image.</summary>
    /// <param name="truth">Ground-truth mask: class indices or the ignore index, row-major.</param>
    /// <param name="predicted">Predicted mask of the same length: class indices.</param>
    /// <exception cref="ArgumentException">Lengths differ, the image is empty, or a value is not a class index.</exception>
    public void Add(ReadOnlySpan<byte> truth, ReadOnlySpan<byte> predicted)
    {
        if (truth.IsEmpty)
            throw new ArgumentException("truth must contain at least one pixel.", nameof(truth));
        if (predicted.Length != truth.Length)
            throw new ArgumentException($"predicted has {predicted.Length} pixels but truth has {truth.Length}.", nameof(predicted));

        int c = ClassCount;
        int ignore = Options.IgnoreIndex;
        int[] local = ArrayPool<int>.Shared.Rent(c * c);
        try
        {
            Array.Clear(local, 0, c * c);
            long scored = 0;
            for (int i = 0; i < truth.Length; i++)
            {
                int t = truth[i];
                if (t == ignore) continue;
                int p = predicted[i];
                if (t >= c)
                    throw new ArgumentException($"truth[{i}] = {t} is neither a class index below {c} nor the ignore index {ignore}.", nameof(truth));
                if (p >= c)
                    throw new ArgumentException($"predicted[{i}] = {p} is not a class index below {c}.", nameof(predicted));
                local[t * c + p]++;
                scored++;
            }

            double imageMeanIoU = double.NaN;
            if (scored > 0)
            {
                double sum = 0; int present = 0;
                for (int k = 0; k < c; k++)
                {
                    long row = 0, col = 0;
                    for (int j = 0; j < c; j++) { row += local[k * c + j]; col += local[j * c + k]; }
                    long tp = local[k * c + k];
                    long union = row + col - tp;
                    if (union == 0) continue;
                    sum += (double)tp / union;
                    present++;
                }
                imageMeanIoU = sum / present;
            }

            lock (_gate)
            {
                for (int k = 0; k < c * c; k++) _confusion[k] += local[k];
                if (scored > 0) _imageMeanIoU.Add(imageMeanIoU);
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(local);
        }
    }

    /// <summary>
    /// Adds everything <paramref name="other"/> has accumulated to this evaluator; <paramref name="other"/> is unchanged.
    /// </summary>
    /// <param name="other">A partial accumulator with the same class count and ignore index.</param>
    /// <exception cref="ArgumentException"><paramref name="other"/> is this evaluator or differs in class count or ignore index.</exception>
    public void Merge(MulticlassSegmentationEvaluator other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (ReferenceEquals(other, this))
            throw new ArgumentException("An evaluator cannot be merged into itself.", nameof(other));
        if (other.ClassCount != ClassCount || other.Options.IgnoreIndex != Options.IgnoreIndex)
            throw new ArgumentException("other must have the same ClassCount and IgnoreIndex.", nameof(other));
        long[] confusion; double[] images;
        lock (other._gate)
        {
            confusion = (long[])other._confusion.Clone();
            images = other._imageMeanIoU.ToArray();
        }
        lock (_gate)
        {
            for (int k = 0; k < confusion.Length; k++) _confusion[k] += confusion[k];
            _imageMeanIoU.AddRange(images);
        }
    }

    /// <summary>The metrics of everything added so far.</summary>
    public MulticlassSegmentationMetrics GetMetrics()
    {
        lock (_gate)
        {
            return new MulticlassSegmentationMetrics((long[])_confusion.Clone(), ClassCount, _imageMeanIoU.Count,
                BinarySegmentationEvaluator.OrderIndependentMean(_imageMeanIoU));
        }
    }

    /// <summary>
    /// The evaluation loop: scores every image of <paramref name="images"/> (what
    /// <c>mlContext.Segmentation().EvaluateMulticlass</c> reads from an <c>IDataView</c>) and returns the metrics.
    /// </summary>
    /// <param name="images">Scored images (probabilities, if any, are not used).</param>
    /// <param name="classCount">Number of classes.</param>
    /// <param name="options">Options; defaults when null.</param>
    /// <exception cref="ArgumentException">An image is inconsistent; the message names its 0-based row.</exception>
    public static MulticlassSegmentationMetrics Evaluate(IEnumerable<ScoredMask> images, int classCount, MulticlassSegmentationEvaluatorOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        var evaluator = new MulticlassSegmentationEvaluator(classCount, options);
        long row = 0;
        foreach (var image in images)
        {
            try { evaluator.Add(image.Truth, image.Predicted); }
            catch (ArgumentException e) { throw new ArgumentException($"Row {row}: {e.Message}", nameof(images), e); }
            row++;
        }
        return evaluator.GetMetrics();
    }
}
