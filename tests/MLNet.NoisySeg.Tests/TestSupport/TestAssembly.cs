using MLNet.NoisySeg.Torch;

namespace MLNet.NoisySeg.Tests.TestSupport;

/// <summary>
/// The test process is an application: like the study app and the benchmarks, it asks for the full runtime tuning
/// (passive OpenMP waiting, which matters on the shared 2-core CI machines, and malloc tuning) before libtorch loads.
/// </summary>
[TestClass]
public static class TestAssembly
{
    [AssemblyInitialize]
    public static void Init(TestContext _) => TorchRuntime.Configure(TorchRuntimeOptions.SmallCpu);
}
