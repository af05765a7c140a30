using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Decoding;
using MLNet.NoisySeg.Noise;

namespace MLNet.NoisySeg.Tests.Decoding;

[TestClass]
public sealed class LinearAlgebraTests
{
    private static double[] RandomMatrix(int n, int seed)
    {
        var rng = new SeededRandom((ulong)seed);
        var a = new double[n * n];
        for (int i = 0; i < a.Length; i++) a[i] = rng.NextGaussian();
        return a;
    }

    private static void AssertFactorsReconstruct(double[] a, int n, Svd svd, double tol)
    {
        for (int k = 1; k < n; k++) Assert.IsTrue(svd.S[k - 1] >= svd.S[k], "descending");
        Assert.IsTrue(svd.S[n - 1] >= 0);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double x = 0, vtv = 0, utu = 0;
                for (int k = 0; k < n; k++)
                {
                    x += svd.U[i * n + k] * svd.S[k] * svd.V[j * n + k];
                    vtv += svd.V[k * n + i] * svd.V[k * n + j];
                    utu += svd.U[k * n + i] * svd.U[k * n + j];
                }
                Assert.AreEqual(a[i * n + j], x, tol, $"A[{i},{j}]");
                Assert.AreEqual(i == j ? 1.0 : 0.0, vtv, tol, $"VᵀV[{i},{j}]");
                if (svd.S[i] > 1e-12 && svd.S[j] > 1e-12)
                    Assert.AreEqual(i == j ? 1.0 : 0.0, utu, tol, $"UᵀU[{i},{j}]");
            }
    }

    [TestMethod]
    public void Svd_ReconstructsTheMatrix_WithOrthonormalFactors()
    {
        foreach (int n in new[] { 1, 2, 5, 9 })
        {
            var a = RandomMatrix(n, 10 + n);
            AssertFactorsReconstruct(a, n, LinearAlgebra.SingularValueDecomposition(a, n), 1e-12);
        }
        var q = LabelNoiseSpec.Parse("classsample(0.1,bg=0)").ExpectedTransitionMatrix(11)!;
        var qa = LinearAlgebra.ToRowMajor(q);
        var svd = LinearAlgebra.SingularValueDecomposition(qa, 11);
        AssertFactorsReconstruct(qa, 11, svd, 1e-12);
        // The product of the singular values is |det|, here 0.1^10.
        Assert.AreEqual(1e-10, svd.S.Aggregate(1.0, (p, s) => p * s), 1e-20);
    }

    [TestMethod]
    public void Svd_KnownSpectra()
    {
        var d = LinearAlgebra.SingularValueDecomposition(new double[] { 0.5, 0, 0, 0, -3, 0, 0, 0, 0 }, 3);
        CollectionAssert.AreEqual(new[] { 3.0, 0.5, 0.0 }, d.S);

        // Symmetric flip e over C classes: Q = a I + (e/(C-1)) 11ᵀ with a = 1 - e - e/(C-1): eigenvalues 1 (on 1) and a (C-1 times).
        var sf = LinearAlgebra.SingularValueDecomposition(LinearAlgebra.ToRowMajor(NoiseTransitionMatrix.SymmetricFlip(11, 0.9)), 11);
        Assert.AreEqual(1.0, sf.S[0], 1e-14);
        for (int k = 1; k < 11; k++) Assert.AreEqual(0.01, sf.S[k], 1e-14);

        // Rank one: every row the same prior.
        var r1 = LinearAlgebra.SingularValueDecomposition(new double[] { 0.5, 0.3, 0.2, 0.5, 0.3, 0.2, 0.5, 0.3, 0.2 }, 3);
        Assert.AreEqual(Math.Sqrt(3 * 0.38), r1.S[0], 1e-14);
        Assert.AreEqual(0.0, r1.S[1], 1e-15);
        Assert.AreEqual(0.0, r1.S[2], 1e-15);
    }

    [TestMethod]
    public void Svd_KeepsTinySingularValuesAccurate()
    {
        // A = H diag(1, 1e-5, 1e-10) H with a Householder reflection H: eigenvalues of AᵀA would lose the 1e-10
        // (its square, 1e-20, is below eps x 1); the one-sided Jacobi SVD keeps it to a few parts per million.
        double[] v = { 1, 2, 3 };
        double vv = v.Sum(x => x * x);
        var h = new double[9];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                h[i * 3 + j] = (i == j ? 1 : 0) - 2 * v[i] * v[j] / vv;
        double[] s = { 1, 1e-5, 1e-10 };
        var a = new double[9];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                for (int k = 0; k < 3; k++)
                    a[i * 3 + j] += h[i * 3 + k] * s[k] * h[k * 3 + j];
        var svd = LinearAlgebra.SingularValueDecomposition(a, 3);
        for (int k = 0; k < 3; k++) Assert.AreEqual(s[k], svd.S[k], s[k] * 1e-4, $"σ{k}");
    }

    [TestMethod]
    public void Svd_InvalidInput()
    {
        Assert.AreEqual("a", Assert.ThrowsExactly<ArgumentException>(() => LinearAlgebra.SingularValueDecomposition(new double[3], 2)).ParamName);
        Assert.AreEqual("a", Assert.ThrowsExactly<ArgumentException>(() => LinearAlgebra.SingularValueDecomposition(new[] { 1, double.NaN, 0, 1 }, 2)).ParamName);
    }

    [TestMethod]
    public void Tikhonov_ZeroIsTheExactInverse_PositiveSolvesTheRegularisedNormalEquations()
    {
        var q = new NoiseTransitionMatrix(OtsuAndLabelFreeTests.StrongQ);
        double[] a = LinearAlgebra.ToRowMajor(q);
        var svd = LinearAlgebra.SingularValueDecomposition(a, 3);
        double[] exact = LinearAlgebra.InverseTranspose(q);
        double[] m0 = LinearAlgebra.TikhonovCorrection(svd, 0);
        for (int i = 0; i < 9; i++) Assert.AreEqual(exact[i], m0[i], 1e-12);

        foreach (double lambda in new[] { 1e-3, 0.05, 2 })
        {
            // (Q Qᵀ + λI) M = Q.
            double[] m = LinearAlgebra.TikhonovCorrection(svd, lambda);
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++)
                {
                    double lhs = lambda * m[i * 3 + j];
                    for (int k = 0; k < 3; k++)
                    {
                        double qqt = 0;
                        for (int l = 0; l < 3; l++) qqt += a[i * 3 + l] * a[k * 3 + l];
                        lhs += qqt * m[k * 3 + j];
                    }
                    Assert.AreEqual(a[i * 3 + j], lhs, 1e-12, $"λ {lambda} [{i},{j}]");
                }
        }
    }
}
