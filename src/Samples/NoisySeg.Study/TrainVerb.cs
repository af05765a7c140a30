using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.ML;
using MLNet.NoisySeg.Noise;
using MLNet.NoisySeg.Pipelines;
using MLNet.NoisySeg.Study;
using MLNet.NoisySeg.Training;
using NoisySeg.Study.Cli;

namespace NoisySeg.Study;

/// <summary>train: a split folder (+ optional simulated noise) → model zip; prints metrics. Training settings: --profile's, overridden by the command line.</summary>
public sealed class TrainVerb : Verb
{
    /// <inheritdoc/>
    public override string Name => "train";
    /// <inheritdoc/>
    public override int Order => 20;
    /// <inheritdoc/>
    public override string Summary => "Train a U-Net on a folder of images and masks (optionally with simulated label noise) and save it as an ML.NET model zip.";
    /// <inheritdoc/>
    public override string? Details => "The network and budget come from --profile (quick by default), overridden by --steps, --depth, ... "
        + "The zip records how its masks were encoded and the image size, so evaluate and predict read data the same way without being told again. "
        + "Prints the test metrics (--test, else the training folder).";
    /// <inheritdoc/>
    public override IReadOnlyList<string> Examples =>
    [
        "train --data my/train --test my/test --mask-encoding binary --foreground 255 --noise \"sampling(0.1)\" --model m.zip",
        "train --data isbi/train --test isbi/test --foreground 0 --width 256 --height 256 --crop 128 --steps 600 --model isbi.zip",
    ];
    /// <inheritdoc/>
    public override IReadOnlyList<CliOption> Options =>
    [
        CliOptions.Data with { Description = "Training split folder with images/ and masks/ (required)", Default = null },
        CliOptions.Test, CliOptions.Model with { Description = "Model zip to write (required)" },
        CliOptions.MaskEncoding, CliOptions.Foreground, CliOptions.Classes, CliOptions.Ignore,
        CliOptions.Width with { Default = "the stored size" }, CliOptions.Height with { Default = "the stored size" },
        CliOptions.Noise, CliOptions.Seed, CliOptions.Decoding, CliOptions.Profile, CliOptions.Steps, CliOptions.BatchSize, CliOptions.Depth,
        CliOptions.BaseWidth, CliOptions.LearningRate, CliOptions.Schedule, CliOptions.Crop with { Default = "whole images" }, CliOptions.Online,
        CliOptions.Threads,
    ];

    /// <inheritdoc/>
    public override int Execute(VerbContext context)
    {
        var (s, log, ct) = (context.Settings, context.Log, context.Cancellation);
        string data = VerbSupport.Require(s.Data, "--data", "the training split folder with images/ and masks/");
        string model = VerbSupport.Require(s.Model, "--model", "the model .zip to write");
        var noise = LabelNoiseSpec.Parse(s.Noise);
        var folder = s.FolderOptions();
        folder.Validate();
        var profile = s.Training(StudyOptions.ForProfile(s.ParseProfile(), [], s.Out));
        var ml = new MLContext(seed: s.Seed).RegisterNoisySeg();
        var train = ml.Data.LoadFromSegmentationFolder(data, folder);
        var (c, h, w) = VerbSupport.Shape(train);
        int classes = folder.ClassCount;
        var decoding = s.Decoding.ToLowerInvariant() switch
        {
            "labelfree" or "label-free" => SegmentationDecoding.LabelFree,
            "fixed" => SegmentationDecoding.Fixed,
            _ => throw new ArgumentException($"--decoding must be labelfree or fixed; got '{s.Decoding}'.", "Decoding"),
        };
        var known = noise.ExpectedTransitionMatrix(classes); // as is: NoiseAwareDecoding.Plan judges its conditioning
        var progress = new Progress<TrainingProgress>(p => { if (p.Step % 25 == 0 || p.Step == p.TotalSteps) log.LogInformation("step {Step}/{Total} loss {Loss:0.0000}", p.Step, p.TotalSteps, p.Loss); });
        var crop = AppSettings.ParseCrop(s.Crop);
        var trainer = ml.Segmentation().Trainers.UNet(profile.TrainerOptions(noise, s.Seed, c, classes, crop?.Height, crop?.Width) with
        {
            Decoding = decoding,
            KnownNoise = known,
            Progress = progress,
            CancellationToken = ct,
        });
        log.LogInformation("Training on {Data} ({C}x{H}x{W}, {Classes} classes) with noise {Noise}: {Training}", data, c, h, w, classes, noise, profile.DescribeTraining());
        var fitted = ml.Transforms.CorruptLabels(noise, seed: s.Seed).Append(trainer).Fit(train);
        using var seg = fitted.LastTransformer;
        log.LogInformation("Decoding: {Report}", seg.DecodingReport);
        // The model alone (it needs only the Image column), with how its data was read.
        context.Services.GetRequiredService<ModelStore>().Save(ml, seg, train.Schema, model, TrainingRecord.From(folder, noise.ToString()));
        string evalFolder = string.IsNullOrWhiteSpace(s.Test) ? data : s.Test;
        var test = ml.Data.LoadFromSegmentationFolder(evalFolder, s.FolderOptions(width: w, height: h));
        VerbSupport.PrintMetrics(ml, seg.Transform(test), classes, evalFolder, log);
        return ExitCodes.Ok;
    }
}
