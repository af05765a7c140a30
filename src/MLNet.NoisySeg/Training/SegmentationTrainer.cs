using System.Diagnostics;
using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Data.Preprocessing;
using MLNet.NoisySeg.Losses;
using MLNet.NoisySeg.Networks;
using MLNet.NoisySeg.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.NoisySeg.Training;

/// <summary>
/// Trains a <see cref="UNet"/> on in-memory samples: whole samples of one size (tile or resize them beforehand), or random
/// windows of <see cref="SegmentationTrainerOptions.CropHeight"/> x <see cref="SegmentationTrainerOptions.CropWidth"/> of
/// samples of any size at least that large.
/// </summary>
/// <remarks>
/// Determinism: weights are initialised after <c>torch.manual_seed(Seed)</c>; the batch order of epoch e is a
/// <see cref="SeededRandom"/> shuffle keyed by (Seed, e); the augmentation of a sample at step t is keyed by
/// (Seed, sample Name, t), and so is its crop window. Nothing depends on earlier random draws, so a resumed run sees exactly the batches of an
/// uninterrupted one, and on the CPU the same seed and thread count give the same weights.
/// Each step runs in its own <c>torch.NewDisposeScope()</c>, so native memory stays flat.
/// Concurrency: several Train calls may run on different threads (seeding + initialisation is serialised), but
/// libtorch's thread count is process-wide; for reproducible timings run one training at a time.
/// </remarks>
public static class SegmentationTrainer
{
    private static readonly object InitGate = new();

    /// <summary>
    /// Trains a network. Cancellation is checked before every step: when requested, a checkpoint of the last completed
    /// step is written (if CheckpointPath is set) and <see cref="OperationCanceledException"/> is thrown. With
    /// ResumeFromCheckpoint and an existing checkpoint, training continues from it.
    /// </summary>
    /// <param name="samples">Training samples with InputChannels channels: all of one size, or (with CropHeight/CropWidth) each at least the crop.</param>
    /// <param name="options">Options (validated).</param>
    /// <param name="progress">Receives a report after each step, synchronously on the training thread when the implementation is synchronous.</param>
    /// <param name="cancellationToken">Stops training between steps.</param>
    /// <param name="validate">Optional callback (completed steps, current model in eval mode) returning metrics for the
    /// progress report; called every ValidateEvery steps (0 = each epoch end). Do not dispose the model it receives.</param>
    /// <param name="maskProvider">Optional online-noise hook: the mask to train a sample on in an epoch (e.g. a fresh
    /// noisy draw per epoch); called once per use of the sample. Null = the sample's own Mask.</param>
    /// <returns>The trained model in eval mode; dispose it.</returns>
    public static TrainedSegmentationModel Train(
        IReadOnlyList<SegmentationItem> samples,
        SegmentationTrainerOptions options,
        IProgress<TrainingProgress>? progress = null,
        CancellationToken cancellationToken = default,
        Func<int, TrainedSegmentationModel, IReadOnlyDictionary<string, double>>? validate = null,
        Func<SegmentationItem, int, byte[]>? maskProvider = null)
    {
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (options.EarlyStopping is not null && validate is null)
            throw new ArgumentException("EarlyStopping needs validation metrics: pass a validate callback (or ValidationData to the ML.NET trainer).", nameof(validate));
        (int c, int h, int w) = CheckSamples(samples, options);

        TorchRuntime.Initialize(options.Threads);
        Device device = TorchDevices.Resolve(options.GpuDeviceId, options.FallbackToCpu);

        int n = samples.Count;
        int batch = Math.Min(options.BatchSize, n);
        int stepsPerEpoch = n / batch;
        int totalSteps = options.MaxSteps ?? checked(options.Epochs * stepsPerEpoch);

        UNet network;
        lock (InitGate) // torch's default generator is process-wide: seed + initialise atomically w.r.t. other Train calls
        {
            torch.manual_seed(options.Seed);
            network = new UNet(options.Network);
        }
        OptimizerHelper? optimizer = null;
        try
        {
            network.to(device);
            optimizer = options.Optimizer == OptimizerKind.Sgd
                ? new LiveScalarOptimizers.SGD(network.parameters(), options.LearningRate, options.Momentum, options.WeightDecay)
                : new LiveScalarOptimizers.Adam(network.parameters(), options.LearningRate, options.WeightDecay);

            int step = 0;
            if (options.ResumeFromCheckpoint && File.Exists(options.CheckpointPath))
            {
                var ckpt = TrainingCheckpoint.Read(options.CheckpointPath!);
                if (ckpt.Options.Network != options.Network)
                    throw new InvalidOperationException($"Checkpoint {options.CheckpointPath} was written for a different Network ({ckpt.Options.Network}); cannot resume with {options.Network}.");
                ckpt.Restore(network, optimizer);
                step = ckpt.Step;
            }

            network.train();
            var stopwatch = Stopwatch.StartNew();
            int firstStep = step;
            int[] order = new int[n];
            int orderEpoch = -1;
            int plane = c * h * w, pixels = h * w;
            bool cropping = options.CropHeight.HasValue;
            var xs = new float[(long)batch * plane];
            var ms = new byte[(long)batch * pixels];
            var batchSamples = new SegmentationItem[batch];
            using var view = new TrainedSegmentationModel(network, options, device, ownsNetwork: false);
            var early = options.EarlyStopping is { } es ? new EarlyStoppingTracker(es) : null;

            while (step < totalSteps)
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    if (!string.IsNullOrWhiteSpace(options.CheckpointPath))
                        TrainingCheckpoint.Capture(options, step, network, optimizer).WriteAtomically(options.CheckpointPath);
                    cancellationToken.ThrowIfCancellationRequested();
                }

                int epoch = step / stepsPerEpoch;
                if (epoch != orderEpoch)
                {
                    for (int i = 0; i < n; i++) order[i] = i;
                    var rng = SeededRandom.For(options.Seed, "noisyseg/batch-order", epoch);
                    rng.Shuffle(order.AsSpan());
                    orderEpoch = epoch;
                }
                int offset = (step % stepsPerEpoch) * batch;
                for (int b = 0; b < batch; b++)
                {
                    var s = samples[order[offset + b]];
                    batchSamples[b] = s;
                    byte[] mask = maskProvider is null ? s.Mask! : maskProvider(s, epoch);
                    if (mask is null || mask.Length != s.Height * s.Width)
                        throw new InvalidOperationException($"maskProvider returned a mask of {mask?.Length ?? 0} pixels for sample '{s.Name}'; expected {s.Height * s.Width}.");
                    if (cropping)
                    {
                        var (cx, cy) = CropOrigin(s, options.Seed, step, h, w);
                        Cropping.Crop(s.Image, c, s.Height, s.Width, cx, cy, w, h, xs.AsSpan((int)((long)b * plane), plane));
                        Cropping.Crop(mask, s.Height, s.Width, cx, cy, w, h, ms.AsSpan((int)((long)b * pixels), pixels));
                    }
                    else
                    {
                        s.Image.CopyTo(xs, (long)b * plane);
                        mask.CopyTo(ms, (long)b * pixels);
                    }
                }

                double lr = LearningRateAt(options, step, stepsPerEpoch, totalSteps);
                foreach (var g in optimizer.ParamGroups) g.LearningRate = lr;

                double lossValue;
                using (var scope = NewDisposeScope())
                {
                    Tensor x = tensor(xs, new long[] { batch, c, h, w }).to(device);
                    Tensor m = tensor(ms, new long[] { batch, h, w }).to(device);
                    if (options.Augment) (x, m) = Augment(x, m, batchSamples, options.Seed, step, h == w);
                    optimizer.zero_grad();
                    Tensor logits = network.PredictLogits(x, UNetPadding.Reflect);
                    Tensor loss = SegmentationLoss.Compute(options.Loss, logits, m, options.IgnoreIndex, options.SecondaryLossWeight);
                    lossValue = loss.item<float>();
                    if (!double.IsFinite(lossValue))
                        throw new TrainingDivergedException(step + 1, lossValue, lr, Array.Empty<string>());
                    loss.backward();
                    ThrowIfGradientsNotFinite(network, step + 1, lossValue, lr);
                    optimizer.step();
                }
                step++;

                if (options.CheckpointEvery > 0 && step % options.CheckpointEvery == 0 && step < totalSteps)
                    TrainingCheckpoint.Capture(options, step, network, optimizer).WriteAtomically(options.CheckpointPath!);

                IReadOnlyDictionary<string, double>? metrics = null;
                bool validateNow = options.ValidateEvery > 0 ? step % options.ValidateEvery == 0 || step == totalSteps
                                                              : step % stepsPerEpoch == 0 || step == totalSteps;
                bool stopNow = false;
                if (validate is not null && validateNow)
                {
                    network.eval();
                    try { metrics = validate(step, view); }
                    finally { network.train(); }
                    stopNow = early?.Observe(step, metrics, network) ?? false;
                }

                if (progress is not null)
                {
                    TimeSpan elapsed = stopwatch.Elapsed;
                    TimeSpan eta = TimeSpan.FromTicks((long)(elapsed.Ticks / (double)(step - firstStep) * (totalSteps - step)));
                    progress.Report(new TrainingProgress(epoch, step, totalSteps, lossValue, lr, elapsed, eta, metrics));
                }
                if (stopNow) break;
            }

            network.eval();
            optimizer.Dispose();
            optimizer = null;
            var outcome = early?.Finish(step, network);
            return new TrainedSegmentationModel(network, options, device, ownsNetwork: true) { EarlyStoppingResult = outcome };
        }
        catch
        {
            optimizer?.Dispose();
            network.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Fails the step when any gradient holds NaN or infinity, before the optimizer writes it into the weights. One
    /// reduction per parameter and a single read back: a few milliseconds against a training step.
    /// </summary>
    private static void ThrowIfGradientsNotFinite(UNet network, int step, double loss, double lr)
    {
        var named = network.named_parameters().Where(p => p.parameter.grad is not null).ToList();
        if (named.Count == 0) return;
        using var scope = NewDisposeScope();
        Tensor sums = stack(named.Select(p => p.parameter.grad!.sum()).ToArray());
        if (sums.isfinite().all().item<bool>()) return; // NaN and +-Inf propagate through a sum (Inf - Inf = NaN)
        var bad = named.Where(p => !p.parameter.grad!.isfinite().all().item<bool>()).Select(p => p.name).ToList();
        if (bad.Count == 0) return; // the sums overflowed on finite values: not a divergence
        throw new TrainingDivergedException(step, loss, lr, bad);
    }

    /// <summary>Best-so-far bookkeeping of <see cref="EarlyStoppingOptions"/>: a CPU copy of the best weights.</summary>
    private sealed class EarlyStoppingTracker(EarlyStoppingOptions options)
    {
        private Dictionary<string, Tensor>? _best;
        private double _bestValue = double.NaN;
        private int _bestStep = -1;
        private int _sinceBest;

        /// <summary>Records one validation; returns true when training should stop.</summary>
        public bool Observe(int step, IReadOnlyDictionary<string, double>? metrics, UNet network)
        {
            if (metrics is null || !metrics.TryGetValue(options.Metric, out double value))
                throw new InvalidOperationException($"EarlyStopping.Metric '{options.Metric}' is not among the validation metrics at step {step} ({(metrics is null ? "none" : string.Join(", ", metrics.Keys))}).");
            bool improved = !double.IsNaN(value) && (_bestStep < 0
                || (options.Maximize ? value > _bestValue + options.MinDelta : value < _bestValue - options.MinDelta));
            if (improved)
            {
                _bestValue = value;
                _bestStep = step;
                _sinceBest = 0;
                if (options.RestoreBest) Snapshot(network);
                return false;
            }
            _sinceBest++;
            return options.Patience > 0 && _sinceBest >= options.Patience;
        }

        /// <summary>Restores the best weights (when asked) and reports what happened.</summary>
        public EarlyStoppingResult Finish(int lastStep, UNet network)
        {
            bool restored = false;
            if (_best is not null && _bestStep != lastStep)
            {
                using (no_grad())
                    foreach (var (name, t) in network.state_dict())
                        t.copy_(_best[name]);
                restored = true;
            }
            if (_best is not null)
                foreach (var t in _best.Values) t.Dispose();
            _best = null;
            return new EarlyStoppingResult(options.Metric, _bestStep, _bestValue, lastStep, restored);
        }

        private void Snapshot(UNet network)
        {
            if (_best is not null)
                foreach (var t in _best.Values) t.Dispose();
            _best = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            using var scope = NewDisposeScope(); // intermediates (detach, device copy) die here; the clones are moved out
            using (no_grad())
                foreach (var (name, t) in network.state_dict())
                    _best[name] = t.detach().cpu().clone().MoveToOuterDisposeScope();
        }
    }

    /// <summary>The learning rate of step <paramref name="step"/> (0-based) under the options' schedule.</summary>
    /// <param name="options">Options with LearningRate and Schedule.</param>
    /// <param name="step">0-based step.</param>
    /// <param name="stepsPerEpoch">Steps in one epoch.</param>
    /// <param name="totalSteps">The step budget.</param>
    public static double LearningRateAt(SegmentationTrainerOptions options, int step, int stepsPerEpoch, int totalSteps)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.Schedule switch
        {
            LearningRateSchedule.Step => options.LearningRate * Math.Pow(options.StepGamma, step / Math.Max(1, stepsPerEpoch) / options.StepEveryEpochs),
            LearningRateSchedule.Cosine => options.LearningRate * 0.5 * (1 + Math.Cos(Math.PI * step / Math.Max(1, totalSteps))),
            _ => options.LearningRate,
        };
    }

    /// <summary>The top-left corner of sample <paramref name="s"/>'s training window at <paramref name="step"/>, drawn from (Seed, s.Name, step).</summary>
    internal static (int X, int Y) CropOrigin(SegmentationItem s, int seed, int step, int cropHeight, int cropWidth)
    {
        var rng = SeededRandom.For(seed, s.Name, step).Fork(0xC_0C);
        int x = rng.NextInt(s.Width - cropWidth + 1);
        int y = rng.NextInt(s.Height - cropHeight + 1);
        return (x, y);
    }

    /// <summary>
    /// Random dihedral transform per image: the transform of sample s at step t is drawn from (Seed, s.Name, t).
    /// Square images use all 8 (rot90 k = 0..3, optionally followed by a horizontal flip); others the 4 flips.
    /// </summary>
    internal static (Tensor X, Tensor M) Augment(Tensor x, Tensor m, SegmentationItem[] batchSamples, int seed, int step, bool square)
    {
        int batch = batchSamples.Length;
        var codes = new int[batch];
        bool any = false;
        for (int b = 0; b < batch; b++)
        {
            var rng = SeededRandom.For(seed, batchSamples[b].Name, step).Fork(0xA0_6);
            codes[b] = rng.NextInt(square ? 8 : 4);
            any |= codes[b] != 0;
        }
        if (!any) return (x, m);

        var xsOut = new Tensor[batch];
        var msOut = new Tensor[batch];
        for (int b = 0; b < batch; b++)
        {
            Tensor xi = x[b], mi = m[b]; // [C, H, W], [H, W]
            int code = codes[b];
            if (square)
            {
                int k = code & 3;
                if (k != 0) { xi = xi.rot90(k, (1, 2)); mi = mi.rot90(k, (0, 1)); }
                if ((code & 4) != 0) { xi = xi.flip(2); mi = mi.flip(1); }
            }
            else
            {
                if ((code & 1) != 0) { xi = xi.flip(2); mi = mi.flip(1); }
                if ((code & 2) != 0) { xi = xi.flip(1); mi = mi.flip(0); }
            }
            xsOut[b] = xi;
            msOut[b] = mi;
        }
        return (stack(xsOut), stack(msOut));
    }

    /// <summary>Refuses an image with NaN or infinite pixels, naming the sample, the channel and the pixel.</summary>
    internal static void ThrowIfNotFinite(SegmentationItem s, int index)
    {
        int at = FirstNonFinite(s.Image);
        if (at < 0) return;
        int plane = s.Height * s.Width, c = at / plane, y = at % plane / s.Width, x = at % s.Width;
        throw new SegmentationDataException(s.Name,
            $"image of sample {index} has a non-finite value ({s.Image[at]}) at channel {c}, pixel (x {x}, y {y}); training and prediction need finite pixels "
            + "(check the normalisation: a constant image z-scored by a zero standard deviation gives NaN).");
    }

    /// <summary>Index of the first NaN or infinity, or -1.</summary>
    internal static int FirstNonFinite(ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i])) return i;
        return -1;
    }

    private static (int C, int H, int W) CheckSamples(IReadOnlyList<SegmentationItem> samples, SegmentationTrainerOptions options)
    {
        if (samples.Count == 0) throw new ArgumentException("samples must not be empty.", nameof(samples));
        int c = options.Network.InputChannels;
        var first = samples[0] ?? throw new ArgumentException("samples[0] is null.", nameof(samples));
        int h = first.Height, w = first.Width;
        if (h < 1 || w < 1) throw new ArgumentException($"samples[0] ('{first.Name}') has size {h}x{w}; Height and Width must be positive.", nameof(samples));
        bool cropping = options.CropHeight.HasValue;
        for (int i = 0; i < samples.Count; i++)
        {
            var s = samples[i] ?? throw new ArgumentException($"samples[{i}] is null.", nameof(samples));
            if (s.Name is null) throw new ArgumentException($"samples[{i}].Name is null.", nameof(samples));
            if (cropping)
            {
                if (s.Height < options.CropHeight || s.Width < options.CropWidth)
                    throw new ArgumentException($"samples[{i}] ('{s.Name}') is {s.Height}x{s.Width}, smaller than the training crop CropHeight x CropWidth = {options.CropHeight}x{options.CropWidth}.", nameof(samples));
            }
            else if (s.Height != h || s.Width != w)
            {
                throw new ArgumentException($"All samples must have the same size for training (tile or resize first, or set CropHeight/CropWidth): samples[{i}] ('{s.Name}') is {s.Height}x{s.Width}, samples[0] is {h}x{w}.", nameof(samples));
            }
            if (s.Channels != c || s.Image is null || s.Image.Length != (long)c * s.Height * s.Width)
                throw new ArgumentException($"samples[{i}] ('{s.Name}') is {s.Channels}x{s.Height}x{s.Width} with {s.Image?.Length ?? 0} values; expected Network.InputChannels x H x W = {c}x{s.Height}x{s.Width}.", nameof(samples));
            if (s.Mask is null || s.Mask.Length != (long)s.Height * s.Width)
                throw new ArgumentException(s.Mask is null ? $"samples[{i}] ('{s.Name}') has no mask; training needs one per sample."
                    : $"samples[{i}] ('{s.Name}') mask has {s.Mask.Length} pixels; expected {s.Height}x{s.Width}.", nameof(samples));
            ThrowIfNotFinite(s, i);
        }
        return cropping ? (c, options.CropHeight!.Value, options.CropWidth!.Value) : (c, h, w);
    }
}
