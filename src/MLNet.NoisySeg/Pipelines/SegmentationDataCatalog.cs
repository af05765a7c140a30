using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Pipelines;

namespace Microsoft.ML;

/// <summary>Data-loading extensions for segmentation data sets on <see cref="DataOperationsCatalog"/>: <c>mlContext.Data</c>.</summary>
public static class SegmentationDataCatalog
{
    /// <summary>
    /// Loads one split folder (<c>images/</c> + <c>masks/</c> with identical file names) into an <see cref="IDataView"/>
    /// with columns Image <c>Vector&lt;Single, C, H, W&gt;</c>, Mask <c>Vector&lt;Byte, H, W&gt;</c> (class indices, 255 = ignore;
    /// absent when <see cref="SegmentationFolderOptions.LoadMasks"/> is false or images lack masks) and Name (file name).
    /// Every file is decoded once.
    /// </summary>
    /// <param name="catalog">The data catalog (<c>mlContext.Data</c>).</param>
    /// <param name="splitFolder">The split folder, e.g. <c>data/isbi2012_em_membrane/train</c>.</param>
    /// <param name="options">Mask encoding, size and normalisation; defaults when null.</param>
    /// <exception cref="SegmentationDataException">A file or folder is missing, unreadable or inconsistent.</exception>
    public static IDataView LoadFromSegmentationFolder(this DataOperationsCatalog catalog, string splitFolder, SegmentationFolderOptions? options = null)
        => SegmentationDataView.Create(catalog ?? throw new ArgumentNullException(nameof(catalog)), SegmentationFolderLoader.Load(splitFolder, options));
}
