using System.Text;
using MLNet.NoisySeg.Decoding;
using MLNet.NoisySeg.Quality;

namespace MLNet.NoisySeg.Tests.Quality;

/// <summary>
/// The contradiction-outlier score (<see cref="ContradictionCalibration"/>): the per-image statistics by hand, the robust
/// calibration, per-fold thresholds, the streaming passes, persistence, and planted errors on synthetic data.
/// </summary>
[TestClass]
public sealed class ContradictionOutlierTests
{
    private static double Auroc(IReadOnlyList<SyntheticCase> cases, LabelQualityReport report, LabelQualityScoreKind kind)
        => IssueDetectionMetrics.Auroc(report.Scores(kind), QualityTestData.Issues(cases));

    [TestMethod]
    public void Statistics_SurplusAndDeficitByHand_AndASingleImageIsTypical()
    {
        // 2x2, binary sigmoid. Labels 1 1 0 0, p = 0.9 0.2 0.7 0.1: t1 = (0.9 + 0.2) / 2, t0 = (0.3 + 0.9) / 2.
        byte[] mask = [1, 1, 0, 0];
        float[] p = [0.9f, 0.2f, 0.7f, 0.1f];
        var model = LabelQualityModel.Fit([new LabelQualityImage("one", mask, p, 2, 2)], 1);
        double t1 = ((double)0.9f + 0.2f) / 2, t0 = ((double)(1 - 0.7f) + (1 - 0.1f)) / 2;
        Assert.AreEqual(t1, model.ConfidentThresholds[1], 1e-12);
        Assert.AreEqual(t0, model.ConfidentThresholds[0], 1e-12);

        var q = model.Score(mask, p, 2, 2);
        // Surplus of class 1: pixel 1 is labelled 1 while 1 - p = 0.8 exceeds t0 by 0.2. Deficit: pixel 2 is labelled 0
        // while p = 0.7 exceeds t1 by 0.15. Per scored pixel (4).
        Assert.AreEqual(((1 - 0.2f) - t0) / 4, q.ClassSurplus[1], 1e-9);
        Assert.AreEqual((0.7f - t1) / 4, q.ClassDeficit[1], 1e-9);
        Assert.IsTrue(double.IsNaN(q.ClassSurplus[0]) && double.IsNaN(q.ClassDeficit[0]), "the excluded background has no statistics");
        // One image is its own median: z = 0, score = 0.5.
        Assert.AreEqual(0.0, q.ContradictionZ, 1e-12);
        Assert.AreEqual(0.5, q.ContradictionOutlierScore, 1e-7); // erfc to 1.2e-7
        Assert.AreEqual(q.ContradictionOutlierScore, q.GetScore(LabelQualityScoreKind.ContradictionOutlier));
    }

    [TestMethod]
    public void Calibration_IsMedianAndMad_WithTheMeanDeviationWhenTheMadIsZero()
    {
        // Two classes, background excluded: statistics 2 (surplus of 1) and 3 (deficit of 1).
        double[][] rows = [[double.NaN, double.NaN, 1, 0], [double.NaN, double.NaN, 2, 0], [double.NaN, double.NaN, 3, 0],
            [double.NaN, double.NaN, 4, 0], [double.NaN, double.NaN, 100, 5]];
        var c = ContradictionCalibration.FromStatistics(rows, 2, excluded: 0);
        Assert.AreEqual(3.0, c.Center[2]);
        Assert.AreEqual(ContradictionCalibration.MadToSigma * 1, c.Scale[2], 1e-12); // |deviations| 2 1 0 1 97: median 1
        Assert.AreEqual(0.0, c.Center[3]);
        Assert.AreEqual(ContradictionCalibration.MeanDeviationToSigma * 1, c.Scale[3], 1e-12); // MAD 0; mean |deviation| 5 / 5
        Assert.IsTrue(double.IsNaN(c.Center[0]) && double.IsNaN(c.Scale[1]));
        Assert.AreEqual(5, c.ImageCount);

        var (z, at) = c.MaxZ([double.NaN, double.NaN, 100, 5]);
        Assert.AreEqual(97 / ContradictionCalibration.MadToSigma, z, 1e-9);
        Assert.AreEqual(2, at);
        Assert.AreEqual(0.05, ContradictionCalibration.ScoreOf(1.6448536269514722), 0.05 * 1.2e-7); // Φ(-z): the upper normal tail
        Assert.AreEqual(0.5, ContradictionCalibration.ScoreOf(0), 0.5 * 1.2e-7);
        Assert.IsTrue(double.IsNaN(ContradictionCalibration.ScoreOf(double.NaN)));
    }

    [TestMethod]
    [DataRow(1)]
    [DataRow(2)]
    [DataRow(3)]
    public void CleanLabels_PlantedErrorsRankFirst_AndTheDirectionSaysWhich(int seed)
    {
        var cases = QualityTestData.Make(new SyntheticSpec { Seed = seed });
        var report = LabelQualityReport.Create(cases.Select(c => c.Image).ToList(), 1);
        double auroc = Auroc(cases, report, LabelQualityScoreKind.ContradictionOutlier);
        Assert.IsTrue(auroc >= 0.9, $"contradiction-outlier AUROC {auroc:F3}");
        // Dilated masks label too much foreground, eroded ones too little.
        for (int i = 0; i < cases.Count; i++)
        {
            var q = report.Images[i];
            if (cases[i].Error == PlantedError.Dilate) Assert.AreEqual(ContradictionDirection.Surplus, q.ContradictionDirection, $"dilated image {i}");
            if (cases[i].Error == PlantedError.Erode) Assert.AreEqual(ContradictionDirection.Deficit, q.ContradictionDirection, $"eroded image {i}");
            Assert.AreEqual(1, q.ContradictionClass);
        }
    }

    [TestMethod]
    [DataRow(1)]
    [DataRow(2)]
    public void SparseLabels_MetaStructureIsTheScoreToRankBy(int seed)
    {
        // With 10% of the foreground labelled, a dropped or eroded object leaves unlabelled foreground, which every sparse
        // mask has: the contradiction statistics cannot see it, the noise-aware meta-structure comparison can
        // (docs/label-quality.md, "Which score").
        var cases = QualityTestData.Make(new SyntheticSpec { Seed = seed, SamplingRate = 0.1 });
        var report = LabelQualityReport.Create(cases.Select(c => c.Image).ToList(), 1);
        double meta = Auroc(cases, report, LabelQualityScoreKind.MetaStructure);
        double contradiction = Auroc(cases, report, LabelQualityScoreKind.ContradictionOutlier);
        Assert.IsTrue(meta >= contradiction + 0.1, $"meta-structure {meta:F3} vs contradiction outlier {contradiction:F3}");
    }

    [TestMethod]
    public void MultiClass_SwappedClassesRankFirst()
    {
        var spec = new SyntheticSpec { Seed = 2, ClassCount = 3, SinglePlane = false, Errors = [PlantedError.SwapClass, PlantedError.Dilate, PlantedError.Shift] };
        var cases = QualityTestData.Make(spec);
        var report = LabelQualityReport.Create(cases.Select(c => c.Image).ToList(), 3);
        double auroc = Auroc(cases, report, LabelQualityScoreKind.ContradictionOutlier);
        Assert.IsTrue(auroc >= 0.9, $"contradiction-outlier AUROC {auroc:F3}");
        var swapsAndClean = Enumerable.Range(0, cases.Count).Where(i => cases[i].Error is PlantedError.SwapClass or PlantedError.None).ToArray();
        double swaps = IssueDetectionMetrics.Auroc(swapsAndClean.Select(i => report.Images[i].ContradictionOutlierScore).ToArray(), swapsAndClean.Select(i => cases[i].HasIssue).ToArray());
        Assert.IsTrue(swaps >= 0.9, $"swapped classes against clean images: AUROC {swaps:F3}");
    }

    /// <summary>Two folds: fold 1's network is under-confident (its outputs scaled by 0.55), as k separately trained networks differ.</summary>
    internal static (List<SyntheticCase> Cases, List<LabelQualityImage> WithFolds, List<LabelQualityImage> WithoutFolds) TwoModels()
    {
        var cases = QualityTestData.Make(new SyntheticSpec { Count = 80, Seed = 5 });
        var with = new List<LabelQualityImage>();
        var without = new List<LabelQualityImage>();
        for (int i = 0; i < cases.Count; i++)
        {
            var im = cases[i].Image;
            int fold = i / 2 % 2; // planted images (every 5th) fall in both folds
            float[] p = fold == 0 ? im.Probabilities : im.Probabilities.Select(v => 0.55f * v).ToArray();
            with.Add(new LabelQualityImage(im.Id, im.Mask, p, im.Width, im.Height, fold));
            without.Add(new LabelQualityImage(im.Id, im.Mask, p, im.Width, im.Height));
        }
        return (cases, with, without);
    }

    [TestMethod]
    public void PerFoldThresholds_JudgeEachNetworkByItsOwnCalibration()
    {
        var (cases, with, without) = TwoModels();
        var byFold = LabelQualityReport.Create(with, 1);
        var pooled = LabelQualityReport.Create(without, 1);

        // Each fold's thresholds are its own means.
        for (int fold = 0; fold < 2; fold++)
        {
            double sum = 0;
            long count = 0;
            foreach (var im in with.Where(x => x.Fold == fold))
                for (int i = 0; i < im.Mask.Length; i++)
                    if (im.Mask[i] == 1) { sum += im.Probabilities[i]; count++; }
            Assert.AreEqual(sum / count, byFold.Model.FoldThresholds[fold][1], 1e-12, $"fold {fold}");
        }
        Assert.AreEqual(0, pooled.Model.FoldThresholds.Count);
        Assert.IsTrue(byFold.Model.FoldThresholds[1][1] < 0.7 * byFold.Model.FoldThresholds[0][1], "the under-confident network has the lower threshold");

        var issues = QualityTestData.Issues(cases);
        double a = IssueDetectionMetrics.Auroc(byFold.Scores(LabelQualityScoreKind.ContradictionOutlier), issues);
        double b = IssueDetectionMetrics.Auroc(pooled.Scores(LabelQualityScoreKind.ContradictionOutlier), issues);
        Assert.IsTrue(a >= 0.9 && a >= b + 0.05, $"AUROC with per-fold thresholds {a:F3}, with the data set's {b:F3}");
        // The other scores do not use the folds.
        CollectionAssert.AreEqual(pooled.Scores(LabelQualityScoreKind.MetaStructure), byFold.Scores(LabelQualityScoreKind.MetaStructure));
        // A fold the fit did not see is judged with the data set's thresholds.
        var im0 = with[0];
        Assert.AreEqual(byFold.Model.Score(im0.Mask, im0.Probabilities, im0.Width, im0.Height, null, 0, null).ContradictionZ,
            byFold.Model.Score(im0.Mask, im0.Probabilities, im0.Width, im0.Height, null, 0, 7).ContradictionZ);
    }

    [TestMethod]
    public void StreamingPasses_GiveTheModelOfFit()
    {
        var (_, with, _) = TwoModels();
        var fit = LabelQualityModel.Fit(with, 1);
        var fitter = new LabelQualityFitter(1, fit.Decoding);
        foreach (var im in with) fitter.Add(im.Mask, im.Probabilities, im.Width, im.Height, im.Fold);
        var first = fitter.Complete();
        Assert.IsNull(first.ContradictionCalibration);
        Assert.IsTrue(double.IsNaN(first.Score(with[0]).ContradictionOutlierScore), "uncalibrated: NaN");
        var calibrator = new LabelQualityCalibrator(first);
        // The calibration does not depend on the order of the images.
        foreach (var im in with.AsEnumerable().Reverse()) calibrator.Add(im.Mask, im.Probabilities, im.Width, im.Height, im.Fold);
        Assert.AreEqual(with.Count, calibrator.ImageCount);
        var streamed = calibrator.Complete();
        CollectionAssert.AreEqual(fit.ContradictionCalibration!.Center.ToArray(), streamed.ContradictionCalibration!.Center.ToArray());
        CollectionAssert.AreEqual(fit.ContradictionCalibration.Scale.ToArray(), streamed.ContradictionCalibration.Scale.ToArray());
        for (int i = 0; i < with.Count; i++)
            Assert.AreEqual(fit.Score(with[i]).ContradictionOutlierScore, streamed.Score(with[i]).ContradictionOutlierScore, 0.0, $"image {i}");
        Assert.Throws<InvalidOperationException>(() => new LabelQualityCalibrator(first).Complete());
    }

    [TestMethod]
    public void Persistence_KeepsFoldsAndCalibration_AndReadsVersion1Uncalibrated()
    {
        var (_, with, _) = TwoModels();
        var model = LabelQualityModel.Fit(with, 1);
        var again = LabelQualityModel.FromBytes(model.ToBytes());
        CollectionAssert.AreEqual(model.FoldThresholds.Keys.ToArray(), again.FoldThresholds.Keys.ToArray());
        foreach (var (fold, t) in model.FoldThresholds) CollectionAssert.AreEqual(t.ToArray(), again.FoldThresholds[fold].ToArray());
        foreach (var im in with.Take(10))
            Assert.AreEqual(model.Score(im).ContradictionOutlierScore, again.Score(im).ContradictionOutlierScore, 0.0);

        // A version-1 state (before this score): loads, scores as before, the contradiction score is NaN.
        string json = Encoding.UTF8.GetString(model.ToBytes());
        int cut = json.IndexOf(",\"FoldIds\"", StringComparison.Ordinal);
        Assert.IsTrue(cut > 0, json);
        string v1 = json[..cut].Replace("\"Version\":2", "\"Version\":1", StringComparison.Ordinal) + "}";
        var old = LabelQualityModel.FromBytes(Encoding.UTF8.GetBytes(v1));
        Assert.IsNull(old.ContradictionCalibration);
        Assert.AreEqual(model.Score(with[0]).MetaStructureScore, old.Score(with[0]).MetaStructureScore, 0.0);
        Assert.IsTrue(double.IsNaN(old.Score(with[0]).ContradictionOutlierScore));

        // Damaged calibration or fold thresholds are refused.
        Assert.Throws<InvalidDataException>(() => LabelQualityModel.FromBytes(Encoding.UTF8.GetBytes(json.Replace("\"FoldIds\":[0,1]", "\"FoldIds\":[0,0]", StringComparison.Ordinal))));
        Assert.Throws<InvalidDataException>(() => LabelQualityModel.FromBytes(Encoding.UTF8.GetBytes(json.Replace("\"CalibrationScale\":[", "\"CalibrationScale\":[1,", StringComparison.Ordinal))));
    }

    [TestMethod]
    public void NegativeFold_IsRefused()
    {
        var im = QualityTestData.Make(new SyntheticSpec { Count = 1, Size = 16 })[0].Image;
        Assert.Throws<ArgumentOutOfRangeException>(() => new LabelQualityImage("x", im.Mask, im.Probabilities, 16, 16, -1));
        var model = LabelQualityModel.Fit([im], 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Score(im.Mask, im.Probabilities, 16, 16, null, 0, -2));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LabelQualityFitter(1, DecodingRule.FixedThreshold).Add(im.Mask, im.Probabilities, 16, 16, -1));
    }
}
