using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.MetaStructure;
using MLNet.NoisySeg.Noise;
using MLNet.NoisySeg.Quality;

namespace MLNet.NoisySeg.Tests.Quality;

[TestClass]
public sealed class MetaStructureScorerTests
{
    private const int Size = 96;

    /// <summary>Three equal discs far apart (radius 10).</summary>
    private static readonly (int X, int Y, int R, byte Class)[] ThreeDiscs = [(20, 20, 10, 1), (70, 25, 10, 1), (45, 70, 10, 1)];

    private static readonly LabelQualityOptions NoTolerance = new() { BoundaryTolerance = 0 };

    [TestMethod]
    public void IdenticalMasks_ScoreOne_WithNothingFlagged()
    {
        byte[] mask = QualityTestData.Paint(ThreeDiscs, Size);
        var flags = new byte[mask.Length];
        var excess = new float[mask.Length];
        var r = MetaStructureScorer.Compute(mask, mask, Size, Size, NoiseTransitionMatrix.Identity(2), NoTolerance, flags, excess);
        Assert.AreEqual(1.0, r.Score);
        Assert.AreEqual(0, r.StructuralIssueCount);
        Assert.IsTrue(flags.All(f => f == 0));
        Assert.IsTrue(excess.All(e => e == 0));
        Assert.AreEqual(0.0, r.ClassExcess[1]);
        // Mass = given + expected density summed: twice the foreground area (box densities conserve mass inside the image).
        Assert.AreEqual(2.0 * mask.Count(v => v == 1), r.ClassMass[1], 1e-2);
    }

    [TestMethod]
    public void DroppingOneOfThreeEqualObjects_ScoresAboutFourFifths_AndFlagsExactlyThatObject()
    {
        byte[] predicted = QualityTestData.Paint(ThreeDiscs, Size);
        byte[] given = QualityTestData.Paint(ThreeDiscs[1..], Size);
        var flags = new byte[given.Length];
        var r = MetaStructureScorer.Compute(given, predicted, Size, Size, NoiseTransitionMatrix.Identity(2), NoTolerance, flags);
        // Misplaced mass A against a mass of 2A (given) + 3A (expected): 1 - 1/5.
        Assert.AreEqual(0.8, r.Score, 0.01);
        Assert.AreEqual(r.ClassScores[1], r.Score, 1e-12, "binary: the overall score is the foreground's (class 0 excluded)");
        for (int i = 0; i < given.Length; i++)
            Assert.AreEqual(predicted[i] == 1 && given[i] == 0 ? (byte)1 : (byte)0, flags[i], $"pixel {i}");
        Assert.AreEqual(flags.Count(f => f == 1), r.StructuralIssueCount);
        // The count does not depend on asking for the flag mask.
        Assert.AreEqual(r.StructuralIssueCount, MetaStructureScorer.Compute(given, predicted, Size, Size, NoiseTransitionMatrix.Identity(2), NoTolerance).StructuralIssueCount);
    }

    [TestMethod]
    public void AMaskPlacedElsewhere_ScoresZero()
    {
        byte[] predicted = QualityTestData.Paint([(20, 20, 10, 1)], Size);
        byte[] given = QualityTestData.Paint([(70, 70, 10, 1)], Size);
        var r = MetaStructureScorer.Compute(given, predicted, Size, Size, NoiseTransitionMatrix.Identity(2), NoTolerance);
        Assert.AreEqual(0.0, r.Score, 1e-9);
    }

    [TestMethod]
    public void EmptyGivenAndPredicted_ScoreOne_AllIgnored_IsNaN()
    {
        var empty = new byte[Size * Size];
        Assert.AreEqual(1.0, MetaStructureScorer.Compute(empty, empty, Size, Size, NoiseTransitionMatrix.Identity(2)).Score);
        var ignored = Enumerable.Repeat(MaskConventions.IgnoreIndex, Size * Size).ToArray();
        Assert.IsTrue(double.IsNaN(MetaStructureScorer.Compute(ignored, empty, Size, Size, NoiseTransitionMatrix.Identity(2)).Score));
    }

    [TestMethod]
    public void SparseSampledMask_MatchesItsNoiseMatrix_ButNotTheIdentity()
    {
        // 10% of the foreground kept (the paper's RCL sampling); the network's decoded prediction is the truth.
        byte[] truth = QualityTestData.Paint(ThreeDiscs, Size);
        byte[] sparse = LabelNoiseSpec.Sampling(0.1).Apply(truth, Size, Size, seed: 3, imageIndex: 0);
        var sampling = new NoiseTransitionMatrix(new double[,] { { 1, 0 }, { 0.9, 0.1 } });
        var flags = new byte[truth.Length];
        var aware = MetaStructureScorer.Compute(sparse, truth, Size, Size, sampling, null, flags);
        var naive = MetaStructureScorer.Compute(sparse, truth, Size, Size, NoiseTransitionMatrix.Identity(2));
        Assert.IsTrue(aware.Score > 0.99, $"noise-aware score {aware.Score}");
        Assert.IsTrue(naive.Score < 0.5, $"identity-noise score {naive.Score}");
        // 90% of the foreground is labelled background, yet (almost) no pixel is a structural issue.
        Assert.IsTrue(aware.StructuralIssueCount < truth.Count(v => v == 1) / 50, $"{aware.StructuralIssueCount} flagged");
    }

    [TestMethod]
    public void SparseSampledMask_StillRevealsADroppedObject()
    {
        // The dropped disc should hold about 31 of the sparse labels and holds none; per window that is only about two
        // noise standard deviations, but the evidence adds up over the disc.
        byte[] truth = QualityTestData.Paint(ThreeDiscs, Size);
        var sampling = new NoiseTransitionMatrix(new double[,] { { 1, 0 }, { 0.9, 0.1 } });
        for (int seed = 1; seed <= 4; seed++)
        {
            byte[] intact = LabelNoiseSpec.Sampling(0.1).Apply(truth, Size, Size, seed, imageIndex: 0);
            byte[] dropped = LabelNoiseSpec.Sampling(0.1).Apply(QualityTestData.Paint(ThreeDiscs[1..], Size), Size, Size, seed, imageIndex: 0);
            double a = MetaStructureScorer.Compute(intact, truth, Size, Size, sampling).Score;
            double b = MetaStructureScorer.Compute(dropped, truth, Size, Size, sampling).Score;
            Assert.IsTrue(a >= 0.99 && b < a - 0.05, $"seed {seed}: intact {a:F4}, dropped {b:F4}");
        }
    }

    [TestMethod]
    public void SwappedClass_LowersBothClassesInvolved()
    {
        (int, int, int, byte)[] discs = [(20, 20, 10, 1), (70, 25, 10, 2), (45, 70, 10, 1), (75, 75, 8, 3)];
        byte[] predicted = QualityTestData.Paint(discs, Size);
        discs[0] = (20, 20, 10, 2);
        byte[] given = QualityTestData.Paint(discs, Size);
        var r = MetaStructureScorer.Compute(given, predicted, Size, Size, NoiseTransitionMatrix.Identity(4), NoTolerance);
        Assert.IsTrue(r.ClassScores[1] < 0.75 && r.ClassScores[2] < 0.75, $"{r.ClassScores[1]}, {r.ClassScores[2]}");
        Assert.AreEqual(1.0, r.ClassScores[3], 1e-12);
        Assert.IsTrue(r.ClassExcess[1] > 0 && Math.Abs(r.ClassExcess[1] - r.ClassExcess[2]) < 1e-6 * r.ClassExcess[1] + 1e-3);
    }

    [TestMethod]
    public void ExcludedClass_ControlsTheOverallPooling()
    {
        byte[] predicted = QualityTestData.Paint(ThreeDiscs, Size);
        byte[] given = QualityTestData.Paint(ThreeDiscs[1..], Size);
        var q = NoiseTransitionMatrix.Identity(2);
        var foreground = MetaStructureScorer.Compute(given, predicted, Size, Size, q, NoTolerance);
        var all = MetaStructureScorer.Compute(given, predicted, Size, Size, q, new LabelQualityOptions { BoundaryTolerance = 0, ExcludedClass = null });
        double pooled = 1 - (all.ClassExcess[0] + all.ClassExcess[1]) / (all.ClassMass[0] + all.ClassMass[1]);
        Assert.AreEqual(pooled, all.Score, 1e-12);
        Assert.IsTrue(all.Score > foreground.Score, "background mass dilutes the pooled score");
        // Binary: the background residual mirrors the foreground's.
        Assert.AreEqual(all.ClassExcess[1], all.ClassExcess[0], 1e-3 * all.ClassExcess[1]);
    }

    [TestMethod]
    public void BoundaryTolerance_ForgivesOnePixelButNotThree()
    {
        byte[] predicted = QualityTestData.Paint([(40, 40, 15, 1)], Size);
        byte[] onePixel = QualityTestData.Paint([(41, 40, 15, 1)], Size);
        byte[] threePixels = QualityTestData.Paint([(43, 40, 15, 1)], Size);
        var q = NoiseTransitionMatrix.Identity(2);
        var options = new LabelQualityOptions(); // tolerance 1 pixel, box h = 3
        Assert.IsTrue(MetaStructureScorer.Compute(onePixel, predicted, Size, Size, q, options).Score > 0.99);
        Assert.IsTrue(MetaStructureScorer.Compute(threePixels, predicted, Size, Size, q, options).Score < 0.96);
        Assert.IsTrue(MetaStructureScorer.Compute(onePixel, predicted, Size, Size, q, NoTolerance).Score < 0.98);
    }

    [TestMethod]
    public void CustomIgnoreValue_IsNeverScoredOrFlagged()
    {
        byte[] predicted = QualityTestData.Paint(ThreeDiscs, Size);
        byte[] given = QualityTestData.Paint(ThreeDiscs[1..], Size);
        byte[] with255 = (byte[])given.Clone(), with11 = (byte[])given.Clone();
        for (int i = 0; i < Size * 10; i++) { with255[i] = 255; with11[i] = 11; }
        var f255 = new byte[given.Length];
        var f11 = new byte[given.Length];
        var a = MetaStructureScorer.Compute(with255, predicted, Size, Size, NoiseTransitionMatrix.Identity(2), null, f255);
        var b = MetaStructureScorer.Compute(with11, predicted, Size, Size, NoiseTransitionMatrix.Identity(2), new LabelQualityOptions { IgnoreIndex = 11 }, f11);
        Assert.AreEqual(a.Score, b.Score);
        CollectionAssert.AreEqual(f255, f11);
        for (int i = 0; i < Size * 10; i++) Assert.AreEqual(MaskConventions.IgnoreIndex, f255[i]);
        Assert.ThrowsExactly<ArgumentException>(() => MetaStructureScorer.Compute(with11, predicted, Size, Size, NoiseTransitionMatrix.Identity(2)));
    }

    [TestMethod]
    public void AxisVarianceFactors_MatchTheKernelWeights()
    {
        // Box h = 3, valid-pixel border: 1 / (number of in-image taps).
        float[] box = MetaStructureScorer.AxisVarianceFactors(20, new DensityOptions { Bandwidth = 3 });
        Assert.AreEqual(1 / 4f, box[0], 1e-7f);
        Assert.AreEqual(1 / 7f, box[10], 1e-7f);
        Assert.AreEqual(1 / 5f, box[18], 1e-7f);
        float[] zero = MetaStructureScorer.AxisVarianceFactors(20, new DensityOptions { Bandwidth = 3, Border = DensityBorder.ZeroPadding });
        Assert.AreEqual(4 / 49f, zero[0], 1e-7f);
        // Gaussian: sum w^2 / (sum w)^2 over the in-image taps.
        var gaussian = new DensityOptions { Kernel = DensityKernel.Gaussian, Sigma = 1.5 };
        double[] w = DensityMap.GaussianWeights(1.5);
        int r = (w.Length - 1) / 2;
        float[] g = MetaStructureScorer.AxisVarianceFactors(30, gaussian);
        foreach (int x in new[] { 0, 2, 15, 29 })
        {
            double s1 = 0, s2 = 0;
            for (int k = -r; k <= r; k++)
                if (x + k >= 0 && x + k < 30) { s1 += w[k + r]; s2 += w[k + r] * w[k + r]; }
            Assert.AreEqual(s2 / (s1 * s1), g[x], 1e-6, $"x = {x}");
        }
    }

    [TestMethod]
    public void NullExcess_IsTheExpectedGaussianExcessBeyondATolerance()
    {
        // g(t) = phi(t) - t (1 - Phi(t)); g(0) = 1/sqrt(2 pi), g(1) = 0.24197072 - 0.15865525.
        Assert.AreEqual(1 / Math.Sqrt(2 * Math.PI), MetaStructureScorer.NullExcess(0), 1e-6);
        Assert.AreEqual(0.24197072451914337 - 0.15865525393145707, MetaStructureScorer.NullExcess(1), 1e-6);
        Assert.AreEqual(0.0, MetaStructureScorer.NullExcess(12));
        // Monte Carlo: E[max(0, |r| - d)] = 2 sigma g(d / sigma).
        var rng = SeededRandom.For(5, "null-excess");
        double sigma = 0.3, d = 0.2, sum = 0;
        const int n = 400_000;
        for (int i = 0; i < n; i++) sum += Math.Max(0, Math.Abs(sigma * rng.NextGaussian()) - d);
        Assert.AreEqual(sum / n, 2 * sigma * MetaStructureScorer.NullExcess(d / sigma), 2e-3);
        Assert.AreEqual(0.157299207050285, MetaStructureScorer.Erfc(1), 2e-7);
        Assert.AreEqual(2 - 0.157299207050285, MetaStructureScorer.Erfc(-1), 2e-7);
    }

    [TestMethod]
    public void Compute_ValidatesItsInputs()
    {
        var q = NoiseTransitionMatrix.Identity(2);
        var mask = new byte[16];
        Assert.AreEqual("given", Assert.ThrowsExactly<ArgumentException>(() => MetaStructureScorer.Compute(new byte[15], mask, 4, 4, q)).ParamName);
        Assert.AreEqual("predicted", Assert.ThrowsExactly<ArgumentException>(() => MetaStructureScorer.Compute(mask, Enumerable.Repeat((byte)2, 16).ToArray(), 4, 4, q)).ParamName);
        Assert.AreEqual("given", Assert.ThrowsExactly<ArgumentException>(() => MetaStructureScorer.Compute(Enumerable.Repeat((byte)3, 16).ToArray(), mask, 4, 4, q)).ParamName);
        Assert.AreEqual("ExcludedClass", Assert.ThrowsExactly<ArgumentOutOfRangeException>(
            () => MetaStructureScorer.Compute(mask, mask, 4, 4, q, new LabelQualityOptions { ExcludedClass = 2 })).ParamName);
    }
}
