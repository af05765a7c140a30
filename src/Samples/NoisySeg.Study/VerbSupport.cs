using Microsoft.Extensions.Logging;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.NoisySeg.Data;

namespace NoisySeg.Study;

/// <summary>Small helpers shared by the verbs.</summary>
public static class VerbSupport
{
    /// <summary>The value, or an <see cref="ArgumentException"/> naming the missing option.</summary>
    /// <param name="value">The setting.</param>
    /// <param name="option">The option (e.g. <c>--model</c>).</param>
    /// <param name="what">What it names.</param>
    public static string Require(string? value, string option, string what)
        => string.IsNullOrWhiteSpace(value) ? throw new ArgumentException($"{option} is required: {what}.", option) : value;

    /// <summary>The image column's shape [C, H, W].</summary>
    /// <param name="view">A loaded segmentation folder.</param>
    public static (int C, int H, int W) Shape(IDataView view)
    {
        var d = ((VectorDataViewType)view.Schema[SegmentationColumnNames.Image].Type).Dimensions;
        return (d[0], d[1], d[2]);
    }

    /// <summary>Prints the binary or multi-class metrics of scored rows.</summary>
    /// <param name="ml">The context.</param>
    /// <param name="scored">Rows with the model's outputs and the masks.</param>
    /// <param name="classes">Number of classes.</param>
    /// <param name="folder">The folder scored (for the log).</param>
    /// <param name="log">The logger.</param>
    public static void PrintMetrics(MLContext ml, IDataView scored, int classes, string folder, ILogger log)
    {
        if (classes == 2)
        {
            var m = ml.Segmentation().EvaluateBinary(scored);
            log.LogInformation("Metrics on {Folder}: {Metrics}", folder, m.ToString());
            Console.WriteLine(FormattableString.Invariant($"Dice {m.Dice:0.0000}  IoU {m.IoU:0.0000}  accuracy {m.Accuracy:0.0000}  sensitivity {m.Sensitivity:0.0000}  specificity {m.Specificity:0.0000}  precision {m.Precision:0.0000}  AUC {m.Auc:0.0000}"));
        }
        else
        {
            var m = ml.Segmentation().EvaluateMulticlass(scored, classes);
            log.LogInformation("Metrics on {Folder}: {Metrics}", folder, m.ToString());
            Console.WriteLine(FormattableString.Invariant($"mIoU {m.MeanIoU:0.0000}  pixel accuracy {m.PixelAccuracy:0.0000}  mean Dice {m.MeanDice:0.0000}"));
            Console.WriteLine("per-class IoU: " + string.Join(" ", m.PerClassIoU.Select((v, i) => FormattableString.Invariant($"{i}:{v:0.000}"))));
        }
    }
}
