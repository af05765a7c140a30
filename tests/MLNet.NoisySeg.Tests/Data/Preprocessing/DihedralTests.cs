using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Data.Preprocessing;

namespace MLNet.NoisySeg.Tests.Data.Preprocessing;

[TestClass]
public sealed class DihedralTests
{
    // a = [[1, 2, 3], [4, 5, 6]] (H = 2, W = 3); expected outputs as numpy (rot90 counter-clockwise).
    private static readonly byte[] A = [1, 2, 3, 4, 5, 6];

    [TestMethod]
    [DataRow(Dihedral.Identity, 2, 3, new byte[] { 1, 2, 3, 4, 5, 6 })]
    [DataRow(Dihedral.Rotate90, 3, 2, new byte[] { 3, 6, 2, 5, 1, 4 })]       // np.rot90(a, 1)
    [DataRow(Dihedral.Rotate180, 2, 3, new byte[] { 6, 5, 4, 3, 2, 1 })]      // np.rot90(a, 2)
    [DataRow(Dihedral.Rotate270, 3, 2, new byte[] { 4, 1, 5, 2, 6, 3 })]      // np.rot90(a, 3)
    [DataRow(Dihedral.FlipHorizontal, 2, 3, new byte[] { 3, 2, 1, 6, 5, 4 })] // np.fliplr(a)
    [DataRow(Dihedral.Transpose, 3, 2, new byte[] { 1, 4, 2, 5, 3, 6 })]      // a.T
    [DataRow(Dihedral.FlipVertical, 2, 3, new byte[] { 4, 5, 6, 1, 2, 3 })]   // np.flipud(a)
    [DataRow(Dihedral.AntiTranspose, 3, 2, new byte[] { 6, 3, 5, 2, 4, 1 })]  // np.rot90(a, 3)[..] of fliplr = a[::-1, ::-1].T
    public void Apply_MatchesNumpyOnNonSquareGrid(Dihedral t, int outH, int outW, byte[] expected)
    {
        Assert.AreEqual((outH, outW), DihedralTransforms.OutputSize(t, 2, 3));
        CollectionAssert.AreEqual(expected, DihedralTransforms.Apply(A, 2, 3, t));
    }

    [TestMethod]
    public void InverseOfApply_IsIdentity_ForAllEight()
    {
        int c = 3, h = 5, w = 7;
        var img = Enumerable.Range(0, c * h * w).Select(i => i * 1.5f).ToArray();
        var mask = Enumerable.Range(0, h * w).Select(i => (byte)i).ToArray();
        foreach (var t in DihedralTransforms.All)
        {
            var (th, tw) = DihedralTransforms.OutputSize(t, h, w);
            var inv = DihedralTransforms.Inverse(t);
            var back = DihedralTransforms.Apply(DihedralTransforms.Apply(img, c, h, w, t), c, th, tw, inv);
            CollectionAssert.AreEqual(img, back, t.ToString());
            var backMask = DihedralTransforms.Apply(DihedralTransforms.Apply(mask, h, w, t), th, tw, inv);
            CollectionAssert.AreEqual(mask, backMask, t.ToString());
            Assert.AreEqual(Dihedral.Identity, DihedralTransforms.Compose(t, inv));
            if (t != Dihedral.Identity) CollectionAssert.AreNotEqual(img, DihedralTransforms.Apply(img, c, h, w, t), t.ToString());
        }
    }

    [TestMethod]
    public void Rotate90FourTimes_IsIdentity()
    {
        int h = 4, w = 6;
        var mask = Enumerable.Range(0, h * w).Select(i => (byte)(i * 7)).ToArray();
        var cur = mask;
        int ch = h, cw = w;
        for (int k = 0; k < 4; k++)
        {
            cur = DihedralTransforms.Apply(cur, ch, cw, Dihedral.Rotate90);
            (ch, cw) = (cw, ch);
            if (k < 3) CollectionAssert.AreNotEqual(mask, cur);
        }
        CollectionAssert.AreEqual(mask, cur);
        Assert.AreEqual((h, w), (ch, cw));
    }

    [TestMethod]
    public void Compose_MatchesSequentialApplication()
    {
        int h = 3, w = 4;
        var mask = Enumerable.Range(0, h * w).Select(i => (byte)i).ToArray();
        foreach (var a in DihedralTransforms.All)
            foreach (var b in DihedralTransforms.All)
            {
                var (ah, aw) = DihedralTransforms.OutputSize(a, h, w);
                var seq = DihedralTransforms.Apply(DihedralTransforms.Apply(mask, h, w, a), ah, aw, b);
                var once = DihedralTransforms.Apply(mask, h, w, DihedralTransforms.Compose(a, b));
                CollectionAssert.AreEqual(seq, once, $"{a} then {b}");
            }
    }

    [TestMethod]
    public void ImageAndMask_TransformConsistently()
    {
        int c = 2, h = 5, w = 3;
        var mask = Enumerable.Range(0, h * w).Select(i => (byte)(i % 4)).ToArray();
        // channel 0 = mask, channel 1 = 10 * mask
        var img = mask.Select(v => (float)v).Concat(mask.Select(v => 10f * v)).ToArray();
        foreach (var t in DihedralTransforms.All)
        {
            var (ti, tm, th, tw) = DihedralTransforms.ApplyToPair(img, mask, c, h, w, t);
            Assert.AreEqual(h * w, th * tw);
            for (int p = 0; p < th * tw; p++)
            {
                Assert.AreEqual(tm[p], ti[p], t.ToString());
                Assert.AreEqual(10f * tm[p], ti[th * tw + p], t.ToString());
            }
        }
    }

    [TestMethod]
    public void Random_IsSeededAndCoversAllEight()
    {
        var r1 = SeededRandom.For(3, "img-1");
        var r2 = SeededRandom.For(3, "img-1");
        var counts = new int[8];
        for (int i = 0; i < 800; i++)
        {
            var t = DihedralTransforms.Random(ref r1);
            Assert.AreEqual(t, DihedralTransforms.Random(ref r2));
            counts[(int)t]++;
        }
        Assert.IsTrue(counts.All(n => n > 50), string.Join(",", counts));
        var r3 = SeededRandom.For(1, 0);
        ReadOnlySpan<Dihedral> flips = [Dihedral.Identity, Dihedral.FlipHorizontal];
        for (int i = 0; i < 20; i++)
        {
            var t = DihedralTransforms.Random(ref r3, flips);
            Assert.IsTrue(t is Dihedral.Identity or Dihedral.FlipHorizontal);
        }
    }

    [TestMethod]
    public void Apply_InvalidArguments_Throw()
    {
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => DihedralTransforms.Apply(A, 2, 3, (Dihedral)8));
        var buffer = new byte[6];
        var ex = Assert.ThrowsExactly<ArgumentException>(() => DihedralTransforms.Apply(buffer, 2, 3, Dihedral.Rotate90, buffer));
        Assert.AreEqual("destination", ex.ParamName);
    }
}
