using Microsoft.Extensions.DependencyInjection;
using Microsoft.ML;
using MLNet.NoisySeg.Pipelines;
using NoisySeg.Study.Cli;

namespace NoisySeg.Study;

/// <summary>evaluate: model zip + labelled split folder → metrics.</summary>
public sealed class EvaluateVerb : Verb
{
    /// <inheritdoc/>
    public override string Name => "evaluate";
    /// <inheritdoc/>
    public override int Order => 30;
    /// <inheritdoc/>
    public override string Summary => "Score a saved model on a labelled folder (Dice, IoU, AUC, ... or mIoU and per-class IoU).";
    /// <inheritdoc/>
    public override string? Details => "Images are read as in training (the model's size and channels) and masks with the encoding the model "
        + "was trained with (recorded in its zip); --mask-encoding/--foreground/--classes/--ignore are only needed for zips without that record, "
        + "and a value that contradicts the record is refused.";
    /// <inheritdoc/>
    public override IReadOnlyList<string> Examples => ["evaluate --model m.zip --data my/test"];
    /// <inheritdoc/>
    public override IReadOnlyList<CliOption> Options =>
    [
        CliOptions.Model with { Description = "Model zip written by train (required)" },
        CliOptions.Data with { Description = "Labelled split folder with images/ and masks/ (required)", Default = null },
        CliOptions.MaskEncoding with { Default = "the model's" }, CliOptions.Foreground with { Default = "the model's" },
        CliOptions.Classes with { Default = "the model's" }, CliOptions.Ignore with { Default = "the model's" },
    ];

    /// <inheritdoc/>
    public override int Execute(VerbContext context)
    {
        var s = context.Settings;
        string data = VerbSupport.Require(s.Data, "--data", "the labelled split folder with images/ and masks/");
        var loaded = context.Services.GetRequiredService<ModelStore>().Load(VerbSupport.Require(s.Model, "--model", "the model .zip written by train"));
        var view = loaded.Ml.Data.LoadFromSegmentationFolder(data, loaded.FolderOptions(s));
        VerbSupport.PrintMetrics(loaded.Ml, loaded.Model.Transform(view), loaded.Input.ClassCount, data, context.Log);
        return ExitCodes.Ok;
    }
}
