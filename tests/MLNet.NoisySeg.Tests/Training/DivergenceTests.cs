using Microsoft.ML;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Losses;
using MLNet.NoisySeg.Networks;
using MLNet.NoisySeg.Pipelines;
using MLNet.NoisySeg.Tests.Pipelines;
using MLNet.NoisySeg.Tests.TestSupport;
using MLNet.NoisySeg.Torch;
using MLNet.NoisySeg.Training;

namespace MLNet.NoisySeg.Tests.Training;

/// <summary>Bad numbers stop work at once with a typed error (issue 10): non-finite input is refused, a diverging run stops at its first bad step.</summary>
[TestClass]
public sealed class DivergenceTests
{
    [ClassInitialize]
    public static void Init(TestContext _) => TorchRuntime.Initialize(2);

    private static SegmentationTrainerOptions Tiny(double learningRate, int steps = 8) => new()
    {
        Network = new UNetOptions { Depth = 2, BaseWidth = 4 },
        Loss = LossKind.Bce,
        Optimizer = OptimizerKind.Adam, // what the study uses; with batch norm, SGD at 1e12 only reaches huge finite losses
        LearningRate = learningRate,
        BatchSize = 4,
        MaxSteps = steps,
        Seed = 3,
        Threads = 2,
    };

    [TestMethod]
    public void NonFinitePixel_IsRefusedBeforeTraining_NamingSampleChannelAndPixel()
    {
        var samples = TestBlobs.Many(6, 32, seed: 1);
        samples[4].Image[1 * 32 + 5] = float.NaN; // channel 0, y 1, x 5
        var reports = new List<TrainingProgress>();
        var e = Assert.ThrowsExactly<SegmentationDataException>(() => SegmentationTrainer.Train(samples, Tiny(0.01), new SyncProgress<TrainingProgress>(reports.Add)));
        Assert.AreEqual(samples[4].Name, e.FilePath);
        StringAssert.Contains(e.Message, "sample 4");
        StringAssert.Contains(e.Message, "pixel (x 5, y 1)");
        Assert.AreEqual(0, reports.Count, "nothing may be trained on a NaN pixel");

        samples[4].Image[1 * 32 + 5] = float.PositiveInfinity;
        StringAssert.Contains(Assert.ThrowsExactly<SegmentationDataException>(() => SegmentationTrainer.Train(samples, Tiny(0.01))).Message, "Infinity");
    }

    [TestMethod]
    public void HugeLearningRate_StopsAtTheFirstBadStep_WithStepLossRateAndCause()
    {
        var samples = TestBlobs.Many(8, 32, seed: 2);
        var reports = new List<TrainingProgress>();
        var e = Assert.ThrowsExactly<TrainingDivergedException>(() => SegmentationTrainer.Train(samples, Tiny(1e12, steps: 50), new SyncProgress<TrainingProgress>(reports.Add)));
        // Every step before the failing one reported a finite loss; the failing one was not reported and not applied.
        Assert.AreEqual(e.Step - 1, reports.Count);
        Assert.IsTrue(reports.All(r => double.IsFinite(r.Loss)), string.Join(", ", reports.Select(r => r.Loss)));
        Assert.IsTrue(e.Step >= 2 && e.Step <= 5, $"diverged at step {e.Step}");
        Assert.AreEqual(1e12, e.LearningRate);
        Assert.AreEqual(DivergenceCause.LearningRate, e.LikelyCause);
        StringAssert.Contains(e.Message, $"step {e.Step}");
        StringAssert.Contains(e.Message, "learning rate 1E+12");
        Assert.IsTrue(!double.IsFinite(e.Loss) || e.NonFiniteGradients.Count > 0);
    }

    [TestMethod]
    public void Diagnosis_NamesTheLikelyCause()
    {
        Assert.AreEqual(DivergenceCause.BadInput, new TrainingDivergedException(1, double.NaN, 1e-3, []).LikelyCause);
        Assert.AreEqual(DivergenceCause.LearningRate, new TrainingDivergedException(7, double.PositiveInfinity, 1e-3, []).LikelyCause);
        var fault = new TrainingDivergedException(3, 0.69, 1e-3, ["decs.2.0.weight", "downs.0.0.weight"]);
        Assert.AreEqual(DivergenceCause.NumericalFault, fault.LikelyCause);
        StringAssert.Contains(fault.Message, "decs.2.0.weight");
        StringAssert.Contains(fault.Message, "kernel");
    }

    [TestMethod]
    public void MLNetTrainer_FixedDecoding_DoesNotReturnANaNModel()
    {
        // Before: Fit with Decoding = Fixed succeeded and returned a model whose probabilities were all NaN.
        var ml = new MLContext(seed: 0);
        var data = SyntheticFixtures.View(ml, seed: 3, count: 8);
        var options = UNetSegmentationTrainerTests.SmallOptions(steps: 40);
        var trainer = ml.Segmentation().Trainers.UNet(options with { Trainer = options.Trainer with { LearningRate = 1e12, Optimizer = OptimizerKind.Adam } });
        var e = Assert.ThrowsExactly<TrainingDivergedException>(() => trainer.Fit(data));
        Assert.AreEqual(DivergenceCause.LearningRate, e.LikelyCause);
    }

    [TestMethod]
    public void ConvolutionRoute_FollowsTheCpuAndTheOneDnnCap()
    {
        CpuConvolutionRoute detected = TorchRuntime.DetectConvolutionRoute();
        if (System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture != System.Runtime.InteropServices.Architecture.X64)
        {
            Assert.AreEqual(CpuConvolutionRoute.Native, detected);
            return;
        }
        bool avx512 = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").First(l => l.StartsWith("flags", StringComparison.Ordinal)).Contains(" avx512bw", StringComparison.Ordinal)
            : System.Runtime.Intrinsics.X86.Avx512BW.IsSupported;
        string? cap = NativeEnv.Get("DNNL_MAX_CPU_ISA") ?? NativeEnv.Get("ONEDNN_MAX_CPU_ISA");
        bool capped = cap is not null && !cap.StartsWith("AVX512", StringComparison.OrdinalIgnoreCase);
        Assert.AreEqual(avx512 && !capped ? CpuConvolutionRoute.ChannelsLast : CpuConvolutionRoute.Blocked, detected);
        if (!OperatingSystem.IsLinux()) return;
        // A cap below AVX-512, as native code reads it, selects the Blocked route; the variable is restored afterwards.
        string? before = NativeEnv.Get("ONEDNN_MAX_CPU_ISA");
        try
        {
            NativeEnv.Set("ONEDNN_MAX_CPU_ISA", "AVX2");
            Assert.AreEqual(CpuConvolutionRoute.Blocked, TorchRuntime.DetectConvolutionRoute());
            NativeEnv.Set("ONEDNN_MAX_CPU_ISA", "AVX512_CORE");
            Assert.AreEqual(avx512 ? CpuConvolutionRoute.ChannelsLast : CpuConvolutionRoute.Blocked, TorchRuntime.DetectConvolutionRoute());
        }
        finally
        {
            if (before is null) NativeEnv.Unset("ONEDNN_MAX_CPU_ISA"); else NativeEnv.Set("ONEDNN_MAX_CPU_ISA", before);
        }
        Assert.AreEqual(detected, TorchRuntime.DetectConvolutionRoute());
    }

    private static class NativeEnv
    {
        [System.Runtime.InteropServices.DllImport("libc.so.6", EntryPoint = "getenv")] private static extern IntPtr getenv(string name);
        [System.Runtime.InteropServices.DllImport("libc.so.6", EntryPoint = "setenv")] private static extern int setenv(string name, string value, int overwrite);
        [System.Runtime.InteropServices.DllImport("libc.so.6", EntryPoint = "unsetenv")] private static extern int unsetenv(string name);

        public static string? Get(string name) => OperatingSystem.IsLinux()
            ? System.Runtime.InteropServices.Marshal.PtrToStringUTF8(getenv(name))
            : Environment.GetEnvironmentVariable(name);

        public static void Set(string name, string value) => Assert.AreEqual(0, setenv(name, value, 1));

        public static void Unset(string name) => Assert.AreEqual(0, unsetenv(name));
    }
}
