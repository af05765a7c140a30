using System.IO.Compression;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.ML;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Pipelines;

namespace NoisySeg.Study;

/// <summary>
/// How a model was trained, as far as reading data for it is concerned: the mask encoding, foreground value, class count
/// and ignore value of the training masks, and the resize applied to the images. The app stores it in the model zip
/// (entry <see cref="ModelStore.TrainingEntry"/>, beside ML.NET's own entries) so that <c>evaluate</c> and <c>predict</c> read
/// data the way training did without being told again, and refuse an option that contradicts it.
/// </summary>
public sealed record TrainingRecord
{
    /// <summary>Version of this record's layout.</summary>
    public int Format { get; init; } = 1;
    /// <summary>binary | classindex.</summary>
    public string MaskEncoding { get; init; } = "binary";
    /// <summary>Binary masks: the gray value of the foreground.</summary>
    public int ForegroundValue { get; init; } = 255;
    /// <summary>Number of classes (2 = binary).</summary>
    public int ClassCount { get; init; } = 2;
    /// <summary>Class-index masks: the value marking ignored pixels.</summary>
    public int? IgnoreValue { get; init; }
    /// <summary>Width the images were resized to for training; null = trained at the images' stored size.</summary>
    public int? ResizeWidth { get; init; }
    /// <summary>Height the images were resized to for training; null = trained at the images' stored size.</summary>
    public int? ResizeHeight { get; init; }
    /// <summary>Simulated label noise of the training (for the record).</summary>
    public string? Noise { get; init; }
    /// <summary>The app version that trained the model.</summary>
    public string? TrainedBy { get; init; }

    /// <summary>True when training resized the images (prediction then resizes too, and scales the masks back).</summary>
    public bool Resized => ResizeWidth is not null || ResizeHeight is not null;

    /// <summary>The record of a training with these loader options.</summary>
    /// <param name="folder">The training folder's loader options.</param>
    /// <param name="noise">The simulated noise.</param>
    public static TrainingRecord From(SegmentationFolderOptions folder, string noise) => new()
    {
        MaskEncoding = folder.MaskEncoding == MLNet.NoisySeg.Data.MaskEncoding.Binary ? "binary" : "classindex",
        ForegroundValue = folder.ForegroundValue,
        ClassCount = folder.ClassCount,
        IgnoreValue = folder.IgnoreValue,
        ResizeWidth = folder.Width,
        ResizeHeight = folder.Height,
        Noise = noise,
        TrainedBy = "noisyseg " + AppInfo.Version,
    };

    /// <summary>"binary masks, foreground 0" / "class-index masks, 11 classes, ignore 11".</summary>
    public string Describe() => MaskEncoding == "binary"
        ? $"binary masks, foreground {ForegroundValue}"
        : $"class-index masks, {ClassCount} classes" + (IgnoreValue is int v ? $", ignore {v}" : "");
}

/// <summary>A model read by <see cref="ModelStore.Load"/>: its context, the pipeline, the segmentation model in it, and how it was trained (null for zips without the record).</summary>
/// <param name="Ml">The context the model was loaded into (NoisySeg registered).</param>
/// <param name="Model">The loaded pipeline.</param>
/// <param name="Segmentation">The segmentation model inside it.</param>
/// <param name="Training">How it was trained; null when the zip does not say (written by another program or an older app).</param>
public sealed record LoadedModel(MLContext Ml, ITransformer Model, SegmentationTransformer Segmentation, TrainingRecord? Training)
{
    /// <summary>What the model reads (image column, channels, size, classes).</summary>
    public SegmentationModelInput Input => Segmentation.Input;

    /// <summary>
    /// Loader options for data scored by this model: the recorded mask encoding (an explicit option that contradicts it
    /// is refused), the model's channels and size. Without a record: the settings, with the model's class count.
    /// </summary>
    /// <param name="s">The settings (command line, environment, appsettings.json).</param>
    /// <exception cref="ArgumentException">An option contradicts how the model was trained.</exception>
    public SegmentationFolderOptions FolderOptions(AppSettings s)
    {
        var input = Input;
        if (s.Classes is int classes && classes != input.ClassCount)
            throw Contradiction("--classes", classes.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (Training is not { } t)
            return s.FolderOptions(width: input.Width, height: input.Height, channels: input.Channels) with { ClassCount = input.ClassCount };
        var encoding = t.MaskEncoding == "binary" ? MaskEncoding.Binary : MaskEncoding.ClassIndex;
        if (s.MaskEncoding is not null && s.ParseEncoding() != encoding) throw Contradiction("--mask-encoding", s.MaskEncoding);
        if (encoding == MaskEncoding.Binary && s.Foreground is int f && f != t.ForegroundValue)
            throw Contradiction("--foreground", f.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (s.Ignore is int ignore && t.IgnoreValue is int recorded && ignore != recorded)
            throw Contradiction("--ignore", ignore.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return new SegmentationFolderOptions
        {
            MaskEncoding = encoding,
            ForegroundValue = t.ForegroundValue,
            ClassCount = input.ClassCount,
            IgnoreValue = t.IgnoreValue ?? s.Ignore,
            Width = input.Width,
            Height = input.Height,
            Channels = input.Channels,
        };
    }

    private ArgumentException Contradiction(string option, string value)
    {
        string trained = Training?.Describe() ?? $"{Input.ClassCount} classes";
        return new ArgumentException($"{option} {value} contradicts the model, which was trained on {trained}; leave {option} out to use the model's.", option);
    }
}

/// <summary>
/// The app's one place that saves and loads model zips. A saved zip is a plain ML.NET model (loadable with
/// <c>mlContext.RegisterNoisySeg().Model.Load</c>) plus one small JSON entry, the <see cref="TrainingRecord"/>.
/// </summary>
public sealed class ModelStore(ILogger<ModelStore> log)
{
    /// <summary>The zip entry holding the <see cref="TrainingRecord"/> (ML.NET ignores entries it does not know).</summary>
    public const string TrainingEntry = "NoisySeg.Study/training.json";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>
    /// Saves <paramref name="model"/> with its training record to <paramref name="path"/>: written to a temporary file
    /// next to it, completed, then moved over <paramref name="path"/>, so a failed save never leaves a half-written model.
    /// </summary>
    /// <param name="ml">The context.</param>
    /// <param name="model">The model.</param>
    /// <param name="schema">The input schema.</param>
    /// <param name="path">The .zip to write.</param>
    /// <param name="training">How it was trained.</param>
    public void Save(MLContext ml, ITransformer model, DataViewSchema schema, string path, TrainingRecord training)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string temp = full + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            ml.Model.Save(model, schema, temp);
            using (var zip = ZipFile.Open(temp, ZipArchiveMode.Update))
            using (var entry = zip.CreateEntry(TrainingEntry).Open())
                JsonSerializer.Serialize(entry, training, Json);
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
        log.LogInformation("Saved {Model} ({Training})", full, training.Describe());
    }

    /// <summary>Loads a model zip written by <see cref="Save"/> (or any NoisySeg model zip).</summary>
    /// <param name="path">The .zip.</param>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">The file is not a readable NoisySeg model (corrupt, truncated, tampered or another kind of zip).</exception>
    public LoadedModel Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"--model: file '{path}' does not exist.", path);
        var ml = new MLContext(seed: 0).RegisterNoisySeg();
        TrainingRecord? training;
        ITransformer model;
        SegmentationTransformer segmentation;
        try
        {
            using (var zip = ZipFile.OpenRead(path))
            {
                var entry = zip.GetEntry(TrainingEntry);
                if (entry is null) training = null;
                else
                {
                    using var stream = entry.Open();
                    training = JsonSerializer.Deserialize<TrainingRecord>(stream, Json);
                }
            }
            model = ml.Model.Load(path, out _);
            segmentation = SegmentationTransformer.From(model);
        }
        catch (Exception e) when (e is not (OperationCanceledException or OutOfMemoryException or FileNotFoundException))
        {
            throw new InvalidDataException($"--model: '{path}' is not a readable NoisySeg model zip: {OneLine(e.Message)}", e);
        }
        var input = segmentation.Input;
        if (training is null)
            log.LogWarning("{Zip} does not record how it was trained; reading data with --mask-encoding/--foreground/--classes as given (defaults: binary, 255)", path);
        log.LogInformation("Loaded {Zip}: {C}x{H}x{W} input, {Classes} classes{Training}", path, input.Channels, input.Height, input.Width, input.ClassCount,
            training is null ? "" : ", trained on " + training.Describe());
        return new LoadedModel(ml, model, segmentation, training);
    }

    private static string OneLine(string text) => string.Join(' ', text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}

/// <summary>The app's version (the informational version without the source revision).</summary>
public static class AppInfo
{
    /// <summary>e.g. 0.1.0.</summary>
    public static string Version { get; } = (typeof(AppInfo).Assembly
        .GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
        .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion ?? "0.0.0").Split('+')[0];
}
