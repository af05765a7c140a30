using MLNet.NoisySeg.Core;

namespace MLNet.NoisySeg.Decoding;

/// <summary>Noise-matrix helpers for decoding (internal; row-major n x n). The algebra itself lives on <see cref="NoiseTransitionMatrix"/>.</summary>
internal static class LinearAlgebra
{
    /// <summary>
    /// (Qᵀ)⁻¹ = (Q⁻¹)ᵀ, row-major: the map from noisy posteriors back to clean ones (p_noisy = Qᵀ p_clean).
    /// </summary>
    /// <exception cref="InvalidOperationException">Q is singular: the classes it mixes cannot be separated (method.md, Lemma 2).</exception>
    public static double[] InverseTranspose(NoiseTransitionMatrix q)
    {
        double[,] inv;
        try
        {
            inv = q.Inverse();
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidOperationException(e.Message + " The inverse-NTM correction is undefined (method.md, Lemma 2).", e);
        }
        int n = q.ClassCount;
        var t = new double[n * n];
        for (int j = 0; j < n; j++)
            for (int m = 0; m < n; m++)
                t[m * n + j] = inv[j, m];
        return t;
    }
}
