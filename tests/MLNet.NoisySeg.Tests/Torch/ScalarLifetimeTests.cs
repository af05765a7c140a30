using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Losses;
using MLNet.NoisySeg.Networks;
using MLNet.NoisySeg.Tests.Training;
using MLNet.NoisySeg.Torch;
using MLNet.NoisySeg.Training;
using TorchSharp;

namespace MLNet.NoisySeg.Tests.Torch;

/// <summary>
/// TorchSharp 0.107 frees the scalars it creates implicitly in their finalizer, without keeping them alive across the
/// native call that reads them, so a garbage collection started by another thread can free one while libtorch reads it
/// (see <see cref="LiveScalars"/>). These tests run library work against a thread that allocates and collects
/// continually, which makes that race possible on every native call, and require the results to be identical to the
/// same work without the pressure. The race itself is timing-dependent (a loop of TorchSharp's implicit
/// <c>add_(1)</c> under this pressure failed after 3-20 s on an idle machine, not within 2 minutes inside the busy test
/// run), so it is shown by <c>NoisySeg.Benchmarks scalar-race</c>; <see cref="ImplicitScalarAuditTests"/> is the
/// deterministic guard.
/// </summary>
[TestClass]
public sealed class ScalarLifetimeTests
{
    /// <summary>Allocates and runs gen-0 collections until disposed (with a short pause after each, so that the thread
    /// under test still makes progress: every return from native code waits for a collection in flight).</summary>
    private sealed class CollectorThread : IDisposable
    {
        private volatile bool _stop;
        private readonly Thread _thread;

        public CollectorThread(int pause = 1000)
        {
            _thread = new Thread(() =>
            {
                while (!_stop)
                {
                    GC.KeepAlive(new byte[1024]);
                    GC.Collect(0);
                    Thread.SpinWait(pause);
                }
            }) { IsBackground = true, Name = "gc-pressure" };
            _thread.Start();
        }

        public void Dispose()
        {
            _stop = true;
            _thread.Join();
        }
    }

    [TestMethod]
    public void LiveScalars_CountEveryCall_UnderGcPressure()
    {
        TorchRuntime.Initialize();
        using var integer = torch.tensor(0L);
        using var real = torch.tensor(0.0);
        const int calls = 1_000;
        using (new CollectorThread(pause: 0))
        {
            for (int i = 0; i < calls; i++)
            {
                integer.add_(LiveScalars.One, LiveScalars.One);
                using Scalar step = 0.5.ToScalar();
                real.add_(step, LiveScalars.One); // add_(step) alone would pass an implicit alpha = 1
            }
        }
        Assert.AreEqual(calls, integer.item<long>());
        Assert.AreEqual(calls * 0.5, real.item<double>());
    }

    private static List<SegmentationItem> ThreeClassBlobs()
        => TestBlobs.Many(4, 32, seed: 11).Select(s =>
        {
            var mask = (byte[])s.Mask!.Clone();
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 8; x++)
                    if (mask[y * 32 + x] == 0) mask[y * 32 + x] = 2;       // a third class on the left
            for (int x = 0; x < 32; x++) mask[x] = MLNet.NoisySeg.Core.MaskConventions.IgnoreIndex; // an ignored top row
            return new SegmentationItem(s.Name, s.Image, 1, 32, 32, mask);
        }).ToList();

    private static byte[] Train(List<SegmentationItem> data, OptimizerKind optimizer, LossKind loss, int outputs, bool pressure)
    {
        using var collector = pressure ? new CollectorThread() : null;
        using var model = SegmentationTrainer.Train(data, new SegmentationTrainerOptions
        {
            Network = new UNetOptions { Depth = 2, BaseWidth = 4, OutputChannels = outputs },
            Loss = loss,
            Optimizer = optimizer,
            Momentum = 0.9,
            WeightDecay = 1e-4,
            MaxSteps = 20,
            BatchSize = 4,
            LearningRate = 3e-3,
            Augment = true,
            Seed = 3,
            Threads = 1,
        });
        return model.ToBytes();
    }

    /// <summary>
    /// Training touches every path that used to hand libtorch a collectable scalar: BatchNorm's counter, the optimizer
    /// update, the losses and the convolution biases. Under pressure the trained weights are identical to the bit. (A
    /// smoke test: at this size the race is rare even without the fix, which <see cref="ImplicitScalarAuditTests"/>
    /// rules out deterministically.)
    /// </summary>
    [TestMethod]
    [DataRow(OptimizerKind.Adam, LossKind.DmiSoftIoU, 1)]
    [DataRow(OptimizerKind.Sgd, LossKind.CrossEntropyDice, 3)]
    public void Training_UnderGcPressure_IsIdenticalToTrainingWithout(OptimizerKind optimizer, LossKind loss, int outputs)
    {
        var data = outputs == 1 ? TestBlobs.Many(4, 32, seed: 11) : ThreeClassBlobs();
        byte[] quiet = Train(data, optimizer, loss, outputs, pressure: false);
        byte[] pressed = Train(data, optimizer, loss, outputs, pressure: true);
        CollectionAssert.AreEqual(quiet, pressed);
    }

    [TestMethod]
    public void Prediction_UnderGcPressure_IsIdenticalToPredictionWithout()
    {
        var data = TestBlobs.Many(4, 64, seed: 12);
        using var model = TrainedSegmentationModel.FromBytes(Train(TestBlobs.Many(4, 32, seed: 11), OptimizerKind.Adam, LossKind.Bce, 1, pressure: false));
        var tiled = new SegmentationPredictionOptions { TileSize = 32, TestTimeAugmentation = TestTimeAugmentation.Dihedral };
        float[] Predict(SegmentationItem s) => model.PredictProbabilities(s.Image, 1, 64, 64, tiled);
        var quiet = data.Select(Predict).ToList();
        List<float[]> pressed;
        using (new CollectorThread())
        {
            pressed = data.Select(Predict).ToList();
        }
        for (int i = 0; i < data.Count; i++) CollectionAssert.AreEqual(quiet[i], pressed[i], $"image {i}");
    }
}
