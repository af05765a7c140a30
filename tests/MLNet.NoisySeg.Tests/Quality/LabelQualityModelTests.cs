using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Decoding;
using MLNet.NoisySeg.Quality;

namespace MLNet.NoisySeg.Tests.Quality;

[TestClass]
public sealed class LabelQualityModelTests
{
    [TestMethod]
    public void ConfidentThresholds_AreTheMeanSelfConfidencePerGivenClass()
    {
        // 3 classes, one 2x2 image; class 2 is never given.
        byte[] mask = [0, 0, 1, 255];
        float[] p =
        [
            0.8f, 0.6f, 0.3f, 0.2f, // class 0
            0.1f, 0.3f, 0.5f, 0.7f, // class 1
            0.1f, 0.1f, 0.2f, 0.1f, // class 2
        ];
        var fitter = new LabelQualityFitter(3, DecodingRule.Argmax, new LabelQualityOptions { IssueRule = PixelIssueRule.ConfidentJoint });
        fitter.Add(mask, p, 2, 2);
        var model = fitter.Complete();
        Assert.AreEqual(0.7, model.ConfidentThresholds[0], 1e-7);
        Assert.AreEqual(0.5, model.ConfidentThresholds[1], 1e-7);
        Assert.AreEqual(2e-6, model.ConfidentThresholds[2], 1e-12, "cleanlab clips a never-given class to 2e-6");
        Assert.AreEqual(3, model.FitPixelCount);
        Assert.IsNull(model.EstimatedIssueCount);
        Assert.IsTrue(double.IsNaN(model.SelfConfidenceCutoff));
    }

    [TestMethod]
    public void ConfidentJoint_FlagsPixelsConfidentlyOfAnotherClass()
    {
        // Binary sigmoid, 1x4 image. Thresholds over the image: t0 = mean(1 - p | label 0), t1 = mean(p | label 1).
        byte[] mask = [0, 0, 1, 1];
        float[] p = [0.1f, 0.9f, 0.8f, 0.4f];
        var options = new LabelQualityOptions { IssueRule = PixelIssueRule.ConfidentJoint, Density = new() { Bandwidth = 0 } };
        var fitter = new LabelQualityFitter(1, DecodingRule.FixedThreshold, options);
        fitter.Add(mask, p, 4, 1);
        var model = fitter.Complete();
        Assert.AreEqual(0.5, model.ConfidentThresholds[0], 1e-7); // (0.9 + 0.1) / 2
        Assert.AreEqual(0.6, model.ConfidentThresholds[1], 1e-7); // (0.8 + 0.4) / 2
        var r = model.Score(mask, p, 4, 1);
        // Pixel 1: labelled 0, p1 = 0.9 >= t1, p0 = 0.1 < t0 -> confidently 1: flagged.
        // Pixel 3: labelled 1, p0 = 0.6 >= t0 and p1 = 0.4 < t1 -> confidently 0, argmax 0: flagged.
        CollectionAssert.AreEqual(new byte[] { 0, 1, 0, 1 }, r.ConfidentIssueMask);
        Assert.AreEqual(2, r.ConfidentIssueCount);
    }

    [TestMethod]
    public void LowSelfConfidence_ReproducesCleanlabSegmentationFindLabelIssues()
    {
        // Random 4-class data: compare with a direct implementation of cleanlab's algorithm (LabelInspector defaults):
        // n = #{argmax != label and p_argmax >= t_argmax - 1e-6}; flag the n lowest self-confidences; unflag argmax == label.
        const int k = 4, w = 37, h = 23, images = 6;
        var rng = SeededRandom.For(11, "cleanlab");
        var data = new List<(byte[] Mask, float[] P)>();
        for (int im = 0; im < images; im++)
        {
            int n = w * h;
            var mask = new byte[n];
            var p = new float[k * n];
            for (int i = 0; i < n; i++)
            {
                byte label = (byte)rng.NextInt(k);
                mask[i] = label;
                double sum = 0;
                var v = new double[k];
                for (int c = 0; c < k; c++) { v[c] = Math.Exp(1.5 * rng.NextGaussian() + (c == label ? 1.5 : 0)); sum += v[c]; }
                for (int c = 0; c < k; c++) p[c * n + i] = (float)(v[c] / sum);
            }
            data.Add((mask, p));
        }
        var fitter = new LabelQualityFitter(k, DecodingRule.Argmax);
        foreach (var (m, p) in data) fitter.Add(m, p, w, h);
        var model = fitter.Complete();

        // Direct cleanlab.
        int nn = w * h;
        var t = new double[k];
        var cnt = new long[k];
        foreach (var (m, p) in data)
            for (int i = 0; i < nn; i++) { t[m[i]] += p[m[i] * nn + i]; cnt[m[i]]++; }
        for (int c = 0; c < k; c++) t[c] = Math.Clamp(t[c] / cnt[c], 2e-6, 1);
        for (int c = 0; c < k; c++) Assert.AreEqual(t[c], model.ConfidentThresholds[c], 1e-9);
        long issues = 0, ambiguous = 0;
        var all = new List<(float Score, int Image, int Pixel, bool ArgmaxIsLabel)>();
        for (int im = 0; im < images; im++)
        {
            var (m, p) = data[im];
            for (int i = 0; i < nn; i++)
            {
                int a = 0;
                for (int c = 1; c < k; c++) if (p[c * nn + i] > p[a * nn + i]) a = c;
                float pa = p[a * nn + i];
                if (a != m[i])
                {
                    if (pa >= t[a] - 1e-6) issues++;
                    // Values sharing the threshold's histogram bin may be counted differently.
                    if ((int)(pa * (1 << 14)) == (int)((t[a] - 1e-6) * (1 << 14))) ambiguous++;
                }
                all.Add((p[m[i] * nn + i], im, i, a == m[i]));
            }
        }
        Assert.IsNotNull(model.EstimatedIssueCount);
        Assert.IsTrue(Math.Abs(model.EstimatedIssueCount.Value - issues) <= ambiguous, $"count {model.EstimatedIssueCount} vs {issues} (ambiguous {ambiguous})");
        Assert.IsTrue(issues > 100);

        var exact = all.OrderBy(e => e.Score).Take((int)model.EstimatedIssueCount.Value).Where(e => !e.ArgmaxIsLabel).Select(e => (e.Image, e.Pixel)).ToHashSet();
        var ours = new HashSet<(int, int)>();
        for (int im = 0; im < images; im++)
        {
            var r = model.Score(data[im].Mask, data[im].P, w, h);
            for (int i = 0; i < nn; i++) if (r.ConfidentIssueMask![i] == 1) ours.Add((im, i));
        }
        Assert.IsTrue(exact.IsSubsetOf(ours), "every pixel cleanlab flags is flagged");
        // Extra pixels can only come from the tied last histogram bin (width 2^-16).
        float cutoff = (float)model.SelfConfidenceCutoff;
        int extra = ours.Count - exact.Count;
        int inLastBin = all.Count(e => !e.ArgmaxIsLabel && e.Score < cutoff && e.Score >= cutoff - 1.0 / (1 << 16));
        Assert.IsTrue(extra <= inLastBin, $"{extra} extra, {inLastBin} in the last bin");
    }

    [TestMethod]
    public void Fit_EstimatesLabelFreeDecoding_AndTheNoiseRatesOfSparseLabels()
    {
        var cases = QualityTestData.Make(new SyntheticSpec { Count = 20, SamplingRate = 0.1, PlantEvery = 1000 });
        var model = LabelQualityModel.Fit(cases.Select(c => c.Image), 1);
        Assert.IsNotNull(model.DecodingEstimate);
        Assert.IsTrue(model.DecodingEstimate.AreLevelsSeparated);
        Assert.AreEqual(DecodingRuleKind.Threshold, model.Decoding.Kind);
        Assert.IsTrue(model.Decoding.Threshold is > 0.01 and < 0.09, $"threshold {model.Decoding.Threshold}");
        // Counted on interior pixels: 10% of predicted foreground carries a foreground label, no background pixel does.
        Assert.AreEqual(0.1, model.EstimatedNoise[1, 1], 0.01);
        Assert.AreEqual(0.0, model.EstimatedNoise[0, 1], 0.002);
        Assert.AreEqual(0.1, model.ClassContrast[1], 0.01);
    }

    [TestMethod]
    public void EstimatedNoise_IsNotFooledByTheNetworksBoundaryImprecision()
    {
        // Clean labels; the simulated network misplaces boundaries by a pixel or two.
        var cases = QualityTestData.Make(new SyntheticSpec { Count = 20, PlantEvery = 1000 });
        var model = LabelQualityModel.Fit(cases.Select(c => c.Image), 1);
        Assert.IsTrue(model.EstimatedNoise[0, 1] < 0.01 && model.EstimatedNoise[1, 0] < 0.03, model.EstimatedNoise.ToString());
        Assert.IsTrue(model.ClassContrast[1] > 0.95);
    }

    [TestMethod]
    public void TwoSoftmaxPlanes_ScoreLikeOneSigmoidPlane()
    {
        var sigmoid = QualityTestData.Make(new SyntheticSpec { Count = 10 }).Select(c => c.Image).ToList();
        var softmax = sigmoid.Select(im =>
        {
            int n = im.Mask.Length;
            var p = new float[2 * n];
            for (int i = 0; i < n; i++) { p[i] = 1f - im.Probabilities[i]; p[n + i] = im.Probabilities[i]; }
            return new LabelQualityImage(im.Id, im.Mask, p, im.Width, im.Height);
        }).ToList();
        var one = LabelQualityReport.Create(sigmoid, 1);
        var two = LabelQualityReport.Create(softmax, 2);
        Assert.AreEqual(one.Model.Decoding, two.Model.Decoding);
        for (int i = 0; i < sigmoid.Count; i++)
        {
            Assert.AreEqual(one.Images[i].SoftminScore, two.Images[i].SoftminScore);
            Assert.AreEqual(one.Images[i].MetaStructureScore, two.Images[i].MetaStructureScore);
            CollectionAssert.AreEqual(one.Images[i].ConfidentIssueMask, two.Images[i].ConfidentIssueMask);
            CollectionAssert.AreEqual(one.Images[i].StructuralIssueMask, two.Images[i].StructuralIssueMask);
        }
    }

    [TestMethod]
    public void Score_LeavesIgnorePixelsOut_WithAnyIgnoreValue()
    {
        var c = QualityTestData.MakeOne(new SyntheticSpec(), 0);
        int n = c.Image.Mask.Length;
        byte[] m255 = (byte[])c.Image.Mask.Clone(), m11 = (byte[])c.Image.Mask.Clone();
        for (int i = 0; i < n; i += 7) { m255[i] = 255; m11[i] = 11; }
        var a = LabelQualityReport.Create([new LabelQualityImage("a", m255, c.Image.Probabilities, 64, 64)], 1);
        var b = LabelQualityReport.Create([new LabelQualityImage("b", m11, c.Image.Probabilities, 64, 64)], 1, new LabelQualityOptions { IgnoreIndex = 11 });
        var ra = a.Images[0];
        var rb = b.Images[0];
        Assert.AreEqual(ra.SoftminScore, rb.SoftminScore);
        Assert.AreEqual(ra.MetaStructureScore, rb.MetaStructureScore);
        Assert.AreEqual((n + 6) / 7, ra.IgnoredPixelCount);
        Assert.AreEqual(n - ra.IgnoredPixelCount, ra.ScoredPixelCount);
        for (int i = 0; i < n; i += 7)
        {
            Assert.AreEqual(MaskConventions.IgnoreIndex, ra.ConfidentIssueMask![i]);
            Assert.AreEqual(MaskConventions.IgnoreIndex, ra.StructuralIssueMask![i]);
            Assert.AreEqual(MaskConventions.IgnoreIndex, ra.DecodedMask![i]);
            Assert.IsTrue(float.IsNaN(ra.SelfConfidenceMap![i]));
        }
        CollectionAssert.AreEqual(ra.StructuralIssueMask, rb.StructuralIssueMask);
    }

    [TestMethod]
    public void Report_DoesNotDependOnParallelism_AndRanksMostSuspiciousFirst()
    {
        var images = QualityTestData.Make(new SyntheticSpec { Count = 15 }).Select(c => c.Image).ToList();
        var one = LabelQualityReport.Create(images, 1, maxDegreeOfParallelism: 1);
        var two = LabelQualityReport.Create(images, 1, maxDegreeOfParallelism: 2);
        for (int i = 0; i < images.Count; i++)
        {
            Assert.AreEqual(i, one.Images[i].Index);
            Assert.AreEqual(one.Images[i].MetaStructureScore, two.Images[i].MetaStructureScore);
            Assert.AreEqual(one.Images[i].SoftminScore, two.Images[i].SoftminScore);
            CollectionAssert.AreEqual(one.Images[i].StructuralIssueMask, two.Images[i].StructuralIssueMask);
        }
        foreach (var kind in Enum.GetValues<LabelQualityScoreKind>())
        {
            var ranked = one.Rank(kind);
            Assert.AreEqual(images.Count, ranked.Count);
            for (int i = 1; i < ranked.Count; i++) Assert.IsTrue(ranked[i - 1].GetScore(kind) <= ranked[i].GetScore(kind));
        }
    }

    [TestMethod]
    public void StorePixelMapsFalse_KeepsScoresAndCounts()
    {
        var images = QualityTestData.Make(new SyntheticSpec { Count = 6 }).Select(c => c.Image).ToList();
        var full = LabelQualityReport.Create(images, 1);
        var lean = LabelQualityReport.Create(images, 1, new LabelQualityOptions { StorePixelMaps = false });
        for (int i = 0; i < images.Count; i++)
        {
            Assert.IsNull(lean.Images[i].StructuralIssueMask);
            Assert.IsNull(lean.Images[i].SelfConfidenceMap);
            Assert.AreEqual(full.Images[i].MetaStructureScore, lean.Images[i].MetaStructureScore);
            Assert.AreEqual(full.Images[i].StructuralIssueCount, lean.Images[i].StructuralIssueCount);
            Assert.AreEqual(full.Images[i].ConfidentIssueCount, lean.Images[i].ConfidentIssueCount);
        }
    }

    [TestMethod]
    public void Fit_RejectsInconsistentInputs()
    {
        var image = QualityTestData.MakeOne(new SyntheticSpec(), 0).Image;
        Assert.ThrowsExactly<ArgumentException>(() => LabelQualityModel.Fit([image], 2));
        Assert.ThrowsExactly<ArgumentException>(() => LabelQualityModel.Fit([], 1));
        Assert.ThrowsExactly<ArgumentException>(() => new LabelQualityFitter(3, DecodingRule.FixedThreshold));
        var fitter = new LabelQualityFitter(1, DecodingRule.FixedThreshold);
        Assert.ThrowsExactly<InvalidOperationException>(() => fitter.Complete());
        var bad = (float[])image.Probabilities.Clone();
        bad[5] = 1.5f;
        Assert.AreEqual("probabilities", Assert.ThrowsExactly<ArgumentException>(() => fitter.Add(image.Mask, bad, 64, 64)).ParamName);
        bad[5] = float.NaN;
        Assert.ThrowsExactly<ArgumentException>(() => fitter.Add(image.Mask, bad, 64, 64));
        var mask = (byte[])image.Mask.Clone();
        mask[3] = 2;
        Assert.AreEqual("mask", Assert.ThrowsExactly<ArgumentException>(() => fitter.Add(mask, image.Probabilities, 64, 64)).ParamName);
    }

    [TestMethod]
    public void Options_Validate_NamesTheOption()
    {
        void Check(LabelQualityOptions o, string name)
            => Assert.AreEqual(name, Assert.ThrowsExactly<ArgumentOutOfRangeException>(o.Validate).ParamName);
        Check(new LabelQualityOptions { SoftminTemperature = 0 }, nameof(LabelQualityOptions.SoftminTemperature));
        Check(new LabelQualityOptions { IssueRule = (PixelIssueRule)7 }, nameof(LabelQualityOptions.IssueRule));
        Check(new LabelQualityOptions { Density = new() { Bandwidth = -1 } }, nameof(LabelQualityOptions.Density));
        Check(new LabelQualityOptions { NoiseAllowance = -1 }, nameof(LabelQualityOptions.NoiseAllowance));
        Check(new LabelQualityOptions { BoundaryTolerance = double.NaN }, nameof(LabelQualityOptions.BoundaryTolerance));
        Check(new LabelQualityOptions { MassPrior = -2 }, nameof(LabelQualityOptions.MassPrior));
        Check(new LabelQualityOptions { ExcludedClass = 255 }, nameof(LabelQualityOptions.ExcludedClass));
        Assert.AreEqual(nameof(LabelQualityOptions.IgnoreIndex), Assert.ThrowsExactly<ArgumentOutOfRangeException>(
            () => LabelQualityModel.Fit([QualityTestData.MakeOne(new SyntheticSpec(), 0).Image], 1, new LabelQualityOptions { IgnoreIndex = 1 })).ParamName);
        new LabelQualityOptions().Validate();
        Assert.IsTrue(new LabelQualityOptions().ToString().Contains("label-free", StringComparison.Ordinal));
    }
}
