using System.Text;
using MLNet.NoisySeg.Decoding;
using MLNet.NoisySeg.MetaStructure;
using MLNet.NoisySeg.Quality;

namespace MLNet.NoisySeg.Tests.Quality;

/// <summary>A fitted <see cref="LabelQualityModel"/> rebuilt from its bytes scores exactly as the original.</summary>
[TestClass]
public sealed class LabelQualityPersistenceTests
{
    private static void AssertSameScores(LabelQualityModel a, LabelQualityModel b, IReadOnlyList<SyntheticCase> cases)
    {
        Assert.AreEqual(a.Decoding, b.Decoding);
        CollectionAssert.AreEqual(a.ConfidentThresholds.ToArray(), b.ConfidentThresholds.ToArray());
        Assert.AreEqual(a.EstimatedIssueCount, b.EstimatedIssueCount);
        Assert.AreEqual(a.SelfConfidenceCutoff, b.SelfConfidenceCutoff);
        Assert.AreEqual(a.Options.ToString(), b.Options.ToString(), "options round-trip");
        for (int i = 0; i < cases.Count; i++)
        {
            var x = a.Score(cases[i].Image, i);
            var y = b.Score(cases[i].Image, i);
            Assert.AreEqual(x.MetaStructureScore, y.MetaStructureScore, 0.0, cases[i].Image.Id);
            Assert.AreEqual(x.SoftminScore, y.SoftminScore, 0.0);
            CollectionAssert.AreEqual(x.ClassMetaStructureScores.ToArray(), y.ClassMetaStructureScores.ToArray());
            CollectionAssert.AreEqual(x.StructuralIssueMask, y.StructuralIssueMask);
            CollectionAssert.AreEqual(x.ConfidentIssueMask, y.ConfidentIssueMask);
            CollectionAssert.AreEqual(x.StructuralExcessMap, y.StructuralExcessMap);
        }
    }

    [TestMethod]
    public void Binary_LabelFree_RoundTripsExactly()
    {
        var cases = QualityTestData.Make(new SyntheticSpec { Count = 10, Size = 48, SamplingRate = 0.3 });
        var model = LabelQualityModel.Fit(cases.Select(c => c.Image), 1);
        Assert.IsNotNull(model.DecodingEstimate);
        var back = LabelQualityModel.FromBytes(model.ToBytes());
        Assert.AreEqual(model.DecodingEstimate, back.DecodingEstimate);
        Assert.AreEqual(model.EstimatedNoise.ToString(), back.EstimatedNoise.ToString());
        AssertSameScores(model, back, cases);
        CollectionAssert.AreEqual(model.ToBytes(), back.ToBytes(), "save -> load -> save is byte-identical");
    }

    [TestMethod]
    public void Multiclass_ConfidentJoint_WithOptions_RoundTripsExactly()
    {
        var cases = QualityTestData.Make(new SyntheticSpec { Count = 10, Size = 48, ClassCount = 3, Errors = [PlantedError.SwapClass] });
        var options = new LabelQualityOptions
        {
            IssueRule = PixelIssueRule.ConfidentJoint, ExcludedClass = null, SoftminTemperature = 0.25, BoundaryTolerance = 1.5,
            Density = new() { Kernel = DensityKernel.Gaussian, Sigma = 2 }, Decoding = DecodingRule.Argmax,
        };
        var model = LabelQualityModel.Fit(cases.Select(c => c.Image), 3, options);
        var back = LabelQualityModel.FromBytes(model.ToBytes());
        Assert.IsNull(back.EstimatedIssueCount);
        AssertSameScores(model, back, cases);
    }

    [TestMethod]
    public void WithStorePixelMaps_KeepsTheScores()
    {
        var cases = QualityTestData.Make(new SyntheticSpec { Count = 5, Size = 48 });
        var model = LabelQualityModel.Fit(cases.Select(c => c.Image), 1);
        var lean = model.WithStorePixelMaps(false);
        Assert.AreSame(model, model.WithStorePixelMaps(true));
        var x = model.Score(cases[0].Image);
        var y = lean.Score(cases[0].Image);
        Assert.AreEqual(x.MetaStructureScore, y.MetaStructureScore, 0.0);
        Assert.AreEqual(x.StructuralIssueCount, y.StructuralIssueCount);
        Assert.IsNull(y.StructuralIssueMask);
        Assert.IsNotNull(x.StructuralIssueMask);
    }

    [TestMethod]
    public void DamagedOrForeignBytes_FailWithInvalidData()
    {
        var cases = QualityTestData.Make(new SyntheticSpec { Count = 3, Size = 32 });
        var json = Encoding.UTF8.GetString(LabelQualityModel.Fit(cases.Select(c => c.Image), 1).ToBytes());
        Assert.Throws<InvalidDataException>(() => LabelQualityModel.FromBytes("not json"u8));
        Assert.Throws<InvalidDataException>(() => LabelQualityModel.FromBytes(Encoding.UTF8.GetBytes(json.Replace("\"Version\":2", "\"Version\":99", StringComparison.Ordinal))));
        Assert.Throws<InvalidDataException>(() => LabelQualityModel.FromBytes(Encoding.UTF8.GetBytes(json.Replace("\"ClassCount\":1", "\"ClassCount\":3", StringComparison.Ordinal))));
        Assert.Throws<InvalidDataException>(() => LabelQualityModel.FromBytes(Encoding.UTF8.GetBytes(json.Replace("\"Decoding\":\"threshold", "\"Decoding\":\"nonsense", StringComparison.Ordinal))));
    }
}
