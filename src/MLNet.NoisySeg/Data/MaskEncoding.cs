namespace MLNet.NoisySeg.Data;

/// <summary>How class labels are stored in mask files.</summary>
public enum MaskEncoding
{
    /// <summary>
    /// Binary: pixels equal to <see cref="SegmentationFolderOptions.ForegroundValue"/> are foreground (class 1),
    /// all others background (class 0). ISBI 2012 stores its membranes (the structure) as 0. Values are 8-bit gray
    /// values: 1/2/4-bit PNG masks are scaled exactly (1-bit 1 = 255); 16-bit PNG masks must hold multiples of
    /// 257 (widened 8-bit values) or are refused.
    /// </summary>
    Binary,

    /// <summary>
    /// Gray-level class indices 0..ClassCount-1, with an optional ignore value (CamVid: 11). Indices are the samples
    /// as stored, at the file's bit depth (1, 2, 4, 8 or 16 bits for PNG), never rescaled; out-of-range values are refused.
    /// </summary>
    ClassIndex,

    /// <summary>
    /// RGB colours mapped to classes through <see cref="SegmentationFolderOptions.Palette"/>. Colours are 8-bit per
    /// channel; 16-bit PNG masks must hold multiples of 257 or are refused.
    /// </summary>
    RgbPalette,
}
