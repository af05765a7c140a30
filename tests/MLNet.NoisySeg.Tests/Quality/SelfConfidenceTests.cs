using MLNet.NoisySeg.Quality;

namespace MLNet.NoisySeg.Tests.Quality;

[TestClass]
public sealed class SelfConfidenceTests
{
    [TestMethod]
    public void Softmin_MatchesHandComputedCleanlabValue()
    {
        // cleanlab: sum(s * softmax((1 - s) / T)), T = 0.1. By hand for s = (0.9, 0.2, 0.6):
        // weights exp(1), exp(8), exp(4) -> (0.9 e + 0.2 e^8 + 0.6 e^4) / (e + e^8 + e^4) = 0.20781432287533...
        double expected = (0.9 * Math.Exp(1) + 0.2 * Math.Exp(8) + 0.6 * Math.Exp(4)) / (Math.Exp(1) + Math.Exp(8) + Math.Exp(4));
        Assert.AreEqual(0.20781432287533422, expected, 1e-15);
        Assert.AreEqual(expected, SelfConfidence.Softmin(new[] { 0.9f, 0.2f, 0.6f }), 1e-7);
        // A perfect pixel pair, a doubtful one and a ruled-out label: the zero dominates.
        Assert.AreEqual(0.0034363076837669606, SelfConfidence.Softmin(new[] { 1f, 1f, 0.5f, 0f }), 1e-9);
    }

    [TestMethod]
    public void Softmin_GoesFromMinimumToMeanWithTemperature()
    {
        float[] s = [0.3f, 0.5f, 0.9f, 0.7f];
        Assert.AreEqual(0.3, SelfConfidence.Softmin(s, 1e-4), 1e-6);
        Assert.AreEqual(0.6, SelfConfidence.Softmin(s, 1e6), 1e-6);
        // Monotone in between.
        Assert.IsTrue(SelfConfidence.Softmin(s, 0.05) < SelfConfidence.Softmin(s, 0.5));
    }

    [TestMethod]
    public void Softmin_SkipsIgnoredPixels_AndIsNaNWithoutAny()
    {
        Assert.AreEqual(SelfConfidence.Softmin(new[] { 0.9f, 0.2f }), SelfConfidence.Softmin(new[] { float.NaN, 0.9f, float.NaN, 0.2f }), 1e-15);
        Assert.IsTrue(double.IsNaN(SelfConfidence.Softmin(new[] { float.NaN, float.NaN })));
        Assert.IsTrue(double.IsNaN(SelfConfidence.Softmin(ReadOnlySpan<float>.Empty)));
    }

    [TestMethod]
    [DataRow(0.0)]
    [DataRow(-1.0)]
    [DataRow(double.NaN)]
    [DataRow(double.PositiveInfinity)]
    public void Softmin_RejectsBadTemperature(double t)
    {
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => SelfConfidence.Softmin(new[] { 0.5f }, t));
        Assert.AreEqual("temperature", e.ParamName);
    }

    [TestMethod]
    public void Compute_ReadsOneSigmoidPlaneAsTwoClasses_AndSkipsIgnore()
    {
        byte[] mask = [0, 1, 255, 1];
        float[] p = [0.2f, 0.7f, 0.9f, 0.1f];
        var s = new float[4];
        SelfConfidence.Compute(mask, p, 1, s);
        Assert.AreEqual(0.8f, s[0], 1e-7f);
        Assert.AreEqual(0.7f, s[1]);
        Assert.IsTrue(float.IsNaN(s[2]));
        Assert.AreEqual(0.1f, s[3]);
    }

    [TestMethod]
    public void Compute_ReadsTheGivenClassPlane()
    {
        // 3 classes, 2 pixels; planes [class][pixel].
        float[] p = [0.1f, 0.6f, /* class 1 */ 0.7f, 0.3f, /* class 2 */ 0.2f, 0.1f];
        var s = new float[2];
        SelfConfidence.Compute(new byte[] { 2, 0 }, p, 3, s);
        CollectionAssert.AreEqual(new[] { 0.2f, 0.6f }, s);
    }

    [TestMethod]
    public void Compute_RejectsLabelsOutsideTheClasses()
    {
        var e = Assert.ThrowsExactly<ArgumentException>(() => SelfConfidence.Compute(new byte[] { 0, 2 }, new float[2], 1, new float[2]));
        Assert.AreEqual("mask", e.ParamName);
        Assert.ThrowsExactly<ArgumentException>(() => SelfConfidence.Compute(new byte[] { 0, 1 }, new float[3], 1, new float[2]));
    }
}
