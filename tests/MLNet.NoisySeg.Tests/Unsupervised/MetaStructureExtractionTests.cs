using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Morphology;
using MLNet.NoisySeg.Unsupervised;

namespace MLNet.NoisySeg.Tests.Unsupervised;

[TestClass]
public class MetaStructureExtractionTests
{
    private const int W = 64, H = 64;

    private static byte[] Blobs()
    {
        var m = new byte[W * H];
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
            {
                bool a = (x - 18) * (x - 18) + (y - 20) * (y - 20) <= 100;
                bool b = x >= 35 && x < 58 && y >= 30 && y < 50;
                m[y * W + x] = a || b ? (byte)1 : (byte)0;
            }
        return m;
    }

    private static byte[] Skeleton(byte[] m)
    {
        var s = new byte[m.Length];
        BinaryMorphology.Skeletonize(m, s, W, H);
        return s;
    }

    private static bool NearSkeleton(byte[] skeleton, int x, int y, int r)
    {
        for (int dy = -r; dy <= r; dy++)
            for (int dx = -r; dx <= r; dx++)
            {
                int xx = x + dx, yy = y + dy;
                if (xx >= 0 && yy >= 0 && xx < W && yy < H && skeleton[yy * W + xx] == 1) return true;
            }
        return false;
    }

    [TestMethod]
    public void Output_IsSparseByP_AndWithinRadiusOfTheSkeleton()
    {
        var mask = Blobs();
        var skeleton = Skeleton(mask);
        var rng = SeededRandom.For(3, "img", 0);
        var output = new byte[mask.Length];
        var r = MetaStructureExtraction.Extract(mask, output, W, H, new MetaStructureExtractionOptions(), ref rng);

        Assert.IsFalse(r.Inverted);
        Assert.AreEqual(skeleton.Count(v => v == 1), r.SkeletonPixels);
        Assert.IsTrue(r.ShiftedPixels <= r.SkeletonPixels && r.ShiftedPixels >= r.SkeletonPixels / 2, $"{r.ShiftedPixels} of {r.SkeletonPixels}");
        Assert.AreEqual((int)Math.Ceiling(0.1 * r.ShiftedPixels), r.KeptPixels);
        Assert.AreEqual(r.KeptPixels, output.Count(v => v == 1));
        int fg = mask.Count(v => v == 1);
        Assert.IsTrue(r.KeptPixels < 0.02 * fg, $"kept {r.KeptPixels} of {fg} foreground pixels");
        for (int i = 0; i < output.Length; i++)
            if (output[i] == 1) Assert.IsTrue(NearSkeleton(skeleton, i % W, i / W, 1), $"pixel {i} is farther than r = 1 from the skeleton");
    }

    [TestMethod]
    public void WithoutShiftAndSampling_OutputIsTheThinSkeleton()
    {
        var mask = Blobs();
        var rng = SeededRandom.For(0, "img", 0);
        var output = new byte[mask.Length];
        MetaStructureExtraction.Extract(mask, output, W, H, new MetaStructureExtractionOptions { ShiftRadius = 0, KeepFraction = 1 }, ref rng);
        CollectionAssert.AreEqual(Skeleton(mask), output);
        // Thin: no 2x2 block is entirely foreground, and far fewer pixels than the mask.
        for (int y = 0; y + 1 < H; y++)
            for (int x = 0; x + 1 < W; x++)
                Assert.IsFalse(output[y * W + x] + output[y * W + x + 1] + output[(y + 1) * W + x] + output[(y + 1) * W + x + 1] == 4, $"2x2 block at {x},{y}");
        Assert.IsTrue(output.Count(v => v == 1) < mask.Count(v => v == 1) / 5);
    }

    [TestMethod]
    public void MajorityForeground_IsInvertedFirst()
    {
        var mask = Blobs().Select(v => (byte)(1 - v)).ToArray(); // ~75% foreground
        var rng = SeededRandom.For(1, "img", 2);
        var output = new byte[mask.Length];
        var r = MetaStructureExtraction.Extract(mask, output, W, H, new MetaStructureExtractionOptions { ShiftRadius = 0, KeepFraction = 1 }, ref rng);
        Assert.IsTrue(r.Inverted);
        CollectionAssert.AreEqual(Skeleton(Blobs()), output); // the skeleton of the minority (the blobs)
    }

    [TestMethod]
    public void IsDeterministicPerSeedImageAndRound()
    {
        var mask = Blobs();
        var o = new MetaStructureExtractionOptions();
        var a = MetaStructureExtraction.Extract(mask, W, H, o, 4, "a.png", 1);
        CollectionAssert.AreEqual(a, MetaStructureExtraction.Extract(mask, W, H, o, 4, "a.png", 1));
        CollectionAssert.AreNotEqual(a, MetaStructureExtraction.Extract(mask, W, H, o, 4, "a.png", 2));
        CollectionAssert.AreNotEqual(a, MetaStructureExtraction.Extract(mask, W, H, o, 4, "b.png", 1));
    }

    [TestMethod]
    public void InvalidOptions_NameTheOption()
    {
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new MetaStructureExtractionOptions { KeepFraction = 0 }.Validate());
        Assert.AreEqual("KeepFraction", e.ParamName);
        e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new MetaStructureExtractionOptions { ShiftRadius = -1 }.Validate());
        Assert.AreEqual("ShiftRadius", e.ParamName);
        foreach (var (bad, name) in new (IgttOptions, string)[]
                 {
                     (new IgttOptions { Rounds = 0 }, "Rounds"), (new IgttOptions { CandidateCount = 0 }, "CandidateCount"),
                     (new IgttOptions { KeepFraction = 1.5 }, "KeepFraction"), (new IgttOptions { ShiftRadius = -1 }, "ShiftRadius"),
                     (new IgttOptions { StepsPerRound = 0 }, "StepsPerRound"), (new IgttOptions { EpochsPerRound = 0 }, "EpochsPerRound"),
                     (new IgttOptions { Trainer = new MLNet.NoisySeg.Training.SegmentationTrainerOptions() }, "Trainer"),
                     (new IgttOptions { Trainer = new IgttOptions().Trainer with { ResumeFromCheckpoint = true, CheckpointPath = "x.ckpt" } }, "Trainer"),
                 })
        {
            var ex = Assert.Throws<ArgumentException>(bad.Validate);
            Assert.AreEqual(name, ex.ParamName);
            StringAssert.Contains(ex.Message, name);
        }
        var d = new IgttOptions();
        Assert.AreEqual(30, d.CandidateCount);
        Assert.AreEqual(1, d.ShiftRadius);
        Assert.AreEqual(0.1, d.KeepFraction);
        Assert.IsTrue(d.UseMetaStructureExtraction);
    }

    [TestMethod]
    public void InvertMajority_False_KeepsAMajorityMaskAsIs()
    {
        var mask = Blobs().Select(v => (byte)(1 - v)).ToArray(); // background is now the (majority) foreground
        var output = new byte[mask.Length];
        var rng = SeededRandom.For(3, "img", 0);
        var r = MetaStructureExtraction.Extract(mask, output, W, H, new MetaStructureExtractionOptions { InvertMajority = false }, ref rng);
        Assert.IsFalse(r.Inverted);
        var skeleton = Skeleton(mask);
        Assert.AreEqual(skeleton.Count(v => v == 1), r.SkeletonPixels);
        rng = SeededRandom.For(3, "img", 0);
        var inverted = MetaStructureExtraction.Extract(mask, output, W, H, new MetaStructureExtractionOptions(), ref rng);
        Assert.IsTrue(inverted.Inverted);
        Assert.AreNotEqual(r.SkeletonPixels, inverted.SkeletonPixels);
    }
}
