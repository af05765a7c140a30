using MLNet.NoisySeg.Core;

namespace MLNet.NoisySeg.Data.Synthetic;

/// <summary>Which structure a synthetic fluorescence image shows.</summary>
public enum SyntheticFluorescenceKind
{
    /// <summary>
    /// An endoplasmic-reticulum-like network of thin tubules (1-3 px) with three-way junctions:
    /// the edges of a jittered-grid Voronoi tessellation, domain-warped so tubules curve, with a
    /// fraction of edges removed. Typical foreground fraction 5-25%.
    /// </summary>
    Filaments = 0,

    /// <summary>
    /// Blob-like nuclei: ellipses with slightly irregular (low-order Fourier) borders and a mild
    /// chromatin texture, some touching or overlapping. Typical foreground fraction 10-40%.
    /// </summary>
    Nuclei = 1,
}

/// <summary>
/// Options of <see cref="SyntheticData.Fluorescence"/>: one-channel fluorescence-like images whose
/// binary mask (0/1) is the structure. Image = structure intensity convolved with a Gaussian PSF,
/// plus background, then Poisson shot noise and Gaussian read noise, clamped to [0, 1].
/// </summary>
public sealed class SyntheticFluorescenceOptions
{
    /// <summary>Structure kind. Default <see cref="SyntheticFluorescenceKind.Filaments"/>.</summary>
    public SyntheticFluorescenceKind Kind { get; init; } = SyntheticFluorescenceKind.Filaments;

    /// <summary>Image width in pixels, in [16, 8192]. Default 256.</summary>
    public int Width { get; init; } = 256;

    /// <summary>Image height in pixels, in [16, 8192]. Default 256.</summary>
    public int Height { get; init; } = 256;

    /// <summary>Standard deviation of the Gaussian point-spread function in pixels, in [0, 20]; 0 disables blur. Default 1.2.</summary>
    public double BlurSigma { get; init; } = 1.2;

    /// <summary>Standard deviation of the additive Gaussian read noise (intensity units, full scale 1), in [0, 1]. Default 0.04.</summary>
    public double NoiseLevel { get; init; } = 0.04;

    /// <summary>Expected photon count at intensity 1 for Poisson shot noise, in [0, 1e6]; 0 disables shot noise. Lower is noisier. Default 200.</summary>
    public double PhotonCount { get; init; } = 200;

    /// <summary>Mean background intensity, in [0, 1]. Default 0.1.</summary>
    public double Background { get; init; } = 0.1;

    /// <summary>Relative low-frequency variation of the background (uneven illumination), in [0, 1]. Default 0.3.</summary>
    public double BackgroundVariation { get; init; } = 0.3;

    /// <summary>Mean structure intensity above background before blurring, in (0, 1]. Default 0.6.</summary>
    public double SignalIntensity { get; init; } = 0.6;

    /// <summary>Relative brightness variation between structures (tubules, nuclei), in [0, 1). Default 0.3.</summary>
    public double IntensityVariation { get; init; } = 0.3;

    /// <summary>Filaments: mean mesh size of the network (Voronoi cell spacing) in pixels, in [6, 512]. Default 24.</summary>
    public double FilamentSpacing { get; init; } = 24;

    /// <summary>Filaments: smallest tubule width in pixels, in [0.5, 20]. Default 1.</summary>
    public double FilamentWidthMin { get; init; } = 1;

    /// <summary>Filaments: largest tubule width in pixels, in [FilamentWidthMin, 20]. Default 3.</summary>
    public double FilamentWidthMax { get; init; } = 3;

    /// <summary>Filaments: fraction of network edges removed, in [0, 0.9]. Default 0.2.</summary>
    public double FilamentGapFraction { get; init; } = 0.2;

    /// <summary>Filaments: amplitude in pixels of the smooth warp that curves the tubules, in [0, 20]. Default 3.</summary>
    public double FilamentWaviness { get; init; } = 3;

    /// <summary>Nuclei: smallest nucleus radius in pixels, in [2, 256]. Default 8.</summary>
    public double NucleusRadiusMin { get; init; } = 8;

    /// <summary>Nuclei: largest nucleus radius in pixels, in [NucleusRadiusMin, 256]. Default 18.</summary>
    public double NucleusRadiusMax { get; init; } = 18;

    /// <summary>Nuclei: target summed nucleus area as a fraction of the image (before overlaps and clipping), in (0, 0.6]. Default 0.28.</summary>
    public double NucleusCoverage { get; init; } = 0.28;

    /// <summary>Nuclei: border irregularity (relative amplitude of the radius modulation), in [0, 0.3]. Default 0.08.</summary>
    public double NucleusIrregularity { get; init; } = 0.08;

    /// <summary>
    /// Nuclei: minimum centre distance as a multiple of the sum of the two (mean) radii, in [0.5, 2].
    /// Values below 1 let some nuclei touch or overlap. Default 0.9.
    /// </summary>
    public double NucleusSpacing { get; init; } = 0.9;

    /// <summary>Checks every option; throws an exception naming the first invalid one.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public void Validate()
    {
        if (!Enum.IsDefined(Kind))
            throw new ArgumentOutOfRangeException(nameof(Kind), Kind, $"{nameof(Kind)} must be Filaments or Nuclei.");
        Range(Width, 16, 8192, nameof(Width));
        Range(Height, 16, 8192, nameof(Height));
        Range(BlurSigma, 0, 20, nameof(BlurSigma));
        Range(NoiseLevel, 0, 1, nameof(NoiseLevel));
        Range(PhotonCount, 0, 1e6, nameof(PhotonCount));
        Range(Background, 0, 1, nameof(Background));
        Range(BackgroundVariation, 0, 1, nameof(BackgroundVariation));
        if (!(SignalIntensity > 0 && SignalIntensity <= 1))
            throw new ArgumentOutOfRangeException(nameof(SignalIntensity), SignalIntensity, $"{nameof(SignalIntensity)} must be a number in (0, 1].");
        if (!(IntensityVariation >= 0 && IntensityVariation < 1))
            throw new ArgumentOutOfRangeException(nameof(IntensityVariation), IntensityVariation, $"{nameof(IntensityVariation)} must be a number in [0, 1).");
        Range(FilamentSpacing, 6, 512, nameof(FilamentSpacing));
        Range(FilamentWidthMin, 0.5, 20, nameof(FilamentWidthMin));
        Range(FilamentWidthMax, FilamentWidthMin, 20, nameof(FilamentWidthMax));
        Range(FilamentGapFraction, 0, 0.9, nameof(FilamentGapFraction));
        Range(FilamentWaviness, 0, 20, nameof(FilamentWaviness));
        Range(NucleusRadiusMin, 2, 256, nameof(NucleusRadiusMin));
        Range(NucleusRadiusMax, NucleusRadiusMin, 256, nameof(NucleusRadiusMax));
        if (!(NucleusCoverage > 0 && NucleusCoverage <= 0.6))
            throw new ArgumentOutOfRangeException(nameof(NucleusCoverage), NucleusCoverage, $"{nameof(NucleusCoverage)} must be a number in (0, 0.6].");
        Range(NucleusIrregularity, 0, 0.3, nameof(NucleusIrregularity));
        Range(NucleusSpacing, 0.5, 2, nameof(NucleusSpacing));
    }

    internal static void Range(double value, double min, double max, string name)
    {
        if (double.IsNaN(value) || value < min || value > max)
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be a number in [{min}, {max}].");
    }

    internal static void Range(int value, int min, int max, string name)
    {
        if (value < min || value > max)
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be an integer in [{min}, {max}].");
    }
}
