using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.MetaStructure;
using MLNet.NoisySeg.Pipelines;
using MLNet.NoisySeg.Tests.TestSupport;

namespace MLNet.NoisySeg.Tests.Pipelines;

[TestClass]
public class MetaStructureTransformTests
{
    private static readonly SegmentationFolderOptions CamVidOptions = SegmentationFolderOptions.ClassIndexMasks(11, 11);

    [TestMethod]
    public void Density_MatchesCore_AndHasShape()
    {
        var ml = new MLContext(seed: 0);
        var data = ml.Data.LoadFromSegmentationFolder(Path.Combine(TestPaths.CamVid, "test"), CamVidOptions);
        var model = ml.Transforms.ExtractMetaStructure("Density", "Mask", classCount: 11, bandwidth: 4).Fit(data);
        var output = model.Transform(data);
        var type = (VectorDataViewType)output.Schema["Density"].Type;
        CollectionAssert.AreEqual(new[] { 11, 180, 240 }, type.Dimensions.ToArray());
        var items = SegmentationDataView.ReadItems(data);
        // Copy each row: GetColumn may reuse one VBuffer backing array across rows.
        var densities = output.GetColumn<VBuffer<float>>("Density").Select(v => v.DenseValues().ToArray()).ToList();
        Assert.AreEqual(items.Count, densities.Count);
        for (int i = 0; i < items.Count; i += 3)
        {
            var expected = DensityMap.ComputeBox(items[i].Mask, 240, 180, 11, 4);
            CollectionAssert.AreEqual(expected, densities[i], $"row {i}");
            CollectionAssert.AreEqual(expected, model.Compute(items[i].Mask));
        }
    }

    [TestMethod]
    public void Contract_SchemaInvalidInputAndSaveLoad()
    {
        var ml = new MLContext(seed: 0);
        var data = ml.Data.LoadFromSegmentationFolder(Path.Combine(TestPaths.Isbi, "test"), new SegmentationFolderOptions { MaskEncoding = MaskEncoding.Binary, ForegroundValue = 0, Width = 64, Height = 64 });
        var invalid = ml.Data.LoadFromEnumerable(new[] { new { Mask = 1f } });
        EstimatorContract.Check(ml.Transforms.ExtractMetaStructure(new MetaStructureOptions { ClassCount = 2, Density = new DensityOptions { Kernel = DensityKernel.Gaussian, Sigma = 2 } }),
            data, invalid, "Density");
    }

    [TestMethod]
    public void SaveLoad_InFreshProcess_GivesIdenticalDensity()
    {
        var ml = new MLContext(seed: 0);
        string split = Path.Combine(TestPaths.CamVid, "test");
        var data = ml.Data.LoadFromSegmentationFolder(split, CamVidOptions);
        var model = ml.Transforms.ExtractMetaStructure("Density", "Mask", classCount: 11, bandwidth: 3).Fit(data);
        using var tmp = TestPaths.NewTemp();
        string zip = Path.Combine(tmp.Path, "density.zip");
        ml.Model.Save(model, data.Schema, zip);
        var expected = EstimatorContract.Dump(model.Transform(data), "Density");
        var fresh = EstimatorContract.DumpInFreshProcess(zip, split, "classes:11:11", "Density");
        Assert.AreEqual(10 * 11 * 180 * 240 * 4, fresh.Length);
        CollectionAssert.AreEqual(expected, fresh);
    }

    [TestMethod]
    public void InvalidOptions_NameTheOption()
    {
        var ml = new MLContext();
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Transforms.ExtractMetaStructure(classCount: 1));
        Assert.AreEqual("ClassCount", e.ParamName);
        var e2 = Assert.Throws<ArgumentException>(() => ml.Transforms.ExtractMetaStructure(bandwidth: -1));
        Assert.AreEqual("Bandwidth", e2.ParamName);
    }
}
