using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Morphology;
using MLNet.NoisySeg.Quality;

namespace MLNet.NoisySeg.Tests.Quality;

[TestClass]
public sealed class LabelErrorPlanterTests
{
    private const int Size = 64;

    private static readonly (int X, int Y, int R, byte Class)[] Discs = [(15, 15, 6, 1), (45, 18, 7, 2), (20, 45, 5, 1), (47, 47, 8, 2)];

    private static byte[] Binary() => QualityTestData.Paint(Discs.Select(d => d with { Class = (byte)1 }), Size);

    private static byte[] ThreeClass() => QualityTestData.Paint(Discs, Size);

    private static PlantedLabelError Plant(byte[] mask, int classCount, PlantedErrorKind kind, int seed = 1, LabelErrorPlantingOptions? options = null)
    {
        var rng = SeededRandom.For(seed, "planter");
        return LabelErrorPlanter.Plant(mask, Size, Size, classCount, kind, ref rng, options);
    }

    private static void CheckChanged(byte[] before, PlantedLabelError e)
    {
        long count = 0;
        for (int i = 0; i < before.Length; i++)
        {
            byte expected = before[i] == MaskConventions.IgnoreIndex ? MaskConventions.IgnoreIndex : before[i] != e.Mask[i] ? (byte)1 : (byte)0;
            Assert.AreEqual(expected, e.Changed[i], $"pixel {i}");
            if (expected == 1) count++;
        }
        Assert.AreEqual(count, e.ChangedPixelCount);
    }

    [TestMethod]
    public void DilateAndErode_OfBinaryMasks_AreTheDiskMorphology()
    {
        byte[] mask = Binary();
        var expected = new byte[mask.Length];
        var d = Plant(mask, 2, PlantedErrorKind.Dilate);
        BinaryMorphology.Dilate(mask, expected, Size, Size, 2);
        CollectionAssert.AreEqual(expected, d.Mask);
        CheckChanged(mask, d);
        var e = Plant(mask, 2, PlantedErrorKind.Erode, options: new LabelErrorPlantingOptions { Radius = 3 });
        BinaryMorphology.Erode(mask, expected, Size, Size, 3);
        CollectionAssert.AreEqual(expected, e.Mask);
        CheckChanged(mask, e);
        Assert.IsTrue(d.ChangedPixelCount > 0 && e.ChangedPixelCount > 0);
    }

    [TestMethod]
    public void MultiClassDilation_GrowsOnlyIntoBackground()
    {
        // Two touching discs of different classes: neither may eat the other.
        byte[] mask = QualityTestData.Paint([(20, 30, 8, 1), (36, 30, 8, 2)], Size);
        var d = Plant(mask, 3, PlantedErrorKind.Dilate);
        for (int i = 0; i < mask.Length; i++)
            if (mask[i] != 0) Assert.AreEqual(mask[i], d.Mask[i]);
        Assert.IsTrue(d.Mask.Count(v => v == 1) > mask.Count(v => v == 1));
        Assert.IsTrue(d.Mask.Count(v => v == 2) > mask.Count(v => v == 2));
    }

    [TestMethod]
    public void DropObject_RemovesExactlyOneWholeObject()
    {
        byte[] mask = ThreeClass();
        var e = Plant(mask, 3, PlantedErrorKind.DropObject);
        CheckChanged(mask, e);
        var before = LabelErrorPlanter.Components(mask, Size, Size, 0).Objects;
        var after = LabelErrorPlanter.Components(e.Mask, Size, Size, 0).Objects;
        Assert.AreEqual(before.Count - 1, after.Count);
        Assert.IsTrue(before.Any(o => o.Pixels.Length == e.ChangedPixelCount), e.Description);
        for (int i = 0; i < mask.Length; i++)
            if (e.Changed[i] == 1) Assert.AreEqual((byte)0, e.Mask[i]);
    }

    [TestMethod]
    public void AddObject_PastesACopyOnBackgroundOnly()
    {
        byte[] mask = ThreeClass();
        var e = Plant(mask, 3, PlantedErrorKind.AddObject, seed: 4);
        CheckChanged(mask, e);
        var before = LabelErrorPlanter.Components(mask, Size, Size, 0).Objects;
        Assert.IsTrue(before.Any(o => o.Pixels.Length == e.ChangedPixelCount), e.Description);
        for (int i = 0; i < mask.Length; i++)
            if (e.Changed[i] == 1) Assert.AreEqual((byte)0, mask[i], "only background is overwritten");
    }

    [TestMethod]
    public void AddObject_WithoutRoom_ChangesNothing()
    {
        byte[] full = QualityTestData.Paint([(32, 32, 40, 1)], Size);
        full[0] = 0;
        var e = Plant(full, 2, PlantedErrorKind.AddObject);
        Assert.AreEqual(0, e.ChangedPixelCount);
        StringAssert.Contains(e.Description, "no room");
    }

    [TestMethod]
    public void Shift_MovesEveryObjectByOneCompassStep()
    {
        byte[] mask = QualityTestData.Paint([(30, 30, 6, 1)], Size);
        var e = Plant(mask, 2, PlantedErrorKind.Shift, seed: 3, new LabelErrorPlantingOptions { Shift = 4 });
        CheckChanged(mask, e);
        (double x, double y) Centroid(byte[] m)
        {
            double sx = 0, sy = 0; int n = 0;
            for (int i = 0; i < m.Length; i++) if (m[i] == 1) { sx += i % Size; sy += i / Size; n++; }
            return (sx / n, sy / n);
        }
        var (x0, y0) = Centroid(mask);
        var (x1, y1) = Centroid(e.Mask);
        double dx = x1 - x0, dy = y1 - y0;
        Assert.IsTrue(Math.Abs(Math.Abs(dx) - 4) < 1e-9 || Math.Abs(dx) < 1e-9, $"dx {dx}");
        Assert.IsTrue(Math.Abs(Math.Abs(dy) - 4) < 1e-9 || Math.Abs(dy) < 1e-9, $"dy {dy}");
        Assert.IsTrue(Math.Abs(dx) + Math.Abs(dy) > 0);
        Assert.AreEqual(mask.Count(v => v == 1), e.Mask.Count(v => v == 1));
    }

    [TestMethod]
    public void SwapClass_RelabelsOneObject_InvertFlipsBinaryMasks()
    {
        byte[] mask = ThreeClass();
        var e = Plant(mask, 3, PlantedErrorKind.SwapClass, seed: 2);
        CheckChanged(mask, e);
        for (int i = 0; i < mask.Length; i++)
            if (e.Changed[i] == 1) Assert.IsTrue(mask[i] != 0 && e.Mask[i] != 0 && e.Mask[i] != mask[i]);
        Assert.ThrowsExactly<ArgumentException>(() => Plant(Binary(), 2, PlantedErrorKind.SwapClass));

        byte[] binary = Binary();
        var inv = Plant(binary, 2, PlantedErrorKind.Invert);
        for (int i = 0; i < binary.Length; i++) Assert.AreEqual(1 - binary[i], inv.Mask[i]);
        Assert.ThrowsExactly<ArgumentException>(() => Plant(mask, 3, PlantedErrorKind.Invert));
    }

    [TestMethod]
    public void Planting_IsDeterministic_AndNeverTouchesIgnorePixels()
    {
        byte[] mask = ThreeClass();
        for (int i = 0; i < mask.Length; i += 5) mask[i] = MaskConventions.IgnoreIndex;
        foreach (var kind in new[] { PlantedErrorKind.Dilate, PlantedErrorKind.Erode, PlantedErrorKind.DropObject, PlantedErrorKind.AddObject, PlantedErrorKind.Shift, PlantedErrorKind.SwapClass })
        {
            var a = Plant(mask, 3, kind, seed: 9);
            var b = Plant(mask, 3, kind, seed: 9);
            CollectionAssert.AreEqual(a.Mask, b.Mask, kind.ToString());
            Assert.AreEqual(a.Description, b.Description);
            for (int i = 0; i < mask.Length; i += 5)
            {
                Assert.AreEqual(MaskConventions.IgnoreIndex, a.Mask[i], $"{kind} pixel {i}");
                Assert.AreEqual(MaskConventions.IgnoreIndex, a.Changed[i]);
            }
        }
    }

    [TestMethod]
    public void Options_AreValidated()
    {
        Assert.AreEqual("Radius", Assert.ThrowsExactly<ArgumentOutOfRangeException>(new LabelErrorPlantingOptions { Radius = 0 }.Validate).ParamName);
        Assert.AreEqual("Shift", Assert.ThrowsExactly<ArgumentOutOfRangeException>(new LabelErrorPlantingOptions { Shift = 0 }.Validate).ParamName);
        Assert.AreEqual("BackgroundClass", Assert.ThrowsExactly<ArgumentOutOfRangeException>(new LabelErrorPlantingOptions { BackgroundClass = 255 }.Validate).ParamName);
        Assert.AreEqual("mask", Assert.ThrowsExactly<ArgumentException>(() => Plant(ThreeClass(), 2, PlantedErrorKind.Dilate)).ParamName);
    }
}
