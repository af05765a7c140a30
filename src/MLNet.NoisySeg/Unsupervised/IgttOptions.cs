using MLNet.NoisySeg.Losses;
using MLNet.NoisySeg.Training;

namespace MLNet.NoisySeg.Unsupervised;

/// <summary>Where the prediction of the first iGTT round comes from.</summary>
public enum IgttInitialPrediction
{
    /// <summary>
    /// The paper's loop taken literally: pseudo-labels start all background, on which DMI and soft-IoU have zero
    /// gradient, so the first round's prediction is the untrained (seeded) network's output.
    /// </summary>
    Network,

    /// <summary>
    /// [ours] The first round thresholds the image itself (mean over channels) instead of an untrained network's
    /// output: a DMI-selected global intensity threshold per image. Later rounds use the network as usual.
    /// </summary>
    Image,
}

/// <summary>
/// Options of iGTT, iterative ground-truth training (Luo et al., AAAI 2022). Defaults follow the paper where it gives them
/// (K = 30 candidate levels, EMS shift radius r = 1, keep fraction p = 0.1, DMI + soft-IoU loss).
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

    /// <summary>Source of the first round's prediction. Default <see cref="IgttInitialPrediction.Network"/> (the paper).</summary>
    public IgttInitialPrediction InitialPrediction { get; init; } = IgttInitialPrediction.Network;

    /// <summary>
    /// Network, optimizer, batch size, seed (also seeds EMS), device and threads of the training. Its Loss must be
    /// <see cref="LossKind.DmiSoftIoU"/> (the default here); Epochs, MaxSteps and ValidateEvery are set per run.
    /// </summary>
    public SegmentationTrainerOptions Trainer { get; init; } = new() { Loss = LossKind.DmiSoftIoU };

    /// <summary>The EMS part of these options.</summary>
    public MetaStructureExtractionOptions MetaStructureExtraction => new() { ShiftRadius = ShiftRadius, KeepFraction = KeepFraction };

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
        if (Trainer is null) throw new ArgumentException("Trainer must not be null.", nameof(Trainer));
        if (Trainer.Network.OutputChannels != 1)
            throw new ArgumentException($"Trainer.Network.OutputChannels must be 1 (iGTT is binary); got {Trainer.Network.OutputChannels}.", nameof(Trainer));
        if (Trainer.Loss != LossKind.DmiSoftIoU)
            throw new ArgumentException($"Trainer.Loss must be DmiSoftIoU (iGTT trains with DMI + soft-IoU); got {Trainer.Loss}.", nameof(Trainer));
        if (Trainer.ResumeFromCheckpoint)
            throw new ArgumentException("Trainer.ResumeFromCheckpoint is not supported by iGTT: the pseudo-labels of the interrupted round are not in the checkpoint.", nameof(Trainer));
        Trainer.Validate();
    }
}
