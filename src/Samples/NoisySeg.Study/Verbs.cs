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

    /// <summary>train: a split folder (+ optional simulated noise) → model zip; prints metrics.</summary>
    public int Train(AppSettings s, CancellationToken ct)
    {
        string data = Require(s.Data, "Data", "--data <split folder with images/ and masks/>");
        string model = Require(s.Model, "Model", "--model <output .zip>");
        var noise = LabelNoiseSpec.Parse(s.Noise);
        var folder = s.FolderOptions();
        folder.Validate();
        var ml = new MLContext(seed: s.Seed).RegisterNoisySeg();
        var train = ml.Data.LoadFromSegmentationFolder(data, folder);
        var (c, h, w) = Shape(train);
        int classes = s.Classes, k = classes == 2 ? 1 : classes;
        var decoding = s.Decoding.ToLowerInvariant() switch
        {
            "labelfree" or "label-free" => SegmentationDecoding.LabelFree,
            "fixed" => SegmentationDecoding.Fixed,
            _ => throw new ArgumentException($"Decoding must be labelfree or fixed; got '{s.Decoding}'.", "Decoding"),
        };
        int steps = s.Steps ?? 300;
        var known = noise.ExpectedTransitionMatrix(classes) is { } q && Math.Abs(q.Determinant()) > 1e-9 ? q : null;
        var progress = new Progress<TrainingProgress>(p => { if (p.Step % 25 == 0 || p.Step == p.TotalSteps) log.LogInformation("step {Step}/{Total} loss {Loss:0.0000}", p.Step, p.TotalSteps, p.Loss); });
        var crop = AppSettings.ParseCrop(s.Crop);
        bool online = s.Online ?? false;
        var trainer = ml.Segmentation().Trainers.UNet(new UNetSegmentationTrainerOptions
        {
            // Online noise: the trainer reads the clean masks and redraws the corruption every epoch.
            LabelColumnName = online ? "Mask" : "NoisyMask",
            OnlineNoise = online ? noise : null,
            OnlineNoiseSeed = s.Seed,
            ClassCount = classes,
            Decoding = decoding,
            KnownNoise = known,
            Progress = progress,
            CancellationToken = ct,
            Trainer = new SegmentationTrainerOptions
            {
                Network = new UNetOptions { InputChannels = c, OutputChannels = k, Depth = s.Depth ?? 3, BaseWidth = s.BaseWidth ?? 16 },
                Loss = classes == 2 ? LossKind.Bce : LossKind.CrossEntropy,
                LearningRate = s.LearningRate ?? 3e-3,
                Schedule = s.ParseSchedule() ?? LearningRateSchedule.None,
                MaxSteps = steps,
                BatchSize = s.BatchSize ?? 4,
                Seed = s.Seed,
                Threads = s.Threads,
                CropWidth = crop?.Width,
                CropHeight = crop?.Height,
            },
        });
        log.LogInformation("Training on {Data} ({C}x{H}x{W}, {Classes} classes) with noise {Noise}, {Steps} steps", data, c, h, w, classes, noise, steps);
        var fitted = ml.Transforms.CorruptLabels(noise, "NoisyMask", "Mask", s.Seed).Append(trainer).Fit(train);
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
        var (ml, model, c, h, w, k) = LoadModel(s);
        var view = ml.Data.LoadFromSegmentationFolder(data, s.FolderOptions(width: w, height: h, channels: c));
        PrintMetrics(ml, model.Transform(view), k == 1 ? 2 : k, data);
        return 0;
    }

    /// <summary>predict: model zip + images → mask PNGs and overlays in --out.</summary>
    public int Predict(AppSettings s)
    {
        string images = Require(s.Images, "Images", "--images <folder of images, or a split folder with images/>");
        if (!Directory.Exists(images)) throw new DirectoryNotFoundException($"Images: folder '{images}' does not exist.");
        var (ml, model, c, h, w, k) = LoadModel(s);
        bool split = Directory.Exists(Path.Combine(images, "images"));
        var options = s.FolderOptions(requireMasks: false, width: w, height: h, channels: c, imagesFolder: split ? "images" : ".", masksFolder: "__no_masks__");
        var items = SegmentationFolderLoader.Load(images, options);
        var view = SegmentationDataView.Create(ml, items.Select(i => i with { Mask = null }).ToList());
        var scored = model.Transform(view);
        var masks = scored.GetColumn<VBuffer<byte>>("PredictedMask").Select(v => v.DenseValues().ToArray()).ToList();
        int classes = k == 1 ? 2 : k;
        Directory.CreateDirectory(s.Out);
        for (int i = 0; i < items.Count; i++)
        {
            string stem = Path.GetFileNameWithoutExtension(items[i].Name);
            var mask = classes == 2 ? masks[i].Select(v => v == 1 ? (byte)255 : (byte)0).ToArray() : masks[i];
            PngWriter.WriteGray(Path.Combine(s.Out, stem + ".mask.png"), mask, w, h);
            PngWriter.WriteRgb(Path.Combine(s.Out, stem + ".overlay.png"), Overlay(items[i], masks[i], classes), w, h);
        }
        log.LogInformation("Wrote {Count} mask(s) and overlay(s) at {W}x{H} to {Out}", items.Count, w, h, Path.GetFullPath(s.Out));
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

    private (MLContext Ml, ITransformer Model, int C, int H, int W, int K) LoadModel(AppSettings s)
    {
        string zip = Require(s.Model, "Model", "--model <model .zip written by train>");
        if (!File.Exists(zip)) throw new FileNotFoundException($"Model: file '{zip}' does not exist.");
        var ml = new MLContext(seed: 0).RegisterNoisySeg();
        var model = ml.Model.Load(zip, out var schema);
        var image = schema.GetColumnOrNull("Image") ?? throw new InvalidDataException($"Model: '{zip}' has no Image input column; was it written by train?");
        var dims = ((VectorDataViewType)image.Type).Dimensions;
        int c, h, w;
        if (dims.Length == 3) (c, h, w) = (dims[0], dims[1], dims[2]);
        else if (s.Width is int ww && s.Height is int hh) (c, h, w) = (1, hh, ww);
        else throw new ArgumentException("Width: the model does not record its image size; pass --width and --height.", "Width");
        // K (1 = binary) from the model's probability column [K, H, W]; --classes when the schema does not record it.
        var prob = model.GetOutputSchema(schema).GetColumnOrNull("Probability");
        int k = prob?.Type is VectorDataViewType { Dimensions.Length: 3 } pt ? pt.Dimensions[0] : (s.Classes == 2 ? 1 : s.Classes);
        log.LogInformation("Loaded {Zip}: {C}x{H}x{W} input, {Classes} classes", zip, c, h, w, k == 1 ? 2 : k);
        return (ml, model, c, h, w, k);
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
        var d = ((VectorDataViewType)view.Schema["Image"].Type).Dimensions;
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
