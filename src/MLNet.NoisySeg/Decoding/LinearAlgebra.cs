using MLNet.NoisySeg.Core;

namespace MLNet.NoisySeg.Decoding;

/// <summary>
/// A singular value decomposition A = U diag(S) Vᵀ of a square matrix (internal; row-major n x n arrays).
/// </summary>
/// <param name="U">Left singular vectors as columns: U[i * n + k] is component i of u_k. Columns for a zero
/// singular value are zero (they are never needed: every use weights them by that singular value).</param>
/// <param name="S">Singular values, descending, all ≥ 0.</param>
/// <param name="V">Right singular vectors as columns, orthonormal: V[i * n + k] is component i of v_k.</param>
internal sealed record Svd(double[] U, double[] S, double[] V)
{
    /// <summary>The matrix size n.</summary>
    public int Size => S.Length;
}

/// <summary>Small dense linear algebra for decoding (internal; row-major n x n, n ≤ 255). The NTM's own algebra
/// (determinant, rank by elimination, inverse) lives on <see cref="NoiseTransitionMatrix"/>.</summary>
internal static class LinearAlgebra
{
    /// <summary>
    /// (Qᵀ)⁻¹ = (Q⁻¹)ᵀ, row-major: the map from noisy posteriors back to clean ones (p_noisy = Qᵀ p_clean).
    /// </summary>
    /// <exception cref="InvalidOperationException">Q is singular: the classes it mixes cannot be separated (Lemma 2 of Luo et al., AAAI 2022: a singular Q mixes classes beyond recovery).</exception>
    public static double[] InverseTranspose(NoiseTransitionMatrix q)
    {
        double[,] inv;
        try
        {
            inv = q.Inverse();
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidOperationException(e.Message + " The inverse-NTM correction is undefined (Lemma 2 of Luo et al., AAAI 2022: a singular Q mixes classes beyond recovery).", e);
        }
        int n = q.ClassCount;
        var t = new double[n * n];
        for (int j = 0; j < n; j++)
            for (int m = 0; m < n; m++)
                t[m * n + j] = inv[j, m];
        return t;
    }

    /// <summary>Q as a row-major array.</summary>
    public static double[] ToRowMajor(NoiseTransitionMatrix q)
    {
        int n = q.ClassCount;
        var a = new double[n * n];
        for (int j = 0; j < n; j++)
            for (int m = 0; m < n; m++)
                a[j * n + m] = q[j, m];
        return a;
    }

    /// <summary>
    /// SVD of a square row-major matrix by one-sided Jacobi rotations (Hestenes 1958; Demmel and Veselić 1992):
    /// columns of A V are orthogonalised by plane rotations until every pair is orthogonal to working precision;
    /// then S = their norms and U = the normalised columns. Unlike eigenvalues of AᵀA it keeps small singular
    /// values accurate relative to the matrix (AᵀA squares the condition number and loses every σ below
    /// sqrt(eps) σ_max). O(n³) per sweep; converges in a handful of sweeps for n ≤ 255.
    /// </summary>
    /// <param name="a">n x n row-major matrix (not modified).</param>
    /// <param name="n">Size.</param>
    /// <exception cref="ArgumentException">Length is not n², or an entry is not finite.</exception>
    public static Svd SingularValueDecomposition(double[] a, int n)
    {
        ArgumentNullException.ThrowIfNull(a);
        if (n < 1 || a.Length != n * n)
            throw new ArgumentException($"Expected an {n}x{n} matrix ({n * n} values); got {a.Length}.", nameof(a));
        foreach (double x in a)
            if (!double.IsFinite(x)) throw new ArgumentException("The matrix has a non-finite entry.", nameof(a));

        // Work on columns: w[k] is column k of A V.
        var w = new double[n][];
        var v = new double[n][];
        for (int k = 0; k < n; k++)
        {
            w[k] = new double[n];
            v[k] = new double[n];
            v[k][k] = 1;
            for (int i = 0; i < n; i++) w[k][i] = a[i * n + k];
        }
        const double eps = 2.220446049250313e-16;
        for (int sweep = 0; sweep < 80; sweep++)
        {
            bool rotated = false;
            for (int p = 0; p < n - 1; p++)
                for (int q = p + 1; q < n; q++)
                {
                    double[] wp = w[p], wq = w[q];
                    double alpha = 0, beta = 0, gamma = 0;
                    for (int i = 0; i < n; i++) { alpha += wp[i] * wp[i]; beta += wq[i] * wq[i]; gamma += wp[i] * wq[i]; }
                    if (gamma == 0 || Math.Abs(gamma) <= eps * Math.Sqrt(alpha * beta)) continue;
                    rotated = true;
                    double zeta = (beta - alpha) / (2 * gamma);
                    double t = Math.Sign(zeta) / (Math.Abs(zeta) + Math.Sqrt(1 + zeta * zeta));
                    if (zeta == 0) t = 1;
                    double c = 1 / Math.Sqrt(1 + t * t), s = c * t;
                    Rotate(wp, wq, c, s);
                    Rotate(v[p], v[q], c, s);
                }
            if (!rotated) break;
        }

        var norms = new double[n];
        for (int k = 0; k < n; k++)
        {
            double ss = 0;
            foreach (double x in w[k]) ss += x * x;
            norms[k] = Math.Sqrt(ss);
        }
        // Descending order; equal values keep their column order (deterministic).
        int[] order = Enumerable.Range(0, n).OrderByDescending(k => norms[k]).ThenBy(k => k).ToArray();
        double scale = norms.Length > 0 ? norms.Max() : 0;
        var uOut = new double[n * n];
        var vOut = new double[n * n];
        var sOut = new double[n];
        for (int r = 0; r < n; r++)
        {
            int k = order[r];
            sOut[r] = norms[k];
            // Columns whose norm is pure rounding noise carry no direction.
            bool zero = norms[k] <= scale * eps * n || norms[k] == 0;
            for (int i = 0; i < n; i++)
            {
                vOut[i * n + r] = v[k][i];
                uOut[i * n + r] = zero ? 0 : w[k][i] / norms[k];
            }
        }
        return new Svd(uOut, sOut, vOut);
    }

    private static void Rotate(double[] x, double[] y, double c, double s)
    {
        for (int i = 0; i < x.Length; i++)
        {
            double xi = x[i], yi = y[i];
            x[i] = c * xi - s * yi;
            y[i] = s * xi + c * yi;
        }
    }

    /// <summary>
    /// The Tikhonov-regularised correction matrix M_λ, row-major: for a noisy posterior p, M_λ p =
    /// argmin_x ‖Qᵀx − p‖² + λ‖x‖² = (Q Qᵀ + λI)⁻¹ Q p. With Q = U S Vᵀ, M_λ = U diag(σ / (σ² + λ)) Vᵀ; λ = 0 gives
    /// (Qᵀ)⁻¹ on an invertible Q, and each singular direction's gain σ / (σ² + λ) is at most 1 / (2 sqrt(λ)).
    /// </summary>
    /// <param name="svd">SVD of Q.</param>
    /// <param name="lambda">λ ≥ 0; with λ = 0 every singular value must be positive.</param>
    public static double[] TikhonovCorrection(Svd svd, double lambda)
    {
        int n = svd.Size;
        var gain = new double[n];
        for (int k = 0; k < n; k++)
        {
            double s = svd.S[k];
            gain[k] = s == 0 ? 0 : s / (s * s + lambda);
        }
        var m = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double x = 0;
                for (int k = 0; k < n; k++) x += svd.U[i * n + k] * gain[k] * svd.V[j * n + k];
                m[i * n + j] = x;
            }
        return m;
    }
}
