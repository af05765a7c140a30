using MLNet.NoisySeg.Morphology;

namespace MLNet.NoisySeg.Tests.Morphology;

[TestClass]
public sealed class SkeletonizeTests
{
    private delegate bool Shape(int x, int y);

    private static byte[] Draw(int w, int h, Shape shape)
    {
        var m = new byte[w * h];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                m[y * w + x] = shape(x, y) ? (byte)1 : (byte)0;
        return m;
    }

    private static IEnumerable<(string Name, int W, int H, byte[] Mask)> Shapes()
    {
        yield return ("rectangle", 40, 30, Draw(40, 30, (x, y) => x >= 5 && x < 35 && y >= 8 && y < 20));
        yield return ("square", 30, 30, Draw(30, 30, (x, y) => x >= 3 && x < 27 && y >= 3 && y < 27));
        yield return ("thin-rect-touching-border", 25, 12, Draw(25, 12, (x, y) => y >= 0 && y < 4));
        yield return ("2x2", 6, 6, Draw(6, 6, (x, y) => x is 2 or 3 && y is 2 or 3));
        yield return ("ring", 41, 41, Draw(41, 41, (x, y) =>
        {
            int dx = x - 20, dy = y - 20, r2 = dx * dx + dy * dy;
            return r2 <= 18 * 18 && r2 >= 10 * 10;
        }));
        yield return ("L-shape", 40, 40, Draw(40, 40, (x, y) => (x >= 5 && x < 12 && y >= 5 && y < 35) || (x >= 5 && x < 32 && y >= 28 && y < 35)));
        yield return ("two-blobs", 60, 30, Draw(60, 30, (x, y) =>
            (x - 14) * (x - 14) + (y - 15) * (y - 15) <= 81 || (x - 44) * (x - 44) + 2 * (y - 14) * (y - 14) <= 100));
        yield return ("diagonal-band", 40, 40, Draw(40, 40, (x, y) => Math.Abs(x - y) <= 2));
        yield return ("random-blobs", 64, 64, Blobs(64, 64, 3));
    }

    /// <summary>Smoothed random field thresholded, like the benchmark masks.</summary>
    internal static byte[] Blobs(int w, int h, int seed) => Noise.BlobMasks.Blobs(w, h, seed);

    /// <summary>Number of 8-connected foreground components.</summary>
    internal static int ForegroundComponents(byte[] m, int w, int h) => Components(m, w, h, 1, eight: true, pad: false);

    /// <summary>Number of 4-connected background components not touching the border (holes).</summary>
    internal static int Holes(byte[] m, int w, int h) => Components(m, w, h, 0, eight: false, pad: true) - 1;

    private static int Components(byte[] m, int w, int h, byte value, bool eight, bool pad)
    {
        // With pad, the mask is embedded in a one-pixel background frame (so all border-touching background is one component).
        int pw = pad ? w + 2 : w, ph = pad ? h + 2 : h, o = pad ? 1 : 0;
        var grid = new byte[pw * ph];
        if (pad && value == 0) Array.Fill(grid, (byte)1);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                grid[(y + o) * pw + x + o] = m[y * w + x] == value ? (byte)1 : (byte)0;
        var seen = new bool[grid.Length];
        var stack = new Stack<int>();
        int count = 0;
        for (int s = 0; s < grid.Length; s++)
        {
            if (grid[s] == 0 || seen[s]) continue;
            count++;
            seen[s] = true;
            stack.Push(s);
            while (stack.Count > 0)
            {
                int i = stack.Pop(), x = i % pw, y = i / pw;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++)
                    {
                        if ((dx == 0 && dy == 0) || (!eight && dx != 0 && dy != 0)) continue;
                        int xx = x + dx, yy = y + dy;
                        if (xx < 0 || yy < 0 || xx >= pw || yy >= ph) continue;
                        int j = yy * pw + xx;
                        if (grid[j] != 0 && !seen[j]) { seen[j] = true; stack.Push(j); }
                    }
            }
        }
        return count;
    }

    [TestMethod]
    public void SkeletonIsThinSubsetAndKeepsTopology()
    {
        foreach (var (name, w, h, mask) in Shapes())
        {
            var sk = new byte[mask.Length];
            BinaryMorphology.Skeletonize(mask, sk, w, h);
            int fg = mask.Count(v => v == 1), skel = sk.Count(v => v == 1);
            Assert.IsTrue(skel > 0 && (skel < fg || fg <= 2), $"{name}: skeleton size {skel} of {fg}");
            for (int i = 0; i < mask.Length; i++)
                Assert.IsTrue(sk[i] == 0 || mask[i] == 1, $"{name}: skeleton pixel {i} outside the shape");
            for (int y = 0; y + 1 < h; y++)
                for (int x = 0; x + 1 < w; x++)
                    Assert.IsFalse(sk[y * w + x] == 1 && sk[y * w + x + 1] == 1 && sk[(y + 1) * w + x] == 1 && sk[(y + 1) * w + x + 1] == 1,
                        $"{name}: 2x2 block at ({x},{y})");
            Assert.AreEqual(ForegroundComponents(mask, w, h), ForegroundComponents(sk, w, h), $"{name}: components");
            Assert.AreEqual(Holes(mask, w, h), Holes(sk, w, h), $"{name}: holes");
        }
    }

    [TestMethod]
    public void KnownShapesGiveExpectedSkeletons()
    {
        // A horizontal bar 3 pixels thick thins to its middle row (endpoints may shorten by one).
        int w = 20, h = 7;
        var bar = Draw(w, h, (x, y) => x >= 2 && x < 18 && y >= 2 && y < 5);
        var sk = new byte[bar.Length];
        BinaryMorphology.Skeletonize(bar, sk, w, h);
        for (int x = 4; x < 16; x++)
            Assert.AreEqual(1, sk[3 * w + x], $"middle row x={x}");
        Assert.AreEqual(0, sk.Where((v, i) => i / w != 3).Count(v => v == 1), "only the middle row remains");

        // A ring keeps exactly one hole; a one-pixel line is unchanged.
        var line = Draw(w, h, (x, y) => y == 3 && x >= 1 && x < 19);
        BinaryMorphology.Skeletonize(line, sk, w, h);
        CollectionAssert.AreEqual(line, sk);
        var ring = Shapes().First(s => s.Name == "ring");
        var rs = new byte[ring.Mask.Length];
        BinaryMorphology.Skeletonize(ring.Mask, rs, ring.W, ring.H);
        Assert.AreEqual(1, Holes(rs, ring.W, ring.H));
        Assert.AreEqual(1, ForegroundComponents(rs, ring.W, ring.H));
    }

    [TestMethod]
    public void SkeletonOfSkeletonIsUnchanged()
    {
        int w = 64, h = 64;
        var m = Blobs(w, h, 8);
        var a = new byte[m.Length];
        var b = new byte[m.Length];
        BinaryMorphology.Skeletonize(m, a, w, h);
        BinaryMorphology.Skeletonize(a, b, w, h);
        CollectionAssert.AreEqual(a, b);
    }
}
