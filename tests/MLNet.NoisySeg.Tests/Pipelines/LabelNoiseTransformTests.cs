using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.MetaStructure;
using MLNet.NoisySeg.Noise;
using MLNet.NoisySeg.Pipelines;
using MLNet.NoisySeg.Tests.TestSupport;

namespace MLNet.NoisySeg.Tests.Pipelines;

[TestClass]
public class LabelNoiseTransformTests
{
    private static IDataView IsbiSmall(MLContext ml) => ml.Data.LoadFromSegmentationFolder(Path.Combine(TestPaths.Isbi, "test"),
        new SegmentationFolderOptions { MaskEncoding = MaskEncoding.Binary, ForegroundValue = 0, Width = 128, Height = 128 });

    [TestMethod]
    public void Sampling_KeepsExactCount_AndMatchesCore()
    {
        var ml = new MLContext(seed: 0);
        var data = IsbiSmall(ml);
        var model = ml.Transforms.CorruptLabels(LabelNoiseSpec.Sampling(0.1), seed: 3).Fit(data);
        var output = model.Transform(data);
        CollectionAssert.AreEqual(new[] { 128, 128 }, ((VectorDataViewType)output.Schema["NoisyMask"].Type).Dimensions.ToArray());
        var clean = output.GetColumn<VBuffer<byte>>("Mask").Select(v => v.DenseValues().ToArray()).ToList();
        var noisy = output.GetColumn<VBuffer<byte>>("NoisyMask").Select(v => v.DenseValues().ToArray()).ToList();
        var names = output.GetColumn<string>("Name").ToList();
        for (int i = 0; i < clean.Count; i++)
        {
            int fg = clean[i].Count(v => v == 1);
            Assert.AreEqual((int)Math.Ceiling(0.1 * fg - 1e-9), noisy[i].Count(v => v == 1), $"image {names[i]}");
            Assert.IsTrue(Enumerable.Range(0, clean[i].Length).All(k => noisy[i][k] == 0 || clean[i][k] == 1), "kept pixels are foreground");
            CollectionAssert.AreEqual(model.Corrupt(clean[i], names[i]), noisy[i]);
        }
    }

    [TestMethod]
    public void SameSeed_SameBytes_RegardlessOfRowOrder()
    {
        var ml = new MLContext(seed: 0);
        var data = IsbiSmall(ml);
        var shuffled = ml.Data.ShuffleRows(data, seed: 11);
        var est = ml.Transforms.CorruptLabels(LabelNoiseSpec.Flipping(0.45, 0.45), seed: 9);
        var a = est.Fit(data).Transform(data);
        var b = est.Fit(shuffled).Transform(shuffled);
        var byName = b.GetColumn<string>("Name").Zip(b.GetColumn<VBuffer<byte>>("NoisyMask").Select(v => v.DenseValues().ToArray())).ToDictionary(p => p.First, p => p.Second);
        foreach (var (name, noisy) in a.GetColumn<string>("Name").Zip(a.GetColumn<VBuffer<byte>>("NoisyMask").Select(v => v.DenseValues().ToArray())))
            CollectionAssert.AreEqual(noisy, byName[name], name);
    }

    [TestMethod]
    public void Contract_AndFreshProcess_ForNoiseThenDensityPipeline()
    {
        var ml = new MLContext(seed: 0);
        var data = IsbiSmall(ml);
        var invalid = ml.Data.LoadFromEnumerable(new[] { new { Mask = 1f, Name = "x" } });
        // TrainingOnly = false: the corruption itself is saved (by default a saved model passes data through, so that
        // a trained pipeline scores images without masks; ImageInputPipelineTests).
        EstimatorContract.Check(ml.Transforms.CorruptLabels(new LabelNoiseOptions { Noise = LabelNoiseSpec.Dilation(2), Seed = 1, TrainingOnly = false }),
            data, invalid, "NoisyMask");

        // The study's chain: corrupt, then extract the meta-structure of the corrupted labels; saved as one zip.
        var pipeline = ml.Transforms.CorruptLabels(new LabelNoiseOptions { Noise = LabelNoiseSpec.Sampling(0.3), Seed = 4, TrainingOnly = false })
            .Append(ml.Transforms.ExtractMetaStructure(new MetaStructureOptions { InputColumnName = "NoisyMask", OutputColumnName = "Density", ClassCount = 2 }));
        // The probe loads the folder at its stored size (512x512), so fit on that.
        var full = ml.Data.LoadFromSegmentationFolder(Path.Combine(TestPaths.Isbi, "test"), SegmentationFolderOptions.BinaryMasks(0));
        var model = pipeline.Fit(full);
        using var tmp = TestPaths.NewTemp();
        string zip = Path.Combine(tmp.Path, "noise-density.zip");
        ml.Model.Save(model, full.Schema, zip);
        var scored = model.Transform(full);
        foreach (var column in new[] { "NoisyMask", "Density" })
        {
            var expected = EstimatorContract.Dump(scored, column);
            var fresh = EstimatorContract.DumpInFreshProcess(zip, Path.Combine(TestPaths.Isbi, "test"), "binary:0", column);
            Assert.IsTrue(expected.Length > 0);
            CollectionAssert.AreEqual(expected, fresh, column);
        }
    }

    [TestMethod]
    public void InvalidOptions_NameTheOption()
    {
        var ml = new MLContext();
        var e = Assert.Throws<ArgumentException>(() => ml.Transforms.CorruptLabels(new LabelNoiseOptions { Noise = LabelNoiseSpec.Clean(), Epoch = -1 }));
        Assert.AreEqual("Epoch", e.ParamName);
        var e2 = Assert.Throws<ArgumentException>(() => ml.Transforms.CorruptLabels(LabelNoiseSpec.Clean() with { Kind = LabelNoiseKind.Sampling, Rate = double.NaN }));
        Assert.AreEqual("Rate", e2.ParamName);
        var data = ml.Data.LoadFromEnumerable(new[] { new { Mask = new byte[] { 0, 1 } } });
        var e3 = Assert.Throws<ArgumentException>(() => ml.Transforms.CorruptLabels(LabelNoiseSpec.Sampling(0.5)).Fit(data));
        StringAssert.Contains(e3.Message, "'Name'");
    }
}
