namespace MLNet.NoisySeg.MetaStructure;

/// <summary>The smoothing kernel of a spatial density map.</summary>
public enum DensityKernel
{
    /// <summary>
    /// Box window of (2h+1) x (2h+1) pixels, h = <see cref="DensityOptions.Bandwidth"/>: the
    /// density is the fraction of pixels of the class in the window (the paper's estimator).
    /// </summary>
    Box = 0,

    /// <summary>
    /// Separable Gaussian with standard deviation <see cref="DensityOptions.Sigma"/>, truncated at
    /// <see cref="DensityMap.GaussianTruncate"/> standard deviations (see <see cref="DensityMap.GaussianRadius(double)"/>).
    /// </summary>
    Gaussian = 1,
}

/// <summary>How a density map treats the image border and ignore (255) pixels.</summary>
public enum DensityBorder
{
    /// <summary>
    /// The natural estimator (default): divide by the number (box) or total kernel weight
    /// (Gaussian) of window pixels that lie inside the image and are not ignore. Densities of the
    /// classes then sum to 1 at every pixel whose window holds at least one labelled pixel; a
    /// pixel whose window holds only ignore pixels gets density 0 for every class.
    /// </summary>
    ValidPixels = 0,

    /// <summary>
    /// Constant denominator: the image is zero-padded, so the divisor is always (2h+1)^2 (box) or
    /// the full kernel weight 1 (Gaussian), and ignore pixels count as belonging to no class.
    /// Matches scipy.ndimage <c>uniform_filter</c> / <c>gaussian_filter(truncate=4.0)</c> with
    /// <c>mode="constant", cval=0</c> applied to the one-hot planes. Densities fall off near the border.
    /// </summary>
    ZeroPadding = 1,
}

/// <summary>Options of a spatial density map (the meta-structure of a label).</summary>
public sealed class DensityOptions
{
    /// <summary>Default box bandwidth h (window 11 x 11) [ours: the paper leaves h open].</summary>
    public const int DefaultBandwidth = 5;

    /// <summary>Default Gaussian standard deviation in pixels.</summary>
    public const double DefaultSigma = 3.0;

    /// <summary>The kernel; default <see cref="DensityKernel.Box"/>.</summary>
    public DensityKernel Kernel { get; init; } = DensityKernel.Box;

    /// <summary>Box half-width h ≥ 0: the window is (2h+1) x (2h+1). Used when <see cref="Kernel"/> is Box.</summary>
    public int Bandwidth { get; init; } = DefaultBandwidth;

    /// <summary>Gaussian standard deviation in pixels (finite, &gt; 0). Used when <see cref="Kernel"/> is Gaussian.</summary>
    public double Sigma { get; init; } = DefaultSigma;

    /// <summary>Border and ignore handling; default <see cref="DensityBorder.ValidPixels"/>.</summary>
    public DensityBorder Border { get; init; } = DensityBorder.ValidPixels;

    /// <summary>Throws when an option is out of range; the exception's ParamName and message name the option.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public void Validate()
    {
        if (!Enum.IsDefined(Kernel))
            throw new ArgumentOutOfRangeException(nameof(Kernel), Kernel, $"{nameof(Kernel)} must be Box or Gaussian.");
        if (!Enum.IsDefined(Border))
            throw new ArgumentOutOfRangeException(nameof(Border), Border, $"{nameof(Border)} must be ValidPixels or ZeroPadding.");
        if (Bandwidth < 0)
            throw new ArgumentOutOfRangeException(nameof(Bandwidth), Bandwidth, $"{nameof(Bandwidth)} must be at least 0 (the window is 2*Bandwidth+1 pixels wide).");
        if (Bandwidth > DensityMap.MaxBandwidth)
            throw new ArgumentOutOfRangeException(nameof(Bandwidth), Bandwidth, $"{nameof(Bandwidth)} must be at most {DensityMap.MaxBandwidth}.");
        if (!double.IsFinite(Sigma) || Sigma <= 0 || Sigma > DensityMap.MaxSigma)
            throw new ArgumentOutOfRangeException(nameof(Sigma), Sigma, $"{nameof(Sigma)} must be a finite number in (0, {DensityMap.MaxSigma}].");
    }

    /// <inheritdoc />
    public override string ToString() => Kernel == DensityKernel.Box
        ? $"Box(h={Bandwidth}, {Border})"
        : $"Gaussian(sigma={Sigma.ToString(System.Globalization.CultureInfo.InvariantCulture)}, {Border})";
}
