using System.Text.Json;
using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Decoding;

namespace MLNet.NoisySeg.Tests.Decoding;

[TestClass]
public sealed class DecodingRuleTests
{
    public static IEnumerable<object[]> Rules() => new[]
    {
        new object[] { DecodingRule.FixedThreshold, "threshold(0.5)" },
        new object[] { DecodingRule.AtThreshold(0.1234567890123456789, inverted: true), "threshold(0.12345678901234568, inverted)" },
        new object[] { DecodingRule.AtThreshold(-2e-7), "threshold(-2E-07)" },
        new object[] { DecodingRule.Argmax, "argmax" },
        new object[] { DecodingRule.InverseNtm(new NoiseTransitionMatrix(OtsuAndLabelFreeTests.StrongQ)),
            "inverse-ntm([[0.7, 0.2, 0.1], [0.45, 0.4, 0.15], [0.1, 0.2, 0.7]])" },
        new object[] { DecodingRule.InverseNtm(NoiseTransitionMatrix.BinaryFlip(0.1 / 3, 0.9)),
            "inverse-ntm([[0.09999999999999998, 0.9], [0.03333333333333333, 0.9666666666666667]])" },
        new object[] { DecodingRule.InverseNtm(NoiseTransitionMatrix.BinaryFlip(0.1, 0.2), 0.0025),
            "inverse-ntm([[0.8, 0.2], [0.1, 0.9]], tikhonov=0.0025)" },
    };

    [TestMethod]
    [DynamicData(nameof(Rules))]
    public void StringForm_RoundTrips(DecodingRule rule, string expected)
    {
        Assert.AreEqual(expected, rule.ToString());
        var back = DecodingRule.Parse(rule.ToString());
        Assert.AreEqual(rule, back);
        Assert.AreEqual(rule.GetHashCode(), back.GetHashCode());
        Assert.AreEqual(rule.ToString(), back.ToString());
        string json = JsonSerializer.Serialize(rule);
        Assert.AreEqual(JsonSerializer.Serialize(expected), json);
        Assert.AreEqual(rule, JsonSerializer.Deserialize<DecodingRule>(json));
    }

    [TestMethod]
    public void Parse_IsLenientAboutCaseAndSpaces_StrictAboutContent()
    {
        Assert.AreEqual(DecodingRule.AtThreshold(0.25, true), DecodingRule.Parse("  Threshold( 0.25 ,Inverted ) "));
        Assert.AreEqual(DecodingRule.Argmax, DecodingRule.Parse("ARGMAX"));
        foreach (var bad in new[] { "", "median", "threshold()", "threshold(x)", "threshold(0.5, upside)", "threshold(NaN)",
                     "inverse-ntm([[1, 0], [0]])", "inverse-ntm([[0.5, 0.5], [0.5, 0.5]])", "inverse-ntm([[2, -1], [0, 1]])",
                     "inverse-ntm([[1, 0], [0, 1]], tikhonov=-1)", "inverse-ntm([[1, 0], [0, 1]], tikhonov=x)", "inverse-ntm([[1, 0], [0, 1]], ridge=1)",
                     "inverse-ntm([[1, 0], [0, 1]], tikhonov=Infinity)", "inverse-ntm([[1, 0], [0, 1]],)" })
        {
            Assert.ThrowsExactly<FormatException>(() => DecodingRule.Parse(bad), bad);
            Assert.IsFalse(DecodingRule.TryParse(bad, out _), bad);
        }
        Assert.ThrowsExactly<JsonException>(() => JsonSerializer.Deserialize<DecodingRule>("\"nonsense\""));
    }

    [TestMethod]
    public void Equality_DistinguishesRules()
    {
        Assert.AreNotEqual(DecodingRule.AtThreshold(0.5), DecodingRule.AtThreshold(0.5, true));
        Assert.AreNotEqual(DecodingRule.AtThreshold(0.5), DecodingRule.Argmax);
        Assert.AreEqual(DecodingRule.FixedThreshold, DecodingRule.AtThreshold(0.5));
        Assert.AreNotEqual(DecodingRule.InverseNtm(NoiseTransitionMatrix.BinaryFlip(0.1, 0.2)), DecodingRule.InverseNtm(NoiseTransitionMatrix.BinaryFlip(0.1, 0.3)));
        Assert.AreEqual(DecodingRule.InverseNtm(NoiseTransitionMatrix.BinaryFlip(0.1, 0.2)), DecodingRule.InverseNtm(NoiseTransitionMatrix.BinaryFlip(0.1, 0.2)));
        var q = NoiseTransitionMatrix.BinaryFlip(0.1, 0.2);
        Assert.AreEqual(DecodingRule.InverseNtm(q), DecodingRule.InverseNtm(q, 0));
        Assert.AreNotEqual(DecodingRule.InverseNtm(q), DecodingRule.InverseNtm(q, 0.01));
        Assert.AreNotEqual(DecodingRule.InverseNtm(q, 0.02), DecodingRule.InverseNtm(q, 0.01));
        Assert.AreEqual(0.0, DecodingRule.InverseNtm(q).Regularization);
        Assert.IsTrue(double.IsNaN(DecodingRule.Argmax.Regularization));
    }

    [TestMethod]
    public void Tikhonov_ExistsForSingularQ_AndRejectsBadLambdas()
    {
        var singular = new NoiseTransitionMatrix(new double[,] { { 0.5, 0.5, 0 }, { 0.5, 0.5, 0 }, { 0, 0, 1 } });
        var rule = DecodingRule.InverseNtm(singular, 0.01);
        Assert.AreEqual(rule, DecodingRule.Parse(rule.ToString()));
        // Class 2 stays recoverable; the merged pair ties and goes to the lower index.
        var mask = new byte[2];
        rule.Decode(new[] { 0.5f, 0.1f, /* c1 */ 0.5f, 0.1f, /* c2 */ 0f, 0.8f }, 3, mask);
        CollectionAssert.AreEqual(new byte[] { 0, 2 }, mask);
        foreach (double bad in new[] { -1e-3, double.NaN, double.PositiveInfinity })
            Assert.AreEqual("regularization", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => DecodingRule.InverseNtm(singular, bad)).ParamName);
        Assert.ThrowsExactly<InvalidOperationException>(() => DecodingRule.InverseNtm(singular, 0));
    }

    [TestMethod]
    public void Decode_BinaryAndMulticlassLayouts()
    {
        float[] p = { 0.1f, 0.5f, 0.7f, 0.3f };
        var mask = new byte[4];
        DecodingRule.FixedThreshold.Decode(p, 1, mask);
        CollectionAssert.AreEqual(new byte[] { 0, 0, 1, 0 }, mask, "strict p > 0.5");
        DecodingRule.AtThreshold(0.5, inverted: true).Decode(p, 1, mask);
        CollectionAssert.AreEqual(new byte[] { 1, 0, 0, 1 }, mask, "strict p < 0.5");
        DecodingRule.Argmax.Decode(p, 1, mask);
        CollectionAssert.AreEqual(new byte[] { 0, 0, 1, 0 }, mask);

        // K = 2 softmax planes: the threshold rules read plane 1.
        float[] two = { 0.9f, 0.6f, 0.2f, 0.5f, /* plane 1 */ 0.1f, 0.4f, 0.8f, 0.5f };
        var two2 = new byte[4];
        DecodingRule.AtThreshold(0.3).Decode(two, 2, two2);
        CollectionAssert.AreEqual(new byte[] { 0, 1, 1, 1 }, two2);
        DecodingRule.Argmax.Decode(two, 2, two2);
        CollectionAssert.AreEqual(new byte[] { 0, 0, 1, 0 }, two2, "ties go to the lowest class");

        // K = 3, [K, H, W] planar with H x W = 2 x 1.
        float[] three = { 0.2f, 0.3f, /* c1 */ 0.5f, 0.3f, /* c2 */ 0.3f, 0.4f };
        var m3 = new byte[2];
        DecodingRule.Argmax.Decode(three, 3, m3);
        CollectionAssert.AreEqual(new byte[] { 1, 2 }, m3);

        // Inverse NTM with K = 1 and a 2x2 Q: sampling(0.1) outputs 0.1 on foreground.
        var sampling = DecodingRule.InverseNtm(NoiseTransitionMatrix.BinaryFlip(0.9, 0.0));
        var mb = new byte[3];
        sampling.Decode(new[] { 0.0f, 0.1f, 0.02f }, 1, mb);
        CollectionAssert.AreEqual(new byte[] { 0, 1, 0 }, mb);
    }

    [TestMethod]
    public void Decode_InvalidInputs_NameTheArgument()
    {
        var mask = new byte[4];
        Assert.AreEqual("classCount", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => DecodingRule.Argmax.Decode(new float[4], 0, mask)).ParamName);
        Assert.AreEqual("probabilities", Assert.ThrowsExactly<ArgumentException>(() => DecodingRule.Argmax.Decode(new float[5], 1, mask)).ParamName);
        Assert.AreEqual("probabilities", Assert.ThrowsExactly<ArgumentException>(() => DecodingRule.Argmax.Decode(new[] { 0f, float.NaN, 0, 0 }, 1, mask)).ParamName);
        Assert.AreEqual("mask", Assert.ThrowsExactly<ArgumentException>(() => DecodingRule.Argmax.Decode(new float[0], 1, Span<byte>.Empty)).ParamName);
        Assert.AreEqual("classCount", Assert.ThrowsExactly<ArgumentException>(() => DecodingRule.FixedThreshold.Decode(new float[12], 3, mask)).ParamName);
        var q3 = DecodingRule.InverseNtm(NoiseTransitionMatrix.Identity(3));
        Assert.AreEqual("classCount", Assert.ThrowsExactly<ArgumentException>(() => q3.Decode(new float[8], 2, mask)).ParamName);
        Assert.AreEqual("threshold", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => DecodingRule.AtThreshold(double.NaN)).ParamName);
    }
}
