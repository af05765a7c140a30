namespace MLNet.NoisySeg.Core;

/// <summary>
/// The one Gaussian kernel of the library: normalised 1-D weights for offsets -r..r, truncated at
/// <see cref="Truncate"/> standard deviations with radius <c>(int)(Truncate * sigma + 0.5)</c>, as scipy.ndimage.
/// Gaussian density maps (<c>MetaStructure.DensityMap</c>) and the image blur (<c>Data.Preprocessing.Filtering</c>)
/// both use it.
/// </summary>
public static class GaussianKernel
{
    /// <summary>The kernel is truncated at this many standard deviations (scipy.ndimage's default).</summary>
    public const double Truncate = 4.0;

    /// <summary>Largest accepted sigma, in pixels.</summary>
    public const double MaxSigma = 1 << 16;

    /// <summary>Radius of the truncated kernel: <c>(int)(Truncate * sigma + 0.5)</c>.</summary>
    /// <param name="sigma">Standard deviation in pixels, finite and in (0, <see cref="MaxSigma"/>].</param>
    public static int Radius(double sigma)
    {
        if (!double.IsFinite(sigma) || sigma <= 0 || sigma > MaxSigma)
            throw new ArgumentOutOfRangeException(nameof(sigma), sigma, $"{nameof(sigma)} must be a finite number in (0, {MaxSigma}].");
        return (int)(Truncate * sigma + 0.5);
    }

    /// <summary>The normalised weights for offsets -r..r (length 2r+1, summing to 1).</summary>
    /// <param name="sigma">Standard deviation in pixels, finite and in (0, <see cref="MaxSigma"/>].</param>
    public static double[] Weights(double sigma)
    {
        int r = Radius(sigma);
        var w = new double[2 * r + 1];
        double sum = 0;
        for (int k = -r; k <= r; k++)
        {
            double v = Math.Exp(-0.5 * (k / sigma) * (k / sigma));
            w[k + r] = v;
            sum += v;
        }
        for (int i = 0; i < w.Length; i++) w[i] /= sum;
        return w;
    }
}
