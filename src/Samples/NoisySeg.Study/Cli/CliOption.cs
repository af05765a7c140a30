using System.CommandLine;
using System.Globalization;
using MLNet.NoisySeg.Noise;
using MLNet.NoisySeg.Study;

namespace NoisySeg.Study.Cli;

/// <summary>
/// One command-line option of the app: its name and aliases, the <see cref="AppSettings"/> property it sets, its help
/// text and default, and the check of its value (an error message that names the option, or null). Verbs pick the
/// options they accept from <see cref="CliOptions"/> (optionally with their own description: <c>CliOptions.Data with
/// { Description = ... }</c>); the command line then only overrides settings, as the last configuration source.
/// </summary>
/// <param name="Name">The option, with its dashes (e.g. <c>--steps</c>).</param>
/// <param name="Setting">The <see cref="AppSettings"/> property the value binds to (e.g. <c>Steps</c>).</param>
/// <param name="Description">Help text.</param>
public sealed record CliOption(string Name, string Setting, string Description)
{
    /// <summary>Other spellings (e.g. <c>-o</c>, <c>--output</c>).</summary>
    public string[] Aliases { get; init; } = [];

    /// <summary>The default shown in help (null: none shown).</summary>
    public string? Default { get; init; }

    /// <summary>The value placeholder shown in help (e.g. <c>N</c>, <c>quick|paper</c>).</summary>
    public string ValueName { get; init; } = "value";

    /// <summary>Returns an error message naming the option for a bad value, or null.</summary>
    public Func<string, string?>? Check { get; init; }

    /// <summary>A System.CommandLine option for one command (every value is one token; the check runs at parse time).</summary>
    public Option<string> Create()
    {
        var option = new Option<string>(Name, Aliases)
        {
            Description = Default is null ? Description : $"{Description} [default: {Default}]",
            HelpName = ValueName,
            Arity = ArgumentArity.ExactlyOne,
        };
        if (Check is { } check)
            option.Validators.Add(result =>
            {
                foreach (var token in result.Tokens)
                    if (check(token.Value) is { } error)
                    {
                        result.AddError(error);
                        return;
                    }
            });
        return option;
    }
}

/// <summary>Every option of the app, defined once; the verbs list the ones they accept.</summary>
public static class CliOptions
{
    private static readonly StudyOptions Quick = StudyOptions.ForProfile(StudyProfile.Quick, [], "");
    private static readonly StudyOptions Paper = StudyOptions.ForProfile(StudyProfile.Paper, [], "");

    private static string ByProfile<T>(Func<StudyOptions, T> pick) => FormattableString.Invariant($"{pick(Quick)} (quick), {pick(Paper)} (paper)");

    /// <summary>--profile quick|paper.</summary>
    public static readonly CliOption Profile = new("--profile", nameof(AppSettings.Profile), "Study profile: network size, budget, image sizes")
    { ValueName = "quick|paper", Default = "quick", Check = OneOf("--profile", "quick", "paper") };

    /// <summary>--data: a data set folder (run) or a split folder (train/evaluate).</summary>
    public static readonly CliOption Data = new("--data", nameof(AppSettings.Data), "Data set folder with train/ and test/ splits (<root>/train, <root>/test)")
    { ValueName = "folder", Default = "the embedded ISBI 2012 + CamVid sets" };

    /// <summary>--name (alias --dataset-name).</summary>
    public static readonly CliOption Name = new("--name", nameof(AppSettings.Name), "Name of the data set given with --data, used in results and plots")
    { Aliases = ["--dataset-name"], ValueName = "name", Default = "the folder's name" };

    /// <summary>--mask-encoding binary|classindex.</summary>
    public static readonly CliOption MaskEncoding = new("--mask-encoding", nameof(AppSettings.MaskEncoding), "How mask files encode classes: binary (one gray value is foreground) or classindex (pixel = class index)")
    { ValueName = "binary|classindex", Default = "binary", Check = OneOf("--mask-encoding", "binary", "classindex", "class-index", "index") };

    /// <summary>--foreground gray value.</summary>
    public static readonly CliOption Foreground = new("--foreground", nameof(AppSettings.Foreground), "Binary masks: the gray value that marks foreground (ISBI 2012: 0)")
    { ValueName = "0-255", Default = "255", Check = Int("--foreground", 0, 255) };

    /// <summary>--classes.</summary>
    public static readonly CliOption Classes = new("--classes", nameof(AppSettings.Classes), "Number of classes (2 = binary; CamVid: 11)")
    { ValueName = "N", Default = "2", Check = Int("--classes", 2, 255) };

    /// <summary>--ignore.</summary>
    public static readonly CliOption Ignore = new("--ignore", nameof(AppSettings.Ignore), "Class-index masks: a value that marks pixels to ignore (CamVid: 11)")
    { ValueName = "V", Check = Int("--ignore", 0, 255) };

    /// <summary>--width.</summary>
    public static readonly CliOption Width = new("--width", nameof(AppSettings.Width), "Resize images and masks to this width")
    { ValueName = "px", Default = "the stored size (run: the profile's size of the embedded sets)", Check = Int("--width", 1, 16384) };

    /// <summary>--height.</summary>
    public static readonly CliOption Height = new("--height", nameof(AppSettings.Height), "Resize images and masks to this height")
    { ValueName = "px", Default = "the stored size (run: the profile's size of the embedded sets)", Check = Int("--height", 1, 16384) };

    /// <summary>--seeds 0,1,2.</summary>
    public static readonly CliOption Seeds = new("--seeds", nameof(AppSettings.Seeds), "Comma-separated seeds; every condition runs once per seed")
    { ValueName = "0,1,2", Default = ByProfile(o => string.Join(",", o.Seeds)), Check = IntList("--seeds") };

    /// <summary>--steps.</summary>
    public static readonly CliOption Steps = new("--steps", nameof(AppSettings.Steps), "Training steps")
    { ValueName = "N", Default = ByProfile(o => o.Steps), Check = Int("--steps", 1, 10_000_000) };

    /// <summary>--batch-size.</summary>
    public static readonly CliOption BatchSize = new("--batch-size", nameof(AppSettings.BatchSize), "Images per training step")
    { ValueName = "N", Default = ByProfile(o => o.BatchSize), Check = Int("--batch-size", 1, 4096) };

    /// <summary>--depth.</summary>
    public static readonly CliOption Depth = new("--depth", nameof(AppSettings.Depth), "U-Net depth (down-sampling levels)")
    { ValueName = "1-8", Default = ByProfile(o => o.Depth), Check = Int("--depth", 1, 8) };

    /// <summary>--base-width.</summary>
    public static readonly CliOption BaseWidth = new("--base-width", nameof(AppSettings.BaseWidth), "U-Net channels of the first level (doubled per level)")
    { ValueName = "N", Default = ByProfile(o => o.BaseWidth), Check = Int("--base-width", 1, 1024) };

    /// <summary>--learning-rate.</summary>
    public static readonly CliOption LearningRate = new("--learning-rate", nameof(AppSettings.LearningRate), "Adam learning rate")
    { ValueName = "x", Default = ByProfile(o => o.LearningRate.ToString(CultureInfo.InvariantCulture)), Check = Positive("--learning-rate") };

    /// <summary>--schedule none|cosine.</summary>
    public static readonly CliOption Schedule = new("--schedule", nameof(AppSettings.Schedule), "Learning-rate schedule")
    { ValueName = "none|cosine", Default = ByProfile(o => o.Schedule.ToString().ToLowerInvariant()), Check = OneOf("--schedule", "none", "cosine", "constant") };

    /// <summary>--budget-every.</summary>
    public static readonly CliOption BudgetEvery = new("--budget-every", nameof(AppSettings.BudgetEvery), "Steps between budget-curve points (0 = no budget curves)")
    { ValueName = "N", Default = ByProfile(o => o.BudgetEvery), Check = Int("--budget-every", 0, int.MaxValue) };

    /// <summary>--crop N|WxH.</summary>
    public static readonly CliOption Crop = new("--crop", nameof(AppSettings.Crop), "Patch training: a random N x N (or W x H) window of every image at every step; prediction and scores use whole images")
    { ValueName = "N|WxH", Default = "whole images (run, quick profile: 128 on ISBI)", Check = CropCheck };

    /// <summary>--online true|false.</summary>
    public static readonly CliOption Online = new("--online", nameof(AppSettings.Online), "Online noise: redraw the corruption every epoch instead of once")
    { ValueName = "true|false", Default = "false", Check = OneOf("--online", "true", "false") };

    /// <summary>--out (aliases -o, --output).</summary>
    public static readonly CliOption Out = new("--out", nameof(AppSettings.Out), "Results folder")
    { Aliases = ["-o", "--output"], ValueName = "folder", Default = "study-output" };

    /// <summary>--shard i/n.</summary>
    public static readonly CliOption Shard = new("--shard", nameof(AppSettings.Shard), "Run only shard i of n (conditions k with k mod n = i) into <out>/shard-i-of-n/")
    { ValueName = "i/n", Default = "0/1", Check = ShardCheck };

    /// <summary>--threads.</summary>
    public static readonly CliOption Threads = new("--threads", nameof(AppSettings.Threads), "libtorch threads")
    { ValueName = "N", Default = "every core", Check = Int("--threads", 1, 1024) };

    /// <summary>--parallel.</summary>
    public static readonly CliOption Parallel = new("--parallel", nameof(AppSettings.Parallel), "Conditions trained at the same time (TorchSharp 0.107 is safe with 1; scale out with --shard)")
    { ValueName = "N", Default = "1", Check = Int("--parallel", 1, 64) };

    /// <summary>--filter.</summary>
    public static readonly CliOption Filter = new("--filter", nameof(AppSettings.Filter), "Comma-separated substrings of the noise text; only matching conditions run (e.g. \"clean,sampling(\")")
    { ValueName = "a,b" , Default = "every condition" };

    /// <summary>--inputs.</summary>
    public static readonly CliOption Inputs = new("--inputs", nameof(AppSettings.Inputs), "Comma-separated result folders to merge")
    { ValueName = "a,b", Default = "every shard-*-of-* folder below --out" };

    /// <summary>--model.</summary>
    public static readonly CliOption Model = new("--model", nameof(AppSettings.Model), "Model zip")
    { ValueName = "file.zip" };

    /// <summary>--test.</summary>
    public static readonly CliOption Test = new("--test", nameof(AppSettings.Test), "Labelled test split folder (images/ + masks/) scored after training")
    { ValueName = "folder", Default = "the training folder" };

    /// <summary>--noise.</summary>
    public static readonly CliOption Noise = new("--noise", nameof(AppSettings.Noise), "Simulated label noise, e.g. sampling(0.1), flipping(0.3), dilate(2), symflip(0.5,classes=11)")
    { ValueName = "spec", Default = "clean", Check = NoiseCheck };

    /// <summary>--seed.</summary>
    public static readonly CliOption Seed = new("--seed", nameof(AppSettings.Seed), "Seed of the noise, the initial weights and the batches")
    { ValueName = "N", Default = "0", Check = Int("--seed", int.MinValue, int.MaxValue) };

    /// <summary>--rounds (unsupervised: iGTT rounds).</summary>
    public static readonly CliOption Rounds = new("--rounds", nameof(AppSettings.Rounds), "iGTT rounds (each: select pseudo-labels, then train --steps steps)")
    { ValueName = "N", Default = "4", Check = Int("--rounds", 1, 10_000) };

    /// <summary>--polarity auto|bright|dark (unsupervised).</summary>
    public static readonly CliOption Polarity = new("--polarity", nameof(AppSettings.Polarity), "Which side of the intensity the structure is on: bright, dark, or auto (iGTT takes the minority side; the thresholds then use the side the test masks show)")
    { ValueName = "auto|bright|dark", Default = "auto", Check = text => text.Trim().ToLowerInvariant() is "auto" or "bright" or "dark" ? null : $"--polarity must be auto, bright or dark; got '{text}'." };

    /// <summary>--decoding labelfree|fixed.</summary>
    public static readonly CliOption Decoding = new("--decoding", nameof(AppSettings.Decoding), "How the trained model turns probabilities into masks: labelfree (levels estimated from its own outputs) or fixed (0.5 / argmax)")
    { ValueName = "labelfree|fixed", Default = "labelfree", Check = OneOf("--decoding", "labelfree", "label-free", "fixed") };

    /// <summary>--images.</summary>
    public static readonly CliOption Images = new("--images", nameof(AppSettings.Images), "Folder of images (or a split folder with images/)")
    { ValueName = "folder" };

    /// <summary>--folds (issues).</summary>
    public static readonly CliOption Folds = new("--folds", nameof(AppSettings.Folds), "k of the k-fold cross-fitting: every image is scored by a model trained on the other folds")
    { ValueName = "N", Default = "5", Check = Int("--folds", 2, 1000) };

    /// <summary>--top (issues).</summary>
    public static readonly CliOption Top = new("--top", nameof(AppSettings.Top), "Overlays written for the N most suspicious images (0 = none)")
    { ValueName = "N", Default = "10", Check = Int("--top", 0, int.MaxValue) };

    /// <summary>--rank-by contradiction|meta-structure|softmin|confident (issues).</summary>
    public static readonly CliOption RankBy = new("--rank-by", nameof(AppSettings.RankBy), "The score the CSV is sorted by and the overlays are chosen by: contradiction (outlier of the data set's confident contradictions), meta-structure (noise-aware density match), softmin (cleanlab's) or confident (share of confident-learning flags)")
    { ValueName = "contradiction|meta-structure|softmin|confident", Default = "contradiction", Check = RankByCheck };

    /// <summary>An error naming <paramref name="option"/> unless the value is an integer in [min, max].</summary>
    public static Func<string, string?> Int(string option, int min, int max) => text =>
    {
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v))
            return $"{option} must be an integer; got '{text}'.";
        if (v < min) return FormattableString.Invariant($"{option} must be at least {min}; got {v}.");
        if (v > max) return FormattableString.Invariant($"{option} must be at most {max}; got {v}.");
        return null;
    };

    private static Func<string, string?> Positive(string option) => text =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v) && v > 0
            ? null : $"{option} must be a number greater than 0; got '{text}'.";

    /// <summary>An error naming <paramref name="option"/> unless the value is one of <paramref name="values"/> (the first two are the documented ones; the others are accepted spellings).</summary>
    private static Func<string, string?> OneOf(string option, params string[] values) => text =>
        values.Contains(text.Trim(), StringComparer.OrdinalIgnoreCase) ? null : $"{option} must be {values[0]} or {values[1]}; got '{text}'.";

    private static Func<string, string?> IntList(string option) => text =>
    {
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return parts.Length > 0 && parts.All(p => int.TryParse(p, NumberStyles.Integer, CultureInfo.InvariantCulture, out _))
            ? null : $"{option} must be comma-separated integers (e.g. 0,1,2); got '{text}'.";
    };

    private static string? RankByCheck(string text)
    {
        try { IssuesOptions.ParseScore(text); return null; }
        catch (ArgumentException) { return $"--rank-by must be contradiction, meta-structure, softmin or confident; got '{text}'."; }
    }

    private static string? CropCheck(string text)
    {
        try
        {
            return AppSettings.ParseCrop(text) is { } c && (c.Width < 1 || c.Height < 1) ? $"--crop must be at least 1 pixel; got '{text}'." : null;
        }
        catch (ArgumentException)
        {
            return $"--crop must be N or WxH in pixels (e.g. 128 or 120x90); got '{text}'.";
        }
    }

    private static string? ShardCheck(string text)
    {
        try { StudyShard.Parse(text); return null; }
        catch (ArgumentException) { return $"--shard must be i/n with 0 <= i < n (e.g. 0/4); got '{text}'."; }
    }

    private static string? NoiseCheck(string text)
    {
        try { LabelNoiseSpec.Parse(text); return null; }
        catch (Exception e) when (e is ArgumentException or FormatException) { return $"--noise: {e.Message}"; }
    }
}
