using MLNet.NoisySeg.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.NoisySeg.Tests.Torch;

[TestClass]
public sealed class TorchRuntimeTests
{
    [TestMethod]
    public void Initialize_IsIdempotent_AndConfiguresTheNativeRuntime()
    {
        TorchRuntimeStatus first = TorchRuntime.Initialize(2);
        TorchRuntimeStatus again = TorchRuntime.Initialize();
        Assert.AreSame(first, again);
        Assert.AreEqual(2, torch.get_num_threads());
        Assert.IsFalse(string.IsNullOrEmpty(Environment.GetEnvironmentVariable("OMP_WAIT_POLICY")));
        Assert.IsNotNull(first.OmpWaitPolicy);
        if (OperatingSystem.IsLinux() && File.Exists("/lib/x86_64-linux-gnu/libc.so.6"))
            Assert.IsTrue(first.MallocTuned, "glibc mallopt should accept all three settings");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => TorchRuntime.Initialize(0));
    }

    [TestMethod]
    public void TheLibraryAlone_ChangesNothingProcessWide()
    {
        // A fresh process that loads a U-Net zip and predicts, without TorchRuntime.Configure: libtorch's threads are set,
        // but neither the OpenMP wait policy nor glibc malloc is touched.
        string legacy = Path.Combine(TestSupport.TestPaths.RepoRoot, "tests", "MLNet.NoisySeg.Tests", "Pipelines", "Legacy");
        var (_, output) = TestSupport.EstimatorContract.RunProbe(Path.Combine(legacy, "legacy-v1-pipeline.zip"), Path.Combine(legacy, "data"), "binary:255", "Probability");
        StringAssert.Contains(output, "OmpWaitPolicySetByUs = False");
        StringAssert.Contains(output, "MallocTuned = False");
    }

    [TestMethod]
    public void Resolve_MirrorsGpuDeviceIdAndFallbackToCpu()
    {
        Assert.AreEqual(DeviceType.CPU, TorchDevices.Resolve(null, fallbackToCpu: false).type);
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => TorchDevices.Resolve(-1, true));
        Assert.AreEqual("gpuDeviceId", ex.ParamName);
        if (!torch.cuda.is_available())
        {
            Assert.AreEqual(DeviceType.CPU, TorchDevices.Resolve(0, fallbackToCpu: true).type);
            var ioe = Assert.ThrowsExactly<InvalidOperationException>(() => TorchDevices.Resolve(0, fallbackToCpu: false));
            StringAssert.Contains(ioe.Message, "FallbackToCpu");
        }
    }

    /// <summary>Foundation smoke test: conv2d autograd gradient w.r.t. one input element equals a central finite difference.</summary>
    [TestMethod]
    public void Conv2dAutogradGradient_MatchesCentralFiniteDifference()
    {
        TorchRuntime.Initialize();
        using var scope = NewDisposeScope();
        manual_seed(123);
        Tensor x = randn(new long[] { 1, 2, 5, 6 }, dtype: ScalarType.Float64).requires_grad_(true);
        Tensor weight = randn(new long[] { 3, 2, 3, 3 }, dtype: ScalarType.Float64);
        Tensor bias = randn(new long[] { 3 }, dtype: ScalarType.Float64);
        Tensor target = randn(new long[] { 1, 3, 5, 6 }, dtype: ScalarType.Float64);
        Func<Tensor, Tensor> lossOf = input => nn.functional.conv2d(input, weight, bias, padding: new long[] { 1, 1 }).sub(target).pow(2).mean().tanh();

        Tensor loss = lossOf(x);
        loss.backward();
        double[] grad = x.grad!.data<double>().ToArray();
        double[] x0 = x.detach().data<double>().ToArray();

        const double h = 1e-6;
        foreach (int idx in new[] { 0, 7, 23, 31, 59 })
        {
            double[] plus = (double[])x0.Clone(), minus = (double[])x0.Clone();
            plus[idx] += h; minus[idx] -= h;
            double lp = lossOf(tensor(plus, new long[] { 1, 2, 5, 6 })).item<double>();
            double lm = lossOf(tensor(minus, new long[] { 1, 2, 5, 6 })).item<double>();
            double fd = (lp - lm) / (2 * h);
            Assert.AreEqual(fd, grad[idx], 1e-8 + 1e-6 * Math.Abs(fd), $"element {idx}");
            Assert.AreNotEqual(0.0, grad[idx]);
        }
    }
}
