using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Losses;
using MLNet.NoisySeg.Networks;
using MLNet.NoisySeg.Training;
using MLNet.NoisySeg.Unsupervised;

namespace MLNet.NoisySeg.Pipelines;

/// <summary>Options of <see cref="UnsupervisedSegmentationTrainer"/>.</summary>
public sealed record UnsupervisedSegmentationTrainerOptions
{
    /// <summary>Image column: <c>Vector&lt;Single, C, H, W&gt;</c>. Default "Image".</summary>
    public string ImageColumnName { get; init; } = SegmentationColumnNames.Image;

    /// <summary>Optional text column identifying each image (seeds EMS). Default "Name"; row index when absent.</summary>
    public string NameColumnName { get; init; } = SegmentationColumnNames.Name;

    /// <summary>Output foreground-probability column <c>[1, H, W]</c>. Default "Probability".</summary>
    public string ProbabilityColumnName { get; init; } = SegmentationColumnNames.Probability;

    /// <summary>Output mask column <c>[H, W]</c>. Default "PredictedMask".</summary>
    public string PredictedLabelColumnName { get; init; } = SegmentationColumnNames.PredictedMask;

    /// <summary>iGTT options: rounds, budget, K, EMS (r, p, on/off), network, optimizer, seed, device.</summary>
    public IgttOptions Igtt { get; init; } = new();

    /// <summary>Progress of training (each selection and each step).</summary>
    public IProgress<IgttProgress>? Progress { get; init; }

    /// <summary>Cancels Fit between steps.</summary>
    public CancellationToken CancellationToken { get; init; }

    /// <summary>Checks every option; throws naming the first bad one.</summary>
    public void Validate()
    {
        OptionChecks.Columns((ImageColumnName, nameof(ImageColumnName)), (ProbabilityColumnName, nameof(ProbabilityColumnName)),
            (PredictedLabelColumnName, nameof(PredictedLabelColumnName)));
        if (Igtt is null) throw new ArgumentException("Igtt must not be null.", nameof(Igtt));
        Igtt.Validate();
    }

    /// <summary>The options of the catalog's simple overload: a U-Net of the given depth and base width trained with DMI + soft-IoU.</summary>
    internal static UnsupervisedSegmentationTrainerOptions Simple(string imageColumnName, int rounds, int epochsPerRound, bool useMetaStructureExtraction, int seed,
        int depth = 4, int baseWidth = 16, ForegroundPolarity polarity = ForegroundPolarity.Auto) => new()
    {
        ImageColumnName = imageColumnName,
        Igtt = new IgttOptions
        {
            Rounds = rounds,
            EpochsPerRound = epochsPerRound,
            UseMetaStructureExtraction = useMetaStructureExtraction,
            Depth = depth,
            BaseWidth = baseWidth,
            Polarity = polarity,
            Trainer = new SegmentationTrainerOptions { Network = new UNetOptions(), Loss = LossKind.DmiSoftIoU, Seed = seed },
        },
    };
}

/// <summary>
/// ML.NET trainer for unsupervised binary segmentation with iGTT + EMS (Luo et al., AAAI 2022): needs an image column only.
/// Fit runs <see cref="IterativeGroundTruthTrainer"/>. The Probability column is always the foreground probability
/// of the structure iGTT found (the trainer keeps the network aligned with its pseudo-labels and, when
/// <see cref="IgttOptions.Polarity"/> is Bright or Dark, with the stated polarity; see <see cref="IgttOrientation"/>);
/// PredictedMask is the probability above <see cref="IgttResult.Decoding"/>'s threshold. The orientation the run
/// chose, and why, is in <see cref="LastOrientation"/> and in the fitted model's decoding report (saved with it). The
/// result is a <see cref="SegmentationTransformer"/>, the supervised trainer's transformer: same columns, same saved
/// state, saved and loaded by plain <c>mlContext.Model.Save/Load</c>.
/// </summary>
public sealed class UnsupervisedSegmentationTrainer : NoisySegEstimator<SegmentationTransformer>
{
    private readonly UnsupervisedSegmentationTrainerOptions _options;
    private readonly bool _inferInputChannels;

    internal UnsupervisedSegmentationTrainer(MLContext mlContext, UnsupervisedSegmentationTrainerOptions options, bool inferInputChannels = false) : base(mlContext.Transforms)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options with { Igtt = options.Igtt with { Trainer = UNetSegmentationTrainerOptions.OnContextDevice(options.Igtt.Trainer, mlContext) } };
        _inferInputChannels = inferInputChannels;
    }

    /// <summary>The options.</summary>
    public UnsupervisedSegmentationTrainerOptions Options => _options;

    /// <summary>The per-round selection summaries of the last Fit.</summary>
    public IReadOnlyList<IgttRoundSummary> LastRounds { get; private set; } = [];

    /// <summary>The orientation the last Fit chose and why (null before Fit).</summary>
    public IgttOrientation? LastOrientation { get; private set; }

    private SegmentationColumns Columns => new(_options.ImageColumnName, _options.ProbabilityColumnName, _options.PredictedLabelColumnName);

    private protected override IEnumerable<InputColumn> InputColumns => [new(_options.ImageColumnName, NumberDataViewType.Single, "image")];

    private protected override MappingPlan SchemaPlan() => SegmentationTransformer.SchemaPlan(Columns, 2, _options.Igtt.Trainer.Network.InputChannels);

    private protected override (MappingPlan Plan, Func<ITransformer, SegmentationTransformer> Wrap) FitPlan(IDataView input)
    {
        var o = _options;
        var (c, h, w) = SchemaChecks.ImageShape(input.Schema[o.ImageColumnName], null, null);
        if (_inferInputChannels && c != o.Igtt.Trainer.Network.InputChannels)
            o = o with { Igtt = o.Igtt with { Trainer = o.Igtt.Trainer with { Network = o.Igtt.Trainer.Network with { InputChannels = c } } } };
        if (c != o.Igtt.Trainer.Network.InputChannels)
            throw new ArgumentException($"The image column '{o.ImageColumnName}' has {c} channels; Igtt.Trainer.Network.InputChannels is {o.Igtt.Trainer.Network.InputChannels}.", nameof(input));
        var items = SegmentationDataView.ReadItems(input, o.ImageColumnName, null,
            input.Schema.GetColumnOrNull(o.NameColumnName) is null ? null : o.NameColumnName);

        var result = IterativeGroundTruthTrainer.Train(items, o.Igtt, o.Progress, o.CancellationToken);
        try
        {
            LastRounds = result.Rounds;
            LastOrientation = result.Orientation;
            var est = result.Levels;
            string report = string.Create(CultureInfo.InvariantCulture,
                $"iGTT{(o.Igtt.UseMetaStructureExtraction ? " + EMS" : "")}, {o.Igtt.Rounds} rounds, network depth {o.Igtt.Network.Depth} / base {o.Igtt.Network.BaseWidth}; ")
                + string.Create(CultureInfo.InvariantCulture,
                $"decoded at the last candidates' foreground share {result.ForegroundShare:0.####}: threshold {result.Decoding.Threshold:0.####} (two-level split {est.Threshold:0.####}); ")
                + "orientation: " + result.Orientation;
            return SegmentationTransformer.FitPlan(Columns, new SegmentationState([], result.Decoding.ToString(), 2, c, h, w, report), result.Model);
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }
}
