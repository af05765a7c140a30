using System.Diagnostics;
using System.Runtime.InteropServices;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Data.Synthetic;

namespace MLNet.NoisySeg.Tests.Data.Synthetic;

[TestClass]
public sealed class SyntheticDataTests
{
    public TestContext TestContext { get; set; } = null!;

    private static readonly SyntheticFluorescenceOptions Filaments = new() { Kind = SyntheticFluorescenceKind.Filaments };
    private static readonly SyntheticFluorescenceOptions Nuclei = new() { Kind = SyntheticFluorescenceKind.Nuclei };

    private static double ForegroundFraction(SegmentationItem s) => s.Mask!.Count(v => v == 1) / (double)s.Mask!.Length;

    private static void AssertIdentical(SegmentationItem a, SegmentationItem b)
    {
        Assert.AreEqual(a.Name, b.Name);
        Assert.AreEqual((a.Channels, a.Height, a.Width), (b.Channels, b.Height, b.Width));
        Assert.IsTrue(MemoryMarshal.AsBytes(a.Image.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(b.Image.AsSpan())), $"{a.Name}: image bytes differ");
        Assert.IsTrue(a.Mask!.AsSpan().SequenceEqual(b.Mask!), $"{a.Name}: mask bytes differ");
    }

    [TestMethod]
    public void Fluorescence_SameSeed_IdenticalBytes_ForAnyThreadCount()
    {
        foreach (var o in new[] { Filaments, Nuclei })
        {
            var sequential = SyntheticData.FluorescenceBatch(o, 17, 6, firstIndex: 3, maxDegreeOfParallelism: 1);
            var parallel = SyntheticData.FluorescenceBatch(o, 17, 6, firstIndex: 3, maxDegreeOfParallelism: 4);
            for (int i = 0; i < 6; i++)
            {
                AssertIdentical(sequential[i], parallel[i]);
                AssertIdentical(sequential[i], SyntheticData.Fluorescence(o, 17, 3 + i));
            }
        }
    }

    [TestMethod]
    public void Scene_SameSeed_IdenticalBytes_ForAnyThreadCount()
    {
        var o = new SyntheticSceneOptions { Width = 96, Height = 80 };
        var sequential = SyntheticData.SceneBatch(o, 5, 6, maxDegreeOfParallelism: 1);
        var parallel = SyntheticData.SceneBatch(o, 5, 6, maxDegreeOfParallelism: 3);
        for (int i = 0; i < 6; i++) AssertIdentical(sequential[i], parallel[i]);
        Assert.AreEqual("scene-00004", sequential[4].Name);
    }

    [TestMethod]
    public void DifferentSeedsOrIndices_Differ()
    {
        foreach (var o in new[] { Filaments, Nuclei })
        {
            var a = SyntheticData.Fluorescence(o, 1, 0);
            var b = SyntheticData.Fluorescence(o, 2, 0);
            var c = SyntheticData.Fluorescence(o, 1, 1);
            Assert.AreEqual(a.Name, b.Name);
            double diffSeed = a.Mask!.Zip(b.Mask!).Count(t => t.First != t.Second) / (double)a.Mask!.Length;
            double diffIndex = a.Mask!.Zip(c.Mask!).Count(t => t.First != t.Second) / (double)a.Mask!.Length;
            Assert.IsTrue(diffSeed > 0.05, $"{o.Kind}: masks of seeds 1 and 2 differ in only {diffSeed:P1}");
            Assert.IsTrue(diffIndex > 0.05, $"{o.Kind}: masks of indices 0 and 1 differ in only {diffIndex:P1}");
            Assert.IsFalse(a.Image.AsSpan().SequenceEqual(b.Image));
        }
        var s1 = SyntheticData.Scene(new SyntheticSceneOptions(), 1, 0);
        var s2 = SyntheticData.Scene(new SyntheticSceneOptions(), 2, 0);
        Assert.IsFalse(s1.Mask!.AsSpan().SequenceEqual(s2.Mask!));
    }

    [TestMethod]
    public void Fluorescence_ForegroundFraction_InExpectedRange()
    {
        var filaments = SyntheticData.FluorescenceBatch(Filaments, 3, 8);
        var nuclei = SyntheticData.FluorescenceBatch(Nuclei, 3, 8);
        foreach (var s in filaments)
        {
            double f = ForegroundFraction(s);
            Assert.IsTrue(f >= 0.05 && f <= 0.25, $"{s.Name}: filament foreground fraction {f:F3}");
        }
        foreach (var s in nuclei)
        {
            double f = ForegroundFraction(s);
            Assert.IsTrue(f >= 0.10 && f <= 0.40, $"{s.Name}: nucleus foreground fraction {f:F3}");
        }
        TestContext.WriteLine($"filaments fg {filaments.Average(ForegroundFraction):F3}, nuclei fg {nuclei.Average(ForegroundFraction):F3}");
    }

    [TestMethod]
    public void Fluorescence_ImageIsBinaryMaskedSignalWithNoise()
    {
        foreach (var o in new[] { Filaments, Nuclei })
        {
            var s = SyntheticData.Fluorescence(o, 9, 0);
            Assert.AreEqual(1, s.Channels);
            Assert.AreEqual(256 * 256, s.Image.Length);
            Assert.IsTrue(s.Mask!.All(v => v <= 1), "mask must be binary 0/1");
            Assert.IsTrue(s.Image.All(v => v >= 0f && v <= 1f), "image values must lie in [0, 1]");
            double fg = 0, bg = 0;
            int nf = 0, nb = 0;
            for (int i = 0; i < s.Mask!.Length; i++)
            {
                if (s.Mask![i] == 1) { fg += s.Image[i]; nf++; }
                else { bg += s.Image[i]; nb++; }
            }
            fg /= nf;
            bg /= nb;
            double mean = s.Image.Average(v => (double)v);
            double std = Math.Sqrt(s.Image.Average(v => (v - mean) * (v - mean)));
            Assert.IsTrue(std > 0.02, $"{o.Kind}: image std {std:F4}");
            Assert.IsTrue(fg > bg + 0.1, $"{o.Kind}: foreground mean {fg:F3} should exceed background mean {bg:F3}");
        }
    }

    [TestMethod]
    public void Fluorescence_NoiseAndBlurOptionsAct()
    {
        var clean = SyntheticData.Fluorescence(new SyntheticFluorescenceOptions { Kind = SyntheticFluorescenceKind.Nuclei, NoiseLevel = 0, PhotonCount = 0, BlurSigma = 0, BackgroundVariation = 0 }, 4, 0);
        var noisy = SyntheticData.Fluorescence(new SyntheticFluorescenceOptions { Kind = SyntheticFluorescenceKind.Nuclei, NoiseLevel = 0.1, PhotonCount = 20 }, 4, 0);
        // Same structure whatever the imaging options.
        CollectionAssert.AreEqual(clean.Mask!, noisy.Mask!);
        // Without blur or noise, background pixels are exactly the background level.
        Assert.IsTrue(clean.Mask!.Select((m, i) => (m, i)).Where(t => t.m == 0).All(t => Math.Abs(clean.Image[t.i] - 0.1f) < 1e-6f));
        // Noise: neighbouring background differences are much larger in the noisy image.
        double Roughness(SegmentationItem s)
        {
            double sum = 0;
            int n = 0;
            for (int i = 1; i < s.Mask!.Length; i++)
                if (s.Mask![i] == 0 && s.Mask![i - 1] == 0) { sum += Math.Abs(s.Image[i] - s.Image[i - 1]); n++; }
            return sum / n;
        }
        Assert.AreEqual(0.0, Roughness(clean), 1e-6);
        Assert.IsTrue(Roughness(noisy) > 0.05, $"roughness {Roughness(noisy):F4}");
    }

    [TestMethod]
    public void Scene_MaskClassesWithinRange_AndAllClassesAppear()
    {
        foreach (int classes in new[] { 2, 4, 6 })
        {
            var o = new SyntheticSceneOptions { ClassCount = classes, Width = 128, Height = 128 };
            var batch = SyntheticData.SceneBatch(o, 8, 4);
            var counts = new int[256];
            foreach (var s in batch)
            {
                Assert.AreEqual(3, s.Channels);
                Assert.AreEqual(3 * 128 * 128, s.Image.Length);
                Assert.IsTrue(s.Image.All(v => v >= 0f && v <= 1f));
                foreach (var v in s.Mask!) counts[v]++;
            }
            for (int c = 0; c < 256; c++)
            {
                if (c < classes) Assert.IsTrue(counts[c] > 0, $"ClassCount {classes}: class {c} never appears");
                else Assert.AreEqual(0, counts[c], $"ClassCount {classes}: class {c} out of range");
            }
        }
    }

    [TestMethod]
    public void Scene_ClassesHaveDistinctMeanColours()
    {
        var o = new SyntheticSceneOptions { ClassCount = 6, ObjectCount = 20 };
        var s = SyntheticData.Scene(o, 21, 0);
        int plane = s.Height * s.Width;
        var means = new double[6, 3];
        var n = new int[6];
        for (int p = 0; p < plane; p++)
        {
            int c = s.Mask![p];
            n[c]++;
            for (int ch = 0; ch < 3; ch++) means[c, ch] += s.Image[ch * plane + p];
        }
        for (int c = 0; c < 6; c++)
        {
            Assert.IsTrue(n[c] > 0, $"class {c} missing");
            for (int ch = 0; ch < 3; ch++) means[c, ch] /= n[c];
        }
        // The dominant channel of each shape class matches its colour: 1 red, 2 green, 3 blue.
        Assert.IsTrue(means[1, 0] > means[1, 1] && means[1, 0] > means[1, 2]);
        Assert.IsTrue(means[2, 1] > means[2, 0] && means[2, 1] > means[2, 2]);
        Assert.IsTrue(means[3, 2] > means[3, 0] && means[3, 2] > means[3, 1]);
    }

    [TestMethod]
    public void NonSquareSizes_Work()
    {
        var f = SyntheticData.Fluorescence(new SyntheticFluorescenceOptions { Width = 100, Height = 48, FilamentWaviness = 0 }, 1, 0);
        Assert.AreEqual((48, 100, 4800, 4800), (f.Height, f.Width, f.Image.Length, f.Mask!.Length));
        Assert.IsTrue(ForegroundFraction(f) > 0.03);
        var sc = SyntheticData.Scene(new SyntheticSceneOptions { Width = 40, Height = 70 }, 1, 0);
        Assert.AreEqual((70, 40, 3 * 2800, 2800), (sc.Height, sc.Width, sc.Image.Length, sc.Mask!.Length));
    }

    [TestMethod]
    public void ExtremeOptions_ProduceValidSamples()
    {
        SyntheticFluorescenceOptions[] fluorescence =
        [
            new() { Width = 16, Height = 16, FilamentSpacing = 6, FilamentWaviness = 20, FilamentWidthMin = 0.5, FilamentWidthMax = 20, FilamentGapFraction = 0 },
            new() { Width = 40, Height = 17, FilamentSpacing = 512, FilamentWaviness = 0, FilamentGapFraction = 0.9, BlurSigma = 20 },
            new() { Kind = SyntheticFluorescenceKind.Nuclei, Width = 16, Height = 33, NucleusRadiusMin = 256, NucleusRadiusMax = 256, NucleusCoverage = 0.6, NucleusIrregularity = 0.3, NucleusSpacing = 0.5 },
            new() { Kind = SyntheticFluorescenceKind.Nuclei, Width = 64, Height = 64, NucleusRadiusMin = 2, NucleusRadiusMax = 2, PhotonCount = 1, NoiseLevel = 1, Background = 1, SignalIntensity = 1 },
        ];
        foreach (var o in fluorescence)
        {
            var s = SyntheticData.Fluorescence(o, 1, 0);
            Assert.AreEqual(o.Width * o.Height, s.Mask!.Length);
            Assert.IsTrue(s.Mask!.All(v => v <= 1));
            Assert.IsTrue(s.Image.All(v => v >= 0f && v <= 1f));
        }
        var scene = SyntheticData.Scene(new SyntheticSceneOptions { Width = 16, Height = 16, ObjectCount = 1000, ObjectRadiusMin = 3, ObjectRadiusMax = 1024, ClassCount = 6, ColorJitter = 0.5, BlurSigma = 20, NoiseLevel = 1 }, 1, 0);
        Assert.IsTrue(scene.Mask!.All(v => v < 6));
        Assert.IsTrue(scene.Image.All(v => v >= 0f && v <= 1f));
    }

    [TestMethod]
    public void Validate_NamesTheOption()
    {
        (Action Act, string Name)[] cases =
        [
            (() => new SyntheticFluorescenceOptions { BlurSigma = -1 }.Validate(), "BlurSigma"),
            (() => new SyntheticFluorescenceOptions { Width = 8 }.Validate(), "Width"),
            (() => new SyntheticFluorescenceOptions { NoiseLevel = double.NaN }.Validate(), "NoiseLevel"),
            (() => new SyntheticFluorescenceOptions { FilamentWidthMin = 3, FilamentWidthMax = 2 }.Validate(), "FilamentWidthMax"),
            (() => new SyntheticFluorescenceOptions { Kind = (SyntheticFluorescenceKind)7 }.Validate(), "Kind"),
            (() => new SyntheticFluorescenceOptions { NucleusCoverage = 0 }.Validate(), "NucleusCoverage"),
            (() => new SyntheticSceneOptions { ClassCount = 7 }.Validate(), "ClassCount"),
            (() => new SyntheticSceneOptions { ObjectRadiusMax = 5 }.Validate(), "ObjectRadiusMax"),
            (() => SyntheticData.Fluorescence(new SyntheticFluorescenceOptions { Height = 0 }, 1, 0), "Height"),
            (() => SyntheticData.Fluorescence(Filaments, 1, -1), "index"),
            (() => SyntheticData.FluorescenceBatch(Filaments, 1, -2), "count"),
        ];
        foreach (var (act, name) in cases)
        {
            var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(act, name);
            Assert.AreEqual(name, ex.ParamName);
            StringAssert.Contains(ex.Message, name);
        }
        new SyntheticFluorescenceOptions().Validate();
        new SyntheticSceneOptions().Validate();
    }

    /// <summary>Logs the time for 100 filament images of 256x256 (no timed assert; Debug builds are several times slower than Release).</summary>
    [TestMethod]
    public void Timing_100Images256_IsLogged()
    {
        var sw = Stopwatch.StartNew();
        var batch = SyntheticData.FluorescenceBatch(Filaments, 1, 100);
        sw.Stop();
        Assert.AreEqual(100, batch.Length);
        Assert.IsTrue(batch.All(s => s.Width == 256 && s.Height == 256 && s.Mask!.Length == 256 * 256));
        var fractions = batch.Select(ForegroundFraction).ToArray();
        TestContext.WriteLine($"filaments: 100 x 256x256 in {sw.ElapsedMilliseconds} ms ({sw.Elapsed.TotalMilliseconds / 100:F2} ms/image, " +
            $"{Environment.ProcessorCount} cores); foreground fraction {fractions.Min():F3}..{fractions.Max():F3}");
    }
}
