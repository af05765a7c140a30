using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Decoding;
using MLNet.NoisySeg.Networks;
using MLNet.NoisySeg.Torch;
using MLNet.NoisySeg.Training;
using TorchSharp;

namespace MLNet.NoisySeg.Unsupervised;

/// <summary>What one iGTT round's selection produced, averaged over the images.</summary>
/// <param name="Round">0-based round.</param>
/// <param name="MeanLevelIndex">Mean index (0..K-1) of the kept threshold level.</param>
/// <param name="MeanDmiLoss">Mean DMI loss of the kept candidates.</param>
/// <param name="MeanCandidateForeground">Mean foreground fraction of the kept candidates (before EMS).</param>
/// <param name="MeanPseudoLabelForeground">Mean foreground fraction of the pseudo-labels trained on.</param>
/// <param name="InvertedImages">Images whose candidate was inverted (foreground &gt; half).</param>
public sealed record IgttRoundSummary(int Round, double MeanLevelIndex, double MeanDmiLoss, double MeanCandidateForeground,
    double MeanPseudoLabelForeground, int InvertedImages);

/// <summary>Stage of an iGTT run.</summary>
public enum IgttStage
{
    /// <summary>A round's pseudo-labels were just computed (predict, select, EMS).</summary>
    Selection,

    /// <summary>A training step was just done.</summary>
    Training,
}

/// <summary>Progress of an iGTT run.</summary>
/// <param name="Round">0-based round.</param>
/// <param name="Rounds">Number of rounds.</param>
/// <param name="Stage">What just happened.</param>
/// <param name="Training">The trainer's report (Training stage).</param>
/// <param name="Selection">The round's selection summary (Selection stage).</param>
public sealed record IgttProgress(int Round, int Rounds, IgttStage Stage, TrainingProgress? Training, IgttRoundSummary? Selection);

/// <summary>Result of <see cref="IterativeGroundTruthTrainer.Train"/>: the network and the last round's pseudo-labels.</summary>
public sealed class IgttResult : IDisposable
{
    internal IgttResult(TrainedSegmentationModel model, IReadOnlyList<byte[]> candidates, IReadOnlyList<byte[]> pseudoLabels, IReadOnlyList<IgttRoundSummary> rounds,
        BinaryLevelEstimate levels, bool outputInverted)
    {
        Model = model;
        Levels = levels;
        OutputInverted = outputInverted;
        Candidates = candidates;
        PseudoLabels = pseudoLabels;
        Rounds = rounds;
    }

    /// <summary>The trained network (eval mode). Disposed with this result.</summary>
    public TrainedSegmentationModel Model { get; }

    /// <summary>The DMI-selected candidate mask of every training image in the last round (before EMS).</summary>
    public IReadOnlyList<byte[]> Candidates { get; }

    /// <summary>The pseudo-labels of the last round (after EMS when enabled).</summary>
    public IReadOnlyList<byte[]> PseudoLabels { get; }

    /// <summary>Per-round selection summaries.</summary>
    public IReadOnlyList<IgttRoundSummary> Rounds { get; }

    /// <summary>The network's two output levels on the training images (Otsu between them, label-free).</summary>
    public BinaryLevelEstimate Levels { get; }

    /// <summary>
    /// True when the trained network's output is anti-aligned with its own pseudo-labels (the sign of det U of the
    /// outputs against the last pseudo-labels over all training images is negative). DMI is blind to orientation and
    /// the soft-IoU term barely constrains it on sparse EMS labels, so a network whose untrained output anti-correlated
    /// with the structure can stay inverted; the structure is then where the output is low.
    /// </summary>
    public bool OutputInverted { get; }

    /// <summary>The decoding rule: threshold between the two output levels, inverted when <see cref="OutputInverted"/>.</summary>
    public DecodingRule Decoding => DecodingRule.AtThreshold(Levels.Threshold, OutputInverted);

    /// <inheritdoc />
    public void Dispose() => Model.Dispose();
}

/// <summary>
/// iGTT, iterative ground-truth training (Luo et al., AAAI 2022): unsupervised binary segmentation from images only.
/// Pseudo-labels start all background; each round predicts every image, thresholds each prediction at K levels
/// between its minimum and maximum and keeps the candidate with the lowest DMI loss
/// (<see cref="DmiThresholdSelection"/>), applies EMS (<see cref="MetaStructureExtraction"/>, optional) and trains
/// the same network further on the result with DMI + soft-IoU.
/// </summary>
/// <remarks>
/// The rounds run inside one <see cref="SegmentationTrainer.Train"/> call: its validation callback, invoked every
/// round's worth of steps, recomputes the pseudo-labels from the current network, and its mask provider serves them.
/// So the optimizer state carries over between rounds, and progress, cancellation, checkpoints and determinism are the
/// trainer's. EMS randomness of image i in round r comes from (Trainer.Seed, image name, r) only. Without EMS the kept
/// candidate is oriented so that its foreground is the minority class [ours], the same convention EMS's inversion
/// applies, so the two variants differ only by skeleton, shift and sampling.
/// </remarks>
public static class IterativeGroundTruthTrainer
{
    private static readonly object InitGate = new();

    /// <summary>Trains a U-Net without labels.</summary>
    /// <param name="images">Training images (their masks, if any, are ignored), all of one size; names must be stable.</param>
    /// <param name="options">Options (validated).</param>
    /// <param name="progress">Receives a report after each selection and each training step.</param>
    /// <param name="cancellationToken">Stops between steps and between images of a selection.</param>
    /// <returns>The trained model and the last pseudo-labels; dispose it.</returns>
    public static IgttResult Train(IReadOnlyList<SegmentationItem> images, IgttOptions options,
        IProgress<IgttProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (images.Count == 0) throw new ArgumentException("images must not be empty.", nameof(images));
        var first = images[0] ?? throw new ArgumentException("images[0] is null.", nameof(images));
        int c = first.Channels, h = first.Height, w = first.Width;
        if (c != options.Trainer.Network.InputChannels)
            throw new ArgumentException($"images have {c} channel(s); Trainer.Network.InputChannels is {options.Trainer.Network.InputChannels}.", nameof(images));
        for (int i = 0; i < images.Count; i++)
        {
            var it = images[i] ?? throw new ArgumentException($"images[{i}] is null.", nameof(images));
            if (it.Channels != c || it.Height != h || it.Width != w || it.Image is null || it.Image.Length != c * h * w)
                throw new ArgumentException($"images[{i}] ('{it.Name}') is {it.Channels}x{it.Height}x{it.Width}; all images must be {c}x{h}x{w} (resize or tile first).", nameof(images));
        }

        int n = images.Count;
        var to = options.Trainer;
        int batch = Math.Min(to.BatchSize, n);
        int stepsPerRound = options.StepsPerRound ?? checked(options.EpochsPerRound * (n / batch));
        int totalSteps = checked(options.Rounds * stepsPerRound);
        var trainerOptions = to with { MaxSteps = totalSteps, ValidateEvery = stepsPerRound };

        var pseudo = new byte[n][];
        var candidates = new byte[n][];
        for (int i = 0; i < n; i++) { pseudo[i] = new byte[h * w]; candidates[i] = new byte[h * w]; } // start all background
        var samples = new SegmentationItem[n];
        var index = new Dictionary<SegmentationItem, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < n; i++)
        {
            samples[i] = images[i] with { Mask = pseudo[i] };
            index[samples[i]] = i;
        }
        var imageList = images.Select(i => i.Image).ToList();
        var summaries = new List<IgttRoundSummary>();

        void SelectRound(int round, float[][] predictions)
        {
            var s = RefreshPseudoLabels(images, predictions, options, round, candidates, pseudo, cancellationToken);
            summaries.Add(s);
            progress?.Report(new IgttProgress(round, options.Rounds, IgttStage.Selection, null, s));
        }

        // Round 0: the prediction of the untrained network (or the image itself).
        SelectRound(0, options.InitialPrediction == IgttInitialPrediction.Image
            ? images.Select(i => ChannelMean(i.Image, c, h * w)).ToArray()
            : InitialNetworkPrediction(to, imageList, c, h, w));

        IProgress<TrainingProgress>? inner = progress is null ? null
            : new SyncProgress<TrainingProgress>(p => progress.Report(new IgttProgress(Math.Min(options.Rounds - 1, (p.Step - 1) / stepsPerRound), options.Rounds, IgttStage.Training, p, null)));
        IReadOnlyDictionary<string, double> Validate(int step, TrainedSegmentationModel model)
        {
            if (step >= totalSteps || step % stepsPerRound != 0) return new Dictionary<string, double>();
            SelectRound(step / stepsPerRound, model.PredictProbabilities(imageList, c, h, w));
            var last = summaries[^1];
            return new Dictionary<string, double> { ["round"] = last.Round, ["pseudoForeground"] = last.MeanPseudoLabelForeground };
        }

        var trained = SegmentationTrainer.Train(samples, trainerOptions, inner, cancellationToken, Validate, (s, _) => pseudo[index[s]]);
        try
        {
            var outputs = trained.PredictProbabilities(imageList, c, h, w);
            var levels = LabelFreeDecoder.EstimateBinary(outputs);
            return new IgttResult(trained, candidates, pseudo, summaries, levels, OrientationSign(outputs, pseudo) < 0);
        }
        catch
        {
            trained.Dispose();
            throw;
        }
    }

    /// <summary>Sign of det U of outputs p against labels s pooled over images (positive: aligned).</summary>
    internal static int OrientationSign(IReadOnlyList<float[]> outputs, IReadOnlyList<byte[]> labels)
    {
        double sumPs = 0, sumP = 0, countS = 0, n = 0;
        for (int i = 0; i < outputs.Count; i++)
        {
            var p = outputs[i];
            var s = labels[i];
            for (int j = 0; j < p.Length; j++)
            {
                if (s[j] == MaskConventions.IgnoreIndex) continue;
                n++;
                sumP += p[j];
                if (s[j] != 0) { sumPs += p[j]; countS++; }
            }
        }
        if (n == 0) return 0;
        // det U · n² = Σps · Σ(1-p)(1-s) - Σp(1-s) · Σ(1-p)s = n·Σps - Σp·Σs
        return Math.Sign(n * sumPs - sumP * countS);
    }

    /// <summary>One selection: DMI candidate per image, then EMS (or minority orientation). Parallel over images, deterministic.</summary>
    internal static IgttRoundSummary RefreshPseudoLabels(IReadOnlyList<SegmentationItem> images, float[][] predictions, IgttOptions options, int round,
        byte[][] candidates, byte[][] pseudo, CancellationToken cancellationToken)
    {
        int n = images.Count;
        var level = new double[n];
        var loss = new double[n];
        var candFg = new double[n];
        var pseudoFg = new double[n];
        var inverted = new bool[n];
        var ems = options.MetaStructureExtraction;
        Parallel.For(0, n, new ParallelOptions { CancellationToken = cancellationToken }, i =>
        {
            var it = images[i];
            var sel = DmiThresholdSelection.Select(predictions[i], candidates[i], options.CandidateCount, options.DmiEpsilon);
            level[i] = sel.Index;
            loss[i] = sel.Loss;
            candFg[i] = sel.ForegroundFraction;
            if (options.UseMetaStructureExtraction)
            {
                var rng = SeededRandom.For(options.Trainer.Seed, "noisyseg/ems/" + it.Name, round);
                var r = MetaStructureExtraction.Extract(candidates[i], pseudo[i], it.Width, it.Height, ems, ref rng);
                inverted[i] = r.Inverted;
                pseudoFg[i] = r.KeptPixels / (double)pseudo[i].Length;
            }
            else
            {
                bool invert = 2 * sel.ForegroundFraction > 1;
                var src = candidates[i];
                var dst = pseudo[i];
                int fg = 0;
                for (int j = 0; j < src.Length; j++) { dst[j] = (byte)(src[j] ^ (invert ? 1 : 0)); fg += dst[j]; }
                inverted[i] = invert;
                pseudoFg[i] = fg / (double)dst.Length;
            }
        });
        cancellationToken.ThrowIfCancellationRequested();
        return new IgttRoundSummary(round, level.Average(), loss.Average(), candFg.Average(), pseudoFg.Average(), inverted.Count(b => b));
    }

    private static float[][] InitialNetworkPrediction(SegmentationTrainerOptions o, IReadOnlyList<float[]> images, int c, int h, int w)
    {
        TorchRuntime.Initialize(o.Threads);
        var device = TorchDevices.Resolve(o.GpuDeviceId, o.FallbackToCpu);
        UNet network;
        lock (InitGate)
        {
            torch.manual_seed(o.Seed); // the same initial weights SegmentationTrainer.Train will build
            network = new UNet(o.Network);
        }
        network.to(device);
        using var model = new TrainedSegmentationModel(network, o, device, ownsNetwork: true);
        return model.PredictProbabilities(images, c, h, w);
    }

    private static float[] ChannelMean(float[] image, int c, int plane)
    {
        var p = new float[plane];
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < plane; i++) p[i] += image[ch * plane + i] / c;
        return p;
    }

    /// <summary>Reports synchronously on the calling thread (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
