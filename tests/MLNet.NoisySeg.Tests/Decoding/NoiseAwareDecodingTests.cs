using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Decoding;
using MLNet.NoisySeg.Evaluation;
using MLNet.NoisySeg.Noise;

using MLNet.NoisySeg.Tests.TestSupport;

namespace MLNet.NoisySeg.Tests.Decoding;

[TestClass]
public sealed class NoiseAwareDecodingTests
{
    private static readonly NoiseTransitionMatrix ClassSampling01 = LabelNoiseSpec.Parse("classsample(0.1,bg=0)").ExpectedTransitionMatrix(11)!;
    private static readonly NoiseTransitionMatrix SymFlip09 = LabelNoiseSpec.Parse("symflip(0.9,classes=11)").ExpectedTransitionMatrix(11)!;

    // Two true classes that are labelled almost alike, and a third one: invertible (σ_min 0.05) but the exact inverse's
    // boundaries to class 2 are tilted by the near-singular direction.
    private static readonly NoiseTransitionMatrix IllConditioned = new(new double[,] { { 0.5, 0.3, 0.2 }, { 0.45, 0.35, 0.2 }, { 0.2, 0.2, 0.6 } });

    /// <summary>
    /// Synthetic network outputs: clean posteriors p = (1 - a) e_t + a u (t uniform, a ~ U(0, mix), u a random point of the simplex),
    /// pushed through Q (p_n = Qᵀ p), plus Gaussian output error of standard deviation sd in the simplex plane, clipped and renormalised.
    /// Returns planar [C, n] outputs and the clean argmax per pixel.
    /// </summary>
    internal static (float[] Outputs, byte[] CleanArgmax) Posteriors(NoiseTransitionMatrix q, int n, double mix, double sd, int seed)
    {
        int c = q.ClassCount;
        var rng = new SeededRandom((ulong)seed);
        var outputs = new float[c * n];
        var truth = new byte[n];
        var p = new double[c];
        var pn = new double[c];
        for (int i = 0; i < n; i++)
        {
            int t = rng.NextInt(c);
            double a = mix * rng.NextDouble(), s = 0;
            for (int k = 0; k < c; k++) { p[k] = -Math.Log(1 - rng.NextDouble()); s += p[k]; }
            for (int k = 0; k < c; k++) p[k] = a * p[k] / s + (k == t ? 1 - a : 0);
            int arg = 0;
            for (int k = 1; k < c; k++) if (p[k] > p[arg]) arg = k;
            truth[i] = (byte)arg;
            double mean = 0;
            for (int m = 0; m < c; m++)
            {
                pn[m] = 0;
                for (int j = 0; j < c; j++) pn[m] += q[j, m] * p[j];
                double e = sd * rng.NextGaussian();
                pn[m] += e;
                mean += e / c;
            }
            double total = 0;
            for (int m = 0; m < c; m++) { pn[m] = Math.Max(0, pn[m] - mean); total += pn[m]; }
            for (int m = 0; m < c; m++) outputs[m * n + i] = (float)(pn[m] / total);
        }
        return (outputs, truth);
    }

    private static double Accuracy(DecodingRule rule, float[] outputs, byte[] truth, int classCount)
    {
        var mask = new byte[truth.Length];
        rule.Decode(outputs, classCount, mask);
        int hits = 0;
        for (int i = 0; i < truth.Length; i++) if (mask[i] == truth[i]) hits++;
        return (double)hits / truth.Length;
    }

    [TestMethod]
    public void ClassSampling01Over11Classes_ClosedFormInverse_DecodesTheCleanArgmax()
    {
        var q = ClassSampling01;
        var d = NoiseAwareDecoding.Analyze(q);
        Assert.AreEqual(1e-10, d.Determinant, 1e-20, "the old |det| > 1e-9 test dropped this Q");
        Assert.IsTrue(d.IsFullRank);
        Assert.AreEqual(0, d.BackgroundClass);
        Assert.IsFalse(d.PreservesArgmax);
        Assert.IsTrue(d.ConditionNumber > 50, $"κ {d.ConditionNumber}: a condition-number test alone would regularise it");
        Assert.AreEqual(1.0, d.DecisionAmplification, 1e-9, "boundaries are perpendicular bisectors of the noisy rows");

        var decision = NoiseAwareDecoding.ChooseRule(q);
        Assert.AreEqual(DecodingStrategy.ClosedFormInverse, decision.Strategy);
        Assert.AreEqual(DecodingRule.InverseNtm(q), decision.Rule);
        Assert.IsTrue(decision.Rule.UsesClosedForm);
        Assert.IsTrue(decision.IsRecoverable);
        Assert.AreEqual(NoiseMatrixSource.Known, decision.MatrixSource);
        StringAssert.Contains(decision.Reason, "class sampling to background class 0");

        var (exact, truth) = Posteriors(q, 20000, mix: 0.3, sd: 0, seed: 1);
        Assert.AreEqual(1.0, Accuracy(decision.Rule, exact, truth, 11));
        Assert.IsTrue(Accuracy(DecodingRule.Argmax, exact, truth, 11) < 0.15, "argmax calls nearly everything background");

        var (noisy, truth2) = Posteriors(q, 20000, mix: 0.3, sd: 0.005, seed: 2);
        Assert.IsTrue(Accuracy(decision.Rule, noisy, truth2, 11) > 0.99);
        // Regularising this Q, as its condition number would suggest, costs accuracy once the outputs carry errors.
        var (noisier, truth3) = Posteriors(q, 20000, mix: 0, sd: 0.02, seed: 3);
        double closed = Accuracy(decision.Rule, noisier, truth3, 11);
        Assert.IsTrue(closed > Accuracy(DecodingRule.InverseNtm(q, 0.01), noisier, truth3, 11) + 0.02, $"closed form {closed}");
    }

    [TestMethod]
    public void ClosedForm_EqualsTheDenseExactInverse()
    {
        foreach (var q in new[] { ClassSampling01, new NoiseTransitionMatrix(new double[,] { { 0.7, 0.3, 0 }, { 0, 1, 0 }, { 0, 0.4, 0.6 } }) })
        {
            var rule = DecodingRule.InverseNtm(q);
            Assert.IsTrue(rule.UsesClosedForm);
            int c = q.ClassCount, n = 5000;
            var (outputs, _) = Posteriors(q, n, mix: 0.9, sd: 0.03, seed: 4);
            var mask = new byte[n];
            rule.Decode(outputs, c, mask);
            double[] m = LinearAlgebra.InverseTranspose(q);
            for (int i = 0; i < n; i++)
            {
                int arg = 0; double best = double.NegativeInfinity;
                for (int j = 0; j < c; j++)
                {
                    double v = 0;
                    for (int l = 0; l < c; l++) v += m[j * c + l] * outputs[l * n + i];
                    v = Math.Max(0, v);
                    if (v > best + 1e-9) { best = v; arg = j; }
                }
                Assert.AreEqual(arg, mask[i], $"pixel {i}");
            }
        }
        Assert.IsFalse(DecodingRule.InverseNtm(new NoiseTransitionMatrix(OtsuAndLabelFreeTests.StrongQ)).UsesClosedForm);
    }

    [TestMethod]
    public void SymmetricFlip09Over11Classes_PreservesArgmax_DecodesByArgmax()
    {
        var d = NoiseAwareDecoding.Analyze(SymFlip09);
        Assert.AreEqual(1e-20, d.Determinant, 1e-26);
        Assert.AreEqual(100, d.ConditionNumber, 1e-9);
        Assert.IsTrue(d.PreservesArgmax);
        Assert.AreEqual(0.01, d.RowDominance, 1e-12);
        Assert.AreEqual(0.0, d.ArgmaxMargin, 1e-12);

        var decision = NoiseAwareDecoding.ChooseRule(SymFlip09);
        Assert.AreEqual(DecodingStrategy.Argmax, decision.Strategy);
        Assert.AreEqual(DecodingRule.Argmax, decision.Rule);
        StringAssert.Contains(decision.Reason, "preserves the argmax");

        var (exact, truth) = Posteriors(SymFlip09, 20000, mix: 0.8, sd: 0, seed: 5);
        Assert.AreEqual(1.0, Accuracy(decision.Rule, exact, truth, 11));
        // The inverse has the same decision regions, so it cannot help: identical masks on outputs with errors.
        var (noisy, _) = Posteriors(SymFlip09, 5000, mix: 0.3, sd: 0.005, seed: 6);
        var a = new byte[5000]; var b = new byte[5000];
        DecodingRule.Argmax.Decode(noisy, 11, a);
        DecodingRule.InverseNtm(SymFlip09).Decode(noisy, 11, b);
        CollectionAssert.AreEqual(a, b);
    }

    [TestMethod]
    public void SymmetricFlip_PastTheTippingPoint_IsInverted_AndAtItUnrecoverable()
    {
        // e > (C-1)/C: the diagonal falls below the off-diagonal; the exact inverse (ρ = 1) decodes argmin.
        var q = NoiseTransitionMatrix.SymmetricFlip(11, 0.95);
        var decision = NoiseAwareDecoding.ChooseRule(q);
        Assert.IsFalse(decision.Diagnostics!.PreservesArgmax);
        Assert.AreEqual(DecodingStrategy.ExactInverse, decision.Strategy);
        var (exact, truth) = Posteriors(q, 5000, mix: 0.3, sd: 0, seed: 7);
        Assert.AreEqual(1.0, Accuracy(decision.Rule, exact, truth, 11));
        Assert.AreEqual(0.0, Accuracy(DecodingRule.Argmax, exact, truth, 11), 0.01);

        // e = (C-1)/C: every row is uniform, rank 1.
        var flat = NoiseAwareDecoding.ChooseRule(NoiseTransitionMatrix.SymmetricFlip(11, 10.0 / 11));
        Assert.AreEqual(DecodingStrategy.Fallback, flat.Strategy);
        Assert.IsFalse(flat.IsRecoverable);
        Assert.AreEqual(1, flat.Diagnostics!.NumericalRank);
    }

    private static bool BruteForcePreservesArgmax(NoiseTransitionMatrix q)
    {
        // Independent check over every vertex v_S (S ∋ i) of {p : argmax p = i}, nudged towards e_i so that i is the unique maximum.
        int n = q.ClassCount;
        for (int i = 0; i < n; i++)
            for (int mask = 0; mask < 1 << n; mask++)
            {
                if ((mask & (1 << i)) == 0) continue;
                int size = System.Numerics.BitOperations.PopCount((uint)mask);
                var p = new double[n];
                for (int j = 0; j < n; j++) p[j] = ((mask >> j) & 1) != 0 ? (1 - 1e-7) / size : 0;
                p[i] += 1e-7;
                var pn = new double[n];
                for (int m = 0; m < n; m++)
                    for (int j = 0; j < n; j++) pn[m] += q[j, m] * p[j];
                for (int m = 0; m < n; m++)
                    if (m != i && pn[m] >= pn[i]) return false;
            }
        return true;
    }

    [TestMethod]
    public void ArgmaxPreservation_ExactTest_AgreesWithVertexBruteForce()
    {
        var rng = new SeededRandom(99);
        int preserved = 0, violated = 0;
        for (int trial = 0; trial < 400; trial++)
        {
            int n = 2 + trial % 4;
            var a = new double[n, n];
            for (int j = 0; j < n; j++)
            {
                double keep = 0.2 + 0.7 * rng.NextDouble(), s = 0;
                var r = new double[n];
                for (int m = 0; m < n; m++) { r[m] = trial % 3 == 0 ? 1 : -Math.Log(1 - rng.NextDouble()); s += r[m]; }
                for (int m = 0; m < n; m++) a[j, m] = (1 - keep) * r[m] / s + (m == j ? keep : 0);
            }
            // Symmetric leaks (trial % 3 == 0) with a common keep rate are symmetric flips.
            if (trial % 3 == 0)
                for (int j = 0; j < n; j++)
                    for (int m = 0; m < n; m++) a[j, m] = m == j ? 0.3 + (1 - 0.3) / n : (1 - 0.3) / n;
            var q = new NoiseTransitionMatrix(a);
            bool expected = BruteForcePreservesArgmax(q);
            Assert.AreEqual(expected, NoiseAwareDecoding.Analyze(q).PreservesArgmax, $"trial {trial}: {q}");
            if (expected) preserved++; else violated++;
        }
        Assert.IsTrue(preserved > 50 && violated > 50, $"both outcomes exercised: {preserved} / {violated}");
    }

    [TestMethod]
    public void ArgmaxPreservation_NamedCases()
    {
        // Column dominance (Q[i,i] > Q[j,i]) is not sufficient: p = e_0 gives p_n = (0.4, 0.6).
        Assert.IsFalse(NoiseAwareDecoding.Analyze(new NoiseTransitionMatrix(new double[,] { { 0.4, 0.6 }, { 0, 1 } })).PreservesArgmax);
        // a I + 1 rᵀ preserves it iff r is uniform.
        Assert.IsTrue(NoiseAwareDecoding.Analyze(new NoiseTransitionMatrix(new double[,] { { 0.7, 0.15, 0.15 }, { 0.15, 0.7, 0.15 }, { 0.15, 0.15, 0.7 } })).PreservesArgmax);
        var skewed = NoiseAwareDecoding.Analyze(new NoiseTransitionMatrix(new double[,] { { 0.8, 0.15, 0.05 }, { 0.3, 0.65, 0.05 }, { 0.3, 0.15, 0.55 } }));
        Assert.IsFalse(skewed.PreservesArgmax);
        Assert.IsTrue(skewed.RowDominance > 0, "row dominance holds, yet a posterior split between classes 1 and 2 goes to 0");
        // Binary flipping: exactly when f = b < 1/2.
        Assert.IsTrue(NoiseAwareDecoding.Analyze(NoiseTransitionMatrix.BinaryFlip(0.2, 0.2)).PreservesArgmax);
        Assert.IsFalse(NoiseAwareDecoding.Analyze(NoiseTransitionMatrix.BinaryFlip(0.2, 0.1)).PreservesArgmax);
        Assert.IsTrue(NoiseAwareDecoding.Analyze(NoiseTransitionMatrix.Identity(5)).PreservesArgmax);
    }

    [TestMethod]
    public void BinaryFlipWithNegativeDeterminant_DecodesInverted()
    {
        var q = NoiseTransitionMatrix.BinaryFlip(0.9, 0.8);
        var decision = NoiseAwareDecoding.ChooseRule(q);
        Assert.AreEqual(-0.7, decision.Diagnostics!.Determinant, 1e-12);
        Assert.AreEqual(DecodingStrategy.PredictedLevelThreshold, decision.Strategy);
        Assert.AreEqual(DecodingRule.AtThreshold(0.45, inverted: true), decision.Rule, "halfway between the predicted levels b = 0.8 and 1 - f = 0.1");
        // On calibrated outputs p_n = b + (1 - f - b) p it equals the exact inverse, which recovers the clean argmax.
        var (two, truth) = Posteriors(q, 5000, mix: 0.9, sd: 0, seed: 8);
        var fg = two.AsSpan(5000, 5000).ToArray();
        var viaRule = new byte[5000]; var viaInverse = new byte[5000];
        decision.Rule.Decode(fg, 1, viaRule);
        DecodingRule.InverseNtm(q).Decode(fg, 1, viaInverse);
        CollectionAssert.AreEqual(viaInverse, viaRule);
        Assert.IsTrue(viaRule.Zip(truth).Count(x => x.First == x.Second) > 4990);

        // From a network's outputs: levels 0.9 (background) and 0.1 (foreground), separated: Otsu, oriented by Q.
        var (probs, masks) = ThresholdSweepTests.MakeMaps(3, 32, fgLevel: 0.1, bgLevel: 0.9, noise: 0.02, seed: 6);
        var fromOutputs = NoiseAwareDecoding.ChooseBinaryRule(probs, NoiseTransitionMatrix.BinaryFlip(0.9, 0.9));
        Assert.AreEqual(DecodingStrategy.OutputLevelThreshold, fromOutputs.Strategy);
        Assert.IsTrue(fromOutputs.Rule.Inverted);
        Assert.AreEqual(true, fromOutputs.LevelsSeparated);
        Assert.AreEqual(1.0, MeanDice(probs, masks, fromOutputs.Rule));
    }

    [TestMethod]
    public void RankDeficientQ_ReportedUnrecoverable_FallsBackToTheFixedBaseline()
    {
        foreach (var q in new[] { NoiseTransitionMatrix.BinaryFlip(0.5, 0.5), LabelNoiseSpec.Parse("random(0.3)").ExpectedTransitionMatrix(2)!, NoiseTransitionMatrix.BinaryFlip(0.3, 0.7) })
        {
            var decision = NoiseAwareDecoding.ChooseRule(q);
            Assert.AreEqual(DecodingStrategy.Fallback, decision.Strategy, q.ToString());
            Assert.AreEqual(DecodingRule.FixedThreshold, decision.Rule);
            Assert.IsFalse(decision.IsRecoverable);
            StringAssert.Contains(decision.Reason, "rank-deficient");

            var (probs, _) = ThresholdSweepTests.MakeMaps(2, 16, fgLevel: 0.35, bgLevel: 0.3, noise: 0.05, seed: 1);
            var fromOutputs = NoiseAwareDecoding.ChooseBinaryRule(probs, q);
            Assert.AreEqual(DecodingStrategy.Fallback, fromOutputs.Strategy);
            Assert.AreEqual(DecodingRule.FixedThreshold, fromOutputs.Rule);
            Assert.IsFalse(fromOutputs.IsRecoverable);
            StringAssert.Contains(fromOutputs.Reason, "nothing is recoverable");
        }

        var prior = NoiseAwareDecoding.ChooseRule(LabelNoiseSpec.Parse("randomprior([0.5,0.3,0.2])").ExpectedTransitionMatrix(3)!);
        Assert.AreEqual(DecodingRule.Argmax, prior.Rule);
        Assert.IsFalse(prior.IsRecoverable);
        var merged = NoiseAwareDecoding.ChooseRule(new NoiseTransitionMatrix(new double[,] { { 0.5, 0.5, 0 }, { 0.5, 0.5, 0 }, { 0, 0, 1 } }));
        Assert.AreEqual(DecodingStrategy.Fallback, merged.Strategy);
        Assert.AreEqual(2, merged.Diagnostics!.NumericalRank);
        StringAssert.Contains(merged.Reason, "rank 2 of 3");
    }

    [TestMethod]
    public void IllConditionedInvertibleQ_IsRegularised_AndMoreRobustThanTheExactInverse()
    {
        var d = NoiseAwareDecoding.Analyze(IllConditioned);
        Assert.IsTrue(d.IsFullRank);
        Assert.AreEqual(0.02, d.Determinant, 1e-12);
        Assert.IsTrue(d.SmallestSingularValue < 0.06 && d.ConditionNumber > 15, $"σ_min {d.SmallestSingularValue}, κ {d.ConditionNumber}");
        Assert.IsTrue(d.DecisionAmplification > 3, $"ρ {d.DecisionAmplification}");

        var decision = NoiseAwareDecoding.ChooseRule(IllConditioned);
        Assert.AreEqual(DecodingStrategy.RegularizedInverse, decision.Strategy);
        Assert.AreEqual(DecodingRuleKind.InverseNtm, decision.Rule.Kind);
        Assert.IsTrue(decision.Rule.Regularization > 0);
        StringAssert.Contains(decision.Reason, "Tikhonov");
        // The chosen λ meets the cap.
        double[] a = LinearAlgebra.ToRowMajor(IllConditioned);
        double[] m = LinearAlgebra.TikhonovCorrection(LinearAlgebra.SingularValueDecomposition(a, 3), decision.Rule.Regularization);
        Assert.IsTrue(NoiseAwareDecoding.DecisionAmplification(a, m, 3) <= 2);

        // Noise-free near-pure posteriors: still exact.
        var (clean, truth) = Posteriors(IllConditioned, 20000, mix: 0.3, sd: 0, seed: 9);
        Assert.AreEqual(1.0, Accuracy(decision.Rule, clean, truth, 3));
        // Output errors of 0.05: the exact inverse lets the confused pair steal class-2 pixels; the regularised one does not.
        var (noisy, truth2) = Posteriors(IllConditioned, 20000, mix: 0.3, sd: 0.05, seed: 10);
        double regularised = Accuracy(decision.Rule, noisy, truth2, 3), exactInverse = Accuracy(DecodingRule.InverseNtm(IllConditioned), noisy, truth2, 3);
        Assert.IsTrue(regularised > exactInverse + 0.05, $"regularised {regularised}, exact {exactInverse}");
        Assert.IsTrue(regularised > Accuracy(DecodingRule.Argmax, noisy, truth2, 3) + 0.1);
    }

    [TestMethod]
    public void WellConditionedConfusion_UsesTheExactInverse()
    {
        var q = new NoiseTransitionMatrix(OtsuAndLabelFreeTests.StrongQ);
        var decision = NoiseAwareDecoding.ChooseRule(q);
        Assert.AreEqual(DecodingStrategy.ExactInverse, decision.Strategy);
        Assert.AreEqual(DecodingRule.InverseNtm(q), decision.Rule);
        var (outputs, truth) = Posteriors(q, 20000, mix: 0.3, sd: 0.02, seed: 11);
        Assert.IsTrue(Accuracy(decision.Rule, outputs, truth, 3) > 0.99);
        Assert.IsTrue(Accuracy(DecodingRule.Argmax, outputs, truth, 3) < 0.7);
    }

    [TestMethod]
    public void EstimatedMatrices_NearDiagonalKeepsArgmax_StrongConfusionIsCorrected()
    {
        // Q = 0.85 I + 1 rᵀ with unequal leaks r = (0.03, 0.04, 0.02, 0.06): p_n = 0.85 p + r, not argmax-preserving when known
        // exactly (worst noisy gap -0.04), but within the default tolerance (0.05) of an estimate.
        double[] r = { 0.03, 0.04, 0.02, 0.06 };
        var rows = new double[4, 4];
        for (int j = 0; j < 4; j++)
            for (int m = 0; m < 4; m++) rows[j, m] = (j == m ? 0.85 : 0) + r[m];
        var leaky = new NoiseTransitionMatrix(rows);
        Assert.AreEqual(-0.04, NoiseAwareDecoding.Analyze(leaky).ArgmaxMargin, 1e-12);
        var known = NoiseAwareDecoding.ChooseRule(leaky, NoiseMatrixSource.Known);
        Assert.AreNotEqual(DecodingStrategy.Argmax, known.Strategy);
        var estimated = NoiseAwareDecoding.ChooseRule(leaky, NoiseMatrixSource.Estimated);
        Assert.AreEqual(DecodingStrategy.Argmax, estimated.Strategy);
        Assert.AreEqual(NoiseMatrixSource.Estimated, estimated.MatrixSource);
        StringAssert.Contains(estimated.Reason, "within the estimate's tolerance");
        var strict = NoiseAwareDecoding.ChooseRule(leaky, NoiseMatrixSource.Estimated, new NoiseAwareDecodingOptions { EstimatedArgmaxTolerance = 0 });
        Assert.AreNotEqual(DecodingStrategy.Argmax, strict.Strategy);

        // Through Plan: the level matrix is estimated by k-means from the outputs themselves.
        var (outputs, _) = Posteriors(leaky, 4000, mix: 0, sd: 0.01, seed: 12);
        var planned = NoiseAwareDecoding.Plan(new List<float[]> { outputs }, 4);
        Assert.AreEqual(DecodingStrategy.Argmax, planned.Strategy);
        Assert.IsNotNull(planned.EstimatedLevels);

        var (strong, truth) = OtsuAndLabelFreeTests.NoisyPosteriors(3000, 0.01, 2);
        var corrected = NoiseAwareDecoding.Plan(new List<float[]> { strong }, 3);
        Assert.AreEqual(NoiseMatrixSource.Estimated, corrected.MatrixSource);
        Assert.AreEqual(DecodingStrategy.ExactInverse, corrected.Strategy);
        var mask = new byte[3000];
        corrected.Rule.Decode(strong, 3, mask);
        CollectionAssert.AreEqual(truth, mask);
    }

    // ---- Binary: low budgets ----

    /// <summary>Disk masks (about 20% foreground) and outputs drawn from two Gaussian levels, clamped to [0, 1].</summary>
    internal static (List<float[]> Probs, List<byte[]> Masks) GaussianLevels(int images, int size, double fg, double bg, double sdFg, double sdBg, int seed)
    {
        var probs = new List<float[]>(); var masks = new List<byte[]>();
        for (int img = 0; img < images; img++)
        {
            var rng = SeededRandom.For(seed, img);
            var mask = new byte[size * size]; var prob = new float[size * size];
            double cx = size * (0.3 + 0.4 * rng.NextDouble()), cy = size * (0.3 + 0.4 * rng.NextDouble()), r = size * 0.25;
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                {
                    int i = y * size + x;
                    bool f = (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r;
                    mask[i] = f ? (byte)1 : (byte)0;
                    prob[i] = (float)Math.Clamp(f ? fg + sdFg * rng.NextGaussian() : bg + sdBg * rng.NextGaussian(), 0, 1);
                }
            probs.Add(prob); masks.Add(mask);
        }
        return (probs, masks);
    }

    private static double MeanDice(IReadOnlyList<float[]> probs, IReadOnlyList<byte[]> masks, DecodingRule rule) => DecodedMetrics.Of(probs, masks, rule).PerImageMeanDice;

    [TestMethod]
    public void BinaryLowBudget_LevelsDoNotSeparate_KnownQ_MatchesTheImpliedForegroundShare()
    {
        // Sampling(0.05) after a short budget: foreground outputs 0.035, background 0.012, spread 0.01: one blurred mode.
        var q = LabelNoiseSpec.Parse("sampling(0.05)").ExpectedTransitionMatrix(2)!;
        var (probs, masks) = GaussianLevels(6, 64, fg: 0.035, bg: 0.012, sdFg: 0.012, sdBg: 0.01, seed: 3);
        double cleanShare = LabelFreeDecoder.ForegroundShare(masks);
        double noisyShare = 0.05 * cleanShare; // what the sampled training labels hold

        var decision = NoiseAwareDecoding.ChooseBinaryRule(probs, q, noisyShare);
        Assert.AreEqual(false, decision.LevelsSeparated);
        Assert.IsFalse(decision.BinaryLevels!.AreLevelsSeparated);
        Assert.AreEqual(DecodingStrategy.PriorMatchedThreshold, decision.Strategy);
        Assert.AreEqual(cleanShare, decision.ForegroundShare, 1e-12);
        StringAssert.Contains(decision.Reason, "not separated");
        Assert.IsFalse(decision.Rule.Inverted);

        double dice = MeanDice(probs, masks, decision.Rule);
        double otsu = MeanDice(probs, masks, decision.BinaryLevels.ToRule());
        double oracle = ThresholdSweep.Run(probs, masks).MeanDice;
        Assert.IsTrue(dice > otsu + 0.03, $"prior-matched {dice}, Otsu {otsu}");
        Assert.AreEqual(oracle, dice, 0.02, $"oracle {oracle}");

        // The rule marks the implied share of the training pixels as foreground.
        long marked = 0, total = 0;
        foreach (var p in probs)
        {
            var pred = new byte[p.Length];
            decision.Rule.Decode(p, 1, pred);
            marked += pred.Count(v => v == 1);
            total += p.Length;
        }
        Assert.AreEqual(cleanShare, (double)marked / total, 0.002);
    }

    [TestMethod]
    public void BinaryLowBudget_LevelsDoNotSeparate_UnknownQ_SaysSoInsteadOfGuessing()
    {
        var (probs, _) = GaussianLevels(6, 64, fg: 0.035, bg: 0.012, sdFg: 0.012, sdBg: 0.01, seed: 3);
        var decision = NoiseAwareDecoding.ChooseBinaryRule(probs);
        Assert.AreEqual(false, decision.LevelsSeparated);
        Assert.AreEqual(DecodingStrategy.OutputLevelThreshold, decision.Strategy);
        Assert.AreEqual(NoiseMatrixSource.None, decision.MatrixSource);
        Assert.IsTrue(double.IsNaN(decision.ForegroundShare));
        StringAssert.Contains(decision.Reason, "NOT trustworthy");
        var prior = NoiseAwareDecoding.ChooseBinaryRule(probs, options: new NoiseAwareDecodingOptions { BinaryThreshold = BinaryThresholdPolicy.PriorMatched });
        Assert.AreEqual(DecodingStrategy.OutputLevelThreshold, prior.Strategy);
        StringAssert.Contains(prior.Reason, "needs a known noise matrix");
    }

    [TestMethod]
    public void BinarySeparatedLevels_KeepOtsu_AndPoliciesCanBeForced()
    {
        var q = LabelNoiseSpec.Parse("sampling(0.05)").ExpectedTransitionMatrix(2)!;
        var (probs, masks) = GaussianLevels(6, 64, fg: 0.05, bg: 0.0, sdFg: 0.01, sdBg: 0.005, seed: 3);
        var decision = NoiseAwareDecoding.ChooseBinaryRule(probs, q, 0.05 * LabelFreeDecoder.ForegroundShare(masks));
        Assert.AreEqual(true, decision.LevelsSeparated);
        Assert.AreEqual(DecodingStrategy.OutputLevelThreshold, decision.Strategy);
        Assert.AreEqual(LabelFreeDecoder.EstimateBinary(probs, q).ToRule(), decision.Rule);
        Assert.IsTrue(MeanDice(probs, masks, decision.Rule) > 0.99);

        var predicted = NoiseAwareDecoding.ChooseBinaryRule(probs, q, options: new NoiseAwareDecodingOptions { BinaryThreshold = BinaryThresholdPolicy.PredictedLevels });
        Assert.AreEqual(DecodingStrategy.PredictedLevelThreshold, predicted.Strategy);
        Assert.AreEqual(DecodingRule.AtThreshold(0.025), predicted.Rule);
        var forced = NoiseAwareDecoding.ChooseBinaryRule(probs, q, 0.05 * LabelFreeDecoder.ForegroundShare(masks),
            new NoiseAwareDecodingOptions { BinaryThreshold = BinaryThresholdPolicy.PriorMatched });
        Assert.AreEqual(DecodingStrategy.PriorMatchedThreshold, forced.Strategy);
        Assert.IsTrue(MeanDice(probs, masks, forced.Rule) > 0.98);
    }

    [TestMethod]
    public void BinaryPriorMatched_InvertedNoise_UsesTheLowTail()
    {
        // flip(0.9, 0.9): foreground outputs near 0.1, background near 0.9, blurred by a short budget.
        var q = NoiseTransitionMatrix.BinaryFlip(0.9, 0.9);
        var (probs, masks) = GaussianLevels(6, 64, fg: 0.45, bg: 0.55, sdFg: 0.06, sdBg: 0.06, seed: 4);
        double clean = LabelFreeDecoder.ForegroundShare(masks);
        double noisy = clean * 0.1 + (1 - clean) * 0.9;
        var decision = NoiseAwareDecoding.ChooseBinaryRule(probs, q, noisy);
        Assert.AreEqual(false, decision.LevelsSeparated);
        Assert.AreEqual(DecodingStrategy.PriorMatchedThreshold, decision.Strategy);
        Assert.IsTrue(decision.Rule.Inverted);
        Assert.AreEqual(clean, decision.ForegroundShare, 1e-9);
        Assert.AreEqual(ThresholdSweep.Run(probs, masks).MeanDice, MeanDice(probs, masks, decision.Rule), 0.03);
    }

    [TestMethod]
    public void ImpliedForegroundShare_InvertsTheNoisyShare()
    {
        var sampling = LabelNoiseSpec.Parse("sampling(0.1)").ExpectedTransitionMatrix(2)!;
        Assert.AreEqual(0.2, LabelFreeDecoder.ImpliedForegroundShare(0.02, sampling), 1e-12);
        Assert.AreEqual(0.2, LabelFreeDecoder.ImpliedForegroundShare(0.2 * 0.1 + 0.8 * 0.9, NoiseTransitionMatrix.BinaryFlip(0.9, 0.9)), 1e-12);
        Assert.AreEqual(1.0, LabelFreeDecoder.ImpliedForegroundShare(0.5, sampling), "clamped");
        Assert.IsTrue(double.IsNaN(LabelFreeDecoder.ImpliedForegroundShare(0.3, NoiseTransitionMatrix.BinaryFlip(0.5, 0.5))));
        Assert.AreEqual("noiseMatrix", Assert.ThrowsExactly<ArgumentException>(() => LabelFreeDecoder.ImpliedForegroundShare(0.1, NoiseTransitionMatrix.Identity(3))).ParamName);
        Assert.AreEqual("noisyShare", Assert.ThrowsExactly<ArgumentException>(() => LabelFreeDecoder.ImpliedForegroundShare(1.5, sampling)).ParamName);

        Assert.AreEqual(0.5, LabelFreeDecoder.ForegroundShare(new[] { new byte[] { 0, 1, 255, 255 }, new byte[] { 1, 0 } }));
        Assert.IsTrue(double.IsNaN(LabelFreeDecoder.ForegroundShare(new[] { new byte[] { 255 } })));
    }

    [TestMethod]
    public void ThresholdAtForegroundShare_IsTheQuantile()
    {
        var values = Enumerable.Range(0, 1000).Select(i => i / 1000f).Reverse().ToArray();
        var outputs = new List<float[]> { values[..300], values[300..] };
        double t = LabelFreeDecoder.ThresholdAtForegroundShare(outputs, 0.25);
        Assert.AreEqual(250, values.Count(v => v > t));
        double ti = LabelFreeDecoder.ThresholdAtForegroundShare(outputs, 0.25, inverted: true);
        Assert.AreEqual(250, values.Count(v => v < ti));
        Assert.AreEqual(0, values.Count(v => v > LabelFreeDecoder.ThresholdAtForegroundShare(outputs, 0)));
        Assert.AreEqual(1000, values.Count(v => v > LabelFreeDecoder.ThresholdAtForegroundShare(outputs, 1)));
        Assert.AreEqual(1000, values.Count(v => v < LabelFreeDecoder.ThresholdAtForegroundShare(outputs, 1, inverted: true)));

        // Ties cannot be split: 800 zeros and 200 distinct positives, asked for 30%, gives the 200.
        var spike = new float[1000];
        for (int i = 800; i < 1000; i++) spike[i] = (i - 799) / 1000f;
        double ts = LabelFreeDecoder.ThresholdAtForegroundShare(new List<float[]> { spike }, 0.3);
        Assert.AreEqual(200, spike.Count(v => v > ts));

        Assert.AreEqual("foregroundShare", Assert.ThrowsExactly<ArgumentException>(() => LabelFreeDecoder.ThresholdAtForegroundShare(outputs, -0.1)).ParamName);
        Assert.AreEqual("outputs", Assert.ThrowsExactly<ArgumentException>(() => LabelFreeDecoder.ThresholdAtForegroundShare(new List<float[]>(), 0.5)).ParamName);
        Assert.AreEqual("outputs", Assert.ThrowsExactly<ArgumentException>(() => LabelFreeDecoder.ThresholdAtForegroundShare(new List<float[]> { new[] { float.NaN } }, 0.5)).ParamName);
    }

    [TestMethod]
    public void Plan_DispatchesByClassCount_AndValidates()
    {
        var (probs, _) = ThresholdSweepTests.MakeMaps(2, 32, fgLevel: 0.1, bgLevel: 0.0, noise: 0.01, seed: 5);
        var sampling = LabelNoiseSpec.Parse("sampling(0.1)").ExpectedTransitionMatrix(2)!;
        Assert.AreEqual(NoiseAwareDecoding.ChooseBinaryRule(probs, sampling).Rule, NoiseAwareDecoding.Plan(probs, 2, sampling).Rule);
        var viaPlan = NoiseAwareDecoding.Plan(new List<float[]> { new float[11 * 4] }, 11, ClassSampling01);
        Assert.AreEqual(DecodingStrategy.ClosedFormInverse, viaPlan.Strategy);
        Assert.AreEqual("knownNoise", Assert.ThrowsExactly<ArgumentException>(() => NoiseAwareDecoding.Plan(probs, 3, sampling)).ParamName);
        Assert.AreEqual("classCount", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => NoiseAwareDecoding.Plan(probs, 1)).ParamName);
        Assert.AreEqual("knownNoise", Assert.ThrowsExactly<ArgumentException>(() => NoiseAwareDecoding.ChooseBinaryRule(probs, ClassSampling01)).ParamName);
        Assert.AreEqual("noisyForegroundShare", Assert.ThrowsExactly<ArgumentException>(() => NoiseAwareDecoding.ChooseBinaryRule(probs, sampling, 2)).ParamName);
        var unknownShare = NoiseAwareDecoding.ChooseBinaryRule(probs, sampling);
        var nanShare = NoiseAwareDecoding.ChooseBinaryRule(probs, sampling, double.NaN); // ForegroundShare of all-ignored masks
        Assert.AreEqual(unknownShare.Rule, nanShare.Rule);
        Assert.AreEqual(unknownShare.Reason, nanShare.Reason);
        Assert.AreEqual("source", Assert.ThrowsExactly<ArgumentException>(() => NoiseAwareDecoding.ChooseRule(sampling, NoiseMatrixSource.None)).ParamName);

        foreach (var (options, name) in new (NoiseAwareDecodingOptions, string)[]
        {
            (new() { MaxDecisionAmplification = 0.5 }, nameof(NoiseAwareDecodingOptions.MaxDecisionAmplification)),
            (new() { RankTolerance = -1 }, nameof(NoiseAwareDecodingOptions.RankTolerance)),
            (new() { EstimatedArgmaxTolerance = double.NaN }, nameof(NoiseAwareDecodingOptions.EstimatedArgmaxTolerance)),
            (new() { BinaryThreshold = (BinaryThresholdPolicy)42 }, nameof(NoiseAwareDecodingOptions.BinaryThreshold)),
            (new() { MinimumMixtureSeparation = 0 }, nameof(NoiseAwareDecodingOptions.MinimumMixtureSeparation)),
            (new() { BinCount = 1 }, nameof(NoiseAwareDecodingOptions.BinCount)),
            (new() { MaxIterations = 0 }, nameof(NoiseAwareDecodingOptions.MaxIterations)),
        })
            Assert.AreEqual(name, Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => NoiseAwareDecoding.ChooseRule(sampling, options: options)).ParamName);
    }
}
