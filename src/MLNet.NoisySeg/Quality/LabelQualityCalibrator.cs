using MLNet.NoisySeg.Core;

namespace MLNet.NoisySeg.Quality;

/// <summary>
/// The calibration pass of label-quality scoring, in streaming form: after <see cref="LabelQualityFitter.Complete"/>,
/// add every image of the data set again (with its fold), then <see cref="Complete"/> gives the model whose
/// contradiction-outlier score is calibrated on the data set (<see cref="ContradictionCalibration"/>).
/// <see cref="LabelQualityModel.Fit"/> runs it for lists. Memory: 2 x C numbers per image.
/// </summary>
/// <remarks>Not thread-safe. The calibration does not depend on the order in which the images are added.</remarks>
public sealed class LabelQualityCalibrator
{
    private readonly LabelQualityModel _model;
    private readonly List<double[]> _statistics = [];

    /// <summary>Starts the calibration of a fitted model.</summary>
    /// <param name="model">The model of the first pass (its thresholds define the statistics).</param>
    public LabelQualityCalibrator(LabelQualityModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
    }

    /// <summary>Images added so far.</summary>
    public int ImageCount => _statistics.Count;

    /// <summary>Adds one image (the same images as the fit, with the same folds).</summary>
    /// <param name="mask">Given labels (width*height): 0..C-1 or the ignore value.</param>
    /// <param name="probabilities">Out-of-sample planar [K, H, W] probabilities in [0, 1].</param>
    /// <param name="width">Image width.</param>
    /// <param name="height">Image height.</param>
    /// <param name="fold">The fold whose model predicted the image, or null.</param>
    /// <exception cref="ArgumentException">Sizes disagree, a label is not a class, or a probability is outside [0, 1].</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="fold"/> is negative.</exception>
    public void Add(ReadOnlySpan<byte> mask, ReadOnlySpan<float> probabilities, int width, int height, int? fold = null)
    {
        QualityPixels.CheckFold(fold);
        Guard.MaskSize(mask.Length, width, height, nameof(mask));
        int n = mask.Length, k = _model.ClassCount, c = _model.LabelClassCount;
        byte[] labels = QualityPixels.NormaliseMask(mask, c, _model.Options.IgnoreIndex, nameof(mask));
        QualityPixels.CheckProbabilities(probabilities, k, n, nameof(probabilities));
        _statistics.Add(ContradictionStatistics.Compute(labels, probabilities, k, c, _model.ThresholdsFor(fold), _model.Options.ExcludedClass));
    }

    /// <summary>The fitted model with its contradiction-outlier score calibrated on the images added.</summary>
    /// <exception cref="InvalidOperationException">No image was added.</exception>
    public LabelQualityModel Complete()
    {
        if (_statistics.Count == 0) throw new InvalidOperationException("No image was added; nothing to calibrate.");
        return _model.WithCalibration(ContradictionCalibration.FromStatistics(_statistics, _model.LabelClassCount, _model.Options.ExcludedClass));
    }
}
