using MLNet.NoisySeg.Data;

namespace MLNet.NoisySeg.Tests.TestSupport;

/// <summary>A temporary split folder (images/ + masks/) holding one image/mask pair, written from raw bytes.</summary>
internal sealed class SplitFolder : IDisposable
{
    private readonly TempFolder _tmp = TestPaths.NewTemp();

    public SplitFolder(string name = "x.png")
    {
        ImagePath = System.IO.Path.Combine(_tmp.Path, "images", name);
        MaskPath = System.IO.Path.Combine(_tmp.Path, "masks", name);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(ImagePath)!);
    }

    public string Path => _tmp.Path;
    public string ImagePath { get; }
    public string MaskPath { get; }

    /// <summary>Writes the image; removes the masks folder when <paramref name="mask"/> is null.</summary>
    public SplitFolder With(byte[] image, byte[]? mask)
    {
        File.WriteAllBytes(ImagePath, image);
        string masks = System.IO.Path.GetDirectoryName(MaskPath)!;
        if (mask is null)
        {
            if (Directory.Exists(masks)) Directory.Delete(masks, true);
        }
        else
        {
            Directory.CreateDirectory(masks);
            File.WriteAllBytes(MaskPath, mask);
        }
        return this;
    }

    /// <summary>An 8-bit gray PNG image (a gradient) of the given size.</summary>
    public static byte[] GrayImage(int width, int height)
        => RawPng.Encode(width, height, 0, 8, ImageFixtures.Gradient(width, height).Select(v => (ushort)v).ToArray());

    public IReadOnlyList<SegmentationItem> Load(SegmentationFolderOptions options) => SegmentationFolderLoader.Load(Path, options);

    public void Dispose() => _tmp.Dispose();
}
