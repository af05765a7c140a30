using System.Buffers.Binary;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Tests.TestSupport;

namespace MLNet.NoisySeg.Tests.Data;

/// <summary>
/// The non-PNG formats the loader accepts (JPEG, BMP) under seeded mutation: bit flips, byte edits,
/// truncation and edits of the size each header declares. These files pass the managed header checks and then
/// reach SkiaSharp's native decoders, so this is where a native crash would show (it would kill the test process).
/// Accepted outcomes: a <see cref="SegmentationDataException"/> naming the file, or a sane item.
/// Default <see cref="DefaultIterations"/> files; <c>NOISYSEG_LONG_FUZZ</c> (a count) scales it like the PNG fuzz.
/// </summary>
[TestClass]
public class ImageFormatFuzzTests
{
    public const int DefaultIterations = 300;

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public void MutatedJpegAndBmp_YieldTypedErrorsOrSaneItems()
    {
        int iterations = int.TryParse(Environment.GetEnvironmentVariable("NOISYSEG_LONG_FUZZ"), out int n) && n > 0 ? n : DefaultIterations;
        int seed = int.TryParse(Environment.GetEnvironmentVariable("NOISYSEG_FUZZ_SEED"), out int s) ? s : PngFuzzTests.DefaultSeed;
        var rng = new Random(seed);
        var seeds = new (string Name, byte[] File)[]
        {
            ("jpeg", ImageFixtures.Jpeg(24, 16)),
            ("bmp24", ImageFixtures.Bmp24(13, 7)),
            ("bmp32 bitfields", ImageFixtures.Bmp32BitFields(6, 5, 0x00FF0000, 0x0000FF00, 0x000000FF)),
            ("jpeg gray", ImageFixtures.JpegGray(40, 30)),
        };
        int loaded = 0, refused = 0;
        using var f = new SplitFolder("x.img");
        for (int it = 0; it < iterations; it++)
        {
            var (name, original) = seeds[rng.Next(seeds.Length)];
            var b = (byte[])original.Clone();
            string mutation = new[] { "bitflip", "byteset", "truncate", "size" }[rng.Next(4)];
            switch (mutation)
            {
                case "bitflip":
                    for (int i = 1 + rng.Next(8); i > 0; i--) b[rng.Next(b.Length)] ^= (byte)(1 << rng.Next(8));
                    break;
                case "byteset":
                    b[rng.Next(b.Length)] = (byte)rng.Next(256);
                    break;
                case "truncate":
                    b = b[..rng.Next(b.Length)];
                    break;
                default:
                    b = WithSize(name, b, rng.Next(2) == 0 ? rng.Next(1, 300) : rng.Next(), rng.Next(2) == 0 ? rng.Next(1, 300) : rng.Next());
                    break;
            }
            bool asMask = it % 2 == 1;
            long maxPixels = rng.Next(2) == 0 ? 1 << 20 : SegmentationFolderOptions.Defaults.MaxImagePixels;
            SegmentationFolderOptions options = asMask
                ? new() { MaskEncoding = MaskEncoding.RgbPalette, ClassCount = 2, Palette = new Dictionary<int, int> { [0] = 0 }, UnknownColorIsIgnore = true, Channels = 3, Extensions = [".img"], MaxImagePixels = maxPixels }
                : new() { MaskEncoding = MaskEncoding.Binary, RequireMasks = false, Channels = 3, Extensions = [".img"], MaxImagePixels = maxPixels };
            // As a mask, the (possibly resized) file is its own image, so sizes agree whenever both decode.
            f.With(b, asMask ? b : null);
            string context = $"iteration {it} (seed {seed}): {name} after {mutation} as {(asMask ? "image + mask" : "image")}, {b.Length} bytes; base64 {(b.Length <= 4096 ? Convert.ToBase64String(b) : "(large)")}";
            try
            {
                var item = f.Load(options)[0];
                Assert.IsTrue(item.Width > 0 && item.Height > 0 && (long)item.Width * item.Height <= maxPixels, context);
                Assert.AreEqual(3 * item.Width * item.Height, item.Image.Length, context);
                Assert.IsTrue(item.Image.All(float.IsFinite), context);
                if (asMask) Assert.AreEqual(item.Width * item.Height, item.Mask!.Length, context);
                loaded++;
            }
            catch (SegmentationDataException e)
            {
                Assert.IsTrue(e.FilePath == f.ImagePath || e.FilePath == f.MaskPath, context);
                refused++;
            }
            catch (Exception e)
            {
                Assert.Fail($"{e.GetType().Name}: {e.Message} -- {context}\n{e}");
            }
        }
        TestContext.WriteLine($"JPEG/BMP fuzz: seed {seed}, {iterations} files: {loaded} loaded, {refused} refused with SegmentationDataException");
        Console.WriteLine($"JPEG/BMP fuzz: seed {seed}, {iterations} files: {loaded} loaded, {refused} refused with SegmentationDataException");
    }

    private static byte[] WithSize(string name, byte[] b, int width, int height)
    {
        if (name.StartsWith("jpeg", StringComparison.Ordinal)) return ImageFixtures.JpegWithSize(b, width & 0xFFFF, height & 0xFFFF);
        return ImageFixtures.BmpWithSize(b, width, height);
    }
}
