using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using MLNet.NoisySeg.Torch;
using TorchSharp;

namespace NoisySeg.Benchmarks;

/// <summary>
/// Shows the TorchSharp 0.107 scalar race the library works around (docs/reproduction.md, "The incident of this run"):
/// one thread loops over <c>counter.add_(1)</c>, whose two scalars TorchSharp creates implicitly and leaves to the
/// finalizer, while another thread allocates and collects without pause; then the same loop with scalars held alive.
/// Prints how long the implicit loop ran before libtorch read a freed scalar, and whether the held loop counted right.
/// <c>scalar-race [--seconds 120]</c>.
/// </summary>
internal static class ScalarRaceProbe
{
    public static int Run(string[] args)
    {
        int i = Array.IndexOf(args, "--seconds");
        double limit = i >= 0 && i + 1 < args.Length ? double.Parse(args[i + 1], CultureInfo.InvariantCulture) : 120;
        TorchRuntime.Configure(TorchRuntimeOptions.SmallCpu with { Threads = 1 });
        MachineInfo cpu = MachineInfo.Read();
        Console.WriteLine($"# scalar race probe {DateTime.UtcNow:yyyy-MM-dd HH:mm}Z; cpu (lscpu): {cpu.Model}, family {cpu.Family}; " +
            $"avx512_core: {(cpu.Avx512Core ? "yes" : "no")}; TorchSharp {typeof(torch).Assembly.GetName().Version}");

        var (implicitCalls, implicitTime, error) = Loop(limit, counter => counter.add_(1));
        Console.WriteLine(error is null
            ? $"implicit scalars: {implicitCalls:N0} calls in {implicitTime.TotalSeconds:0.0} s, no failure (TorchSharp may keep its scalars alive now)"
            : $"implicit scalars: failed after {implicitCalls:N0} calls, {implicitTime.TotalSeconds:0.0} s: {error}");

        using Scalar one = 1.ToScalar();
        var (heldCalls, heldTime, heldError) = Loop(Math.Max(5, implicitTime.TotalSeconds * 2), counter => counter.add_(one, one));
        Console.WriteLine(heldError is null
            ? $"held scalars:     {heldCalls:N0} calls in {heldTime.TotalSeconds:0.0} s, every one counted"
            : $"held scalars:     FAILED after {heldCalls:N0} calls: {heldError}");
        return error is not null && heldError is null ? 0 : 1;
    }

    /// <summary>Runs <paramref name="increment"/> under GC pressure until the counter disagrees, libtorch throws, or time is up.</summary>
    private static (long Calls, TimeSpan Time, string? Error) Loop(double seconds, Action<torch.Tensor> increment)
    {
        using var counter = torch.tensor(0L);
        long calls = 0;
        string? error = null;
        bool stop = false;
        var collector = new Thread(() => { while (!Volatile.Read(ref stop)) { GC.KeepAlive(new byte[1024]); GC.Collect(0); } }) { IsBackground = true };
        collector.Start();
        var clock = Stopwatch.StartNew();
        try
        {
            while (clock.Elapsed.TotalSeconds < seconds)
            {
                for (int k = 0; k < 1000; k++) { increment(counter); calls++; }
                long counted = counter.item<long>();
                if (counted != calls) { error = $"counter {counted:N0}, expected {calls:N0}"; break; }
            }
        }
        catch (ExternalException e) { error = e.Message.Split('\n')[0]; }
        finally
        {
            Volatile.Write(ref stop, true);
            collector.Join();
        }
        return (calls, clock.Elapsed, error);
    }
}
