using MLNet.NoisySeg.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.NoisySeg.Tests.Training;

/// <summary>The library's optimizers are TorchSharp's, update for update, with scalars held alive (see LiveScalars).</summary>
[TestClass]
public sealed class LiveScalarOptimizerTests
{
    private static float[][] Run(Func<IEnumerable<Parameter>, OptimizerHelper> make)
    {
        manual_seed(7);
        using var model = nn.Sequential(("a", nn.Linear(5, 4)), ("r", nn.ReLU()), ("b", nn.Linear(4, 2)));
        using var optimizer = make(model.parameters());
        manual_seed(8);
        for (int step = 0; step < 25; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            Tensor x = randn(6, 5), y = randn(6, 2);
            nn.functional.mse_loss(model.call(x), y).backward();
            optimizer.step();
        }
        return model.parameters().Select(p => p.detach().cpu().data<float>().ToArray()).ToArray();
    }

    private static void AssertIdentical(float[][] expected, float[][] actual)
    {
        Assert.AreEqual(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) CollectionAssert.AreEqual(expected[i], actual[i], $"parameter {i}");
    }

    [TestMethod]
    [DataRow(0.0)]
    [DataRow(1e-2)]
    public void Adam_MatchesTorchSharpsAdamBitForBit(double weightDecay)
        => AssertIdentical(Run(p => optim.Adam(p, 3e-3, weight_decay: weightDecay)), Run(p => new LiveScalarOptimizers.Adam(p, 3e-3, weightDecay)));

    [TestMethod]
    [DataRow(0.0, 0.0)]
    [DataRow(0.9, 1e-2)]
    public void Sgd_MatchesTorchSharpsSgdBitForBit(double momentum, double weightDecay)
        => AssertIdentical(Run(p => optim.SGD(p, 1e-2, momentum: momentum, weight_decay: weightDecay)), Run(p => new LiveScalarOptimizers.SGD(p, 1e-2, momentum, weightDecay)));

    [TestMethod]
    public void Adam_StateDictionary_MovesBetweenOursAndTorchSharps_CheckpointsStayCompatible()
    {
        manual_seed(3);
        using var model = nn.Linear(3, 2);
        using var ours = new LiveScalarOptimizers.Adam(model.parameters(), 1e-3, 0);
        using (var scope = NewDisposeScope())
        {
            ours.zero_grad();
            model.call(randn(4, 3)).sum().backward();
            ours.step();
        }
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true)) ours.save_state_dict(w);
        stream.Position = 0;
        using var theirs = optim.Adam(model.parameters(), 1e-3);
        using (var r = new BinaryReader(stream)) theirs.load_state_dict(r);
        var state = (Adam.State)theirs.state_dict().State[0];
        Assert.AreEqual(1L, state.step);
        Assert.IsTrue(state.exp_avg.abs().sum().item<float>() > 0);
    }
}
