using MLNet.NoisySeg.Losses;
using MLNet.NoisySeg.Networks;
using MLNet.NoisySeg.Training;

namespace MLNet.NoisySeg.Unsupervised;

/// <summary>Where the prediction of the first iGTT round comes from.</summary>
public enum IgttInitialPrediction
{
    /// <summary>
    /// The paper's loop: pseudo-labels start all background. On an all-background label the DMI loss is constant
    /// (det U ≡ 0) and so is soft-IoU (its numerator Σ p·y ≡ 0): every weight gradient is exactly zero, so Adam or SGD
    /// leave the weights untouched and the first round's training only moves the batch-norm running statistics to
    /// the data's. The first candidates are therefore thresholds of the seeded, untrained network's output with its
    /// batch-norm statistics calibrated on the training images; iGTT computes exactly that (one forward pass in
    /// training mode with a cumulative average, no optimizer steps) instead of spending a round of steps on it.
    /// A random network's map carries little of the structure and its sign is arbitrary.
    /// </summary>
    Network,

    /// <summary>
    /// [ours] The first round thresholds the image itself (mean over channels), oriented by
    /// <see cref="IgttOptions.Polarity"/>: a DMI-selected global intensity threshold per image. Later rounds use the
    /// network as usual. Deterministic and independent of the seed.
    /// </summary>
    Image,
}

/// <summary>Which side of the image intensity the structure is on, when known.</summary>
public enum ForegroundPolarity
{
    /// <summary>
    /// Unknown: the structure is the minority class (the rule behind EMS's "invert if the foreground covers more than
    /// half the image"), decided once, on the first round's candidates pooled over all training images; later rounds
    /// keep the orientation the network has learned (see <see cref="IterativeGroundTruthTrainer"/>).
    /// </summary>
    Auto,

    /// <summary>The structure is brighter than its surroundings (fluorescence, sky).</summary>
    Bright,

    /// <summary>The structure is darker than its surroundings (EM membranes, stained nuclei in bright field).</summary>
    Dark,
}

/// <summary>How iGTT bounds the foreground share of the DMI-selected candidates (the runaway-growth guard).</summary>
/// <remarks>
/// Why a guard is needed: for a hard candidate S = [p &gt; t], det U = Cov(p, s), which is largest at t = p̄, the mean
/// of the map (<see cref="DmiThresholdSelection"/>). When the structure is a minority, p̄ sits just above the
/// background level, so the DMI choice also takes every background pixel that noise or the network's blur lifts above
/// p̄. The network trained on that larger region blurs its edge again, the next choice is larger again, and the
/// pseudo-labels run away (seen on nuclei: candidate share 0.10 → 0.12 → 0.16 → 0.18 in four rounds, Dice 0.89 →
/// 0.65). Otsu's split has the same bias, weaker: bounding by the map's own two-level split slows the growth but does
/// not stop it, because that split grows with the halo too.
/// </remarks>
public enum IgttAreaGuard
{
    /// <summary>
    /// Only <see cref="IgttOptions.MaxForegroundShare"/> (default 1/2, the area prior behind EMS's "invert if the
    /// foreground covers more than half"). The paper's selection with that prior; the candidates can run away.
    /// </summary>
    PriorOnly,

    /// <summary>
    /// [ours] In addition, a candidate may not claim more of an image than the high class of that image's own map
    /// split at its Otsu threshold. On the first round's image map this makes the first pseudo-labels Otsu-sized
    /// instead of mean-sized; later it slows the growth without stopping it.
    /// </summary>
    TwoLevelMixture,

    /// <summary>
    /// [ours, default] <see cref="TwoLevelMixture"/>, and no image's candidate may cover more than its candidate of
    /// the first round. Rationale: a network trained on pseudo-labels of a given area carries no evidence for more
    /// area than that; what a lower threshold would add is its blur halo. So the area is set by the first round's
    /// evidence (the image's two-level split, or the user's <see cref="IgttOptions.MaxForegroundShare"/>) and later
    /// rounds may only refine the shape within it. The bound is the first round's share, not the previous round's:
    /// with K discrete levels the largest eligible candidate usually lies a little below the bound, so a
    /// previous-round bound ratchets the area down round after round (seen on synthetic nuclei: 0.234 → 0.220 in four
    /// rounds against 0.267 in the truth). Consequence: iGTT cannot recover structure the first round missed
    /// entirely; when the first map is an untrained network's (<see cref="IgttInitialPrediction.Network"/>) the bound
    /// is as arbitrary as that map.
    /// </summary>
    NoGrowth,
}

/// <summary>
/// Options of iGTT, iterative ground-truth training (Luo et al., AAAI 2022). Defaults follow the paper where it gives them
/// (K = 30 candidate levels, EMS shift radius r = 1, keep fraction p = 0.1, DMI + soft-IoU loss); the choices the
/// paper leaves open are marked [ours].
/// </summary>
public sealed record IgttOptions
{
    /// <summary>Number of rounds (predict, select, EMS, train). Default 5.</summary>
    public int Rounds { get; init; } = 5;

    /// <summary>Training epochs per round (an epoch visits every image once). Default 5. Ignored when StepsPerRound is set.</summary>
    public int EpochsPerRound { get; init; } = 5;

    /// <summary>If set, optimisation steps per round instead of EpochsPerRound.</summary>
    public int? StepsPerRound { get; init; }

    /// <summary>K: thresholds per image between its minimum and maximum prediction (the paper: 30).</summary>
    public int CandidateCount { get; init; } = DmiThresholdSelection.DefaultCandidateCount;

    /// <summary>Apply EMS to the selected candidates (the paper's iGTT with EMS); false trains on the candidates themselves.</summary>
    public bool UseMetaStructureExtraction { get; init; } = true;

    /// <summary>EMS shift radius r (the paper: 1).</summary>
    public int ShiftRadius { get; init; } = 1;

    /// <summary>EMS keep fraction p (the paper: 0.1).</summary>
    public double KeepFraction { get; init; } = 0.1;

    /// <summary>eps added to |det U| in the candidate selection's DMI loss.</summary>
    public double DmiEpsilon { get; init; } = DmiThresholdSelection.DefaultEpsilon;

    /// <summary>Source of the first round's prediction. Default <see cref="IgttInitialPrediction.Image"/> [ours]; the paper's is <see cref="IgttInitialPrediction.Network"/>.</summary>
    public IgttInitialPrediction InitialPrediction { get; init; } = IgttInitialPrediction.Image;

    /// <summary>
    /// Which side of the intensity the structure is on. Default <see cref="ForegroundPolarity.Auto"/> (the minority
    /// class). Set Bright or Dark when known: the orientation is then taken from the images instead of the area rule.
    /// </summary>
    public ForegroundPolarity Polarity { get; init; } = ForegroundPolarity.Auto;

    /// <summary>
    /// Area prior: the largest share of an image the structure may cover. A candidate with more foreground is not
    /// eligible. Default 0.5, the prior EMS's "invert if the foreground covers more than half" implies [ours: applied
    /// as a bound on the selection, with one orientation for all images, rather than as a per-image inversion after
    /// it]. Lower it when the structure is known to be sparse (e.g. 0.2 for scattered nuclei).
    /// </summary>
    public double MaxForegroundShare { get; init; } = 0.5;

    /// <summary>Runaway-growth guard on the candidates' foreground share. Default <see cref="IgttAreaGuard.NoGrowth"/> [ours].</summary>
    public IgttAreaGuard AreaGuard { get; init; } = IgttAreaGuard.NoGrowth;

    /// <summary>
    /// U-Net depth (number of 2x down-samplings); null keeps <c>Trainer.Network.Depth</c> (default 4). When set it
    /// overrides the trainer's network, like <c>Depth</c> of the supervised study options.
    /// </summary>
    public int? Depth { get; init; }

    /// <summary>U-Net channels at full resolution (doubling per level); null keeps <c>Trainer.Network.BaseWidth</c> (default 16).</summary>
    public int? BaseWidth { get; init; }

    /// <summary>
    /// Network, optimizer, batch size, seed (also seeds EMS), device and threads of the training. Its Loss must be
    /// <see cref="LossKind.DmiSoftIoU"/> (the default here); Epochs, MaxSteps and ValidateEvery are set per run;
    /// <see cref="Depth"/> and <see cref="BaseWidth"/>, when set, replace its network's.
    /// </summary>
    public SegmentationTrainerOptions Trainer { get; init; } = new() { Loss = LossKind.DmiSoftIoU };

    /// <summary>The network iGTT trains: <c>Trainer.Network</c> with <see cref="Depth"/> and <see cref="BaseWidth"/> applied.</summary>
    public UNetOptions Network => Trainer is null ? new UNetOptions()
        : Trainer.Network with { Depth = Depth ?? Trainer.Network.Depth, BaseWidth = BaseWidth ?? Trainer.Network.BaseWidth };

    /// <summary>The trainer options iGTT trains with: <see cref="Trainer"/> with <see cref="Network"/> (the saved model carries these).</summary>
    public SegmentationTrainerOptions EffectiveTrainer => Trainer with { Network = Network };

    /// <summary>
    /// The EMS part of these options, as iGTT applies it: r and p from these options, and no per-image inversion
    /// (iGTT orients all images alike and bounds the share by <see cref="MaxForegroundShare"/> instead).
    /// </summary>
    public MetaStructureExtractionOptions MetaStructureExtraction => new() { ShiftRadius = ShiftRadius, KeepFraction = KeepFraction, InvertMajority = false };

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> or <see cref="ArgumentException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        if (Rounds < 1) throw new ArgumentOutOfRangeException(nameof(Rounds), Rounds, "Rounds must be at least 1.");
        if (EpochsPerRound < 1) throw new ArgumentOutOfRangeException(nameof(EpochsPerRound), EpochsPerRound, "EpochsPerRound must be at least 1.");
        if (StepsPerRound is < 1) throw new ArgumentOutOfRangeException(nameof(StepsPerRound), StepsPerRound, "StepsPerRound must be null or at least 1.");
        if (CandidateCount is < 1 or > 10_000) throw new ArgumentOutOfRangeException(nameof(CandidateCount), CandidateCount, "CandidateCount must be in [1, 10000].");
        if (ShiftRadius is < 0 or > Morphology.BinaryMorphology.MaxRadius)
            throw new ArgumentOutOfRangeException(nameof(ShiftRadius), ShiftRadius, $"ShiftRadius must be in [0, {Morphology.BinaryMorphology.MaxRadius}].");
        if (!double.IsFinite(KeepFraction) || KeepFraction <= 0 || KeepFraction > 1)
            throw new ArgumentOutOfRangeException(nameof(KeepFraction), KeepFraction, "KeepFraction must be a number in (0, 1].");
        if (!double.IsFinite(DmiEpsilon) || DmiEpsilon <= 0) throw new ArgumentOutOfRangeException(nameof(DmiEpsilon), DmiEpsilon, "DmiEpsilon must be a finite number greater than 0.");
        if (!Enum.IsDefined(InitialPrediction)) throw new ArgumentOutOfRangeException(nameof(InitialPrediction), InitialPrediction, "InitialPrediction must be Network or Image.");
        if (!Enum.IsDefined(Polarity)) throw new ArgumentOutOfRangeException(nameof(Polarity), Polarity, "Polarity must be Auto, Bright or Dark.");
        if (!(MaxForegroundShare > 0 && MaxForegroundShare <= 1))
            throw new ArgumentOutOfRangeException(nameof(MaxForegroundShare), MaxForegroundShare, "MaxForegroundShare must be a number in (0, 1].");
        if (!Enum.IsDefined(AreaGuard)) throw new ArgumentOutOfRangeException(nameof(AreaGuard), AreaGuard, "AreaGuard must be PriorOnly, TwoLevelMixture or NoGrowth.");
        if (Depth is < 1 or > 8) throw new ArgumentOutOfRangeException(nameof(Depth), Depth, "Depth must be null or in [1, 8].");
        if (BaseWidth is < 2 or > 1024) throw new ArgumentOutOfRangeException(nameof(BaseWidth), BaseWidth, "BaseWidth must be null or in [2, 1024].");
        if (Trainer is null) throw new ArgumentException("Trainer must not be null.", nameof(Trainer));
        if (Trainer.Network.OutputChannels != 1)
            throw new ArgumentException($"Trainer.Network.OutputChannels must be 1 (iGTT is binary); got {Trainer.Network.OutputChannels}.", nameof(Trainer));
        if (Trainer.Loss != LossKind.DmiSoftIoU)
            throw new ArgumentException($"Trainer.Loss must be DmiSoftIoU (iGTT trains with DMI + soft-IoU); got {Trainer.Loss}.", nameof(Trainer));
        if (Trainer.ResumeFromCheckpoint)
            throw new ArgumentException("Trainer.ResumeFromCheckpoint is not supported by iGTT: the pseudo-labels of the interrupted round are not in the checkpoint.", nameof(Trainer));
        EffectiveTrainer.Validate();
    }
}
