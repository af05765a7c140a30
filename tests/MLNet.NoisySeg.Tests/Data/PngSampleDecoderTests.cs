using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Tests.TestSupport;

namespace MLNet.NoisySeg.Tests.Data;

/// <summary>
/// The managed PNG decoder used for masks against the samples the test encoder was given (every colour type,
/// bit depth, filter and interlacing) and, for depths up to 8 bits, against SkiaSharp/libpng on the same file.
/// </summary>
[TestClass]
public class PngSampleDecoderTests
{
    public static IEnumerable<object[]> Formats()
    {
        foreach (var (colour, depths) in new[] { (0, new[] { 1, 2, 4, 8, 16 }), (2, new[] { 8, 16 }), (3, new[] { 1, 2, 4, 8 }), (4, new[] { 8, 16 }), (6, new[] { 8, 16 }) })
            foreach (int depth in depths)
                foreach (bool interlaced in new[] { false, true })
                    yield return [colour, depth, interlaced];
    }

    [TestMethod]
    [DynamicData(nameof(Formats))]
    public void Decode_KeepsStoredSamples_AndAgreesWithSkia(int colorType, int bitDepth, bool interlaced)
    {
        using var tmp = TestPaths.NewTemp();
        var rng = new Random(colorType * 100 + bitDepth * 2 + (interlaced ? 1 : 0));
        foreach (var (w, h) in new[] { (1, 1), (3, 2), (13, 7), (9, 17) })
        {
            int ch = RawPng.ChannelsOf(colorType);
            int max = colorType == 3 ? Math.Min(1 << bitDepth, 7) : 1 << bitDepth;
            var samples = new ushort[ch * w * h];
            for (int i = 0; i < samples.Length; i++) samples[i] = (ushort)rng.Next(max);
            byte[]? palette = null;
            if (colorType == 3)
            {
                palette = new byte[3 * 7];
                rng.NextBytes(palette);
            }
            var png = RawPng.Encode(w, h, colorType, bitDepth, samples, palette, interlaced, varyFilters: true, idatChunks: 3,
                extraChunks: [("gAMA", [0, 0, 0xB1, 0x8F]), ("tEXt", "Comment\0test"u8.ToArray())]);
            string path = Path.Combine(tmp.Path, $"{w}x{h}.png");
            File.WriteAllBytes(path, png);

            var m = ImageFileDecoder.DecodeMask(path, SegmentationFolderOptions.Defaults.MaxImagePixels);
            Assert.AreEqual((w, h), (m.Width, m.Height));
            bool gray = colorType is 0 or 4;
            Assert.AreEqual(gray, m.IsGray);
            Assert.AreEqual(colorType == 3 ? 8 : bitDepth, m.BitDepth);
            Assert.AreEqual(bitDepth == 16, m.Wide is not null);
            int outCh = gray ? 1 : 3;
            for (int p = 0; p < w * h; p++)
                for (int k = 0; k < outCh; k++)
                {
                    int expected = colorType == 3 ? palette![3 * samples[p] + k] : samples[p * ch + k];
                    Assert.AreEqual(expected, m[p * outCh + k], $"{w}x{h} pixel {p} channel {k}");
                }

            if (bitDepth <= 8)
            {
                var skia = ImageFileDecoder.Decode(path, SegmentationFolderOptions.Defaults.MaxImagePixels);
                int skiaCh = skia.IsGray ? 1 : 3;
                for (int p = 0; p < w * h; p++)
                    for (int k = 0; k < skiaCh; k++)
                    {
                        int ours = m.To8Bit(m[p * outCh + (m.IsGray ? 0 : k)]);
                        Assert.AreEqual(skia.Pixels[p * skiaCh + k], ours, $"{w}x{h} pixel {p} channel {k} vs Skia");
                    }
            }
        }
    }

    [TestMethod]
    public void SixteenBitSamples_AreNotRounded()
    {
        using var tmp = TestPaths.NewTemp();
        string path = Path.Combine(tmp.Path, "m.png");
        ushort[] values = [0, 1, 2, 255, 256, 257, 32767, 65534, 65535];
        RawPng.Write16BitGray(path, values, 3, 3);
        var m = ImageFileDecoder.DecodeMask(path, 1000);
        CollectionAssert.AreEqual(values, m.Wide);
        Assert.AreEqual(-1, m.To8Bit(1));
        Assert.AreEqual(1, m.To8Bit(257));
        Assert.AreEqual(255, m.To8Bit(65535));
    }

    [TestMethod]
    public void CorruptStructures_AreTypedErrors()
    {
        using var tmp = TestPaths.NewTemp();
        var good = RawPng.Encode(8, 4, 0, 8, new ushort[32], varyFilters: true);
        var chunks = RawPng.Chunks(good);
        var idat = chunks.Single(c => c.Type == "IDAT");

        // CRC mismatch in a critical chunk.
        var crc = (byte[])good.Clone();
        crc[idat.Offset + 8 + idat.Length] ^= 1;
        AssertRefused(tmp, crc, "CRC");
        // A filter byte outside 0-4 (data recompressed so the CRC is right).
        var raw = RawPng.Inflate(good);
        raw[0] = 7;
        AssertRefused(tmp, RawPng.WithImageData(good, raw), "filter type 7");
        // Image data one row short.
        AssertRefused(tmp, RawPng.WithImageData(good, RawPng.Inflate(good)[..^9]), "truncated");
        // Not zlib at all (CRC right), and an empty zlib stream.
        byte[] notZlib = [.. good[..idat.Offset], .. RawPng.ChunkBytes("IDAT", "not zlib data"u8.ToArray()), .. good[(idat.Offset + 12 + idat.Length)..]];
        AssertRefused(tmp, notZlib, "not valid zlib data");
        AssertRefused(tmp, RawPng.WithImageData(good, []), "truncated");
        // Unknown critical chunk, and a palette index beyond PLTE.
        var unknown = RawPng.Encode(8, 4, 0, 8, new ushort[32], extraChunks: [("ZZZZ", [1, 2, 3])]);
        AssertRefused(tmp, unknown, "unknown critical chunk");
        var pal = RawPng.Encode(2, 1, 3, 8, [0, 5], palette: [1, 2, 3, 4, 5, 6]);
        AssertRefused(tmp, pal, "palette index 5");
    }

    private static void AssertRefused(TempFolder tmp, byte[] png, string fragment)
    {
        string path = Path.Combine(tmp.Path, "bad.png");
        File.WriteAllBytes(path, png);
        var e = Assert.ThrowsExactly<SegmentationDataException>(() => ImageFileDecoder.DecodeMask(path, 1 << 20));
        Assert.AreEqual(path, e.FilePath);
        StringAssert.Contains(e.Message, fragment);
    }
}
