using System.Buffers.Binary;
using System.Diagnostics;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Tests.TestSupport;

namespace MLNet.NoisySeg.Tests.Data;

/// <summary>
/// Seeded, deterministic mutation fuzzing of the folder loader with PNG files: bit flips, byte edits, truncation,
/// IHDR size / bit-depth / colour-type / method edits, CRC damage, chunk-length damage, chunk drop / duplicate /
/// insert, and edits of the decompressed image data (recompressed with valid CRCs so they reach the unfilter and
/// sample code). Each mutated file is loaded through <see cref="SegmentationFolderLoader.Load"/>, alternately as an
/// image (SkiaSharp after the managed header checks) and as a mask (the managed PNG decoder). The only accepted
/// outcomes are a <see cref="SegmentationDataException"/> naming the mutated file or a sane item; any other exception
/// fails the test, and a native crash would kill the test process.
/// <para>
/// The default run (<see cref="DefaultIterations"/> files) always runs and takes a few seconds. Set
/// <c>NOISYSEG_LONG_FUZZ</c> to a count (e.g. 10000) for a long run, and <c>NOISYSEG_FUZZ_SEED</c> to change the seed.
/// </para>
/// </summary>
[TestClass]
public class PngFuzzTests
{
    public const int DefaultIterations = 1000;
    public const int DefaultSeed = 20240612;

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public void MutatedPngs_YieldTypedErrorsOrSaneItems()
    {
        int iterations = int.TryParse(Environment.GetEnvironmentVariable("NOISYSEG_LONG_FUZZ"), out int n) && n > 0 ? n : DefaultIterations;
        int seed = int.TryParse(Environment.GetEnvironmentVariable("NOISYSEG_FUZZ_SEED"), out int s) ? s : DefaultSeed;
        var summary = Run(seed, iterations);
        TestContext.WriteLine($"PNG fuzz: seed {seed}, {iterations} files: {summary}");
        Console.WriteLine($"PNG fuzz: seed {seed}, {iterations} files: {summary}");
    }

    [TestMethod]
    public void Fuzzing_IsDeterministic()
    {
        Assert.AreEqual(Run(7, 60).ToString(), Run(7, 60).ToString());
    }

    internal sealed record Summary(int Loaded, int Refused, Dictionary<string, int> ByMutation, double Seconds)
    {
        public override string ToString()
            => $"{Loaded} loaded, {Refused} refused with SegmentationDataException; mutations: " +
               string.Join(", ", ByMutation.OrderBy(k => k.Key, StringComparer.Ordinal).Select(k => $"{k.Key} {k.Value}"));
    }

    private static readonly string[] MutationNames =
        ["bitflip", "byteset", "truncate", "ihdr-size", "ihdr-depth", "ihdr-colour", "ihdr-methods", "crc", "chunk-length",
         "chunk-drop", "chunk-dup", "chunk-insert", "data-edit", "data-truncate", "data-extend"];

    private static Summary Run(int seed, int iterations)
    {
        var rng = new Random(seed);
        var seeds = SeedPngs();
        int loaded = 0, refused = 0;
        var byMutation = MutationNames.ToDictionary(m => m, _ => 0);
        var sw = Stopwatch.StartNew();
        using var f = new SplitFolder();
        for (int it = 0; it < iterations; it++)
        {
            var (name, png, w, h) = seeds[rng.Next(seeds.Count)];
            var bytes = (byte[])png.Clone();
            var applied = new List<string>();
            int count = 1 + rng.Next(3);
            for (int k = 0; k < count; k++)
            {
                string m = MutationNames[rng.Next(MutationNames.Length)];
                bytes = Mutate(bytes, m, rng);
                applied.Add(m);
                byMutation[m]++;
            }
            bool asMask = it % 2 == 1;
            long maxPixels = rng.Next(4) switch { 0 => 4096, 1 => 1 << 20, _ => SegmentationFolderOptions.Defaults.MaxImagePixels };
            SegmentationFolderOptions options;
            if (asMask)
            {
                f.With(SplitFolder.GrayImage(w, h), bytes);
                options = rng.Next(3) switch
                {
                    0 => new SegmentationFolderOptions { MaskEncoding = MaskEncoding.Binary, MaxImagePixels = maxPixels, ZScore = rng.Next(2) == 0 },
                    1 => new SegmentationFolderOptions { MaskEncoding = MaskEncoding.ClassIndex, ClassCount = 255, MaxImagePixels = maxPixels },
                    _ => new SegmentationFolderOptions
                    {
                        MaskEncoding = MaskEncoding.RgbPalette, ClassCount = 3, UnknownColorIsIgnore = true, MaxImagePixels = maxPixels,
                        Palette = new Dictionary<int, int> { [0] = 0, [0xFFFFFF] = 1, [0x010101] = 2 },
                    },
                };
            }
            else
            {
                f.With(bytes, null);
                options = new SegmentationFolderOptions
                {
                    MaskEncoding = MaskEncoding.Binary, RequireMasks = false, MaxImagePixels = maxPixels,
                    Channels = rng.Next(3) switch { 0 => 0, 1 => 1, _ => 3 }, ZScore = rng.Next(2) == 0,
                };
            }
            string context = $"iteration {it} (seed {seed}): {(asMask ? "mask" : "image")} from '{name}' after {string.Join(" + ", applied)}, " +
                             $"{bytes.Length} bytes, MaxImagePixels {maxPixels}; file base64: {(bytes.Length <= 4096 ? Convert.ToBase64String(bytes) : "(large)")}";
            try
            {
                var items = f.Load(options);
                CheckSane(items, asMask, maxPixels, options, context);
                loaded++;
            }
            catch (SegmentationDataException e)
            {
                Assert.AreEqual(asMask ? f.MaskPath : f.ImagePath, e.FilePath, context);
                refused++;
            }
            catch (Exception e)
            {
                Assert.Fail($"{e.GetType().Name}: {e.Message} -- {context}\n{e}");
            }
        }
        return new Summary(loaded, refused, byMutation, sw.Elapsed.TotalSeconds);
    }

    private static void CheckSane(IReadOnlyList<SegmentationItem> items, bool asMask, long maxPixels, SegmentationFolderOptions o, string context)
    {
        Assert.AreEqual(1, items.Count, context);
        var it = items[0];
        Assert.IsTrue(it.Channels is 1 or 3 && it.Width > 0 && it.Height > 0 && (long)it.Width * it.Height <= maxPixels, context);
        Assert.AreEqual(it.Channels * it.Width * it.Height, it.Image.Length, context);
        Assert.IsTrue(it.Image.All(float.IsFinite), context);
        if (!asMask)
        {
            Assert.IsNull(it.Mask, context);
            return;
        }
        Assert.AreEqual(it.Width * it.Height, it.Mask!.Length, context);
        int classes = o.MaskEncoding == MaskEncoding.Binary ? 2 : o.ClassCount;
        Assert.IsTrue(it.Mask.All(v => v < classes || v == Core.MaskConventions.IgnoreIndex), context);
    }

    /// <summary>Small valid PNGs covering the colour types, bit depths, interlacing, filters and chunk layouts.</summary>
    private static List<(string Name, byte[] Png, int Width, int Height)> SeedPngs()
    {
        var rng = new Random(1);
        ushort[] Samples(int count, int max) => Enumerable.Range(0, count).Select(_ => (ushort)rng.Next(max)).ToArray();
        var palette = new byte[16 * 3];
        rng.NextBytes(palette);
        var list = new List<(string, byte[], int, int)>
        {
            ("gray8 classes", RawPng.Encode(24, 16, 0, 8, Samples(24 * 16, 3), varyFilters: true), 24, 16),
            ("gray16 classes", RawPng.Encode(20, 12, 0, 16, Samples(20 * 12, 3), varyFilters: true), 20, 12),
            ("rgb8", RawPng.Encode(16, 16, 2, 8, Samples(3 * 256, 256), varyFilters: true), 16, 16),
            ("rgba16", RawPng.Encode(12, 10, 6, 16, Samples(4 * 120, 65536), varyFilters: true), 12, 10),
            ("palette4", RawPng.Encode(17, 9, 3, 4, Samples(17 * 9, 16), palette, varyFilters: true), 17, 9),
            ("gray-alpha8 interlaced", RawPng.Encode(19, 13, 4, 8, Samples(2 * 19 * 13, 256), interlaced: true, varyFilters: true), 19, 13),
            ("gray1 interlaced", RawPng.Encode(23, 11, 0, 1, Samples(23 * 11, 2), interlaced: true), 23, 11),
            ("gray-alpha16", RawPng.Encode(9, 7, 4, 16, Samples(2 * 63, 65536)), 9, 7),
            ("gray2 split idat", RawPng.Encode(15, 5, 0, 2, Samples(75, 4), idatChunks: 3,
                extraChunks: [("gAMA", [0, 0, 0xB1, 0x8F]), ("tEXt", "k\0v"u8.ToArray())]), 15, 5),
        };
        // One file from SkiaSharp's own encoder (libpng + zlib), as the library writes masks.
        using (var tmp = TestPaths.NewTemp())
        {
            string p = Path.Combine(tmp.Path, "skia.png");
            PngWriter.WriteGray(p, ImageFixtures.Gradient(32, 24), 32, 24);
            list.Add(("skia gray8", File.ReadAllBytes(p), 32, 24));
        }
        return list;
    }

    private static readonly uint[] InterestingSizes = [0, 1, 2, 3, 7, 8, 255, 256, 4095, 4096, 16383, 16384, 16385, 65535, 65536, 100000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF];

    private static byte[] Mutate(byte[] b, string mutation, Random rng)
    {
        if (b.Length == 0) return b;
        var chunks = RawPng.Chunks(b);
        bool hasIhdr = b.Length >= 33 && chunks.Count > 0 && chunks[0].Type == "IHDR";
        switch (mutation)
        {
            case "bitflip":
                for (int i = 1 + rng.Next(8); i > 0; i--) b[rng.Next(b.Length)] ^= (byte)(1 << rng.Next(8));
                return b;
            case "byteset":
                b[rng.Next(b.Length)] = rng.Next(3) switch { 0 => 0, 1 => 0xFF, _ => (byte)rng.Next(256) };
                return b;
            case "truncate":
                return b[..rng.Next(b.Length)];
            case "ihdr-size" when hasIhdr:
            {
                uint Pick(uint current) => rng.Next(4) switch { 0 => current, 1 => (uint)rng.Next(1, 200), 2 => (uint)rng.NextInt64(0, 1L << 32), _ => InterestingSizes[rng.Next(InterestingSizes.Length)] };
                BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(16), Pick(BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(16))));
                BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(20), Pick(BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(20))));
                if (rng.Next(5) > 0) RawPng.FixCrc(b, 8);
                return b;
            }
            case "ihdr-depth" when hasIhdr:
                b[24] = (byte)new[] { 0, 1, 2, 3, 4, 5, 8, 16, 32, 255 }[rng.Next(10)];
                RawPng.FixCrc(b, 8);
                return b;
            case "ihdr-colour" when hasIhdr:
                b[25] = (byte)new[] { 0, 1, 2, 3, 4, 5, 6, 7, 255 }[rng.Next(9)];
                RawPng.FixCrc(b, 8);
                return b;
            case "ihdr-methods" when hasIhdr:
                b[26 + rng.Next(3)] = (byte)rng.Next(3);
                RawPng.FixCrc(b, 8);
                return b;
            case "crc" when chunks.Count > 0:
            {
                var c = chunks[rng.Next(chunks.Count)];
                b[c.Offset + 8 + c.Length + rng.Next(4)] ^= (byte)(1 + rng.Next(255));
                return b;
            }
            case "chunk-length" when chunks.Count > 0:
            {
                var c = chunks[rng.Next(chunks.Count)];
                uint v = rng.Next(6) switch { 0 => 0, 1 => (uint)c.Length + 1, 2 => (uint)Math.Max(0, c.Length - 1), 3 => 0x7FFFFFFF, 4 => 0xFFFFFFFF, _ => (uint)rng.Next() };
                BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(c.Offset), v);
                return b;
            }
            case "chunk-drop" when chunks.Count > 0:
            {
                var c = chunks[rng.Next(chunks.Count)];
                return [.. b[..c.Offset], .. b[(c.Offset + 12 + c.Length)..]];
            }
            case "chunk-dup" when chunks.Count > 0:
            {
                var c = chunks[rng.Next(chunks.Count)];
                var chunk = b[c.Offset..(c.Offset + 12 + c.Length)];
                int at = chunks[rng.Next(chunks.Count)].Offset;
                return [.. b[..at], .. chunk, .. b[at..]];
            }
            case "chunk-insert" when chunks.Count > 0:
            {
                var type = new string(Enumerable.Range(0, 4).Select(_ => (char)(rng.Next(2) == 0 ? 'a' + rng.Next(26) : 'A' + rng.Next(26))).ToArray());
                if (rng.Next(3) == 0) type = new[] { "IDAT", "PLTE", "IHDR", "IEND", "tRNS" }[rng.Next(5)];
                var data = new byte[rng.Next(40)];
                rng.NextBytes(data);
                int at = chunks[rng.Next(chunks.Count)].Offset;
                return [.. b[..at], .. RawPng.ChunkBytes(type, data), .. b[at..]];
            }
            case "data-edit" or "data-truncate" or "data-extend" when chunks.Any(c => c.Type == "IDAT"):
            {
                byte[] raw;
                try { raw = RawPng.Inflate(b); }
                catch (InvalidDataException) { return b; }
                if (raw.Length == 0) return b;
                if (mutation == "data-edit")
                    for (int i = 1 + rng.Next(6); i > 0; i--) raw[rng.Next(raw.Length)] = (byte)(rng.Next(2) == 0 ? rng.Next(256) : rng.Next(8)); // filter bytes, palette indices
                else if (mutation == "data-truncate") raw = raw[..rng.Next(raw.Length)];
                else raw = [.. raw, .. Enumerable.Range(0, 1 + rng.Next(64)).Select(_ => (byte)rng.Next(256))];
                return RawPng.WithImageData(b, raw);
            }
            default:
                b[rng.Next(b.Length)] ^= 0x20; // the chosen mutation does not apply to this (already damaged) file
                return b;
        }
    }
}
