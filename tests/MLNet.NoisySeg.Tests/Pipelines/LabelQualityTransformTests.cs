using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Pipelines;
using MLNet.NoisySeg.Quality;
using MLNet.NoisySeg.Tests.Quality;
using MLNet.NoisySeg.Tests.TestSupport;

namespace MLNet.NoisySeg.Tests.Pipelines;

/// <summary>
/// <c>mlContext.Transforms.ScoreLabelQuality</c> end to end on synthetic data with planted errors: fit, transform, the
/// columns and their shapes, the same scores as the core <see cref="LabelQualityReport"/>, and a save/load round trip
/// that gives identical scores.
/// </summary>
[TestClass]
public sealed class LabelQualityTransformTests
{
    private const int Size = 40;

    private sealed class Row
    {
        public string Name { get; set; } = "";
        public byte[] Mask { get; set; } = [];
        public float[] Probability { get; set; } = [];
    }

    private static IDataView View(MLContext ml, IReadOnlyList<SyntheticCase> cases, int planes)
    {
        var def = SchemaDefinition.Create(typeof(Row));
        def[nameof(Row.Mask)].ColumnType = new VectorDataViewType(NumberDataViewType.Byte, Size, Size);
        def[nameof(Row.Probability)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, planes, Size, Size);
        return ml.Data.LoadFromEnumerable(cases.Select(c => new Row { Name = c.Image.Id, Mask = c.Image.Mask, Probability = c.Image.Probabilities }).ToList(), def);
    }

    private static double[] Doubles(IDataView view, string column) => view.GetColumn<double>(column).ToArray();

    private sealed class FoldRow
    {
        public byte[] Mask { get; set; } = [];
        public float[] Probability { get; set; } = [];
        public int Fold { get; set; }
        public float FoldAsSingle { get; set; }
    }

    [TestMethod]
    public void FoldColumn_GivesTheCoreScoresWithFolds_SurvivesSaveLoad_AndIsChecked()
    {
        var (_, images, _) = ContradictionOutlierTests.TwoModels();
        int size = images[0].Width;
        var ml = new MLContext(seed: 0);
        var def = SchemaDefinition.Create(typeof(FoldRow));
        def[nameof(FoldRow.Mask)].ColumnType = new VectorDataViewType(NumberDataViewType.Byte, size, size);
        def[nameof(FoldRow.Probability)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 1, size, size);
        var data = ml.Data.LoadFromEnumerable(images.Select(im => new FoldRow { Mask = im.Mask, Probability = im.Probabilities, Fold = im.Fold!.Value, FoldAsSingle = im.Fold!.Value }).ToList(), def);

        var model = ml.Transforms.ScoreLabelQuality(foldColumnName: "Fold").Fit(data);
        var scored = model.Transform(data);
        var report = LabelQualityReport.Create(images, 1);
        CollectionAssert.AreEqual(report.Scores(LabelQualityScoreKind.ContradictionOutlier), Doubles(scored, LabelQualityColumnNames.ContradictionOutlierScore));
        CollectionAssert.AreEqual(report.Images.Select(i => i.ContradictionZ).ToArray(), Doubles(scored, LabelQualityColumnNames.ContradictionZ));
        CollectionAssert.AreEqual(report.Model.FoldThresholds.Keys.ToArray(), model.Model.FoldThresholds.Keys.ToArray());

        // Without the fold column the data set's thresholds judge every row: other scores.
        var pooled = Doubles(ml.Transforms.ScoreLabelQuality().Fit(data).Transform(data), LabelQualityColumnNames.ContradictionOutlierScore);
        CollectionAssert.AreNotEqual(pooled, Doubles(scored, LabelQualityColumnNames.ContradictionOutlierScore));

        using var tmp = TestPaths.NewTemp();
        string zip = Path.Combine(tmp.Path, "quality-folds.zip");
        ml.Model.Save(model, data.Schema, zip);
        var loaded = new MLContext(seed: 3).RegisterNoisySeg().Model.Load(zip, out _);
        CollectionAssert.AreEqual(Doubles(scored, LabelQualityColumnNames.ContradictionOutlierScore), Doubles(loaded.Transform(data), LabelQualityColumnNames.ContradictionOutlierScore));

        var missing = Assert.Throws<ArgumentException>(() => ml.Transforms.ScoreLabelQuality(foldColumnName: "Split").Fit(data));
        StringAssert.Contains(missing.Message, "'Split' (FoldColumnName)");
        var wrongType = Assert.Throws<ArgumentException>(() => ml.Transforms.ScoreLabelQuality(foldColumnName: nameof(FoldRow.FoldAsSingle)).Fit(data));
        StringAssert.Contains(wrongType.Message, "expected a scalar Int32");
        Assert.Throws<ArgumentException>(() => ml.Transforms.ScoreLabelQuality(foldColumnName: "Split").GetOutputSchema(EstimatorContract.ShapeOf(data.Schema)));
    }

    [TestMethod]
    public void Binary_FitTransform_MatchesTheCoreReport_AndAddsEveryColumn()
    {
        var cases = QualityTestData.Make(new SyntheticSpec { Count = 20, Size = Size });
        var ml = new MLContext(seed: 0);
        var data = View(ml, cases, 1);
        var model = ml.Transforms.ScoreLabelQuality(classCount: 2).Fit(data);
        var scored = model.Transform(data);

        var report = LabelQualityReport.Create(cases.Select(c => c.Image).ToList(), 1);
        Assert.AreEqual(report.Model.Decoding, model.Model.Decoding, "the same label-free rule as the core fit");
        CollectionAssert.AreEqual(report.Scores(LabelQualityScoreKind.MetaStructure), Doubles(scored, LabelQualityColumnNames.MetaStructureScore));
        CollectionAssert.AreEqual(report.Scores(LabelQualityScoreKind.Softmin), Doubles(scored, LabelQualityColumnNames.SoftminScore));
        CollectionAssert.AreEqual(report.Images.Select(i => i.StructuralIssueCount).ToArray(), scored.GetColumn<long>(LabelQualityColumnNames.StructuralIssueCount).ToArray());
        CollectionAssert.AreEqual(report.Images.Select(i => i.ConfidentIssueCount).ToArray(), scored.GetColumn<long>(LabelQualityColumnNames.ConfidentIssueCount).ToArray());

        var s = scored.Schema;
        Assert.AreEqual(NumberDataViewType.Double, s[LabelQualityColumnNames.MetaStructureScore].Type);
        Assert.AreEqual(NumberDataViewType.Int64, s[LabelQualityColumnNames.StructuralIssueCount].Type);
        CollectionAssert.AreEqual(new[] { 2 }, ((VectorDataViewType)s[LabelQualityColumnNames.ClassMetaStructureScores].Type).Dimensions.ToArray());
        foreach (var name in new[] { LabelQualityColumnNames.StructuralIssues, LabelQualityColumnNames.ConfidentIssues, LabelQualityColumnNames.DecodedMask })
        {
            var t = (VectorDataViewType)s[name].Type;
            Assert.AreEqual(NumberDataViewType.Byte, t.ItemType, name);
            CollectionAssert.AreEqual(new[] { Size, Size }, t.Dimensions.ToArray(), name);
        }
        Assert.AreEqual(NumberDataViewType.Single, ((VectorDataViewType)s[LabelQualityColumnNames.StructuralExcess].Type).ItemType);
        var flags = scored.GetColumn<VBuffer<byte>>(LabelQualityColumnNames.StructuralIssues).Select(v => v.DenseValues().ToArray()).ToList();
        for (int i = 0; i < cases.Count; i++) CollectionAssert.AreEqual(report.Images[i].StructuralIssueMask, flags[i], $"flags of row {i}");

        // The planted images rank first: sorting the score column finds them.
        var meta = Doubles(scored, LabelQualityColumnNames.MetaStructureScore);
        double auroc = IssueDetectionMetrics.Auroc(meta, QualityTestData.Issues(cases));
        Assert.IsTrue(auroc > 0.9, $"AUROC {auroc}");
        var typed = model.Score(cases[0].Image.Mask, cases[0].Image.Probabilities, "first");
        Assert.AreEqual(meta[0], typed.MetaStructureScore, 0.0);
    }

    [TestMethod]
    public void Contract_SchemaInvalidInputAndSaveLoad_GiveIdenticalScores()
    {
        var cases = QualityTestData.Make(new SyntheticSpec { Count = 10, Size = Size });
        var ml = new MLContext(seed: 0);
        var data = View(ml, cases, 1);
        var invalid = ml.Data.LoadFromEnumerable(new[] { new { Mask = 1f } });
        var estimator = ml.Transforms.ScoreLabelQuality();
        var model = EstimatorContract.Check(estimator, data, invalid,
            LabelQualityColumnNames.StructuralIssues, LabelQualityColumnNames.ConfidentIssues, LabelQualityColumnNames.DecodedMask,
            LabelQualityColumnNames.SelfConfidence, LabelQualityColumnNames.StructuralExcess);

        using var tmp = TestPaths.NewTemp();
        string zip = Path.Combine(tmp.Path, "quality.zip");
        ml.Model.Save(model, data.Schema, zip);
        var loaded = new MLContext(seed: 5).RegisterNoisySeg().Model.Load(zip, out _);
        var a = model.Transform(data);
        var b = loaded.Transform(data);
        foreach (var column in new[] { LabelQualityColumnNames.MetaStructureScore, LabelQualityColumnNames.SoftminScore })
            CollectionAssert.AreEqual(Doubles(a, column), Doubles(b, column), column);
        CollectionAssert.AreEqual(a.GetColumn<long>(LabelQualityColumnNames.ConfidentIssueCount).ToArray(), b.GetColumn<long>(LabelQualityColumnNames.ConfidentIssueCount).ToArray());

        // The fitted state comes back typed: thresholds, Q̂, decoding rule and the issue cut-off.
        var fitted = LabelQualityTransformer.From(model);
        var found = LabelQualityTransformer.From(loaded);
        Assert.AreEqual(fitted.Model.Decoding, found.Model.Decoding);
        CollectionAssert.AreEqual(fitted.Model.ConfidentThresholds.ToArray(), found.Model.ConfidentThresholds.ToArray());
        Assert.AreEqual(fitted.Model.EstimatedNoise.ToString(), found.Model.EstimatedNoise.ToString());
        Assert.AreEqual(fitted.Model.SelfConfidenceCutoff, found.Model.SelfConfidenceCutoff);
        Assert.AreEqual(Size, found.Height);
        Assert.AreEqual(1, found.ProbabilityChannels);
        Assert.Throws<ArgumentException>(() => LabelQualityTransformer.From(ml.Transforms.CopyColumns("X", "Mask").Fit(data)));
    }

    [TestMethod]
    public void Multiclass_OptionsOverload_WithPrefix_AndWrongPlaneCountFails()
    {
        var cases = QualityTestData.Make(new SyntheticSpec { Count = 10, Size = Size, ClassCount = 3, Errors = [PlantedError.SwapClass] });
        var ml = new MLContext(seed: 0);
        var data = View(ml, cases, 3);
        var options = new LabelQualityOptions { ExcludedClass = null, IssueRule = PixelIssueRule.ConfidentJoint };
        var model = ml.Transforms.ScoreLabelQuality(new LabelQualityScoringOptions { ClassCount = 3, Quality = options, OutputPrefix = "Q_" }).Fit(data);
        var scored = model.Transform(data);
        var report = LabelQualityReport.Create(cases.Select(c => c.Image).ToList(), 3, options);
        CollectionAssert.AreEqual(report.Scores(LabelQualityScoreKind.MetaStructure), Doubles(scored, "Q_" + LabelQualityColumnNames.MetaStructureScore));
        var perClass = scored.GetColumn<VBuffer<double>>("Q_" + LabelQualityColumnNames.ClassMetaStructureScores).Select(v => v.DenseValues().ToArray()).ToList();
        CollectionAssert.AreEqual(report.Images[0].ClassMetaStructureScores.ToArray(), perClass[0]);
        Assert.IsNull(scored.Schema.GetColumnOrNull(LabelQualityColumnNames.MetaStructureScore));

        var e = Assert.Throws<ArgumentException>(() => ml.Transforms.ScoreLabelQuality(classCount: 4).Fit(data));
        StringAssert.Contains(e.Message, "ClassCount 4");
        var bad = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Transforms.ScoreLabelQuality(classCount: 1));
        Assert.AreEqual("ClassCount", bad.ParamName);
    }
}
