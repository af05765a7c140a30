using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Unsupervised;

namespace MLNet.NoisySeg.Pipelines;

/// <summary>Options of <see cref="UnsupervisedSegmentationTrainer"/>.</summary>
public sealed class UnsupervisedSegmentationTrainerOptions
{
    /// <summary>Image column: <c>Vector&lt;Single, C, H, W&gt;</c>. Default "Image".</summary>
    public string ImageColumnName { get; init; } = SegmentationFolderOptions.Defaults.ImageColumnName;

    /// <summary>Optional text column identifying each image (seeds EMS). Default "Name"; row index when absent.</summary>
    public string NameColumnName { get; init; } = SegmentationFolderOptions.Defaults.NameColumnName;

    /// <summary>Output foreground-probability column <c>[1, H, W]</c>. Default "Probability".</summary>
    public string ProbabilityColumnName { get; init; } = "Probability";

    /// <summary>Output mask column <c>[H, W]</c>. Default "PredictedMask".</summary>
    public string PredictedLabelColumnName { get; init; } = "PredictedMask";

    /// <summary>iGTT options: rounds, budget, K, EMS (r, p, on/off), network, optimizer, seed, device.</summary>
    public IgttOptions Igtt { get; init; } = new();

    /// <summary>Progress of training (each selection and each step).</summary>
    public IProgress<IgttProgress>? Progress { get; init; }

    /// <summary>Cancels Fit between steps.</summary>
    public CancellationToken CancellationToken { get; init; }

    /// <summary>Checks every option; throws naming the first bad one.</summary>
    public void Validate()
    {
        foreach (var (value, name) in new[] { (ImageColumnName, nameof(ImageColumnName)), (ProbabilityColumnName, nameof(ProbabilityColumnName)),
                     (PredictedLabelColumnName, nameof(PredictedLabelColumnName)) })
            if (string.IsNullOrWhiteSpace(value)) throw new ArgumentException($"{name} must not be empty.", name);
        if (Igtt is null) throw new ArgumentException("Igtt must not be null.", nameof(Igtt));
        Igtt.Validate();
    }

    internal UnsupervisedSegmentationTrainerOptions WithIgtt(IgttOptions igtt) => new()
    {
        ImageColumnName = ImageColumnName,
        NameColumnName = NameColumnName,
        ProbabilityColumnName = ProbabilityColumnName,
        PredictedLabelColumnName = PredictedLabelColumnName,
        Igtt = igtt,
        Progress = Progress,
        CancellationToken = CancellationToken,
    };

    /// <summary>The supervised trainer's options with the same columns: the transformer is built and saved exactly like its.</summary>
    internal UNetSegmentationTrainerOptions AsSegmentationOptions() => new()
    {
        ImageColumnName = ImageColumnName,
        NameColumnName = NameColumnName,
        ProbabilityColumnName = ProbabilityColumnName,
        PredictedLabelColumnName = PredictedLabelColumnName,
        ClassCount = 2,
        Trainer = Igtt.Trainer,
    };
}

/// <summary>
/// ML.NET trainer for unsupervised binary segmentation with iGTT + EMS (method.md §6): needs an image column only.
/// Fit runs <see cref="IterativeGroundTruthTrainer"/> and decodes label-free (Otsu between the network's two output
/// levels on the training images, inverted when the network's output is anti-aligned with its pseudo-labels: the
/// Probability column is then the raw output and the structure is where it is low). The result is a <see cref="SegmentationTransformer"/>, the supervised trainer's
/// transformer: same columns, same saved state, saved and loaded by plain <c>mlContext.Model.Save/Load</c>.
/// </summary>
public sealed class UnsupervisedSegmentationTrainer : IEstimator<SegmentationTransformer>
{
    private readonly TransformsCatalog _catalog;
    private readonly UnsupervisedSegmentationTrainerOptions _options;

    internal UnsupervisedSegmentationTrainer(TransformsCatalog catalog, UnsupervisedSegmentationTrainerOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _catalog = catalog;
        _options = options;
    }

    /// <summary>The options.</summary>
    public UnsupervisedSegmentationTrainerOptions Options => _options;

    /// <summary>When true (simple catalog overload), Fit takes the network's input channels from the image column.</summary>
    internal bool InferInputChannels { get; set; }

    /// <summary>The per-round selection summaries of the last Fit.</summary>
    public IReadOnlyList<IgttRoundSummary> LastRounds { get; private set; } = [];

    /// <inheritdoc />
    public SegmentationTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var o = _options;
        var imageCol = SchemaChecks.RequireVector(input.Schema, o.ImageColumnName, NumberDataViewType.Single, "image");
        var (c, h, w) = SchemaChecks.ImageShape((VectorDataViewType)imageCol.Type, o.ImageColumnName, null, null);
        if (InferInputChannels && c != o.Igtt.Trainer.Network.InputChannels)
            o = o.WithIgtt(o.Igtt with { Trainer = o.Igtt.Trainer with { Network = o.Igtt.Trainer.Network with { InputChannels = c } } });
        if (c != o.Igtt.Trainer.Network.InputChannels)
            throw new ArgumentException($"The image column '{o.ImageColumnName}' has {c} channels; Igtt.Trainer.Network.InputChannels is {o.Igtt.Trainer.Network.InputChannels}.", nameof(input));
        var items = SegmentationDataView.ReadItems(input, o.ImageColumnName, null,
            input.Schema.GetColumnOrNull(o.NameColumnName) is null ? null : o.NameColumnName);

        using var result = IterativeGroundTruthTrainer.Train(items, o.Igtt, o.Progress, o.CancellationToken);
        LastRounds = result.Rounds;
        var est = result.Levels;
        string report = string.Create(CultureInfo.InvariantCulture,
            $"iGTT{(o.Igtt.UseMetaStructureExtraction ? " + EMS" : "")}, {o.Igtt.Rounds} rounds; label-free: levels {est.LowLevel:0.####}/{est.HighLevel:0.####}, threshold {est.Threshold:0.####}, separation {est.MixtureSeparation:0.##}, output inverted vs pseudo-labels {result.OutputInverted}");
        var state = new SegmentationState(result.Model.ToBytes(), result.Decoding.ToString(), 2, c, h, w, report);
        return SegmentationTransformer.Create(_catalog, o.AsSegmentationOptions(), state, input);
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        SchemaChecks.RequireVectorShape(inputSchema, _options.ImageColumnName, NumberDataViewType.Single, "image");
        var so = _options.AsSegmentationOptions();
        return SegmentationTransformer.BuildChain(_catalog, so, SegmentationState.Placeholder(so)).GetOutputSchema(inputSchema);
    }
}
