using System.Diagnostics;
using MLNet.NoisySeg.Networks;
using static TorchSharp.torch;

namespace NoisySeg.Benchmarks;

/// <summary>
/// Where a training step's time goes (part l of the train verb): every 3x3 convolution of the U-Net timed alone,
/// forward + backward, in channels-last (NHWC) memory order as the ChannelsLast route runs it, and every batch norm +
/// ReLU, forward + backward. Each op is timed <c>reps</c> times after a warm-up and its MINIMUM kept: ops of a few
/// milliseconds on a shared machine are best estimated by the least-disturbed run. The sum is compared with the whole
/// step, so what is left over (pooling, concatenation, transposed and 1x1 convolutions, loss, Adam, allocation) shows.
/// </summary>
internal static class LayerBreakdown
{
    private sealed record Op(string Kind, long Cin, long Cout, long Hw, bool NeedsInputGrad, int Count);

    public static void Run(UNetOptions net, int size, int batch, int reps, double stepMs, double stepCpuMs, string tag)
    {
        var ops = new List<Op>();
        long cin = net.InputChannels;
        for (int i = 0; i <= net.Depth; i++)
        {
            long ch = (long)net.BaseWidth << i, hw = size >> i;
            ops.Add(new Op("conv3x3", cin, ch, hw, i > 0, 1));
            ops.Add(new Op("conv3x3", ch, ch, hw, true, 1));
            ops.Add(new Op("bn+relu", ch, ch, hw, true, 2));
            cin = ch;
        }
        for (int i = net.Depth - 1; i >= 0; i--)
        {
            long ch = (long)net.BaseWidth << i, hw = size >> i;
            ops.Add(new Op("conv3x3", 2 * ch, ch, hw, true, 1));
            ops.Add(new Op("conv3x3", ch, ch, hw, true, 1));
            ops.Add(new Op("bn+relu", ch, ch, hw, true, 2));
        }

        Console.WriteLine($"(l) layer breakdown at {size}x{size}, batch {batch}, channels-last, forward + backward, {reps} runs each: op, cin->cout @ size, " +
            $"wall ms (min), GFLOP/s (by wall min), process CPU ms (median, both threads), GFLOP per CPU-s {tag}");
        double convMs = 0, convGflop = 0, bnMs = 0, convCpu = 0, bnCpu = 0, nchwBnCpu = 0;
        foreach (var op in ops)
        {
            var (ms, cpu, faults) = op.Kind == "conv3x3" ? Conv(op, batch, reps) : BatchNormRelu(op, batch, reps, channelsLast: true);
            if (op.Kind == "conv3x3")
            {
                double passes = op.NeedsInputGrad ? 3 : 2; // forward, weight gradient, input gradient
                double gflop = passes * 2.0 * op.Cin * op.Cout * 9 * op.Hw * op.Hw * batch / 1e9;
                convMs += ms * op.Count;
                convCpu += cpu * op.Count;
                convGflop += gflop * op.Count;
                Console.WriteLine($"    conv3x3 {op.Cin,4}->{op.Cout,-4} @ {op.Hw,3}: {ms,7:0.0} ms {gflop / (ms / 1000),6:0} GFLOP/s | cpu {cpu,7:0.0} ms {gflop / (cpu / 1000),6:0} GFLOP/CPU-s | {faults,6:0} page faults");
            }
            else
            {
                bnMs += ms * op.Count;
                bnCpu += cpu * op.Count;
                var (nchwMs, nchwCpu, nchwFaults) = BatchNormRelu(op, batch, reps, channelsLast: false);
                nchwBnCpu += nchwCpu * op.Count;
                Console.WriteLine($"    bn+relu x{op.Count} {op.Cout,4} ch @ {op.Hw,3}: {ms,7:0.0} ms each | cpu {cpu,7:0.0} ms each | {faults,6:0} page faults | same in NCHW: {nchwMs:0.0} ms, cpu {nchwCpu:0.0} ms, {nchwFaults:0} faults");
            }
        }
        Console.WriteLine($"(l) 3x3 convolutions: wall {convMs:0} ms for {convGflop:0.0} GFLOP = {convGflop / (convMs / 1000):0} GFLOP/s, CPU {convCpu:0} ms = {convGflop / (convCpu / 1000):0} GFLOP/CPU-s; " +
            $"batch norm + ReLU: wall {bnMs:0} ms, CPU {bnCpu:0} ms (the same in NCHW order: CPU {nchwBnCpu:0} ms) {tag}");
        // The other ops of the step, the way the ChannelsLast route runs them (Networks/ConvolutionRoute.cs, UNet.cs).
        double otherCpu = 0, otherMs = 0;
        void Other(string name, int count, Func<Tensor> forward)
        {
            Tensor gy; // the incoming gradient, allocated once outside the timing (same shape and strides as the output)
            using (var probe = forward()) gy = empty_like(probe).normal_();
            var (w, c, f) = Time(reps, () =>
            {
                using var s = NewDisposeScope();
                forward().backward(new[] { gy });
            });
            gy.Dispose();
            otherMs += w * count;
            otherCpu += c * count;
            Console.WriteLine($"    {name} x{count}: {w,7:0.0} ms each | cpu {c,7:0.0} ms each | {f,6:0} page faults");
        }
        for (int i = 0; i < net.Depth; i++)
        {
            long ch = (long)net.BaseWidth << i, hw = size >> i;
            using var a = ChannelsLast(batch, ch, hw, hw);
            using var b = ChannelsLast(batch, ch, hw, hw);
            using var up = ChannelsLast(batch, 2 * ch, hw / 2, hw / 2);
            using var wt = randn(2 * ch, ch, 2, 2).mul_(0.1);
            Other($"max-pool 2x2 of {ch} ch @ {hw} (fwd+bwd)", 1, () => nn.functional.max_pool2d(a.detach().requires_grad_(true), new long[] { 2, 2 }));
            Other($"concat {ch}+{ch} ch @ {hw} (fwd+bwd)", 1, () => cat(new[] { a.detach().requires_grad_(true), b.detach().requires_grad_(true) }, 1));
            Other($"transposed conv 2x2 {2 * ch}->{ch} @ {hw / 2}->{hw} as GEMM + shuffle (fwd+bwd)", 1, () => TransposedAsGemm(up.detach().requires_grad_(true), wt.detach().requires_grad_(true)));
        }
        using (var h = ChannelsLast(batch, net.BaseWidth, size, size))
        using (var hw1 = randn(net.OutputChannels, net.BaseWidth).mul_(0.1))
            Other($"1x1 head {net.BaseWidth}->{net.OutputChannels} @ {size} as linear (fwd+bwd)", 1,
                () => nn.functional.linear(h.detach().requires_grad_(true).permute(0, 2, 3, 1), hw1.detach().requires_grad_(true)).permute(0, 3, 1, 2).contiguous());
        Console.WriteLine($"(l) these other ops: wall {otherMs:0} ms, CPU {otherCpu:0} ms {tag}");
        Console.WriteLine($"(l) whole step from (a): fastest round {stepMs:0} ms wall, median {stepCpuMs:0} CPU-ms; not in the ops above (pool, concat, transposed and 1x1 convs as GEMMs, " +
            $"layout copies, loss, Adam, allocation): wall {stepMs - convMs - bnMs:0} ms, CPU {stepCpuMs - convCpu - bnCpu:0} ms; minus the other ops timed above: wall {stepMs - convMs - bnMs - otherMs:0} ms, CPU {stepCpuMs - convCpu - bnCpu - otherCpu:0} ms (loss, Adam ~7 ms, zero_grad, autograd bookkeeping, allocation) {tag}");
    }

    /// <summary>The route's 2x2 stride-2 transposed convolution (copied from Networks/ConvolutionRoute.cs): one GEMM and a depth-to-space shuffle.</summary>
    private static Tensor TransposedAsGemm(Tensor x, Tensor weight)
    {
        long n = x.shape[0], cin = x.shape[1], h = x.shape[2], w = x.shape[3], cout = weight.shape[1];
        Tensor rows = x.permute(0, 2, 3, 1).reshape(n * h * w, cin);
        Tensor y = rows.matmul(weight.reshape(cin, cout * 4)).view(n, h, w, cout, 2, 2).permute(0, 1, 4, 2, 5, 3).reshape(n, 2 * h, 2 * w, cout);
        return y.permute(0, 3, 1, 2);
    }

    private static Tensor ChannelsLast(long n, long c, long h, long w)
        => empty_strided(new[] { n, c, h, w }, new[] { c * h * w, 1, w * c, c }).normal_();

    private static (double WallMin, double CpuMedian, double Faults) Conv(Op op, int batch, int reps)
    {
        using var x = ChannelsLast(batch, op.Cin, op.Hw, op.Hw);
        using var w = randn(op.Cout, op.Cin, 3, 3).mul_(0.1);
        using var gy = ChannelsLast(batch, op.Cout, op.Hw, op.Hw);
        return Time(reps, () =>
        {
            using var s = NewDisposeScope();
            var xi = x.detach().requires_grad_(op.NeedsInputGrad);
            var wi = w.detach().requires_grad_(true);
            var y = nn.functional.conv2d(xi, wi, padding: new[] { 1L, 1L });
            y.backward(new[] { gy });
        });
    }

    private static (double WallMin, double CpuMedian, double Faults) BatchNormRelu(Op op, int batch, int reps, bool channelsLast)
    {
        using var x = channelsLast ? ChannelsLast(batch, op.Cout, op.Hw, op.Hw) : randn(batch, op.Cout, op.Hw, op.Hw);
        using var gamma = ones(op.Cout);
        using var beta = zeros(op.Cout);
        using var mean = zeros(op.Cout);
        using var var_ = ones(op.Cout);
        using var gy = channelsLast ? ChannelsLast(batch, op.Cout, op.Hw, op.Hw) : randn(batch, op.Cout, op.Hw, op.Hw);
        return Time(reps, () =>
        {
            using var s = NewDisposeScope();
            var xi = x.detach().requires_grad_(true);
            var g = gamma.detach().requires_grad_(true);
            var b = beta.detach().requires_grad_(true);
            var y = nn.functional.relu(nn.functional.batch_norm(xi, mean, var_, g, b, true, 0.1, 1e-5));
            y.backward(new[] { gy });
        });
    }

    private static (double WallMin, double CpuMedian, double Faults) Time(int reps, Action a)
    {
        a();
        double best = double.MaxValue;
        var cpu = new List<double>(reps);
        long f0 = CpuClock.MinorFaults();
        for (int i = 0; i < reps; i++)
        {
            double c0 = CpuClock.ProcessMs();
            long t0 = Stopwatch.GetTimestamp();
            a();
            best = Math.Min(best, Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            cpu.Add(CpuClock.ProcessMs() - c0);
        }
        return (best, Stats.Median(cpu), (CpuClock.MinorFaults() - f0) / (double)reps);
    }
}
