namespace MLNet.NoisySeg.Torch;

/// <summary>
/// How <see cref="Networks.UNet"/> runs its convolutions on the CPU. libtorch hands CPU convolutions to oneDNN, and several
/// of oneDNN's JIT kernels (libtorch 2.10, oneDNN 3.7.1) return wrong values, NaN included, for shapes whose channel
/// or spatial sizes leave a partial SIMD block; which shapes depends on the instruction set and the memory layout.
/// Each route keeps to the kernels that a scan against float64 found correct (docs/design-decisions.md §
/// "Convolutions on the CPU"); <c>tests/Networks/UNetGradientTests</c> checks every route on every layer shape the
/// network can build. The default is chosen once per process by <see cref="TorchRuntime.ConvolutionRoute"/>.
/// </summary>
public enum CpuConvolutionRoute
{
    /// <summary>
    /// CPUs where oneDNN runs AVX-512 kernels: activations in channels-last (NHWC) memory order end to end, 3x3
    /// convolutions by oneDNN's NHWC kernels; 1x1 and 2x2 transposed convolutions as matrix products.
    /// (oneDNN's blocked-layout backward-data kernel is wrong there whenever output channels are not a multiple of
    /// 16, and its NHWC 1x1 kernel for some output-channel counts.)
    /// </summary>
    ChannelsLast,

    /// <summary>
    /// x86-64 CPUs without AVX-512, or oneDNN capped below it (<c>DNNL_MAX_CPU_ISA</c>): activations in NCHW order,
    /// 3x3 convolutions by oneDNN's blocked kernels when both channel counts are multiples of 8 (or the input has at
    /// most 4 channels), otherwise as im2col + matrix product; 1x1 and 2x2 transposed convolutions as matrix products.
    /// (oneDNN's AVX2 NHWC kernels are wrong for some output-channel counts on small maps.)
    /// </summary>
    Blocked,

    /// <summary>libtorch's own choice for every layer (non-x86 CPUs; also what CUDA devices always use).</summary>
    Native,
}
