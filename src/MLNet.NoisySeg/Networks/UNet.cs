using System.Text.Json.Serialization;
using TorchSharp;
using MLNet.NoisySeg.Torch;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MLNet.NoisySeg.Networks;

/// <summary>How the U-Net decoder doubles the resolution.</summary>
public enum UNetUpsampling
{
    /// <summary>2x2 transposed convolution with stride 2 (the reference and the paper).</summary>
    TransposedConv,

    /// <summary>Bilinear x2 upsampling (align_corners = false) followed by a 1x1 convolution that halves the channels.</summary>
    Bilinear,
}

/// <summary>How <see cref="UNet.PredictLogits(Tensor, UNetPadding)"/> pads images whose size is not a multiple of 2^Depth.</summary>
public enum UNetPadding
{
    /// <summary>
    /// Mirror the image at its right and bottom edges (no edge duplication), which avoids an artificial dark border;
    /// falls back to edge replication when the image is smaller than the padding needs.
    /// </summary>
    Reflect,

    /// <summary>Pad with zeros (the value of a z-scored image's mean).</summary>
    Zero,
}

/// <summary>Architecture options of <see cref="UNet"/>.</summary>
public sealed record UNetOptions
{
    /// <summary>Image channels (1 for grey-level microscopy).</summary>
    public int InputChannels { get; init; } = 1;

    /// <summary>Output channels: 1 = one binary foreground logit; K &gt;= 2 = K class logits (softmax).</summary>
    public int OutputChannels { get; init; } = 1;

    /// <summary>Number of down-sampling levels (the reference uses 4; images are padded to a multiple of 2^Depth).</summary>
    public int Depth { get; init; } = 4;

    /// <summary>
    /// Channels of the first level; level i has BaseWidth * 2^i. At least 2: a single-channel level would put a
    /// convolution with one input channel inside the network, whose input gradient libtorch's oneDNN kernels compute
    /// wrongly (intermittently) on AVX-512 CPUs.
    /// </summary>
    public int BaseWidth { get; init; } = 16;

    /// <summary>Batch normalisation after each 3x3 convolution (convolutions then have no bias).</summary>
    public bool BatchNorm { get; init; } = true;

    /// <summary>How the decoder upsamples.</summary>
    public UNetUpsampling Upsampling { get; init; } = UNetUpsampling.TransposedConv;

    /// <summary>The multiple image sizes must have for the network: 2^Depth.</summary>
    [JsonIgnore]
    public int SizeMultiple => 1 << Depth;

    /// <summary>
    /// An upper bound, in input pixels, on how far an output pixel's input neighbourhood reaches: per level two 3x3
    /// convolutions in the encoder and in the decoder (2 x 2^level each), the 2x2 pooling and the upsampling (2^level each,
    /// bilinear 2^(level+1)), and the two convolutions at the bottom (2 x 2^Depth). For Depth 4: 122 (transposed) or 137
    /// (bilinear). Tiled prediction with <c>TileBlending.Center</c> equals whole-image prediction when half the tile overlap is
    /// at least this.
    /// </summary>
    [JsonIgnore]
    public int ReceptiveFieldRadius
    {
        get
        {
            int r = 2 << Depth; // bottom DoubleConv
            for (int level = 0; level < Depth; level++)
                r += (2 << level) * 2 + (1 << level) + (Upsampling == UNetUpsampling.Bilinear ? 2 << level : 1 << level);
            return r;
        }
    }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        if (InputChannels < 1) throw new ArgumentOutOfRangeException(nameof(InputChannels), InputChannels, "InputChannels must be at least 1.");
        if (OutputChannels < 1 || OutputChannels > 255) throw new ArgumentOutOfRangeException(nameof(OutputChannels), OutputChannels, "OutputChannels must be in [1, 255] (1 = binary logit, K = class logits).");
        if (Depth < 1 || Depth > 8) throw new ArgumentOutOfRangeException(nameof(Depth), Depth, "Depth must be in [1, 8].");
        if (BaseWidth < 2 || (long)BaseWidth << Depth > 65536) throw new ArgumentOutOfRangeException(nameof(BaseWidth), BaseWidth, "BaseWidth must be at least 2 and BaseWidth * 2^Depth at most 65536.");
        if (!Enum.IsDefined(Upsampling)) throw new ArgumentOutOfRangeException(nameof(Upsampling), Upsampling, "Upsampling must be TransposedConv or Bilinear.");
    }
}

/// <summary>
/// The U-Net of the reference PyTorch step the benchmarks compare against: Depth+1 encoder levels of double 3x3 convolution
/// (+ batch norm) + ReLU, 2x2 max-pool down, transposed-conv (or bilinear) up, concatenated skips, 1x1 head.
/// Parameter names match the reference's PyTorch module (<c>downs.i.*</c>, <c>ups.i.*</c>, <c>decs.i.*</c>, <c>head.*</c>).
/// </summary>
/// <remarks>Input is [N, C, H, W] with H and W multiples of 2^Depth; output is [N, OutputChannels, H, W] logits.
/// Use <see cref="PredictLogits(Tensor, UNetPadding)"/> for any image size.</remarks>
public sealed class UNet : Module<Tensor, Tensor>
{
    private readonly ModuleList<Module<Tensor, Tensor>> downs;
    private readonly ModuleList<Module<Tensor, Tensor>> ups;
    private readonly ModuleList<Module<Tensor, Tensor>> decs;
    private readonly Conv2d head;
    private readonly MaxPool2d pool;

    /// <summary>The (validated) options this network was built from.</summary>
    public UNetOptions Options { get; }

    /// <summary>Builds the network with freshly initialised weights (seed with <c>torch.manual_seed</c> first for reproducibility).</summary>
    /// <param name="options">Architecture options; validated.</param>
    public UNet(UNetOptions options) : base(nameof(UNet))
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        int depth = options.Depth;
        var ch = new long[depth + 1];
        for (int i = 0; i <= depth; i++) ch[i] = (long)options.BaseWidth << i;

        var downList = new Module<Tensor, Tensor>[depth + 1];
        downList[0] = DoubleConv(options.InputChannels, ch[0], options.BatchNorm);
        for (int i = 0; i < depth; i++) downList[i + 1] = DoubleConv(ch[i], ch[i + 1], options.BatchNorm);

        var upList = new Module<Tensor, Tensor>[depth];
        var decList = new Module<Tensor, Tensor>[depth];
        for (int k = 0; k < depth; k++)
        {
            int i = depth - 1 - k;
            upList[k] = options.Upsampling == UNetUpsampling.TransposedConv
                ? nn.ConvTranspose2d(ch[i + 1], ch[i], kernel_size: 2, stride: 2)
                : nn.Sequential(
                    ("upsample", nn.Upsample(scale_factor: new[] { 2.0, 2.0 }, mode: UpsampleMode.Bilinear, align_corners: false)),
                    ("conv", nn.Conv2d(ch[i + 1], ch[i], kernel_size: 1)));
            decList[k] = DoubleConv(ch[i] * 2, ch[i], options.BatchNorm);
        }

        downs = nn.ModuleList(downList);
        ups = nn.ModuleList(upList);
        decs = nn.ModuleList(decList);
        head = nn.Conv2d(ch[0], options.OutputChannels, kernel_size: 1);
        pool = nn.MaxPool2d(2);
        RegisterComponents();
    }

    /// <summary>Number of trainable parameters (weights and biases; batch-norm running statistics excluded).</summary>
    public long ParameterCount
    {
        get
        {
            long n = 0;
            foreach (var p in parameters()) n += p.numel();
            return n;
        }
    }

    /// <summary>Logits for a batch whose height and width are multiples of 2^Depth.</summary>
    /// <param name="input">[N, InputChannels, H, W].</param>
    /// <returns>[N, OutputChannels, H, W] logits (contiguous). On the CPU the layers run by
    /// <see cref="TorchRuntime.ConvolutionRoute"/> (see <see cref="CpuConvolutionRoute"/>).</returns>
    public override Tensor forward(Tensor input)
    {
        CheckInput(input, requireMultiple: true);
        CpuConvolutionRoute route = RoutedConvolution.RouteFor(input);
        var skips = new List<Tensor>(downs.Count);
        Tensor x = RoutedConvolution.Enter(input, route);
        for (int i = 0; i < downs.Count; i++)
        {
            x = Block(downs[i], i == 0 ? x : pool.call(x), route);
            skips.Add(x);
        }
        for (int k = 0; k < ups.Count; k++)
        {
            Tensor skip = skips[skips.Count - 2 - k];
            x = Block(decs[k], torch.cat(new[] { Up(ups[k], x, route), skip }, 1), route);
        }
        return RoutedConvolution.Conv(head, x, route).contiguous();
    }

    /// <summary>Runs a double-convolution block (or any Sequential) layer by layer, routing its convolutions.</summary>
    private static Tensor Block(Module<Tensor, Tensor> block, Tensor x, CpuConvolutionRoute route)
    {
        var layers = (Sequential)block;
        for (int i = 0; i < layers.Count; i++)
        {
            var layer = layers[i];
            x = layer switch
            {
                Conv2d conv => RoutedConvolution.Conv(conv, x, route),
                BatchNorm2d norm => BatchNorm(norm, x),
                _ => layer.call(x),
            };
        }
        return x;
    }

    /// <summary>
    /// TorchSharp's <c>BatchNorm.forward</c>, except that the batch counter advances by a scalar that cannot be freed
    /// while libtorch reads it (TorchSharp's own <c>num_batches_tracked.add_(1)</c> can be; see <see cref="LiveScalars"/>).
    /// </summary>
    private static Tensor BatchNorm(BatchNorm2d norm, Tensor x)
    {
        double factor = norm.momentum ?? 0.0;
        if (norm.training && norm.track_running_stats && norm.num_batches_tracked is { } count)
        {
            count.add_(LiveScalars.One, LiveScalars.One);
            if (norm.momentum is null) factor = 1.0 / count.item<long>(); // cumulative moving average
        }
        bool batchStatistics = norm.training || (norm.running_mean is null && norm.running_var is null);
        bool running = !norm.training || norm.track_running_stats;
        return nn.functional.batch_norm(x, running ? norm.running_mean : null, running ? norm.running_var : null,
            norm.weight, norm.bias, batchStatistics, factor, norm.eps);
    }

    private static Tensor Up(Module<Tensor, Tensor> up, Tensor x, CpuConvolutionRoute route)
        => up is ConvTranspose2d transposed ? RoutedConvolution.TransposedConv2x2(transposed, x, route) : Block(up, x, route);

    /// <summary>
    /// Logits for images of any size: pads right and bottom to the next multiple of 2^Depth, runs the network and
    /// crops the output back to H x W. Does not change train/eval mode or gradient recording; call inside
    /// <c>torch.inference_mode()</c> after <c>eval()</c> for inference.
    /// </summary>
    /// <param name="input">[N, InputChannels, H, W] with any H, W &gt;= 1.</param>
    /// <param name="padding">Padding mode (see <see cref="UNetPadding"/>).</param>
    /// <returns>[N, OutputChannels, H, W] logits.</returns>
    public Tensor PredictLogits(Tensor input, UNetPadding padding = UNetPadding.Reflect)
    {
        CheckInput(input, requireMultiple: false);
        long h = input.shape[2], w = input.shape[3];
        long m = Options.SizeMultiple;
        long padH = (m - h % m) % m, padW = (m - w % m) % m;
        if (padH == 0 && padW == 0) return forward(input);

        using Tensor padded = PadBottomRight(input, padH, padW, padding);
        using Tensor logits = forward(padded);
        return logits[TensorIndex.Ellipsis, TensorIndex.Slice(0, h), TensorIndex.Slice(0, w)].contiguous();
    }

    /// <summary>
    /// Pads <paramref name="input"/> [N, C, H, W] by <paramref name="padH"/> rows at the bottom and <paramref name="padW"/>
    /// columns on the right: zeros, or a reflection (a replication when the padding is not smaller than the image).
    /// </summary>
    internal static Tensor PadBottomRight(Tensor input, long padH, long padW, UNetPadding padding)
    {
        long h = input.shape[2], w = input.shape[3];
        PaddingModes mode = padding == UNetPadding.Zero ? PaddingModes.Constant
            : (padH < h && padW < w ? PaddingModes.Reflect : PaddingModes.Replicate);
        return nn.functional.pad(input, new long[] { 0, padW, 0, padH }, mode, 0.0);
    }

    private void CheckInput(Tensor input, bool requireMultiple)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.dim() != 4 || input.shape[1] != Options.InputChannels)
            throw new ArgumentException($"Expected input [N, {Options.InputChannels}, H, W]; got [{string.Join(", ", input.shape)}].", nameof(input));
        if (requireMultiple && (input.shape[2] % Options.SizeMultiple != 0 || input.shape[3] % Options.SizeMultiple != 0))
            throw new ArgumentException($"Height and width must be multiples of 2^Depth = {Options.SizeMultiple}; got {input.shape[2]}x{input.shape[3]}. Use PredictLogits to pad.", nameof(input));
    }

    private static Module<Tensor, Tensor> DoubleConv(long inChannels, long outChannels, bool batchNorm)
    {
        var layers = new List<(string, Module<Tensor, Tensor>)>(6);
        layers.Add(("0", nn.Conv2d(inChannels, outChannels, kernel_size: 3, padding: 1, bias: !batchNorm)));
        if (batchNorm) layers.Add(("1", nn.BatchNorm2d(outChannels)));
        layers.Add(("2", nn.ReLU(inplace: true)));
        layers.Add(("3", nn.Conv2d(outChannels, outChannels, kernel_size: 3, padding: 1, bias: !batchNorm)));
        if (batchNorm) layers.Add(("4", nn.BatchNorm2d(outChannels)));
        layers.Add(("5", nn.ReLU(inplace: true)));
        return nn.Sequential(layers);
    }
}
