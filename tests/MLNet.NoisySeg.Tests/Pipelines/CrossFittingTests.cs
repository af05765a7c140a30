using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Networks;
using MLNet.NoisySeg.Pipelines;
using MLNet.NoisySeg.Training;
using MLNet.NoisySeg.Tests.TestSupport;

namespace MLNet.NoisySeg.Tests.Pipelines;

/// <summary>
/// k-fold cross-fitting: folds are deterministic by seed and name and balanced; every image is predicted by the model
/// that did not train on it; two runs give identical probabilities; the data view streams the same values.
/// </summary>
[TestClass]
public sealed class CrossFittingTests
{
    private static CrossFitOptions Tiny(int folds = 3) => new()
    {
        FoldCount = folds,
        Seed = 4,
        Trainer = new SegmentationTrainerOptions
        {
            Network = new UNetOptions { Depth = 2, BaseWidth = 4 }, MaxSteps = 3, BatchSize = 2, Threads = 1, Seed = 1, CropHeight = 32, CropWidth = 32,
        },
    };

    private static IReadOnlyList<SegmentationItem> Items(int count) => SyntheticFixtures.Items(seed: 3, count);

    [TestMethod]
    public void AssignFolds_IsBalanced_Deterministic_AndIndependentOfOrder()
    {
        var names = Enumerable.Range(0, 23).Select(i => $"img{i:D2}.png").ToList();
        var a = CrossFitting.AssignFolds(names, 5, seed: 7);
        CollectionAssert.AreEqual(a, CrossFitting.AssignFolds(names, 5, seed: 7));
        var sizes = a.GroupBy(f => f).Select(g => g.Count()).ToArray();
        Assert.AreEqual(5, sizes.Length);
        Assert.IsTrue(sizes.Max() - sizes.Min() <= 1, string.Join(",", sizes));

        var reversed = names.AsEnumerable().Reverse().ToList();
        var b = CrossFitting.AssignFolds(reversed, 5, seed: 7);
        for (int i = 0; i < names.Count; i++) Assert.AreEqual(a[i], b[names.Count - 1 - i], names[i]);
        CollectionAssert.AreNotEqual(a, CrossFitting.AssignFolds(names, 5, seed: 8), "another seed, other folds");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => CrossFitting.AssignFolds(names, 1, 0));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => CrossFitting.AssignFolds(names.Take(2).ToList(), 3, 0));
    }

    [TestMethod]
    public void EveryImage_IsPredictedByTheModelThatDidNotTrainOnIt_AndRunsAreDeterministic()
    {
        var items = Items(6);
        var steps = new List<CrossFitProgress>();
        using var first = CrossFitting.Fit(items, Tiny() with { Progress = new Inline(steps.Add) });
        Assert.AreEqual(3, first.FoldCount);
        Assert.AreEqual(3 * (1 + 3), steps.Count, "a report per fold start and per training step");
        for (int f = 0; f < 3; f++)
        {
            var trained = first.TrainingIndices(f);
            Assert.AreEqual(4, trained.Count);
            for (int i = 0; i < items.Count; i++)
                Assert.AreEqual(first.Folds[i] != f, trained.Contains(i), $"image {i} vs the model of fold {f}");
        }
        var predictions = first.Predictions().ToList();
        Assert.AreEqual(items.Count, predictions.Count);
        for (int i = 0; i < items.Count; i++)
        {
            var p = predictions[i];
            Assert.AreEqual(i, p.Index);
            Assert.AreSame(items[i], p.Item);
            Assert.IsFalse(first.TrainingIndices(p.Fold).Contains(i), "predicted by a model that did not train on it");
            var direct = first.GetModel(p.Fold).PredictProbabilities(items[i].Image, 1, items[i].Height, items[i].Width);
            CollectionAssert.AreEqual(direct, p.Probability);
            var other = first.GetModel((p.Fold + 1) % 3).PredictProbabilities(items[i].Image, 1, items[i].Height, items[i].Width);
            CollectionAssert.AreNotEqual(other, p.Probability, "another fold's model gives other probabilities");
        }

        using var second = CrossFitting.Fit(items, Tiny());
        CollectionAssert.AreEqual(first.Folds.ToArray(), second.Folds.ToArray());
        for (int i = 0; i < items.Count; i++) CollectionAssert.AreEqual(predictions[i].Probability, second.PredictProbabilities(i), $"image {i}");

        // The IDataView streams the same rows, with shaped columns.
        var ml = new MLContext(seed: 0);
        var view = first.ToDataView(ml);
        var type = (VectorDataViewType)view.Schema[SegmentationColumnNames.Probability].Type;
        CollectionAssert.AreEqual(new[] { 1, 64, 64 }, type.Dimensions.ToArray());
        var fromView = view.GetColumn<VBuffer<float>>(SegmentationColumnNames.Probability).Select(v => v.DenseValues().ToArray()).ToList();
        for (int i = 0; i < items.Count; i++) CollectionAssert.AreEqual(predictions[i].Probability, fromView[i]);
        CollectionAssert.AreEqual(first.Folds.ToArray(), view.GetColumn<int>("Fold").ToArray());
        CollectionAssert.AreEqual(items.Select(i => i.Name).ToArray(), view.GetColumn<string>(SegmentationColumnNames.Name).ToArray());
    }

    [TestMethod]
    public void Catalog_CrossFitThenScore_RunsAsOnePipeline_AndCancels()
    {
        var ml = new MLContext(seed: 0);
        var data = SyntheticFixtures.View(ml, seed: 5, count: 4);
        using var fitted = ml.Segmentation().CrossFitProbabilities(data, Tiny(folds: 2));
        var scoring = ml.Transforms.ScoreLabelQuality().Fit(fitted.ToDataView(ml));
        var scored = scoring.Transform(fitted.ToDataView(ml));
        var meta = scored.GetColumn<double>(LabelQualityColumnNames.MetaStructureScore).ToArray();
        Assert.AreEqual(4, meta.Length);
        Assert.IsTrue(meta.All(m => m is >= 0 and <= 1), string.Join(",", meta));

        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.Throws<OperationCanceledException>(() => CrossFitting.Fit(Items(4), Tiny(folds: 2) with { CancellationToken = cts.Token }));
        var e = Assert.Throws<ArgumentException>(() => CrossFitting.Fit(Items(2), Tiny(folds: 3)));
        StringAssert.Contains(e.Message, "3 folds");
        Assert.Throws<ArgumentException>(() => CrossFitting.Fit(Items(4), Tiny() with { ClassCount = 3 }));
    }

    private sealed class Inline(Action<CrossFitProgress> report) : IProgress<CrossFitProgress>
    {
        public void Report(CrossFitProgress value) => report(value);
    }
}
