namespace MLNet.NoisySeg.Core;

/// <content>
/// Analysis of the noise transition matrix (method.md section 4, Lemma 2 / Theorem 2): the number
/// of classes whose meta-structure survives the noise is rank(Q); a full-rank Q can be undone with
/// its inverse; for binary masks det(Q) = 1 - f - b, and det(Q) &lt; 0 means the learned map is inverted.
/// All routines work on a copy with partial pivoting (Q is at most 255 x 255).
/// </content>
public sealed partial class NoiseTransitionMatrix
{
    /// <summary>Default relative tolerance of <see cref="Rank(double)"/>.</summary>
    public const double DefaultRankTolerance = 1e-9;

    /// <summary>det(Q), by LU decomposition with partial pivoting. Binary flipping: 1 - f - b.</summary>
    public double Determinant()
    {
        int n = ClassCount;
        double[] a = (double[])_values.Clone();
        double det = 1;
        for (int col = 0; col < n; col++)
        {
            int p = PivotRow(a, n, col, col);
            double pv = a[p * n + col];
            if (pv == 0) return 0;
            if (p != col)
            {
                SwapRows(a, n, p, col);
                det = -det;
            }
            det *= pv;
            for (int i = col + 1; i < n; i++)
            {
                double f = a[i * n + col] / pv;
                if (f == 0) continue;
                for (int k = col; k < n; k++) a[i * n + k] -= f * a[col * n + k];
            }
        }
        return det;
    }

    /// <summary>
    /// rank(Q) by Gaussian elimination with partial pivoting: a pivot counts when its magnitude
    /// exceeds <paramref name="tolerance"/> times the largest entry of Q (relative tolerance).
    /// </summary>
    /// <param name="tolerance">Relative tolerance, finite and ≥ 0 (default 1e-9).</param>
    public int Rank(double tolerance = DefaultRankTolerance)
    {
        if (!double.IsFinite(tolerance) || tolerance < 0)
            throw new ArgumentOutOfRangeException(nameof(tolerance), tolerance, $"{nameof(tolerance)} must be a finite number ≥ 0.");
        int n = ClassCount;
        double[] a = (double[])_values.Clone();
        double scale = 0;
        foreach (double v in a) scale = Math.Max(scale, Math.Abs(v));
        double tol = tolerance * scale;
        int rank = 0;
        for (int col = 0; col < n && rank < n; col++)
        {
            int p = PivotRow(a, n, rank, col);
            double pv = a[p * n + col];
            if (Math.Abs(pv) <= tol) continue;
            if (p != rank) SwapRows(a, n, p, rank);
            for (int i = rank + 1; i < n; i++)
            {
                double f = a[i * n + col] / pv;
                if (f == 0) continue;
                for (int k = col; k < n; k++) a[i * n + k] -= f * a[rank * n + k];
            }
            rank++;
        }
        return rank;
    }

    /// <summary>
    /// Number of classes whose meta-structure can be recovered from labels with this noise
    /// (Lemma 2 / Theorem 2 of the paper): rank(Q) with the default tolerance.
    /// </summary>
    public int RecoverableClassCount => Rank();

    /// <summary>True when Q has full rank (with the default tolerance): the noise can be undone with <see cref="Inverse"/>.</summary>
    public bool IsInvertible => Rank() == ClassCount;

    /// <summary>
    /// True when the noisy labels point the wrong way. Binary masks: det(Q) = 1 - f - b &lt; 0
    /// (e.g. f = b = 0.9), where a network's map is inverted and must be read as 1 - p. In general:
    /// some noisy class m is more likely given another true class j than given m itself
    /// (Q[j, m] &gt; Q[m, m]), which for two classes is exactly det(Q) &lt; 0. Such noise can still
    /// be full rank (recoverable); it only means that decoding must use Q.
    /// </summary>
    public bool IsInverted
    {
        get
        {
            if (ClassCount == 2) return Determinant() < 0;
            int n = ClassCount;
            for (int m = 0; m < n; m++)
                for (int j = 0; j < n; j++)
                    if (j != m && _values[j * n + m] > _values[m * n + m]) return true;
            return false;
        }
    }

    /// <summary>Q⁻¹ by Gauss-Jordan elimination with partial pivoting.</summary>
    /// <exception cref="InvalidOperationException">Q is singular (rank below the class count); the message gives the rank.</exception>
    public double[,] Inverse()
    {
        int n = ClassCount;
        int rank = Rank();
        if (rank < n)
            throw new InvalidOperationException($"The noise transition matrix is singular: rank {rank} of {n}, so only {rank} class(es) are recoverable and Q has no inverse.");
        double[] a = (double[])_values.Clone();
        double[] inv = new double[n * n];
        for (int i = 0; i < n; i++) inv[i * n + i] = 1;
        for (int col = 0; col < n; col++)
        {
            int p = PivotRow(a, n, col, col);
            if (p != col)
            {
                SwapRows(a, n, p, col);
                SwapRows(inv, n, p, col);
            }
            double pv = a[col * n + col];
            for (int k = 0; k < n; k++)
            {
                a[col * n + k] /= pv;
                inv[col * n + k] /= pv;
            }
            for (int i = 0; i < n; i++)
            {
                if (i == col) continue;
                double f = a[i * n + col];
                if (f == 0) continue;
                for (int k = 0; k < n; k++)
                {
                    a[i * n + k] -= f * a[col * n + k];
                    inv[i * n + k] -= f * inv[col * n + k];
                }
            }
        }
        var result = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int k = 0; k < n; k++)
                result[i, k] = inv[i * n + k];
        return result;
    }

    private static int PivotRow(double[] a, int n, int fromRow, int col)
    {
        int p = fromRow;
        double best = Math.Abs(a[fromRow * n + col]);
        for (int i = fromRow + 1; i < n; i++)
        {
            double v = Math.Abs(a[i * n + col]);
            if (v > best)
            {
                best = v;
                p = i;
            }
        }
        return p;
    }

    private static void SwapRows(double[] a, int n, int r1, int r2)
    {
        for (int k = 0; k < n; k++)
            (a[r1 * n + k], a[r2 * n + k]) = (a[r2 * n + k], a[r1 * n + k]);
    }
}
