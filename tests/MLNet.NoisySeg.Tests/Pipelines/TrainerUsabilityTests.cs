using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Data.Synthetic;
using MLNet.NoisySeg.Losses;
using MLNet.NoisySeg.Networks;
using MLNet.NoisySeg.Pipelines;
using MLNet.NoisySeg.Tests.TestSupport;
using MLNet.NoisySeg.Training;
using MLNet.NoisySeg.Unsupervised;

namespace MLNet.NoisySeg.Tests.Pipelines;

/// <summary>
/// Issue 13: training reports to MLContext.Log; the options overload infers what the simple one infers and refuses what
/// cannot be right; the traps a new user met (Otsu polarity, ExtractMetaStructure class count, EvaluateBinary on a
/// threshold's output, LoadOne with channels 0) are handled; no NNPACK noise from scoring in a fresh process.
/// </summary>
[TestClass]
public class TrainerUsabilityTests
{
    [TestMethod]
    public void Training_ReportsLossValidationAndEta_ToMLContextLog_EveryNSteps()
    {
        var ml = new MLContext(seed: 0);
        var messages = new List<string>();
        ml.Log += (_, e) =>
        {
            if (e.Source.Contains(nameof(UNetSegmentationTrainer), StringComparison.Ordinal))
                lock (messages) messages.Add(e.RawMessage);
        };
        var train = SyntheticFixtures.View(ml, seed: 7, count: 8);
        var small = UNetSegmentationTrainerTests.SmallOptions(steps: 8);
        ml.Segmentation().Trainers.UNet(small with
        {
            LogEvery = 2,
            Trainer = small.Trainer with { ValidateEvery = 4 },
            ValidationCallback = (step, _) => new Dictionary<string, double> { ["probe"] = step },
        }).Fit(train);

        var steps = messages.Where(m => m.StartsWith("step ", StringComparison.Ordinal)).ToList();
        CollectionAssert.AreEqual(new[] { "step 2/8", "step 4/8", "step 6/8", "step 8/8" }, steps.Select(m => m[..m.IndexOf(' ', 5)]).ToArray(),
            string.Join("\n", messages));
        Assert.IsTrue(steps.All(m => m.Contains("loss ") && m.Contains("ETA ")), string.Join("\n", steps));
        StringAssert.Contains(steps[1], "validation probe 4.0000");
        Assert.IsTrue(messages.Any(m => m.StartsWith("training a U-Net on 8 images 1x64x64")), string.Join("\n", messages));
        Assert.IsTrue(messages.Any(m => m.StartsWith("decoding: ")), string.Join("\n", messages));
    }

    [TestMethod]
    public void OptionsOverload_InfersOutputChannelsLossAndInputChannels_LikeTheSimpleOverload()
    {
        var ml = new MLContext(seed: 0);
        // Three classes, three image channels: the defaults (OutputChannels 1, Bce, InputChannels 1) are filled in.
        var items = SyntheticFixtures.Items(seed: 3, count: 4).Select(i => i with
        {
            Image = [.. i.Image, .. i.Image, .. i.Image], Channels = 3, Mask = i.Mask!.Select(v => (byte)(v == 1 ? 2 : 0)).ToArray(),
        }).ToList();
        items[0].Mask![0] = 1;
        var data = SegmentationDataView.Create(ml, items);
        var small = UNetSegmentationTrainerTests.SmallOptions(steps: 2);
        var trainer = ml.Segmentation().Trainers.UNet(small with { ClassCount = 3 });
        Assert.AreEqual(3, trainer.Options.Trainer.Network.OutputChannels);
        Assert.AreEqual(LossKind.CrossEntropy, trainer.Options.Trainer.Loss);
        var model = trainer.Fit(data);
        Assert.AreEqual(3, model.Input.Channels);
        Assert.AreEqual(3, model.Model.Network.Options.InputChannels);
        var type = (VectorDataViewType)model.Transform(data).Schema[SegmentationColumnNames.Probability].Type;
        CollectionAssert.AreEqual(new[] { 3, 64, 64 }, type.Dimensions.ToArray());

        // Set explicitly to something that cannot be right: refused, naming the option and what is needed.
        var wrongOut = small with { ClassCount = 3, Trainer = small.Trainer with { Network = small.Trainer.Network with { OutputChannels = 2 } } };
        var e1 = Assert.ThrowsExactly<ArgumentException>(() => ml.Segmentation().Trainers.UNet(wrongOut));
        StringAssert.Contains(e1.Message, "OutputChannels is 2; ClassCount 3 needs 3");
        var wrongLoss = small with { ClassCount = 3, Trainer = small.Trainer with { Loss = LossKind.BceDice } };
        var e2 = Assert.ThrowsExactly<ArgumentException>(() => ml.Segmentation().Trainers.UNet(wrongLoss));
        StringAssert.Contains(e2.Message, "Trainer.Loss BceDice");
        var wrongIn = small with { ClassCount = 3, Trainer = small.Trainer with { Network = small.Trainer.Network with { InputChannels = 2 } } };
        var e3 = Assert.ThrowsExactly<ArgumentException>(() => ml.Segmentation().Trainers.UNet(wrongIn).Fit(data));
        StringAssert.Contains(e3.Message, "has 3 channels; Trainer.Network.InputChannels is 2");
    }

    [TestMethod]
    public void ClassCountAboveTheMasks_IsRefused_ByMetaStructureAndTrainer()
    {
        var ml = new MLContext(seed: 0);
        var binary = SyntheticFixtures.View(ml, seed: 3, count: 2);
        var e = Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.ExtractMetaStructure(classCount: 3).Fit(binary));
        StringAssert.Contains(e.Message, "binary masks");
        StringAssert.Contains(e.Message, "ClassCount = 2");
        var e2 = Assert.ThrowsExactly<ArgumentException>(() =>
            ml.Segmentation().Trainers.UNet(UNetSegmentationTrainerTests.SmallOptions(steps: 1) with { ClassCount = 3 }).Fit(binary));
        StringAssert.Contains(e2.Message, "binary masks");
        // Class 1 in masks fitted with... the right count works.
        Assert.IsNotNull(ml.Transforms.ExtractMetaStructure(classCount: 2).Fit(binary));
    }

    [TestMethod]
    public void OtsuThreshold_DecidesPolarityFromTheData_AndEvaluateBinaryReadsItsOutput()
    {
        // Dark structures on a bright field (EM membranes): inverted nuclei images.
        var ml = new MLContext(seed: 0);
        var items = SyntheticFixtures.Items(seed: 5, count: 4);
        var dark = items.Select(i => i with { Image = i.Image.Select(v => -v).ToArray() }).ToList();
        foreach (var (set, expected) in new[] { (items, ThresholdPolarity.Bright), (dark, ThresholdPolarity.Dark) })
        {
            var view = SegmentationDataView.Create(ml, set);
            var otsu = ml.Transforms.OtsuThreshold().Fit(view);
            Assert.AreEqual(expected, otsu.Polarity);
            // No probability column: AUC is skipped instead of failing.
            var metrics = ml.Segmentation().EvaluateBinary(otsu.Transform(view));
            Assert.IsTrue(metrics.Dice > 0.5, $"{expected}: Dice {metrics.Dice:0.000}");
            Assert.IsTrue(double.IsNaN(metrics.Auc));
        }
        // A probability column named explicitly must exist.
        var view2 = SegmentationDataView.Create(ml, items);
        var scored = ml.Transforms.OtsuThreshold().Fit(view2).Transform(view2);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Segmentation().EvaluateBinary(scored, probabilityColumnName: "Score"));
    }

    [TestMethod]
    public void LoadOne_ChannelsZero_KeepsTheFileAsStored()
    {
        using var tmp = TestPaths.NewTemp();
        SyntheticDataSets.WriteSplit(SyntheticData.FluorescenceBatch(SyntheticFixtures.Nuclei64, 3, 1), tmp.Path, binary: true);
        string file = Directory.GetFiles(Path.Combine(tmp.Path, "images")).Single();
        var gray = SegmentationFolderLoader.LoadOne(file, null, 0, SegmentationFolderOptions.BinaryMasks());
        Assert.AreEqual(1, gray.Channels);
        var rgb = SegmentationFolderLoader.LoadOne(file, null, 3, SegmentationFolderOptions.BinaryMasks());
        Assert.AreEqual(3, rgb.Channels);
        CollectionAssert.AreEqual(gray.Image, rgb.Image.AsSpan(0, 64 * 64).ToArray());
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => SegmentationFolderLoader.LoadOne(file, null, 2, SegmentationFolderOptions.BinaryMasks()));
    }

    [TestMethod]
    public void ScoringSmallImagesInAFreshProcess_PrintsNoNnpackWarning()
    {
        // libtorch logs "Could not initialize NNPACK!" for every small single-image convolution on CPUs without NNPACK
        // support; the convolution route computes those itself. The probe scores 64x64 images one by one.
        var ml = new MLContext(seed: 0);
        var train = SyntheticFixtures.View(ml, seed: 7, count: 4);
        var model = ml.Segmentation().Trainers.UNet(UNetSegmentationTrainerTests.SmallOptions(steps: 2)).Fit(train);
        using var tmp = TestPaths.NewTemp();
        string zip = Path.Combine(tmp.Path, "model.zip");
        ml.Model.Save(model, train.Schema, zip);
        string split = Path.Combine(tmp.Path, "data");
        SyntheticDataSets.WriteSplit(SyntheticData.FluorescenceBatch(SyntheticFixtures.Nuclei64, 7, 3), split, binary: true);
        var (bytes, output) = EstimatorContract.RunProbe(zip, split, "binary:255", SegmentationColumnNames.PredictedMask);
        Assert.AreEqual(3 * 64 * 64, bytes.Length);
        Assert.IsFalse(output.Contains("NNPACK", StringComparison.Ordinal), output);
    }
}
