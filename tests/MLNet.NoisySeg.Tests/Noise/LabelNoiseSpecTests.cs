using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Morphology;
using MLNet.NoisySeg.Noise;

namespace MLNet.NoisySeg.Tests.Noise;

[TestClass]
public sealed class LabelNoiseSpecTests
{
    /// <summary>Random mask with class values 0..classCount-1 (class 0 with weight <paramref name="bgShare"/>) and some ignore pixels.</summary>
    internal static byte[] RandomMask(int w, int h, int classCount, double fgShare, int seed, double ignore = 0.0)
    {
        var rng = new SeededRandom((ulong)seed);
        var m = new byte[w * h];
        for (int i = 0; i < m.Length; i++)
        {
            double u = rng.NextDouble();
            m[i] = u < ignore ? MaskConventions.IgnoreIndex
                : u < ignore + fgShare ? (byte)(1 + rng.NextInt(classCount - 1))
                : (byte)0;
        }
        return m;
    }

    private static int Count(byte[] m, byte v) => m.Count(x => x == v);

    [TestMethod]
    [DataRow(0.0)]
    [DataRow(0.1)]
    [DataRow(0.25)]
    [DataRow(0.5)]
    [DataRow(0.7)]
    [DataRow(0.9)]
    [DataRow(1.0)]
    public void SamplingKeepsExactlyCeilOfForeground(double s)
    {
        foreach (var (w, h, share) in new[] { (10, 1, 1.0), (7, 3, 0.5), (64, 48, 0.2), (257, 129, 0.33) })
        {
            var clean = RandomMask(w, h, 2, share, w + h, ignore: 0.05);
            int nFg = Count(clean, 1);
            var noisy = LabelNoiseSpec.Sampling(s).Apply(clean, w, h, seed: 1, imageId: "a");
            int expected = (int)Math.Ceiling(Math.Round(s * nFg, 9));
            Assert.AreEqual(expected, Count(noisy, 1), $"s={s} {w}x{h} nFg={nFg}");
            for (int i = 0; i < clean.Length; i++)
            {
                if (noisy[i] == 1) Assert.AreEqual(1, clean[i], "sampled pixels are a subset of the foreground");
                Assert.AreEqual(clean[i] == 255, noisy[i] == 255, "ignore untouched");
            }
        }
    }

    [TestMethod]
    public void CeilCountIsRobustToFloatingError()
    {
        Assert.AreEqual(1, NoiseKernels.CeilCount(0.1, 10));
        Assert.AreEqual(1, NoiseKernels.CeilCount(1 - 0.9, 10));
        Assert.AreEqual(7, NoiseKernels.CeilCount(0.7, 10));
        Assert.AreEqual(56, NoiseKernels.CeilCount(0.56, 100));
        Assert.AreEqual(2, NoiseKernels.CeilCount(0.101, 10));
        Assert.AreEqual(0, NoiseKernels.CeilCount(0, 10));
        Assert.AreEqual(10, NoiseKernels.CeilCount(1, 10));
        Assert.AreEqual(1, NoiseKernels.CeilCount(1e-6, 10));
    }

    [TestMethod]
    [DataRow(0.45, 0.45)]
    [DataRow(0.9, 0.9)]
    [DataRow(0.0, 0.0)]
    [DataRow(1.0, 1.0)]
    [DataRow(0.3, 0.0)]
    [DataRow(0.0, 0.7)]
    public void FlippingChangesExactCounts(double f, double b)
    {
        foreach (var (w, h) in new[] { (10, 10), (33, 17), (128, 96) })
        {
            var clean = RandomMask(w, h, 2, 0.3, w * 31 + h, ignore: 0.05);
            int nFg = Count(clean, 1), nBg = Count(clean, 0);
            var noisy = LabelNoiseSpec.Flipping(f, b).Apply(clean, w, h, seed: 2, imageId: "b");
            int keptFg = 0, flippedBg = 0;
            for (int i = 0; i < clean.Length; i++)
            {
                if (clean[i] == 1 && noisy[i] == 1) keptFg++;
                if (clean[i] == 0 && noisy[i] == 1) flippedBg++;
                Assert.AreEqual(clean[i] == 255, noisy[i] == 255);
            }
            Assert.AreEqual((int)Math.Ceiling(Math.Round((1 - f) * nFg, 9)), keptFg, $"kept fg, {w}x{h}");
            Assert.AreEqual(nBg - (int)Math.Ceiling(Math.Round((1 - b) * nBg, 9)), flippedBg, $"flipped bg, {w}x{h}");
        }
    }

    /// <summary>Empirical NTM: counts of (true, noisy) normalised per true class.</summary>
    private static double[,] EmpiricalNtm(byte[] clean, byte[] noisy, int k)
    {
        var c = new double[k, k];
        var rows = new double[k];
        for (int i = 0; i < clean.Length; i++)
        {
            if (clean[i] == 255) continue;
            c[clean[i], noisy[i]]++;
            rows[clean[i]]++;
        }
        for (int j = 0; j < k; j++)
            for (int m = 0; m < k; m++) c[j, m] /= rows[j];
        return c;
    }

    [TestMethod]
    public void EmpiricalNtmMatchesExpectedOnMegapixelMasks()
    {
        const int n = 1024;
        var binary = RandomMask(n, n, 2, 0.2, 5);
        foreach (var spec in new[] { LabelNoiseSpec.Flipping(0.45, 0.3), LabelNoiseSpec.Sampling(0.1), LabelNoiseSpec.RandomLabels(0.3) })
        {
            var noisy = spec.Apply(binary, n, n, seed: 3, imageId: "big");
            AssertClose(spec.ExpectedTransitionMatrix()!, EmpiricalNtm(binary, noisy, 2), 0.01, spec.ToString());
        }

        var four = RandomMask(n, n, 4, 0.75, 6);
        foreach (var spec in new[]
        {
            LabelNoiseSpec.SymmetricFlip(0.5, 4),
            LabelNoiseSpec.FromMatrix(new NoiseTransitionMatrix(new double[,] { { 0.7, 0.1, 0.1, 0.1 }, { 0, 1, 0, 0 }, { 0.2, 0.2, 0.6, 0 }, { 0, 0, 0.5, 0.5 } })),
            LabelNoiseSpec.ClassSampling(0.3, 0),
            LabelNoiseSpec.RandomPrior([0.1, 0.2, 0.3, 0.4]),
        })
        {
            var noisy = spec.Apply(four, n, n, seed: 4, imageId: "big4");
            AssertClose(spec.ExpectedTransitionMatrix(4)!, EmpiricalNtm(four, noisy, 4), 0.01, spec.ToString());
        }
    }

    private static void AssertClose(NoiseTransitionMatrix q, double[,] e, double tol, string what)
    {
        for (int j = 0; j < q.ClassCount; j++)
            for (int m = 0; m < q.ClassCount; m++)
                Assert.AreEqual(q[j, m], e[j, m], tol, $"{what}: Q[{j},{m}]");
    }

    [TestMethod]
    public void ExpectedTransitionMatrixValues()
    {
        var q = LabelNoiseSpec.Flipping(0.2, 0.1).ExpectedTransitionMatrix()!;
        Assert.AreEqual(0.9, q[0, 0], 1e-12);
        Assert.AreEqual(0.1, q[0, 1], 1e-12);
        Assert.AreEqual(0.2, q[1, 0], 1e-12);
        Assert.AreEqual(0.8, q[1, 1], 1e-12);
        var s = LabelNoiseSpec.Sampling(0.1).ExpectedTransitionMatrix()!;
        Assert.AreEqual(1.0, s[0, 0]);
        Assert.AreEqual(0.1, s[1, 1], 1e-12);
        var cs = LabelNoiseSpec.ClassSampling(0.25, 2).ExpectedTransitionMatrix(3)!;
        Assert.AreEqual(0.75, cs[0, 2], 1e-12);
        Assert.AreEqual(1.0, cs[2, 2]);
        Assert.AreEqual(0.25, cs[1, 1], 1e-12);
        Assert.AreEqual(3, LabelNoiseSpec.SymmetricFlip(0.3, 3).ExpectedTransitionMatrix()!.ClassCount);
        Assert.AreEqual(3, LabelNoiseSpec.Clean().ExpectedTransitionMatrix(3)!.ClassCount);
        Assert.IsNull(LabelNoiseSpec.Dilation(1).ExpectedTransitionMatrix());
        Assert.IsNull(LabelNoiseSpec.Skeleton().ExpectedTransitionMatrix());
        Assert.IsNull(LabelNoiseSpec.PixelShift(1).ExpectedTransitionMatrix());
        Assert.IsNull(LabelNoiseSpec.BoundaryFlip(2, 0.5).ExpectedTransitionMatrix());
    }

    public static IEnumerable<object[]> AllKinds() =>
    [
        [LabelNoiseSpec.Clean(), "clean"],
        [LabelNoiseSpec.Sampling(0.1), "sampling(0.1)"],
        [LabelNoiseSpec.Flipping(0.45, 0.45), "flip(0.45,0.45)"],
        [LabelNoiseSpec.RandomLabels(0.3), "random(0.3)"],
        [LabelNoiseSpec.Dilation(2), "dilate(2)"],
        [LabelNoiseSpec.Erosion(1), "erode(1)"],
        [LabelNoiseSpec.Skeleton(), "skeleton"],
        [LabelNoiseSpec.PixelShift(1), "shift(1)"],
        [LabelNoiseSpec.BoundaryFlip(2, 0.5), "boundaryflip(2,0.5)"],
        [LabelNoiseSpec.FromMatrix(new NoiseTransitionMatrix(new double[,] { { 0.9, 0.1 }, { 0.2, 0.8 } })), "ntm([[0.9,0.1],[0.2,0.8]])"],
        [LabelNoiseSpec.SymmetricFlip(0.5, 4), "symflip(0.5,classes=4)"],
        [LabelNoiseSpec.ClassSampling(0.1, 0), "classsample(0.1,bg=0)"],
        [LabelNoiseSpec.ClassDilation(1), "classdilate(1,bg=0)"],
        [LabelNoiseSpec.ClassErosion(1, 3), "classerode(1,bg=3)"],
        [LabelNoiseSpec.RandomPrior([0.5, 0.3, 0.2]), "randomprior([0.5,0.3,0.2])"],
    ];

    [TestMethod]
    [DynamicData(nameof(AllKinds))]
    public void TextFormRoundTrips(LabelNoiseSpec spec, string text)
    {
        Assert.AreEqual(text, spec.ToString());
        var parsed = LabelNoiseSpec.Parse(text);
        Assert.AreEqual(spec, parsed);
        Assert.AreEqual(spec.GetHashCode(), parsed.GetHashCode());
        Assert.AreEqual(text, parsed.ToString());
        Assert.IsTrue(LabelNoiseSpec.TryParse(text.ToUpperInvariant().Replace(",", ", "), out var again));
        Assert.AreEqual(spec, again);
    }

    [TestMethod]
    public void ParseAcceptsAliasesAndOptionalArguments()
    {
        Assert.AreEqual(LabelNoiseSpec.ClassDilation(1, 0), LabelNoiseSpec.Parse("classdilate(1)"));
        Assert.AreEqual(LabelNoiseSpec.ClassSampling(0.2, 4), LabelNoiseSpec.Parse("classsample(0.2,4)"));
        Assert.AreEqual(LabelNoiseSpec.SymmetricFlip(0.5, 3), LabelNoiseSpec.Parse("symflip(classes=3, rate=0.5)"));
        Assert.AreEqual(LabelNoiseSpec.Flipping(0.9, 0.9), LabelNoiseSpec.Parse(" flipping( 0.9 , 0.9 ) "));
        Assert.AreEqual(LabelNoiseSpec.Skeleton(), LabelNoiseSpec.Parse("skeletonize"));
        Assert.AreEqual(0.1, LabelNoiseSpec.Parse("sampling(1e-1)").Rate);
    }

    [TestMethod]
    [DataRow("", "empty")]
    [DataRow("blur(2)", "unknown kind 'blur'")]
    [DataRow("sampling(0.1", "missing closing")]
    [DataRow("sampling", "needs argument 1 (rate)")]
    [DataRow("sampling(abc)", "'abc' is not a number")]
    [DataRow("sampling(1.5)", "Rate must be a number in [0, 1]")]
    [DataRow("sampling(NaN)", "Rate must be a number in [0, 1]")]
    [DataRow("flip(0.1)", "needs argument 2 (b)")]
    [DataRow("flip(0.1,-0.2)", "BackgroundFlipRate")]
    [DataRow("dilate(-1)", "Radius must be in [0, 254]")]
    [DataRow("dilate(1.5)", "not an integer")]
    [DataRow("shift(1,2)", "unexpected argument '2'")]
    [DataRow("symflip(0.5)", "needs argument 2 (classes)")]
    [DataRow("symflip(0.5,classes=1)", "ClassCount must be in [2, 255]")]
    [DataRow("ntm([[0.5,0.6],[0,1]])", "sums to")]
    [DataRow("ntm([[1,0],[0]])", "different lengths")]
    [DataRow("randomprior([0.5,0.6])", "Prior must sum to 1")]
    [DataRow("boundaryflip(0,0.5)", "Distance must be in [1, 254]")]
    public void ParseGivesClearErrors(string text, string fragment)
    {
        var ex = Assert.ThrowsExactly<FormatException>(() => LabelNoiseSpec.Parse(text));
        StringAssert.Contains(ex.Message, fragment);
        Assert.IsFalse(LabelNoiseSpec.TryParse(text, out _, out string? error));
        StringAssert.Contains(error!, fragment);
    }

    [TestMethod]
    public void InvalidOptionsThrowNamingTheOption()
    {
        Assert.AreEqual("Rate", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => LabelNoiseSpec.Sampling(double.NaN)).ParamName);
        Assert.AreEqual("Rate", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => LabelNoiseSpec.Sampling(1.01)).ParamName);
        Assert.AreEqual("ForegroundFlipRate", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => LabelNoiseSpec.Flipping(-0.1, 0.5)).ParamName);
        Assert.AreEqual("BackgroundFlipRate", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => LabelNoiseSpec.Flipping(0.1, 2)).ParamName);
        Assert.AreEqual("Rate", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => LabelNoiseSpec.RandomLabels(-1)).ParamName);
        Assert.AreEqual("Radius", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => LabelNoiseSpec.Dilation(-1)).ParamName);
        Assert.AreEqual("Radius", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => LabelNoiseSpec.Erosion(255)).ParamName);
        Assert.AreEqual("Radius", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => LabelNoiseSpec.PixelShift(-2)).ParamName);
        Assert.AreEqual("Distance", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => LabelNoiseSpec.BoundaryFlip(0, 0.5)).ParamName);
        Assert.AreEqual("ClassCount", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => LabelNoiseSpec.SymmetricFlip(0.2, 1)).ParamName);
        Assert.AreEqual("BackgroundClass", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => LabelNoiseSpec.ClassSampling(0.2, 255)).ParamName);
        Assert.AreEqual("Matrix", Assert.ThrowsExactly<ArgumentException>(() => new LabelNoiseSpec { Kind = LabelNoiseKind.TransitionMatrix }.Validate()).ParamName);
        Assert.AreEqual("Prior", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => LabelNoiseSpec.RandomPrior([1.0])).ParamName);
        Assert.AreEqual("Prior", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => LabelNoiseSpec.RandomPrior([double.NaN, 1])).ParamName);
        // An invalid spec built with init-only properties fails at Apply time too.
        var bad = new LabelNoiseSpec { Kind = LabelNoiseKind.Sampling, Rate = 3 };
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => bad.Apply(new byte[4], 2, 2, 1, "x"));
        StringAssert.Contains(ex.Message, "Rate must be a number in [0, 1]");
    }

    [TestMethod]
    public void WrongMasksGiveClearErrors()
    {
        var multi = new byte[] { 0, 1, 2, 0 };
        var e1 = Assert.ThrowsExactly<ArgumentException>(() => LabelNoiseSpec.Sampling(0.5).Apply(multi, 2, 2, 1, "x"));
        StringAssert.Contains(e1.Message, "value 2 at pixel 2");
        Assert.AreEqual("clean", e1.ParamName);
        var e2 = Assert.ThrowsExactly<ArgumentException>(() => LabelNoiseSpec.SymmetricFlip(0.5, 2).Apply(multi, 2, 2, 1, "x"));
        StringAssert.Contains(e2.Message, "class 2 at pixel 2");
        Assert.ThrowsExactly<ArgumentException>(() => LabelNoiseSpec.Clean().Apply(new byte[5], 2, 2, 1, "x"));
        var buf = new byte[4];
        var rng = new SeededRandom(1);
        Assert.ThrowsExactly<ArgumentException>(() => LabelNoiseSpec.Clean().Apply(buf, buf, 2, 2, ref rng));
    }

    [TestMethod]
    [DynamicData(nameof(AllKinds))]
    public void IgnorePixelsAreNeverCorrupted(LabelNoiseSpec spec, string text)
    {
        int w = 48, h = 40;
        int classes = spec.Kind is LabelNoiseKind.SymmetricFlip ? 4 : spec.Kind is LabelNoiseKind.RandomPrior ? 3 : 2;
        bool multi = spec.Kind is LabelNoiseKind.ClassDilate or LabelNoiseKind.ClassErode or LabelNoiseKind.ClassSampling;
        var clean = RandomMask(w, h, multi ? 5 : classes, 0.4, 17, ignore: 0.15);
        var noisy = spec.Apply(clean, w, h, seed: 9, imageId: "ign");
        for (int i = 0; i < clean.Length; i++)
            Assert.AreEqual(clean[i] == 255, noisy[i] == 255, $"{text}: pixel {i}");
    }

    [TestMethod]
    public void RandomLabelsFollowTheRateAndIgnoreTheTruth()
    {
        int w = 256, h = 256;
        var clean = RandomMask(w, h, 2, 0.2, 1);
        var noisy = LabelNoiseSpec.RandomLabels(0.3).Apply(clean, w, h, 5, "r");
        Assert.AreEqual(0.3, Count(noisy, 1) / (double)noisy.Length, 0.01);
        var zeros = new byte[w * h];
        CollectionAssert.AreEqual(noisy, LabelNoiseSpec.RandomLabels(0.3).Apply(zeros, w, h, 5, "r"));
        Assert.AreEqual(0, Count(LabelNoiseSpec.RandomLabels(0).Apply(clean, w, h, 5, "r"), 1));
        Assert.AreEqual(w * h, Count(LabelNoiseSpec.RandomLabels(1).Apply(clean, w, h, 5, "r"), 1));
    }

    [TestMethod]
    public void RandomLabelsMatchTheirScalarDefinition()
    {
        // Definition: tile t (LabelNoiseSpec.TileRows rows) uses stream rng.Fork(t); pixel pairs take the low
        // and high 32 bits of one draw; a pixel is 1 when its 32-bit value < rate * 2^32. The vectorised
        // kernel must give exactly these bytes (odd width: pairs and vectors straddle rows).
        int w = 77, h = 70;
        var clean = RandomMask(w, h, 2, 0.3, 21, ignore: 0.1);
        var noisy = LabelNoiseSpec.RandomLabels(0.37).Apply(clean, w, h, 4, "scalar");
        var baseRng = SeededRandom.For(4, "scalar", 0);
        ulong threshold = (ulong)Math.Round(0.37 * 4294967296.0);
        var expected = new byte[clean.Length];
        for (int tile = 0; tile * LabelNoiseSpec.TileRows < h; tile++)
        {
            var t = baseRng.Fork((ulong)tile);
            int start = tile * LabelNoiseSpec.TileRows * w, end = Math.Min(clean.Length, start + LabelNoiseSpec.TileRows * w);
            for (int i = start; i < end; i += 2)
            {
                ulong u = t.NextUInt64();
                expected[i] = clean[i] == 255 ? (byte)255 : (u & 0xFFFFFFFF) < threshold ? (byte)1 : (byte)0;
                if (i + 1 < end) expected[i + 1] = clean[i + 1] == 255 ? (byte)255 : (u >> 32) < threshold ? (byte)1 : (byte)0;
            }
        }
        CollectionAssert.AreEqual(expected, noisy);
    }

    [TestMethod]
    public void MorphologyKindsMatchBinaryMorphology()
    {
        int w = 60, h = 50;
        var clean = RandomMask(w, h, 2, 0.35, 3, ignore: 0.03);
        var expected = new byte[clean.Length];
        BinaryMorphology.Dilate(clean, expected, w, h, 2);
        CollectionAssert.AreEqual(expected, LabelNoiseSpec.Dilation(2).Apply(clean, w, h, 1, "m"));
        CollectionAssert.AreEqual(expected, LabelNoiseSpec.ClassDilation(2).Apply(clean, w, h, 1, "m"), "classdilate on a binary mask = dilate");
        BinaryMorphology.Erode(clean, expected, w, h, 1);
        CollectionAssert.AreEqual(expected, LabelNoiseSpec.Erosion(1).Apply(clean, w, h, 1, "m"));
        CollectionAssert.AreEqual(expected, LabelNoiseSpec.ClassErosion(1).Apply(clean, w, h, 1, "m"), "classerode on a binary mask = erode");
        BinaryMorphology.Skeletonize(clean, expected, w, h);
        CollectionAssert.AreEqual(expected, LabelNoiseSpec.Skeleton().Apply(clean, w, h, 1, "m"));
        CollectionAssert.AreEqual(clean, LabelNoiseSpec.Clean().Apply(clean, w, h, 1, "m"));
    }

    [TestMethod]
    public void ClassDilationTieGoesToLowestClassAndOnlyBackgroundChanges()
    {
        // Row: class 3 at x=0, background at x=1, class 2 at x=2: the contested pixel goes to class 2.
        var clean = new byte[] { 3, 0, 2, 0, 0, 5 };
        var noisy = LabelNoiseSpec.ClassDilation(1).Apply(clean, 6, 1, 1, "t");
        CollectionAssert.AreEqual(new byte[] { 3, 2, 2, 2, 5, 5 }, noisy);
        var eroded = LabelNoiseSpec.ClassErosion(1).Apply(new byte[] { 4, 4, 4, 4, 1, 1, 1, 9 }, 8, 1, 1, "t");
        CollectionAssert.AreEqual(new byte[] { 0, 0, 0, 0, 0, 0, 0, 0 }, eroded, "1-row masks erode completely (disk reaches outside)");
        int w = 7, h = 5;
        var block = new byte[w * h];
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) block[y * w + x] = x < 4 ? (byte)1 : (byte)2;
        var e = LabelNoiseSpec.ClassErosion(1, 0).Apply(block, w, h, 1, "t");
        Assert.AreEqual(1, e[2 * w + 2]);
        Assert.AreEqual(0, e[2 * w + 3], "class 1 eroded at the border with class 2");
        Assert.AreEqual(0, e[2 * w + 4], "class 2 eroded at the border with class 1");
        Assert.AreEqual(2, e[2 * w + 5]);
    }

    [TestMethod]
    public void ClassSamplingKeepsExactCountsPerClass()
    {
        int w = 90, h = 70;
        var clean = RandomMask(w, h, 6, 0.6, 8, ignore: 0.05);
        var noisy = LabelNoiseSpec.ClassSampling(0.3, 0).Apply(clean, w, h, 2, "cs");
        for (byte c = 1; c < 6; c++)
        {
            int nc = Count(clean, c), kept = 0;
            for (int i = 0; i < clean.Length; i++)
            {
                if (clean[i] == c && noisy[i] == c) kept++;
                if (clean[i] == c) Assert.IsTrue(noisy[i] == c || noisy[i] == 0);
            }
            Assert.AreEqual((int)Math.Ceiling(Math.Round(0.3 * nc, 9)), kept, $"class {c}");
        }
        Assert.AreEqual(Count(clean, 0) + clean.Count(v => v is > 0 and < 255) - noisy.Count(v => v is > 0 and < 255), Count(noisy, 0));
    }

    [TestMethod]
    public void BoundaryFlipOnlyTouchesTheBand()
    {
        int w = 80, h = 60;
        var clean = BlobMasks.Blobs(w, h, 4);
        var band = new byte[clean.Length];
        BinaryMorphology.BoundaryBand(clean, band, w, h, 2);
        var noisy = LabelNoiseSpec.BoundaryFlip(2, 0.5).Apply(clean, w, h, 1, "bf");
        int bandFg = 0, bandBg = 0, keptFg = 0, flippedBg = 0;
        for (int i = 0; i < clean.Length; i++)
        {
            if (band[i] == 0) { Assert.AreEqual(clean[i], noisy[i], "outside the band nothing changes"); continue; }
            if (clean[i] == 1) { bandFg++; if (noisy[i] == 1) keptFg++; }
            else { bandBg++; if (noisy[i] == 1) flippedBg++; }
        }
        Assert.IsTrue(bandFg > 0 && bandBg > 0);
        Assert.AreEqual((bandFg + 1) / 2, keptFg);
        Assert.AreEqual(bandBg - (bandBg + 1) / 2, flippedBg);
    }
}

/// <summary>Blob masks for the noise tests (smoothed random field > 0.52, like the benchmark).</summary>
internal static class BlobMasks
{
    internal static byte[] Blobs(int w, int h, int seed)
    {
        var rng = new SeededRandom((ulong)seed);
        var f = new double[w * h];
        for (int i = 0; i < f.Length; i++) f[i] = rng.NextDouble();
        for (int pass = 0; pass < 3; pass++)
        {
            var g = new double[f.Length];
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    double s = 0; int c = 0;
                    for (int dy = -2; dy <= 2; dy++)
                        for (int dx = -2; dx <= 2; dx++)
                        {
                            int xx = x + dx, yy = y + dy;
                            if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
                            s += f[yy * w + xx]; c++;
                        }
                    g[y * w + x] = s / c;
                }
            f = g;
        }
        return f.Select(v => v > 0.52 ? (byte)1 : (byte)0).ToArray();
    }
}
