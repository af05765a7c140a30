namespace MLNet.NoisySeg.Data;

/// <summary>
/// Thrown when a segmentation data set on disk is not what the loader expects: a missing partner
/// file, a size mismatch, an unreadable, truncated or corrupt image, an unsupported format, a header declaring
/// more pixels than <see cref="SegmentationFolderOptions.MaxImagePixels"/>, a mask value that cannot be read
/// without changing labels, a class index out of range, an empty folder or a wrong channel count.
/// <see cref="FilePath"/> names the offending file or folder.
/// </summary>
public sealed class SegmentationDataException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="filePath">The file or folder at fault.</param>
    /// <param name="message">What was found and what was expected.</param>
    /// <param name="inner">The underlying error, if any.</param>
    public SegmentationDataException(string filePath, string message, Exception? inner = null)
        : base($"{filePath}: {message}", inner)
    {
        FilePath = filePath;
    }

    /// <summary>The file or folder at fault.</summary>
    public string FilePath { get; }
}
