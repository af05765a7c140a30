using MLNet.NoisySeg.Data.Preprocessing;

namespace MLNet.NoisySeg.Unsupervised;

/// <summary>Which side of a threshold is foreground.</summary>
public enum ThresholdPolarity
{
    /// <summary>Bright structures on a dark background (fluorescence): foreground is above the threshold.</summary>
    Bright,

    /// <summary>Dark structures on a bright background (e.g. EM membranes): foreground is below the threshold.</summary>
    Dark,
}

/// <summary>
/// Classic unsupervised baselines on one image (planar <c>[C, H, W]</c>; several channels are averaged): Otsu's
/// global threshold per image and an adaptive threshold against the local Gaussian-weighted mean (as OpenCV's
/// ADAPTIVE_THRESH_GAUSSIAN_C: foreground where v &gt; G_σ * v - offset, for bright polarity). Each also returns a
/// score per pixel in [0, 1] (higher = more foreground) for AUC.
/// </summary>
public static class ThresholdBaselines
{
    /// <summary>Default Gaussian sigma (pixels) of the adaptive threshold.</summary>
    public const double DefaultSigma = 8;

    /// <summary>
    /// Otsu's threshold of one image (<see cref="Decoding.Otsu"/>, 256 bins). Returns the threshold in the image's
    /// own units (on the channel mean, after orienting by <paramref name="polarity"/>: for Dark, on -v).
    /// </summary>
    /// <param name="image">Planar pixels.</param>
    /// <param name="channels">C.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="polarity">Which side is foreground.</param>
    /// <param name="mask">Output mask (H x W), 1 = foreground.</param>
    /// <param name="score">Optional output (H x W): the oriented intensity min-max scaled to [0, 1].</param>
    public static double Otsu(ReadOnlySpan<float> image, int channels, int height, int width, ThresholdPolarity polarity, Span<byte> mask, Span<float> score = default)
    {
        var v = Oriented(image, channels, height, width, polarity);
        CheckOut(mask, score, v.Length);
        double t = Decoding.Otsu.Threshold(v);
        for (int i = 0; i < v.Length; i++) mask[i] = v[i] > t ? (byte)1 : (byte)0;
        if (!score.IsEmpty) MinMax(v, score);
        return t;
    }

    /// <summary>Adaptive local threshold: foreground where the oriented value exceeds its Gaussian-weighted local mean minus <paramref name="offset"/>.</summary>
    /// <param name="image">Planar pixels.</param>
    /// <param name="channels">C.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="sigma">Gaussian sigma in pixels (&gt; 0); the library's kernel truncated at 4σ (<see cref="Core.GaussianKernel"/>), reflected borders.</param>
    /// <param name="offset">Subtracted from the local mean (OpenCV's C), in image units.</param>
    /// <param name="polarity">Which side is foreground.</param>
    /// <param name="mask">Output mask (H x W).</param>
    /// <param name="score">Optional output (H x W): v - local mean, min-max scaled to [0, 1].</param>
    public static void Adaptive(ReadOnlySpan<float> image, int channels, int height, int width, double sigma, double offset,
        ThresholdPolarity polarity, Span<byte> mask, Span<float> score = default)
    {
        if (!double.IsFinite(sigma) || sigma <= 0) throw new ArgumentOutOfRangeException(nameof(sigma), sigma, "sigma must be a finite number greater than 0.");
        if (!double.IsFinite(offset)) throw new ArgumentOutOfRangeException(nameof(offset), offset, "offset must be finite.");
        var v = Oriented(image, channels, height, width, polarity);
        CheckOut(mask, score, v.Length);
        var local = (float[])v.Clone();
        Filtering.GaussianBlur(local, height, width, sigma);
        var d = new float[v.Length];
        for (int i = 0; i < v.Length; i++)
        {
            d[i] = v[i] - local[i];
            mask[i] = d[i] > -offset ? (byte)1 : (byte)0;
        }
        if (!score.IsEmpty) MinMax(d, score);
    }

    private static float[] Oriented(ReadOnlySpan<float> image, int channels, int height, int width, ThresholdPolarity polarity)
    {
        if (channels < 1) throw new ArgumentOutOfRangeException(nameof(channels), channels, "channels must be at least 1.");
        if (height < 1) throw new ArgumentOutOfRangeException(nameof(height), height, "height must be at least 1.");
        if (width < 1) throw new ArgumentOutOfRangeException(nameof(width), width, "width must be at least 1.");
        if (!Enum.IsDefined(polarity)) throw new ArgumentOutOfRangeException(nameof(polarity), polarity, "polarity must be Bright or Dark.");
        int plane = height * width;
        if (image.Length != channels * plane) throw new ArgumentException($"image has {image.Length} values; expected {channels}x{height}x{width}.", nameof(image));
        var v = new float[plane];
        float sign = polarity == ThresholdPolarity.Dark ? -1f : 1f;
        for (int ch = 0; ch < channels; ch++)
        {
            var src = image.Slice(ch * plane, plane);
            for (int i = 0; i < plane; i++) v[i] += sign * src[i] / channels;
        }
        return v;
    }

    private static void CheckOut(Span<byte> mask, Span<float> score, int plane)
    {
        if (mask.Length != plane) throw new ArgumentException($"mask has {mask.Length} pixels; expected {plane}.", nameof(mask));
        if (!score.IsEmpty && score.Length != plane) throw new ArgumentException($"score has {score.Length} values; expected {plane}.", nameof(score));
    }

    private static void MinMax(ReadOnlySpan<float> v, Span<float> dst)
    {
        float min = float.PositiveInfinity, max = float.NegativeInfinity;
        foreach (float x in v) { if (x < min) min = x; if (x > max) max = x; }
        float scale = max > min ? 1f / (max - min) : 0f;
        for (int i = 0; i < v.Length; i++) dst[i] = (v[i] - min) * scale;
    }
}
