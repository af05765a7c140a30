using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Losses;
using MLNet.NoisySeg.Networks;
using MLNet.NoisySeg.Noise;
using MLNet.NoisySeg.Pipelines;
using MLNet.NoisySeg.Study;
using MLNet.NoisySeg.Training;

namespace NoisySeg.Study;

/// <summary>The runner's verbs; each returns the process exit code.</summary>
public sealed partial class Verbs(ILogger<Verbs> log)
{
    /// <summary>run: the study grid (or one shard of it), then the report (unsharded runs).</summary>
    public int Run(AppSettings s, CancellationToken ct)
    {
        var options = s.ToStudyOptions();
        var grid = StudyGrid.ForShard(options);
        log.LogInformation("Study {Profile}: {Count} condition(s) on shard {Shard} ({Datasets}), {Training}, seeds {Seeds}; results in {Folder}",
            options.Profile, grid.Count, options.Shard, string.Join(", ", options.Datasets.Select(d => d.Describe())),
            options.DescribeTraining(), string.Join(",", options.Seeds), Path.GetFullPath(options.ResultsFolder));
        var clock = Stopwatch.StartNew();
        var progress = new LogProgress(log);
        var summary = new StudyRunner(options).Run(progress, ct);
        log.LogInformation("Trained {Ran} condition(s), skipped {Skipped} finished, in {Elapsed:0.0} s", summary.Ran, summary.Skipped, summary.Elapsed.TotalSeconds);
        foreach (var f in summary.Failures)
            log.LogError("Condition {Key} failed ({Error}): {Reason}", f.Key, f.Error, f.Reason);
        if (options.Shard.Count > 1)
        {
            log.LogInformation("Shard {Shard} done. When every shard has finished: merge --out {Out}", options.Shard, options.OutputFolder);
            return 0;
        }
        string report = ReportWriter.Write(options.ResultsFolder, summary.Results, clock.Elapsed, options);
        log.LogInformation("Report: {Report}", Path.GetFullPath(report));
        Console.WriteLine();
        Console.WriteLine(StudySummary.ToMarkdown(summary.Results));
        if (summary.Failures.Count > 0)
        {
            log.LogError("{Count} condition(s) failed; the report lists them and a rerun retries them.", summary.Failures.Count);
            return ExitCodes.ConditionsFailed;
        }
        return 0;
    }

    /// <summary>merge: shard folders → one results table + report in --out.</summary>
    public int Merge(AppSettings s, CancellationToken ct)
    {
        var inputs = string.IsNullOrWhiteSpace(s.Inputs)
            ? StudyResultStore.FindShardFolders(s.Out)
            : s.Inputs.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (inputs.Count == 0)
            throw new ArgumentException($"Inputs: no shard-*-of-* folders with results below '{s.Out}'; pass --inputs a,b,...", "Inputs");
        ct.ThrowIfCancellationRequested();
        var store = StudyResultStore.Merge(inputs, s.Out);
        // Panels live next to each shard's results; the merged report links them relative to --out.
        foreach (var input in inputs.Where(i => Path.GetFullPath(i) != Path.GetFullPath(s.Out)))
        {
            string panels = Path.Combine(input, "panels");
            if (!Directory.Exists(panels)) continue;
            Directory.CreateDirectory(Path.Combine(s.Out, "panels"));
            foreach (var png in Directory.GetFiles(panels, "*.png"))
                File.Copy(png, Path.Combine(s.Out, "panels", Path.GetFileName(png)), overwrite: true);
        }
        log.LogInformation("Merged {Count} result(s) from {Inputs} into {Out}", store.Results.Count, string.Join(", ", inputs), store.JsonLinesPath);
        StudyOptions? options = null;
        try { options = s.ToStudyOptions(checkFolders: false); } catch (ArgumentException) { }
        string report = ReportWriter.Write(s.Out, store.Results, null, options);
        log.LogInformation("Report: {Report}", Path.GetFullPath(report));
        Console.WriteLine(StudySummary.ToMarkdown(store.Results));
        return 0;
    }

    /// <summary>train: a split folder (+ optional simulated noise) → model zip; prints metrics. Training settings: --profile's, overridden by the command line.</summary>
    public int Train(AppSettings s, CancellationToken ct)
    {
        string data = Require(s.Data, "Data", "--data <split folder with images/ and masks/>");
        string model = Require(s.Model, "Model", "--model <output .zip>");
        var noise = LabelNoiseSpec.Parse(s.Noise);
        var folder = s.FolderOptions();
        folder.Validate();
        var profile = s.Training(StudyOptions.ForProfile(s.ParseProfile(), [], s.Out));
        var ml = new MLContext(seed: s.Seed).RegisterNoisySeg();
        var train = ml.Data.LoadFromSegmentationFolder(data, folder);
        var (c, h, w) = Shape(train);
        int classes = s.Classes;
        var decoding = s.Decoding.ToLowerInvariant() switch
        {
            "labelfree" or "label-free" => SegmentationDecoding.LabelFree,
            "fixed" => SegmentationDecoding.Fixed,
            _ => throw new ArgumentException($"Decoding must be labelfree or fixed; got '{s.Decoding}'.", "Decoding"),
        };
        var known = noise.ExpectedTransitionMatrix(classes); // as is: label-free decoding reports a rank-deficient Q
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
        string? dir = Path.GetDirectoryName(Path.GetFullPath(model));
        if (dir is not null) Directory.CreateDirectory(dir);
        ml.Model.Save(seg, train.Schema, model); // the model alone: it needs only the Image column
        log.LogInformation("Saved {Model}", Path.GetFullPath(model));
        string evalFolder = string.IsNullOrWhiteSpace(s.Test) ? data : s.Test;
        var test = ml.Data.LoadFromSegmentationFolder(evalFolder, s.FolderOptions(width: w, height: h));
        PrintMetrics(ml, seg.Transform(test), classes, evalFolder);
        return 0;
    }

    /// <summary>evaluate: model zip + labelled split folder → metrics.</summary>
    public int Evaluate(AppSettings s)
    {
        string data = Require(s.Data, "Data", "--data <split folder with images/ and masks/>");
        var (ml, model, input) = LoadModel(s);
        var view = ml.Data.LoadFromSegmentationFolder(data, s.FolderOptions(width: input.Width, height: input.Height, channels: input.Channels));
        PrintMetrics(ml, model.Transform(view), input.ClassCount, data);
        return 0;
    }

    /// <summary>predict: model zip + images → mask PNGs and overlays in --out.</summary>
    public int Predict(AppSettings s)
    {
        string images = Require(s.Images, "Images", "--images <folder of images, or a split folder with images/>");
        if (!Directory.Exists(images)) throw new DirectoryNotFoundException($"Images: folder '{images}' does not exist.");
        var (ml, model, input) = LoadModel(s);
        bool split = Directory.Exists(Path.Combine(images, SegmentationFolderOptions.Defaults.ImagesFolderName));
        var options = s.FolderOptions(width: input.Width, height: input.Height, channels: input.Channels) with
        {
            LoadMasks = false,
            ImagesFolderName = split ? SegmentationFolderOptions.Defaults.ImagesFolderName : ".",
        };
        var items = SegmentationFolderLoader.Load(images, options);
        var scored = model.Transform(SegmentationDataView.Create(ml, items, input.ImageColumnName ?? SegmentationColumnNames.Image));
        var masks = scored.GetColumn<VBuffer<byte>>(SegmentationColumnNames.PredictedMask).Select(v => v.DenseValues().ToArray()).ToList();
        Directory.CreateDirectory(s.Out);
        for (int i = 0; i < items.Count; i++)
        {
            string stem = Path.GetFileNameWithoutExtension(items[i].Name);
            var mask = input.ClassCount == 2 ? masks[i].Select(v => v == 1 ? (byte)255 : (byte)0).ToArray() : masks[i];
            PngWriter.WriteGray(Path.Combine(s.Out, stem + ".mask.png"), mask, input.Width, input.Height);
            PngWriter.WriteRgb(Path.Combine(s.Out, stem + ".overlay.png"), Overlay(items[i], masks[i], input.ClassCount), input.Width, input.Height);
        }
        log.LogInformation("Wrote {Count} mask(s) and overlay(s) at {W}x{H} to {Out}", items.Count, input.Width, input.Height, Path.GetFullPath(s.Out));
        return 0;
    }

    private static byte[] Overlay(SegmentationItem item, byte[] mask, int classes)
    {
        var rgb = PngWriter.ToRgb(item.Image, item.Channels, item.Height, item.Width);
        for (int i = 0; i < mask.Length; i++)
        {
            if (classes == 2 && mask[i] != 1) continue;
            var (r, g, b) = classes == 2 ? ((byte)255, (byte)40, (byte)40) : StudyPanels.ClassColor(mask[i], classes);
            rgb[3 * i] = Blend(rgb[3 * i], r);
            rgb[3 * i + 1] = Blend(rgb[3 * i + 1], g);
            rgb[3 * i + 2] = Blend(rgb[3 * i + 2], b);
        }
        return rgb;

        static byte Blend(byte image, byte colour) => (byte)Math.Clamp((int)MathF.Round(0.55f * image + 0.45f * colour), 0, 255);
    }

    private (MLContext Ml, ITransformer Model, SegmentationModelInput Input) LoadModel(AppSettings s)
    {
        string zip = Require(s.Model, "Model", "--model <model .zip written by train>");
        if (!File.Exists(zip)) throw new FileNotFoundException($"Model: file '{zip}' does not exist.");
        var ml = new MLContext(seed: 0).RegisterNoisySeg();
        var model = ml.Model.Load(zip, out _);
        var input = SegmentationTransformer.From(model).Input;
        log.LogInformation("Loaded {Zip}: {C}x{H}x{W} input, {Classes} classes", zip, input.Channels, input.Height, input.Width, input.ClassCount);
        return (ml, model, input);
    }

    private void PrintMetrics(MLContext ml, IDataView scored, int classes, string folder)
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

    private static (int C, int H, int W) Shape(IDataView view)
    {
        var d = ((VectorDataViewType)view.Schema[SegmentationColumnNames.Image].Type).Dimensions;
        return (d[0], d[1], d[2]);
    }

    private static string Require(string? value, string name, string hint)
        => string.IsNullOrWhiteSpace(value) ? throw new ArgumentException($"{name} is required: {hint}.", name) : value;

    private sealed class LogProgress(ILogger log) : IProgress<StudyProgress>
    {
        public void Report(StudyProgress p)
        {
            switch (p.Phase)
            {
                case "train" when p.Training is { } t:
                    // A budget point (label-free Dice), or every tenth of the budget: long conditions show they are alive.
                    if (t.Validation is { } v && v.TryGetValue("labelfree", out double lf))
                        log.LogInformation("{Message}, label-free Dice {Score:0.000}, ETA {Eta:hh\\:mm\\:ss}", p.Message, lf, t.Eta);
                    else if (t.Step % Math.Max(1, t.TotalSteps / 10) == 0)
                        log.LogInformation("{Message}, ETA {Eta:hh\\:mm\\:ss}", p.Message, t.Eta);
                    break;
                default:
                    log.LogInformation("{Message}", p.Message);
                    break;
            }
        }
    }
}
