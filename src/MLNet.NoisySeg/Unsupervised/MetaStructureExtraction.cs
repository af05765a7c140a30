using System.Buffers;
using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Morphology;
using MLNet.NoisySeg.Noise;

namespace MLNet.NoisySeg.Unsupervised;

/// <summary>Options of EMS ("extract meta-structure", step 3 of iGTT).</summary>
public sealed record MetaStructureExtractionOptions
{
    /// <summary>Pixel-shift radius r (the paper: 1). 0 keeps the skeleton in place.</summary>
    public int ShiftRadius { get; init; } = 1;

    /// <summary>Fraction p of the shifted skeleton pixels kept, exactly ceil(p · N) chosen at random (the paper: 0.1).</summary>
    public double KeepFraction { get; init; } = 0.1;

    /// <summary>
    /// Invert a mask whose foreground covers more than half of its (non-ignored) pixels before skeletonizing (the
    /// paper's rule; default true). iGTT turns it off: it fixes one orientation for all images and bounds the
    /// candidates' share instead (<see cref="IgttOptions.MaxForegroundShare"/>), so that no image is flipped against
    /// the others.
    /// </summary>
    public bool InvertMajority { get; init; } = true;

    /// <summary>Throws naming the first invalid option.</summary>
    public void Validate()
    {
        if (ShiftRadius is < 0 or > BinaryMorphology.MaxRadius)
            throw new ArgumentOutOfRangeException(nameof(ShiftRadius), ShiftRadius, $"ShiftRadius must be in [0, {BinaryMorphology.MaxRadius}].");
        if (!double.IsFinite(KeepFraction) || KeepFraction <= 0 || KeepFraction > 1)
            throw new ArgumentOutOfRangeException(nameof(KeepFraction), KeepFraction, "KeepFraction must be a number in (0, 1].");
    }
}

/// <summary>What EMS did to one mask.</summary>
/// <param name="Inverted">The mask had more foreground than background and was inverted first (only with <see cref="MetaStructureExtractionOptions.InvertMajority"/>).</param>
/// <param name="SkeletonPixels">Pixels of the skeleton.</param>
/// <param name="ShiftedPixels">Pixels after the shift (coinciding pixels merge).</param>
/// <param name="KeptPixels">Pixels of the output.</param>
public sealed record MetaStructureExtractionResult(bool Inverted, int SkeletonPixels, int ShiftedPixels, int KeptPixels);

/// <summary>
/// EMS: turns a candidate mask into sparse pseudo-labels that keep its meta-structure (step 3 of iGTT, Luo et al., AAAI 2022):
/// invert it if its foreground covers more than half the image (<see cref="MetaStructureExtractionOptions.InvertMajority"/>), skeletonize (<see cref="BinaryMorphology.Skeletonize"/>),
/// shift each pixel within r (<see cref="BinaryMorphology.Shift"/>) and keep a random fraction p
/// (<see cref="LabelNoiseSpec.Sampling"/>). All randomness comes from one stream, e.g.
/// <c>SeededRandom.For(seed, imageId, round)</c>, so the output depends only on (seed, image, round).
/// </summary>
public static class MetaStructureExtraction
{
    /// <summary>Applies EMS to a binary mask (0 background, other values foreground; 255 is ignore and stays 255).</summary>
    /// <param name="mask">The candidate mask (width x height).</param>
    /// <param name="output">The pseudo-labels, same size; must not overlap <paramref name="mask"/>.</param>
    /// <param name="width">Mask width.</param>
    /// <param name="height">Mask height.</param>
    /// <param name="options">Shift radius and keep fraction.</param>
    /// <param name="rng">The image's random stream.</param>
    public static MetaStructureExtractionResult Extract(ReadOnlySpan<byte> mask, Span<byte> output, int width, int height,
        MetaStructureExtractionOptions options, ref SeededRandom rng)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Guard.MaskSize(mask.Length, width, height, nameof(mask));
        Guard.MaskSize(output.Length, width, height, nameof(output));
        if (mask.Overlaps(output)) throw new ArgumentException("output must not overlap mask.", nameof(output));

        int n = mask.Length, fg = 0, valid = 0;
        foreach (byte v in mask)
        {
            if (v == MaskConventions.IgnoreIndex) continue;
            valid++;
            if (v != 0) fg++;
        }
        bool invert = options.InvertMajority && 2 * fg > valid;
        byte[] a = ArrayPool<byte>.Shared.Rent(n), b = ArrayPool<byte>.Shared.Rent(n);
        try
        {
            var bin = a.AsSpan(0, n);
            var tmp = b.AsSpan(0, n);
            for (int i = 0; i < n; i++)
            {
                byte v = mask[i];
                bin[i] = v == MaskConventions.IgnoreIndex ? MaskConventions.IgnoreIndex : (byte)((v != 0) ^ invert ? 1 : 0);
            }
            BinaryMorphology.Skeletonize(bin, tmp, width, height);
            int skeleton = CountForeground(tmp);
            BinaryMorphology.Shift(tmp, bin, width, height, options.ShiftRadius, ref rng);
            int shifted = CountForeground(bin);
            LabelNoiseSpec.Sampling(options.KeepFraction).Apply(bin, output, width, height, ref rng);
            return new MetaStructureExtractionResult(invert, skeleton, shifted, CountForeground(output));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(a);
            ArrayPool<byte>.Shared.Return(b);
        }
    }

    /// <summary>EMS of one image with the stream <c>SeededRandom.For(seed, imageId, round)</c>.</summary>
    /// <param name="mask">The candidate mask.</param>
    /// <param name="width">Mask width.</param>
    /// <param name="height">Mask height.</param>
    /// <param name="options">Shift radius and keep fraction.</param>
    /// <param name="seed">The user's seed.</param>
    /// <param name="imageId">Stable identity of the image.</param>
    /// <param name="round">The iGTT round.</param>
    public static byte[] Extract(ReadOnlySpan<byte> mask, int width, int height, MetaStructureExtractionOptions options, int seed, string imageId, int round)
    {
        var rng = SeededRandom.For(seed, "noisyseg/ems/" + imageId, round);
        var output = new byte[mask.Length];
        Extract(mask, output, width, height, options, ref rng);
        return output;
    }

    private static int CountForeground(ReadOnlySpan<byte> m)
    {
        int c = 0;
        foreach (byte v in m) if (v != 0 && v != MaskConventions.IgnoreIndex) c++;
        return c;
    }
}
