namespace MLNet.NoisySeg.Decoding;

/// <summary>Small dense linear algebra for noise matrices (internal; row-major n x n).</summary>
internal static class LinearAlgebra
{
    /// <summary>Relative pivot size below which a matrix is treated as singular.</summary>
    public const double SingularTolerance = 1e-10;

    /// <summary>
    /// Inverse by Gauss-Jordan elimination with partial pivoting.
    /// </summary>
    /// <exception cref="InvalidOperationException">The matrix is singular (a pivot below
    /// <see cref="SingularTolerance"/> times the largest entry).</exception>
    public static double[] Invert(ReadOnlySpan<double> matrix, int n)
    {
        var a = matrix.ToArray();
        var inv = new double[n * n];
        for (int i = 0; i < n; i++) inv[i * n + i] = 1;
        double scale = 0;
        foreach (double v in a) scale = Math.Max(scale, Math.Abs(v));
        if (scale == 0) throw Singular(n);
        for (int col = 0; col < n; col++)
        {
            int pivot = col;
            for (int r = col + 1; r < n; r++)
                if (Math.Abs(a[r * n + col]) > Math.Abs(a[pivot * n + col])) pivot = r;
            if (Math.Abs(a[pivot * n + col]) <= SingularTolerance * scale) throw Singular(n);
            if (pivot != col)
                for (int k = 0; k < n; k++)
                {
                    (a[col * n + k], a[pivot * n + k]) = (a[pivot * n + k], a[col * n + k]);
                    (inv[col * n + k], inv[pivot * n + k]) = (inv[pivot * n + k], inv[col * n + k]);
                }
            double d = a[col * n + col];
            for (int k = 0; k < n; k++) { a[col * n + k] /= d; inv[col * n + k] /= d; }
            for (int r = 0; r < n; r++)
            {
                if (r == col) continue;
                double f = a[r * n + col];
                if (f == 0) continue;
                for (int k = 0; k < n; k++) { a[r * n + k] -= f * a[col * n + k]; inv[r * n + k] -= f * inv[col * n + k]; }
            }
        }
        return inv;
    }

    /// <summary>Determinant by LU elimination with partial pivoting.</summary>
    public static double Determinant(ReadOnlySpan<double> matrix, int n)
    {
        var a = matrix.ToArray();
        double det = 1;
        for (int col = 0; col < n; col++)
        {
            int pivot = col;
            for (int r = col + 1; r < n; r++)
                if (Math.Abs(a[r * n + col]) > Math.Abs(a[pivot * n + col])) pivot = r;
            if (a[pivot * n + col] == 0) return 0;
            if (pivot != col)
            {
                det = -det;
                for (int k = 0; k < n; k++) (a[col * n + k], a[pivot * n + k]) = (a[pivot * n + k], a[col * n + k]);
            }
            double d = a[col * n + col];
            det *= d;
            for (int r = col + 1; r < n; r++)
            {
                double f = a[r * n + col] / d;
                for (int k = col; k < n; k++) a[r * n + k] -= f * a[col * n + k];
            }
        }
        return det;
    }

    /// <summary>The row-major transpose of Q's values: Qt[m * n + j] = Q[j, m].</summary>
    public static double[] Transpose(MLNet.NoisySeg.Core.NoiseTransitionMatrix q)
    {
        int n = q.ClassCount;
        var t = new double[n * n];
        for (int j = 0; j < n; j++)
            for (int m = 0; m < n; m++)
                t[m * n + j] = q[j, m];
        return t;
    }

    /// <summary>Row-major values of Q.</summary>
    public static double[] Values(MLNet.NoisySeg.Core.NoiseTransitionMatrix q)
    {
        int n = q.ClassCount;
        var v = new double[n * n];
        for (int j = 0; j < n; j++)
            for (int m = 0; m < n; m++)
                v[j * n + m] = q[j, m];
        return v;
    }

    private static InvalidOperationException Singular(int n) => new(
        $"The {n}x{n} noise transition matrix is singular (rank < {n}): the classes it mixes cannot be " +
        "separated (method.md, Lemma 2), so the inverse-NTM correction is undefined.");
}
