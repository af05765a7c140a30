using MLNet.NoisySeg.Losses;
using MLNet.NoisySeg.Networks;

namespace MLNet.NoisySeg.Training;

/// <summary>Optimizer family.</summary>
public enum OptimizerKind
{
    /// <summary>SGD with momentum and weight decay (the paper: lr 0.05, momentum 0.9, weight decay 1e-3).</summary>
    Sgd,

    /// <summary>Adam (β = 0.9, 0.999) with L2 weight decay.</summary>
    Adam,
}

/// <summary>Learning-rate schedule, evaluated per step.</summary>
public enum LearningRateSchedule
{
    /// <summary>Constant learning rate.</summary>
    None,

    /// <summary>Multiply by StepGamma every StepEveryEpochs epochs (the paper: /10 every 20 epochs).</summary>
    Step,

    /// <summary>Cosine annealing from LearningRate to 0 over the whole step budget.</summary>
    Cosine,
}

/// <summary>
/// Early stopping and best-model selection on a validation metric (as ML.NET's image classification trainer's
/// early-stopping criteria): training keeps the weights of the best validation so far, stops after
/// <see cref="Patience"/> validations without improvement, and returns the best weights.
/// </summary>
/// <remarks>
/// With noisy labels, the mean loss on held-out images with their NOISY labels is a label-free criterion: it falls
/// while the network learns the labels' meta-structure and rises once it starts to memorise the noise of its own
/// training images. Early-stopping state is not checkpointed: after a resume the best-so-far starts again.
/// </remarks>
public sealed record EarlyStoppingOptions
{
    /// <summary>Name of the watched metric among the validation metrics. Default "validation_loss" (computed by the
    /// ML.NET trainer from its ValidationData).</summary>
    public string Metric { get; init; } = ValidationLossMetric;

    /// <summary>True when larger values are better (Dice, IoU); false for losses. Default false.</summary>
    public bool Maximize { get; init; }

    /// <summary>Validations without improvement after which training stops; 0 = never stop early, only keep the best. Default 5.</summary>
    public int Patience { get; init; } = 5;

    /// <summary>An improvement must exceed this (in metric units) to count. Default 0.</summary>
    public double MinDelta { get; init; }

    /// <summary>Return the weights of the best validation (true, default) or those of the last step.</summary>
    public bool RestoreBest { get; init; } = true;

    /// <summary>The metric name of the mean per-pixel loss on validation images (see <see cref="Metric"/>).</summary>
    public const string ValidationLossMetric = "validation_loss";

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid option (prefixed "EarlyStopping.").</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Metric)) throw new ArgumentException("EarlyStopping.Metric must name a validation metric.", "EarlyStopping.Metric");
        if (Patience < 0) throw new ArgumentOutOfRangeException("EarlyStopping.Patience", Patience, "EarlyStopping.Patience must be >= 0 (0 = never stop early).");
        if (!double.IsFinite(MinDelta) || MinDelta < 0) throw new ArgumentOutOfRangeException("EarlyStopping.MinDelta", MinDelta, "EarlyStopping.MinDelta must be a finite number >= 0.");
    }
}

/// <summary>What early stopping did (<see cref="TrainedSegmentationModel.EarlyStoppingResult"/>).</summary>
/// <param name="Metric">The watched metric.</param>
/// <param name="BestStep">Step of the best validation (-1 when no validation produced a number).</param>
/// <param name="BestValue">The metric there.</param>
/// <param name="LastStep">The last step trained (below the budget when training stopped early).</param>
/// <param name="Restored">True when the returned weights are those of BestStep rather than LastStep.</param>
public sealed record EarlyStoppingResult(string Metric, int BestStep, double BestValue, int LastStep, bool Restored)
{
    /// <inheritdoc />
    public override string ToString() => FormattableString.Invariant(
        $"early stopping: best {Metric} {BestValue:0.#####} at step {BestStep}, trained to step {LastStep}{(Restored ? ", best weights restored" : "")}");
}

/// <summary>Options of <see cref="SegmentationTrainer"/>. Validate with <see cref="Validate"/> (the trainer does).</summary>
public sealed record SegmentationTrainerOptions
{
    /// <summary>Network architecture.</summary>
    public UNetOptions Network { get; init; } = new();

    /// <summary>Training loss; must suit Network.OutputChannels (see <see cref="SegmentationLoss.Supports"/>).</summary>
    public LossKind Loss { get; init; } = LossKind.Bce;

    /// <summary>Weight of the second term of combined losses (e.g. soft-IoU in BceSoftIoU).</summary>
    public double SecondaryLossWeight { get; init; } = 1.0;

    /// <summary>Optimizer family.</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Adam;

    /// <summary>Initial learning rate.</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>SGD momentum in [0, 1) (ignored by Adam).</summary>
    public double Momentum { get; init; } = 0.9;

    /// <summary>L2 weight decay (&gt;= 0).</summary>
    public double WeightDecay { get; init; }

    /// <summary>Learning-rate schedule.</summary>
    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.None;

    /// <summary>Step schedule: epochs between decays.</summary>
    public int StepEveryEpochs { get; init; } = 20;

    /// <summary>Step schedule: multiplicative decay in (0, 1].</summary>
    public double StepGamma { get; init; } = 0.1;

    /// <summary>Number of epochs (each epoch visits every sample once, in a seeded order; the last partial batch is dropped).</summary>
    public int Epochs { get; init; } = 10;

    /// <summary>If set, the step budget instead of Epochs (epochs continue as needed).</summary>
    public int? MaxSteps { get; init; }

    /// <summary>Images per step (at most the sample count is used).</summary>
    public int BatchSize { get; init; } = 4;

    /// <summary>Seed of weight initialisation, batch order and augmentation.</summary>
    public int Seed { get; init; }

    /// <summary>Random dihedral augmentation per image: flips and (for square images) 90° rotations.</summary>
    public bool Augment { get; init; } = true;

    /// <summary>
    /// Patch training: each step trains on a random <c>CropHeight</c> x <c>CropWidth</c> window of every sample (the window
    /// of sample s at step t is drawn from (Seed, s.Id, t)), so samples may then differ in size as long as each is at least
    /// the crop. Null = whole samples (all of one size). Set both or neither. The trained U-Net is fully convolutional and
    /// predicts whole images.
    /// </summary>
    public int? CropHeight { get; init; }

    /// <summary>Patch training: crop width (see <see cref="CropHeight"/>).</summary>
    public int? CropWidth { get; init; }

    /// <summary>Mask value ignored by the loss.</summary>
    public int IgnoreIndex { get; init; } = Core.MaskConventions.IgnoreIndex;

    /// <summary>libtorch intra-op threads (null = processor count). Same seed + same thread count = same weights on CPU.</summary>
    public int? Threads { get; init; }

    /// <summary>CUDA device index, or null for the CPU (as ML.NET's MLContext.GpuDeviceId).</summary>
    public int? GpuDeviceId { get; init; }

    /// <summary>Use the CPU when the requested GPU is unavailable (as ML.NET's MLContext.FallbackToCpu).</summary>
    public bool FallbackToCpu { get; init; } = true;

    /// <summary>Checkpoint file (written on cancellation and every CheckpointEvery steps); null = no checkpoints.</summary>
    public string? CheckpointPath { get; init; }

    /// <summary>Steps between periodic checkpoints; 0 = only on cancellation.</summary>
    public int CheckpointEvery { get; init; }

    /// <summary>Resume from CheckpointPath when that file exists (module, optimizer, step, RNG state).</summary>
    public bool ResumeFromCheckpoint { get; init; }

    /// <summary>Steps between validation callbacks; 0 = at the end of each epoch.</summary>
    public int ValidateEvery { get; init; }

    /// <summary>
    /// Early stopping / best-model selection on a validation metric (null = train the whole budget and return the last
    /// weights). Needs validation: a callback passed to <see cref="SegmentationTrainer.Train"/> or ValidationData of the
    /// ML.NET trainer; it is checked every ValidateEvery steps.
    /// </summary>
    public EarlyStoppingOptions? EarlyStopping { get; init; }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> or <see cref="ArgumentException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        EarlyStopping?.Validate();
        if (Network is null) throw new ArgumentException("Network must not be null.", nameof(Network));
        Network.Validate();
        if (!Enum.IsDefined(Loss)) throw new ArgumentOutOfRangeException(nameof(Loss), Loss, "Loss is not a defined LossKind.");
        if (!SegmentationLoss.Supports(Loss, Network.OutputChannels))
            throw new ArgumentException($"Loss {Loss} does not support Network.OutputChannels = {Network.OutputChannels} (Bce, BceSoftIoU, BceDice and DmiSoftIoU need 1; CrossEntropy and CrossEntropyDice need >= 2).", nameof(Loss));
        if (!double.IsFinite(SecondaryLossWeight) || SecondaryLossWeight < 0) throw new ArgumentOutOfRangeException(nameof(SecondaryLossWeight), SecondaryLossWeight, "SecondaryLossWeight must be a finite number >= 0.");
        if (!Enum.IsDefined(Optimizer)) throw new ArgumentOutOfRangeException(nameof(Optimizer), Optimizer, "Optimizer must be Sgd or Adam.");
        if (!double.IsFinite(LearningRate) || LearningRate <= 0) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "LearningRate must be a finite number greater than 0.");
        if (!double.IsFinite(Momentum) || Momentum < 0 || Momentum >= 1) throw new ArgumentOutOfRangeException(nameof(Momentum), Momentum, "Momentum must be in [0, 1).");
        if (!double.IsFinite(WeightDecay) || WeightDecay < 0) throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "WeightDecay must be a finite number >= 0.");
        if (!Enum.IsDefined(Schedule)) throw new ArgumentOutOfRangeException(nameof(Schedule), Schedule, "Schedule must be None, Step or Cosine.");
        if (StepEveryEpochs < 1) throw new ArgumentOutOfRangeException(nameof(StepEveryEpochs), StepEveryEpochs, "StepEveryEpochs must be at least 1.");
        if (!double.IsFinite(StepGamma) || StepGamma <= 0 || StepGamma > 1) throw new ArgumentOutOfRangeException(nameof(StepGamma), StepGamma, "StepGamma must be in (0, 1].");
        if (Epochs < 1) throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, "Epochs must be at least 1.");
        if (MaxSteps is < 1) throw new ArgumentOutOfRangeException(nameof(MaxSteps), MaxSteps, "MaxSteps must be null or at least 1.");
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize must be at least 1.");
        if (CropHeight.HasValue != CropWidth.HasValue)
            throw new ArgumentException("CropHeight and CropWidth must be set together (or neither).", CropHeight.HasValue ? nameof(CropWidth) : nameof(CropHeight));
        if (CropHeight is < 1) throw new ArgumentOutOfRangeException(nameof(CropHeight), CropHeight, "CropHeight must be null or at least 1.");
        if (CropWidth is < 1) throw new ArgumentOutOfRangeException(nameof(CropWidth), CropWidth, "CropWidth must be null or at least 1.");
        if (IgnoreIndex is < 0 or > 255) throw new ArgumentOutOfRangeException(nameof(IgnoreIndex), IgnoreIndex, "IgnoreIndex must be in [0, 255].");
        if (IgnoreIndex < Math.Max(2, Network.OutputChannels))
            throw new ArgumentOutOfRangeException(nameof(IgnoreIndex), IgnoreIndex, $"IgnoreIndex must not be a class index (classes are 0..{Math.Max(2, Network.OutputChannels) - 1}).");
        if (Threads is < 1) throw new ArgumentOutOfRangeException(nameof(Threads), Threads, "Threads must be null or at least 1.");
        if (GpuDeviceId is < 0) throw new ArgumentOutOfRangeException(nameof(GpuDeviceId), GpuDeviceId, "GpuDeviceId must be null (CPU) or >= 0.");
        if (CheckpointEvery < 0) throw new ArgumentOutOfRangeException(nameof(CheckpointEvery), CheckpointEvery, "CheckpointEvery must be >= 0.");
        if (CheckpointEvery > 0 && string.IsNullOrWhiteSpace(CheckpointPath)) throw new ArgumentException("CheckpointEvery > 0 needs a CheckpointPath.", nameof(CheckpointPath));
        if (ResumeFromCheckpoint && string.IsNullOrWhiteSpace(CheckpointPath)) throw new ArgumentException("ResumeFromCheckpoint needs a CheckpointPath.", nameof(CheckpointPath));
        if (ValidateEvery < 0) throw new ArgumentOutOfRangeException(nameof(ValidateEvery), ValidateEvery, "ValidateEvery must be >= 0.");
    }
}

/// <summary>Progress of a training run, reported once per step.</summary>
/// <param name="Epoch">0-based epoch of the step just done.</param>
/// <param name="Step">Steps completed (1-based count).</param>
/// <param name="TotalSteps">The step budget.</param>
/// <param name="Loss">Loss of the step just done.</param>
/// <param name="LearningRate">Learning rate used by that step.</param>
/// <param name="Elapsed">Wall time of this run (excluding time before a resume).</param>
/// <param name="Eta">Estimated remaining time.</param>
/// <param name="Validation">Metrics returned by the validation callback at this step, if it ran.</param>
public sealed record TrainingProgress(int Epoch, int Step, int TotalSteps, double Loss, double LearningRate, TimeSpan Elapsed, TimeSpan Eta,
    IReadOnlyDictionary<string, double>? Validation = null);
