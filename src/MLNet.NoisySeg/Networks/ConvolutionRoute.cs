using MLNet.NoisySeg.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.NoisySeg.Networks;

/// <summary>The U-Net's convolution and transposed-convolution calls, routed by <see cref="CpuConvolutionRoute"/>.</summary>
internal static class RoutedConvolution
{
    /// <summary>The route for a tensor: the process-wide CPU route on the CPU, <see cref="CpuConvolutionRoute.Native"/> elsewhere.</summary>
    public static CpuConvolutionRoute RouteFor(Tensor x)
        => x.device_type == DeviceType.CPU ? TorchRuntime.ConvolutionRoute : CpuConvolutionRoute.Native;

    /// <summary>Puts the network input in the memory order the route's layers expect.</summary>
    public static Tensor Enter(Tensor x, CpuConvolutionRoute route) => route switch
    {
        CpuConvolutionRoute.ChannelsLast => ToChannelsLast(x),
        CpuConvolutionRoute.Blocked => x.contiguous(),
        _ => x,
    };

    /// <summary>
    /// The same values in channels-last (NHWC) memory order, still shaped [N, C, H, W]. Batch norm, ReLU, max-pool,
    /// bilinear upsampling, concatenation and oneDNN's convolutions all keep that order.
    /// </summary>
    /// <remarks>The strides are set explicitly (an empty NHWC-strided tensor, then a differentiable <c>copy_</c>): the
    /// usual <c>permute(0, 2, 3, 1).contiguous()</c> keeps NCHW strides when there is one channel (the bytes are the
    /// same), and libtorch then treats the tensor as NCHW.</remarks>
    public static Tensor ToChannelsLast(Tensor x)
    {
        long[] shape = x.shape;
        long c = shape[1], w = shape[3];
        return empty_strided(shape, new[] { c * shape[2] * w, 1, w * c, c }, dtype: x.dtype, device: x.device).copy_(x);
    }

    /// <summary>
    /// libtorch 2.10 runs a CPU float convolution of one image with at most this many input values (N*C*H*W) by its own
    /// kernels instead of oneDNN's (<c>ConvParams::use_mkldnn</c>), and that path logs an NNPACK warning per call on CPUs
    /// where NNPACK cannot initialise. Measured on libtorch 2.10: 20480 values log, 21504 do not.
    /// </summary>
    internal const long LibTorchSmallInputLimit = 20480;

    /// <summary>A stride-1 convolution (1x1 or 3x3 with "same" padding) of the U-Net.</summary>
    public static Tensor Conv(Conv2d conv, Tensor x, CpuConvolutionRoute route)
    {
        if (route == CpuConvolutionRoute.Native) return conv.call(x);
        Tensor weight = conv.weight!;
        long cout = weight.shape[0], cin = weight.shape[1], k = weight.shape[2];
        if (k == 1) return Pointwise(x, weight.view(cout, cin), conv.bias, route);

        long pad = conv.padding![0];
        // A single small image is a shape libtorch does not give to oneDNN (its heuristic: batch 1 and at most 20480 input
        // values). Its own fallback then asks whether NNPACK is available, and libtorch 2.10 logs "Could not initialize
        // NNPACK! Reason: Unsupported hardware." to stderr on every such call where NNPACK cannot start (this VM). The same
        // im2col + matrix product here computes the same convolution without asking.
        if (x.shape[0] == 1 && x.numel() <= LibTorchSmallInputLimit)
            return Im2Col(x, weight, conv.bias, pad, route);
        bool oneDnnIsRight = route == CpuConvolutionRoute.ChannelsLast
            ? cin > 1 || !x.requires_grad // NHWC backward-data with one input channel is wrong on AVX-512
            : cout % 8 == 0 && (cin % 8 == 0 || cin <= 4);
        return oneDnnIsRight
            ? nn.functional.conv2d(x, weight, conv.bias, padding: new[] { pad, pad })
            : Im2Col(x, weight, conv.bias, pad, route);
    }

    /// <summary>The U-Net's 2x2, stride-2 transposed convolution: one matrix product and a depth-to-space shuffle.</summary>
    public static Tensor TransposedConv2x2(ConvTranspose2d up, Tensor x, CpuConvolutionRoute route)
    {
        if (route == CpuConvolutionRoute.Native) return up.call(x);
        Tensor weight = up.weight!; // [Cin, Cout, 2, 2]
        long n = x.shape[0], cin = x.shape[1], h = x.shape[2], w = x.shape[3], cout = weight.shape[1];
        Tensor rows = x.permute(0, 2, 3, 1).reshape(n * h * w, cin);
        Tensor y = rows.matmul(weight.reshape(cin, cout * 4))      // [NHW, Cout*2*2] ordered (co, a, b)
            .view(n, h, w, cout, 2, 2).permute(0, 1, 4, 2, 5, 3)   // [N, H, a, W, b, Cout]
            .reshape(n, 2 * h, 2 * w, cout);
        if (up.bias is { } bias) y = y.add(bias, LiveScalars.One);
        return Leave(y.permute(0, 3, 1, 2), route);
    }

    private static Tensor Pointwise(Tensor x, Tensor weight2d, Tensor? bias, CpuConvolutionRoute route)
    {
        Tensor y = nn.functional.linear(x.permute(0, 2, 3, 1), weight2d, bias); // [N, H, W, Cout]
        return Leave(y.permute(0, 3, 1, 2), route);
    }

    private static Tensor Im2Col(Tensor x, Tensor weight, Tensor? bias, long pad, CpuConvolutionRoute route)
    {
        long n = x.shape[0], h = x.shape[2], w = x.shape[3], cout = weight.shape[0], k = weight.shape[2];
        Tensor cols = nn.functional.unfold(x, (k, k), padding: (pad, pad)); // [N, Cin*k*k, H*W]
        Tensor y = weight.reshape(cout, -1).matmul(cols).view(n, cout, h, w);
        if (bias is not null) y = y.add(bias.view(1, cout, 1, 1), LiveScalars.One);
        return route == CpuConvolutionRoute.ChannelsLast ? ToChannelsLast(y) : y;
    }

    /// <summary>An NHWC-ordered [N, C, H, W] result, in the route's memory order.</summary>
    private static Tensor Leave(Tensor nhwcOrdered, CpuConvolutionRoute route)
        => route == CpuConvolutionRoute.Blocked ? nhwcOrdered.contiguous() : nhwcOrdered;
}
