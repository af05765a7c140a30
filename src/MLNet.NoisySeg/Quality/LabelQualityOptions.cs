using System.Globalization;
using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Decoding;
using MLNet.NoisySeg.MetaStructure;

namespace MLNet.NoisySeg.Quality;

/// <summary>How the confident-learning baseline decides which pixels carry a label issue.</summary>
/// <remarks>Both rules use the per-class confident thresholds t_k = mean predicted probability of class k over the
/// pixels labelled k (computed over the whole data set), and both finally clear a pixel whose most probable class
/// is its given label, as cleanlab does.</remarks>
public enum PixelIssueRule
{
    /// <summary>
    /// cleanlab's segmentation default (<c>cleanlab.segmentation.filter.find_label_issues</c>, which runs
    /// <c>cleanlab.experimental.label_issues_batched.LabelInspector</c>): estimate the number of issues
    /// n = #{pixels whose most probable class k differs from the label and p_k ≥ t_k}, flag the n pixels of the whole
    /// data set with the lowest self-confidence p_label, then clear those whose most probable class is the label.
    /// The count and the self-confidence cut-off are read from histograms built while fitting (see
    /// <see cref="LabelQualityModel.SelfConfidenceCutoff"/>).
    /// </summary>
    LowSelfConfidence = 0,

    /// <summary>
    /// The confident joint of confident learning (Northcutt, Jiang and Chuang, JAIR 2021; cleanlab's
    /// <c>filter_by="confident_learning"</c>): a pixel labelled j whose classes with p_k ≥ t_k exist is assigned to
    /// the most probable of them, k*; it is flagged when k* ≠ j and its most probable class overall is not j either.
    /// Local to each pixel once the thresholds are known.
    /// </summary>
    ConfidentJoint = 1,
}

/// <summary>
/// Options of label-quality scoring (<see cref="LabelQualityModel"/>): the cleanlab-style baseline (softmin
/// self-confidence, confident thresholds) and the noise-aware meta-structure score. Defaults are validated by
/// <see cref="Validate()"/>; every property is init-only (a record: change one with <c>with</c>). Saved with the fitted
/// model (<see cref="LabelQualityModel.ToBytes"/>).
/// </summary>
public sealed record LabelQualityOptions
{
    /// <summary>cleanlab's default softmin temperature (<c>cleanlab.segmentation.rank.get_label_quality_scores</c>).</summary>
    public const double DefaultSoftminTemperature = 0.1;

    /// <summary>Default box half-width h of the density maps compared by the meta-structure score (window 7 x 7).</summary>
    public const int DefaultBandwidth = 3;

    /// <summary>Default <see cref="NoiseAllowance"/>: a pixel is flagged only where the residual exceeds 2 standard deviations of pure label noise.</summary>
    public const double DefaultNoiseAllowance = 2.0;

    /// <summary>Default <see cref="BoundaryTolerance"/>: one pixel of boundary displacement is forgiven.</summary>
    public const double DefaultBoundaryTolerance = 1.0;

    /// <summary>Largest accepted <see cref="BoundaryTolerance"/>, in pixels.</summary>
    public const double MaxBoundaryTolerance = 1000;

    /// <summary>Largest accepted <see cref="NoiseAllowance"/>.</summary>
    public const double MaxNoiseAllowance = 100;

    /// <summary>
    /// Temperature T of cleanlab's softmin pooling of the per-pixel self-confidences into an image score (default 0.1,
    /// cleanlab's). Small values approach the minimum pixel score, large values the mean. Finite and &gt; 0.
    /// </summary>
    public double SoftminTemperature { get; init; } = DefaultSoftminTemperature;

    /// <summary>The confident-learning rule behind <see cref="ImageLabelQuality.ConfidentIssueCount"/>; default
    /// <see cref="PixelIssueRule.LowSelfConfidence"/> (cleanlab's segmentation default).</summary>
    public PixelIssueRule IssueRule { get; init; } = PixelIssueRule.LowSelfConfidence;

    /// <summary>
    /// How the probabilities become the predicted (decoded) mask the given mask is compared with. Null (default):
    /// binary outputs (1 or 2 planes) are decoded label-free with Otsu's threshold between the two output levels
    /// (<see cref="LabelFreeDecoder.EstimateBinary(IReadOnlyList{float[]}, NoiseTransitionMatrix?, int)"/>, estimated
    /// by <see cref="LabelQualityModel.Fit"/> over all images); more classes use argmax. For multi-class noise that
    /// moves labels to one class (class-wise sampling), pass
    /// <c>LabelFreeDecoder.EstimateLevels(...).ToRule()</c> instead.
    /// </summary>
    public DecodingRule? Decoding { get; init; }

    /// <summary>
    /// Kernel of the density maps (the meta-structure) compared by the meta-structure score. Default: box, h =
    /// <see cref="DefaultBandwidth"/>, valid-pixel border. Larger windows average away more label noise but also
    /// more of a small shift or boundary change.
    /// </summary>
    public DensityOptions Density { get; init; } = new() { Kernel = DensityKernel.Box, Bandwidth = DefaultBandwidth };

    /// <summary>
    /// z ≥ 0, for the structural pixel flags and <see cref="ImageLabelQuality.StructuralExcessMap"/> only: a pixel's
    /// density residual counts as significant where it exceeds z standard deviations of what independent label noise
    /// at the estimated rates would produce, plus the boundary tolerance (default 2). The image score does not
    /// threshold; it subtracts the expected noise instead (see <see cref="MetaStructureScorer"/>).
    /// </summary>
    public double NoiseAllowance { get; init; } = DefaultNoiseAllowance;

    /// <summary>
    /// τ ≥ 0, in pixels: boundary displacement that is forgiven, to absorb the network's own boundary imprecision
    /// (default 1). A boundary moved by d pixels changes the density next to it by about d times the kernel's central
    /// 1-D weight (1/(2h+1) for the box); residuals up to τ times that weight, scaled by the class contrast, are ignored.
    /// </summary>
    public double BoundaryTolerance { get; init; } = DefaultBoundaryTolerance;

    /// <summary>
    /// μ ≥ 0, in pixels: added to the class mass that normalises the meta-structure discrepancy, so that images with
    /// very little of a class do not reach extreme scores from a handful of pixels. Default 0 (purely relative).
    /// </summary>
    public double MassPrior { get; init; }

    /// <summary>
    /// The class left out of the overall meta-structure score (default 0, the background of binary masks, whose
    /// density is one minus the foreground's and would only dilute it). Null scores every class, e.g. for data sets
    /// without a background class such as CamVid. Per-class scores always cover every class.
    /// </summary>
    public int? ExcludedClass { get; init; } = MaskConventions.Background;

    /// <summary>
    /// Mask value that is never scored (default 255, <see cref="MaskConventions.IgnoreIndex"/>). Another value (e.g.
    /// CamVid's raw 11) is treated as ignore too and must not be used as a class; 255 is always ignore.
    /// </summary>
    public byte IgnoreIndex { get; init; } = MaskConventions.IgnoreIndex;

    /// <summary>
    /// Keep the per-pixel maps (self-confidence, decoded mask, issue masks, structural excess) in every
    /// <see cref="ImageLabelQuality"/> (default true). False keeps only scores and counts (about 11 bytes per pixel less).
    /// </summary>
    public bool StorePixelMaps { get; init; } = true;

    /// <summary>Throws when an option is out of range; the exception's ParamName and message name the option.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <exception cref="ArgumentNullException"><see cref="Density"/> is null.</exception>
    public void Validate()
    {
        if (!double.IsFinite(SoftminTemperature) || SoftminTemperature <= 0)
            throw new ArgumentOutOfRangeException(nameof(SoftminTemperature), SoftminTemperature, $"{nameof(SoftminTemperature)} must be a finite number > 0.");
        if (!Enum.IsDefined(IssueRule))
            throw new ArgumentOutOfRangeException(nameof(IssueRule), IssueRule, $"{nameof(IssueRule)} must be LowSelfConfidence or ConfidentJoint.");
        if (Density is null) throw new ArgumentNullException(nameof(Density), $"{nameof(Density)} must not be null.");
        try { Density.Validate(); }
        catch (ArgumentOutOfRangeException e)
        {
            throw new ArgumentOutOfRangeException(nameof(Density), e.ActualValue, $"{nameof(Density)}: {e.Message}");
        }
        if (double.IsNaN(NoiseAllowance) || NoiseAllowance < 0 || NoiseAllowance > MaxNoiseAllowance)
            throw new ArgumentOutOfRangeException(nameof(NoiseAllowance), NoiseAllowance, $"{nameof(NoiseAllowance)} must be in [0, {MaxNoiseAllowance}].");
        if (double.IsNaN(BoundaryTolerance) || BoundaryTolerance < 0 || BoundaryTolerance > MaxBoundaryTolerance)
            throw new ArgumentOutOfRangeException(nameof(BoundaryTolerance), BoundaryTolerance, $"{nameof(BoundaryTolerance)} must be in [0, {MaxBoundaryTolerance}] pixels.");
        if (!double.IsFinite(MassPrior) || MassPrior < 0)
            throw new ArgumentOutOfRangeException(nameof(MassPrior), MassPrior, $"{nameof(MassPrior)} must be a finite number >= 0.");
        if (ExcludedClass is { } c && (c < 0 || c >= MaskConventions.MaxClassCount))
            throw new ArgumentOutOfRangeException(nameof(ExcludedClass), c, $"{nameof(ExcludedClass)} must be null or a class index in [0, {MaskConventions.MaxClassCount - 1}].");
    }

    /// <summary>Checks the options against a data set's class count (after <see cref="Validate()"/>).</summary>
    internal void ValidateFor(int labelClassCount)
    {
        Validate();
        if (IgnoreIndex != MaskConventions.IgnoreIndex && IgnoreIndex < labelClassCount)
            throw new ArgumentOutOfRangeException(nameof(IgnoreIndex), IgnoreIndex,
                $"{nameof(IgnoreIndex)} = {IgnoreIndex} is a class index of this {labelClassCount}-class data set.");
        if (ExcludedClass is { } c && c >= labelClassCount)
            throw new ArgumentOutOfRangeException(nameof(ExcludedClass), c,
                $"{nameof(ExcludedClass)} = {c} is not a class of this {labelClassCount}-class data set.");
    }

    /// <inheritdoc />
    public override string ToString()
    {
        var ci = CultureInfo.InvariantCulture;
        return string.Create(ci,
            $"LabelQuality(T={SoftminTemperature}, rule={IssueRule}, decoding={Decoding?.ToString() ?? "label-free"}, density={Density}, z={NoiseAllowance}, boundary={BoundaryTolerance}px, prior={MassPrior}, excluded={ExcludedClass?.ToString(ci) ?? "none"})");
    }
}
