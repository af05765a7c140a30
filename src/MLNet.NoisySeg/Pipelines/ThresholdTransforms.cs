using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Pipelines;
using MLNet.NoisySeg.Unsupervised;

namespace MLNet.NoisySeg.Pipelines
{
    /// <summary>Options of the Otsu threshold transform (<c>mlContext.Transforms.OtsuThreshold</c>).</summary>
    public sealed class OtsuThresholdOptions
    {
        /// <summary>Image column <c>Vector&lt;Single, C, H, W&gt;</c> (channels are averaged). Default "Image".</summary>
        public string InputColumnName { get; init; } = SegmentationFolderOptions.Defaults.ImageColumnName;

        /// <summary>Output mask column <c>Vector&lt;Byte, H, W&gt;</c> (1 = foreground). Default "PredictedMask".</summary>
        public string OutputColumnName { get; init; } = "PredictedMask";

        /// <summary>Which side of the threshold is foreground. Default Bright.</summary>
        public ThresholdPolarity Polarity { get; init; } = ThresholdPolarity.Bright;

        /// <summary>Checks every option; throws naming the first bad one.</summary>
        public void Validate()
        {
            ThresholdTransformShared.CheckColumns(InputColumnName, OutputColumnName);
            if (!Enum.IsDefined(Polarity)) throw new ArgumentOutOfRangeException(nameof(Polarity), Polarity, "Polarity must be Bright or Dark.");
        }
    }

    /// <summary>Options of the adaptive threshold transform (<c>mlContext.Transforms.AdaptiveThreshold</c>).</summary>
    public sealed class AdaptiveThresholdOptions
    {
        /// <summary>Image column <c>Vector&lt;Single, C, H, W&gt;</c> (channels are averaged). Default "Image".</summary>
        public string InputColumnName { get; init; } = SegmentationFolderOptions.Defaults.ImageColumnName;

        /// <summary>Output mask column <c>Vector&lt;Byte, H, W&gt;</c> (1 = foreground). Default "PredictedMask".</summary>
        public string OutputColumnName { get; init; } = "PredictedMask";

        /// <summary>Gaussian sigma of the local mean, in pixels (&gt; 0). Default 8.</summary>
        public double Sigma { get; init; } = ThresholdBaselines.DefaultSigma;

        /// <summary>Subtracted from the local mean (OpenCV's C), in image units. Default 0.</summary>
        public double Offset { get; init; }

        /// <summary>Which side of the threshold is foreground. Default Bright.</summary>
        public ThresholdPolarity Polarity { get; init; } = ThresholdPolarity.Bright;

        /// <summary>Checks every option; throws naming the first bad one.</summary>
        public void Validate()
        {
            ThresholdTransformShared.CheckColumns(InputColumnName, OutputColumnName);
            if (!double.IsFinite(Sigma) || Sigma <= 0 || Sigma > 1000) throw new ArgumentOutOfRangeException(nameof(Sigma), Sigma, "Sigma must be a number in (0, 1000].");
            if (!double.IsFinite(Offset)) throw new ArgumentOutOfRangeException(nameof(Offset), Offset, "Offset must be a finite number.");
            if (!Enum.IsDefined(Polarity)) throw new ArgumentOutOfRangeException(nameof(Polarity), Polarity, "Polarity must be Bright or Dark.");
        }
    }

    /// <summary>Estimator of the per-image Otsu threshold: stateless given its options; Fit records the image shape.</summary>
    public sealed class OtsuThresholdEstimator : IEstimator<ThresholdTransformer>
    {
        private readonly TransformsCatalog _catalog;
        private readonly OtsuThresholdOptions _options;

        internal OtsuThresholdEstimator(TransformsCatalog catalog, OtsuThresholdOptions options)
        {
            ArgumentNullException.ThrowIfNull(catalog);
            ArgumentNullException.ThrowIfNull(options);
            options.Validate();
            _catalog = catalog;
            _options = options;
        }

        /// <inheritdoc />
        public ThresholdTransformer Fit(IDataView input)
            => ThresholdTransformShared.Fit(_catalog, input, _options.InputColumnName, _options.OutputColumnName,
                (c, h, w) => new ThresholdState(ThresholdState.OtsuMethod, _options.Polarity, 0, 0, c, h, w));

        /// <inheritdoc />
        public SchemaShape GetOutputSchema(SchemaShape inputSchema)
            => ThresholdTransformShared.OutputSchema(_catalog, inputSchema, _options.InputColumnName, _options.OutputColumnName,
                new ThresholdState(ThresholdState.OtsuMethod, _options.Polarity, 0, 0, 0, 0, 0));
    }

    /// <summary>Estimator of the adaptive (local Gaussian-weighted mean) threshold: stateless given its options; Fit records the image shape.</summary>
    public sealed class AdaptiveThresholdEstimator : IEstimator<ThresholdTransformer>
    {
        private readonly TransformsCatalog _catalog;
        private readonly AdaptiveThresholdOptions _options;

        internal AdaptiveThresholdEstimator(TransformsCatalog catalog, AdaptiveThresholdOptions options)
        {
            ArgumentNullException.ThrowIfNull(catalog);
            ArgumentNullException.ThrowIfNull(options);
            options.Validate();
            _catalog = catalog;
            _options = options;
        }

        /// <inheritdoc />
        public ThresholdTransformer Fit(IDataView input)
            => ThresholdTransformShared.Fit(_catalog, input, _options.InputColumnName, _options.OutputColumnName,
                (c, h, w) => new ThresholdState(ThresholdState.AdaptiveMethod, _options.Polarity, _options.Sigma, _options.Offset, c, h, w));

        /// <inheritdoc />
        public SchemaShape GetOutputSchema(SchemaShape inputSchema)
            => ThresholdTransformShared.OutputSchema(_catalog, inputSchema, _options.InputColumnName, _options.OutputColumnName,
                new ThresholdState(ThresholdState.AdaptiveMethod, _options.Polarity, _options.Sigma, _options.Offset, 0, 0, 0));
    }

    /// <summary>
    /// A fitted threshold baseline (Otsu or adaptive): adds a predicted-mask column <c>[H, W]</c> computed from the image
    /// column. Saved and loaded by plain <c>mlContext.Model.Save/Load</c>.
    /// </summary>
    public sealed class ThresholdTransformer : ChainBackedTransformer
    {
        private readonly ThresholdState _state;

        internal ThresholdTransformer(ITransformer chain, ThresholdState state) : base(chain) => _state = state;

        /// <summary>Image channels the transform was fitted on.</summary>
        public int Channels => _state.Channels;

        /// <summary>Image height the transform was fitted on.</summary>
        public int Height => _state.Height;

        /// <summary>Image width the transform was fitted on.</summary>
        public int Width => _state.Width;

        /// <summary>Typed convenience: the mask of one planar image <c>[C, H, W]</c>.</summary>
        /// <param name="image">Pixels, Channels x Height x Width.</param>
        public byte[] Apply(ReadOnlySpan<float> image) => _state.Apply(image);
    }

    /// <summary>State serialized into model zips by the threshold transforms.</summary>
    internal sealed record ThresholdState(string Method, ThresholdPolarity Polarity, double Sigma, double Offset, int Channels, int Height, int Width)
    {
        public const string OtsuMethod = "otsu";
        public const string AdaptiveMethod = "adaptive";

        public byte[] Apply(ReadOnlySpan<float> image)
        {
            if (image.Length != Channels * Height * Width)
                throw new InvalidOperationException($"Image has {image.Length} values; the threshold transform was fitted on {Channels}x{Height}x{Width} images.");
            var mask = new byte[Height * Width];
            if (Method == OtsuMethod) ThresholdBaselines.Otsu(image, Channels, Height, Width, Polarity, mask);
            else if (Method == AdaptiveMethod) ThresholdBaselines.Adaptive(image, Channels, Height, Width, Sigma, Offset, Polarity, mask);
            else throw new InvalidDataException($"Unknown threshold method '{Method}' in the model state.");
            return mask;
        }
    }

    internal static class ThresholdTransformShared
    {
        public static void CheckColumns(string input, string output)
        {
            if (string.IsNullOrWhiteSpace(input)) throw new ArgumentException("InputColumnName must not be empty.", "InputColumnName");
            if (string.IsNullOrWhiteSpace(output)) throw new ArgumentException("OutputColumnName must not be empty.", "OutputColumnName");
        }

        public static ThresholdTransformer Fit(TransformsCatalog catalog, IDataView input, string inputColumn, string outputColumn, Func<int, int, int, ThresholdState> state)
        {
            ArgumentNullException.ThrowIfNull(input);
            var col = SchemaChecks.RequireVector(input.Schema, inputColumn, NumberDataViewType.Single, "image");
            var (c, h, w) = SchemaChecks.ImageShape((VectorDataViewType)col.Type, inputColumn, null, null);
            var s = state(c, h, w);
            return new ThresholdTransformer(BuildChain(catalog, inputColumn, outputColumn, s).Fit(input), s);
        }

        public static SchemaShape OutputSchema(TransformsCatalog catalog, SchemaShape inputSchema, string inputColumn, string outputColumn, ThresholdState placeholder)
        {
            ArgumentNullException.ThrowIfNull(inputSchema);
            SchemaChecks.RequireVectorShape(inputSchema, inputColumn, NumberDataViewType.Single, "image");
            return BuildChain(catalog, inputColumn, outputColumn, placeholder).GetOutputSchema(inputSchema);
        }

        private static IEstimator<ITransformer> BuildChain(TransformsCatalog catalog, string inputColumn, string outputColumn, ThresholdState state)
        {
            var blob = StateBlob.Create(JsonSerializer.SerializeToUtf8Bytes(state));
            DataViewType? outType = state.Height > 0 ? new VectorDataViewType(NumberDataViewType.Byte, state.Height, state.Width) : null;
            return StatefulMapping.Build<ThresholdFactory.Input, ThresholdFactory.Output>(catalog, blob,
                [(inputColumn, ThresholdFactory.ImageColumn)], ThresholdFactory.Mapping, ThresholdFactory.ContractName,
                [(ThresholdFactory.MaskColumn, outputColumn, outType)]);
        }
    }

    /// <summary>Compute mapping of the threshold transforms, found again at load by its contract name.</summary>
    [CustomMappingFactoryAttribute(ContractName)]
    public sealed class ThresholdFactory : CustomMappingFactory<ThresholdFactory.Input, ThresholdFactory.Output>
    {
        /// <summary>Contract name stored in model zips.</summary>
        public const string ContractName = "NoisySeg.Threshold.v1";
        internal const string ImageColumn = "__NoisySeg_Threshold_Image";
        internal const string MaskColumn = "__NoisySeg_Threshold_Mask";

        private static readonly StateCache<ThresholdState> Cache = new(b => JsonSerializer.Deserialize<ThresholdState>(b)
            ?? throw new InvalidDataException("Threshold state is empty."));

        /// <summary>The mapping action.</summary>
        public static readonly Action<Input, Output> Mapping = (i, o) => o.Mask = Cache.Get(i.State).Apply(i.Image);

        /// <inheritdoc />
        public override Action<Input, Output> GetMapping() => Mapping;

        /// <summary>Input row of the mapping.</summary>
        public sealed class Input
        {
            /// <summary>Image.</summary>
            [ColumnName(ImageColumn), VectorType] public float[] Image { get; set; } = [];
            /// <summary>Serialized state.</summary>
            [ColumnName(StatefulMapping.StateColumn), VectorType] public byte[] State { get; set; } = [];
        }

        /// <summary>Output row of the mapping.</summary>
        public sealed class Output
        {
            /// <summary>Mask <c>[H, W]</c>.</summary>
            [ColumnName(MaskColumn), VectorType] public byte[] Mask { get; set; } = [];
        }
    }
}

namespace Microsoft.ML
{
    /// <summary>Classic threshold baselines as ML.NET transforms: <c>mlContext.Transforms.OtsuThreshold(...)</c>, <c>AdaptiveThreshold(...)</c>.</summary>
    public static class ThresholdCatalog
    {
        /// <summary>Otsu's global threshold per image: a predicted-mask column <c>[H, W]</c> from an image column.</summary>
        /// <param name="catalog">The transforms catalog.</param>
        /// <param name="outputColumnName">Mask column to create.</param>
        /// <param name="inputColumnName">Image column <c>[C, H, W]</c>.</param>
        /// <param name="polarity">Bright (fluorescence) or dark (e.g. EM membranes) structures.</param>
        public static OtsuThresholdEstimator OtsuThreshold(this TransformsCatalog catalog, string outputColumnName = "PredictedMask",
            string inputColumnName = "Image", ThresholdPolarity polarity = ThresholdPolarity.Bright)
            => OtsuThreshold(catalog, new OtsuThresholdOptions { OutputColumnName = outputColumnName, InputColumnName = inputColumnName, Polarity = polarity });

        /// <summary>Otsu's global threshold per image, with options.</summary>
        /// <param name="catalog">The transforms catalog.</param>
        /// <param name="options">The options.</param>
        public static OtsuThresholdEstimator OtsuThreshold(this TransformsCatalog catalog, OtsuThresholdOptions options)
        {
            ArgumentNullException.ThrowIfNull(catalog);
            return new OtsuThresholdEstimator(catalog, options);
        }

        /// <summary>Adaptive threshold against the local Gaussian-weighted mean: a predicted-mask column from an image column.</summary>
        /// <param name="catalog">The transforms catalog.</param>
        /// <param name="outputColumnName">Mask column to create.</param>
        /// <param name="inputColumnName">Image column <c>[C, H, W]</c>.</param>
        /// <param name="sigma">Gaussian sigma of the local mean, in pixels.</param>
        /// <param name="offset">Subtracted from the local mean, in image units.</param>
        /// <param name="polarity">Bright or dark structures.</param>
        public static AdaptiveThresholdEstimator AdaptiveThreshold(this TransformsCatalog catalog, string outputColumnName = "PredictedMask",
            string inputColumnName = "Image", double sigma = ThresholdBaselines.DefaultSigma, double offset = 0, ThresholdPolarity polarity = ThresholdPolarity.Bright)
            => AdaptiveThreshold(catalog, new AdaptiveThresholdOptions { OutputColumnName = outputColumnName, InputColumnName = inputColumnName, Sigma = sigma, Offset = offset, Polarity = polarity });

        /// <summary>Adaptive threshold, with options.</summary>
        /// <param name="catalog">The transforms catalog.</param>
        /// <param name="options">The options.</param>
        public static AdaptiveThresholdEstimator AdaptiveThreshold(this TransformsCatalog catalog, AdaptiveThresholdOptions options)
        {
            ArgumentNullException.ThrowIfNull(catalog);
            return new AdaptiveThresholdEstimator(catalog, options);
        }
    }
}
