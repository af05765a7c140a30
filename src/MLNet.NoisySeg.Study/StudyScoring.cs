using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Decoding;
using MLNet.NoisySeg.Evaluation;

namespace MLNet.NoisySeg.Study;

/// <summary>
/// The study's one scoring path: whatever it scores (a decoding of a model's probabilities, a baseline's masks) goes
/// through the catalog a user calls, <c>mlContext.Segmentation().EvaluateBinary/EvaluateMulticlass</c>, on an in-memory
/// view of the clean and predicted masks.
/// </summary>
internal static class StudyScoring
{
    /// <summary>Decodes <paramref name="probabilities"/> with <paramref name="rule"/> and scores the masks against the clean ones.</summary>
    public static StudyScores Score(MLContext ml, DecodingRule rule, IReadOnlyList<float[]> probabilities, IReadOnlyList<byte[]> truth, int classes)
    {
        int k = classes == 2 ? 1 : classes;
        var predicted = new byte[probabilities.Count][];
        for (int i = 0; i < predicted.Length; i++)
        {
            predicted[i] = new byte[truth[i].Length];
            rule.Decode(probabilities[i], k, predicted[i]);
        }
        var view = View(ml, truth, predicted, null);
        return classes == 2
            ? Scores(rule, ml.Segmentation().EvaluateBinary(view, probabilityColumnName: null))
            : Scores(rule, ml.Segmentation().EvaluateMulticlass(view, classes));
    }

    /// <summary>Binary metrics of predicted masks (and, for AUC, foreground scores) against clean masks.</summary>
    public static BinarySegmentationMetrics EvaluateBinary(MLContext ml, IReadOnlyList<byte[]> truth, IReadOnlyList<byte[]> predicted, IReadOnlyList<float[]> probability)
        => ml.Segmentation().EvaluateBinary(View(ml, truth, predicted, probability));

    /// <summary>The study's scores of binary metrics (score = Dice).</summary>
    public static StudyScores Scores(DecodingRule rule, BinarySegmentationMetrics m)
        => new() { Rule = rule.ToString(), Score = m.Dice, Dice = m.Dice, IoU = m.IoU, Accuracy = m.Accuracy };

    /// <summary>The study's scores of multi-class metrics (score = mean IoU).</summary>
    public static StudyScores Scores(DecodingRule rule, MulticlassSegmentationMetrics m) => new()
    {
        Rule = rule.ToString(),
        Score = m.MeanIoU,
        Dice = m.MeanDice,
        IoU = m.MeanIoU,
        Accuracy = m.PixelAccuracy,
        PerClassIoU = m.PerClassIoU.ToArray(),
    };

    private static IDataView View(MLContext ml, IReadOnlyList<byte[]> truth, IReadOnlyList<byte[]> predicted, IReadOnlyList<float[]>? probability)
        => ml.Data.LoadFromEnumerable(truth.Select((t, i) => new ScoredRow { Mask = t, PredictedMask = predicted[i], Probability = probability?[i] ?? [] }));

    private sealed class ScoredRow
    {
        [ColumnName(SegmentationColumnNames.Mask), VectorType] public byte[] Mask { get; set; } = [];
        [ColumnName(SegmentationColumnNames.PredictedMask), VectorType] public byte[] PredictedMask { get; set; } = [];
        [ColumnName(SegmentationColumnNames.Probability), VectorType] public float[] Probability { get; set; } = [];
    }
}
