namespace MLNet.NoisySeg.Training;

/// <summary>How overlapping tiles are blended (MONAI sliding-window inference's <c>mode</c>).</summary>
public enum TileBlending
{
    /// <summary>Every tile pixel weighs the same: overlaps are averaged.</summary>
    Constant,

    /// <summary>A Gaussian centred on each tile (sigma = <see cref="SegmentationPredictionOptions.GaussianSigmaScale"/> x tile size): tile borders weigh least.</summary>
    Gaussian,

    /// <summary>
    /// No averaging: every pixel comes from the one tile whose centre region holds it (the regions meet halfway across each
    /// overlap), the U-Net paper's overlap-tile strategy. When half the overlap is at least the network's receptive-field
    /// radius (<see cref="Networks.UNetOptions.ReceptiveFieldRadius"/>), every pixel is computed from the same input
    /// neighbourhood as in whole-image prediction, so the result equals it up to float rounding.
    /// </summary>
    Center,
}

/// <summary>Test-time augmentation: the network also sees transformed copies; the outputs, transformed back, are averaged.</summary>
public enum TestTimeAugmentation
{
    /// <summary>None: one pass.</summary>
    None,

    /// <summary>Identity, left-right flip, top-bottom flip and both (4 passes).</summary>
    Flips,

    /// <summary>All eight flips and 90-degree rotations (the dihedral group; 8 passes).</summary>
    Dihedral,
}

/// <summary>
/// How a trained model predicts one image: whole, or by overlapping tiles blended at the borders (sliding-window inference,
/// after MONAI's <c>sliding_window_inference</c>: roi size, overlap 0.25, constant or Gaussian blending), at the image's own
/// resolution; optionally with test-time augmentation. Tiles keep memory bounded for images far larger than the training
/// size; where a tile and the whole image both fit, the tiled result equals the whole-image one up to the tile borders the
/// network's receptive field reaches (the Gaussian weights keep those small).
/// </summary>
public sealed record SegmentationPredictionOptions
{
    /// <summary>Defaults.</summary>
    public static class Defaults
    {
        /// <summary>Overlap of neighbouring tiles, as a fraction of the tile size (MONAI's default).</summary>
        public const double TileOverlap = 0.25;
        /// <summary>Gaussian sigma as a fraction of the tile size (MONAI's default).</summary>
        public const double GaussianSigmaScale = 0.125;
        /// <summary>Tiles per forward pass.</summary>
        public const int BatchSize = 4;
    }

    /// <summary>
    /// Tile side in pixels: images larger than it in either direction are predicted tile by tile. It is rounded down to a
    /// multiple of 2^Depth of the network (so tiles share the whole image's pooling grid), and to the image when smaller.
    /// Null (default) predicts every image whole.
    /// </summary>
    public int? TileSize { get; init; }

    /// <summary>Overlap of neighbouring tiles as a fraction of the tile size, in [0, 0.95]. Default 0.25.</summary>
    public double TileOverlap { get; init; } = Defaults.TileOverlap;

    /// <summary>How overlapping tiles are blended. Default <see cref="TileBlending.Gaussian"/>.</summary>
    public TileBlending Blending { get; init; } = TileBlending.Gaussian;

    /// <summary>Gaussian blending: sigma as a fraction of the tile size, in (0, 10]. Default 0.125.</summary>
    public double GaussianSigmaScale { get; init; } = Defaults.GaussianSigmaScale;

    /// <summary>Test-time augmentation. Default none.</summary>
    public TestTimeAugmentation TestTimeAugmentation { get; init; } = TestTimeAugmentation.None;

    /// <summary>Tiles per forward pass (memory grows with it). Default 4.</summary>
    public int BatchSize { get; init; } = Defaults.BatchSize;

    /// <summary>Whole-image prediction without augmentation (the default).</summary>
    public static SegmentationPredictionOptions WholeImage { get; } = new();

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        if (TileSize is < 1) throw new ArgumentOutOfRangeException(nameof(TileSize), TileSize, "TileSize must be null (whole images) or at least 1.");
        if (!double.IsFinite(TileOverlap) || TileOverlap < 0 || TileOverlap > 0.95)
            throw new ArgumentOutOfRangeException(nameof(TileOverlap), TileOverlap, "TileOverlap must be in [0, 0.95].");
        if (!Enum.IsDefined(Blending)) throw new ArgumentOutOfRangeException(nameof(Blending), Blending, "Blending must be Constant, Gaussian or Center.");
        if (!double.IsFinite(GaussianSigmaScale) || GaussianSigmaScale <= 0 || GaussianSigmaScale > 10)
            throw new ArgumentOutOfRangeException(nameof(GaussianSigmaScale), GaussianSigmaScale, "GaussianSigmaScale must be in (0, 10].");
        if (!Enum.IsDefined(TestTimeAugmentation))
            throw new ArgumentOutOfRangeException(nameof(TestTimeAugmentation), TestTimeAugmentation, "TestTimeAugmentation must be None, Flips or Dihedral.");
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize must be at least 1.");
    }
}
