using MLNet.NoisySeg.Losses;
using MLNet.NoisySeg.Torch;
using static TorchSharp.torch;

namespace MLNet.NoisySeg.Tests.Losses;

[TestClass]
public sealed class SegmentationLossesTests
{
    private const double Tol = 1e-12;

    [ClassInitialize]
    public static void Init(TestContext _) => TorchRuntime.Initialize(2);

    private static Tensor D(double[] v, params long[] shape) => tensor(v, shape);
    private static Tensor B(byte[] v, params long[] shape) => tensor(v, shape);
    private static double Bce(double z, double y) => Math.Max(z, 0) - z * y + Math.Log(1 + Math.Exp(-Math.Abs(z)));

    [TestMethod]
    public void BceWithLogits_AveragesOverNonIgnoredPixels()
    {
        using var scope = NewDisposeScope();
        Tensor z = D(new[] { 0.0, 2.0, -1.0, 7.0 }, 1, 1, 2, 2);
        Tensor m = B(new byte[] { 1, 0, 1, 255 }, 1, 2, 2);
        double expected = (Bce(0, 1) + Bce(2, 0) + Bce(-1, 1)) / 3;
        Assert.AreEqual(expected, SegmentationLosses.BceWithLogits(z, m).item<double>(), Tol);
        Tensor allIgnored = B(new byte[] { 255, 255, 255, 255 }, 1, 2, 2);
        Assert.AreEqual(0.0, SegmentationLosses.BceWithLogits(z, allIgnored).item<double>());
    }

    [TestMethod]
    public void CrossEntropy_IgnoresIndexAndAverages()
    {
        using var scope = NewDisposeScope();
        // [N=1, K=3, H=1, W=2]: pixel 0 logits (1,2,3) target 2; pixel 1 logits (0,0,0) ignored.
        Tensor z = D(new[] { 1.0, 0, 2.0, 0, 3.0, 0 }, 1, 3, 1, 2);
        Tensor m = B(new byte[] { 2, 255 }, 1, 1, 2);
        double expected = Math.Log(Math.Exp(1) + Math.Exp(2) + Math.Exp(3)) - 3;
        Assert.AreEqual(expected, SegmentationLosses.CrossEntropy(z, m).item<double>(), Tol);
        Tensor m2 = B(new byte[] { 0, 1 }, 1, 1, 2);
        double expected2 = (Math.Log(Math.Exp(1) + Math.Exp(2) + Math.Exp(3)) - 1 + Math.Log(3)) / 2;
        Assert.AreEqual(expected2, SegmentationLosses.CrossEntropy(z, m2).item<double>(), Tol);
    }

    [TestMethod]
    public void SoftIoU_And_Dice_HandComputed()
    {
        using var scope = NewDisposeScope();
        Tensor p = D(new[] { 0.5, 0.25, 0.0 }, 3);
        Tensor y = D(new[] { 1.0, 0.0, 1.0 }, 3);
        // sum(p*y) = 0.5; sum(p^2 + y - p*y) = 0.75 + 0.0625 + 1 = 1.8125
        Assert.AreEqual(1 - 0.5 / 1.8125, SegmentationLosses.SoftIoU(p, y, eps: 0).item<double>(), Tol);
        // Dice: 2*0.5 / (0.75 + 2)
        Assert.AreEqual(1 - 1.0 / 2.75, SegmentationLosses.Dice(p, y, smooth: 0).item<double>(), Tol);
        Assert.AreEqual(1 - 2.0 / 3.75, SegmentationLosses.Dice(p, y, smooth: 1).item<double>(), Tol);
        // weight 0 on the last element: sum(p*y)=0.5, den = 0.8125; Dice 1/(0.75+1)
        Tensor w = D(new[] { 1.0, 1.0, 0.0 }, 3);
        Assert.AreEqual(1 - 0.5 / 0.8125, SegmentationLosses.SoftIoU(p, y, w, eps: 0).item<double>(), Tol);
        Assert.AreEqual(1 - 1.0 / 1.75, SegmentationLosses.Dice(p, y, w, smooth: 0).item<double>(), Tol);
        // perfect prediction gives 0
        Assert.AreEqual(0.0, SegmentationLosses.SoftIoU(y, y, eps: 0).item<double>(), Tol);
    }

    [TestMethod]
    public void Dmi_HandComputed2x2Cases()
    {
        using var scope = NewDisposeScope();
        // p = (1, 0), s = (1, 0): U = diag(1/2, 1/2), det = 1/4
        Tensor u = SegmentationLosses.DmiJointMatrix(D(new[] { 1.0, 0.0 }, 2), D(new[] { 1.0, 0.0 }, 2));
        CollectionAssert.AreEqual(new[] { 0.5, 0.0, 0.0, 0.5 }, u.data<double>().ToArray());
        Assert.AreEqual(-Math.Log(0.25), SegmentationLosses.Dmi(D(new[] { 1.0, 0.0 }, 2), D(new[] { 1.0, 0.0 }, 2), eps: 0).item<double>(), Tol);
        // p = (0.8, 0.3), s = (1, 0): U = [[0.4, 0.15], [0.1, 0.35]], det = 0.125
        Tensor p = D(new[] { 0.8, 0.3 }, 2), s = D(new[] { 1.0, 0.0 }, 2);
        double[] uu = SegmentationLosses.DmiJointMatrix(p, s).data<double>().ToArray();
        double[] expectedU = { 0.4, 0.15, 0.1, 0.35 };
        for (int i = 0; i < 4; i++) Assert.AreEqual(expectedU[i], uu[i], Tol);
        Assert.AreEqual(-Math.Log(0.125), SegmentationLosses.Dmi(p, s, eps: 0).item<double>(), 1e-12);
        // swapping the label classes flips the sign of det U; |det| and the loss are unchanged
        Assert.AreEqual(-Math.Log(0.125), SegmentationLosses.Dmi(p, D(new[] { 0.0, 1.0 }, 2), eps: 0).item<double>(), 1e-12);
        // an uninformative prediction has det U = 0: loss = -log(eps)
        Assert.AreEqual(-Math.Log(1e-3), SegmentationLosses.Dmi(D(new[] { 0.5, 0.5 }, 2), s).item<double>(), 1e-12);
        // weight 0 drops the 3rd pixel entirely (n counts weighted pixels)
        Tensor p3 = D(new[] { 0.8, 0.3, 0.9 }, 3), s3 = D(new[] { 1.0, 0.0, 0.0 }, 3), w3 = D(new[] { 1.0, 1.0, 0.0 }, 3);
        Assert.AreEqual(-Math.Log(0.125), SegmentationLosses.Dmi(p3, s3, w3, eps: 0).item<double>(), 1e-12);
    }

    [TestMethod]
    public void Combined_IsTheWeightedSum()
    {
        using var scope = NewDisposeScope();
        Tensor a = tensor(2.0), b = tensor(3.0);
        Assert.AreEqual(2 * 2.0 + 0.5 * 3.0, SegmentationLosses.Combined((2.0, a), (0.5, b)).item<double>(), Tol);
        Assert.AreEqual(2.0, SegmentationLosses.Combined((1.0, a), (0.0, b)).item<double>(), Tol);
        Assert.ThrowsExactly<ArgumentException>(() => SegmentationLosses.Combined());
    }

    [TestMethod]
    public void SegmentationLoss_DispatchesAndChecksChannels()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        Tensor z = randn(new long[] { 2, 1, 4, 4 }, dtype: ScalarType.Float64);
        byte[] mb = new byte[32];
        for (int i = 0; i < mb.Length; i++) mb[i] = (byte)(i % 5 == 0 ? 255 : i % 3 == 0 ? 1 : 0);
        Tensor m = B(mb, 2, 4, 4);
        Tensor valid = m.ne(255).to(ScalarType.Float64);
        Tensor y = m.to(ScalarType.Float64).mul(valid);
        Tensor p = z.squeeze(1).sigmoid();
        double bce = SegmentationLosses.BceWithLogits(z, m).item<double>();
        double iou = SegmentationLosses.SoftIoU(p, y, valid).item<double>();
        double dmi = SegmentationLosses.Dmi(p, y, valid).item<double>();
        Assert.AreEqual(bce, SegmentationLoss.Compute(LossKind.Bce, z, m).item<double>(), Tol);
        Assert.AreEqual(bce + 0.5 * iou, SegmentationLoss.Compute(LossKind.BceSoftIoU, z, m, secondaryWeight: 0.5).item<double>(), Tol);
        Assert.AreEqual(dmi + iou, SegmentationLoss.Compute(LossKind.DmiSoftIoU, z, m).item<double>(), Tol);
        Assert.ThrowsExactly<ArgumentException>(() => SegmentationLoss.Compute(LossKind.CrossEntropy, z, m));

        Tensor z3 = randn(new long[] { 2, 3, 4, 4 }, dtype: ScalarType.Float64);
        byte[] m3b = mb.Select(v => v == 255 ? v : (byte)(v + (v == 0 ? 2 : 0))).ToArray();
        Tensor m3 = B(m3b, 2, 4, 4);
        Assert.AreEqual(SegmentationLosses.CrossEntropy(z3, m3).item<double>(), SegmentationLoss.Compute(LossKind.CrossEntropy, z3, m3).item<double>(), Tol);
        Assert.ThrowsExactly<ArgumentException>(() => SegmentationLoss.Compute(LossKind.Bce, z3, m3));
        Assert.IsTrue(SegmentationLoss.Supports(LossKind.Dice, 3) && SegmentationLoss.Supports(LossKind.Dice, 1));
        Assert.IsFalse(SegmentationLoss.Supports(LossKind.DmiSoftIoU, 3));
        // one-hot zeroes ignored pixels
        Tensor oh = SegmentationLosses.OneHot(m3, 3, ScalarType.Float64);
        Assert.AreEqual(m3.ne(255).sum().item<long>(), (long)oh.sum().item<double>());
    }

    public static IEnumerable<object[]> GradientCases() => new[]
    {
        new object[] { "bce" }, new object[] { "ce" }, new object[] { "softiou" }, new object[] { "dice" },
        new object[] { "dmi" }, new object[] { "dmisoftiou" }, new object[] { "cedice" },
    };

    /// <summary>Autograd gradient w.r.t. the logits equals a central finite difference (double precision).</summary>
    [TestMethod]
    [DynamicData(nameof(GradientCases))]
    public void Gradient_MatchesCentralFiniteDifference(string which)
    {
        using var scope = NewDisposeScope();
        manual_seed(17);
        bool multi = which is "ce" or "cedice";
        long[] shape = multi ? new long[] { 2, 3, 3, 3 } : new long[] { 2, 1, 3, 3 };
        Tensor z = randn(shape, dtype: ScalarType.Float64);
        var rng = new Random(3);
        byte[] mb = Enumerable.Range(0, 18).Select(i => (byte)(i == 4 ? 255 : rng.Next(multi ? 3 : 2))).ToArray();
        Tensor m = B(mb, 2, 3, 3);
        Func<Tensor, Tensor> f = which switch
        {
            "bce" => t => SegmentationLosses.BceWithLogits(t, m),
            "ce" => t => SegmentationLosses.CrossEntropy(t, m),
            "softiou" => t => SegmentationLoss.Compute(LossKind.SoftIoU, t, m),
            "dice" => t => SegmentationLoss.Compute(LossKind.Dice, t, m),
            "dmi" => t => SegmentationLosses.Dmi(t.squeeze(1).sigmoid(), m.to(ScalarType.Float64).mul(m.ne(255)), m.ne(255)),
            "dmisoftiou" => t => SegmentationLoss.Compute(LossKind.DmiSoftIoU, t, m, secondaryWeight: 0.7),
            "cedice" => t => SegmentationLoss.Compute(LossKind.CrossEntropyDice, t, m),
            _ => throw new ArgumentException(which),
        };
        Tensor zg = z.clone().requires_grad_(true);
        f(zg).backward();
        double[] grad = zg.grad!.data<double>().ToArray();
        double[] z0 = z.data<double>().ToArray();
        const double h = 1e-6;
        int checkedNonZero = 0;
        for (int idx = 0; idx < z0.Length; idx += 2)
        {
            double[] plus = (double[])z0.Clone(), minus = (double[])z0.Clone();
            plus[idx] += h; minus[idx] -= h;
            double fd = (f(tensor(plus, shape)).item<double>() - f(tensor(minus, shape)).item<double>()) / (2 * h);
            Assert.AreEqual(fd, grad[idx], 1e-7 + 1e-5 * Math.Abs(fd), $"{which} element {idx}");
            if (Math.Abs(fd) > 1e-6) checkedNonZero++;
        }
        Assert.IsTrue(checkedNonZero >= 4, $"{which}: only {checkedNonZero} non-zero gradients checked");
    }
}
