namespace MLNet.NoisySeg.Data;

/// <summary>
/// One image of a segmentation data set in memory: a planar float image <c>[C, H, W]</c> and, when
/// labelled, a row-major class-index mask <c>[H, W]</c> (see <see cref="Core.MaskConventions"/>).
/// </summary>
/// <param name="Name">Stable identity of the item (its file name); also keys the random streams.</param>
/// <param name="Image">Pixel values, planar <c>[C, H, W]</c>.</param>
/// <param name="Channels">C.</param>
/// <param name="Height">H.</param>
/// <param name="Width">W.</param>
/// <param name="Mask">Class indices <c>[H, W]</c>; null for unlabelled images.</param>
public sealed record SegmentationItem(string Name, float[] Image, int Channels, int Height, int Width, byte[]? Mask)
{
    /// <summary>Number of pixels per channel (H x W).</summary>
    public int PixelCount => Height * Width;

    /// <summary>The full path of the image file this item was loaded from (set by the folder loader); null otherwise.</summary>
    public string? ImagePath { get; init; }
}
