using System.Globalization;
using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Decoding;
using MLNet.NoisySeg.Networks;
using MLNet.NoisySeg.Torch;
using MLNet.NoisySeg.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.NoisySeg.Unsupervised;

/// <summary>What one iGTT round's selection produced, averaged over the images.</summary>
/// <param name="Round">0-based round.</param>
/// <param name="MeanLevelIndex">Mean index (0..K-1) of the kept threshold level (images without an eligible candidate excluded).</param>
/// <param name="MeanDmiLoss">Mean DMI loss of the kept candidates.</param>
/// <param name="MeanCandidateForeground">Mean foreground fraction of the kept candidates (before EMS).</param>
/// <param name="MeanPseudoLabelForeground">Mean foreground fraction of the pseudo-labels trained on.</param>
/// <param name="InvertedImages">Images whose candidate EMS inverted (foreground &gt; half). Always 0 inside iGTT, which orients all images alike.</param>
public sealed record IgttRoundSummary(int Round, double MeanLevelIndex, double MeanDmiLoss, double MeanCandidateForeground,
    double MeanPseudoLabelForeground, int InvertedImages)
{
    /// <summary>Mean over the images of the largest foreground share a candidate was allowed (the area guard's bound).</summary>
    public double MeanForegroundBound { get; init; } = double.NaN;

    /// <summary>Images with no eligible candidate: their pseudo-label is all ignore (255) for the round.</summary>
    public int SkippedImages { get; init; }

    /// <summary>True when the network's output was inverted (head negated) at this selection, see <see cref="IgttOrientation"/>.</summary>
    public bool NetworkInverted { get; init; }

    /// <summary>
    /// Mean image intensity inside the kept candidates minus outside (channel mean, pooled over images): positive when
    /// the pseudo-labels mark the bright side.
    /// </summary>
    public double CandidateContrast { get; init; } = double.NaN;
}

/// <summary>What <see cref="IterativeGroundTruthTrainer.Train"/> hands its round observer after each round's training.</summary>
/// <param name="Round">0-based round just trained.</param>
/// <param name="Model">The network as it stands after the round's steps, in eval mode and aligned as the returned model
/// will be (its head negated when it had learned its pseudo-labels inverted or, with Bright/Dark, against the polarity).
/// Do not dispose or keep it.</param>
/// <param name="TrainingOutputs">Its (aligned) foreground probabilities on the training images, one map per image in
/// input order: the maps the next selection uses. Read them during the call only; do not modify them.</param>
/// <param name="Selection">The selection this round trained on (its candidates' and pseudo-labels' shares).</param>
/// <param name="Inverted">True when this round's alignment negated the head.</param>
public sealed record IgttRoundEnd(int Round, TrainedSegmentationModel Model, IReadOnlyList<float[]> TrainingOutputs, IgttRoundSummary Selection, bool Inverted);

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
public sealed record IgttProgress(int Round, int Rounds, IgttStage Stage, TrainingProgress? Training, IgttRoundSummary? Selection)
{
    /// <summary>
    /// Selection stage: the DMI-selected candidate of every training image (in image order, 0/1), oriented as the
    /// pseudo-labels are. The arrays are the trainer's working buffers: read or copy them during the Report call only.
    /// </summary>
    public IReadOnlyList<byte[]>? Candidates { get; init; }

    /// <summary>Selection stage: the pseudo-labels the next round trains on (same caveat as <see cref="Candidates"/>).</summary>
    public IReadOnlyList<byte[]>? PseudoLabels { get; init; }
}

/// <summary>
/// The orientation an iGTT run settled on, and why. DMI is blind to orientation (|det U| is unchanged when the map or
/// the labels are inverted), so iGTT decides it explicitly and keeps the network aligned with its pseudo-labels; the
/// returned network's output is always the foreground probability of the decoded structure.
/// </summary>
/// <param name="Requested">The polarity the options asked for.</param>
/// <param name="InitialInverted">The first round took the low side of its initial map (image or untrained network) as the structure.</param>
/// <param name="NetworkInversions">How often the network's output was inverted (its 1x1 head negated, p → 1 - p) to keep it aligned:
/// when it had learned its pseudo-labels the wrong way round (det U &lt; 0, which DMI allows) or contradicted the requested polarity.</param>
/// <param name="ObservedPolarity">The returned network's foreground is brighter (Bright) or darker (Dark) than the rest on the training images.</param>
/// <param name="IntensityCorrelation">Pooled within-image correlation of the final output with the image intensity (its sign gives <paramref name="ObservedPolarity"/>).</param>
/// <param name="Reason">A readable account of the decisions, one sentence per decision.</param>
public sealed record IgttOrientation(ForegroundPolarity Requested, bool InitialInverted, int NetworkInversions, ThresholdPolarity ObservedPolarity,
    double IntensityCorrelation, string Reason)
{
    /// <summary>
    /// True when the returned network's 1x1 head is negated relative to the weights the optimizer produced (an odd
    /// number of <see cref="NetworkInversions"/>): without it, the structure would be where the raw output is low.
    /// The returned model's probabilities already account for it.
    /// </summary>
    public bool Inverted => NetworkInversions % 2 == 1;

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"polarity {Requested} -> observed {ObservedPolarity} (r = {IntensityCorrelation:0.###}), network inverted {Inverted} ({NetworkInversions} inversion(s)); {Reason}");
}

/// <summary>Result of <see cref="IterativeGroundTruthTrainer.Train"/>: the network and the last round's pseudo-labels.</summary>
public sealed class IgttResult : IDisposable
{
    internal IgttResult(TrainedSegmentationModel model, IReadOnlyList<byte[]> candidates, IReadOnlyList<byte[]> pseudoLabels, IReadOnlyList<IgttRoundSummary> rounds,
        BinaryLevelEstimate levels, IgttOrientation orientation, double foregroundShare, double threshold)
    {
        ForegroundShare = foregroundShare;
        Decoding = DecodingRule.AtThreshold(threshold);
        Model = model;
        Levels = levels;
        Orientation = orientation;
        Candidates = candidates;
        PseudoLabels = pseudoLabels;
        Rounds = rounds;
    }

    /// <summary>
    /// The trained network (eval mode). Its probabilities are the foreground probability of the structure iGTT found
    /// (see <see cref="Orientation"/>), whatever orientation training produced. Disposed with this result.
    /// </summary>
    public TrainedSegmentationModel Model { get; }

    /// <summary>The DMI-selected candidate mask of every training image in the last round (before EMS).</summary>
    public IReadOnlyList<byte[]> Candidates { get; }

    /// <summary>The pseudo-labels of the last round (after EMS when enabled).</summary>
    public IReadOnlyList<byte[]> PseudoLabels { get; }

    /// <summary>Per-round selection summaries.</summary>
    public IReadOnlyList<IgttRoundSummary> Rounds { get; }

    /// <summary>The network's two output levels on the training images (Otsu between them, label-free).</summary>
    public BinaryLevelEstimate Levels { get; }

    /// <summary>The orientation the run chose and why.</summary>
    public IgttOrientation Orientation { get; }

    /// <summary>
    /// Always false: the returned network is re-oriented (head negated) whenever its output was anti-aligned with its
    /// pseudo-labels, so its output is never inverted. <see cref="Orientation"/> records whether that happened.
    /// </summary>
    public bool OutputInverted => false;

    /// <summary>Mean foreground share of the last round's candidates (the area the network was last trained to reproduce); NaN if every image was skipped.</summary>
    public double ForegroundShare { get; }

    /// <summary>
    /// The decoding rule [ours]: foreground where the probability exceeds the level at which the network's outputs on
    /// the training images cover <see cref="ForegroundShare"/> of the pixels, the area of the pseudo-labels it was
    /// trained on (<see cref="LabelFreeDecoder.ThresholdAtForegroundShare"/>). The two-level split
    /// (<see cref="TwoLevelDecoding"/>) lies inside the network's blur halo when the structure is a minority and
    /// over-segments, for the reason given at <see cref="IgttAreaGuard"/>. Falls back to the two-level split when every
    /// image sat the last round out.
    /// </summary>
    public DecodingRule Decoding { get; }

    /// <summary>The label-free two-level rule: foreground above the Otsu threshold between the two output levels (<see cref="Levels"/>).</summary>
    public DecodingRule TwoLevelDecoding => DecodingRule.AtThreshold(Levels.Threshold);

    /// <inheritdoc />
    public void Dispose() => Model.Dispose();
}

/// <summary>
/// iGTT, iterative ground-truth training (Luo et al., AAAI 2022): unsupervised binary segmentation from images only.
/// Each round predicts every image, thresholds each prediction at K levels between its minimum and maximum, keeps the
/// eligible candidate with the lowest DMI loss (<see cref="DmiThresholdSelection"/>), applies EMS
/// (<see cref="MetaStructureExtraction"/>, optional) and trains the same network further on the result with
/// DMI + soft-IoU.
/// </summary>
/// <remarks>
/// <para>
/// First round: the paper's pseudo-labels start all background, which gives zero gradient (see
/// <see cref="IgttInitialPrediction.Network"/>), so the first candidates come from the untrained network's map or,
/// by default [ours], from the image itself (<see cref="IgttInitialPrediction.Image"/>).
/// </para>
/// <para>
/// Orientation [ours, replacing EMS's per-image inversion]: decided once, on the first round's map. With
/// <see cref="ForegroundPolarity.Auto"/> the structure is the side of that map covering less than half of the pooled
/// training pixels (split at each image's Otsu threshold, or at its DMI-optimal threshold with
/// <see cref="IgttAreaGuard.PriorOnly"/>); with Bright or Dark it is the side whose values correlate positively or negatively with the
/// image intensity. At every later selection, and at the end, the network is checked against the pseudo-labels it was
/// just trained on: if it learned them the wrong way round (det U &lt; 0, which DMI allows and the soft-IoU term rarely
/// undoes on sparse EMS labels) its 1x1 head is negated, so p becomes 1 - p exactly, the DMI loss is unchanged and the
/// soft-IoU term agrees; with Bright or Dark the same is done when the output contradicts the polarity. Candidates are
/// then always the high side of the (aligned) prediction, the same for every image, so no image is flipped against
/// the others (EMS's per-image rule did that to ISBI images whose candidate hovered around half the image).
/// </para>
/// <para>
/// Area guard (<see cref="IgttOptions.AreaGuard"/>): a candidate may cover at most
/// <see cref="IgttOptions.MaxForegroundShare"/> of its image (default 1/2, the prior behind EMS's inversion), no more
/// than the high class of its map's Otsu split, and, by default, no more than that image's candidate of the first
/// round; see <see cref="IgttAreaGuard"/> for why the DMI choice otherwise grows round after round. An image with no
/// eligible candidate sits the round out (pseudo-label all 255). The result decodes at the last candidates' area
/// (<see cref="IgttResult.Decoding"/>).
/// </para>
/// <para>
/// The rounds run inside one <see cref="SegmentationTrainer.Train"/> call: its validation callback, invoked every
/// round's worth of steps, recomputes the pseudo-labels from the current network, and its mask provider serves them.
/// So the optimizer state carries over between rounds, and progress, cancellation, checkpoints and determinism are the
/// trainer's. EMS randomness of image i in round r comes from (Trainer.Seed, image name, r) only.
/// </para>
/// </remarks>
public static class IterativeGroundTruthTrainer
{
    private static readonly object InitGate = new();

    /// <summary>Trains a U-Net without labels.</summary>
    /// <param name="images">Training images (their masks, if any, are ignored), all of one size; names must be stable.</param>
    /// <param name="options">Options (validated).</param>
    /// <param name="progress">Receives a report after each selection and each training step.</param>
    /// <param name="cancellationToken">Stops between steps and between images of a selection.</param>
    /// <param name="afterRound">Optional observer called after each round's training and alignment with the network, its
    /// outputs on the training images and the selection it trained on (<see cref="IgttRoundEnd"/>), e.g. to score a
    /// validation set per round as the final model would be scored.</param>
    /// <returns>The trained model and the last pseudo-labels; dispose it.</returns>
    public static IgttResult Train(IReadOnlyList<SegmentationItem> images, IgttOptions options,
        IProgress<IgttProgress>? progress = null, CancellationToken cancellationToken = default,
        Action<IgttRoundEnd>? afterRound = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var to = options.EffectiveTrainer;
        if (images.Count == 0) throw new ArgumentException("images must not be empty.", nameof(images));
        var first = images[0] ?? throw new ArgumentException("images[0] is null.", nameof(images));
        int c = first.Channels, h = first.Height, w = first.Width;
        if (c != to.Network.InputChannels)
            throw new ArgumentException($"images have {c} channel(s); Trainer.Network.InputChannels is {to.Network.InputChannels}.", nameof(images));
        for (int i = 0; i < images.Count; i++)
        {
            var it = images[i] ?? throw new ArgumentException($"images[{i}] is null.", nameof(images));
            if (it.Channels != c || it.Height != h || it.Width != w || it.Image is null || it.Image.Length != c * h * w)
                throw new ArgumentException($"images[{i}] ('{it.Name}') is {it.Channels}x{it.Height}x{it.Width}; all images must be {c}x{h}x{w} (resize or tile first).", nameof(images));
        }

        int n = images.Count;
        int batch = Math.Min(to.BatchSize, n);
        int stepsPerRound = options.StepsPerRound ?? checked(options.EpochsPerRound * (n / batch));
        int totalSteps = checked(options.Rounds * stepsPerRound);
        var trainerOptions = to with { MaxSteps = totalSteps, ValidateEvery = stepsPerRound };

        var pseudo = new byte[n][];
        var candidates = new byte[n][];
        for (int i = 0; i < n; i++) { pseudo[i] = new byte[h * w]; candidates[i] = new byte[h * w]; }
        var samples = new SegmentationItem[n];
        var index = new Dictionary<SegmentationItem, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < n; i++)
        {
            samples[i] = images[i] with { Mask = pseudo[i] };
            index[samples[i]] = i;
        }
        var imageList = images.Select(i => i.Image).ToList();
        var intensity = images.Select(i => ChannelMean(i.Image, c, h * w)).ToArray();
        var summaries = new List<IgttRoundSummary>();
        var shares = new double[n];
        Array.Fill(shares, double.NaN);
        var firstShares = new double[n];
        Array.Fill(firstShares, double.NaN);
        var log = new OrientationLog(options.Polarity);

        void SelectRound(int round, float[][] predictions, bool networkInverted)
        {
            var s = RefreshPseudoLabels(images, predictions, intensity, options, round, candidates, pseudo, shares, firstShares, cancellationToken) with { NetworkInverted = networkInverted };
            summaries.Add(s);
            progress?.Report(new IgttProgress(round, options.Rounds, IgttStage.Selection, null, s) { Candidates = candidates, PseudoLabels = pseudo });
        }

        // Round 0: the untrained network's map or the image, oriented once for the whole run.
        var initial = options.InitialPrediction == IgttInitialPrediction.Image
            ? intensity.Select(v => (float[])v.Clone()).ToArray()
            : InitialNetworkPrediction(to, imageList, c, h, w);
        bool initialInverted = DecideInitialOrientation(initial, intensity, options, out string why);
        log.Add(why);
        log.InitialInverted = initialInverted;
        if (initialInverted) Invert(initial, options.InitialPrediction == IgttInitialPrediction.Image);
        SelectRound(0, initial, false);

        IProgress<TrainingProgress>? inner = progress is null ? null
            : new SyncProgress<TrainingProgress>(p => progress.Report(new IgttProgress(Math.Min(options.Rounds - 1, (p.Step - 1) / stepsPerRound), options.Rounds, IgttStage.Training, p, null)));
        IReadOnlyDictionary<string, double> Validate(int step, TrainedSegmentationModel model)
        {
            if (step % stepsPerRound != 0) return new Dictionary<string, double>();
            int round = step / stepsPerRound;
            bool lastRound = step >= totalSteps;
            // After the last round the result is aligned below, once training has returned; only an observer needs it here.
            if (lastRound && afterRound is null) return new Dictionary<string, double>();
            var predictions = model.PredictProbabilities(imageList, c, h, w);
            bool inverted = AlignNetwork(model, predictions, pseudo, intensity, options.Polarity, round, log);
            afterRound?.Invoke(new IgttRoundEnd(round - 1, model, predictions, summaries[^1], inverted));
            if (lastRound) return new Dictionary<string, double>();
            SelectRound(round, predictions, inverted);
            var last = summaries[^1];
            return new Dictionary<string, double> { ["round"] = last.Round, ["pseudoForeground"] = last.MeanPseudoLabelForeground };
        }

        var trained = SegmentationTrainer.Train(samples, trainerOptions, inner, cancellationToken, Validate, (s, _) => pseudo[index[s]]);
        try
        {
            var outputs = trained.PredictProbabilities(imageList, c, h, w);
            AlignNetwork(trained, outputs, pseudo, intensity, options.Polarity, options.Rounds, log);
            var levels = LabelFreeDecoder.EstimateBinary(outputs);
            double r = IntensityCorrelation(outputs, intensity);
            var orientation = new IgttOrientation(options.Polarity, log.InitialInverted, log.Inversions,
                r < 0 ? ThresholdPolarity.Dark : ThresholdPolarity.Bright, r, log.Text);
            var kept = Enumerable.Range(0, n).Where(i => double.IsFinite(shares[i])).ToList();
            double share = kept.Count == 0 ? double.NaN : kept.Sum(i => shares[i]) / kept.Count;
            double threshold = double.IsFinite(share)
                ? LabelFreeDecoder.ThresholdAtForegroundShare(kept.Select(i => outputs[i]).ToList(), share)
                : levels.Threshold;
            return new IgttResult(trained, candidates, pseudo, summaries, levels, orientation, share, threshold);
        }
        catch
        {
            trained.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Round 0: true when the structure is the low side of the initial map. Auto: the pooled share of the high side of
    /// the per-image split exceeds 1/2 (the structure is the minority). Bright/Dark: the map's within-image correlation
    /// with the intensity has the wrong sign.
    /// </summary>
    internal static bool DecideInitialOrientation(float[][] map, float[][] intensity, IgttOptions options, out string reason)
    {
        if (options.Polarity == ForegroundPolarity.Auto)
        {
            double high = 0, total = 0;
            for (int i = 0; i < map.Length; i++)
            {
                var p = map[i];
                double t = options.AreaGuard != IgttAreaGuard.PriorOnly ? Otsu.Threshold(p) : p.Average(v => (double)v);
                foreach (float v in p) if (v > t) high++;
                total += p.Length;
            }
            double share = high / total;
            bool invert = share > 0.5;
            string split = options.AreaGuard != IgttAreaGuard.PriorOnly ? "Otsu" : "DMI (mean)";
            reason = string.Create(CultureInfo.InvariantCulture,
                $"Auto: the high side of the first map's per-image {split} split covers {share:0.###} of the training pixels, so the structure (the minority) is its {(invert ? "low" : "high")} side.");
            return invert;
        }
        double r = IntensityCorrelation(map, intensity);
        bool wantBright = options.Polarity == ForegroundPolarity.Bright;
        bool inv = r != 0 && (r > 0) != wantBright;
        reason = string.Create(CultureInfo.InvariantCulture,
            $"{options.Polarity}: the first map correlates with the intensity at r = {r:0.###}, so the structure is its {(inv ? "low" : "high")} side.");
        return inv;
    }

    /// <summary>
    /// Keeps the network aligned: negates its head when its output anti-correlates with the pseudo-labels it was
    /// trained on (sign of det U pooled over the images) or, with Bright/Dark, with the requested polarity (the polarity
    /// has the last word; the head is negated at most once). Inverts <paramref name="outputs"/> in place to match.
    /// Returns true when it inverted.
    /// </summary>
    internal static bool AlignNetwork(TrainedSegmentationModel model, float[][] outputs, byte[][] trainedOn, float[][] intensity,
        ForegroundPolarity polarity, int round, OrientationLog log)
    {
        // Decide first (both checks on the outputs as they would be), then negate the head at most once.
        bool detU = OrientationSign(outputs, trainedOn) < 0;
        bool invert = detU;
        double r = double.NaN;
        if (polarity != ForegroundPolarity.Auto)
        {
            r = IntensityCorrelation(outputs, intensity);
            if (detU) r = -r; // the correlation of 1 - p
            if (r != 0 && (r > 0) != (polarity == ForegroundPolarity.Bright)) invert = !invert;
        }
        string after = string.Create(CultureInfo.InvariantCulture, $"After round {round - 1} ");
        if (detU && invert)
            log.Add(after + "the network had learned its pseudo-labels inverted (det U < 0): output inverted.");
        else if (detU)
            log.Add(after + string.Create(CultureInfo.InvariantCulture,
                $"the network had learned its pseudo-labels inverted (det U < 0), but inverted it would correlate with the intensity at r = {r:0.###}, against polarity {polarity}: left as it was (the polarity decides)."));
        else if (invert)
            log.Add(after + string.Create(CultureInfo.InvariantCulture, $"the output correlated with the intensity at r = {r:0.###}, against polarity {polarity}: output inverted."));
        if (!invert) return false;
        InvertHead(model.Network);
        Invert(outputs, false);
        log.Inversions++;
        return true;
    }

    /// <summary>Sign of det U of outputs p against labels s pooled over images (positive: aligned; 255 skipped).</summary>
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

    /// <summary>Pooled within-image correlation of maps with intensities: Σ cov_i / sqrt(Σ var_i(p) · Σ var_i(v)); 0 when either is constant.</summary>
    internal static double IntensityCorrelation(IReadOnlyList<float[]> maps, IReadOnlyList<float[]> intensity)
    {
        double cov = 0, vp = 0, vv = 0;
        for (int i = 0; i < maps.Count; i++)
        {
            var p = maps[i];
            var v = intensity[i];
            double mp = 0, mv = 0;
            for (int j = 0; j < p.Length; j++) { mp += p[j]; mv += v[j]; }
            mp /= p.Length; mv /= p.Length;
            for (int j = 0; j < p.Length; j++)
            {
                double a = p[j] - mp, b = v[j] - mv;
                cov += a * b; vp += a * a; vv += b * b;
            }
        }
        return vp > 0 && vv > 0 ? cov / Math.Sqrt(vp * vv) : 0;
    }

    /// <summary>One selection: eligible DMI candidate per image (oriented as the map), then EMS. Parallel over images, deterministic.</summary>
    /// <param name="images">The training images.</param>
    /// <param name="predictions">The (aligned) maps, one per image.</param>
    /// <param name="intensity">Channel-mean images (for the contrast diagnostic).</param>
    /// <param name="options">The options.</param>
    /// <param name="round">0-based round (seeds EMS).</param>
    /// <param name="candidates">Output: the kept candidates.</param>
    /// <param name="pseudo">Output: the pseudo-labels.</param>
    /// <param name="shares">Out: each image's candidate share of this round (NaN = skipped).</param>
    /// <param name="firstShares">Each image's candidate share of round 0 (the NoGrowth bound; NaN = none); written in round 0.</param>
    /// <param name="cancellationToken">Cancels between images.</param>
    internal static IgttRoundSummary RefreshPseudoLabels(IReadOnlyList<SegmentationItem> images, float[][] predictions, float[][] intensity,
        IgttOptions options, int round, byte[][] candidates, byte[][] pseudo, double[] shares, double[] firstShares, CancellationToken cancellationToken)
    {
        int n = images.Count;
        var level = new double[n];
        var loss = new double[n];
        var candFg = new double[n];
        var pseudoFg = new double[n];
        var bound = new double[n];
        var skipped = new bool[n];
        var inside = new double[n];
        var insideCount = new double[n];
        var total = new double[n];
        var ems = options.MetaStructureExtraction;
        Parallel.For(0, n, new ParallelOptions { CancellationToken = cancellationToken }, i =>
        {
            var it = images[i];
            var p = predictions[i];
            double cap = ForegroundBound(p, options, firstShares[i]);
            bound[i] = cap;
            var sel = DmiThresholdSelection.Select(p, candidates[i], options.CandidateCount, options.DmiEpsilon, maxForegroundShare: cap);
            var dst = pseudo[i];
            shares[i] = sel.Index < 0 ? double.NaN : sel.ForegroundFraction;
            if (round == 0) firstShares[i] = shares[i];
            if (sel.Index < 0)
            {
                skipped[i] = true;
                Array.Fill(dst, MaskConventions.IgnoreIndex);
                return;
            }
            level[i] = sel.Index;
            loss[i] = sel.Loss;
            candFg[i] = sel.ForegroundFraction;
            var v = intensity[i];
            var src = candidates[i];
            for (int j = 0; j < src.Length; j++)
            {
                total[i] += v[j];
                if (src[j] != 0) { inside[i] += v[j]; insideCount[i]++; }
            }
            if (options.UseMetaStructureExtraction)
            {
                var rng = SeededRandom.For(options.Trainer.Seed, "noisyseg/ems/" + it.Name, round);
                var r = MetaStructureExtraction.Extract(src, dst, it.Width, it.Height, ems, ref rng);
                pseudoFg[i] = r.KeptPixels / (double)dst.Length;
            }
            else
            {
                src.CopyTo(dst, 0);
                pseudoFg[i] = sel.ForegroundFraction;
            }
        });
        cancellationToken.ThrowIfCancellationRequested();
        var kept = Enumerable.Range(0, n).Where(i => !skipped[i]).ToList();
        double Mean(double[] a) => kept.Count == 0 ? double.NaN : kept.Average(i => a[i]);
        double inSum = kept.Sum(i => inside[i]), inCount = kept.Sum(i => insideCount[i]);
        double allSum = kept.Sum(i => total[i]), allCount = kept.Sum(i => (double)predictions[i].Length);
        double contrast = inCount > 0 && allCount > inCount ? inSum / inCount - (allSum - inSum) / (allCount - inCount) : double.NaN;
        return new IgttRoundSummary(round, Mean(level), Mean(loss), Mean(candFg), Mean(pseudoFg), 0)
        {
            MeanForegroundBound = bound.Average(),
            SkippedImages = n - kept.Count,
            CandidateContrast = contrast,
        };
    }

    /// <summary>
    /// The largest foreground share a candidate of map <paramref name="p"/> may have under the options' area guard:
    /// MaxForegroundShare; with TwoLevelMixture or NoGrowth also the share above the map's Otsu threshold; with
    /// NoGrowth also <paramref name="firstShare"/> (the image's candidate share in the first round; NaN = none).
    /// </summary>
    internal static double ForegroundBound(ReadOnlySpan<float> p, IgttOptions options, double firstShare = double.NaN)
    {
        double cap = options.MaxForegroundShare;
        if (options.AreaGuard != IgttAreaGuard.PriorOnly)
        {
            double t = Otsu.Threshold(p);
            int high = 0;
            foreach (float v in p) if (v > t) high++;
            cap = Math.Min(cap, high / (double)p.Length);
        }
        if (options.AreaGuard == IgttAreaGuard.NoGrowth && double.IsFinite(firstShare))
            cap = Math.Min(cap, firstShare);
        return cap;
    }

    /// <summary>Negates the U-Net's 1x1 output convolution (weight and bias): logits z → -z, so sigmoid(z) → 1 - sigmoid(z).</summary>
    internal static void InvertHead(UNet network)
    {
        int found = 0;
        using (no_grad())
        {
            foreach (var (name, parameter) in network.named_parameters())
            {
                if (name is "head.weight" or "head.bias")
                {
                    parameter.neg_();
                    found++;
                }
            }
        }
        if (found != 2) throw new InvalidOperationException($"Expected the U-Net's head weight and bias; found {found} of them.");
    }

    /// <summary>Inverts maps in place: probabilities p → 1 - p, or intensities v → -v.</summary>
    private static void Invert(float[][] maps, bool negate)
    {
        foreach (var m in maps)
            for (int j = 0; j < m.Length; j++) m[j] = negate ? -m[j] : 1f - m[j];
    }

    /// <summary>
    /// The paper's first prediction: the seeded, untrained network (the same weights <see cref="SegmentationTrainer.Train"/>
    /// builds) with its batch-norm running statistics set to the cumulative average over the training images, which is
    /// all the all-background first round would change.
    /// </summary>
    private static float[][] InitialNetworkPrediction(SegmentationTrainerOptions o, IReadOnlyList<float[]> images, int c, int h, int w)
    {
        TorchRuntime.Initialize(o.Threads);
        var device = TorchDevices.Resolve(o.GpuDeviceId, o.FallbackToCpu);
        UNet network;
        lock (InitGate)
        {
            torch.manual_seed(o.Seed);
            network = new UNet(o.Network);
        }
        network.to(device);
        var norms = network.modules().OfType<BatchNorm2d>().ToList();
        foreach (var bn in norms)
        {
            bn.reset_running_stats();
            bn.momentum = null; // cumulative moving average
        }
        network.train();
        int batch = Math.Max(1, Math.Min(o.BatchSize, images.Count));
        int plane = c * h * w;
        using (no_grad())
        {
            for (int start = 0; start < images.Count; start += batch)
            {
                int count = Math.Min(batch, images.Count - start);
                var xs = new float[count * plane];
                for (int i = 0; i < count; i++) images[start + i].CopyTo(xs, i * plane);
                using var scope = NewDisposeScope();
                network.PredictLogits(tensor(xs, new long[] { count, c, h, w }).to(device));
            }
        }
        foreach (var bn in norms) bn.momentum = 0.1;
        network.eval();
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

    /// <summary>The decisions of one run, for <see cref="IgttOrientation.Reason"/>.</summary>
    internal sealed class OrientationLog(ForegroundPolarity polarity)
    {
        private readonly List<string> _lines = [];

        public ForegroundPolarity Polarity { get; } = polarity;

        public bool InitialInverted { get; set; }

        public int Inversions { get; set; }

        public void Add(string line) => _lines.Add(line);

        public string Text => string.Join(" ", _lines);
    }
}
