using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Unsupervised;

namespace MLNet.NoisySeg.Pipelines;

/// <summary>Options of the Otsu threshold transform (<c>mlContext.Transforms.OtsuThreshold</c>).</summary>
public sealed record OtsuThresholdOptions
{
    /// <summary>Image column <c>Vector&lt;Single, C, H, W&gt;</c> (channels are averaged). Default "Image".</summary>
    public string InputColumnName { get; init; } = SegmentationColumnNames.Image;

    /// <summary>Output mask column <c>Vector&lt;Byte, H, W&gt;</c> (1 = foreground). Default "PredictedMask".</summary>
    public string OutputColumnName { get; init; } = SegmentationColumnNames.PredictedMask;

    /// <summary>
    /// Which side of the threshold is foreground. Default <see cref="ThresholdPolarity.Auto"/>: decided at Fit from the
    /// training images (the side of Otsu's threshold that holds fewer pixels, summed over all images, is the structure:
    /// Bright for nuclei on a dark field, Dark for EM membranes) and recorded in the model (<see cref="ThresholdTransformer.Polarity"/>).
    /// Set Bright or Dark when you know it, e.g. when the structure covers most of the image.
    /// </summary>
    public ThresholdPolarity Polarity { get; init; } = ThresholdPolarity.Auto;

    /// <summary>Checks every option; throws naming the first bad one.</summary>
    public void Validate()
    {
        OptionChecks.Columns((InputColumnName, nameof(InputColumnName)), (OutputColumnName, nameof(OutputColumnName)));
        if (!Enum.IsDefined(Polarity)) throw new ArgumentOutOfRangeException(nameof(Polarity), Polarity, "Polarity must be Bright, Dark or Auto.");
    }
}

/// <summary>Options of the adaptive threshold transform (<c>mlContext.Transforms.AdaptiveThreshold</c>).</summary>
public sealed record AdaptiveThresholdOptions
{
    /// <summary>Image column <c>Vector&lt;Single, C, H, W&gt;</c> (channels are averaged). Default "Image".</summary>
    public string InputColumnName { get; init; } = SegmentationColumnNames.Image;

    /// <summary>Output mask column <c>Vector&lt;Byte, H, W&gt;</c> (1 = foreground). Default "PredictedMask".</summary>
    public string OutputColumnName { get; init; } = SegmentationColumnNames.PredictedMask;

    /// <summary>Gaussian sigma of the local mean, in pixels (&gt; 0). Default 8.</summary>
    public double Sigma { get; init; } = ThresholdBaselines.DefaultSigma;

    /// <summary>Subtracted from the local mean (OpenCV's C), in image units. Default 0.</summary>
    public double Offset { get; init; }

    /// <summary>
    /// Which side of the threshold is foreground. Default <see cref="ThresholdPolarity.Auto"/>: decided at Fit from the
    /// training images (the side of Otsu's threshold that holds fewer pixels, summed over all images, is the structure:
    /// Bright for nuclei on a dark field, Dark for EM membranes) and recorded in the model (<see cref="ThresholdTransformer.Polarity"/>).
    /// Set Bright or Dark when you know it, e.g. when the structure covers most of the image.
    /// </summary>
    public ThresholdPolarity Polarity { get; init; } = ThresholdPolarity.Auto;

    /// <summary>Checks every option; throws naming the first bad one.</summary>
    public void Validate()
    {
        OptionChecks.Columns((InputColumnName, nameof(InputColumnName)), (OutputColumnName, nameof(OutputColumnName)));
        if (!double.IsFinite(Sigma) || Sigma <= 0 || Sigma > 1000) throw new ArgumentOutOfRangeException(nameof(Sigma), Sigma, "Sigma must be a number in (0, 1000].");
        if (!double.IsFinite(Offset)) throw new ArgumentOutOfRangeException(nameof(Offset), Offset, "Offset must be a finite number.");
        if (!Enum.IsDefined(Polarity)) throw new ArgumentOutOfRangeException(nameof(Polarity), Polarity, "Polarity must be Bright, Dark or Auto.");
    }
}

/// <summary>
/// Estimator of a per-image threshold baseline, Otsu's global threshold or the adaptive (local Gaussian-weighted mean)
/// threshold: stateless given its options; Fit records the image shape.
/// </summary>
public sealed class ThresholdEstimator : NoisySegEstimator<ThresholdTransformer>
{
    private readonly string _input, _output;
    private readonly ThresholdState _method; // the method and its parameters, shape unknown

    internal ThresholdEstimator(TransformsCatalog catalog, OtsuThresholdOptions options)
        : this(catalog, Checked(options).InputColumnName, options.OutputColumnName, new ThresholdState(ThresholdState.OtsuMethod, options.Polarity, 0, 0, 0, 0, 0, options.InputColumnName))
    {
    }

    internal ThresholdEstimator(TransformsCatalog catalog, AdaptiveThresholdOptions options)
        : this(catalog, Checked(options).InputColumnName, options.OutputColumnName, new ThresholdState(ThresholdState.AdaptiveMethod, options.Polarity, options.Sigma, options.Offset, 0, 0, 0, options.InputColumnName))
    {
    }

    private ThresholdEstimator(TransformsCatalog catalog, string input, string output, ThresholdState method) : base(catalog)
    {
        _input = input;
        _output = output;
        _method = method;
    }

    private static OtsuThresholdOptions Checked(OtsuThresholdOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return options;
    }

    private static AdaptiveThresholdOptions Checked(AdaptiveThresholdOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return options;
    }

    private protected override IEnumerable<InputColumn> InputColumns => [new(_input, NumberDataViewType.Single, "image")];

    private protected override (MappingPlan Plan, Func<ITransformer, ThresholdTransformer> Wrap) FitPlan(IDataView input)
    {
        var (c, h, w) = SchemaChecks.ImageShape(input.Schema[_input], null, null);
        var state = _method with { Channels = c, Height = h, Width = w };
        if (state.Polarity == ThresholdPolarity.Auto) state = state with { Polarity = ResolvePolarity(input, c, h, w) };
        return (Plan(state), chain => new ThresholdTransformer(chain, state));
    }

    /// <summary><see cref="ThresholdPolarity.Auto"/> over the whole data: the side of each image's Otsu threshold with
    /// fewer pixels in total (one image in memory at a time).</summary>
    private ThresholdPolarity ResolvePolarity(IDataView input, int c, int h, int w)
    {
        long above = 0, total = 0;
        foreach (var image in SegmentationDataView.StreamImages(input, _input))
        {
            var (a, t) = ThresholdBaselines.CountAboveOtsu(image, c, h, w);
            above += a;
            total += t;
        }
        return 2 * above <= total ? ThresholdPolarity.Bright : ThresholdPolarity.Dark;
    }

    private protected override MappingPlan SchemaPlan() => Plan(_method);

    private MappingPlan Plan(ThresholdState state) => ThresholdFactory.Plan(StateBlob.Create(JsonSerializer.SerializeToUtf8Bytes(state)),
        [(_input, ThresholdFactory.ImageColumn)], [(ThresholdFactory.MaskColumn, _output, SchemaChecks.MaskType(state.Height, state.Width))]);
}

/// <summary>
/// A fitted threshold baseline (Otsu or adaptive): adds a predicted-mask column <c>[H, W]</c> computed from the image
/// column. Saved and loaded by plain <c>mlContext.Model.Save/Load</c>.
/// </summary>
public sealed class ThresholdTransformer : ChainBackedTransformer
{
    private readonly ThresholdState _state;

    internal ThresholdTransformer(ITransformer chain, ThresholdState state) : base(chain) => _state = state;

    /// <summary>Which side of the threshold is foreground (Bright or Dark; <see cref="ThresholdPolarity.Auto"/> was decided at Fit).</summary>
    public ThresholdPolarity Polarity => _state.Polarity;

    /// <summary>Image channels the transform was fitted on.</summary>
    public int Channels => _state.Channels;

    /// <summary>Image height the transform was fitted on.</summary>
    public int Height => _state.Height;

    /// <summary>Image width the transform was fitted on.</summary>
    public int Width => _state.Width;

    /// <summary>Typed convenience: the mask of one planar image <c>[C, H, W]</c>.</summary>
    /// <param name="image">Pixels, Channels x Height x Width.</param>
    public byte[] Apply(ReadOnlySpan<float> image) => _state.Apply(image, nameof(image));

    private protected override IEnumerable<FittedInput> FittedInputs =>
        [new(_state.Column, NumberDataViewType.Single, "image", [Channels, Height, Width], "threshold transform")];
}

/// <summary>State serialized into model zips by the threshold transforms. Column: the image column read (null in zips written before it was recorded).</summary>
internal sealed record ThresholdState(string Method, ThresholdPolarity Polarity, double Sigma, double Offset, int Channels, int Height, int Width, string? Column = null)
{
    public const string OtsuMethod = "otsu";
    public const string AdaptiveMethod = "adaptive";

    public byte[] Apply(ReadOnlySpan<float> image, string paramName = "input")
    {
        SchemaChecks.RequireFittedSize(image.Length, Channels, Height, Width, "Image", "threshold transform", Column, paramName: paramName);
        var mask = new byte[Height * Width];
        if (Method == OtsuMethod) ThresholdBaselines.Otsu(image, Channels, Height, Width, Polarity, mask);
        else if (Method == AdaptiveMethod) ThresholdBaselines.Adaptive(image, Channels, Height, Width, Sigma, Offset, Polarity, mask);
        else throw new InvalidDataException($"Unknown threshold method '{Method}' in the model state.");
        return mask;
    }
}

/// <summary>Compute mapping of the threshold transforms, found again at load by its contract name.</summary>
[CustomMappingFactoryAttribute(ContractName)]
internal sealed class ThresholdFactory : StateMappingFactory<ThresholdFactory, ThresholdFactory.Input, ThresholdFactory.Output, ThresholdState>
{
    public const string ContractName = "NoisySeg.Threshold.v1";
    internal const string ImageColumn = "__NoisySeg_Threshold_Image";
    internal const string MaskColumn = "__NoisySeg_Threshold_Mask";

    protected override string Contract => ContractName;

    protected override ThresholdState Decode(byte[] payload) => JsonSerializer.Deserialize<ThresholdState>(payload)
        ?? throw new InvalidDataException("Threshold state is empty.");

    protected override void Map(Input input, Output output, ThresholdState state) => output.Mask = state.Apply(input.Image);

    internal sealed class Input : IStateRow
    {
        [ColumnName(ImageColumn), VectorType] public float[] Image { get; set; } = [];
        [ColumnName(StatefulMapping.StateColumn), VectorType] public byte[] State { get; set; } = [];
    }

    internal sealed class Output
    {
        [ColumnName(MaskColumn), VectorType] public byte[] Mask { get; set; } = [];
    }
}
