using MLNet.NoisySeg.Data.Preprocessing;

namespace MLNet.NoisySeg.Data.Synthetic;

/// <summary>Turns generated samples into loader-equivalent items and data set folders.</summary>
public static class SyntheticDataSets
{
    /// <summary>
    /// A copy of a generated sample as the folder loader would return it after <see cref="WriteSplit"/>: z-scored per
    /// image (the loader's default; the generator's intensities are in [0, 1]).
    /// </summary>
    /// <param name="sample">A generated sample.</param>
    /// <param name="zScore">Normalise per image (default), else keep the [0, 1] intensities.</param>
    public static SegmentationItem AsLoaded(this SegmentationItem sample, bool zScore = true)
    {
        ArgumentNullException.ThrowIfNull(sample);
        var image = (float[])sample.Image.Clone();
        if (zScore) Normalization.ZScore(image, sample.Channels, sample.Height, sample.Width, perChannel: false);
        return sample with { Image = image, Mask = (byte[]?)sample.Mask?.Clone() };
    }

    /// <summary>
    /// Writes samples as a split folder in the library layout (<c>images/NAME.png</c>, <c>masks/NAME.png</c> with class
    /// indices as gray values; binary masks as 0/255 so they can be viewed, load them with
    /// <see cref="SegmentationFolderOptions.BinaryMasks(int)"/>). Files are written atomically.
    /// </summary>
    /// <param name="samples">The samples.</param>
    /// <param name="splitFolder">Destination split folder.</param>
    /// <param name="binary">Write masks as 0/255 (binary) instead of raw class indices.</param>
    public static void WriteSplit(IEnumerable<SegmentationItem> samples, string splitFolder, bool binary)
    {
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentException.ThrowIfNullOrWhiteSpace(splitFolder);
        foreach (var s in samples)
        {
            string name = s.Name + ".png";
            PngWriter.WriteScaled(Path.Combine(splitFolder, "images", name), s.Image, s.Channels, s.Height, s.Width, PixelScaling.UnitRange);
            var labels = s.Mask ?? throw new ArgumentException($"Sample '{s.Name}' has no mask.", nameof(samples));
            var mask = binary ? labels.Select(v => v == 0 ? (byte)0 : (byte)255).ToArray() : labels;
            PngWriter.WriteGray(Path.Combine(splitFolder, "masks", name), mask, s.Width, s.Height);
        }
    }
}
