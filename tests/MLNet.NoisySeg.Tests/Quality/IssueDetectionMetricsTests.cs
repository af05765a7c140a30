using MLNet.NoisySeg.Quality;

namespace MLNet.NoisySeg.Tests.Quality;

[TestClass]
public sealed class IssueDetectionMetricsTests
{
    [TestMethod]
    public void AurocAndAveragePrecision_MatchSklearnOnAHandExample()
    {
        // sklearn: y = [1, 0, 1, 0], suspicion = [0.9, 0.8, 0.7, 0.1] -> roc_auc 0.75, average_precision 0.8333.
        // Our scores are label-quality scores (lower = more suspicious): score = -suspicion.
        double[] scores = [-0.9, -0.8, -0.7, -0.1];
        bool[] issue = [true, false, true, false];
        Assert.AreEqual(0.75, IssueDetectionMetrics.Auroc(scores, issue), 1e-12);
        Assert.AreEqual(0.5 * 1 + 0.5 * (2.0 / 3), IssueDetectionMetrics.AveragePrecision(scores, issue), 1e-12);
    }

    [TestMethod]
    public void TiesCountHalf_AndEnterAveragePrecisionTogether()
    {
        // sklearn: y = [1, 0, 1, 0], suspicion = [0.5, 0.5, 0.2, 0.1] -> roc_auc 0.625, average_precision 0.5*0.5 + 0.5*(2/3).
        double[] scores = [0.5, 0.5, 0.8, 0.9];
        bool[] issue = [true, false, true, false];
        Assert.AreEqual(0.625, IssueDetectionMetrics.Auroc(scores, issue), 1e-12);
        Assert.AreEqual(0.5 * 0.5 + 0.5 * (2.0 / 3), IssueDetectionMetrics.AveragePrecision(scores, issue), 1e-12);
    }

    [TestMethod]
    public void PerfectAndReversedRankings()
    {
        double[] scores = [0.1, 0.2, 0.8, 0.9];
        Assert.AreEqual(1.0, IssueDetectionMetrics.Auroc(scores, [true, true, false, false]));
        Assert.AreEqual(1.0, IssueDetectionMetrics.AveragePrecision(scores, [true, true, false, false]));
        Assert.AreEqual(0.0, IssueDetectionMetrics.Auroc(scores, [false, false, true, true]));
    }

    [TestMethod]
    public void NaNScoresAreLeastSuspicious_AndDegenerateLabelsGiveNaN()
    {
        Assert.AreEqual(1.0, IssueDetectionMetrics.Auroc([0.2, double.NaN], [true, false]));
        Assert.IsTrue(double.IsNaN(IssueDetectionMetrics.Auroc([0.2, 0.3], [false, false])));
        Assert.IsTrue(double.IsNaN(IssueDetectionMetrics.Auroc([0.2, 0.3], [true, true])));
        Assert.IsTrue(double.IsNaN(IssueDetectionMetrics.AveragePrecision([0.2, 0.3], [false, false])));
        Assert.ThrowsExactly<ArgumentException>(() => IssueDetectionMetrics.Auroc([0.2], [true, false]));
    }

    [TestMethod]
    public void PixelIssueDetection_CountsAndSkipsIgnore()
    {
        var d = new PixelIssueDetection();
        d.Add(new byte[] { 1, 1, 0, 0, 255, 1 }, new byte[] { 1, 0, 1, 0, 1, 255 });
        Assert.AreEqual(1, d.TruePositives);
        Assert.AreEqual(1, d.FalsePositives);
        Assert.AreEqual(1, d.FalseNegatives);
        Assert.AreEqual(1, d.TrueNegatives);
        Assert.AreEqual(0.5, d.Precision);
        Assert.AreEqual(0.5, d.Recall);
        Assert.AreEqual(0.5, d.F1);
        Assert.IsTrue(double.IsNaN(new PixelIssueDetection().Precision));
    }
}
