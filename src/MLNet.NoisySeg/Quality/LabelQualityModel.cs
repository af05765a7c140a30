using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Decoding;

namespace MLNet.NoisySeg.Quality;

/// <summary>
/// Fitted label-quality scoring: the data-set-wide statistics of the first pass (<see cref="LabelQualityFitter"/>
/// or <see cref="Fit"/>) and <see cref="Score(ReadOnlySpan{byte}, ReadOnlySpan{float}, int, int, string?, int)"/>,
/// which judges one image. Immutable; <c>Score</c> may run on several threads at once.
/// </summary>
/// <remarks>
/// Per image it computes the cleanlab baseline (per-pixel self-confidence, softmin image score, confident-learning
/// pixel issues; see <see cref="SelfConfidence"/> and <see cref="PixelIssueRule"/>), the noise-aware
/// meta-structure score (<see cref="MetaStructureScorer"/>) against the decoded prediction, and, once calibrated
/// (<see cref="Fit"/> does it; streaming: <see cref="LabelQualityCalibrator"/>), the contradiction-outlier score
/// (<see cref="ContradictionCalibration"/>).
/// </remarks>
public sealed partial class LabelQualityModel
{
    private readonly double[] _thresholds;
    private readonly double[] _q;
    private readonly double[] _contrast;
    private readonly int _cutoffBin;
    private readonly SortedDictionary<int, double[]> _foldThresholds;

    internal LabelQualityModel(int classCount, int labelClassCount, DecodingRule decoding, BinaryLevelEstimate? estimate,
        LabelQualityOptions options, double[] thresholds, NoiseTransitionMatrix noise, long[] decodedCounts,
        long? issueCount, int cutoffBin, int images, long pixels, SortedDictionary<int, double[]> foldThresholds,
        ContradictionCalibration? calibration)
    {
        ClassCount = classCount;
        LabelClassCount = labelClassCount;
        Decoding = decoding;
        DecodingEstimate = estimate;
        Options = options;
        _thresholds = thresholds;
        ConfidentThresholds = Array.AsReadOnly(thresholds);
        EstimatedNoise = noise;
        int c = labelClassCount;
        _q = new double[c * c];
        for (int j = 0; j < c; j++)
            for (int m = 0; m < c; m++) _q[j * c + m] = noise[j, m];
        _contrast = MetaStructureScorer.Contrast(_q, c);
        ClassContrast = Array.AsReadOnly(_contrast);
        DecodedPixelCounts = Array.AsReadOnly(decodedCounts);
        EstimatedIssueCount = issueCount;
        _cutoffBin = cutoffBin;
        FitImageCount = images;
        FitPixelCount = pixels;
        _foldThresholds = foldThresholds;
        FoldThresholds = foldThresholds.ToDictionary(f => f.Key, f => (IReadOnlyList<double>)Array.AsReadOnly(f.Value)).AsReadOnly();
        ContradictionCalibration = calibration;
    }

    /// <summary>K, the number of probability planes per image (1 = binary sigmoid).</summary>
    public int ClassCount { get; }

    /// <summary>C = max(K, 2), the number of label classes.</summary>
    public int LabelClassCount { get; }

    /// <summary>The rule that turns probabilities into the predicted mask.</summary>
    public DecodingRule Decoding { get; }

    /// <summary>The label-free estimate behind <see cref="Decoding"/> when <see cref="Fit"/> estimated a binary rule; null otherwise.
    /// Check <see cref="BinaryLevelEstimate.AreLevelsSeparated"/>: without two separate output levels the decoded masks are unreliable.</summary>
    public BinaryLevelEstimate? DecodingEstimate { get; }

    /// <summary>The options.</summary>
    public LabelQualityOptions Options { get; }

    /// <summary>
    /// Per class k, cleanlab's confident threshold t_k: the mean predicted probability of k over the pixels labelled k,
    /// clipped to [2e-6, 1] (a class never labelled gets 2e-6, as in cleanlab's LabelInspector).
    /// </summary>
    public IReadOnlyList<double> ConfidentThresholds { get; }

    /// <summary>
    /// Q̂: row j = decoded class, column m = given label, Q̂[j, m] = #(decoded j, given m) / #(decoded j), counted on
    /// interior pixels (whose whole density window is decoded as j) when the class has at least
    /// <see cref="LabelQualityFitter.MinimumInteriorPixels"/> of them, else on all its pixels; a class never decoded
    /// gets the identity row. Interior counting keeps the network's boundary imprecision out of the label-noise
    /// estimate. With simulated noise on clean truth and a good model this is the noise transition matrix of the paper (Luo et al., AAAI 2022).
    /// </summary>
    public NoiseTransitionMatrix EstimatedNoise { get; }

    /// <summary>Per class m, the contrast c_m = |Q̂[m, m] - max_{j≠m} Q̂[j, m]| that scales <see cref="LabelQualityOptions.BoundaryTolerance"/>.</summary>
    public IReadOnlyList<double> ClassContrast { get; }

    /// <summary>Per class, the fitted pixels decoded as that class.</summary>
    public IReadOnlyList<long> DecodedPixelCounts { get; }

    /// <summary>
    /// <see cref="PixelIssueRule.LowSelfConfidence"/> only (null otherwise): cleanlab's estimate of the number of
    /// pixel label issues in the fitted data, #{pixels whose most probable class a differs from the label and
    /// p_a ≥ t_a - 1e-6}. Read from a 2^14-bin histogram per class: pixels whose p_a shares a bin with t_a - 1e-6 are
    /// not counted.
    /// </summary>
    public long? EstimatedIssueCount { get; }

    /// <summary>
    /// <see cref="PixelIssueRule.LowSelfConfidence"/> only (NaN otherwise): pixels whose self-confidence lies below this
    /// value are the (about) <see cref="EstimatedIssueCount"/> least self-confident pixels of the fitted data; the
    /// upper edge of the 2^-16-wide histogram bin where the count is reached, so a tied bin is taken whole. 0 when no
    /// issue is estimated.
    /// </summary>
    public double SelfConfidenceCutoff => Options.IssueRule != PixelIssueRule.LowSelfConfidence ? double.NaN
        : (_cutoffBin + 1) / (double)LabelQualityFitter.SelfConfidenceBins;

    /// <summary>
    /// Per fold (cross-fitted model) seen in the fit, the confident thresholds computed on that fold's images alone
    /// (a class the fold never labels takes <see cref="ConfidentThresholds"/>' value). Used by the contradiction-outlier
    /// score for images of that fold; empty when no image had a fold.
    /// </summary>
    public IReadOnlyDictionary<int, IReadOnlyList<double>> FoldThresholds { get; }

    /// <summary>The data set's spread of the contradiction statistics, or null before calibration (then
    /// <see cref="ImageLabelQuality.ContradictionOutlierScore"/> is NaN).</summary>
    public ContradictionCalibration? ContradictionCalibration { get; }

    /// <summary>The confident thresholds of the model that predicted images of <paramref name="fold"/>: the fold's own
    /// when it was fitted, else the data set's.</summary>
    internal double[] ThresholdsFor(int? fold)
        => fold is { } f && _foldThresholds.TryGetValue(f, out var t) ? t : _thresholds;

    /// <summary>The same model with a calibration.</summary>
    internal LabelQualityModel WithCalibration(ContradictionCalibration? calibration)
        => new(ClassCount, LabelClassCount, Decoding, DecodingEstimate, Options, _thresholds, EstimatedNoise, DecodedPixelCounts.ToArray(),
            EstimatedIssueCount, _cutoffBin, FitImageCount, FitPixelCount, _foldThresholds, calibration);

    /// <summary>Images in the fit.</summary>
    public int FitImageCount { get; }

    /// <summary>Scored pixels in the fit.</summary>
    public long FitPixelCount { get; }

    /// <summary>
    /// Fits on a data set: estimates the decoding rule when <see cref="LabelQualityOptions.Decoding"/> is null (binary:
    /// <see cref="LabelFreeDecoder.EstimateBinary(IReadOnlyList{float[]}, NoiseTransitionMatrix?, int)"/> on all foreground
    /// probabilities, ignore pixels included; multi-class: argmax), then runs <see cref="LabelQualityFitter"/> over the
    /// images (with their <see cref="LabelQualityImage.Fold"/>) and calibrates the contradiction-outlier score
    /// (<see cref="LabelQualityCalibrator"/>).
    /// </summary>
    /// <param name="images">The data set; enumerated three times when a binary rule is estimated, twice otherwise.</param>
    /// <param name="classCount">K, the number of probability planes (1 = binary sigmoid).</param>
    /// <param name="options">Options; null = defaults.</param>
    /// <exception cref="ArgumentException">No image, or an image does not have K planes.</exception>
    public static LabelQualityModel Fit(IEnumerable<LabelQualityImage> images, int classCount, LabelQualityOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        SelfConfidence.CheckClassCount(classCount);
        options ??= new LabelQualityOptions();
        options.ValidateFor(Math.Max(2, classCount));
        DecodingRule? rule = options.Decoding;
        BinaryLevelEstimate? estimate = null;
        if (rule is null)
        {
            if (classCount <= 2)
            {
                var foreground = new List<float[]>();
                foreach (var image in images)
                {
                    CheckPlanes(image, classCount);
                    int n = image.Mask.Length;
                    foreground.Add(classCount == 1 ? image.Probabilities : image.Probabilities.AsSpan(n, n).ToArray());
                }
                if (foreground.Count == 0) throw new ArgumentException("images is empty.", nameof(images));
                estimate = LabelFreeDecoder.EstimateBinary(foreground);
                rule = estimate.ToRule();
            }
            else rule = DecodingRule.Argmax;
        }
        var fitter = new LabelQualityFitter(classCount, rule, options, estimate);
        foreach (var image in images)
        {
            CheckPlanes(image, classCount);
            fitter.Add(image.Mask, image.Probabilities, image.Width, image.Height, image.Fold);
        }
        if (fitter.ImageCount == 0) throw new ArgumentException("images is empty.", nameof(images));
        var calibrator = new LabelQualityCalibrator(fitter.Complete());
        foreach (var image in images) calibrator.Add(image.Mask, image.Probabilities, image.Width, image.Height, image.Fold);
        return calibrator.Complete();
    }

    private static void CheckPlanes(LabelQualityImage image, int classCount)
    {
        ArgumentNullException.ThrowIfNull(image, "images[i]");
        if (image.PlaneCount != classCount)
            throw new ArgumentException($"Image '{image.Id}' has {image.PlaneCount} probability planes; expected classCount = {classCount}.", "images");
    }

    /// <summary>Scores one input image.</summary>
    /// <param name="image">The image.</param>
    /// <param name="index">Its position in the caller's data set, reported back in <see cref="ImageLabelQuality.Index"/>.</param>
    public ImageLabelQuality Score(LabelQualityImage image, int index = -1)
    {
        ArgumentNullException.ThrowIfNull(image);
        return Score(image.Mask, image.Probabilities, image.Width, image.Height, image.Id, index, image.Fold);
    }

    /// <summary>Scores one image: cleanlab baseline, meta-structure score, pixel issues and counts.</summary>
    /// <param name="mask">Given labels (width*height): 0..C-1 or the ignore value.</param>
    /// <param name="probabilities">Out-of-sample planar [K, H, W] probabilities in [0, 1].</param>
    /// <param name="width">Image width.</param>
    /// <param name="height">Image height.</param>
    /// <param name="id">A name for reports.</param>
    /// <param name="index">Position in the caller's data set, reported back (default -1).</param>
    /// <exception cref="ArgumentException">Sizes disagree, a label is not a class, or a probability is outside [0, 1].</exception>
    public ImageLabelQuality Score(ReadOnlySpan<byte> mask, ReadOnlySpan<float> probabilities, int width, int height, string? id = null, int index = -1)
        => Score(mask, probabilities, width, height, id, index, null);

    /// <summary>Scores one image predicted by the model of a given fold (its confident thresholds judge the contradictions).</summary>
    /// <param name="mask">Given labels (width*height): 0..C-1 or the ignore value.</param>
    /// <param name="probabilities">Out-of-sample planar [K, H, W] probabilities in [0, 1].</param>
    /// <param name="width">Image width.</param>
    /// <param name="height">Image height.</param>
    /// <param name="id">A name for reports.</param>
    /// <param name="index">Position in the caller's data set, reported back.</param>
    /// <param name="fold">The fold whose model predicted the image, or null (the data set's thresholds); a fold the fit
    /// did not see also uses the data set's thresholds.</param>
    /// <exception cref="ArgumentException">Sizes disagree, a label is not a class, or a probability is outside [0, 1].</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="fold"/> is negative.</exception>
    public ImageLabelQuality Score(ReadOnlySpan<byte> mask, ReadOnlySpan<float> probabilities, int width, int height, string? id, int index, int? fold)
    {
        QualityPixels.CheckFold(fold);
        Guard.MaskSize(mask.Length, width, height, nameof(mask));
        int n = mask.Length, k = ClassCount, c = LabelClassCount;
        byte[] labels = QualityPixels.NormaliseMask(mask, c, Options.IgnoreIndex, nameof(mask));
        QualityPixels.CheckProbabilities(probabilities, k, n, nameof(probabilities));

        // cleanlab baseline.
        var selfConfidence = new float[n];
        SelfConfidence.Compute(labels, probabilities, k, selfConfidence);
        double softmin = SelfConfidence.Softmin(selfConfidence, Options.SoftminTemperature);
        var arg = new byte[n];
        var max = new float[n];
        QualityPixels.Argmax(probabilities, k, arg, max);
        var confident = new byte[n];
        long confidentCount = 0, scored = 0;
        for (int i = 0; i < n; i++)
        {
            byte m = labels[i];
            if (m == MaskConventions.IgnoreIndex) { confident[i] = MaskConventions.IgnoreIndex; continue; }
            scored++;
            bool flag = false;
            if (arg[i] != m)
            {
                if (Options.IssueRule == PixelIssueRule.LowSelfConfidence)
                    flag = LabelQualityFitter.Bin(selfConfidence[i], LabelQualityFitter.SelfConfidenceBins) <= _cutoffBin;
                else
                {
                    int best = -1;
                    float bestP = 0;
                    for (int j = 0; j < c; j++)
                    {
                        float p = QualityPixels.Probability(probabilities, k, n, i, j);
                        if (p >= _thresholds[j] - LabelQualityFitter.ThresholdMargin && (best < 0 || p > bestP)) { best = j; bestP = p; }
                    }
                    flag = best >= 0 && best != m;
                }
            }
            if (flag) { confident[i] = 1; confidentCount++; }
        }

        // Noise-aware meta-structure against the decoded prediction.
        var decoded = new byte[n];
        Decoding.Decode(probabilities, k, decoded);
        long disagreements = 0;
        for (int i = 0; i < n; i++)
        {
            if (labels[i] == MaskConventions.IgnoreIndex) { decoded[i] = MaskConventions.IgnoreIndex; continue; }
            if (decoded[i] >= c) throw new InvalidOperationException($"The decoding rule produced class {decoded[i]}; the data set has {c} classes.");
            if (decoded[i] != labels[i]) disagreements++;
        }
        var structural = new byte[n];
        float[]? excess = Options.StorePixelMaps ? new float[n] : null;
        var meta = MetaStructureScorer.ComputeCore(labels, decoded, width, height, c, _q, _contrast, Options, structural, excess);

        // Contradictions of the labels by the fold's model, against the data set's spread.
        double[] contradiction = ContradictionStatistics.Compute(labels, probabilities, k, c, ThresholdsFor(fold), Options.ExcludedClass);
        var (z, statistic) = ContradictionCalibration?.MaxZ(contradiction) ?? (double.NaN, -1);

        bool keep = Options.StorePixelMaps;
        return new ImageLabelQuality(id, index, fold, width, height, softmin, meta, scored, n - scored, disagreements, confidentCount,
            contradiction, z, statistic, keep ? selfConfidence : null, keep ? decoded : null, keep ? confident : null, keep ? structural : null, excess);
    }

    /// <summary>
    /// The same fitted model with <see cref="LabelQualityOptions.StorePixelMaps"/> set: e.g. score a large data set
    /// keeping scores only, then score the few most suspicious images again with their pixel maps. Scores are identical.
    /// </summary>
    /// <param name="store">Keep the per-pixel maps in every result.</param>
    public LabelQualityModel WithStorePixelMaps(bool store) => store == Options.StorePixelMaps ? this
        : new LabelQualityModel(ClassCount, LabelClassCount, Decoding, DecodingEstimate, Options with { StorePixelMaps = store }, _thresholds,
            EstimatedNoise, DecodedPixelCounts.ToArray(), EstimatedIssueCount, _cutoffBin, FitImageCount, FitPixelCount, _foldThresholds,
            ContradictionCalibration);

    /// <inheritdoc />
    public override string ToString()
        => $"LabelQualityModel(K={ClassCount}, decoding={Decoding}, images={FitImageCount}, pixels={FitPixelCount}, Q̂={EstimatedNoise})";
}
