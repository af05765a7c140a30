using MLNet.NoisySeg.Losses;
using MLNet.NoisySeg.Study;
using MLNet.NoisySeg.Tests.Unsupervised;
using MLNet.NoisySeg.Unsupervised;

namespace MLNet.NoisySeg.Tests.Study;

/// <summary>
/// The study's unsupervised comparison on a few synthetic nuclei images: every method gets a row, and the iGTT budget
/// curve (scored through the trainer's round observer on the aligned network) has one point per round, the last of
/// which is the model the row scores, decoded the same way.
/// </summary>
[TestClass]
public sealed class UnsupervisedComparisonTests
{
    [TestMethod]
    public void Curves_HaveOnePointPerRound_AndTheLastIsTheScoredModel()
    {
        var train = IgttTrainingTests.Items(4, 0);
        var test = IgttTrainingTests.Items(2, 500);
        var igtt = IgttTrainingTests.SmallOptions(ems: true, rounds: 2, steps: 2) with { Depth = 2, BaseWidth = 4 };
        var result = UnsupervisedComparison.Run(train, test, new UnsupervisedComparisonOptions
        {
            Seeds = [0],
            Igtt = igtt,
            Supervised = igtt.EffectiveTrainer with { Loss = LossKind.Bce, MaxSteps = 4 },
        });
        foreach (string method in new[] { UnsupervisedComparison.IgttWithEms, UnsupervisedComparison.IgttWithoutEms })
        {
            var row = result[method];
            CollectionAssert.AreEqual(new[] { 2, 4 }, row.Curve.Select(p => p.Step).ToArray(), method);
            Assert.IsTrue(row.Curve.All(p => p.Dice.Mean is >= 0 and <= 1 && double.IsFinite(p.CandidateShare.Mean)), method);
            Assert.AreEqual(row.Dice.Mean, row.Curve[^1].Dice.Mean, 1e-9, $"{method}: the last curve point is the returned model, decoded at the last candidates' share");
        }
        Assert.AreEqual(5, result.Methods.Count, string.Join(", ", result.Methods.Select(m => m.Method)));
    }
}
