namespace MLNet.NoisySeg.Core;

/// <summary>
/// A noise transition matrix (NTM) Q with Q[j, m] = P(noisy label = m | true label = j):
/// square, entries in [0, 1], every row summing to 1. Immutable.
/// </summary>
/// <remarks>
/// For binary masks (class 0 = background, 1 = foreground), flipping with a foreground rate f and a
/// background rate b is Q = [[1-b, b], [f, 1-f]]; see <see cref="BinaryFlip(double, double)"/>.
/// Analysis helpers (determinant, rank, recoverable classes) live beside the meta-structure code.
/// </remarks>
public sealed partial class NoiseTransitionMatrix
{
    /// <summary>Tolerance used when checking that rows sum to one.</summary>
    public const double RowSumTolerance = 1e-6;

    private readonly double[] _values;

    /// <summary>Creates a matrix from a square array; validates it.</summary>
    /// <param name="values">Q[j, m] = P(noisy = m | true = j).</param>
    /// <exception cref="ArgumentNullException"><paramref name="values"/> is null.</exception>
    /// <exception cref="ArgumentException">Not square, empty, an entry outside [0, 1] or NaN, or a row not summing to 1.</exception>
    public NoiseTransitionMatrix(double[,] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        int rows = values.GetLength(0), cols = values.GetLength(1);
        if (rows != cols)
            throw new ArgumentException($"The noise transition matrix must be square; got {rows}x{cols}.", nameof(values));
        if (rows < 2)
            throw new ArgumentException($"The noise transition matrix needs at least 2 classes; got {rows}.", nameof(values));
        ClassCount = rows;
        _values = new double[rows * cols];
        for (int j = 0; j < rows; j++)
        {
            double sum = 0;
            for (int m = 0; m < cols; m++)
            {
                double v = values[j, m];
                if (double.IsNaN(v) || v < 0 || v > 1)
                    throw new ArgumentException($"Q[{j}, {m}] = {v} is outside [0, 1].", nameof(values));
                _values[j * cols + m] = v;
                sum += v;
            }
            if (Math.Abs(sum - 1) > RowSumTolerance)
                throw new ArgumentException($"Row {j} of the noise transition matrix sums to {sum:R}, expected 1 (rows are true classes).", nameof(values));
        }
    }

    /// <summary>Number of classes (rows = columns).</summary>
    public int ClassCount { get; }

    /// <summary>P(noisy = <paramref name="noisy"/> | true = <paramref name="truth"/>).</summary>
    /// <param name="truth">True class (row).</param>
    /// <param name="noisy">Noisy class (column).</param>
    public double this[int truth, int noisy] => _values[truth * ClassCount + noisy];

    /// <summary>A copy of the matrix as a 2-D array.</summary>
    public double[,] ToArray()
    {
        var a = new double[ClassCount, ClassCount];
        for (int j = 0; j < ClassCount; j++)
            for (int m = 0; m < ClassCount; m++)
                a[j, m] = _values[j * ClassCount + m];
        return a;
    }

    /// <summary>The identity (no noise) for <paramref name="classCount"/> classes.</summary>
    /// <param name="classCount">Number of classes, at least 2.</param>
    public static NoiseTransitionMatrix Identity(int classCount)
    {
        if (classCount < 2) throw new ArgumentOutOfRangeException(nameof(classCount), classCount, "At least 2 classes are needed.");
        var a = new double[classCount, classCount];
        for (int i = 0; i < classCount; i++) a[i, i] = 1;
        return new NoiseTransitionMatrix(a);
    }

    /// <summary>Binary two-sided flipping: Q = [[1-b, b], [f, 1-f]].</summary>
    /// <param name="foregroundFlipRate">f: fraction of foreground pixels turned to background.</param>
    /// <param name="backgroundFlipRate">b: fraction of background pixels turned to foreground.</param>
    public static NoiseTransitionMatrix BinaryFlip(double foregroundFlipRate, double backgroundFlipRate)
    {
        Guard.Probability(foregroundFlipRate, nameof(foregroundFlipRate));
        Guard.Probability(backgroundFlipRate, nameof(backgroundFlipRate));
        return new NoiseTransitionMatrix(new double[,]
        {
            { 1 - backgroundFlipRate, backgroundFlipRate },
            { foregroundFlipRate, 1 - foregroundFlipRate },
        });
    }

    /// <summary>Symmetric flip: stay with probability 1-e, else move to a uniformly random other class.</summary>
    /// <param name="classCount">Number of classes, at least 2.</param>
    /// <param name="flipRate">e in [0, 1].</param>
    public static NoiseTransitionMatrix SymmetricFlip(int classCount, double flipRate)
    {
        if (classCount < 2) throw new ArgumentOutOfRangeException(nameof(classCount), classCount, "At least 2 classes are needed.");
        Guard.Probability(flipRate, nameof(flipRate));
        var a = new double[classCount, classCount];
        for (int j = 0; j < classCount; j++)
            for (int m = 0; m < classCount; m++)
                a[j, m] = j == m ? 1 - flipRate : flipRate / (classCount - 1);
        return new NoiseTransitionMatrix(a);
    }

    /// <inheritdoc />
    public override string ToString()
    {
        var rows = new string[ClassCount];
        for (int j = 0; j < ClassCount; j++)
            rows[j] = "[" + string.Join(", ", Enumerable.Range(0, ClassCount).Select(m => this[j, m].ToString("0.####", System.Globalization.CultureInfo.InvariantCulture))) + "]";
        return "[" + string.Join(", ", rows) + "]";
    }
}
