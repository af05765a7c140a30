using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Pipelines;
using MLNet.NoisySeg.Tests.TestSupport;

namespace MLNet.NoisySeg.Tests.Data;

[TestClass]
public class SegmentationFolderLoaderTests
{
    [TestMethod]
    public void Isbi_LoadsBinaryMembranesWithZeroAsForeground()
    {
        var items = SegmentationFolderLoader.Load(Path.Combine(TestPaths.Isbi, "train"), SegmentationFolderOptions.BinaryMasks(foregroundValue: 0));
        Assert.AreEqual(20, items.Count);
        Assert.AreEqual("00.png", items[0].Name);
        foreach (var it in items)
        {
            Assert.AreEqual((1, 512, 512), (it.Channels, it.Height, it.Width));
            Assert.IsTrue(it.Mask!.All(v => v <= 1));
            double fg = it.Mask!.Count(v => v == 1) / (double)it.Mask!.Length;
            Assert.IsTrue(fg is > 0.1 and < 0.4, $"membrane fraction {fg}");
            double mean = it.Image.Average(v => (double)v);
            double var = it.Image.Average(v => (v - mean) * (v - mean));
            Assert.AreEqual(0, mean, 1e-3);
            Assert.AreEqual(1, var, 1e-3);
        }
    }

    [TestMethod]
    public void CamVid_LoadsClassIndicesAndMapsVoidToIgnore()
    {
        var items = SegmentationFolderLoader.Load(Path.Combine(TestPaths.CamVid, "train"), SegmentationFolderOptions.ClassIndexMasks(11, ignoreValue: 11));
        Assert.AreEqual(30, items.Count);
        var counts = new long[256];
        foreach (var it in items)
        {
            Assert.AreEqual((3, 180, 240), (it.Channels, it.Height, it.Width));
            foreach (var v in it.Mask!) counts[v]++;
        }
        Assert.AreEqual(0, counts[11], "void must be mapped to 255");
        Assert.IsTrue(counts[MaskConventions.IgnoreIndex] > 0);
        Assert.IsTrue(Enumerable.Range(0, 11).Count(c => counts[c] > 0) >= 10, "most classes occur");
        Assert.AreEqual(0, counts.Skip(12).Take(255 - 12).Sum());
    }

    [TestMethod]
    public void DataView_HasShapedColumns_AndRoundTrips()
    {
        var ml = new MLContext(seed: 1);
        var view = ml.Data.LoadFromSegmentationFolder(Path.Combine(TestPaths.CamVid, "test"), SegmentationFolderOptions.ClassIndexMasks(11, 11));
        var imageType = (VectorDataViewType)view.Schema["Image"].Type;
        CollectionAssert.AreEqual(new[] { 3, 180, 240 }, imageType.Dimensions.ToArray());
        var maskType = (VectorDataViewType)view.Schema["Mask"].Type;
        Assert.AreEqual(NumberDataViewType.Byte, maskType.ItemType);
        CollectionAssert.AreEqual(new[] { 180, 240 }, maskType.Dimensions.ToArray());
        var back = SegmentationDataView.ReadItems(view);
        Assert.AreEqual(10, back.Count);
        var direct = SegmentationFolderLoader.Load(Path.Combine(TestPaths.CamVid, "test"), SegmentationFolderOptions.ClassIndexMasks(11, 11));
        CollectionAssert.AreEqual(direct[3].Mask, back[3].Mask);
        CollectionAssert.AreEqual(direct[3].Image, back[3].Image);
        Assert.AreEqual(direct[3].Name, back[3].Name);
    }

    [TestMethod]
    public void Resize_UsesNearestForMasks()
    {
        var opt = new SegmentationFolderOptions { MaskEncoding = MaskEncoding.Binary, ForegroundValue = 0, Width = 128, Height = 96 };
        var items = SegmentationFolderLoader.Load(Path.Combine(TestPaths.Isbi, "test"), opt);
        Assert.AreEqual((96, 128), (items[0].Height, items[0].Width));
        Assert.IsTrue(items.All(i => i.Mask!.All(v => v <= 1)));
    }

    [TestMethod]
    public void PaletteMasks_MapColoursAndRejectUnknownColours()
    {
        using var tmp = TestPaths.NewTemp();
        WriteRgbImage(Path.Combine(tmp.Path, "images", "a.png"), 4, 2);
        var rgb = new byte[] { 255, 0, 0, 255, 0, 0, 0, 255, 0, 0, 255, 0, 0, 0, 0, 0, 0, 0, 255, 0, 0, 0, 255, 0 };
        PngWriter.WriteRgb(Path.Combine(tmp.Path, "masks", "a.png"), rgb, 4, 2);
        var opt = new SegmentationFolderOptions
        {
            MaskEncoding = MaskEncoding.RgbPalette, ClassCount = 3,
            Palette = new Dictionary<int, int> { [0xFF0000] = 1, [0x00FF00] = 2, [0x000000] = 0 },
        };
        var items = SegmentationFolderLoader.Load(tmp.Path, opt);
        CollectionAssert.AreEqual(new byte[] { 1, 1, 2, 2, 0, 0, 1, 2 }, items[0].Mask);

        var strict = new SegmentationFolderOptions { MaskEncoding = MaskEncoding.RgbPalette, ClassCount = 3, Palette = new Dictionary<int, int> { [0xFF0000] = 1 } };
        var e = Assert.ThrowsExactly<SegmentationDataException>(() => SegmentationFolderLoader.Load(tmp.Path, strict));
        StringAssert.Contains(e.Message, "#00FF00");
        var lenient = new SegmentationFolderOptions { MaskEncoding = MaskEncoding.RgbPalette, ClassCount = 3, Palette = new Dictionary<int, int> { [0xFF0000] = 1 }, UnknownColorIsIgnore = true };
        Assert.AreEqual(MaskConventions.IgnoreIndex, SegmentationFolderLoader.Load(tmp.Path, lenient)[0].Mask![2]);
    }

    [TestMethod]
    public void SixteenBitGrayPng_Loads()
    {
        using var tmp = TestPaths.NewTemp();
        Directory.CreateDirectory(Path.Combine(tmp.Path, "images"));
        Directory.CreateDirectory(Path.Combine(tmp.Path, "masks"));
        RawPng.Write16BitGray(Path.Combine(tmp.Path, "images", "x.png"), [0, 16384, 32768, 65535], 2, 2);
        RawPng.Write16BitGray(Path.Combine(tmp.Path, "masks", "x.png"), [0, 65535, 65535, 0], 2, 2);
        var items = SegmentationFolderLoader.Load(tmp.Path, new SegmentationFolderOptions { MaskEncoding = MaskEncoding.Binary, ForegroundValue = 255, ZScore = false });
        CollectionAssert.AreEqual(new byte[] { 0, 1, 1, 0 }, items[0].Mask);
        Assert.AreEqual(0f, items[0].Image[0]);
        Assert.AreEqual(1f, items[0].Image[3]);
        Assert.AreEqual(0.5f, items[0].Image[2], 0.01f);
    }

    [TestMethod]
    public void MissingPartnerMask_NamesTheImage()
    {
        using var tmp = MakeGrayFolder(("a.png", true), ("b.png", false));
        var e = Assert.ThrowsExactly<SegmentationDataException>(() => SegmentationFolderLoader.Load(tmp.Path, SegmentationFolderOptions.BinaryMasks()));
        StringAssert.EndsWith(e.FilePath, Path.Combine("images", "b.png"));
        StringAssert.Contains(e.Message, "no partner mask");
        // Unlabelled images are fine when masks are optional.
        var items = SegmentationFolderLoader.Load(tmp.Path, new SegmentationFolderOptions { MaskEncoding = MaskEncoding.Binary, RequireMasks = false });
        Assert.IsNull(items[1].Mask);
        Assert.IsNotNull(items[0].Mask);
    }

    [TestMethod]
    public void OrphanMask_NamesTheMask()
    {
        using var tmp = MakeGrayFolder(("a.png", true));
        PngWriter.WriteGray(Path.Combine(tmp.Path, "masks", "z.png"), new byte[16], 4, 4);
        var e = Assert.ThrowsExactly<SegmentationDataException>(() => SegmentationFolderLoader.Load(tmp.Path, SegmentationFolderOptions.BinaryMasks()));
        StringAssert.EndsWith(e.FilePath, Path.Combine("masks", "z.png"));
    }

    [TestMethod]
    public void SizeMismatch_NamesTheMaskAndBothSizes()
    {
        using var tmp = MakeGrayFolder(("a.png", false));
        PngWriter.WriteGray(Path.Combine(tmp.Path, "masks", "a.png"), new byte[15], 5, 3);
        var e = Assert.ThrowsExactly<SegmentationDataException>(() => SegmentationFolderLoader.Load(tmp.Path, SegmentationFolderOptions.BinaryMasks()));
        StringAssert.EndsWith(e.FilePath, Path.Combine("masks", "a.png"));
        StringAssert.Contains(e.Message, "5x3");
        StringAssert.Contains(e.Message, "4x4");
    }

    [TestMethod]
    public void CorruptAndTruncatedImages_AreReportedByName()
    {
        using var tmp = MakeGrayFolder(("a.png", true), ("b.png", true));
        File.WriteAllBytes(Path.Combine(tmp.Path, "images", "b.png"), "this is not a png"u8.ToArray());
        var e = Assert.ThrowsExactly<SegmentationDataException>(() => SegmentationFolderLoader.Load(tmp.Path, SegmentationFolderOptions.BinaryMasks()));
        StringAssert.EndsWith(e.FilePath, Path.Combine("images", "b.png"));

        var good = File.ReadAllBytes(Path.Combine(TestPaths.Isbi, "train", "images", "00.png"));
        File.WriteAllBytes(Path.Combine(tmp.Path, "images", "b.png"), good[..(good.Length / 2)]);
        e = Assert.ThrowsExactly<SegmentationDataException>(() => SegmentationFolderLoader.Load(tmp.Path, SegmentationFolderOptions.BinaryMasks()));
        StringAssert.EndsWith(e.FilePath, Path.Combine("images", "b.png"));
    }

    [TestMethod]
    public void ClassIndexOutOfRange_NamesFilePixelAndRange()
    {
        using var tmp = MakeGrayFolder(("a.png", false));
        var mask = new byte[16];
        mask[5] = 7;
        PngWriter.WriteGray(Path.Combine(tmp.Path, "masks", "a.png"), mask, 4, 4);
        var e = Assert.ThrowsExactly<SegmentationDataException>(() => SegmentationFolderLoader.Load(tmp.Path, SegmentationFolderOptions.ClassIndexMasks(3)));
        StringAssert.Contains(e.Message, "(1, 1)");
        StringAssert.Contains(e.Message, "class index 7");
        StringAssert.Contains(e.Message, "0..2");
    }

    [TestMethod]
    public void EmptyOrMissingFolders_AreReported()
    {
        using var tmp = TestPaths.NewTemp();
        var e = Assert.ThrowsExactly<SegmentationDataException>(() => SegmentationFolderLoader.Load(Path.Combine(tmp.Path, "nope")));
        StringAssert.Contains(e.Message, "does not exist");
        Directory.CreateDirectory(Path.Combine(tmp.Path, "images"));
        Directory.CreateDirectory(Path.Combine(tmp.Path, "masks"));
        e = Assert.ThrowsExactly<SegmentationDataException>(() => SegmentationFolderLoader.Load(tmp.Path));
        StringAssert.Contains(e.Message, "contains no image files");
    }

    [TestMethod]
    public void WrongChannelCount_IsReported()
    {
        using var tmp = MakeGrayFolder(("a.png", true), ("b.png", true));
        WriteRgbImage(Path.Combine(tmp.Path, "images", "b.png"), 4, 4);
        var e = Assert.ThrowsExactly<SegmentationDataException>(() => SegmentationFolderLoader.Load(tmp.Path, SegmentationFolderOptions.BinaryMasks()));
        StringAssert.EndsWith(e.FilePath, Path.Combine("images", "b.png"));
        StringAssert.Contains(e.Message, "expected 1 channel");
        // Explicit RGB accepts both (gray replicated).
        var items = SegmentationFolderLoader.Load(tmp.Path, new SegmentationFolderOptions { MaskEncoding = MaskEncoding.Binary, Channels = 3, ZScore = false });
        Assert.AreEqual(3, items[0].Channels);
        Assert.AreEqual(items[0].Image[0], items[0].Image[16]);
    }

    [TestMethod]
    [DataRow("ForegroundValue")]
    [DataRow("ClassCount")]
    [DataRow("Channels")]
    [DataRow("Width")]
    [DataRow("IgnoreValue")]
    [DataRow("Palette")]
    public void InvalidOptions_NameTheOption(string option)
    {
        SegmentationFolderOptions o = option switch
        {
            "ForegroundValue" => new() { ForegroundValue = 300 },
            "ClassCount" => new() { ClassCount = 1 },
            "Channels" => new() { Channels = 2 },
            "Width" => new() { Height = 10 },
            "IgnoreValue" => new() { ClassCount = 12, IgnoreValue = 11 },
            _ => new() { MaskEncoding = MaskEncoding.RgbPalette },
        };
        var e = Assert.Throws<ArgumentException>(o.Validate);
        Assert.AreEqual(option, e.ParamName);
    }

    private static TempFolder MakeGrayFolder(params (string Name, bool WithMask)[] files)
    {
        var tmp = TestPaths.NewTemp();
        var img = Enumerable.Range(0, 16).Select(i => (byte)(i * 10)).ToArray();
        foreach (var (name, withMask) in files)
        {
            PngWriter.WriteGray(Path.Combine(tmp.Path, "images", name), img, 4, 4);
            if (withMask) PngWriter.WriteGray(Path.Combine(tmp.Path, "masks", name), img.Select(v => v > 80 ? (byte)255 : (byte)0).ToArray(), 4, 4);
            else Directory.CreateDirectory(Path.Combine(tmp.Path, "masks"));
        }
        return tmp;
    }

    private static void WriteRgbImage(string path, int w, int h)
    {
        var rgb = new byte[3 * w * h];
        for (int i = 0; i < rgb.Length; i++) rgb[i] = (byte)(i * 37);
        PngWriter.WriteRgb(path, rgb, w, h);
    }
}
