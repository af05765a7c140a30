namespace MLNet.NoisySeg.Data;

/// <summary>How class labels are stored in mask files.</summary>
public enum MaskEncoding
{
    /// <summary>
    /// Binary: pixels equal to <see cref="SegmentationFolderOptions.ForegroundValue"/> are foreground (class 1),
    /// all others background (class 0). ISBI 2012 stores its membranes (the structure) as 0.
    /// </summary>
    Binary,

    /// <summary>Gray-level class indices 0..ClassCount-1, with an optional ignore value (CamVid: 11).</summary>
    ClassIndex,

    /// <summary>RGB colours mapped to classes through <see cref="SegmentationFolderOptions.Palette"/>.</summary>
    RgbPalette,
}
