using MLNet.NoisySeg.Noise;

namespace MLNet.NoisySeg.Tests.Noise;

[TestClass]
public sealed class LabelCorruptorTests
{
    private static (byte[][] Masks, string[] Ids) Batch(int count, int w, int h, int classes)
    {
        var masks = new byte[count][];
        var ids = new string[count];
        for (int i = 0; i < count; i++)
        {
            masks[i] = LabelNoiseSpecTests.RandomMask(w, h, classes, 0.3, 100 + i, ignore: 0.02);
            ids[i] = $"img_{i:000}.png";
        }
        return (masks, ids);
    }

    public static IEnumerable<object[]> Specs() =>
    [
        ["sampling(0.1)"], ["flip(0.45,0.45)"], ["random(0.3)"], ["shift(1)"], ["boundaryflip(1,0.4)"],
        ["symflip(0.5,classes=2)"], ["ntm([[0.8,0.2],[0.3,0.7]])"], ["randomprior([0.6,0.4])"],
    ];

    [TestMethod]
    [DynamicData(nameof(Specs))]
    public void SameSeedGivesIdenticalBytesWhateverTheThreadCount(string text)
    {
        // 300x260 masks take the parallel (tiled) kernels inside each image too.
        var (masks, ids) = Batch(4, 300, 260, 2);
        var spec = LabelNoiseSpec.Parse(text);
        var serial = new LabelCorruptor(spec, 7) { MaxDegreeOfParallelism = 1, Online = true }.CorruptBatch(masks, 300, 260, ids, epoch: 2);
        var parallel = new LabelCorruptor(spec, 7) { MaxDegreeOfParallelism = 2, Online = true }.CorruptBatch(masks, 300, 260, ids, epoch: 2);
        for (int i = 0; i < masks.Length; i++)
        {
            CollectionAssert.AreEqual(serial[i], parallel[i], $"{text} image {i}");
            CollectionAssert.AreEqual(spec.Apply(masks[i], 300, 260, 7, ids[i], 2), serial[i], "batch = single-image Apply");
        }
        // Image identity, not batch position, decides the stream.
        var reversed = new LabelCorruptor(spec, 7) { Online = true }.CorruptBatch(masks.Reverse().ToArray(), 300, 260, ids.Reverse().ToArray(), epoch: 2);
        CollectionAssert.AreEqual(serial[0], reversed[^1]);
    }

    /// <summary>The kinds with parallel row tiles inside one image, plus one exact-count kind.</summary>
    public static IEnumerable<object[]> TiledSpecs() =>
        [["random(0.3)"], ["ntm([[0.8,0.2],[0.3,0.7]])"], ["randomprior([0.6,0.4])"], ["flip(0.45,0.45)"]];

    [TestMethod]
    [DynamicData(nameof(TiledSpecs))]
    public void MegapixelMasksAreDeterministicAcrossThreadCounts(string text)
    {
        // 1024 x 1024: the per-pixel kinds split each image into position-seeded row tiles run in parallel.
        var (masks, ids) = Batch(2, 1024, 1024, 2);
        var spec = LabelNoiseSpec.Parse(text);
        var a = new LabelCorruptor(spec, 11) { MaxDegreeOfParallelism = 1 }.CorruptBatch(masks, 1024, 1024, ids);
        var b = new LabelCorruptor(spec, 11) { MaxDegreeOfParallelism = 2 }.CorruptBatch(masks, 1024, 1024, ids);
        for (int i = 0; i < masks.Length; i++)
            CollectionAssert.AreEqual(a[i], b[i], $"{text} image {i}");
    }

    [TestMethod]
    public void OnlineNoiseChangesWithEpochOfflineDoesNot()
    {
        var (masks, ids) = Batch(3, 64, 64, 2);
        var spec = LabelNoiseSpec.Flipping(0.45, 0.45);
        var online = new LabelCorruptor(spec, 1) { Online = true };
        var e0 = online.CorruptBatch(masks, 64, 64, ids, 0);
        var e1 = online.CorruptBatch(masks, 64, 64, ids, 1);
        for (int i = 0; i < masks.Length; i++)
        {
            CollectionAssert.AreNotEqual(e0[i], e1[i], "different epochs give different noise");
            Assert.AreEqual(e0[i].Count(v => v == 1), e1[i].Count(v => v == 1), "but the same exact counts");
        }
        var offline = new LabelCorruptor(spec, 1);
        CollectionAssert.AreEqual(offline.Corrupt(masks[0], 64, 64, ids[0], 0), offline.Corrupt(masks[0], 64, 64, ids[0], 5));
        CollectionAssert.AreNotEqual(new LabelCorruptor(spec, 2).Corrupt(masks[0], 64, 64, ids[0]), offline.Corrupt(masks[0], 64, 64, ids[0]), "different seeds differ");
        CollectionAssert.AreNotEqual(offline.Corrupt(masks[0], 64, 64, "other"), offline.Corrupt(masks[0], 64, 64, ids[0]), "different images differ");
    }

    [TestMethod]
    public void BatchArgumentsAreChecked()
    {
        var (masks, ids) = Batch(2, 8, 8, 2);
        var c = new LabelCorruptor(LabelNoiseSpec.Sampling(0.5), 1);
        Assert.AreEqual("imageIds", Assert.ThrowsExactly<ArgumentException>(() => c.CorruptBatch(masks, 8, 8, ids[..1])).ParamName);
        Assert.AreEqual("outputs", Assert.ThrowsExactly<ArgumentException>(() => c.CorruptBatch(masks, [new byte[64]], 8, 8, ids)).ParamName);
        Assert.AreEqual("clean", Assert.ThrowsExactly<ArgumentException>(() => c.CorruptBatch(masks, 8, 7, ids)).ParamName);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new LabelCorruptor(new LabelNoiseSpec { Kind = LabelNoiseKind.Random, Rate = -1 }, 1));
    }
}
