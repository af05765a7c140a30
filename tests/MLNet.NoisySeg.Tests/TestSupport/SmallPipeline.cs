using System.IO.Compression;
using Microsoft.ML;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Networks;
using MLNet.NoisySeg.Noise;
using MLNet.NoisySeg.Pipelines;
using MLNet.NoisySeg.Training;
using MLNet.NoisySeg.Unsupervised;

namespace MLNet.NoisySeg.Tests.TestSupport;

/// <summary>
/// A small fitted pipeline with every NoisySeg transform (the one of Pipelines/Legacy/README.md: label noise,
/// meta-structure, Otsu, adaptive threshold and a tiny U-Net trained for 3 steps) on the four 32x32 images of
/// Pipelines/Legacy/data, for the persistence, typed-error and model-zip fuzz tests.
/// </summary>
internal static class SmallPipeline
{
    public static readonly string[] OutputColumns = ["NoisyMask", "Density", "OtsuMask", "AdaptiveMask", "Probability", "PredictedMask"];

    public static string LegacyFolder => Path.Combine(TestPaths.RepoRoot, "tests", "MLNet.NoisySeg.Tests", "Pipelines", "Legacy");

    public static IDataView LoadData(MLContext ml) => ml.Data.LoadFromSegmentationFolder(Path.Combine(LegacyFolder, "data"), SegmentationFolderOptions.BinaryMasks(255));

    /// <summary>The pipeline; <paramref name="seed"/> changes the network's initialisation (another model, same shapes).</summary>
    public static IEstimator<ITransformer> Estimator(MLContext ml, int seed = 1)
        // TrainingOnly = false: the corruption itself is saved (the default saves a pass-through), so every component persists.
        => ml.Transforms.CorruptLabels(new LabelNoiseOptions
            {
                Noise = LabelNoiseSpec.Sampling(0.5), OutputColumnName = "NoisyMask", InputColumnName = "Mask", Seed = 3, TrainingOnly = false,
            })
            .Append(ml.Transforms.ExtractMetaStructure("Density", "NoisyMask", classCount: 2, bandwidth: 2))
            .Append(ml.Transforms.OtsuThreshold("OtsuMask", "Image"))
            .Append(ml.Transforms.AdaptiveThreshold("AdaptiveMask", "Image", sigma: 3, offset: 0.1, polarity: ThresholdPolarity.Dark))
            .Append(ml.Segmentation().Trainers.UNet(new UNetSegmentationTrainerOptions
            {
                LabelColumnName = "NoisyMask",
                Decoding = SegmentationDecoding.LabelFree,
                Trainer = new SegmentationTrainerOptions { Network = new UNetOptions { Depth = 2, BaseWidth = 4 }, MaxSteps = 3, BatchSize = 2, Seed = seed, Threads = 1 },
            }));

    private static readonly Lazy<(MLContext Ml, IDataView Data, ITransformer Model)> Fitted = new(() =>
    {
        var ml = new MLContext(seed: 0).RegisterNoisySeg();
        var data = LoadData(ml);
        return (ml, data, Estimator(ml).Fit(data));
    });

    /// <summary>The context (NoisySeg registered), the data and the fitted pipeline, fitted once per test run.</summary>
    public static (MLContext Ml, IDataView Data, ITransformer Model) Get() => Fitted.Value;

    /// <summary>Every output column of <paramref name="model"/> on <paramref name="data"/>, as bytes.</summary>
    public static Dictionary<string, byte[]> Outputs(ITransformer model, IDataView data)
    {
        var output = model.Transform(data);
        return OutputColumns.ToDictionary(c => c, c => EstimatorContract.Dump(output, c));
    }

    public static void AssertSameOutputs(Dictionary<string, byte[]> expected, Dictionary<string, byte[]> actual, string context = "")
    {
        foreach (var (column, bytes) in expected)
            CollectionAssert.AreEqual(bytes, actual[column], $"{column} {context}");
    }

    /// <summary>The zip with one entry's content replaced (and its CRC recomputed): what a deliberate edit looks like.</summary>
    public static byte[] WithEntry(byte[] zip, Func<string, bool> select, Func<byte[], byte[]> edit)
    {
        using var ms = new MemoryStream();
        ms.Write(zip);
        using (var archive = new ZipArchive(ms, ZipArchiveMode.Update, leaveOpen: true))
        {
            var entry = archive.Entries.First(e => select(e.FullName));
            byte[] content;
            using (var s = entry.Open())
            {
                var copy = new MemoryStream();
                s.CopyTo(copy);
                content = copy.ToArray();
            }
            string name = entry.FullName;
            entry.Delete();
            using var w = archive.CreateEntry(name).Open();
            w.Write(edit(content));
        }
        return ms.ToArray();
    }

    /// <summary>The zip's entries and their content.</summary>
    public static Dictionary<string, byte[]> Entries(byte[] zip)
    {
        using var archive = new ZipArchive(new MemoryStream(zip), ZipArchiveMode.Read);
        return archive.Entries.ToDictionary(e => e.FullName, e =>
        {
            using var s = e.Open();
            var copy = new MemoryStream();
            s.CopyTo(copy);
            return copy.ToArray();
        });
    }
}
