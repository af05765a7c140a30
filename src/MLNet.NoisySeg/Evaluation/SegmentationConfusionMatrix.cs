namespace MLNet.NoisySeg.Evaluation;

/// <summary>
/// A read-only pixel confusion matrix: rows are true classes, columns predicted classes;
/// entry [t, p] counts scored pixels of true class t predicted as p.
/// </summary>
public sealed class SegmentationConfusionMatrix
{
    private readonly long[] _counts;

    internal SegmentationConfusionMatrix(long[] counts, int classCount)
    {
        _counts = counts;
        ClassCount = classCount;
        long total = 0;
        foreach (long c in counts) total += c;
        Total = total;
    }

    /// <summary>Number of classes (rows = columns).</summary>
    public int ClassCount { get; }

    /// <summary>Sum of all entries (the scored pixels).</summary>
    public long Total { get; }

    /// <summary>Pixels of true class <paramref name="truth"/> predicted as <paramref name="predicted"/>.</summary>
    /// <param name="truth">True class (row).</param>
    /// <param name="predicted">Predicted class (column).</param>
    public long this[int truth, int predicted]
    {
        get
        {
            if ((uint)truth >= (uint)ClassCount) throw new ArgumentOutOfRangeException(nameof(truth), truth, $"truth must be in [0, {ClassCount}).");
            if ((uint)predicted >= (uint)ClassCount) throw new ArgumentOutOfRangeException(nameof(predicted), predicted, $"predicted must be in [0, {ClassCount}).");
            return _counts[truth * ClassCount + predicted];
        }
    }

    /// <summary>Pixels whose true class is <paramref name="truth"/>.</summary>
    /// <param name="truth">True class (row).</param>
    public long RowTotal(int truth)
    {
        long s = 0;
        for (int p = 0; p < ClassCount; p++) s += this[truth, p];
        return s;
    }

    /// <summary>Pixels predicted as <paramref name="predicted"/>.</summary>
    /// <param name="predicted">Predicted class (column).</param>
    public long ColumnTotal(int predicted)
    {
        long s = 0;
        for (int t = 0; t < ClassCount; t++) s += this[t, predicted];
        return s;
    }

    /// <summary>A copy as a 2-D array [truth, predicted].</summary>
    public long[,] ToArray()
    {
        var a = new long[ClassCount, ClassCount];
        for (int t = 0; t < ClassCount; t++)
            for (int p = 0; p < ClassCount; p++)
                a[t, p] = _counts[t * ClassCount + p];
        return a;
    }
}
