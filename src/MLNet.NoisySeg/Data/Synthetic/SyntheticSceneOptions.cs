namespace MLNet.NoisySeg.Data.Synthetic;

/// <summary>
/// Options of <see cref="SyntheticData.Scene"/>: RGB images (3 channels, values in [0, 1]) of
/// textured shapes on a textured background, with masks of class indices. Class 0 is the
/// background; foreground classes have a fixed shape, colour and texture:
/// 1 = disks (red, grain), 2 = rotated rectangles (green, stripes), 3 = triangles (blue, checkerboard),
/// 4 = rings (yellow, dots), 5 = diamonds (magenta, hatching). Later shapes occlude earlier ones.
/// </summary>
public sealed class SyntheticSceneOptions
{
    /// <summary>Image width in pixels, in [16, 8192]. Default 256.</summary>
    public int Width { get; init; } = 256;

    /// <summary>Image height in pixels, in [16, 8192]. Default 256.</summary>
    public int Height { get; init; } = 256;

    /// <summary>Number of classes including the background, in [2, 6]. Default 4 (background + 3 shape classes).</summary>
    public int ClassCount { get; init; } = 4;

    /// <summary>Number of shapes per image, in [1, 1000]; classes are assigned round-robin from a random start, so every class appears when ObjectCount &gt;= ClassCount - 1. Default 12.</summary>
    public int ObjectCount { get; init; } = 12;

    /// <summary>Smallest shape radius in pixels, in [3, 1024]. Default 10.</summary>
    public double ObjectRadiusMin { get; init; } = 10;

    /// <summary>Largest shape radius in pixels, in [ObjectRadiusMin, 1024]. Default 30.</summary>
    public double ObjectRadiusMax { get; init; } = 30;

    /// <summary>Relative per-object colour jitter, in [0, 0.5]. Default 0.1.</summary>
    public double ColorJitter { get; init; } = 0.1;

    /// <summary>Standard deviation of the Gaussian blur in pixels, in [0, 20]. Default 0.7.</summary>
    public double BlurSigma { get; init; } = 0.7;

    /// <summary>Standard deviation of the additive Gaussian noise per channel, in [0, 1]. Default 0.04.</summary>
    public double NoiseLevel { get; init; } = 0.04;

    /// <summary>Checks every option; throws an exception naming the first invalid one.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public void Validate()
    {
        SyntheticFluorescenceOptions.Range(Width, 16, 8192, nameof(Width));
        SyntheticFluorescenceOptions.Range(Height, 16, 8192, nameof(Height));
        SyntheticFluorescenceOptions.Range(ClassCount, 2, SyntheticData.MaxSceneClassCount, nameof(ClassCount));
        SyntheticFluorescenceOptions.Range(ObjectCount, 1, 1000, nameof(ObjectCount));
        SyntheticFluorescenceOptions.Range(ObjectRadiusMin, 3, 1024, nameof(ObjectRadiusMin));
        SyntheticFluorescenceOptions.Range(ObjectRadiusMax, ObjectRadiusMin, 1024, nameof(ObjectRadiusMax));
        SyntheticFluorescenceOptions.Range(ColorJitter, 0, 0.5, nameof(ColorJitter));
        SyntheticFluorescenceOptions.Range(BlurSigma, 0, 20, nameof(BlurSigma));
        SyntheticFluorescenceOptions.Range(NoiseLevel, 0, 1, nameof(NoiseLevel));
    }
}
