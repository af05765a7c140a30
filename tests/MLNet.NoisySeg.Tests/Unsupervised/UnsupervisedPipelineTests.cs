using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Networks;
using MLNet.NoisySeg.Pipelines;
using MLNet.NoisySeg.Tests.TestSupport;
using MLNet.NoisySeg.Unsupervised;

namespace MLNet.NoisySeg.Tests.Unsupervised;

[TestClass]
public class UnsupervisedPipelineTests
{
    private static IDataView ImagesOnly(MLContext ml, int count)
    {
        var items = IgttTrainingTests.Items(count, 0).Select(i => i with { Mask = null }).ToList();
        return SegmentationDataView.Create(ml, items);
    }

    [TestMethod]
    public void OtsuThreshold_ContractAndValues()
    {
        var ml = new MLContext(seed: 0);
        var data = ImagesOnly(ml, 3);
        var invalid = ml.Data.LoadFromEnumerable(new[] { new { Image = 1f } });
        var model = EstimatorContract.Check(ml.Transforms.OtsuThreshold("Otsu"), data, invalid, "Otsu");
        var items = SegmentationDataView.ReadItems(data, maskColumnName: null);
        var masks = model.Transform(data).GetColumn<VBuffer<byte>>("Otsu").Select(v => v.DenseValues().ToArray()).ToList();
        var type = (VectorDataViewType)model.GetOutputSchema(data.Schema)["Otsu"].Type;
        CollectionAssert.AreEqual(new[] { 64, 64 }, type.Dimensions.ToArray());
        for (int i = 0; i < items.Count; i++)
        {
            var expected = new byte[64 * 64];
            ThresholdBaselines.Otsu(items[i].Image, 1, 64, 64, ThresholdPolarity.Bright, expected);
            CollectionAssert.AreEqual(expected, masks[i]);
            double fg = expected.Count(v => v == 1) / 4096.0;
            Assert.IsTrue(fg is > 0.1 and < 0.6, $"foreground {fg}");
        }
        // Dark polarity is the complement (no pixel equals Otsu's threshold here).
        var dark = ml.Transforms.OtsuThreshold("Otsu", polarity: ThresholdPolarity.Dark).Fit(data).Transform(data)
            .GetColumn<VBuffer<byte>>("Otsu").First().DenseValues().ToArray();
        Assert.IsTrue(dark.Zip(masks[0]).Count(z => z.First + z.Second == 1) > 4000);
    }

    [TestMethod]
    public void AdaptiveThreshold_ContractAndValues()
    {
        var ml = new MLContext(seed: 0);
        var data = ImagesOnly(ml, 3);
        var invalid = ml.Data.LoadFromEnumerable(new[] { new { Image = 1f } });
        var model = EstimatorContract.Check(ml.Transforms.AdaptiveThreshold("Adaptive", sigma: 5, offset: 0.2), data, invalid, "Adaptive");
        var items = SegmentationDataView.ReadItems(data, maskColumnName: null);
        var first = model.Transform(data).GetColumn<VBuffer<byte>>("Adaptive").First().DenseValues().ToArray();
        var expected = new byte[4096];
        ThresholdBaselines.Adaptive(items[0].Image, 1, 64, 64, 5, 0.2, ThresholdPolarity.Bright, expected);
        CollectionAssert.AreEqual(expected, first);
        Assert.IsTrue(first.Any(v => v == 1) && first.Any(v => v == 0));

        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Transforms.AdaptiveThreshold(sigma: 0));
        Assert.AreEqual("Sigma", e.ParamName);
    }

    [TestMethod]
    public void UnsupervisedTrainer_NeedsImagesOnly_AndSavesLikeTheSupervisedOne()
    {
        var ml = new MLContext(seed: 0);
        var data = ImagesOnly(ml, 4);
        var invalid = ml.Data.LoadFromEnumerable(new[] { new { Image = 1f } });
        var options = new UnsupervisedSegmentationTrainerOptions
        {
            Igtt = IgttTrainingTests.SmallOptions(ems: true, rounds: 2, steps: 2) with
            {
                Trainer = IgttTrainingTests.SmallOptions(true).Trainer with { Network = new UNetOptions { Depth = 2, BaseWidth = 4 } },
            },
        };
        var trainer = ml.Segmentation().Trainers.Unsupervised(options);
        var model = (SegmentationTransformer)EstimatorContract.Check(trainer, data, invalid, "Probability", "PredictedMask");
        Assert.AreEqual(2, trainer.LastRounds.Count);
        Assert.AreEqual(2, model.ClassCount);
        StringAssert.StartsWith(model.DecodingReport, "iGTT + EMS, 2 rounds, network depth 2 / base 4");
        // The model records the orientation it chose and why; Probability is the foreground probability (bright blobs).
        Assert.IsNotNull(trainer.LastOrientation);
        StringAssert.Contains(model.DecodingReport, "orientation: polarity Auto -> observed Bright");
        StringAssert.Contains(model.DecodingReport, trainer.LastOrientation.Reason);
        Assert.AreEqual(DecodingRuleKindThreshold, model.Decoding.Kind.ToString());
        var type = (VectorDataViewType)model.GetOutputSchema(data.Schema)["Probability"].Type;
        CollectionAssert.AreEqual(new[] { 1, 64, 64 }, type.Dimensions.ToArray());

        // The saved state is the supervised trainer's: the zip loads through the same factory contract.
        using var tmp = TestPaths.NewTemp();
        string zip = Path.Combine(tmp.Path, "m.zip");
        ml.Model.Save(model, data.Schema, zip);
        var bytes = File.ReadAllBytes(zip);
        Assert.IsTrue(ContainsAscii(bytes, SegmentationFactory.ContractName), "zip names the supervised SegmentationFactory contract");

        var e = Assert.Throws<ArgumentException>(() => ml.Segmentation().Trainers.Unsupervised(new UnsupervisedSegmentationTrainerOptions { Igtt = new IgttOptions { Rounds = 0 } }));
        Assert.AreEqual("Rounds", e.ParamName);
    }

    /// <summary>The simple overload exposes the network and the polarity; a stated Dark polarity on bright blobs is obeyed and recorded.</summary>
    [TestMethod]
    public void SimpleOverload_SetsNetworkAndPolarity_AndTheModelSaysSo()
    {
        var ml = new MLContext(seed: 0);
        var trainer = ml.Segmentation().Trainers.Unsupervised(rounds: 2, epochsPerRound: 1, depth: 2, baseWidth: 4, polarity: ForegroundPolarity.Dark);
        Assert.AreEqual(2, trainer.Options.Igtt.Network.Depth);
        Assert.AreEqual(4, trainer.Options.Igtt.Network.BaseWidth);
        Assert.AreEqual(ForegroundPolarity.Dark, trainer.Options.Igtt.Polarity);
        var model = trainer.Fit(ImagesOnly(ml, 4));
        Assert.AreEqual(ThresholdPolarity.Dark, trainer.LastOrientation!.ObservedPolarity, trainer.LastOrientation.ToString());
        StringAssert.Contains(model.DecodingReport, "polarity Dark -> observed Dark");
        Assert.AreEqual("depth", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Segmentation().Trainers.Unsupervised(depth: 0)).ParamName?.ToLowerInvariant());
    }

    private const string DecodingRuleKindThreshold = "Threshold";

    private static bool ContainsAscii(byte[] haystack, string needle)
    {
        var n = System.Text.Encoding.ASCII.GetBytes(needle);
        return haystack.AsSpan().IndexOf(n) >= 0 || ContainsInEntries(haystack, needle);
    }

    private static bool ContainsInEntries(byte[] zipBytes, string needle)
    {
        using var archive = new System.IO.Compression.ZipArchive(new MemoryStream(zipBytes));
        var n = System.Text.Encoding.ASCII.GetBytes(needle);
        var u = System.Text.Encoding.Unicode.GetBytes(needle);
        foreach (var en in archive.Entries)
        {
            using var s = en.Open();
            using var ms = new MemoryStream();
            s.CopyTo(ms);
            var b = ms.ToArray();
            if (b.AsSpan().IndexOf(n) >= 0 || b.AsSpan().IndexOf(u) >= 0) return true;
        }
        return false;
    }
}
