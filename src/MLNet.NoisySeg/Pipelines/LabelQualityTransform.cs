using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Decoding;
using MLNet.NoisySeg.Quality;

namespace MLNet.NoisySeg.Pipelines;

/// <summary>Options of <see cref="LabelQualityEstimator"/> (<c>mlContext.Transforms.ScoreLabelQuality</c>).</summary>
public sealed record LabelQualityScoringOptions
{
    /// <summary>The given (possibly wrong) mask column, <c>Vector&lt;Byte, H, W&gt;</c>. Default "Mask".</summary>
    public string MaskColumnName { get; init; } = SegmentationColumnNames.Mask;

    /// <summary>
    /// Out-of-sample probabilities, <c>Vector&lt;Single, K, H, W&gt;</c> (or <c>[H, W]</c> for K = 1), e.g. from
    /// <see cref="CrossFittedSegmentation.ToDataView"/>: a model that trained on an image cannot see its label errors.
    /// K = 1 (binary sigmoid) or 2 for binary masks, K = <see cref="ClassCount"/> otherwise. Default "Probability".
    /// </summary>
    public string ProbabilityColumnName { get; init; } = SegmentationColumnNames.Probability;

    /// <summary>
    /// Optional <c>Int32</c> column naming the cross-fitted model (fold) that produced each row's probabilities, e.g.
    /// <see cref="SegmentationColumnNames.Fold"/> of <see cref="CrossFittedSegmentation.ToDataView"/>. With it, the
    /// contradiction-outlier score judges each row with its own model's confident thresholds (k networks are calibrated k
    /// ways); without it, with the data set's. Default null.
    /// </summary>
    public string? FoldColumnName { get; init; }

    /// <summary>Number of classes C of the masks (2 = binary). Default 2.</summary>
    public int ClassCount { get; init; } = 2;

    /// <summary>The scoring: softmin temperature, confident-learning rule, decoding (null = label-free), density kernel,
    /// noise allowance, boundary tolerance, excluded class, ignore value. <see cref="LabelQualityOptions.StorePixelMaps"/>
    /// is not used: the transform always adds the pixel columns.</summary>
    public LabelQualityOptions Quality { get; init; } = new();

    /// <summary>Prepended to every output column name (<see cref="LabelQualityColumnNames"/>), e.g. to score two models'
    /// probabilities in one pipeline. Default empty.</summary>
    public string OutputPrefix { get; init; } = "";

    /// <summary>Checks every option; throws naming the first bad one.</summary>
    public void Validate()
    {
        OptionChecks.Columns((MaskColumnName, nameof(MaskColumnName)), (ProbabilityColumnName, nameof(ProbabilityColumnName)));
        if (FoldColumnName is not null) OptionChecks.Columns((FoldColumnName, nameof(FoldColumnName)));
        if (ClassCount is < 2 or > MaskConventions.MaxClassCount)
            throw new ArgumentOutOfRangeException(nameof(ClassCount), ClassCount, $"ClassCount must be in [2, {MaskConventions.MaxClassCount}].");
        ArgumentNullException.ThrowIfNull(Quality, nameof(Quality));
        Quality.ValidateFor(ClassCount);
        ArgumentNullException.ThrowIfNull(OutputPrefix, nameof(OutputPrefix));
    }
}

/// <summary>
/// Estimator of the label-quality transform (issue 15): given masks and a model's out-of-sample probabilities, it
/// fits the data-set statistics in one pass over the rows (<see cref="LabelQualityFitter"/>: confident thresholds, per
/// fold too, Q̂, the confident-learning cut-off) and calibrates the contradiction-outlier score in a second
/// (<see cref="LabelQualityCalibrator"/>) — when the binary decoding rule is label-free, three passes first estimate it
/// (<see cref="LabelFreeDecoder.EstimateBinary(IReadOnlyList{float[]}, NoiseTransitionMatrix?, int)"/>, one image in
/// memory at a time) — and the fitted transform scores every row: cleanlab's softmin score (baseline), the
/// meta-structure score per image and per class, the contradiction-outlier score, issue counts and the pixel columns
/// (<see cref="LabelQualityColumnNames"/>).
/// The fitted state persists in ordinary model zips. Cache the input (<c>mlContext.Data.Cache</c>) when producing it is expensive.
/// </summary>
public sealed class LabelQualityEstimator : NoisySegEstimator<LabelQualityTransformer>
{
    private readonly LabelQualityScoringOptions _options;

    internal LabelQualityEstimator(TransformsCatalog catalog, LabelQualityScoringOptions options) : base(catalog)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options with { Quality = options.Quality with { StorePixelMaps = true } };
    }

    /// <summary>The options.</summary>
    public LabelQualityScoringOptions Options => _options;

    private protected override IEnumerable<InputColumn> InputColumns =>
    [
        new(_options.MaskColumnName, NumberDataViewType.Byte, "mask"),
        new(_options.ProbabilityColumnName, NumberDataViewType.Single, "probability",
            " Score out-of-sample probabilities, e.g. mlContext.Segmentation().CrossFitProbabilities(...).ToDataView(mlContext)."),
    ];

    /// <summary>Checks the optional fold column: present and a scalar Int32.</summary>
    private DataViewSchema.Column? FoldColumn(DataViewSchema schema)
    {
        if (_options.FoldColumnName is not { } name) return null;
        var column = schema.GetColumnOrNull(name)
            ?? throw new ArgumentException($"The fold column '{name}' (FoldColumnName) was not found.", "input");
        if (column.Type != NumberDataViewType.Int32)
            throw new ArgumentException($"The fold column '{name}' (FoldColumnName) has type {column.Type}; expected a scalar Int32 (the fold index).", "input");
        return column;
    }

    private protected override MappingPlan SchemaPlan(SchemaShape inputSchema)
    {
        if (_options.FoldColumnName is { } name && !inputSchema.Any(c => c.Name == name && c.Kind == SchemaShape.Column.VectorKind.Scalar && c.ItemType == NumberDataViewType.Int32))
            throw new ArgumentException($"The fold column '{name}' (FoldColumnName) was not found or is not a scalar Int32.", nameof(inputSchema));
        return SchemaPlan();
    }

    private protected override (MappingPlan Plan, Func<ITransformer, LabelQualityTransformer> Wrap) FitPlan(IDataView input)
    {
        var o = _options;
        var maskColumn = input.Schema[o.MaskColumnName];
        var probabilityColumn = input.Schema[o.ProbabilityColumnName];
        var (h, w) = SchemaChecks.MaskShape(maskColumn, null, null);
        int n = h * w;
        int k = PlanesOf((VectorDataViewType)probabilityColumn.Type, h, w);
        if (k == 0) k = FirstRowPlanes(input, probabilityColumn, n);
        int c = o.ClassCount;
        if (c == 2 ? k is not (1 or 2) : k != c)
            throw new ArgumentException($"The probability column '{o.ProbabilityColumnName}' has {k} plane(s) of {h}x{w}; ClassCount {c} needs {(c == 2 ? "1 (sigmoid) or 2" : c.ToString(System.Globalization.CultureInfo.InvariantCulture))}.", nameof(input));

        var quality = o.Quality;
        DecodingRule? rule = quality.Decoding;
        BinaryLevelEstimate? estimate = null;
        if (rule is null)
        {
            if (k <= 2)
            {
                using var planes = new SequentialPlanes(input, probabilityColumn, k, n, o.ProbabilityColumnName);
                if (planes.Count == 0) throw new ArgumentException("The input has no rows; nothing to fit.", nameof(input));
                estimate = LabelFreeDecoder.EstimateBinary(planes);
                rule = estimate.ToRule();
            }
            else rule = DecodingRule.Argmax;
        }
        var foldColumn = FoldColumn(input.Schema);
        var fitter = new LabelQualityFitter(k, rule, quality, estimate);
        ReadRows(input, maskColumn, probabilityColumn, foldColumn, h, w, k, fitter.Add);
        if (fitter.ImageCount == 0) throw new ArgumentException("The input has no rows; nothing to fit.", nameof(input));
        var calibrator = new LabelQualityCalibrator(fitter.Complete());
        ReadRows(input, maskColumn, probabilityColumn, foldColumn, h, w, k, calibrator.Add);
        var model = calibrator.Complete();
        var state = new LabelQualityState(LabelQualityState.KindName, h, w, k, c, model.ToBytes());
        var blob = StateBlob.Create(JsonSerializer.SerializeToUtf8Bytes(state));
        var loaded = new LabelQualityFactory.Loaded(state, model);
        return (Plan(blob, state), chain => new LabelQualityTransformer(chain, blob, loaded));
    }

    private delegate void RowSink(ReadOnlySpan<byte> mask, ReadOnlySpan<float> probabilities, int width, int height, int? fold);

    /// <summary>One pass over the rows, checked, handed to a fitting pass.</summary>
    private void ReadRows(IDataView input, DataViewSchema.Column maskColumn, DataViewSchema.Column probabilityColumn, DataViewSchema.Column? foldColumn,
        int h, int w, int k, RowSink sink)
    {
        var o = _options;
        int n = h * w;
        using var cursor = foldColumn is { } fc ? ExceptionUnwrapping.GetRowCursor(input, [maskColumn, probabilityColumn, fc]) : ExceptionUnwrapping.GetRowCursor(input, [maskColumn, probabilityColumn]);
        var getMask = cursor.GetGetter<VBuffer<byte>>(maskColumn);
        var getProbability = cursor.GetGetter<VBuffer<float>>(probabilityColumn);
        var getFold = foldColumn is { } f ? cursor.GetGetter<int>(f) : null;
        VBuffer<byte> mb = default;
        VBuffer<float> pb = default;
        var mask = new byte[n];
        var probability = new float[k * n];
        long row = 0;
        while (cursor.MoveNext())
        {
            getMask(ref mb);
            getProbability(ref pb);
            if (mb.Length != n) throw new ArgumentException($"Row {row} of '{o.MaskColumnName}' has {mb.Length} values; expected {h}x{w}.", nameof(input));
            if (pb.Length != k * n) throw new ArgumentException($"Row {row} of '{o.ProbabilityColumnName}' has {pb.Length} values; expected {k}x{h}x{w}.", nameof(input));
            int? fold = null;
            if (getFold is not null)
            {
                int value = 0;
                getFold(ref value);
                if (value < 0) throw new ArgumentException($"Row {row} of '{o.FoldColumnName}' (FoldColumnName) is {value}; a fold index is at least 0.", nameof(input));
                fold = value;
            }
            mb.CopyTo(mask);
            pb.CopyTo(probability);
            try { sink(mask, probability, w, h, fold); }
            catch (ArgumentException e) { throw new ArgumentException($"Row {row}: {e.Message}", nameof(input), e); }
            row++;
        }
    }

    private protected override MappingPlan SchemaPlan()
    {
        var state = new LabelQualityState(LabelQualityState.KindName, 0, 0, 0, _options.ClassCount, []);
        return Plan(StateBlob.Create(JsonSerializer.SerializeToUtf8Bytes(state)), state);
    }

    private MappingPlan Plan(byte[] blob, LabelQualityState state)
    {
        string p = _options.OutputPrefix;
        int h = state.Height, w = state.Width;
        var mask = SchemaChecks.MaskType(h, w);
        var map = SchemaChecks.ShapedType(NumberDataViewType.Single, h, w);
        (string, string, DataViewType?)[] outputs =
            [
                (LabelQualityFactory.ContradictionColumn, p + LabelQualityColumnNames.ContradictionOutlierScore, null),
                (LabelQualityFactory.ContradictionZColumn, p + LabelQualityColumnNames.ContradictionZ, null),
                (LabelQualityFactory.MetaColumn, p + LabelQualityColumnNames.MetaStructureScore, null),
                (LabelQualityFactory.ClassColumn, p + LabelQualityColumnNames.ClassMetaStructureScores, new VectorDataViewType(NumberDataViewType.Double, state.ClassCount)),
                (LabelQualityFactory.SoftminColumn, p + LabelQualityColumnNames.SoftminScore, null),
                (LabelQualityFactory.StructuralCountColumn, p + LabelQualityColumnNames.StructuralIssueCount, null),
                (LabelQualityFactory.ConfidentCountColumn, p + LabelQualityColumnNames.ConfidentIssueCount, null),
                (LabelQualityFactory.StructuralColumn, p + LabelQualityColumnNames.StructuralIssues, mask),
                (LabelQualityFactory.ConfidentColumn, p + LabelQualityColumnNames.ConfidentIssues, mask),
                (LabelQualityFactory.DecodedColumn, p + LabelQualityColumnNames.DecodedMask, mask),
                (LabelQualityFactory.SelfConfidenceColumn, p + LabelQualityColumnNames.SelfConfidence, map),
                (LabelQualityFactory.ExcessColumn, p + LabelQualityColumnNames.StructuralExcess, map),
            ];
        (string, string)[] inputs = [(_options.MaskColumnName, LabelQualityFactory.MaskColumn), (_options.ProbabilityColumnName, LabelQualityFactory.ProbabilityColumn)];
        // With a fold column the rows go through the mapping that reads it (its own contract); the scoring is the same.
        return _options.FoldColumnName is { } fold
            ? LabelQualityFoldFactory.Plan(blob, [.. inputs, (fold, LabelQualityFoldFactory.FoldColumn)], outputs)
            : LabelQualityFactory.Plan(blob, inputs, outputs);
    }

    /// <summary>K from a probability column's shape: <c>[K, H, W]</c>, <c>[H, W]</c>, or its size; 0 when unknown.</summary>
    private static int PlanesOf(VectorDataViewType type, int h, int w)
    {
        var d = type.Dimensions;
        if (d.Length == 3 && d[0] > 0 && d[1] == h && d[2] == w) return d[0];
        if (d.Length == 2 && d[0] == h && d[1] == w) return 1;
        if (type.Size > 0)
        {
            if (type.Size % (h * w) != 0)
                throw new ArgumentException($"The probability column has {type.Size} values per row, not K x {h}x{w} (the mask's shape).", "input");
            return type.Size / (h * w);
        }
        return 0;
    }

    private static int FirstRowPlanes(IDataView input, DataViewSchema.Column column, int n)
    {
        using var cursor = ExceptionUnwrapping.GetRowCursor(input, [column]);
        var get = cursor.GetGetter<VBuffer<float>>(column);
        if (!cursor.MoveNext()) throw new ArgumentException("The input has no rows; nothing to fit.", nameof(input));
        VBuffer<float> v = default;
        get(ref v);
        if (v.Length == 0 || v.Length % n != 0)
            throw new ArgumentException($"The probability column '{column.Name}' has {v.Length} values in its first row, not K x the mask's {n} pixels.", nameof(input));
        return v.Length / n;
    }
}

/// <summary>
/// A fitted label-quality transform: per row the image scores (meta-structure overall and per class, softmin), issue
/// counts and pixel columns (structural and confident-learning flags, decoded prediction, self-confidence, structural
/// excess); see <see cref="LabelQualityColumnNames"/>. Saved and loaded by plain <c>mlContext.Model.Save/Load</c> with its
/// fitted state (options, decoding rule, thresholds, Q̂, issue cut-off); <see cref="From"/> finds it in a loaded pipeline.
/// Rank rows by sorting on a score column (lowest first), or use <see cref="LabelQualityReport.Rank(IReadOnlyList{ImageLabelQuality}, LabelQualityScoreKind)"/>
/// on the results of <see cref="Score"/>.
/// </summary>
public sealed class LabelQualityTransformer : ChainBackedTransformer
{
    private readonly LabelQualityFactory.Loaded _state;

    internal LabelQualityTransformer(ITransformer chain, byte[] blob, LabelQualityFactory.Loaded state) : base(chain)
    {
        _state = state;
        LabelQualityFactory.Remember(blob, state);
    }

    /// <summary>The fitted scoring (decoding rule, thresholds, Q̂, options).</summary>
    public LabelQualityModel Model => _state.Model!;

    /// <summary>Mask height the transform was fitted on.</summary>
    public int Height => _state.State.Height;

    /// <summary>Mask width the transform was fitted on.</summary>
    public int Width => _state.State.Width;

    /// <summary>Number of classes C.</summary>
    public int ClassCount => _state.State.ClassCount;

    /// <summary>Probability planes K of the fitted column.</summary>
    public int ProbabilityChannels => _state.State.Planes;

    /// <summary>Typed convenience: the full judgement of one image (the values of the row's columns, and more).</summary>
    /// <param name="mask">Given labels, Height x Width.</param>
    /// <param name="probabilities">Out-of-sample probabilities, K x Height x Width.</param>
    /// <param name="id">A name for reports.</param>
    public ImageLabelQuality Score(ReadOnlySpan<byte> mask, ReadOnlySpan<float> probabilities, string? id = null)
        => Model.Score(mask, probabilities, Width, Height, id);

    /// <summary>The label-quality transform inside a fitted pipeline, or inside one loaded with <c>mlContext.Model.Load</c>.</summary>
    /// <param name="model">A fitted or loaded pipeline (or the transformer itself).</param>
    /// <exception cref="ArgumentException">The pipeline holds no label-quality transform.</exception>
    public static LabelQualityTransformer From(ITransformer model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Find(model) ?? throw new ArgumentException("The pipeline holds no label-quality transform (mlContext.Transforms.ScoreLabelQuality).", nameof(model));
    }

    private static LabelQualityTransformer? Find(ITransformer model)
    {
        if (model is LabelQualityTransformer quality) return quality;
        if (model is not IEnumerable<ITransformer> chain) return null;
        var parts = chain.ToList();
        if (parts.Count >= 2 && StatefulMapping.ReadState(parts[0], parts[1]) is { } blob && LabelQualityFactory.TryLoad(blob) is { Model: not null } loaded)
            return new LabelQualityTransformer(model, blob, loaded);
        foreach (var part in parts.AsEnumerable().Reverse())
            if (Find(part) is { } found) return found;
        return null;
    }
}

/// <summary>State serialized into model zips by the label-quality transform: shapes and the model's own bytes (<see cref="LabelQualityModel.ToBytes"/>).</summary>
internal sealed record LabelQualityState(string Kind, int Height, int Width, int Planes, int ClassCount, byte[] Model)
{
    public const string KindName = "NoisySeg.LabelQuality";
}

/// <summary>Per-row mapping of the label-quality transform, found again at load by its contract name.</summary>
[CustomMappingFactoryAttribute(ContractName)]
internal sealed class LabelQualityFactory : StateMappingFactory<LabelQualityFactory, LabelQualityFactory.Input, LabelQualityFactory.Output, LabelQualityFactory.Loaded>
{
    public const string ContractName = "NoisySeg.LabelQuality.v1";
    internal const string MaskColumn = "__NoisySeg_LQ_Mask";
    internal const string ProbabilityColumn = "__NoisySeg_LQ_Probability";
    internal const string ContradictionColumn = "__NoisySeg_LQ_Contradiction";
    internal const string ContradictionZColumn = "__NoisySeg_LQ_ContradictionZ";
    internal const string MetaColumn = "__NoisySeg_LQ_Meta";
    internal const string ClassColumn = "__NoisySeg_LQ_ClassMeta";
    internal const string SoftminColumn = "__NoisySeg_LQ_Softmin";
    internal const string StructuralCountColumn = "__NoisySeg_LQ_StructuralCount";
    internal const string ConfidentCountColumn = "__NoisySeg_LQ_ConfidentCount";
    internal const string StructuralColumn = "__NoisySeg_LQ_Structural";
    internal const string ConfidentColumn = "__NoisySeg_LQ_Confident";
    internal const string DecodedColumn = "__NoisySeg_LQ_Decoded";
    internal const string SelfConfidenceColumn = "__NoisySeg_LQ_SelfConfidence";
    internal const string ExcessColumn = "__NoisySeg_LQ_Excess";

    /// <summary>A decoded state: shapes and the rebuilt model (null in the schema-only plan).</summary>
    internal sealed record Loaded(LabelQualityState State, LabelQualityModel? Model);

    protected override string Contract => ContractName;

    protected override Loaded Decode(byte[] payload) => DecodeState(payload);

    /// <summary>Decodes a verified state payload (shared with <see cref="LabelQualityFoldFactory"/>).</summary>
    internal static Loaded DecodeState(byte[] payload)
    {
        LabelQualityState state;
        try
        {
            state = JsonSerializer.Deserialize<LabelQualityState>(payload) ?? throw new InvalidDataException("Label-quality state is empty.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException("Label-quality state is corrupt.", e);
        }
        return new Loaded(state, state.Model.Length == 0 ? null : LabelQualityModel.FromBytes(state.Model));
    }

    /// <summary>The decoded state of a blob, or null when the blob is another transform's state.</summary>
    internal static Loaded? TryLoad(byte[] blob)
        => StateBlob.Payload(blob).StartsWith("{\"Kind\":\"NoisySeg.LabelQuality\""u8) ? Get(blob) : null;

    protected override void Map(Input input, Output output, Loaded loaded) => MapRow(input.Mask, input.Probability, null, output, loaded);

    /// <summary>Scores one row (shared with <see cref="LabelQualityFoldFactory"/>).</summary>
    internal static void MapRow(byte[] mask, float[] probability, int? fold, Output output, Loaded loaded)
    {
        var s = loaded.State;
        var model = loaded.Model ?? throw new InvalidOperationException("The label-quality transform was not fitted.");
        SchemaChecks.RequireFittedSize(mask.Length, 1, s.Height, s.Width, "Mask", "label-quality transform");
        if (probability.Length != (long)s.Planes * s.Height * s.Width)
            throw new InvalidOperationException($"Probability has {probability.Length} values; the label-quality transform was fitted on {s.Planes}x{s.Height}x{s.Width} probabilities.");
        if (fold is < 0) throw new InvalidOperationException($"The fold column holds {fold}; a fold index is at least 0.");
        var q = model.Score(mask, probability, s.Width, s.Height, null, -1, fold);
        output.ContradictionOutlierScore = q.ContradictionOutlierScore;
        output.ContradictionZ = q.ContradictionZ;
        output.MetaStructureScore = q.MetaStructureScore;
        output.ClassScores = q.ClassMetaStructureScores.ToArray();
        output.SoftminScore = q.SoftminScore;
        output.StructuralIssueCount = q.StructuralIssueCount;
        output.ConfidentIssueCount = q.ConfidentIssueCount;
        output.StructuralIssues = q.StructuralIssueMask!;
        output.ConfidentIssues = q.ConfidentIssueMask!;
        output.DecodedMask = q.DecodedMask!;
        output.SelfConfidence = q.SelfConfidenceMap!;
        output.StructuralExcess = q.StructuralExcessMap!;
    }

    internal sealed class Input : IStateRow
    {
        [ColumnName(MaskColumn), VectorType] public byte[] Mask { get; set; } = [];
        [ColumnName(ProbabilityColumn), VectorType] public float[] Probability { get; set; } = [];
        [ColumnName(StatefulMapping.StateColumn), VectorType] public byte[] State { get; set; } = [];
    }

    internal sealed class Output
    {
        [ColumnName(ContradictionColumn)] public double ContradictionOutlierScore { get; set; }
        [ColumnName(ContradictionZColumn)] public double ContradictionZ { get; set; }
        [ColumnName(MetaColumn)] public double MetaStructureScore { get; set; }
        [ColumnName(ClassColumn), VectorType] public double[] ClassScores { get; set; } = [];
        [ColumnName(SoftminColumn)] public double SoftminScore { get; set; }
        [ColumnName(StructuralCountColumn)] public long StructuralIssueCount { get; set; }
        [ColumnName(ConfidentCountColumn)] public long ConfidentIssueCount { get; set; }
        [ColumnName(StructuralColumn), VectorType] public byte[] StructuralIssues { get; set; } = [];
        [ColumnName(ConfidentColumn), VectorType] public byte[] ConfidentIssues { get; set; } = [];
        [ColumnName(DecodedColumn), VectorType] public byte[] DecodedMask { get; set; } = [];
        [ColumnName(SelfConfidenceColumn), VectorType] public float[] SelfConfidence { get; set; } = [];
        [ColumnName(ExcessColumn), VectorType] public float[] StructuralExcess { get; set; } = [];
    }
}

/// <summary>The label-quality mapping for inputs with a fold column (<see cref="LabelQualityScoringOptions.FoldColumnName"/>): same state and scoring, one more input.</summary>
[CustomMappingFactoryAttribute(ContractName)]
internal sealed class LabelQualityFoldFactory : StateMappingFactory<LabelQualityFoldFactory, LabelQualityFoldFactory.Input, LabelQualityFactory.Output, LabelQualityFactory.Loaded>
{
    public const string ContractName = "NoisySeg.LabelQuality.Folds.v1";
    internal const string FoldColumn = "__NoisySeg_LQ_Fold";

    protected override string Contract => ContractName;

    protected override LabelQualityFactory.Loaded Decode(byte[] payload) => LabelQualityFactory.DecodeState(payload);

    protected override void Map(Input input, LabelQualityFactory.Output output, LabelQualityFactory.Loaded loaded)
        => LabelQualityFactory.MapRow(input.Mask, input.Probability, input.Fold, output, loaded);

    internal sealed class Input : IStateRow
    {
        [ColumnName(LabelQualityFactory.MaskColumn), VectorType] public byte[] Mask { get; set; } = [];
        [ColumnName(LabelQualityFactory.ProbabilityColumn), VectorType] public float[] Probability { get; set; } = [];
        [ColumnName(FoldColumn)] public int Fold { get; set; }
        [ColumnName(StatefulMapping.StateColumn), VectorType] public byte[] State { get; set; } = [];
    }
}

/// <summary>
/// One probability plane per row of a data view (the foreground plane of binary outputs), read sequentially with one
/// cursor and one row in memory: random access restarts the cursor. Serves Otsu's passes over a whole data set.
/// </summary>
internal sealed class SequentialPlanes : IReadOnlyList<float[]>, IDisposable
{
    private readonly IDataView _data;
    private readonly DataViewSchema.Column _column;
    private readonly int _planes, _pixels;
    private readonly string _name;
    private DataViewRowCursor? _cursor;
    private ValueGetter<VBuffer<float>>? _getter;
    private VBuffer<float> _buffer;
    private int _position = -1;
    private float[] _current = [];

    public SequentialPlanes(IDataView data, DataViewSchema.Column column, int planes, int pixels, string name)
    {
        _data = data;
        _column = column;
        _planes = planes;
        _pixels = pixels;
        _name = name;
        long? count = data.GetRowCount();
        if (count is null)
        {
            count = 0;
            using var c = ExceptionUnwrapping.GetRowCursor(data, [column]);
            while (c.MoveNext()) count++;
        }
        Count = checked((int)count.Value);
    }

    public int Count { get; }

    public float[] this[int index]
    {
        get
        {
            if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index));
            if (index == _position) return _current;
            if (_cursor is null || index < _position)
            {
                _cursor?.Dispose();
                _cursor = ExceptionUnwrapping.GetRowCursor(_data, [_column]);
                _getter = _cursor.GetGetter<VBuffer<float>>(_column);
                _position = -1;
            }
            while (_position < index)
            {
                if (!_cursor.MoveNext()) throw new InvalidOperationException($"The data view returned fewer than {Count} rows on a second pass.");
                _position++;
            }
            _getter!(ref _buffer);
            if (_buffer.Length != _planes * _pixels)
                throw new ArgumentException($"Row {index} of '{_name}' has {_buffer.Length} values; expected {_planes} x {_pixels}.", "input");
            var all = new float[_buffer.Length];
            _buffer.CopyTo(all);
            _current = _planes == 1 ? all : all.AsSpan(_pixels, _pixels).ToArray();
            return _current;
        }
    }

    public IEnumerator<float[]> GetEnumerator()
    {
        for (int i = 0; i < Count; i++) yield return this[i];
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    public void Dispose() => _cursor?.Dispose();
}
