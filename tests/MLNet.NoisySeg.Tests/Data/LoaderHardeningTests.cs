using MLNet.NoisySeg.Pipelines;
using Microsoft.ML;
using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Tests.TestSupport;

namespace MLNet.NoisySeg.Tests.Data;

/// <summary>
/// Regression tests for issue 12 (hardening): 16-bit masks are never relabelled, oversized or hostile headers are
/// refused with a <see cref="SegmentationDataException"/> before any decoder runs, and truncated or garbage files
/// are typed errors. Timings and memory are measured in docs/robustness.md, not asserted here.
/// </summary>
[TestClass]
public class LoaderHardeningTests
{
    private const string DefaultLimitText = "MaxImagePixels = 268,435,456";

    private static SegmentationFolderOptions ImagesOnly(long maxPixels = SegmentationFolderOptions.Defaults.MaxImagePixels, string extension = ".png", int channels = 0)
        => new() { MaskEncoding = MaskEncoding.Binary, RequireMasks = false, MaxImagePixels = maxPixels, Extensions = [extension], Channels = channels };

    // ---- 16-bit masks ------------------------------------------------------------------------------------

    [TestMethod]
    [DataRow(null)]
    [DataRow(11)]
    public void SixteenBitClassIndexMask_KeepsEveryClassExactly(int? ignoreValue)
    {
        // The harness case: 32x32, classes 0/1/2; decoding at 8 bits turned every pixel into 0.
        const int w = 32, h = 32;
        var classes = new ushort[w * h];
        for (int i = 0; i < classes.Length; i++) classes[i] = (ushort)((i % w + i / w) % 3);
        if (ignoreValue is int iv) classes[5] = (ushort)iv;
        using var f = new SplitFolder().With(SplitFolder.GrayImage(w, h), RawPng.Encode(w, h, 0, 16, classes));

        var items = f.Load(SegmentationFolderOptions.ClassIndexMasks(3, ignoreValue));
        var expected = classes.Select(v => v == ignoreValue ? MaskConventions.IgnoreIndex : (byte)v).ToArray();
        CollectionAssert.AreEqual(expected, items[0].Mask);
        Assert.AreEqual(classes.Count(v => v is 1 or 2), items[0].Mask!.Count(v => v is 1 or 2));

        // Same through the ML.NET entry point.
        var view = new MLContext(seed: 1).Data.LoadFromSegmentationFolder(f.Path, SegmentationFolderOptions.ClassIndexMasks(3, ignoreValue));
        CollectionAssert.AreEqual(expected, SegmentationDataView.ReadItems(view)[0].Mask);
    }

    [TestMethod]
    public void SixteenBitClassIndexMask_WithWidenedValues_IsRefusedNotRelabelled()
    {
        // 0/257/514 are what an 8-bit 0/1/2 mask becomes when widened; as class indices they are out of range.
        using var f = new SplitFolder().With(SplitFolder.GrayImage(3, 1), RawPng.Encode(3, 1, 0, 16, [0, 257, 514]));
        var e = Assert.ThrowsExactly<SegmentationDataException>(() => f.Load(SegmentationFolderOptions.ClassIndexMasks(3)));
        Assert.AreEqual(f.MaskPath, e.FilePath);
        StringAssert.Contains(e.Message, "class index 257");
        StringAssert.Contains(e.Message, "16-bit");
    }

    [TestMethod]
    public void SixteenBitBinaryMask_WithoutExact8BitValues_IsRefused()
    {
        using var f = new SplitFolder().With(SplitFolder.GrayImage(2, 2), RawPng.Encode(2, 2, 0, 16, [0, 1, 1, 0]));
        var e = Assert.ThrowsExactly<SegmentationDataException>(() => f.Load(SegmentationFolderOptions.BinaryMasks(255)));
        Assert.AreEqual(f.MaskPath, e.FilePath);
        StringAssert.Contains(e.Message, "(1, 0)");
        StringAssert.Contains(e.Message, "16-bit value 1");
        // Widened 8-bit values (multiples of 257) are exact and load as before.
        f.With(SplitFolder.GrayImage(2, 2), RawPng.Encode(2, 2, 0, 16, [0, 65535, 257 * 7, 0]));
        CollectionAssert.AreEqual(new byte[] { 0, 1, 0, 0 }, f.Load(SegmentationFolderOptions.BinaryMasks(255))[0].Mask);
        CollectionAssert.AreEqual(new byte[] { 0, 0, 1, 0 }, f.Load(SegmentationFolderOptions.BinaryMasks(7))[0].Mask);
    }

    [TestMethod]
    public void SixteenBitRgbPaletteMask_MapsExactColours_AndRefusesInexactOnes()
    {
        var opt = new SegmentationFolderOptions { MaskEncoding = MaskEncoding.RgbPalette, ClassCount = 3, Palette = new Dictionary<int, int> { [0xFF0000] = 1, [0x00FF00] = 2, [0] = 0 } };
        using var f = new SplitFolder().With(SplitFolder.GrayImage(3, 1), RawPng.Encode(3, 1, 6, 16, [65535, 0, 0, 65535, 0, 65535, 0, 1000, 0, 0, 0, 0]));
        CollectionAssert.AreEqual(new byte[] { 1, 2, 0 }, f.Load(opt)[0].Mask);
        f.With(SplitFolder.GrayImage(3, 1), RawPng.Encode(3, 1, 2, 16, [65535, 0, 0, 0, 65534, 0, 0, 0, 0]));
        var e = Assert.ThrowsExactly<SegmentationDataException>(() => f.Load(opt));
        StringAssert.Contains(e.Message, "16-bit value 65534");
    }

    [TestMethod]
    public void SubByteGrayMasks_ClassIndicesAsStored_BinaryAsScaledGray()
    {
        // 2-bit class indices 0..3 are the classes themselves (8-bit decoding made them 0/85/170/255).
        using var f = new SplitFolder().With(SplitFolder.GrayImage(4, 1), RawPng.Encode(4, 1, 0, 2, [0, 1, 2, 3]));
        CollectionAssert.AreEqual(new byte[] { 0, 1, 2, 3 }, f.Load(SegmentationFolderOptions.ClassIndexMasks(4))[0].Mask);
        // A 1-bit binary mask: 1 is white (255), the default foreground.
        f.With(SplitFolder.GrayImage(4, 1), RawPng.Encode(4, 1, 0, 1, [0, 1, 1, 0]));
        CollectionAssert.AreEqual(new byte[] { 0, 1, 1, 0 }, f.Load(SegmentationFolderOptions.BinaryMasks())[0].Mask);
    }

    [TestMethod]
    public void PaletteAndInterlacedMasks_LoadTheirColours()
    {
        // An interlaced 8-bit palette mask whose entries are gray class indices (as VOC-style tools write them as colours).
        var palette = new byte[] { 0, 0, 0, 1, 1, 1, 2, 2, 2 };
        var idx = Enumerable.Range(0, 10 * 9).Select(i => (ushort)(i % 3)).ToArray();
        using var f = new SplitFolder().With(SplitFolder.GrayImage(10, 9), RawPng.Encode(10, 9, 3, 8, idx, palette, interlaced: true, varyFilters: true));
        CollectionAssert.AreEqual(idx.Select(v => (byte)v).ToArray(), f.Load(SegmentationFolderOptions.ClassIndexMasks(3))[0].Mask);
    }

    // ---- Header limits -----------------------------------------------------------------------------------

    [TestMethod]
    [DataRow(100000u, 100000u)]
    [DataRow(65535u, 65535u)]
    [DataRow(20000u, 20000u)]
    [DataRow(16385u, 16384u)]
    [DataRow(2147483647u, 2147483647u)]
    [DataRow(1u, 268435457u)]
    public void HugePngHeader_IsRefusedBeforeDecoding_AsImageAndAsMask(uint width, uint height)
    {
        // A valid 1x1 PNG whose IHDR (CRC fixed) declares a huge size: the 274-byte / 118-byte harness files.
        var huge = RawPng.WithSize(RawPng.Encode(1, 1, 0, 8, [0]), width, height);
        using var f = new SplitFolder().With(huge, null);
        var e = Assert.ThrowsExactly<SegmentationDataException>(() => f.Load(ImagesOnly()));
        Assert.AreEqual(f.ImagePath, e.FilePath);
        StringAssert.Contains(e.Message, $"{width}x{height}");
        StringAssert.Contains(e.Message, DefaultLimitText);

        f.With(SplitFolder.GrayImage(2, 2), huge);
        e = Assert.ThrowsExactly<SegmentationDataException>(() => f.Load(SegmentationFolderOptions.BinaryMasks()));
        Assert.AreEqual(f.MaskPath, e.FilePath);
        StringAssert.Contains(e.Message, DefaultLimitText);
    }

    [TestMethod]
    public void PngHeader65535Squared_IsSegmentationDataException_NotOverflow_EvenAtTheLargestLimit()
    {
        var huge = RawPng.WithSize(RawPng.Encode(1, 1, 2, 16, [1, 2, 3]), 65535, 65535);
        using var f = new SplitFolder().With(huge, null);
        var e = Assert.ThrowsExactly<SegmentationDataException>(() => f.Load(ImagesOnly(SegmentationFolderOptions.MaxImagePixelsUpperBound)));
        StringAssert.Contains(e.Message, "4,294,836,225 pixels");
        StringAssert.Contains(e.Message, "MaxImagePixels = 536,870,897");
    }

    [TestMethod]
    public void PngHeaderUnderTheLimit_WithTooLittleImageData_IsRefusedBeforeAllocating()
    {
        // 16000x16000 is under the default limit, but 100-odd bytes of deflate data cannot expand to 256 MB.
        var big = RawPng.WithSize(RawPng.Encode(4, 4, 0, 8, new ushort[16]), 16000, 16000);
        using var f = new SplitFolder().With(big, null);
        var e = Assert.ThrowsExactly<SegmentationDataException>(() => f.Load(ImagesOnly()));
        Assert.AreEqual(f.ImagePath, e.FilePath);
        StringAssert.Contains(e.Message, "16000x16000");
        StringAssert.Contains(e.Message, "cannot expand");
    }

    [TestMethod]
    public void MaxImagePixels_IsConfigurable_ForImagesAndMasks()
    {
        using var f = new SplitFolder().With(SplitFolder.GrayImage(64, 48), null);
        var e = Assert.ThrowsExactly<SegmentationDataException>(() => f.Load(ImagesOnly(64 * 48 - 1)));
        StringAssert.Contains(e.Message, "64x48 image (3,072 pixels), more than MaxImagePixels = 3,071");
        Assert.AreEqual((48, 64), (f.Load(ImagesOnly(64 * 48))[0].Height, f.Load(ImagesOnly(64 * 48))[0].Width));

        // A mask larger than the limit is refused even when its image is within it.
        f.With(SplitFolder.GrayImage(4, 4), RawPng.Encode(8, 8, 0, 8, new ushort[64]));
        var opt = new SegmentationFolderOptions { MaskEncoding = MaskEncoding.Binary, MaxImagePixels = 16 };
        e = Assert.ThrowsExactly<SegmentationDataException>(() => f.Load(opt));
        Assert.AreEqual(f.MaskPath, e.FilePath);
        StringAssert.Contains(e.Message, "MaxImagePixels = 16");
    }

    [TestMethod]
    [DataRow(0L)]
    [DataRow(-1L)]
    [DataRow(SegmentationFolderOptions.MaxImagePixelsUpperBound + 1)]
    public void MaxImagePixels_OutOfRange_NamesTheOption(long value)
    {
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(new SegmentationFolderOptions { MaxImagePixels = value }.Validate);
        Assert.AreEqual(nameof(SegmentationFolderOptions.MaxImagePixels), e.ParamName);
        Assert.AreEqual(16384L * 16384L, new SegmentationFolderOptions().MaxImagePixels);
    }

    public static IEnumerable<object[]> HugeNonPngHeaders()
    {
        yield return ["jpeg", ImageFixtures.JpegWithSize(ImageFixtures.Jpeg(8, 8), 65535, 65535), "65535x65535"];
        yield return ["bmp", ImageFixtures.BmpWithSize(ImageFixtures.Bmp24(4, 4), 100000, 100000), "100000x100000"];
        yield return ["bmp top-down", ImageFixtures.BmpWithSize(ImageFixtures.Bmp24(4, 4), 100000, -100000), "100000x100000"];
    }

    [TestMethod]
    [DynamicData(nameof(HugeNonPngHeaders))]
    public void HugeHeaders_OfOtherFormats_AreRefusedBeforeDecoding(string format, byte[] file, string size)
    {
        using var f = new SplitFolder(format.Replace(' ', '_') + ".img").With(file, null);
        var e = Assert.ThrowsExactly<SegmentationDataException>(() => f.Load(ImagesOnly(extension: ".img")), format);
        Assert.AreEqual(f.ImagePath, e.FilePath);
        StringAssert.Contains(e.Message, size);
        StringAssert.Contains(e.Message, DefaultLimitText);
    }

    [TestMethod]
    public void BmpWithMostNegativeHeight_IsTyped()
    {
        using var f = new SplitFolder("x.bmp").With(ImageFixtures.BmpWithSize(ImageFixtures.Bmp24(4, 4), 4, int.MinValue), null);
        var e = Assert.ThrowsExactly<SegmentationDataException>(() => f.Load(ImagesOnly(extension: ".bmp")));
        StringAssert.Contains(e.Message, "invalid BMP size");
    }

    [TestMethod]
    public void SmallJpegClaimingALargeImage_IsRefusedAsTruncated()
    {
        // 4000x4000 is far under the limit, but a Huffman JPEG needs at least a bit per 8x8 block: 31 KB here.
        using var f = new SplitFolder("x.jpg").With(ImageFixtures.JpegWithSize(ImageFixtures.Jpeg(8, 8), 4000, 4000), null);
        var e = Assert.ThrowsExactly<SegmentationDataException>(() => f.Load(ImagesOnly(extension: ".jpg")));
        StringAssert.Contains(e.Message, "4000x4000 JPEG");
        StringAssert.Contains(e.Message, "truncated");
    }

    [TestMethod]
    public void ArithmeticCodedJpeg_IsRefused()
    {
        using var f = new SplitFolder("x.jpg").With(ImageFixtures.JpegAsArithmetic(ImageFixtures.Jpeg(8, 8)), null);
        var e = Assert.ThrowsExactly<SegmentationDataException>(() => f.Load(ImagesOnly(extension: ".jpg")));
        StringAssert.Contains(e.Message, "arithmetic-coded JPEG");
    }

    public static IEnumerable<object[]> UnsupportedFormats()
    {
        yield return ["GIF", ImageFixtures.Gif1x1()];
        yield return ["WebP", ImageFixtures.WebPLossy(20, 12)];
        yield return ["WebP", ImageFixtures.WebPLossless(9, 11)];
        yield return ["ICO/CUR", new byte[] { 0, 0, 1, 0, 1, 0, 16, 16, 0, 0, 1, 0, 32, 0 }];
        yield return ["TIFF", new byte[] { (byte)'I', (byte)'I', 42, 0, 8, 0, 0, 0 }];
    }

    [TestMethod]
    [DynamicData(nameof(UnsupportedFormats))]
    public void FormatsWithoutASizeBound_AreRefusedByName(string format, byte[] file)
    {
        // SkiaSharp could decode GIF, WebP and ICO, but a few bytes of them can describe an image of any size.
        using var f = new SplitFolder().With(file, null);
        var e = Assert.ThrowsExactly<SegmentationDataException>(() => f.Load(ImagesOnly()), format);
        Assert.AreEqual(f.ImagePath, e.FilePath);
        StringAssert.Contains(e.Message, $"is a {format} file; the loader decodes PNG, JPEG and BMP only");
    }

    [TestMethod]
    public void SmallBmpClaimingALargeImage_IsRefusedAsTruncated()
    {
        using var f = new SplitFolder("x.bmp").With(ImageFixtures.BmpWithSize(ImageFixtures.Bmp24(4, 4), 16000, 16000), null);
        var e = Assert.ThrowsExactly<SegmentationDataException>(() => f.Load(ImagesOnly(extension: ".bmp")));
        StringAssert.Contains(e.Message, "16000x16000");
        StringAssert.Contains(e.Message, "truncated");
    }

    [TestMethod]
    public void BmpMaskWithChannelsWiderThan8Bits_IsRefused()
    {
        using var f = new SplitFolder("x.bmp").With(ImageFixtures.Bmp24(4, 2), ImageFixtures.Bmp32BitFields(4, 2, 0xFFFF0000, 0x0000FF00, 0x000000FF));
        var opt = new SegmentationFolderOptions { MaskEncoding = MaskEncoding.ClassIndex, ClassCount = 2, Extensions = [".bmp"] };
        var e = Assert.ThrowsExactly<SegmentationDataException>(() => f.Load(opt));
        Assert.AreEqual(f.MaskPath, e.FilePath);
        StringAssert.Contains(e.Message, "16-bit channels");
        // 8-bit bit fields are fine.
        f.With(ImageFixtures.Bmp24(4, 2), ImageFixtures.Bmp32BitFields(4, 2, 0x00FF0000, 0x0000FF00, 0x000000FF));
        CollectionAssert.AreEqual(new byte[8], f.Load(opt)[0].Mask);
    }

    public static IEnumerable<object[]> ValidNonPngFiles()
    {
        yield return ["jpeg", ImageFixtures.Jpeg(24, 16), 24, 16];
        yield return ["bmp", ImageFixtures.Bmp24(7, 5), 7, 5];
        yield return ["jpeg gray", ImageFixtures.JpegGray(17, 9), 17, 9];
    }

    [TestMethod]
    [DynamicData(nameof(ValidNonPngFiles))]
    public void ValidFiles_OfOtherFormats_StillLoad(string format, byte[] file, int width, int height)
    {
        using var f = new SplitFolder(format.Replace(' ', '_') + ".img").With(file, null);
        var items = f.Load(ImagesOnly(extension: ".img", channels: 3));
        Assert.AreEqual((3, height, width), (items[0].Channels, items[0].Height, items[0].Width), format);
        // The same file as a palette mask goes through the 8-bit path (non-PNG masks).
        f.With(file, file);
        var opt = new SegmentationFolderOptions { MaskEncoding = MaskEncoding.RgbPalette, ClassCount = 2, Palette = new Dictionary<int, int> { [0] = 0 }, UnknownColorIsIgnore = true, Channels = 3, Extensions = [".img"] };
        Assert.AreEqual(width * height, f.Load(opt)[0].Mask!.Length);
    }

    [TestMethod]
    [DataRow("tiff le", new byte[] { (byte)'I', (byte)'I', 42, 0, 8, 0, 0, 0 }, "TIFF")]
    [DataRow("tiff be", new byte[] { (byte)'M', (byte)'M', 0, 42, 0, 0, 0, 8 }, "TIFF")]
    [DataRow("empty", new byte[0], "empty")]
    [DataRow("text", new byte[] { (byte)'h', (byte)'e', (byte)'l', (byte)'l', (byte)'o' }, "unrecognised")]
    [DataRow("wbmp-like", new byte[] { 0, 0, 0x8F, 0xFF, 0x7F, 0x8F, 0xFF, 0x7F }, "unrecognised")]
    [DataRow("png signature only", new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10 }, "truncated")]
    [DataRow("mangled png signature", new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 10, 26, 10, 0, 0, 0, 0 }, "signature")]
    public void UnsupportedOrGarbageFiles_AreRefusedByName(string what, byte[] file, string fragment)
    {
        using var f = new SplitFolder().With(file, null);
        var e = Assert.ThrowsExactly<SegmentationDataException>(() => f.Load(ImagesOnly()), what);
        Assert.AreEqual(f.ImagePath, e.FilePath);
        StringAssert.Contains(e.Message, fragment);
        f.With(SplitFolder.GrayImage(2, 2), file);
        e = Assert.ThrowsExactly<SegmentationDataException>(() => f.Load(SegmentationFolderOptions.BinaryMasks()), what);
        Assert.AreEqual(f.MaskPath, e.FilePath);
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public void TruncatedPngs_AtEveryLength_AreTypedErrors(bool asMask)
    {
        // RGB as an image (SkiaSharp), gray class indices as a mask (managed decoder); both with every filter type.
        var good = asMask
            ? RawPng.Encode(13, 7, 0, 8, Enumerable.Range(0, 13 * 7).Select(i => (ushort)(i % 5)).ToArray(), varyFilters: true)
            : RawPng.Encode(13, 7, 2, 8, Enumerable.Range(0, 3 * 13 * 7).Select(i => (ushort)(i * 7 % 256)).ToArray(), varyFilters: true);
        var idat = RawPng.Chunks(good).Single(c => c.Type == "IDAT");
        int idatEnd = idat.Offset + 12 + idat.Length;
        var options = asMask ? SegmentationFolderOptions.ClassIndexMasks(5) : ImagesOnly();
        using var f = new SplitFolder();
        var full = f.With(asMask ? SplitFolder.GrayImage(13, 7) : good, asMask ? good : null).Load(options)[0];
        for (int len = 0; len < good.Length; len++)
        {
            var cut = good[..len];
            f.With(asMask ? SplitFolder.GrayImage(13, 7) : cut, asMask ? cut : null);
            try
            {
                var item = f.Load(options)[0];
                // A cut file may load only when every pixel was still there: SkiaSharp (libpng) stops reading once
                // it has all rows, before the end of the deflate stream and the IDAT CRC; the mask decoder needs
                // the whole IDAT chunk. Either way the result must be the uncut file's.
                Assert.IsTrue(len >= (asMask ? idatEnd : idat.Offset + 8), $"length {len} of {good.Length} loaded (IDAT ends at {idatEnd})");
                if (asMask) CollectionAssert.AreEqual(full.Mask, item.Mask, $"length {len}");
                else CollectionAssert.AreEqual(full.Image, item.Image, $"length {len}");
            }
            catch (SegmentationDataException e)
            {
                Assert.AreEqual(asMask ? f.MaskPath : f.ImagePath, e.FilePath);
            }
        }
    }

    [TestMethod]
    public void TruncatedJpegAndBmp_AreTypedErrors()
    {
        foreach (var (name, file) in new[] { ("jpeg", ImageFixtures.Jpeg(32, 32)), ("bmp", ImageFixtures.Bmp24(16, 16)) })
            foreach (int len in new[] { 2, 3, 10, 20, 30, file.Length / 2, file.Length - 2 })
            {
                using var f = new SplitFolder("x.img").With(file[..len], null);
                try
                {
                    f.Load(ImagesOnly(extension: ".img"));
                    Assert.IsTrue(len > file.Length / 2, $"{name} cut to {len} bytes loaded");
                }
                catch (SegmentationDataException e)
                {
                    Assert.AreEqual(f.ImagePath, e.FilePath);
                }
            }
    }
}
