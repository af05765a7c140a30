using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Morphology;

namespace MLNet.NoisySeg.Tests.Morphology;

[TestClass]
public sealed class BinaryMorphologyTests
{
    /// <summary>Random mask with ~density foreground and a few ignore pixels.</summary>
    internal static byte[] RandomMask(int w, int h, double density, int seed, double ignore = 0.02)
    {
        var rng = new SeededRandom((ulong)seed);
        var m = new byte[w * h];
        for (int i = 0; i < m.Length; i++)
        {
            double u = rng.NextDouble();
            m[i] = u < ignore ? MaskConventions.IgnoreIndex : u < ignore + density ? (byte)1 : (byte)0;
        }
        return m;
    }

    /// <summary>Brute-force disk morphology: scipy semantics (erosion border = background).</summary>
    private static byte[] BruteForce(byte[] src, int w, int h, int k, bool dilate)
    {
        var dst = new byte[src.Length];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int i = y * w + x;
                if (src[i] == 255) { dst[i] = 255; continue; }
                bool any = false, all = true;
                for (int dy = -k; dy <= k; dy++)
                    for (int dx = -k; dx <= k; dx++)
                    {
                        if (dx * dx + dy * dy > k * k) continue;
                        int xx = x + dx, yy = y + dy;
                        bool fg = xx >= 0 && yy >= 0 && xx < w && yy < h && src[yy * w + xx] == 1;
                        any |= fg;
                        all &= fg;
                    }
                dst[i] = dilate ? (any ? (byte)1 : (byte)0) : (all ? (byte)1 : (byte)0);
            }
        return dst;
    }

    [TestMethod]
    [DataRow(37, 23, 0.3)]
    [DataRow(70, 41, 0.6)]
    [DataRow(1, 9, 0.5)]
    [DataRow(9, 1, 0.5)]
    [DataRow(300, 260, 0.45)] // large enough for the parallel path and the vector loop
    public void DilateAndErodeMatchBruteForceDisk(int w, int h, double density)
    {
        for (int k = 0; k <= 3; k++)
        {
            var src = RandomMask(w, h, density, 100 * k + w);
            var dil = new byte[src.Length];
            var ero = new byte[src.Length];
            BinaryMorphology.Dilate(src, dil, w, h, k);
            BinaryMorphology.Erode(src, ero, w, h, k);
            CollectionAssert.AreEqual(BruteForce(src, w, h, k, true), dil, $"dilate k={k} {w}x{h}");
            CollectionAssert.AreEqual(BruteForce(src, w, h, k, false), ero, $"erode k={k} {w}x{h}");
        }
    }

    [TestMethod]
    public void ParallelPathOnMegapixelMaskMatchesBruteForce()
    {
        // 1100 x 1000 pixels: above the one-megapixel threshold, so both passes run in parallel row blocks.
        int w = 1100, h = 1000, k = 2;
        var src = RandomMask(w, h, 0.5, 77);
        var dil = new byte[src.Length];
        var ero = new byte[src.Length];
        BinaryMorphology.Dilate(src, dil, w, h, k);
        BinaryMorphology.Erode(src, ero, w, h, k);
        CollectionAssert.AreEqual(BruteForce(src, w, h, k, true), dil);
        CollectionAssert.AreEqual(BruteForce(src, w, h, k, false), ero);
    }

    [TestMethod]
    public void LargeRadiusMatchesBruteForce()
    {
        int w = 40, h = 33;
        var src = RandomMask(w, h, 0.05, 12);
        foreach (int k in new[] { 7, 20 })
        {
            var dil = new byte[src.Length];
            var ero = new byte[src.Length];
            BinaryMorphology.Dilate(src, dil, w, h, k);
            BinaryMorphology.Erode(BruteForce(src, w, h, 3, true), ero, w, h, k);
            CollectionAssert.AreEqual(BruteForce(src, w, h, k, true), dil, $"dilate k={k}");
            CollectionAssert.AreEqual(BruteForce(BruteForce(src, w, h, 3, true), w, h, k, false), ero, $"erode k={k}");
        }
    }

    [TestMethod]
    public void DiskHalfWidthsMatchSkimageDisk()
    {
        // skimage.morphology.disk(2) rows: 00100 / 01110 / 11111 / 01110 / 00100; disk(3): widths 1,5,5,7,5,5,1
        CollectionAssert.AreEqual(new[] { 0, 1, 2, 1, 0 }, BinaryMorphology.DiskHalfWidths(2));
        CollectionAssert.AreEqual(new[] { 0, 2, 2, 3, 2, 2, 0 }, BinaryMorphology.DiskHalfWidths(3));
        CollectionAssert.AreEqual(new[] { 0 }, BinaryMorphology.DiskHalfWidths(0));
    }

    [TestMethod]
    public void ErosionTreatsOutsideAsBackgroundAndDilationGrowsDisk()
    {
        int w = 9, h = 9;
        var full = Enumerable.Repeat((byte)1, w * h).ToArray();
        var ero = new byte[w * h];
        BinaryMorphology.Erode(full, ero, w, h, 1);
        Assert.AreEqual(7 * 7, ero.Count(v => v == 1)); // one-pixel frame eroded
        Assert.AreEqual(0, ero[0]);
        Assert.AreEqual(1, ero[1 * w + 1]);

        var dot = new byte[w * h];
        dot[4 * w + 4] = 1;
        var dil = new byte[w * h];
        BinaryMorphology.Dilate(dot, dil, w, h, 2);
        Assert.AreEqual(13, dil.Count(v => v == 1)); // |disk(2)| = 13
    }

    [TestMethod]
    public void MorphologyKeepsIgnorePixels()
    {
        int w = 40, h = 30;
        var src = RandomMask(w, h, 0.4, 7, ignore: 0.2);
        foreach (var op in new Action<byte[], byte[]>[]
        {
            (s, d) => BinaryMorphology.Dilate(s, d, w, h, 2),
            (s, d) => BinaryMorphology.Erode(s, d, w, h, 2),
            (s, d) => BinaryMorphology.Skeletonize(s, d, w, h),
            (s, d) => BinaryMorphology.BoundaryBand(s, d, w, h, 1),
        })
        {
            var dst = new byte[src.Length];
            op(src, dst);
            for (int i = 0; i < src.Length; i++)
            {
                Assert.AreEqual(src[i] == 255, dst[i] == 255, $"pixel {i}");
                Assert.IsTrue(dst[i] is 0 or 1 or 255);
            }
        }
    }

    [TestMethod]
    public void InvalidArgumentsNameTheOption()
    {
        var m = new byte[12];
        var d = new byte[12];
        var e1 = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => BinaryMorphology.Dilate(m, d, 4, 3, -1));
        Assert.AreEqual("radius", e1.ParamName);
        var e2 = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => BinaryMorphology.Erode(m, d, 4, 3, BinaryMorphology.MaxRadius + 1));
        Assert.AreEqual("radius", e2.ParamName);
        var e3 = Assert.ThrowsExactly<ArgumentException>(() => BinaryMorphology.Dilate(m, new byte[11], 4, 3, 1));
        Assert.AreEqual("dst", e3.ParamName);
        var e4 = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => BinaryMorphology.BoundaryBand(m, d, 4, 3, -2));
        Assert.AreEqual("distance", e4.ParamName);
        var rng = new SeededRandom(1);
        var e5 = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => BinaryMorphology.Shift(m, d, 4, 3, -1, ref rng));
        Assert.AreEqual("radius", e5.ParamName);
        Assert.ThrowsExactly<ArgumentException>(() => BinaryMorphology.Dilate(m, m, 4, 3, 1));
    }

    [TestMethod]
    public void BoundaryBandMatchesBruteForce()
    {
        int w = 50, h = 35;
        var src = RandomMask(w, h, 0.3, 11, ignore: 0.05);
        for (int d = 0; d <= 2; d++)
        {
            var band = new byte[src.Length];
            BinaryMorphology.BoundaryBand(src, band, w, h, d);
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    int i = y * w + x;
                    byte expected = 0;
                    if (src[i] == 255) expected = 255;
                    else
                    {
                        for (int dy = -d; dy <= d && expected == 0; dy++)
                            for (int dx = -d; dx <= d; dx++)
                            {
                                int xx = x + dx, yy = y + dy;
                                if (dx * dx + dy * dy > d * d || xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
                                byte v = src[yy * w + xx];
                                if (v != 255 && v != src[i]) { expected = 1; break; }
                            }
                    }
                    Assert.AreEqual(expected, band[i], $"d={d} ({x},{y})");
                }
        }
    }

    [TestMethod]
    [DataRow(0)]
    [DataRow(1)]
    [DataRow(3)]
    public void ShiftKeepsPixelsWithinRadius(int r)
    {
        int w = 64, h = 48;
        var src = RandomMask(w, h, 0.05, 5, ignore: 0);
        var dst = new byte[src.Length];
        var rng = new SeededRandom(42);
        BinaryMorphology.Shift(src, dst, w, h, r, ref rng);
        int fgIn = src.Count(v => v == 1), fgOut = dst.Count(v => v == 1);
        Assert.IsTrue(fgOut > 0 && fgOut <= fgIn);
        if (r == 0) CollectionAssert.AreEqual(src, dst);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                if (dst[y * w + x] != 1) continue;
                bool near = false;
                for (int dy = -r; dy <= r && !near; dy++)
                    for (int dx = -r; dx <= r && !near; dx++)
                    {
                        int xx = x + dx, yy = y + dy;
                        near = xx >= 0 && yy >= 0 && xx < w && yy < h && src[yy * w + xx] == 1;
                    }
                Assert.IsTrue(near, $"({x},{y}) has no source pixel within {r}");
            }
        if (r > 0) CollectionAssert.AreNotEqual(src, dst);
    }

    [TestMethod]
    public void ShiftLeavesIgnoreUntouchedAndIsDeterministic()
    {
        int w = 30, h = 20;
        var src = RandomMask(w, h, 0.3, 9, ignore: 0.1);
        var a = new byte[src.Length];
        var b = new byte[src.Length];
        var r1 = SeededRandom.For(3, "img", 0);
        var r2 = SeededRandom.For(3, "img", 0);
        BinaryMorphology.Shift(src, a, w, h, 2, ref r1);
        BinaryMorphology.Shift(src, b, w, h, 2, ref r2);
        CollectionAssert.AreEqual(a, b);
        for (int i = 0; i < src.Length; i++)
            Assert.AreEqual(src[i] == 255, a[i] == 255);
    }
}
