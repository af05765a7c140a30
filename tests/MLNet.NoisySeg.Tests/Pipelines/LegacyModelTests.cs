using Microsoft.ML;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Pipelines;
using MLNet.NoisySeg.Tests.TestSupport;

namespace MLNet.NoisySeg.Tests.Pipelines;

/// <summary>
/// A model zip written before issue 11 (Legacy/README.md) still loads with plain <c>mlContext.Model.Load</c> and computes
/// what it computed then: the persistence format (contract names, internal columns, state blobs) is unchanged.
/// </summary>
[TestClass]
public sealed class LegacyModelTests
{
    private static string Folder => Path.Combine(TestPaths.RepoRoot, "tests", "MLNet.NoisySeg.Tests", "Pipelines", "Legacy");

    private static readonly Lazy<(IDataView Output, ITransformer Model)> Loaded = new(() =>
    {
        var ml = new MLContext(seed: 0).RegisterNoisySeg();
        var model = ml.Model.Load(Path.Combine(Folder, "legacy-v1-pipeline.zip"), out _);
        var data = ml.Data.LoadFromSegmentationFolder(Path.Combine(Folder, "data"), SegmentationFolderOptions.BinaryMasks(255));
        return (model.Transform(data), model);
    });

    private static byte[] Expected(string column) => File.ReadAllBytes(Path.Combine(Folder, column + ".bin"));

    [TestMethod]
    [DataRow("NoisyMask")]
    [DataRow("OtsuMask")]
    public void ByteColumns_AreIdentical(string column)
        => CollectionAssert.AreEqual(Expected(column), EstimatorContract.Dump(Loaded.Value.Output, column), column);

    [TestMethod]
    [DataRow("Density", 1e-6)]
    [DataRow("Probability", 1e-4)] // the network's float sums may take another convolution route on another CPU
    public void FloatColumns_AgreeWithinRounding(string column, double tolerance)
    {
        var expected = Floats(Expected(column));
        var actual = Floats(EstimatorContract.Dump(Loaded.Value.Output, column));
        Assert.AreEqual(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.AreEqual(expected[i], actual[i], tolerance, $"{column}[{i}]");
    }

    [TestMethod]
    [DataRow("PredictedMask", 0.005)]
    [DataRow("AdaptiveMask", 0.01)] // one Gaussian kernel since issue 11: truncated at 4 sigma instead of 3 sigma
    public void DecidedMasks_AgreeOnAlmostEveryPixel(string column, double maxDifferentFraction)
    {
        var expected = Expected(column);
        var actual = EstimatorContract.Dump(Loaded.Value.Output, column);
        Assert.AreEqual(expected.Length, actual.Length);
        int different = expected.Zip(actual).Count(p => p.First != p.Second);
        Assert.IsTrue(different <= maxDifferentFraction * expected.Length, $"{column}: {different} of {expected.Length} pixels differ");
    }

    [TestMethod]
    public void TheLoadedSegmentationModel_TellsItsInput()
    {
        var segmentation = SegmentationTransformer.From(Loaded.Value.Model);
        var input = segmentation.Input;
        Assert.AreEqual((1, 32, 32, 2, 1), (input.Channels, input.Height, input.Width, input.ClassCount, input.ProbabilityChannels));
        Assert.IsNull(input.ImageColumnName, "zips before issue 11 did not record the image column");
        StringAssert.StartsWith(segmentation.DecodingReport, "label-free");
    }

    private static float[] Floats(byte[] bytes)
    {
        var values = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, values, 0, bytes.Length);
        return values;
    }
}
