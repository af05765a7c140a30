namespace MLNet.NoisySeg.Core;

/// <summary>
/// How masks are represented everywhere in the library: a row-major <see cref="byte"/> buffer of
/// width x height class indices. Binary masks use 0 = background and 1 = foreground. The value
/// <see cref="IgnoreIndex"/> marks pixels that are never corrupted and never scored.
/// </summary>
public static class MaskConventions
{
    /// <summary>The canonical ignore value inside mask columns (loaders map e.g. CamVid's 11 to it).</summary>
    public const byte IgnoreIndex = 255;

    /// <summary>Background class of binary masks.</summary>
    public const byte Background = 0;

    /// <summary>Foreground class of binary masks.</summary>
    public const byte Foreground = 1;

    /// <summary>Largest number of classes a mask can hold (0..254; 255 is ignore).</summary>
    public const int MaxClassCount = 255;
}
