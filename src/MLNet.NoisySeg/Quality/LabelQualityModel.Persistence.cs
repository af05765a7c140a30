using System.Text.Json;
using System.Text.Json.Serialization;
using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Decoding;

namespace MLNet.NoisySeg.Quality;

public sealed partial class LabelQualityModel
{
    /// <summary>Version of the format written by <see cref="ToBytes"/> (2 adds the per-fold thresholds and the
    /// contradiction calibration; version 1 states still load, uncalibrated).</summary>
    public const int FormatVersion = 2;

    private static readonly JsonSerializerOptions StateJson = new()
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>
    /// The fitted state as UTF-8 JSON: options, decoding rule (and its label-free estimate), confident thresholds, Q̂,
    /// decoded pixel counts, the issue count and self-confidence cut-off bin, the fit's size, the per-fold thresholds and
    /// the contradiction calibration.
    /// <see cref="FromBytes"/> rebuilds a model that scores every image exactly as this one (doubles round-trip exactly).
    /// The ML.NET transform (<c>mlContext.Transforms.ScoreLabelQuality</c>) stores these bytes in model zips.
    /// </summary>
    public byte[] ToBytes()
    {
        int c = LabelClassCount;
        var q = new double[c][];
        for (int j = 0; j < c; j++)
        {
            q[j] = new double[c];
            for (int m = 0; m < c; m++) q[j][m] = EstimatedNoise[j, m];
        }
        var e = DecodingEstimate;
        var state = new PersistedState(FormatVersion, ClassCount, Decoding.ToString(),
            e is null ? null : [e.Threshold, e.Inverted ? 1 : 0, e.LowLevel, e.HighLevel, e.LowFraction, e.Effectiveness, e.Separation, e.MixtureSeparation],
            Options, (double[])_thresholds.Clone(), q, DecodedPixelCounts.ToArray(), EstimatedIssueCount, _cutoffBin, FitImageCount, FitPixelCount)
        {
            FoldIds = _foldThresholds.Keys.ToArray(),
            FoldThresholds = _foldThresholds.Values.Select(t => (double[])t.Clone()).ToArray(),
            CalibrationCenter = ContradictionCalibration?.Center.ToArray(),
            CalibrationScale = ContradictionCalibration?.Scale.ToArray(),
            CalibrationImages = ContradictionCalibration?.ImageCount ?? 0,
        };
        return JsonSerializer.SerializeToUtf8Bytes(state, StateJson);
    }

    /// <summary>Rebuilds a model from <see cref="ToBytes"/>; the state is checked as a fit would check it.</summary>
    /// <param name="bytes">The bytes written by <see cref="ToBytes"/>.</param>
    /// <exception cref="InvalidDataException">The bytes are not a label-quality model state of a known version, or hold inconsistent values.</exception>
    public static LabelQualityModel FromBytes(ReadOnlySpan<byte> bytes)
    {
        PersistedState? s;
        try { s = JsonSerializer.Deserialize<PersistedState>(bytes, StateJson); }
        catch (JsonException e) { throw new InvalidDataException($"Not a label-quality model state: {e.Message}", e); }
        if (s is null) throw new InvalidDataException("The label-quality model state is empty.");
        if (s.Version is not (1 or FormatVersion))
            throw new InvalidDataException($"Label-quality model state has format version {s.Version}; this library reads versions 1 and {FormatVersion}.");
        try
        {
            SelfConfidence.CheckClassCount(s.ClassCount);
            int c = Math.Max(2, s.ClassCount);
            var options = s.Options ?? throw new InvalidDataException("The label-quality model state has no options.");
            options.ValidateFor(c);
            var rule = DecodingRule.Parse(s.Decoding ?? throw new InvalidDataException("The label-quality model state has no decoding rule."));
            rule.Decode(new float[s.ClassCount], s.ClassCount, new byte[1]); // the rule fits K, as the fitter checks
            Check(s.Thresholds?.Length == c && s.Thresholds.All(t => t >= LabelQualityFitter.MinimumThreshold && t <= 1), "confident thresholds");
            Check(s.EstimatedNoise?.Length == c && s.EstimatedNoise.All(r => r?.Length == c), "Q̂");
            var q = new double[c, c];
            for (int j = 0; j < c; j++)
                for (int m = 0; m < c; m++) q[j, m] = s.EstimatedNoise![j][m];
            var noise = new NoiseTransitionMatrix(q);
            Check(s.DecodedPixelCounts?.Length == c && s.DecodedPixelCounts.All(n => n >= 0), "decoded pixel counts");
            Check(s.CutoffBin >= -1 && s.CutoffBin < LabelQualityFitter.SelfConfidenceBins, "self-confidence cut-off");
            Check(s.EstimatedIssueCount is null or >= 0 && (s.EstimatedIssueCount is null) == (options.IssueRule != PixelIssueRule.LowSelfConfidence), "issue count");
            Check(s.FitImageCount >= 1 && s.FitPixelCount >= 1, "fit size");
            BinaryLevelEstimate? estimate = null;
            if (s.DecodingEstimate is { } d)
            {
                Check(d.Length == 8, "decoding estimate");
                estimate = new BinaryLevelEstimate(d[0], d[1] != 0, d[2], d[3], d[4], d[5], d[6], d[7]);
            }
            var folds = new SortedDictionary<int, double[]>();
            int[] ids = s.FoldIds ?? [];
            double[][] foldThresholds = s.FoldThresholds ?? [];
            Check(ids.Length == foldThresholds.Length && ids.All(f => f >= 0) && ids.Distinct().Count() == ids.Length
                && foldThresholds.All(t => t?.Length == c && t.All(v => v >= LabelQualityFitter.MinimumThreshold && v <= 1)), "per-fold thresholds");
            for (int f = 0; f < ids.Length; f++) folds[ids[f]] = foldThresholds[f];
            ContradictionCalibration? calibration = null;
            if (s.CalibrationCenter is not null || s.CalibrationScale is not null)
            {
                var center = s.CalibrationCenter;
                var scale = s.CalibrationScale;
                Check(center?.Length == 2 * c && scale?.Length == 2 * c && s.CalibrationImages >= 1
                    && Enumerable.Range(0, 2 * c).All(j => double.IsNaN(center[j]) == double.IsNaN(scale![j])
                        && (double.IsNaN(scale[j]) || (double.IsFinite(center[j]) && scale[j] >= ContradictionCalibration.MinimumScale && double.IsFinite(scale[j])))),
                    "contradiction calibration");
                calibration = new ContradictionCalibration(center!, scale!, s.CalibrationImages);
            }
            return new LabelQualityModel(s.ClassCount, c, rule, estimate, options, s.Thresholds!, noise, s.DecodedPixelCounts!,
                s.EstimatedIssueCount, s.CutoffBin, s.FitImageCount, s.FitPixelCount, folds, calibration);
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            throw new InvalidDataException($"The label-quality model state is inconsistent: {e.Message}", e);
        }

        static void Check(bool ok, string what)
        {
            if (!ok) throw new InvalidDataException($"The label-quality model state has invalid {what}.");
        }
    }

    /// <summary>The serialized form (internal; the JSON property names are the format).</summary>
    internal sealed record PersistedState(int Version, int ClassCount, string? Decoding, double[]? DecodingEstimate, LabelQualityOptions? Options,
        double[]? Thresholds, double[][]? EstimatedNoise, long[]? DecodedPixelCounts, long? EstimatedIssueCount, int CutoffBin,
        int FitImageCount, long FitPixelCount)
    {
        /// <summary>Folds with their own thresholds (version 2).</summary>
        public int[]? FoldIds { get; init; }

        /// <summary>Per fold of <see cref="FoldIds"/>, its thresholds (version 2).</summary>
        public double[][]? FoldThresholds { get; init; }

        /// <summary>Contradiction calibration medians, null when uncalibrated (version 2).</summary>
        public double[]? CalibrationCenter { get; init; }

        /// <summary>Contradiction calibration spreads (version 2).</summary>
        public double[]? CalibrationScale { get; init; }

        /// <summary>Images of the calibration (version 2).</summary>
        public int CalibrationImages { get; init; }
    }
}
