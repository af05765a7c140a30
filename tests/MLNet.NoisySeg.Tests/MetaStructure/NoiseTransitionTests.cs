using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.MetaStructure;
using static MLNet.NoisySeg.Tests.MetaStructure.MetaStructureTestMasks;

namespace MLNet.NoisySeg.Tests.MetaStructure;

[TestClass]
public sealed class NoiseTransitionTests
{
    [TestMethod]
    public void Estimate_RecoversKnownQ_On1024x1024()
    {
        const int size = 1024;
        var q = new NoiseTransitionMatrix(new double[,]
        {
            { 0.7, 0.2, 0.1 },
            { 0.05, 0.9, 0.05 },
            { 0.3, 0.0, 0.7 },
        });
        byte[] clean = DiscMask(size, size, 3, 300, 10, 60, seed: 1);
        byte[] noisy = Corrupt(clean, q, seed: 2);
        NoiseTransitionMatrix est = NoiseTransitionEstimator.Estimate(clean, noisy, 3);
        for (int j = 0; j < 3; j++)
            for (int m = 0; m < 3; m++)
                Assert.AreEqual(q[j, m], est[j, m], 0.01, $"Q[{j},{m}]");
        Assert.AreEqual(0.0, est[2, 1]); // an impossible transition is never seen
    }

    [TestMethod]
    public void Estimate_BinaryFlip_AndCountsAreConsistent()
    {
        const int size = 512;
        var q = NoiseTransitionMatrix.BinaryFlip(0.45, 0.45);
        byte[] clean = DiscMask(size, size, 2, 80, 10, 50, seed: 3);
        byte[] noisy = Corrupt(clean, q, seed: 4);
        TransitionCounts counts = NoiseTransitionEstimator.Count(clean, noisy, 2);
        Assert.AreEqual((long)size * size, counts.PixelCount);
        Assert.AreEqual(0L, counts.IgnoredCount);
        Assert.AreEqual(clean.Count(v => v == 1), counts.RowTotal(1));
        Assert.AreEqual(clean.Count(v => v == 1) - noisy.Where((v, i) => clean[i] == 1 && v == 1).Count(), counts[1, 0]);
        NoiseTransitionMatrix est = counts.ToMatrix();
        Assert.AreEqual(0.45, est[1, 0], 0.01);
        Assert.AreEqual(0.45, est[0, 1], 0.01);
        Assert.AreEqual(counts[0, 1] / (double)counts.RowTotal(0), est[0, 1], 1e-15);
        long[,] raw = counts.ToArray();
        Assert.AreEqual(counts[1, 1], raw[1, 1]);
    }

    [TestMethod]
    public void Estimate_ExcludesIgnore_AndGivesIdentityRowForAbsentClass()
    {
        byte[] clean = [0, 0, 0, 1, 1, 255, 255, 0];
        byte[] noisy = [0, 1, 0, 1, 0, 255, 1, 255];
        TransitionCounts c = NoiseTransitionEstimator.Count(clean, noisy, 3);
        Assert.AreEqual(5L, c.PixelCount);
        Assert.AreEqual(3L, c.IgnoredCount);
        Assert.AreEqual(2L, c[0, 0]);
        Assert.AreEqual(1L, c[0, 1]);
        Assert.AreEqual(1L, c[1, 0]);
        Assert.AreEqual(1L, c[1, 1]);
        NoiseTransitionMatrix q = c.ToMatrix();
        Assert.AreEqual(2 / 3.0, q[0, 0], 1e-15);
        Assert.AreEqual(0.5, q[1, 0], 1e-15);
        // Class 2 never occurs: identity row.
        Assert.AreEqual(0.0, q[2, 0]);
        Assert.AreEqual(1.0, q[2, 2]);
    }

    [TestMethod]
    public void Estimate_BatchPoolsAllPairs()
    {
        byte[] c1 = [0, 0, 1, 1], n1 = [0, 1, 1, 1];
        byte[] c2 = [1, 1, 0, 0, 0, 0], n2 = [0, 0, 0, 0, 0, 1];
        TransitionCounts pooled = NoiseTransitionEstimator.Count(new[] { (c1, n1), (c2, n2) }, 2);
        Assert.AreEqual(10L, pooled.PixelCount);
        Assert.AreEqual(4L, pooled[0, 0]);
        Assert.AreEqual(2L, pooled[0, 1]);
        Assert.AreEqual(2L, pooled[1, 0]);
        Assert.AreEqual(2L, pooled[1, 1]);
        var manual = NoiseTransitionEstimator.Count(c1, n1, 2);
        manual.Add(NoiseTransitionEstimator.Count(c2, n2, 2));
        CollectionAssert.AreEqual(manual.ToArray(), pooled.ToArray());
        NoiseTransitionMatrix q = NoiseTransitionEstimator.Estimate(new[] { (c1, n1), (c2, n2) }, 2);
        Assert.AreEqual(2 / 6.0, q[0, 1], 1e-15);
        Assert.AreEqual(0.5, q[1, 0], 1e-15);
    }

    [TestMethod]
    public void Estimate_RejectsBadInput()
    {
        Assert.AreEqual("noisy", Assert.ThrowsExactly<ArgumentException>(() => NoiseTransitionEstimator.Estimate(new byte[3], new byte[4], 2)).ParamName);
        Assert.AreEqual("clean", Assert.ThrowsExactly<ArgumentException>(() => NoiseTransitionEstimator.Estimate(new byte[] { 0, 2 }, new byte[2], 2)).ParamName);
        Assert.AreEqual("classCount", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => NoiseTransitionEstimator.Estimate(new byte[2], new byte[2], 1)).ParamName);
    }

    [TestMethod]
    public void Analysis_Identity()
    {
        var q = NoiseTransitionMatrix.Identity(3);
        Assert.AreEqual(1.0, q.Determinant(), 1e-15);
        Assert.AreEqual(3, q.Rank());
        Assert.AreEqual(3, q.RecoverableClassCount);
        Assert.IsTrue(q.IsInvertible);
        Assert.IsFalse(q.IsInverted);
        double[,] inv = q.Inverse();
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                Assert.AreEqual(i == j ? 1.0 : 0.0, inv[i, j], 1e-15);
    }

    [TestMethod]
    public void Analysis_BinarySingularWhenFPlusBIsOne()
    {
        var q = NoiseTransitionMatrix.BinaryFlip(0.3, 0.7); // f + b = 1: noisy label independent of the truth
        Assert.AreEqual(0.0, q.Determinant(), 1e-12);
        Assert.AreEqual(1, q.Rank());
        Assert.AreEqual(1, q.RecoverableClassCount);
        Assert.IsFalse(q.IsInvertible);
        var ex = Assert.ThrowsExactly<InvalidOperationException>(() => q.Inverse());
        Assert.Contains("rank 1", ex.Message);
        Assert.AreEqual(1, NoiseTransitionMatrix.BinaryFlip(0.5, 0.5).Rank());
    }

    [TestMethod]
    [DataRow(0.9, 0.9, -0.8, true)]
    [DataRow(0.45, 0.45, 0.1, false)]
    [DataRow(0.9, 0.0, 0.1, false)]   // sampling s = 0.1
    [DataRow(0.2, 0.95, -0.15, true)]
    public void Analysis_BinaryDeterminantIsOneMinusFMinusB(double f, double b, double det, bool inverted)
    {
        var q = NoiseTransitionMatrix.BinaryFlip(f, b);
        Assert.AreEqual(det, q.Determinant(), 1e-12);
        Assert.AreEqual(inverted, q.IsInverted);
        Assert.AreEqual(2, q.Rank());
        Assert.IsTrue(q.IsInvertible);
        AssertIsInverse(q, q.Inverse());
    }

    [TestMethod]
    public void Analysis_ThreeByThreeRankTwo()
    {
        // Row 2 is the average of rows 0 and 1.
        var q = new NoiseTransitionMatrix(new double[,]
        {
            { 0.6, 0.3, 0.1 },
            { 0.2, 0.2, 0.6 },
            { 0.4, 0.25, 0.35 },
        });
        Assert.AreEqual(0.0, q.Determinant(), 1e-12);
        Assert.AreEqual(2, q.Rank());
        Assert.AreEqual(2, q.RecoverableClassCount);
        Assert.IsFalse(q.IsInvertible);
        Assert.Contains("rank 2 of 3", Assert.ThrowsExactly<InvalidOperationException>(() => q.Inverse()).Message);

        var full = NoiseTransitionMatrix.SymmetricFlip(3, 0.3);
        Assert.AreEqual(3, full.Rank());
        // Eigenvalues of a symmetric flip: 1 and (1 - e - e/(C-1)) twice.
        Assert.AreEqual(1.0 * 0.55 * 0.55, full.Determinant(), 1e-12);
        Assert.IsFalse(full.IsInverted);
        AssertIsInverse(full, full.Inverse());
        Assert.IsTrue(NoiseTransitionMatrix.SymmetricFlip(3, 0.8).IsInverted); // Q[j,m] = 0.4 > Q[m,m] = 0.2
    }

    [TestMethod]
    public void Analysis_RankToleranceIsRelative()
    {
        var nearlySingular = NoiseTransitionMatrix.BinaryFlip(0.5, 0.5 - 1e-7);
        Assert.AreEqual(2, nearlySingular.Rank());
        Assert.AreEqual(1, nearlySingular.Rank(1e-6));
        Assert.AreEqual("tolerance", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => nearlySingular.Rank(-1)).ParamName);
    }

    private static void AssertIsInverse(NoiseTransitionMatrix q, double[,] inv)
    {
        int n = q.ClassCount;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int k = 0; k < n; k++) s += q[i, k] * inv[k, j];
                Assert.AreEqual(i == j ? 1.0 : 0.0, s, 1e-12);
            }
    }
}
