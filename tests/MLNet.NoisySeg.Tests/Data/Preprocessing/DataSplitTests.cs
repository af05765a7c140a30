using MLNet.NoisySeg.Data.Preprocessing;

namespace MLNet.NoisySeg.Tests.Data.Preprocessing;

[TestClass]
public sealed class DataSplitTests
{
    private static readonly string[] Ids = [.. Enumerable.Range(0, 100).Select(i => $"img_{i:D3}.png")];

    [TestMethod]
    public void Split_IsDeterministicDisjointAndCoversAll()
    {
        var a = DataSplit.SplitTrainValidation(Ids, 0.2, seed: 42);
        var b = DataSplit.SplitTrainValidation(Ids, 0.2, seed: 42);
        CollectionAssert.AreEqual(a.Train.ToArray(), b.Train.ToArray());
        CollectionAssert.AreEqual(a.Validation.ToArray(), b.Validation.ToArray());
        Assert.AreEqual(20, a.Validation.Count);
        Assert.AreEqual(80, a.Train.Count);
        Assert.IsFalse(a.Train.Intersect(a.Validation).Any());
        CollectionAssert.AreEquivalent(Ids, a.Train.Concat(a.Validation).ToArray());
    }

    [TestMethod]
    public void Split_IsIndependentOfInputOrder()
    {
        var shuffled = Ids.ToArray();
        new Random(123).Shuffle(shuffled);
        var reversed = Ids.Reverse().ToArray();
        var a = DataSplit.SplitTrainValidation(Ids, 0.3, 7);
        foreach (var input in new[] { shuffled, reversed })
        {
            var b = DataSplit.SplitTrainValidation(input, 0.3, 7);
            CollectionAssert.AreEqual(a.Train.ToArray(), b.Train.ToArray());
            CollectionAssert.AreEqual(a.Validation.ToArray(), b.Validation.ToArray());
        }
        CollectionAssert.AreEqual(DataSplit.Shuffle(Ids, 7).ToArray(), DataSplit.Shuffle(reversed, 7).ToArray());
    }

    [TestMethod]
    public void DifferentSeeds_GiveDifferentSplits()
    {
        var a = DataSplit.SplitTrainValidation(Ids, 0.2, 1);
        var b = DataSplit.SplitTrainValidation(Ids, 0.2, 2);
        CollectionAssert.AreNotEquivalent(a.Validation.ToArray(), b.Validation.ToArray());
        // The shuffle is a real permutation, not the identity.
        CollectionAssert.AreNotEqual(Ids, DataSplit.Shuffle(Ids, 1).ToArray());
        CollectionAssert.AreEquivalent(Ids, DataSplit.Shuffle(Ids, 1).ToArray());
    }

    [TestMethod]
    [DataRow(100, 0.2, 20)]
    [DataRow(10, 0.25, 3)]   // 2.5 rounds away from zero
    [DataRow(7, 0.5, 4)]     // 3.5 -> 4
    [DataRow(3, 0.01, 1)]    // at least one validation item
    [DataRow(3, 0.99, 2)]    // at least one training item
    [DataRow(5, 0.0, 0)]
    [DataRow(5, 1.0, 5)]
    [DataRow(1, 0.5, 1)]     // 0.5 -> 1, cannot keep both non-empty
    [DataRow(0, 0.5, 0)]
    public void ValidationCount_RespectsFraction(int n, double fraction, int expected)
    {
        Assert.AreEqual(expected, DataSplit.ValidationCount(n, fraction));
        var ids = Enumerable.Range(0, n).Select(i => i.ToString()).ToArray();
        var split = DataSplit.SplitTrainValidation(ids, fraction, 3);
        Assert.AreEqual(expected, split.Validation.Count);
        Assert.AreEqual(n - expected, split.Train.Count);
    }

    [TestMethod]
    public void AddingIds_KeepsRelativeOrderOfExistingIds()
    {
        var small = DataSplit.Shuffle(Ids.Take(50), 5);
        var large = DataSplit.Shuffle(Ids, 5);
        CollectionAssert.AreEqual(small.ToArray(), large.Where(id => small.Contains(id)).ToArray());
    }

    [TestMethod]
    public void InvalidInput_Throws()
    {
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => DataSplit.SplitTrainValidation(Ids, 1.5, 1));
        Assert.AreEqual("validationFraction", ex.ParamName);
        var dup = Assert.ThrowsExactly<ArgumentException>(() => DataSplit.SplitTrainValidation(["a", "b", "a"], 0.5, 1));
        StringAssert.Contains(dup.Message, "'a'");
    }
}
