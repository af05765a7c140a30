using MLNet.NoisySeg.Data.Preprocessing;

namespace MLNet.NoisySeg.Data.Synthetic;

/// <summary>Turns synthetic samples into data-layer items and data set folders.</summary>
public static class SyntheticDataSets
{
    /// <summary>
    /// The sample as a <see cref="SegmentationItem"/>, z-scored per image like the folder loader does by default.
    /// </summary>
    /// <param name="sample">The sample.</param>
    /// <param name="zScore">Normalise per image (default), else keep the [0, 1] intensities.</param>
    public static SegmentationItem ToItem(this SyntheticSample sample, bool zScore = true)
    {
        ArgumentNullException.ThrowIfNull(sample);
        var image = (float[])sample.Image.Clone();
        if (zScore) Normalization.ZScore(image, sample.Channels, sample.Height, sample.Width, perChannel: false);
        return new SegmentationItem(sample.Name, image, sample.Channels, sample.Height, sample.Width, (byte[])sample.Mask.Clone());
    }

    /// <summary>
    /// Writes samples as a split folder in the library layout (<c>images/NAME.png</c>, <c>masks/NAME.png</c> with class
    /// indices as gray values; binary masks as 0/255 so they can be viewed, load them with
    /// <see cref="SegmentationFolderOptions.BinaryMasks(int)"/>). Files are written atomically.
    /// </summary>
    /// <param name="samples">The samples.</param>
    /// <param name="splitFolder">Destination split folder.</param>
    /// <param name="binary">Write masks as 0/255 (binary) instead of raw class indices.</param>
    public static void WriteSplit(IEnumerable<SyntheticSample> samples, string splitFolder, bool binary)
    {
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentException.ThrowIfNullOrWhiteSpace(splitFolder);
        foreach (var s in samples)
        {
            string name = s.Name + ".png";
            PngWriter.WriteScaled(Path.Combine(splitFolder, "images", name), s.Image, s.Channels, s.Height, s.Width, PixelScaling.UnitRange);
            var mask = binary ? s.Mask.Select(v => v == 0 ? (byte)0 : (byte)255).ToArray() : s.Mask;
            PngWriter.WriteGray(Path.Combine(splitFolder, "masks", name), mask, s.Width, s.Height);
        }
    }
}
