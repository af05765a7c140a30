using MLNet.NoisySeg.Networks;
using MLNet.NoisySeg.Torch;
using static TorchSharp.torch;

namespace MLNet.NoisySeg.Tests.Networks;

[TestClass]
public sealed class UNetTests
{
    [ClassInitialize]
    public static void Init(TestContext _) => TorchRuntime.Initialize(2);

    /// <summary>Parameter count of the reference architecture (torch_unet_step.py), by formula.</summary>
    private static long ExpectedParameters(int cin, int cout, int b, int depth, bool bn, bool transposed)
    {
        long DoubleConv(long i, long o) => 9 * i * o + 9 * o * o + (bn ? 4 * o : 2 * o);
        var ch = Enumerable.Range(0, depth + 1).Select(i => (long)b << i).ToArray();
        long n = DoubleConv(cin, ch[0]);
        for (int i = 0; i < depth; i++) n += DoubleConv(ch[i], ch[i + 1]);
        for (int i = 0; i < depth; i++)
        {
            n += (transposed ? 4 : 1) * ch[i + 1] * ch[i] + ch[i]; // up (2x2 transposed conv or 1x1 conv after bilinear)
            n += DoubleConv(2 * ch[i], ch[i]);
        }
        return n + ch[0] * cout + cout;
    }

    [TestMethod]
    public void ParameterCount_MatchesTheReference_Depth4Base16()
    {
        using var net = new UNet(new UNetOptions());
        long expected = ExpectedParameters(1, 1, 16, 4, bn: true, transposed: true);
        Assert.AreEqual(expected, net.ParameterCount);
        Assert.AreEqual(1.94e6, net.ParameterCount, 0.01e6, "platform.md reports 1.94 M parameters");
        // reference (PyTorch) parameter names
        var names = net.named_parameters().Select(p => p.name).ToHashSet();
        foreach (string name in new[] { "downs.0.0.weight", "downs.0.1.weight", "downs.4.3.weight", "ups.0.weight", "ups.3.bias", "decs.3.4.bias", "head.weight", "head.bias" })
            Assert.IsTrue(names.Contains(name), name);
        Assert.IsFalse(names.Contains("downs.0.0.bias"), "no conv bias with batch norm");
    }

    [TestMethod]
    [DataRow(2, 3, 8, 3, true, false)]
    [DataRow(3, 1, 4, 2, false, true)]
    [DataRow(1, 5, 8, 1, true, true)]
    public void ParameterCount_MatchesFormula_ForOtherConfigurations(int cin, int cout, int b, int depth, bool bn, bool transposed)
    {
        using var net = new UNet(new UNetOptions { InputChannels = cin, OutputChannels = cout, BaseWidth = b, Depth = depth, BatchNorm = bn,
            Upsampling = transposed ? UNetUpsampling.TransposedConv : UNetUpsampling.Bilinear });
        Assert.AreEqual(ExpectedParameters(cin, cout, b, depth, bn, transposed), net.ParameterCount);
    }

    [TestMethod]
    [DataRow(37, 50, UNetPadding.Reflect)]
    [DataRow(37, 50, UNetPadding.Zero)]
    [DataRow(5, 3, UNetPadding.Reflect)]   // smaller than the padding: falls back to edge replication
    [DataRow(16, 24, UNetPadding.Reflect)] // already a multiple of 8
    public void PredictLogits_PadsAnySizeAndCropsBack(int h, int w, UNetPadding padding)
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        using var net = new UNet(new UNetOptions { InputChannels = 2, OutputChannels = 3, Depth = 3, BaseWidth = 4 });
        net.eval();
        using var _ = inference_mode();
        Tensor x = randn(new long[] { 2, 2, h, w });
        Tensor y = net.PredictLogits(x, padding);
        CollectionAssert.AreEqual(new long[] { 2, 3, h, w }, y.shape);
        Assert.IsTrue(y.isfinite().all().item<bool>());
    }

    [TestMethod]
    public void Forward_RejectsSizesThatAreNotMultiples_AndWrongChannels()
    {
        using var scope = NewDisposeScope();
        using var net = new UNet(new UNetOptions { Depth = 2, BaseWidth = 4 });
        var ex = Assert.ThrowsExactly<ArgumentException>(() => net.forward(zeros(1, 1, 10, 12)));
        StringAssert.Contains(ex.Message, "PredictLogits");
        Assert.ThrowsExactly<ArgumentException>(() => net.PredictLogits(zeros(1, 3, 8, 8)));
        CollectionAssert.AreEqual(new long[] { 1, 1, 8, 8 }, net.forward(zeros(1, 1, 8, 8)).shape);
    }

    [TestMethod]
    public void PaddingMode_MattersOnlyNearThePaddedBorder_AndIsDeterministic()
    {
        using var scope = NewDisposeScope();
        manual_seed(2);
        using var net = new UNet(new UNetOptions { Depth = 2, BaseWidth = 4 });
        net.eval();
        using var _ = inference_mode();
        Tensor x = randn(new long[] { 1, 1, 61, 61 }); // padded to 64 at right and bottom
        Tensor a = net.PredictLogits(x, UNetPadding.Reflect), b = net.PredictLogits(x, UNetPadding.Reflect);
        Assert.IsTrue(a.eq(b).all().item<bool>());
        Tensor z = net.PredictLogits(x, UNetPadding.Zero);
        Assert.IsFalse(a.eq(z).all().item<bool>(), "padding mode must matter near the border");
        // beyond the receptive field (about 47 px for depth 2) of the padded border the modes agree: top-left pixel
        Assert.AreEqual(a[0, 0, 0, 0].item<float>(), z[0, 0, 0, 0].item<float>(), 1e-5);
    }

    [TestMethod]
    [DataRow("InputChannels")]
    [DataRow("OutputChannels")]
    [DataRow("Depth")]
    [DataRow("BaseWidth")]
    [DataRow("Upsampling")]
    public void Validate_NamesTheOption(string option)
    {
        UNetOptions o = option switch
        {
            "InputChannels" => new UNetOptions { InputChannels = 0 },
            "OutputChannels" => new UNetOptions { OutputChannels = 0 },
            "Depth" => new UNetOptions { Depth = 0 },
            "BaseWidth" => new UNetOptions { BaseWidth = 0 },
            _ => new UNetOptions { Upsampling = (UNetUpsampling)7 },
        };
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(o.Validate);
        Assert.AreEqual(option, ex.ParamName);
        StringAssert.Contains(ex.Message, option);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new UNet(o));
    }
}
