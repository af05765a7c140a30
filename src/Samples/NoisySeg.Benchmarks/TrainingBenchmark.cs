using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Networks;
using MLNet.NoisySeg.Pipelines;
using MLNet.NoisySeg.Torch;
using MLNet.NoisySeg.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace NoisySeg.Benchmarks;

/// <summary>
/// The trainer benchmarks of issue 4, in one run: (a) training-step GFLOP/s against SGEMM GFLOP/s measured now,
/// (b) ML.NET Fit path vs a raw tensor loop, (c) the PyTorch reference step, (d) RSS over many steps,
/// (e) 512x512 inference through PredictionEngine vs raw TorchSharp.
/// </summary>
internal static class TrainingBenchmark
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static int Run(string[] args)
    {
        int size = Arg(args, "--size", 256), batch = Arg(args, "--batch", 4), steps = Arg(args, "--steps", 10);
        int rssSteps = Arg(args, "--rss-steps", 500), rssSize = Arg(args, "--rss-size", 128);
        int threads = Arg(args, "--threads", 2);
        int pi = Array.IndexOf(args, "--parts");
        string parts = pi >= 0 && pi + 1 < args.Length ? args[pi + 1] : "abcde";
        TorchRuntime.Configure(TorchRuntimeOptions.SmallCpu with { Threads = threads }); // the documented numbers are with full tuning
        var net = new UNetOptions { Depth = 4, BaseWidth = 16 };
        double gflopPerImage = TrainingGflop(net, size);
        Console.WriteLine($"# trainer benchmark: U-Net depth 4 base 16, {size}x{size}, batch {batch}, {threads} threads; model cost {gflopPerImage:0.00} GFLOP/image/step (analytic)");

        double sgemm = SgemmGflops();
        Console.WriteLine($"sgemm 2048x2048 float32: {sgemm:0.0} GFLOP/s");

        double rawMs = RawStepMs(net, size, batch, steps);
        double achieved = gflopPerImage * batch / (rawMs / 1000);
        Console.WriteLine($"(a) raw training step: {rawMs:0.0} ms = {achieved:0.0} GFLOP/s = {achieved / sgemm:0.00} of SGEMM (target >= 0.6)");

        if (parts.Contains('b'))
        {
            var (fitStepMs, fitFixedMs) = FitStepMs(net, size, batch, steps);
            double rawAgain = RawStepMs(net, size, batch, steps); // interleaved, so load changes hit both sides
            double rawBest = Math.Min(rawMs, rawAgain);
            Console.WriteLine($"(b) ML.NET Fit path: {fitStepMs:0.0} ms/step (from Fit with {steps} and {2 * steps} steps) vs raw {rawBest:0.0} ms/step " +
                $"(raw runs {rawMs:0.0} / {rawAgain:0.0}): overhead {100 * (fitStepMs / rawBest - 1):0.0}% (target <= 5%); " +
                $"fixed cost per Fit {fitFixedMs:0} ms (data conversion, weights into the zip state)");
        }

        if (parts.Contains('c'))
        {
            var reference = PyTorchReference(size, batch, steps);
            Console.WriteLine(reference is double r
                ? $"(c) PyTorch reference step: {r:0.0} ms; ours/reference time ratio {rawMs / r:0.00} (speed-up {r / rawMs:0.00}x)"
                : "(c) PyTorch reference: not available (apt-get install -y python3-torch)");
        }

        if (parts.Contains('d'))
        {
            var (rssStart, rssEnd, rssMax) = RssOverSteps(net, rssSize, batch, rssSteps);
            Console.WriteLine($"(d) RSS over {rssSteps} steps at {rssSize}x{rssSize}: after warm-up {rssStart:0} MB, end {rssEnd:0} MB, max {rssMax:0} MB (growth {rssEnd - rssStart:0} MB)");
        }

        if (parts.Contains('e'))
        {
            var (engineMs, rawInferMs) = InferenceLatency(net);
            Console.WriteLine($"(e) 512x512 inference: PredictionEngine {engineMs:0.0} ms, raw TorchSharp {rawInferMs:0.0} ms, ratio {engineMs / rawInferMs:0.00} (target <= 1.1)");
        }
        return 0;
    }

    /// <summary>Forward FLOPs of the U-Net (2 per multiply-add) times 3 for forward + backward.</summary>
    internal static double TrainingGflop(UNetOptions o, int size)
    {
        double flops = 0;
        int cin = o.InputChannels;
        for (int i = 0; i <= o.Depth; i++)
        {
            int ch = o.BaseWidth << i;
            double hw = Math.Pow(size >> i, 2);
            flops += 2.0 * cin * ch * 9 * hw + 2.0 * ch * ch * 9 * hw;
            cin = ch;
        }
        for (int i = o.Depth - 1; i >= 0; i--)
        {
            int ch = o.BaseWidth << i, up = o.BaseWidth << (i + 1);
            double hw = Math.Pow(size >> i, 2);
            flops += 2.0 * up * ch * 4 * (hw / 4);         // transposed conv 2x2 stride 2
            flops += 2.0 * (2 * ch) * ch * 9 * hw + 2.0 * ch * ch * 9 * hw;
        }
        flops += 2.0 * o.BaseWidth * o.OutputChannels * Math.Pow(size, 2);
        return 3 * flops / 1e9;
    }

    private static double SgemmGflops()
    {
        using var a = randn(2048, 2048);
        using var b = randn(2048, 2048);
        for (int i = 0; i < 2; i++) using (var c = a.mm(b)) { }
        var sw = Stopwatch.StartNew();
        int n = 5;
        for (int i = 0; i < n; i++) using (var c = a.mm(b)) { }
        return n * 2.0 * Math.Pow(2048, 3) / sw.Elapsed.TotalSeconds / 1e9;
    }

    private static double RawStepMs(UNetOptions o, int size, int batch, int steps)
    {
        manual_seed(0);
        using var model = new UNet(o);
        var opt = optim.Adam(model.parameters(), 1e-3);
        using var x = randn(batch, 1, size, size);
        using var y = (rand(batch, 1, size, size) > 0.8).to_type(ScalarType.Float32);
        void Step()
        {
            using var scope = NewDisposeScope();
            opt.zero_grad();
            var loss = nn.functional.binary_cross_entropy_with_logits(model.forward(x), y);
            loss.backward();
            opt.step();
        }
        for (int i = 0; i < 3; i++) Step();
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++) Step();
        return sw.Elapsed.TotalMilliseconds / steps;
    }

    private static (double StepMs, double FixedMs) FitStepMs(UNetOptions o, int size, int batch, int steps)
    {
        var ml = new MLContext(seed: 0);
        var rng = new Random(0);
        var items = Enumerable.Range(0, batch).Select(i => new SegmentationItem($"img{i}",
            Enumerable.Range(0, size * size).Select(_ => (float)rng.NextDouble()).ToArray(), 1, size, size,
            Enumerable.Range(0, size * size).Select(_ => (byte)(rng.NextDouble() > 0.8 ? 1 : 0)).ToArray())).ToList();
        var data = SegmentationDataView.Create(ml, items);
        UNetSegmentationTrainer Trainer(int n) => ml.Segmentation().Trainers.UNet(new UNetSegmentationTrainerOptions
        {
            Decoding = SegmentationDecoding.Fixed,
            Trainer = new SegmentationTrainerOptions { Network = o, MaxSteps = n, BatchSize = batch, Augment = false, Optimizer = OptimizerKind.Adam },
        });
        Trainer(3).Fit(data); // warm-up, like the raw loop's 3 steps
        var sw = Stopwatch.StartNew();
        Trainer(steps).Fit(data);
        double once = sw.Elapsed.TotalMilliseconds;
        sw.Restart();
        Trainer(2 * steps).Fit(data);
        double twice = sw.Elapsed.TotalMilliseconds;
        double step = (twice - once) / steps;
        return (step, once - steps * step);
    }

    private static double? PyTorchReference(int size, int batch, int steps)
    {
        string? kernels = ReferenceRunner.Locate(null);
        string? script = kernels is null ? null : Path.Combine(Path.GetDirectoryName(kernels)!, "torch_unet_step.py");
        if (script is null || !File.Exists("/usr/bin/python3")) return null;
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { script, "16", size.ToString(Inv), batch.ToString(Inv), steps.ToString(Inv) }) psi.ArgumentList.Add(a);
        psi.Environment["OMP_WAIT_POLICY"] = "PASSIVE";
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Console.WriteLine("    reference says: " + output.Trim() + (p.ExitCode != 0 ? " " + err.Trim().Split('\n').LastOrDefault() : ""));
        var m = System.Text.RegularExpressions.Regex.Match(output, @"train ([0-9.]+) ms/step");
        return m.Success ? double.Parse(m.Groups[1].Value, Inv) : null;
    }

    private static (double Start, double End, double Max) RssOverSteps(UNetOptions o, int size, int batch, int steps)
    {
        manual_seed(0);
        using var model = new UNet(o);
        var opt = optim.Adam(model.parameters(), 1e-3);
        double start = 0, max = 0;
        for (int i = 0; i < steps; i++)
        {
            using (var scope = NewDisposeScope())
            {
                var x = randn(batch, 1, size, size);
                var y = (rand(batch, 1, size, size) > 0.8).to_type(ScalarType.Float32);
                opt.zero_grad();
                nn.functional.binary_cross_entropy_with_logits(model.forward(x), y).backward();
                opt.step();
            }
            double rss = Process.GetCurrentProcess().WorkingSet64 / 1048576.0;
            if (i == 19) start = rss;
            max = Math.Max(max, rss);
        }
        return (start, Process.GetCurrentProcess().WorkingSet64 / 1048576.0, max);
    }

    private sealed class Img512
    {
        [VectorType(1, 512, 512)] public float[] Image { get; set; } = [];
    }

    private sealed class Out512
    {
        [VectorType] public float[] Probability { get; set; } = [];
    }

    private static (double EngineMs, double RawMs) InferenceLatency(UNetOptions o)
    {
        var ml = new MLContext(seed: 0);
        var rng = new Random(1);
        var items = Enumerable.Range(0, 4).Select(i => new SegmentationItem($"i{i}",
            Enumerable.Range(0, 512 * 512).Select(_ => (float)rng.NextDouble()).ToArray(), 1, 512, 512,
            Enumerable.Range(0, 512 * 512).Select(_ => (byte)(rng.NextDouble() > 0.8 ? 1 : 0)).ToArray())).ToList();
        var data = SegmentationDataView.Create(ml, items);
        var model = ml.Segmentation().Trainers.UNet(new UNetSegmentationTrainerOptions
        {
            Decoding = SegmentationDecoding.Fixed,
            Trainer = new SegmentationTrainerOptions { Network = o, MaxSteps = 1, BatchSize = 1, Augment = false },
        }).Fit(data);
        var engine = ml.Model.CreatePredictionEngine<Img512, Out512>(model);
        var input = new Img512 { Image = items[0].Image };
        var net = model.Model.Network;
        net.eval();
        using var x = tensor(items[0].Image, new long[] { 1, 1, 512, 512 });
        void Raw()
        {
            using var mode = inference_mode();
            using var s = NewDisposeScope();
            net.forward(x).sigmoid().data<float>().ToArray();
        }
        for (int i = 0; i < 2; i++) { engine.Predict(input); Raw(); }
        // Interleave the two paths and keep each one's best round, so load changes on a shared machine hit both.
        double engineMs = double.MaxValue, rawMs = double.MaxValue;
        var sw = new Stopwatch();
        for (int round = 0; round < 3; round++)
        {
            sw.Restart();
            for (int i = 0; i < 3; i++) engine.Predict(input);
            engineMs = Math.Min(engineMs, sw.Elapsed.TotalMilliseconds / 3);
            sw.Restart();
            for (int i = 0; i < 3; i++) Raw();
            rawMs = Math.Min(rawMs, sw.Elapsed.TotalMilliseconds / 3);
        }
        return (engineMs, rawMs);
    }

    private static int Arg(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], Inv) : fallback;
    }
}
