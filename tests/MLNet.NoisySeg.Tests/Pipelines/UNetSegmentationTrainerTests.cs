using System.IO.Compression;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Data.Synthetic;
using MLNet.NoisySeg.Decoding;
using MLNet.NoisySeg.Evaluation;
using MLNet.NoisySeg.Networks;
using MLNet.NoisySeg.Noise;
using MLNet.NoisySeg.Pipelines;
using MLNet.NoisySeg.Tests.TestSupport;
using MLNet.NoisySeg.Training;

namespace MLNet.NoisySeg.Tests.Pipelines;

[TestClass]
public class UNetSegmentationTrainerTests
{
    internal static UNetSegmentationTrainerOptions SmallOptions(int steps, SegmentationDecoding decoding = SegmentationDecoding.Fixed, int seed = 1) => new()
    {
        ClassCount = 2,
        Decoding = decoding,
        Trainer = new SegmentationTrainerOptions
        {
            Network = new UNetOptions { Depth = 3, BaseWidth = 8 },
            Optimizer = OptimizerKind.Adam,
            LearningRate = 3e-3,
            MaxSteps = steps,
            BatchSize = 4,
            Seed = seed,
            Threads = 2,
        },
    };

    private static readonly Lazy<(MLContext Ml, IDataView Train, IDataView Test, SegmentationTransformer Model)> Clean = new(() =>
    {
        var ml = new MLContext(seed: 0);
        var train = SyntheticFixtures.View(ml, seed: 7, count: 24);
        var test = SyntheticFixtures.View(ml, seed: 7, count: 8, firstIndex: 100);
        var model = ml.Segmentation().Trainers.UNet(SmallOptions(steps: 90)).Fit(train);
        return (ml, train, test, model);
    });

    [TestMethod]
    public void CleanLabels_ReachDice085_OnHeldOutImages()
    {
        var (ml, _, test, model) = Clean.Value;
        var scored = model.Transform(test);
        var metrics = ml.Segmentation().EvaluateBinary(scored);
        Assert.IsTrue(metrics.Dice >= 0.85, $"Dice {metrics.Dice:0.000}");
        Assert.IsTrue(metrics.Auc >= 0.95, $"AUC {metrics.Auc:0.000}");
        var type = (VectorDataViewType)scored.Schema["Probability"].Type;
        CollectionAssert.AreEqual(new[] { 1, 64, 64 }, type.Dimensions.ToArray());
        Assert.AreEqual("threshold(0.5)", model.Decoding.ToString());
    }

    [TestMethod]
    public void Contract_SchemaInvalidInputAndSaveLoad()
    {
        var ml = new MLContext(seed: 0);
        var data = SyntheticFixtures.View(ml, seed: 3, count: 4);
        var invalid = ml.Data.LoadFromEnumerable(new[] { new { Image = new float[] { 1f }, Mask = 2f } });
        EstimatorContract.Check(ml.Segmentation().Trainers.UNet(SmallOptions(steps: 2)), data, invalid, "Probability", "PredictedMask");
    }

    [TestMethod]
    public void OnlineNoise_IsWhatTheNetworkLearns()
    {
        // Online flipping with f = b = 1 inverts every redrawn mask: if the online corruption is really used
        // (instead of the clean column), the network segments the background.
        var ml = new MLContext(seed: 0);
        var train = SyntheticFixtures.View(ml, seed: 7, count: 16);
        var options = SmallOptions(steps: 60);
        var model = ml.Segmentation().Trainers.UNet(new UNetSegmentationTrainerOptions
        {
            Trainer = options.Trainer, Decoding = SegmentationDecoding.Fixed, OnlineNoise = LabelNoiseSpec.Flipping(1, 1), OnlineNoiseSeed = 1,
        }).Fit(train);
        var metrics = ml.Segmentation().EvaluateBinary(model.Transform(train));
        // Dice against the truth is near 0 and specificity collapses: the prediction is the complement.
        Assert.IsTrue(metrics.Dice < 0.3, $"Dice vs truth {metrics.Dice:0.000}");
        Assert.IsTrue(metrics.Specificity < 0.3, $"specificity {metrics.Specificity:0.000}");
        var e = Assert.Throws<ArgumentException>(() => ml.Segmentation().Trainers.UNet(new UNetSegmentationTrainerOptions
        {
            Trainer = options.Trainer, OnlineNoise = LabelNoiseSpec.Sampling(0.1), MaskProvider = (s, _) => s.Mask!,
        }));
        Assert.AreEqual("OnlineNoise", e.ParamName);
    }

    [TestMethod]
    public void ValidationSweep_WithEarlyStopping_ReadsValidationOnce_AndPicksALowThreshold_ForSampledLabels()
    {
        // Online 10% sampling trains on the clean "Mask" column, so the clean validation masks share its name: the
        // paper's protocol sweeps thresholds on them (and the same data drives early stopping on validation_loss).
        var ml = new MLContext(seed: 0);
        var train = SyntheticFixtures.View(ml, seed: 7, count: 24);
        var validation = SyntheticFixtures.View(ml, seed: 7, count: 4, firstIndex: 300);
        var test = SyntheticFixtures.View(ml, seed: 7, count: 8, firstIndex: 100);
        var options = SmallOptions(steps: 150, SegmentationDecoding.ValidationSweep);
        var model = ml.Segmentation().Trainers.UNet(options with
        {
            OnlineNoise = LabelNoiseSpec.Sampling(0.1), OnlineNoiseSeed = 2, ValidationData = validation,
            Trainer = options.Trainer with { ValidateEvery = 50, EarlyStopping = new EarlyStoppingOptions { Patience = 0 } },
        }).Fit(train);
        StringAssert.StartsWith(model.DecodingReport, "validation sweep: threshold");
        StringAssert.Contains(model.DecodingReport, "early stopping: best validation_loss");
        Assert.AreEqual(DecodingRuleKind.Threshold, model.Decoding.Kind);
        Assert.IsFalse(model.Decoding.Inverted);
        Assert.IsTrue(model.Decoding.Threshold < 0.5, $"sampled labels put foreground outputs near 0.1: threshold {model.Decoding.Threshold}");
        var dice = ml.Segmentation().EvaluateBinary(model.Transform(test)).Dice;
        Assert.IsTrue(dice >= 0.75, $"Dice {dice:0.000} ({model.DecodingReport})");
    }

    [TestMethod]
    public void EarlyStopping_OnNoisyValidationLoss_SelectsAStep_WithoutCleanLabels()
    {
        // Held-out images carry the SAME kind of noisy labels as training (10% of foreground kept): no clean mask is used.
        var ml = new MLContext(seed: 0);
        var noise = LabelNoiseSpec.Sampling(0.1);
        var corrupt = ml.Transforms.CorruptLabels(noise, "NoisyMask", "Mask", 3);
        var train = SyntheticFixtures.View(ml, seed: 7, count: 16);
        var validation = corrupt.Fit(train).Transform(SyntheticFixtures.View(ml, seed: 7, count: 4, firstIndex: 200));
        var trainer = SmallOptions(steps: 40, SegmentationDecoding.LabelFree) with { LabelColumnName = "NoisyMask", ValidationData = validation };
        var losses = new List<double>();
        trainer = trainer with
        {
            Trainer = trainer.Trainer with { ValidateEvery = 10, EarlyStopping = new EarlyStoppingOptions { Patience = 0 } },
            Progress = new Inline<TrainingProgress>(p => { if (p.Validation is { } v) losses.Add(v[EarlyStoppingOptions.ValidationLossMetric]); }),
        };
        using var model = corrupt.Append(ml.Segmentation().Trainers.UNet(trainer)).Fit(train).LastTransformer;
        Assert.AreEqual(4, losses.Count);
        Assert.IsTrue(losses.All(l => l > 0 && double.IsFinite(l)), string.Join(", ", losses));
        int best = 10 * (losses.IndexOf(losses.Min()) + 1);
        StringAssert.Contains(model.DecodingReport, $"early stopping: best validation_loss");
        StringAssert.Contains(model.DecodingReport, $"at step {best}, trained to step 40");

        var e = Assert.Throws<ArgumentException>(() => ml.Segmentation().Trainers.UNet(trainer with { ValidationData = null }));
        Assert.AreEqual("ValidationData", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => ml.Segmentation().Trainers.UNet(trainer with { Trainer = trainer.Trainer with { EarlyStopping = new EarlyStoppingOptions { Metric = "dice" } } }));
        Assert.AreEqual("ValidationCallback", e.ParamName);
    }

    private sealed class Inline<T>(Action<T> action) : IProgress<T>
    {
        public void Report(T value) => action(value);
    }

    [TestMethod]
    public void InvalidOptions_NameTheOption()
    {
        var ml = new MLContext();
        var bad = SmallOptions(2);
        var e = Assert.Throws<ArgumentException>(() => ml.Segmentation().Trainers.UNet(new UNetSegmentationTrainerOptions { ClassCount = 1, Trainer = bad.Trainer }));
        Assert.AreEqual("ClassCount", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => ml.Segmentation().Trainers.UNet(new UNetSegmentationTrainerOptions { ClassCount = 3, Trainer = bad.Trainer }));
        Assert.AreEqual("Trainer", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => ml.Segmentation().Trainers.UNet(new UNetSegmentationTrainerOptions { Decoding = SegmentationDecoding.ValidationSweep, Trainer = bad.Trainer }));
        Assert.AreEqual("ValidationData", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => ml.Segmentation().Trainers.UNet(new UNetSegmentationTrainerOptions { Trainer = bad.Trainer with { BatchSize = 0 } }));
        Assert.AreEqual("BatchSize", e.ParamName);
        var data = ml.Data.LoadFromEnumerable(new[] { new { Image = new float[] { 1f }, Mask = new byte[] { 1 } } });
        var e2 = Assert.Throws<ArgumentException>(() => ml.Segmentation().Trainers.UNet(bad).Fit(data));
        StringAssert.Contains(e2.Message, "'Image'");
    }

    [TestMethod]
    public void SaveLoad_FreshContextAndProcess_BitIdentical_AndPredictionEngineWorks()
    {
        var (ml, _, test, model) = Clean.Value;
        using var tmp = TestPaths.NewTemp();
        string zip = Path.Combine(tmp.Path, "unet.zip");
        ml.Model.Save(model, test.Schema, zip);
        var expectedProb = EstimatorContract.Dump(model.Transform(test), "Probability");
        var expectedMask = EstimatorContract.Dump(model.Transform(test), "PredictedMask");

        var ml2 = new MLContext(seed: 5).RegisterNoisySeg();
        var loaded = ml2.Model.Load(zip, out _);
        CollectionAssert.AreEqual(expectedProb, EstimatorContract.Dump(loaded.Transform(test), "Probability"));
        CollectionAssert.AreEqual(expectedMask, EstimatorContract.Dump(loaded.Transform(test), "PredictedMask"));

        // Fresh process: write the test images as a folder, load them there and score with the zip.
        string split = Path.Combine(tmp.Path, "data");
        var items = SegmentationDataView.ReadItems(test);
        SyntheticDataSets.WriteSplit(SyntheticData.FluorescenceBatch(SyntheticFixtures.Nuclei64, 7, 8, 100), split, binary: true);
        var fromDisk = ml.Data.LoadFromSegmentationFolder(split, SegmentationFolderOptions.BinaryMasks());
        var inProcess = EstimatorContract.Dump(model.Transform(fromDisk), "Probability");
        var fresh = EstimatorContract.DumpInFreshProcess(zip, split, "binary:255", "Probability");
        CollectionAssert.AreEqual(inProcess, fresh);

        // PredictionEngine on the loaded model, image only (no mask column).
        var engine = ml2.Model.CreatePredictionEngine<ImageInput, Prediction>(loaded);
        var p = engine.Predict(new ImageInput { Image = items[0].Image });
        var direct = model.Predict(items[0].Image, 1, 64, 64);
        CollectionAssert.AreEqual(direct.Probability, p.Probability);
        CollectionAssert.AreEqual(direct.Mask, p.PredictedMask);
    }

    [TestMethod]
    public void TruncatedOrTamperedZip_FailsClearly()
    {
        var (ml, _, test, model) = Clean.Value;
        using var tmp = TestPaths.NewTemp();
        string zip = Path.Combine(tmp.Path, "unet.zip");
        ml.Model.Save(model, test.Schema, zip);
        var bytes = File.ReadAllBytes(zip);

        string truncated = Path.Combine(tmp.Path, "truncated.zip");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        var ml2 = new MLContext().RegisterNoisySeg();
        var e = Assert.Throws<Exception>(() => ml2.Model.Load(truncated, out _));
        Assert.IsFalse(string.IsNullOrWhiteSpace(e.Message));

        // Tamper with the stored weights: re-pack the zip with one changed byte in the largest entry.
        string tampered = Path.Combine(tmp.Path, "tampered.zip");
        File.Copy(zip, tampered);
        using (var archive = ZipFile.Open(tampered, ZipArchiveMode.Update))
        {
            var entry = archive.Entries.OrderByDescending(x => x.Length).First();
            byte[] content;
            using (var s = entry.Open()) { var ms = new MemoryStream(); s.CopyTo(ms); content = ms.ToArray(); }
            content[content.Length / 2] ^= 0x5A;
            string name = entry.FullName;
            entry.Delete();
            using var w = archive.CreateEntry(name).Open();
            w.Write(content);
        }
        var error = Assert.Throws<Exception>(() =>
        {
            var m = new MLContext().RegisterNoisySeg().Model.Load(tampered, out _);
            EstimatorContract.Dump(m.Transform(test), "Probability");
        });
        Assert.IsFalse(string.IsNullOrWhiteSpace(error.Message));
    }

    [TestMethod]
    public void SampledLabels10Percent_LabelFreeDecodingWorks_WhereFixedThresholdFails()
    {
        var ml = new MLContext(seed: 0);
        var train = SyntheticFixtures.View(ml, seed: 7, count: 24);
        var test = SyntheticFixtures.View(ml, seed: 7, count: 8, firstIndex: 100);
        var options = SmallOptions(steps: 150, SegmentationDecoding.LabelFree);
        var pipeline = ml.Transforms.CorruptLabels(LabelNoiseSpec.Sampling(0.1), seed: 2)
            .Append(ml.Segmentation().Trainers.UNet(new UNetSegmentationTrainerOptions
            {
                LabelColumnName = "NoisyMask", ClassCount = 2, Decoding = SegmentationDecoding.LabelFree, Trainer = options.Trainer,
            }));
        var model = pipeline.Fit(train);
        var seg = (SegmentationTransformer)model.LastTransformer;
        var labelFree = ml.Segmentation().EvaluateBinary(seg.Transform(test));
        // Same network, fixed 0.5 threshold: outputs on foreground sit near 0.1, so almost nothing is predicted.
        var items = SegmentationDataView.ReadItems(test);
        var fixedEval = new BinarySegmentationEvaluator();
        foreach (var it in items)
        {
            var p = seg.Model.PredictProbabilities(it.Image, 1, 64, 64);
            var mask = new byte[p.Length];
            DecodingRule.FixedThreshold.Decode(p, 1, mask);
            fixedEval.Add(it.Mask, mask);
        }
        var fixedDice = fixedEval.GetMetrics().Dice;
        Assert.IsTrue(labelFree.Dice >= 0.75, $"label-free Dice {labelFree.Dice:0.000} ({seg.DecodingReport})");
        Assert.IsTrue(fixedDice < 0.3, $"fixed-0.5 Dice {fixedDice:0.000}");
    }

    [TestMethod]
    public void Flipped90Percent_WithKnownNoise_DecodesInverted_CloseToClean()
    {
        var ml = new MLContext(seed: 0);
        var train = SyntheticFixtures.View(ml, seed: 7, count: 24);
        var test = SyntheticFixtures.View(ml, seed: 7, count: 8, firstIndex: 100);
        var noise = LabelNoiseSpec.Flipping(0.9, 0.9);
        var options = SmallOptions(steps: 150, SegmentationDecoding.LabelFree);
        var pipeline = ml.Transforms.CorruptLabels(noise, seed: 2)
            .Append(ml.Segmentation().Trainers.UNet(new UNetSegmentationTrainerOptions
            {
                LabelColumnName = "NoisyMask", ClassCount = 2, Decoding = SegmentationDecoding.LabelFree, Trainer = options.Trainer,
                KnownNoise = noise.ExpectedTransitionMatrix(),
            }));
        var model = pipeline.Fit(train);
        var seg = (SegmentationTransformer)model.LastTransformer;
        Assert.IsTrue(seg.Decoding.Inverted, seg.DecodingReport);
        var flipped = ml.Segmentation().EvaluateBinary(seg.Transform(test)).Dice;
        var clean = ml.Segmentation().EvaluateBinary(Clean.Value.Model.Transform(test)).Dice;
        Assert.IsTrue(flipped >= clean - 0.12, $"90/90 flipped Dice {flipped:0.000} vs clean {clean:0.000} ({seg.DecodingReport})");
    }

    public sealed class ImageInput
    {
        [VectorType(1, 64, 64)]
        public float[] Image { get; set; } = [];
    }

    public sealed class Prediction
    {
        [VectorType]
        public float[] Probability { get; set; } = [];

        [VectorType]
        public byte[] PredictedMask { get; set; } = [];
    }
}
