using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Decoding;
using MLNet.NoisySeg.MetaStructure;

namespace MLNet.NoisySeg.Quality;

/// <summary>
/// The first pass of label-quality scoring, in streaming form: add every image of the data set once, then
/// <see cref="Complete"/> gives the fitted <see cref="LabelQualityModel"/> that scores them (the second pass). The
/// statistics are data-set wide, as cleanlab's: per-class confident thresholds, the noise matrix between decoded
/// predictions and given labels (<see cref="LabelQualityModel.EstimatedNoise"/>), and (for <see cref="PixelIssueRule.LowSelfConfidence"/>) the histograms behind the
/// issue count. Memory does not grow with the number of images.
/// </summary>
/// <remarks>
/// <para>The contradiction-outlier score also needs the spread of per-image statistics over the data set, which depend on
/// the thresholds fitted here: a second pass (<see cref="LabelQualityCalibrator"/>) adds it. Until then the model's
/// <see cref="ImageLabelQuality.ContradictionOutlierScore"/> is NaN.</para>
/// <para>Use <see cref="LabelQualityModel.Fit"/> when the images are in a list: it also estimates a label-free
/// decoding rule. Here the rule must be known (e.g. <c>LabelFreeDecoder.EstimateBinary(outputs).ToRule()</c>).</para>
/// <para>Not thread-safe. Sums are accumulated in the order images are added, in double precision; adding the same
/// images in the same order gives bit-identical models.</para>
/// </remarks>
public sealed class LabelQualityFitter
{
    /// <summary>Bins of the self-confidence histogram over [0, 1] (cut-off resolution 2^-16).</summary>
    internal const int SelfConfidenceBins = 1 << 16;

    /// <summary>Bins of the per-class histograms of the most probable class's probability (count resolution 2^-14).</summary>
    internal const int ClassBins = 1 << 14;

    /// <summary>cleanlab's margin below a confident threshold (<c>EPS = 1e-6</c> in label_issues_batched).</summary>
    internal const double ThresholdMargin = 1e-6;

    /// <summary>A row of Q̂ is counted on interior pixels when the class has at least this many of them.</summary>
    public const int MinimumInteriorPixels = 64;

    /// <summary>cleanlab clips confident thresholds to [2e-6, 1].</summary>
    internal const double MinimumThreshold = 2e-6;

    private readonly double[] _selfConfidenceSum;
    private readonly long[] _labelled;
    private readonly long[] _confusion;
    private readonly long[] _interiorConfusion;
    private readonly long[]? _selfConfidenceHistogram;
    private readonly long[]?[]? _argmaxHistograms;
    private readonly BinaryLevelEstimate? _estimate;
    private readonly SortedDictionary<int, (double[] Sum, long[] Count)> _folds = new();
    private long _pixels;
    private int _images;

    /// <summary>Starts an empty fit.</summary>
    /// <param name="classCount">K, the number of probability planes: 1 for a binary sigmoid output, else the number of classes (2..255).</param>
    /// <param name="decoding">How probabilities become the predicted mask; must fit K.</param>
    /// <param name="options">Options; null = defaults. Validated.</param>
    /// <exception cref="ArgumentException">The rule does not fit K, or an option does not fit the class count.</exception>
    public LabelQualityFitter(int classCount, DecodingRule decoding, LabelQualityOptions? options = null)
        : this(classCount, decoding, options, null)
    {
    }

    internal LabelQualityFitter(int classCount, DecodingRule decoding, LabelQualityOptions? options, BinaryLevelEstimate? estimate)
    {
        SelfConfidence.CheckClassCount(classCount);
        ArgumentNullException.ThrowIfNull(decoding);
        options ??= new LabelQualityOptions();
        int c = Math.Max(2, classCount);
        options.ValidateFor(c);
        // Fail now, not at the first image, when the rule does not fit K.
        decoding.Decode(new float[classCount], classCount, new byte[1]);
        ClassCount = classCount;
        LabelClassCount = c;
        Decoding = decoding;
        Options = options;
        _estimate = estimate;
        _selfConfidenceSum = new double[c];
        _labelled = new long[c];
        _confusion = new long[c * c];
        _interiorConfusion = new long[c * c];
        if (options.IssueRule == PixelIssueRule.LowSelfConfidence)
        {
            _selfConfidenceHistogram = new long[SelfConfidenceBins];
            _argmaxHistograms = new long[]?[c];
        }
    }

    /// <summary>K, the number of probability planes per image.</summary>
    public int ClassCount { get; }

    /// <summary>C = max(K, 2), the number of label classes.</summary>
    public int LabelClassCount { get; }

    /// <summary>The decoding rule of the predicted masks.</summary>
    public DecodingRule Decoding { get; }

    /// <summary>The options.</summary>
    public LabelQualityOptions Options { get; }

    /// <summary>Images added so far.</summary>
    public int ImageCount => _images;

    /// <summary>Scored (non-ignore) pixels added so far.</summary>
    public long PixelCount => _pixels;

    /// <summary>Adds one image's statistics.</summary>
    /// <param name="mask">Given labels (width*height): 0..C-1 or the ignore value.</param>
    /// <param name="probabilities">Out-of-sample planar [K, H, W] probabilities in [0, 1].</param>
    /// <param name="width">Image width.</param>
    /// <param name="height">Image height.</param>
    /// <exception cref="ArgumentException">Sizes disagree, a label is not a class, or a probability is outside [0, 1].</exception>
    public void Add(ReadOnlySpan<byte> mask, ReadOnlySpan<float> probabilities, int width, int height)
        => Add(mask, probabilities, width, height, null);

    /// <summary>Adds one image's statistics, remembering which cross-fitted model predicted it.</summary>
    /// <param name="mask">Given labels (width*height): 0..C-1 or the ignore value.</param>
    /// <param name="probabilities">Out-of-sample planar [K, H, W] probabilities in [0, 1].</param>
    /// <param name="width">Image width.</param>
    /// <param name="height">Image height.</param>
    /// <param name="fold">The fold (model) that predicted the image (<see cref="LabelQualityImage.Fold"/>), or null:
    /// per-fold confident thresholds are kept for the contradiction-outlier score.</param>
    /// <exception cref="ArgumentException">Sizes disagree, a label is not a class, or a probability is outside [0, 1].</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="fold"/> is negative.</exception>
    public void Add(ReadOnlySpan<byte> mask, ReadOnlySpan<float> probabilities, int width, int height, int? fold)
    {
        QualityPixels.CheckFold(fold);
        Guard.MaskSize(mask.Length, width, height, nameof(mask));
        int n = mask.Length, k = ClassCount, c = LabelClassCount;
        byte[] labels = QualityPixels.NormaliseMask(mask, c, Options.IgnoreIndex, nameof(mask));
        QualityPixels.CheckProbabilities(probabilities, k, n, nameof(probabilities));
        var decoded = new byte[n];
        Decoding.Decode(probabilities, k, decoded);
        for (int i = 0; i < n; i++)
        {
            if (labels[i] == MaskConventions.IgnoreIndex) decoded[i] = MaskConventions.IgnoreIndex;
            else if (decoded[i] >= c) throw new InvalidOperationException($"The decoding rule produced class {decoded[i]}; the data set has {c} classes.");
        }
        // Interior pixels: the whole density window around them is decoded as their class.
        float[] purity = DensityMap.Compute(decoded, width, height, c, Options.Density);
        byte[]? arg = null;
        float[]? max = null;
        if (_argmaxHistograms is not null)
        {
            arg = new byte[n];
            max = new float[n];
            QualityPixels.Argmax(probabilities, k, arg, max);
        }
        long scored = 0;
        (double[] Sum, long[] Count)? perFold = null;
        if (fold is { } f)
        {
            if (!_folds.TryGetValue(f, out var entry)) _folds[f] = entry = (new double[c], new long[c]);
            perFold = entry;
        }
        for (int i = 0; i < n; i++)
        {
            byte m = labels[i];
            if (m == MaskConventions.IgnoreIndex) continue;
            scored++;
            float s = QualityPixels.Probability(probabilities, k, n, i, m);
            _selfConfidenceSum[m] += s;
            _labelled[m]++;
            if (perFold is { } pf) { pf.Sum[m] += s; pf.Count[m]++; }
            byte j = decoded[i];
            _confusion[j * c + m]++;
            if (purity[j * n + i] >= InteriorDensity) _interiorConfusion[j * c + m]++;
            if (_selfConfidenceHistogram is not null)
            {
                _selfConfidenceHistogram[Bin(s, SelfConfidenceBins)]++;
                byte a = arg![i];
                if (a != m) (_argmaxHistograms![a] ??= new long[ClassBins])[Bin(max![i], ClassBins)]++;
            }
        }
        _pixels += scored;
        _images++;
    }

    /// <summary>Density at or above which a pixel's window counts as entirely its decoded class.</summary>
    private const float InteriorDensity = 1f - 1e-5f;

    /// <summary>Histogram bin of a value in [0, 1]: floor(v * bins), 1 in the last bin (exact for power-of-two bins).</summary>
    internal static int Bin(float v, int bins) => Math.Min((int)(v * bins), bins - 1);

    /// <summary>The model fitted on the images added so far.</summary>
    /// <exception cref="InvalidOperationException">No scored pixel was added.</exception>
    public LabelQualityModel Complete()
    {
        if (_pixels == 0) throw new InvalidOperationException("No scored (non-ignore) pixel was added; nothing to fit.");
        int c = LabelClassCount;
        var thresholds = new double[c];
        for (int m = 0; m < c; m++)
        {
            double t = _labelled[m] > 0 ? _selfConfidenceSum[m] / _labelled[m] : 0;
            thresholds[m] = Math.Clamp(t, MinimumThreshold, 1.0);
        }
        // Per fold: the same mean over the fold's images; a class the fold never labels takes the data set's threshold.
        var foldThresholds = new SortedDictionary<int, double[]>();
        foreach (var (fold, (sum, count)) in _folds)
        {
            var t = new double[c];
            for (int m = 0; m < c; m++) t[m] = count[m] > 0 ? Math.Clamp(sum[m] / count[m], MinimumThreshold, 1.0) : thresholds[m];
            foldThresholds[fold] = t;
        }

        var q = new double[c, c];
        var decodedCounts = new long[c];
        for (int j = 0; j < c; j++)
        {
            long row = 0, interior = 0;
            for (int m = 0; m < c; m++) { row += _confusion[j * c + m]; interior += _interiorConfusion[j * c + m]; }
            decodedCounts[j] = row;
            if (row == 0) { q[j, j] = 1; continue; }
            long[] counts = interior >= MinimumInteriorPixels ? _interiorConfusion : _confusion;
            long total = interior >= MinimumInteriorPixels ? interior : row;
            double sum = 0;
            for (int m = 0; m < c; m++) { q[j, m] = (double)counts[j * c + m] / total; sum += q[j, m]; }
            // Keep rows exactly stochastic against rounding.
            for (int m = 0; m < c; m++) q[j, m] /= sum;
        }

        long? issueCount = null;
        int cutoffBin = -1;
        if (_selfConfidenceHistogram is not null)
        {
            long count = 0;
            for (int a = 0; a < c; a++)
            {
                long[]? h = _argmaxHistograms![a];
                if (h is null) continue;
                // Bins whose lower edge is at or above t - EPS hold only values >= t - EPS.
                int first = (int)Math.Ceiling((thresholds[a] - ThresholdMargin) * ClassBins);
                for (int b = Math.Max(0, first); b < ClassBins; b++) count += h[b];
            }
            issueCount = count;
            if (count > 0)
            {
                long cumulative = 0;
                for (int b = 0; b < SelfConfidenceBins; b++)
                {
                    cumulative += _selfConfidenceHistogram[b];
                    if (cumulative >= count) { cutoffBin = b; break; }
                }
            }
        }

        return new LabelQualityModel(ClassCount, c, Decoding, _estimate, Options, thresholds, new NoiseTransitionMatrix(q),
            decodedCounts, issueCount, cutoffBin, _images, _pixels, foldThresholds, calibration: null);
    }
}
