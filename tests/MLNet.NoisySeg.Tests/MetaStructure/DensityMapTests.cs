using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.MetaStructure;
using static MLNet.NoisySeg.Tests.MetaStructure.MetaStructureTestMasks;

namespace MLNet.NoisySeg.Tests.MetaStructure;

[TestClass]
public sealed class DensityMapTests
{
    [TestMethod]
    [DataRow(23, 17, 3, 0, 0.0, DensityBorder.ValidPixels)]
    [DataRow(23, 17, 3, 1, 0.1, DensityBorder.ValidPixels)]
    [DataRow(23, 17, 3, 4, 0.2, DensityBorder.ValidPixels)]
    [DataRow(23, 17, 3, 11, 0.2, DensityBorder.ValidPixels)]
    [DataRow(23, 17, 3, 50, 0.2, DensityBorder.ValidPixels)] // h larger than the image
    [DataRow(23, 17, 3, 1, 0.1, DensityBorder.ZeroPadding)]
    [DataRow(23, 17, 3, 4, 0.2, DensityBorder.ZeroPadding)]
    [DataRow(23, 17, 3, 50, 0.2, DensityBorder.ZeroPadding)]
    [DataRow(1, 40, 2, 3, 0.0, DensityBorder.ValidPixels)]   // single column
    [DataRow(64, 9, 2, 5, 0.05, DensityBorder.ValidPixels)]  // vector interior + scalar borders
    [DataRow(31, 19, 2, 3, 0.15, DensityBorder.ValidPixels)]  // binary path (class 0 from the class-1 table)
    [DataRow(31, 19, 2, 3, 0.15, DensityBorder.ZeroPadding)]
    [DataRow(31, 19, 2, 40, 0.15, DensityBorder.ZeroPadding)]
    [DataRow(300, 260, 2, 5, 0.05, DensityBorder.ValidPixels)]
    [DataRow(300, 260, 4, 6, 0.05, DensityBorder.ValidPixels)] // above the parallel threshold
    [DataRow(300, 260, 4, 6, 0.05, DensityBorder.ZeroPadding)]
    public void Box_EqualsBruteForceWindowCount(int width, int height, int classCount, int h, double ignoreRate, DensityBorder border)
    {
        byte[] mask = RandomMask(width, height, classCount, ignoreRate, seed: width * 31 + h);
        float[] d = DensityMap.ComputeBox(mask, width, height, classCount, h, border);
        double[] expected = BruteBox(mask, width, height, classCount, h, border);
        Assert.IsTrue(MaxAbsDiff(d, expected) < 1e-6, $"max diff {MaxAbsDiff(d, expected)}");
    }

    [TestMethod]
    public void Box_AllIgnoreWindowGivesZero_AndClassesSumToOneElsewhere()
    {
        const int w = 20, h = 10;
        var mask = new byte[w * h];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                mask[y * w + x] = x < 8 ? MaskConventions.IgnoreIndex : (byte)((x + y) % 2);
        float[] d = DensityMap.ComputeBox(mask, w, h, 2, 2);
        Assert.AreEqual(0f, d[5 * w + 2]);          // window x in [0, 4]: all ignore
        Assert.AreEqual(0f, d[w * h + 5 * w + 2]);
        // x = 6: window columns 4..8, rows 3..7; only column 8 is labelled: 5 pixels, class 1 at odd rows 3, 5, 7.
        Assert.AreEqual(1.0, d[5 * w + 6] + d[w * h + 5 * w + 6], 1e-6);
        Assert.AreEqual(3 / 5.0, d[w * h + 5 * w + 6], 1e-6);
    }

    [TestMethod]
    public void Box_ZeroPaddingMatchesUniformFilterOnHandCase()
    {
        // 3x3 mask with one foreground pixel in the corner, h = 1: scipy uniform_filter(mode="constant")
        // gives 1/9 at the 4 pixels whose window contains the corner.
        var mask = new byte[] { 1, 0, 0, 0, 0, 0, 0, 0, 0 };
        float[] d = DensityMap.ComputeBox(mask, 3, 3, 2, 1, DensityBorder.ZeroPadding);
        float[] fg = d.AsSpan(9, 9).ToArray();
        CollectionAssert.AreEqual(new[] { 1 / 9f, 1 / 9f, 0f, 1 / 9f, 1 / 9f, 0f, 0f, 0f, 0f }, fg);
        // Background at the centre: 8 of 9; at the corner the window holds only 4 in-image pixels, 3 background.
        Assert.AreEqual(8 / 9f, d[4], 1e-7f);
        Assert.AreEqual(3 / 9f, d[0], 1e-7f);
        // ValidPixels at the corner: 3 of 4.
        Assert.AreEqual(0.75f, DensityMap.ComputeBox(mask, 3, 3, 2, 1)[0], 1e-7f);
    }

    [TestMethod]
    [DataRow(40, 30, 3, 1.5, 0.0, DensityBorder.ValidPixels)]
    [DataRow(40, 30, 3, 1.5, 0.15, DensityBorder.ValidPixels)]
    [DataRow(40, 30, 3, 3.0, 0.15, DensityBorder.ZeroPadding)]
    [DataRow(40, 30, 2, 3.0, 0.0, DensityBorder.ZeroPadding)]
    [DataRow(13, 11, 2, 5.0, 0.1, DensityBorder.ValidPixels)]   // radius 20 exceeds the image
    [DataRow(13, 11, 2, 0.3, 0.0, DensityBorder.ValidPixels)]   // radius 1
    [DataRow(37, 29, 2, 2.0, 0.2, DensityBorder.ZeroPadding)]   // binary path with ignore pixels
    [DataRow(37, 29, 2, 2.0, 0.2, DensityBorder.ValidPixels)]
    [DataRow(37, 29, 4, 2.0, 0.2, DensityBorder.ValidPixels)]
    public void Gaussian_EqualsBruteForce2DConvolution(int width, int height, int classCount, double sigma, double ignoreRate, DensityBorder border)
    {
        byte[] mask = RandomMask(width, height, classCount, ignoreRate, seed: 7 + width);
        float[] d = DensityMap.ComputeGaussian(mask, width, height, classCount, sigma, border);
        double[] expected = BruteGaussian(mask, width, height, classCount, sigma, border);
        double diff = MaxAbsDiff(d, expected);
        Assert.IsTrue(diff < 2e-6, $"max diff {diff}");
    }

    [TestMethod]
    public void Gaussian_WeightsAndNormalisation()
    {
        Assert.AreEqual(12, DensityMap.GaussianRadius(3.0));   // (int)(4 * 3 + 0.5)
        Assert.AreEqual(6, DensityMap.GaussianRadius(1.5));
        double[] w = DensityMap.GaussianWeights(3.0);
        Assert.AreEqual(25, w.Length);
        Assert.AreEqual(1.0, w.Sum(), 1e-12);
        Assert.AreEqual(w[0], w[24], 1e-15);
        Assert.AreEqual(Math.Exp(-0.5), w[12 + 3] / w[12], 1e-12);

        const int width = 60, height = 50;
        byte[] mask = RandomMask(width, height, 3, 0.0, seed: 3);
        float[] d = DensityMap.ComputeGaussian(mask, width, height, 3, 2.0);
        int plane = width * height;
        for (int i = 0; i < plane; i++)
            Assert.AreEqual(1.0, d[i] + d[plane + i] + d[2 * plane + i], 2e-6);

        // An all-ones plane: ZeroPadding gives 1 where the kernel (radius 8) is inside, less at the border;
        // ValidPixels gives 1 everywhere.
        var ones = new byte[plane];
        Array.Fill(ones, (byte)1);
        float[] z = DensityMap.ComputeGaussian(ones, width, height, 2, 2.0, DensityBorder.ZeroPadding);
        Assert.AreEqual(1f, z[plane + 25 * width + 30], 1e-6f);
        // Corner: only offsets >= 0 in both axes lie inside: (sum of w[r..2r])^2 = (0.5 + w[r]/2)^2.
        double[] w2 = DensityMap.GaussianWeights(2.0);
        double half = w2.AsSpan(8).ToArray().Sum();
        Assert.AreEqual(half * half, z[plane], 1e-6);
        Assert.AreEqual(Math.Pow(0.5 + w2[8] / 2, 2), half * half, 1e-12);
        float[] v = DensityMap.ComputeGaussian(ones, width, height, 2, 2.0, DensityBorder.ValidPixels);
        Assert.AreEqual(1f, v[plane], 1e-6f);
        Assert.AreEqual(0f, v[0]);
    }

    [TestMethod]
    [DataRow(DensityKernel.Box, 3)]
    [DataRow(DensityKernel.Gaussian, 3)]
    [DataRow(DensityKernel.Box, 2)]
    [DataRow(DensityKernel.Gaussian, 2)]
    public void ParallelAndSequentialResultsAreIdentical(DensityKernel kernel, int classCount)
    {
        const int width = 333, height = 257; // > ParallelThreshold
        byte[] mask = DiscMask(width, height, classCount, 60, 3, 30, seed: 11);
        for (int i = 0; i < mask.Length; i += 17) mask[i] = MaskConventions.IgnoreIndex;
        var par = new float[classCount * width * height];
        var seq = new float[classCount * width * height];
        foreach (var border in new[] { DensityBorder.ValidPixels, DensityBorder.ZeroPadding })
        {
            DensityMap.Run(mask, width, height, classCount, false, 0, kernel, 7, 2.5, border, par, parallel: true);
            DensityMap.Run(mask, width, height, classCount, false, 0, kernel, 7, 2.5, border, seq, parallel: false);
            CollectionAssert.AreEqual(seq, par);
        }
    }

    [TestMethod]
    [DataRow(DensityKernel.Box, DensityBorder.ValidPixels)]
    [DataRow(DensityKernel.Box, DensityBorder.ZeroPadding)]
    [DataRow(DensityKernel.Gaussian, DensityBorder.ValidPixels)]
    [DataRow(DensityKernel.Gaussian, DensityBorder.ZeroPadding)]
    public void BinaryPath_MatchesPerClassComputation(DensityKernel kernel, DensityBorder border)
    {
        const int width = 90, height = 70;
        byte[] mask = DiscMask(width, height, 2, 15, 3, 15, seed: 9);
        for (int i = 0; i < mask.Length; i += 11) mask[i] = MaskConventions.IgnoreIndex;
        var options = new DensityOptions { Kernel = kernel, Bandwidth = 4, Sigma = 2.0, Border = border };
        float[] both = DensityMap.Compute(mask, width, height, 2, options);
        float[] bg = DensityMap.ComputeClass(mask, width, height, 0, options);
        float[] fg = DensityMap.ComputeClass(mask, width, height, 1, options);
        int plane = width * height;
        for (int i = 0; i < plane; i++)
        {
            Assert.AreEqual(fg[i], both[plane + i]);
            Assert.AreEqual(bg[i], both[i], kernel == DensityKernel.Box ? 0f : 1e-6f); // box: exact integer counts
        }
    }

    [TestMethod]
    [DataRow(DensityKernel.Box, DensityBorder.ValidPixels)]
    [DataRow(DensityKernel.Gaussian, DensityBorder.ZeroPadding)]
    public void ComputeClass_EqualsThatPlaneOfCompute(DensityKernel kernel, DensityBorder border)
    {
        const int width = 70, height = 45;
        byte[] mask = DiscMask(width, height, 3, 12, 2, 10, seed: 5);
        for (int i = 0; i < mask.Length; i += 13) mask[i] = MaskConventions.IgnoreIndex;
        var options = new DensityOptions { Kernel = kernel, Bandwidth = 3, Sigma = 1.7, Border = border };
        float[] all = DensityMap.Compute(mask, width, height, 3, options);
        float[] one = DensityMap.ComputeClass(mask, width, height, 2, options);
        CollectionAssert.AreEqual(all.AsSpan(2 * width * height, width * height).ToArray(), one);
        // The options overload equals the direct overloads.
        float[] direct = kernel == DensityKernel.Box
            ? DensityMap.ComputeBox(mask, width, height, 3, 3, border)
            : DensityMap.ComputeGaussian(mask, width, height, 3, 1.7, border);
        CollectionAssert.AreEqual(direct, all);
    }

    [TestMethod]
    public void Options_DefaultsAndValidationNameTheOption()
    {
        var d = new DensityOptions();
        Assert.AreEqual(DensityKernel.Box, d.Kernel);
        Assert.AreEqual(5, d.Bandwidth);
        Assert.AreEqual(3.0, d.Sigma);
        Assert.AreEqual(DensityBorder.ValidPixels, d.Border);
        d.Validate();

        AssertNames("Bandwidth", new DensityOptions { Bandwidth = -1 });
        AssertNames("Sigma", new DensityOptions { Sigma = 0 });
        AssertNames("Sigma", new DensityOptions { Sigma = double.NaN });
        AssertNames("Kernel", new DensityOptions { Kernel = (DensityKernel)7 });
        AssertNames("Border", new DensityOptions { Border = (DensityBorder)9 });

        var mask = new byte[4];
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => DensityMap.Compute(mask, 2, 2, 2, new DensityOptions { Bandwidth = -3 }));
        Assert.AreEqual("Bandwidth", ex.ParamName);
    }

    private static void AssertNames(string option, DensityOptions options)
    {
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(options.Validate);
        Assert.AreEqual(option, ex.ParamName);
        Assert.Contains(option, ex.Message);
    }

    [TestMethod]
    public void InvalidArguments_AreRejectedWithTheirName()
    {
        var mask = new byte[] { 0, 1, 2, 5 };
        var ex = Assert.ThrowsExactly<ArgumentException>(() => DensityMap.ComputeBox(mask, 2, 2, 3, 1));
        Assert.AreEqual("mask", ex.ParamName);
        Assert.Contains("mask[3] = 5", ex.Message);
        Assert.AreEqual("density", Assert.ThrowsExactly<ArgumentException>(() => DensityMap.ComputeBox(new byte[4], 2, 2, 2, 1, new float[7])).ParamName);
        Assert.AreEqual("mask", Assert.ThrowsExactly<ArgumentException>(() => DensityMap.ComputeBox(new byte[5], 2, 2, 2, 1)).ParamName);
        Assert.AreEqual("bandwidth", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => DensityMap.ComputeBox(new byte[4], 2, 2, 2, -1)).ParamName);
        Assert.AreEqual("sigma", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => DensityMap.ComputeGaussian(new byte[4], 2, 2, 2, -1.0)).ParamName);
        Assert.AreEqual("classIndex", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => DensityMap.ComputeClass(new byte[4], 2, 2, 255, new DensityOptions())).ParamName);
        Assert.AreEqual("classCount", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => DensityMap.ComputeBox(new byte[4], 2, 2, 0, 1)).ParamName);
    }
}
