using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Losses;
using MLNet.NoisySeg.Networks;
using MLNet.NoisySeg.Pipelines;
using MLNet.NoisySeg.Torch;
using MLNet.NoisySeg.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace NoisySeg.Benchmarks;

/// <summary>Options of the <c>train</c> verb.</summary>
internal sealed class TrainOptions
{
    public int Size { get; private set; } = 256;
    public int Batch { get; private set; } = 4;
    public int Threads { get; private set; } = 2;
    /// <summary>Interleaved rounds of the raw-step legs (route comparison, SGEMM ceiling).</summary>
    public int Rounds { get; private set; } = 6;
    /// <summary>Timed steps per leg and round (after the legs' warm-up).</summary>
    public int Steps { get; private set; } = 4;
    public int FitRounds { get; private set; } = 6;
    public int FitSteps { get; private set; } = 6;
    public int RssSteps { get; private set; } = 120;
    public int RssSize { get; private set; } = 256;
    public int InferRounds { get; private set; } = 5;
    public int InferCalls { get; private set; } = 3;
    public int RefRuns { get; private set; } = 2;
    public int RefSteps { get; private set; } = 5;
    public int SgemmSize { get; private set; } = 4096;
    /// <summary>a raw step vs SGEMM ceiling + route comparison, l layer breakdown, b Fit path, p Fit-path profile, c PyTorch reference, d RSS, e inference.</summary>
    public string Parts { get; private set; } = "albpcde";
    public string? Python { get; private set; }
    public string? ReferenceDir { get; private set; }
    /// <summary>
    /// Run the PyTorch reference in the environment as it is. Default: give it its best here, the same glibc malloc
    /// tuning this library applies to itself (as MALLOC_* variables) and OpenBLAS's own kernel choice
    /// (OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE removed); measured here that halves its CPU time per step.
    /// </summary>
    public bool RefPlainEnv { get; private set; }

    public static TrainOptions Parse(string[] args)
    {
        var o = new TrainOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            int Int() => int.Parse(Next(), NumberStyles.Integer, CultureInfo.InvariantCulture);
            switch (args[i])
            {
                case "--size": o.Size = Int(); break;
                case "--batch": o.Batch = Int(); break;
                case "--threads": o.Threads = Int(); break;
                case "--rounds": o.Rounds = Int(); break;
                case "--steps": o.Steps = Int(); break;
                case "--fit-rounds": o.FitRounds = Int(); break;
                case "--fit-steps": o.FitSteps = Int(); break;
                case "--rss-steps": o.RssSteps = Int(); break;
                case "--rss-size": o.RssSize = Int(); break;
                case "--infer-rounds": o.InferRounds = Int(); break;
                case "--infer-calls": o.InferCalls = Int(); break;
                case "--ref-runs": o.RefRuns = Int(); break;
                case "--ref-steps": o.RefSteps = Int(); break;
                case "--sgemm-size": o.SgemmSize = Int(); break;
                case "--parts": o.Parts = Next(); break;
                case "--python": o.Python = Next(); break;
                case "--reference": o.ReferenceDir = Next(); break;
                case "--ref-plain-env": o.RefPlainEnv = true; break;
                default:
                    throw new ArgumentException($"Unknown argument {args[i]}. train options: --size --batch --threads --rounds --steps --fit-rounds --fit-steps " +
                        "--rss-steps --rss-size --infer-rounds --infer-calls --ref-runs --ref-steps --sgemm-size --parts [albpcde] --python PATH --reference DIR --ref-plain-env");
            }
        }
        if (o.Size % 16 != 0 || o.RssSize % 16 != 0) throw new ArgumentException("--size and --rss-size must be multiples of 16 (U-Net depth 4).");
        if (o.Rounds < 1 || o.Steps < 1 || o.FitRounds < 1 || o.FitSteps < 4 || o.InferRounds < 1 || o.InferCalls < 1 || o.RssSteps < 20)
            throw new ArgumentException("--rounds, --steps, --infer-rounds, --infer-calls must be >= 1, --fit-steps >= 4, --rss-steps >= 20.");
        return o;
    }
}

/// <summary>
/// The trainer benchmarks (issues 4 and 10), all in one process run and interleaved (A, B, A, B, ...) so that load
/// changes on a shared machine hit every leg alike; medians are reported:
/// (a) raw training step (the library's UNet, Adam, BCE, one dispose scope per step) with the route this CPU gets
///     (TorchRuntime.ConvolutionRoute) against the old route (Native = libtorch's own choice), and against the SGEMM
///     ceiling measured by numpy/OpenBLAS with its own kernel choice (a Python child run in each round);
/// (b) the ML.NET Fit path per step (timed inside Fit through the Progress callback) against the raw step;
/// (p) a profile of the Fit path's step: the raw step plus, one at a time, the extra work SegmentationTrainer does;
/// (c) the PyTorch reference (torch_unet_step.py, same network, Debian's PyTorch) in the same run;
/// (d) RSS over a long Fit (per step, through the Progress callback) and the process peak;
/// (e) 512x512 inference: PredictionEngine, the model's PredictProbabilities and a raw forward, both routes.
/// </summary>
internal static class TrainingBenchmark
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private static readonly List<string> Summary = [];
    private static double _fastestRawStep = double.NaN, _rawStepCpu = double.NaN;

    public static int Run(string[] args)
    {
        TrainOptions o;
        try { o = TrainOptions.Parse(args); }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }
        TorchRuntimeStatus status = TorchRuntime.Configure(TorchRuntimeOptions.SmallCpu with { Threads = o.Threads }); // the documented numbers are with full tuning
        MachineInfo cpu = MachineInfo.Read();
        CpuConvolutionRoute detected = TorchRuntime.ConvolutionRoute;
        var net = new UNetOptions { Depth = 4, BaseWidth = 16 };
        double gflopPerImage = TrainingGflop(net, o.Size);
        string tag = cpu.Tag;

        long parameters;
        using (var probe = new UNet(net)) parameters = probe.ParameterCount;
        Console.WriteLine($"# trainer benchmark {DateTime.UtcNow:yyyy-MM-dd HH:mm}Z: U-Net depth 4 base 16 ({parameters / 1e6:0.00} M parameters), {o.Size}x{o.Size}, batch {o.Batch}, " +
            $"{status.Threads} libtorch threads; {gflopPerImage:0.00} GFLOP/image/step (analytic: forward x 3)");
        Console.WriteLine($"# cpu (lscpu): {cpu.Model}, family {cpu.Family}; avx512_core (f/bw/vl/dq): {(cpu.Avx512Core ? "yes" : "no")}; flags: {cpu.Avx512Flags}");
        Console.WriteLine($"# convolution route detected: {detected}; OMP_WAIT_POLICY={status.OmpWaitPolicy ?? "?"}; malloc tuned: {status.MallocTuned}; " +
            $"DNNL_MAX_CPU_ISA={Environment.GetEnvironmentVariable("DNNL_MAX_CPU_ISA") ?? "unset"}; TorchSharp {typeof(torch).Assembly.GetName().Version}; " +
            $"OPENBLAS_CORETYPE={Environment.GetEnvironmentVariable("OPENBLAS_CORETYPE") ?? "unset"}; load average {LoadAverage()}");

        var pyLog = new List<string>();
        PythonInfo? py = PythonLocator.Select(o.Python, pyLog);
        Console.WriteLine($"# python: {(py is null ? "none usable" : py.Describe)}{(o.Python is null ? " (default: first of /usr/bin/python3, python3 that imports numpy and torch)" : " (--python)")}");
        foreach (string l in pyLog) Console.WriteLine($"#   tried {l}");
        // Default: this project's copy of ../shared/reference/torch_unet_step.py (same loops, also prints CPU time).
        string? torchScript = o.ReferenceDir is null ? Path.Combine(AppContext.BaseDirectory, "reference", "torch_unet_step.py") : LocateReference(o.ReferenceDir, "torch_unet_step.py");
        string sgemmScript = Path.Combine(AppContext.BaseDirectory, "reference", "sgemm_ceiling.py");
        Console.WriteLine($"# references: {torchScript ?? "torch_unet_step.py not found (use --reference DIR)"}; {sgemmScript}");

        var refRuns = new List<RefResult>();
        void Reference(string when)
        {
            if (!o.Parts.Contains('c') || refRuns.Count >= o.RefRuns) return;
            if (py is not { HasTorch: true } || torchScript is null)
            {
                if (refRuns.Count == 0) Console.WriteLine($"(c) PyTorch reference: not available ({(py is null ? "no python" : torchScript is null ? "script not found" : py.Executable + " cannot import torch; apt-get install -y python3-torch")}) {tag}");
                refRuns.Add(RefResult.None);
                return;
            }
            var r = RunReference(py, torchScript, o);
            refRuns.Add(r ?? RefResult.None); // a failed run counts too, so the loop below ends
            Console.WriteLine($"    reference run {refRuns.Count} ({when}): " + (r is { } x ? $"train {x.Train:0.0} ms/step (cpu {x.CpuTrain:0}), infer 512x512 {x.Infer:0.0} ms (cpu {x.CpuInfer:0}) {tag}" : "failed"));
        }

        using (var ceilings = new LibTorchMm())
        {
            if (o.Parts.Contains('a'))
                Console.WriteLine($"libtorch mm float32 (in process, {status.Threads} threads): 2048x2048 {ceilings.Gflops(2048):0.0} GFLOP/s, 4096x4096 {ceilings.Gflops(4096):0.0} GFLOP/s {tag}");
        }
        if (o.Parts.Contains('a') && py is { HasNumpy: true })
        {
            var env = RunSgemm(py, sgemmScript, o, nativeKernels: false);
            Console.WriteLine($"numpy/OpenBLAS SGEMM {o.SgemmSize}^2 with the environment's OPENBLAS_* settings (context only): " + (env is null ? "failed" : env.Describe) + $" {tag}");
        }

        double rawMs = double.NaN, rawCpu = double.NaN;
        if (o.Parts.Contains('a'))
            (rawMs, rawCpu) = RawStepAndRoutes(net, o, py, sgemmScript, gflopPerImage, tag, Reference);
        if (o.Parts.Contains('l'))
            LayerBreakdown.Run(net, o.Size, o.Batch, 5, _fastestRawStep, _rawStepCpu, tag);
        if (o.Parts.Contains('b') || o.Parts.Contains('p'))
            FitPath(net, o, tag, Reference);
        if (o.Parts.Contains('d'))
            RssOverFit(net, o, tag);
        double rawInfer = double.NaN, rawInferCpu = double.NaN;
        if (o.Parts.Contains('e'))
            (rawInfer, rawInferCpu) = Inference(net, o, tag, Reference);
        while (o.Parts.Contains('c') && refRuns.Count < o.RefRuns) Reference("end");

        if (o.Parts.Contains('c'))
        {
            var trains = refRuns.Select(r => r.Train).ToList();
            var infers = refRuns.Select(r => r.Infer).ToList();
            double refTrain = Stats.Median(trains), refInfer = Stats.Median(infers);
            double refTrainCpu = Stats.Median(refRuns.Select(r => r.CpuTrain)), refInferCpu = Stats.Median(refRuns.Select(r => r.CpuInfer));
            if (double.IsFinite(refTrain))
            {
                Console.WriteLine($"(c) PyTorch reference ({py!.Torch}, {torchScript}, {refRuns.Count} runs in this process's run{(o.RefPlainEnv ? ", environment as is" : ", malloc tuned like ours, OpenBLAS's own kernels")}): " +
                    $"train {refTrain:0.0} ms/step (runs {Stats.Spread(trains, "0.0")}; cpu {refTrainCpu:0} ms), infer 512x512 {refInfer:0.0} ms (runs {Stats.Spread(infers, "0.0")}; cpu {refInferCpu:0} ms) {tag}");
                if (double.IsFinite(rawMs))
                {
                    Row($"raw training step vs PyTorch reference, wall", $"{rawMs:0.0} vs {refTrain:0.0} ms: ours {refTrain / rawMs:0.00}x faster", "reported", null, tag);
                    Row($"raw training step vs PyTorch reference, CPU time", $"{rawCpu:0} vs {refTrainCpu:0} CPU-ms: ours {refTrainCpu / rawCpu:0.00}x less", "reported", null, tag);
                }
                if (double.IsFinite(rawInfer))
                {
                    Row($"512x512 inference raw vs PyTorch reference, wall", $"{rawInfer:0.0} vs {refInfer:0.0} ms: ratio {rawInfer / refInfer:0.00}", "<= 1.00", rawInfer <= refInfer, tag);
                    Row($"512x512 inference raw vs PyTorch reference, CPU time", $"{rawInferCpu:0} vs {refInferCpu:0} CPU-ms: ratio {rawInferCpu / refInferCpu:0.00}", "<= 1.00", rawInferCpu <= refInferCpu, tag);
                }
            }
        }

        var (rssEnd, peak) = Memory.Read();
        Console.WriteLine($"process RSS at the end {rssEnd:0} MB, peak (VmHWM) {peak:0} MB; load average {LoadAverage()} {tag}");
        Console.WriteLine();
        Console.WriteLine($"## summary {tag} (medians of interleaved rounds)");
        foreach (string line in Summary) Console.WriteLine(line);
        return 0;
    }

    private static void Row(string what, string measured, string target, bool? met, string tag)
        => Summary.Add($"- {what}: {measured} (target {target}){(met is bool m ? m ? " MET" : " MISSED" : "")} {tag}");

    // ---------------------------------------------------------------------------------------------------------------
    // (a) raw training step: new route vs old route, and the SGEMM ceiling, interleaved

    private static (double RawMs, double RawCpuMs) RawStepAndRoutes(UNetOptions net, TrainOptions o, PythonInfo? py, string sgemmScript,
        double gflopPerImage, string tag, Action<string> reference)
    {
        CpuConvolutionRoute route = TorchRuntime.ConvolutionRoute;
        using var fresh = new RawTrainer(net, o.Size, o.Batch);
        using var old = new RawTrainer(net, o.Size, o.Batch);
        fresh.Block(3, route, RawVariant.Raw);
        old.Block(3, CpuConvolutionRoute.Native, RawVariant.Raw);
        fresh.Block(1, route, RawVariant.Raw);
        var newMs = new List<double>();
        var oldMs = new List<double>();
        var newCpu = new List<double>();
        var oldCpu = new List<double>();
        var cpuRatios = new List<double>();
        var ratios = new List<double>();
        var sgemm = new List<double>();
        var fractions = new List<double>();
        var cpuFractions = new List<double>();
        var sgemmCpu1 = new List<double>();
        string kernels = "";
        double stepGflop = gflopPerImage * o.Batch;
        Console.WriteLine($"(a) raw training step, {o.Rounds} rounds x {o.Steps} steps per leg, interleaved: {route} (this CPU's route) | Native (libtorch's own choice, the old route) | numpy SGEMM {o.SgemmSize}^2 (OpenBLAS's own kernels)");
        // The reference runs between rounds, spread over them; one run is kept for the inference part when it runs.
        int refHere = o.Parts.Contains('e') ? Math.Max(1, o.RefRuns - 1) : o.RefRuns, refDone = 0;
        for (int r = 0; r < o.Rounds; r++)
        {
            // Alternate which leg goes first, so neither always follows the Python child.
            BlockResult ra, rb;
            if (r % 2 == 0) { ra = fresh.Block(o.Steps, route, RawVariant.Raw); rb = old.Block(o.Steps, CpuConvolutionRoute.Native, RawVariant.Raw); }
            else { rb = old.Block(o.Steps, CpuConvolutionRoute.Native, RawVariant.Raw); ra = fresh.Block(o.Steps, route, RawVariant.Raw); }
            double a = ra.Median, b = rb.Median;
            newMs.Add(a);
            oldMs.Add(b);
            ratios.Add(a / b);
            newCpu.Add(ra.CpuMs);
            oldCpu.Add(rb.CpuMs);
            cpuRatios.Add(ra.CpuMs / rb.CpuMs);
            SgemmResult? s = py is { HasNumpy: true } ? RunSgemm(py, sgemmScript, o, nativeKernels: true) : null;
            if (s is not null)
            {
                sgemm.Add(s.Median);
                fractions.Add(stepGflop / (a / 1000) / s.Median);
                // Load-independent view: GFLOP per CPU-second of the step (both threads) against SGEMM's per CPU-second on one thread.
                cpuFractions.Add(stepGflop / (ra.CpuMs / 1000) / s.Cpu1);
                sgemmCpu1.Add(s.Cpu1);
                kernels = s.Describe;
            }
            Console.WriteLine($"    round {r + 1}: {route} {a:0.0} ms (cpu {ra.CpuMs:0}, {ra.Faults:0} faults), Native {b:0.0} ms (cpu {rb.CpuMs:0}, {rb.Faults:0} faults), ratio {a / b:0.000}; SGEMM {(s is null ? "n/a" : $"{s.Median:0.0} GFLOP/s ({s.Core})")}; " +
                $"non-finite losses so far: {route} {fresh.NonFinite}, Native {old.NonFinite} {tag}");
            if (refDone < refHere && r + 1 >= (refDone + 0.5) * o.Rounds / refHere) { refDone++; reference($"after raw round {r + 1}"); }
        }
        double rawMs = Stats.Median(newMs), oldMedian = Stats.Median(oldMs), ceiling = Stats.Median(sgemm);
        double achieved = stepGflop / (rawMs / 1000);
        Console.WriteLine($"(a) raw step {route}: {rawMs:0.0} ms (round medians {Stats.Spread(newMs)}) = {achieved:0.0} GFLOP/s; Native: {oldMedian:0.0} ms (round medians {Stats.Spread(oldMs)}) = {stepGflop / (oldMedian / 1000):0.0} GFLOP/s; " +
            $"new/old {Stats.Median(ratios):0.000} (median of per-round ratios, {Stats.Spread(ratios, "0.000")}); non-finite losses {route} {fresh.NonFinite}/{fresh.Steps}, Native {old.NonFinite}/{old.Steps} {tag}");
        Console.WriteLine($"(a) fastest round: {route} {newMs.Min():0.0} ms, Native {oldMs.Min():0.0} ms; process CPU per step (both threads): {route} {Stats.Median(newCpu):0} ms, Native {Stats.Median(oldCpu):0} ms, " +
            $"new/old {Stats.Median(cpuRatios):0.000} ({Stats.Spread(cpuRatios, "0.000")}) {tag}");
        if (sgemm.Count > 0)
        {
            Console.WriteLine($"(a) SGEMM ceiling (numpy, OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed for the child): {ceiling:0.0} GFLOP/s (rounds {Stats.Spread(sgemm, "0.0")}); {kernels} {tag}");
            Console.WriteLine($"(a) raw step / SGEMM ceiling: {Stats.Median(fractions):0.00} (median of per-round fractions, {Stats.Spread(fractions, "0.00")}); " +
                $"fastest round vs highest SGEMM of the run: {stepGflop / (newMs.Min() / 1000):0.0} / {sgemm.Max():0.0} = {stepGflop / (newMs.Min() / 1000) / sgemm.Max():0.00} {tag}");
            Console.WriteLine($"(a) per CPU-second (insensitive to how much CPU other processes leave us): step {stepGflop / (Stats.Median(newCpu) / 1000):0.0} GFLOP per CPU-s (both threads) vs SGEMM " +
                $"{Stats.Median(sgemmCpu1):0.0} GFLOP per CPU-s (one thread; x {o.Threads} = {o.Threads * Stats.Median(sgemmCpu1):0} GFLOP/s on dedicated cores): {Stats.Median(cpuFractions):0.00} " +
                $"(per-round {Stats.Spread(cpuFractions, "0.00")}); wall-clock equivalent on {o.Threads} dedicated cores, if both threads stayed busy: {stepGflop / (Stats.Median(newCpu) / 1000 / o.Threads):0} GFLOP/s = {Stats.Median(newCpu) / o.Threads:0} ms/step {tag}");
            Row($"raw training step / SGEMM ceiling, wall clock (paired per round)", $"{rawMs:0.0} ms = {achieved:0.0} GFLOP/s vs {ceiling:0.0} GFLOP/s: {Stats.Median(fractions):0.000}", ">= 0.50", Stats.Median(fractions) >= 0.5, tag);
            Row($"raw training step / SGEMM ceiling, per CPU-second", $"{stepGflop / (Stats.Median(newCpu) / 1000):0.0} vs {Stats.Median(sgemmCpu1):0.0} GFLOP per CPU-s: {Stats.Median(cpuFractions):0.000}", ">= 0.50", Stats.Median(cpuFractions) >= 0.5, tag);
        }
        else
        {
            Console.WriteLine($"(a) SGEMM ceiling: not available (no python with numpy) {tag}");
        }
        Row($"raw step, new route {route} / old route Native, wall", $"{rawMs:0.0} / {oldMedian:0.0} ms = {Stats.Median(ratios):0.000}", "<= 1.10", Stats.Median(ratios) <= 1.10, tag);
        Row($"raw step, new route {route} / old route Native, CPU time", $"{Stats.Median(newCpu):0} / {Stats.Median(oldCpu):0} CPU-ms = {Stats.Median(cpuRatios):0.000}", "<= 1.10", Stats.Median(cpuRatios) <= 1.10, tag);
        _fastestRawStep = newMs.Min();
        _rawStepCpu = Stats.Median(newCpu);
        return (rawMs, Stats.Median(newCpu));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // (b) Fit path vs raw step, and (p) what the Fit path's step does on top of the raw step

    private static void FitPath(UNetOptions net, TrainOptions o, string tag, Action<string> reference)
    {
        var ml = new MLContext(seed: 0);
        var data = SegmentationDataView.Create(ml, Items(o.Batch, o.Size, seed: 0));
        RawVariant[] variants = o.Parts.Contains('p')
            ? [RawVariant.Raw, RawVariant.FreshInput, RawVariant.LibraryLoss, RawVariant.FiniteCheck, RawVariant.Replica]
            : [RawVariant.Raw];
        CpuConvolutionRoute route = TorchRuntime.ConvolutionRoute;
        using var raw = new RawTrainer(net, o.Size, o.Batch);
        raw.Block(3, route, RawVariant.Raw);
        FitRun(ml, data, net, o.Batch, 4, recordRss: false); // warm-up
        var fitMs = new List<double>();
        var fixedMs = new List<double>();
        var firstMs = new List<double>();
        var tailMs = new List<double>();
        var legMs = variants.ToDictionary(v => v, _ => new List<double>());
        var ratio = variants.ToDictionary(v => v, _ => new List<double>());
        var fitRatio = new List<double>();
        var cpuRatio = new List<double>();
        Console.WriteLine($"(b) Fit path vs raw step, {o.FitRounds} rounds, interleaved: Fit with {o.FitSteps} steps (per-step times from the Progress callback, first {FitWarmupSteps(o.FitSteps)} steps dropped) | " +
            $"raw legs of {o.FitSteps} steps: {string.Join(", ", variants)}");
        int legs = variants.Length + 1; // leg 0 = Fit; the order rotates each round so no leg always follows the same one
        for (int r = 0; r < o.FitRounds; r++)
        {
            FitResult fit = null!;
            var blocks = new Dictionary<RawVariant, BlockResult>();
            var order = new List<string>();
            for (int k = 0; k < legs; k++)
            {
                int leg = (k + r) % legs;
                if (leg == 0) { fit = FitRun(ml, data, net, o.Batch, o.FitSteps, recordRss: false); order.Add("Fit"); }
                else { blocks[variants[leg - 1]] = raw.Block(o.FitSteps, route, variants[leg - 1]); order.Add(variants[leg - 1].ToString()); }
            }
            double fitStep = Stats.Median(fit.StepMs.Skip(FitWarmupSteps(o.FitSteps) - 1));
            fitMs.Add(fitStep);
            fixedMs.Add(fit.WallMs - o.FitSteps * fitStep);
            firstMs.Add(fit.FirstReportMs - fitStep);
            tailMs.Add(fit.AfterLastStepMs);
            var rawBlock = blocks[RawVariant.Raw];
            double rawStep = rawBlock.Median;
            cpuRatio.Add(fit.CpuMsPerStep / rawBlock.CpuMs);
            foreach (var v in variants)
            {
                legMs[v].Add(blocks[v].Median);
                ratio[v].Add(blocks[v].Median / rawStep);
            }
            fitRatio.Add(fitStep / rawStep);
            string line = string.Join(", ", variants.Select(v => $"{v} {blocks[v].Median:0.0} (cpu {blocks[v].CpuMs:0}, {blocks[v].Faults:0} faults)"));
            Console.WriteLine($"    round {r + 1} (order {string.Join(" ", order)}): Fit {fitStep:0.0} ms/step (cpu {fit.CpuMsPerStep:0}, {fit.FaultsPerStep:0} faults; Fit wall {fit.WallMs:0} ms, first report after {fit.FirstReportMs:0} ms, after the last step {fit.AfterLastStepMs:0} ms); {line} {tag}");
        }
        double fitMedian = Stats.Median(fitMs), rawMedian = Stats.Median(legMs[RawVariant.Raw]);
        double overhead = Stats.Median(fitRatio) - 1;
        Console.WriteLine($"(b) ML.NET Fit path: {fitMedian:0.0} ms/step vs raw {rawMedian:0.0} ms/step: overhead {100 * overhead:0.0}% (median of per-round ratios, " +
            $"{Stats.Spread(fitRatio.Select(x => 100 * (x - 1)).ToList(), "0.0")}%); fixed cost per Fit {Stats.Median(fixedMs):0} ms " +
            $"(Fit wall - steps x step; before the first step + its extra over a steady step: {Stats.Median(firstMs):0} ms: IDataView read, network setup, first-step warm-up; " +
            $"after the last step: {Stats.Median(tailMs):0} ms: decoding rule, weights into the state, transformer chain); process CPU per step Fit/raw {Stats.Median(cpuRatio):0.000} ({Stats.Spread(cpuRatio, "0.000")}) {tag}");
        Row("ML.NET Fit path per step vs raw step, wall", $"{fitMedian:0.0} vs {rawMedian:0.0} ms: {100 * overhead:+0.0;-0.0}%", "<= +5%", overhead <= 0.05, tag);
        Row("ML.NET Fit path per step vs raw step, CPU time", $"{100 * (Stats.Median(cpuRatio) - 1):+0.0;-0.0}%", "<= +5%", Stats.Median(cpuRatio) <= 1.05, tag);
        if (variants.Length > 1)
        {
            Console.WriteLine($"(p) pieces of SegmentationTrainer's step timed alone (30 each; median / min ms) {tag}");
            foreach (var (name, median, min) in raw.Components(30))
                Console.WriteLine($"    {median,8:0.00} / {min,8:0.00}  {name}");
            Console.WriteLine($"(p) Fit-path profile: per-step median of each leg and its ratio to Raw (median of per-round ratios) {tag}");
            foreach (var v in variants)
                Console.WriteLine($"    {v,-12} {Stats.Median(legMs[v]):0.0} ms  x{Stats.Median(ratio[v]):0.000}  ({RawTrainer.Explain(v)})");
            Console.WriteLine($"    {"Fit",-12} {fitMedian:0.0} ms  x{Stats.Median(fitRatio):0.000}  (UNetSegmentationTrainer.Fit, per step)");
        }
    }

    /// <summary>Steps at the start of a Fit left out of its per-step figures (a fresh network's first steps allocate and fault in memory).</summary>
    private static int FitWarmupSteps(int steps) => Math.Max(2, steps / 4);

    private sealed record FitResult(List<double> StepMs, double WallMs, double FirstReportMs, double AfterLastStepMs, List<double> RssMb, double CpuMsPerStep, double FaultsPerStep);

    private sealed class StepClock(bool recordRss) : IProgress<TrainingProgress>
    {
        public List<long> Stamps { get; } = [];
        public List<double> Cpu { get; } = [];
        public List<long> Faults { get; } = [];
        public List<double> Rss { get; } = [];
        public void Report(TrainingProgress value)
        {
            Stamps.Add(Stopwatch.GetTimestamp());
            Cpu.Add(CpuClock.ProcessMs());
            Faults.Add(CpuClock.MinorFaults());
            if (recordRss) Rss.Add(Memory.Read().Rss);
        }
    }

    private static FitResult FitRun(MLContext ml, IDataView data, UNetOptions net, int batch, int steps, bool recordRss)
    {
        var clock = new StepClock(recordRss);
        long start = Stopwatch.GetTimestamp();
        var trainer = ml.Segmentation().Trainers.UNet(new UNetSegmentationTrainerOptions
        {
            Decoding = SegmentationDecoding.Fixed,
            Progress = clock,
            Trainer = new SegmentationTrainerOptions { Network = net, MaxSteps = steps, BatchSize = batch, Augment = false, Optimizer = OptimizerKind.Adam },
        });
        using (trainer.Fit(data)) { }
        double wall = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        var ms = new List<double>();
        for (int i = 1; i < clock.Stamps.Count; i++) ms.Add(Stopwatch.GetElapsedTime(clock.Stamps[i - 1], clock.Stamps[i]).TotalMilliseconds);
        // CPU and page faults per step over the steps after the warm-up ones (the same steps as the wall-time median).
        int w = FitWarmupSteps(steps);
        double cpu = clock.Cpu.Count > w + 1 ? (clock.Cpu[^1] - clock.Cpu[w]) / (clock.Cpu.Count - 1 - w) : double.NaN;
        double faults = clock.Faults.Count > w + 1 ? (clock.Faults[^1] - clock.Faults[w]) / (double)(clock.Faults.Count - 1 - w) : double.NaN;
        return new FitResult(ms, wall, Stopwatch.GetElapsedTime(start, clock.Stamps[0]).TotalMilliseconds,
            wall - Stopwatch.GetElapsedTime(start, clock.Stamps[^1]).TotalMilliseconds, clock.Rss, cpu, faults);
    }

    private static List<SegmentationItem> Items(int count, int size, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(i => new SegmentationItem($"img{i}",
            Enumerable.Range(0, size * size).Select(_ => (float)rng.NextDouble()).ToArray(), 1, size, size,
            Enumerable.Range(0, size * size).Select(_ => (byte)(rng.NextDouble() > 0.8 ? 1 : 0)).ToArray())).ToList();
    }

    // ---------------------------------------------------------------------------------------------------------------
    // (d) RSS over a long Fit

    private static void RssOverFit(UNetOptions net, TrainOptions o, string tag)
    {
        var ml = new MLContext(seed: 0);
        var data = SegmentationDataView.Create(ml, Items(o.Batch, o.RssSize, seed: 2));
        var fit = FitRun(ml, data, net, o.Batch, o.RssSteps, recordRss: true);
        var rss = fit.RssMb;
        double afterWarmup = rss[Math.Min(9, rss.Count - 1)], end = rss[^1], max = rss.Max();
        // Least-squares slope over the second half, in MB per 100 steps.
        int from = rss.Count / 2;
        double mx = Enumerable.Range(from, rss.Count - from).Average(), my = rss.Skip(from).Average();
        double sxy = 0, sxx = 0;
        for (int i = from; i < rss.Count; i++) { sxy += (i - mx) * (rss[i] - my); sxx += (i - mx) * (i - mx); }
        double slope = 100 * sxy / sxx;
        var (_, peak) = Memory.Read();
        bool flat = Math.Abs(slope) < 5 && end - afterWarmup < 0.02 * afterWarmup;
        Console.WriteLine($"(d) RSS over one Fit of {o.RssSteps} steps at {o.RssSize}x{o.RssSize}, batch {o.Batch} ({Stats.Median(fit.StepMs.Skip(2)):0.0} ms/step): after step 10 {afterWarmup:0} MB, " +
            $"end {end:0} MB, max {max:0} MB; slope over the second half {slope:+0.0;-0.0} MB/100 steps; process peak so far (VmHWM) {peak:0} MB {tag}");
        Row($"RSS over {o.RssSteps} Fit steps ({o.RssSize}^2, batch {o.Batch})", $"{afterWarmup:0} -> {end:0} MB, max {max:0} MB, slope {slope:+0.0;-0.0} MB/100 steps, process peak {peak:0} MB",
            "flat: |slope| < 5 MB/100 steps and growth < 2%", flat, tag);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // (e) 512x512 inference

    private sealed class Img512
    {
        [VectorType(1, 512, 512)] public float[] Image { get; set; } = [];
    }

    private sealed class Out512
    {
        [VectorType] public float[] Probability { get; set; } = [];
    }

    private static (double RawMs, double RawCpuMs) Inference(UNetOptions net, TrainOptions o, string tag, Action<string> reference)
    {
        var ml = new MLContext(seed: 0);
        var items = Items(4, 512, seed: 1);
        var data = SegmentationDataView.Create(ml, items);
        using var model = ml.Segmentation().Trainers.UNet(new UNetSegmentationTrainerOptions
        {
            Decoding = SegmentationDecoding.Fixed,
            Trainer = new SegmentationTrainerOptions { Network = net, MaxSteps = 1, BatchSize = 1, Augment = false },
        }).Fit(data);
        var engine = ml.Model.CreatePredictionEngine<Img512, Out512>(model);
        var input = new Img512 { Image = items[0].Image };
        var trained = model.Model;
        // The row mapping predicts with a model deserialized from the saved state (TrainedSegmentationModel.FromBytes), not this one.
        using var reloaded = TrainedSegmentationModel.FromBytes(trained.ToBytes());
        var network = trained.Network;
        network.eval();
        using var x = tensor(items[0].Image, new long[] { 1, 1, 512, 512 });
        CpuConvolutionRoute route = TorchRuntime.ConvolutionRoute;
        void Raw()
        {
            using var mode = inference_mode();
            using var s = NewDisposeScope();
            network.forward(x).sigmoid().data<float>().ToArray();
        }
        var legs = new (string Name, CpuConvolutionRoute Route, Action Call)[]
        {
            ("PredictionEngine", route, () => engine.Predict(input)),
            ("PredictProbabilities", route, () => trained.PredictProbabilities(items[0].Image, 1, 512, 512)),
            ("PredictProbabilities, model from bytes", route, () => reloaded.PredictProbabilities(items[0].Image, 1, 512, 512)),
            ($"raw {route}", route, Raw),
            ("raw Native", CpuConvolutionRoute.Native, Raw),
        };
        var ms = legs.ToDictionary(l => l.Name, _ => new List<double>());
        var cpuMs = legs.ToDictionary(l => l.Name, _ => new List<double>());
        var faults = legs.ToDictionary(l => l.Name, _ => 0L);
        var engineRatio = new List<double>();
        var routeRatio = new List<double>();
        foreach (var leg in legs) { TorchRuntime.ConvolutionRoute = leg.Route; leg.Call(); leg.Call(); }
        Console.WriteLine($"(e) 512x512 inference, batch 1, {o.InferRounds} rounds x {o.InferCalls} calls per leg, interleaved: {string.Join(" | ", legs.Select(l => l.Name))}");
        var engineCpuRatio = new List<double>();
        for (int r = 0; r < o.InferRounds; r++)
        {
            // The order rotates each round, so no leg always runs first (after the reference child or another layout).
            foreach (var leg in legs.Skip(r % legs.Length).Concat(legs.Take(r % legs.Length)))
            {
                TorchRuntime.ConvolutionRoute = leg.Route;
                var t = new List<double>();
                double cpu0 = CpuClock.ProcessMs();
                long f0 = CpuClock.MinorFaults();
                for (int i = 0; i < o.InferCalls; i++)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    leg.Call();
                    t.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                }
                cpuMs[leg.Name].Add((CpuClock.ProcessMs() - cpu0) / o.InferCalls);
                faults[leg.Name] += CpuClock.MinorFaults() - f0;
                ms[leg.Name].Add(Stats.Median(t));
            }
            TorchRuntime.ConvolutionRoute = route;
            engineRatio.Add(ms["PredictionEngine"][^1] / ms[$"raw {route}"][^1]);
            engineCpuRatio.Add(cpuMs["PredictionEngine"][^1] / cpuMs[$"raw {route}"][^1]);
            routeRatio.Add(ms[$"raw {route}"][^1] / ms["raw Native"][^1]);
            Console.WriteLine($"    round {r + 1}: {string.Join(", ", legs.Select(l => $"{l.Name} {ms[l.Name][^1]:0.0}"))} ms {tag}");
            if (r == 0) reference("after inference round 1");
        }
        TorchRuntime.ConvolutionRoute = route;

        // What the ML.NET row mapping adds per row: the saved state (weights) travels in a column and is checked by SHA-256.
        byte[] weights = trained.ToBytes();
        double sha = MedianOf(5, () => SHA256.HashData(weights));
        double copy = MedianOf(5, () => weights.AsSpan().ToArray());

        double raw = Stats.Median(ms[$"raw {route}"]), eng = Stats.Median(ms["PredictionEngine"]), direct = Stats.Median(ms["PredictProbabilities"]);
        Console.WriteLine($"(e) 512x512 inference: PredictionEngine {eng:0.0} ms, PredictProbabilities {direct:0.0} ms, raw {route} {raw:0.0} ms, raw Native {Stats.Median(ms["raw Native"]):0.0} ms; " +
            $"engine/raw {Stats.Median(engineRatio):0.000} ({Stats.Spread(engineRatio, "0.000")}), {route}/Native {Stats.Median(routeRatio):0.000} {tag}");
        Console.WriteLine($"    process CPU per call: {string.Join(", ", legs.Select(l => $"{l.Name} {Stats.Median(cpuMs[l.Name]):0}"))} ms {tag}");
        Console.WriteLine($"    minor page faults per call: {string.Join(", ", legs.Select(l => $"{l.Name} {faults[l.Name] / (double)(o.InferRounds * o.InferCalls):0}"))}");
        Console.WriteLine($"    per-row state cost estimate: weights {weights.Length / 1048576.0:0.0} MB, SHA-256 {sha:0.00} ms, one copy {copy:0.00} ms");
        Console.WriteLine($"    the library's ML.NET chain shape without a network (MappingOverhead; {o.InferRounds} rounds x {o.InferCalls} calls; median wall / CPU ms per call, page faults per call) {tag}:");
        foreach (var (name, wall, cpu, pf) in MappingOverhead.Measure(weights, items[0].Image, o.InferRounds, o.InferCalls))
            Console.WriteLine($"      {wall,7:0.00} / {cpu,7:0.00} ms, {pf,6:0} faults  {name}");
        Row("PredictionEngine per 512x512 image vs raw forward", $"{eng:0.0} vs {raw:0.0} ms: {Stats.Median(engineRatio):0.000}", "<= 1.10", Stats.Median(engineRatio) <= 1.10, tag);
        double engCpu = Stats.Median(cpuMs["PredictionEngine"]), rawCpu = Stats.Median(cpuMs[$"raw {route}"]), nativeCpu = Stats.Median(cpuMs["raw Native"]);
        Row("PredictionEngine per 512x512 image vs raw forward, CPU time", $"{engCpu:0} vs {rawCpu:0} CPU-ms: {Stats.Median(engineCpuRatio):0.000} (median of per-round ratios, {Stats.Spread(engineCpuRatio, "0.000")})", "<= 1.10", Stats.Median(engineCpuRatio) <= 1.10, tag);
        Row($"512x512 inference, route {route} / Native", $"wall {raw:0.0} / {Stats.Median(ms["raw Native"]):0.0} ms = {Stats.Median(routeRatio):0.000}; CPU {rawCpu:0} / {nativeCpu:0} ms = {rawCpu / nativeCpu:0.000}", "reported", null, tag);
        return (raw, Stats.Median(cpuMs[$"raw {route}"]));
    }

    private static double MedianOf(int n, Action a)
    {
        a();
        var t = new List<double>();
        for (int i = 0; i < n; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            a();
            t.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        }
        return Stats.Median(t);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Python children

    private sealed record SgemmResult(double Median, double Best, double Cpu1, string Core, string Threads, string CheckErr, string Lib)
    {
        public string Describe => $"{Median:0.0} GFLOP/s median (best {Best:0.0}) on {Threads} threads; {Cpu1:0.0} GFLOP per CPU-second on 1 thread; OpenBLAS core {Core}; max error {CheckErr} (x |a_i||b_j|); {Lib}";
    }

    private static SgemmResult? RunSgemm(PythonInfo py, string script, TrainOptions o, bool nativeKernels)
    {
        var env = new Dictionary<string, string?> { ["OPENBLAS_NUM_THREADS"] = o.Threads.ToString(Inv) };
        if (nativeKernels) { env["OPENBLAS_CORETYPE"] = null; env["OPENBLAS_L2_SIZE"] = null; }
        var (code, output, err) = ChildProcess.Run(py.Executable, [script, o.SgemmSize.ToString(Inv), "5"], env, TimeSpan.FromMinutes(5));
        string? line = output.Split('\n').FirstOrDefault(l => l.StartsWith("sgemm ", StringComparison.Ordinal));
        if (code != 0 || line is null)
        {
            Console.WriteLine($"    SGEMM child failed (exit {code}): {err.Trim().Split('\n').LastOrDefault()}");
            return null;
        }
        var f = ChildProcess.Fields(line);
        return new SgemmResult(ChildProcess.Num(f["gflops_median"]), ChildProcess.Num(f["gflops_best"]), ChildProcess.Num(f["cpu1_gflops"]), f["core"], f["threads"], f["check_max_err"], f["lib"]);
    }

    private sealed record RefResult(double Train, double Infer, double CpuTrain, double CpuInfer)
    {
        public static readonly RefResult None = new(double.NaN, double.NaN, double.NaN, double.NaN);
    }

    private static RefResult? RunReference(PythonInfo py, string script, TrainOptions o)
    {
        var env = new Dictionary<string, string?> { ["OMP_WAIT_POLICY"] = "PASSIVE" };
        if (!o.RefPlainEnv)
        {
            env["OPENBLAS_CORETYPE"] = null;
            env["OPENBLAS_L2_SIZE"] = null;
            env["MALLOC_MMAP_THRESHOLD_"] = TorchRuntime.MmapThreshold.ToString(Inv);
            env["MALLOC_TRIM_THRESHOLD_"] = "4294967296";
            env["MALLOC_TOP_PAD_"] = TorchRuntime.TopPad.ToString(Inv);
        }
        var (code, output, err) = ChildProcess.Run(py.Executable,
            [script, "16", o.Size.ToString(Inv), o.Batch.ToString(Inv), o.RefSteps.ToString(Inv)], env, TimeSpan.FromMinutes(10));
        var m = System.Text.RegularExpressions.Regex.Match(output, @"train ([0-9.]+) ms/step.*infer 512x512 ([0-9.]+) ms");
        if (code != 0 || !m.Success)
        {
            Console.WriteLine($"    reference failed (exit {code}): {err.Trim().Split('\n').LastOrDefault()}");
            return null;
        }
        var cpu = System.Text.RegularExpressions.Regex.Match(output, @"cpu train ([0-9.]+) ms/step, cpu infer ([0-9.]+) ms");
        return new RefResult(double.Parse(m.Groups[1].Value, Inv), double.Parse(m.Groups[2].Value, Inv),
            cpu.Success ? double.Parse(cpu.Groups[1].Value, Inv) : double.NaN, cpu.Success ? double.Parse(cpu.Groups[2].Value, Inv) : double.NaN);
    }

    private static string? LocateReference(string? dir, string name)
    {
        if (dir is not null) return File.Exists(Path.Combine(dir, name)) ? Path.GetFullPath(Path.Combine(dir, name)) : null;
        string? kernels = ReferenceRunner.Locate(null);
        string? p = kernels is null ? null : Path.Combine(Path.GetDirectoryName(kernels)!, name);
        return p is not null && File.Exists(p) ? p : null;
    }

    private static string LoadAverage()
        => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";

    // ---------------------------------------------------------------------------------------------------------------

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

    /// <summary>libtorch's own float32 matrix product, in process (what the routed 1x1 and transposed convolutions use).</summary>
    private sealed class LibTorchMm : IDisposable
    {
        public double Gflops(int n)
        {
            using var a = randn(n, n);
            using var b = randn(n, n);
            using (var w = a.mm(b)) { }
            var t = new List<double>();
            for (int i = 0; i < 3; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                using (var c = a.mm(b)) { }
                t.Add(Stopwatch.GetElapsedTime(t0).TotalSeconds);
            }
            return 2.0 * Math.Pow(n, 3) / Stats.Median(t) / 1e9;
        }

        public void Dispose() { }
    }
}

/// <summary>Per-step wall times of a block of steps and the process CPU time per step (all threads), in ms.</summary>
internal sealed record BlockResult(List<double> Ms, double CpuMs, double Faults)
{
    public double Median => Stats.Median(Ms);
}

/// <summary>What a raw training step does besides forward, BCE, backward and Adam (see <see cref="RawTrainer.Explain"/>).</summary>
[Flags]
internal enum RawVariant
{
    Raw = 0,
    FreshInput = 1,
    LibraryLoss = 2,
    FiniteCheck = 4,
    Replica = FreshInput | LibraryLoss | FiniteCheck,
}

/// <summary>A raw TorchSharp training loop on the library's UNet; keeps its own model and optimizer.</summary>
internal sealed class RawTrainer : IDisposable
{
    private readonly UNet _model;
    private optim.Optimizer _opt;
    private readonly Dictionary<string, Tensor> _initial;
    private readonly Tensor _x, _y, _mask;
    private readonly float[] _xs;
    private readonly byte[] _ms;
    private readonly long _n, _h, _w;
    private bool _lastFinite = true;

    public int NonFinite { get; private set; }
    public int Steps { get; private set; }

    public RawTrainer(UNetOptions o, int size, int batch)
    {
        manual_seed(0);
        _model = new UNet(o);
        _opt = optim.Adam(_model.parameters(), 1e-3);
        using (no_grad())
            _initial = _model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());
        _n = batch; _h = size; _w = size;
        _x = randn(batch, 1, size, size);
        _mask = (rand(batch, size, size) > 0.8).to_type(ScalarType.Byte);
        _y = _mask.unsqueeze(1).to_type(ScalarType.Float32);
        _xs = _x.data<float>().ToArray();
        _ms = _mask.data<byte>().ToArray();
    }

    public static string Explain(RawVariant v) => v switch
    {
        RawVariant.Raw => "forward, F.binary_cross_entropy_with_logits, backward, Adam; one dispose scope; same input tensors every step",
        RawVariant.FreshInput => "+ input and mask tensors built from managed arrays each step, float target from the byte mask",
        RawVariant.LibraryLoss => "+ SegmentationLoss.Compute(Bce) on the byte mask instead of F.binary_cross_entropy_with_logits",
        RawVariant.FiniteCheck => "+ the gradient check SegmentationTrainer runs before optimizer.step (sum per parameter, stack, isfinite, item)",
        RawVariant.Replica => "all three: what SegmentationTrainer's step does, without the ML.NET wrapper",
        _ => v.ToString(),
    };

    /// <summary>Runs <paramref name="steps"/> steps on <paramref name="route"/>: each step's wall time and the process CPU time per step, in ms.</summary>
    public BlockResult Block(int steps, CpuConvolutionRoute route, RawVariant variant)
    {
        var saved = TorchRuntime.ConvolutionRoute;
        TorchRuntime.ConvolutionRoute = route;
        try
        {
            if (!_lastFinite) Reset(); // the old route can go NaN here; restart from the initial weights so it times finite numbers
            var ms = new List<double>(steps);
            double cpu0 = CpuClock.ProcessMs();
            long f0 = CpuClock.MinorFaults();
            for (int i = 0; i < steps; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                _lastFinite = Step(variant);
                ms.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                Steps++;
                if (!_lastFinite) NonFinite++;
            }
            return new BlockResult(ms, (CpuClock.ProcessMs() - cpu0) / steps, (CpuClock.MinorFaults() - f0) / (double)steps);
        }
        finally
        {
            TorchRuntime.ConvolutionRoute = saved;
        }
    }

    private bool Step(RawVariant v)
    {
        using var scope = NewDisposeScope();
        bool fresh = (v & RawVariant.FreshInput) != 0;
        Tensor x = fresh ? tensor(_xs, new[] { _n, 1, _h, _w }) : _x;
        Tensor m = fresh ? tensor(_ms, new[] { _n, _h, _w }) : _mask;
        _opt.zero_grad();
        Tensor logits = _model.forward(x);
        Tensor loss = (v & RawVariant.LibraryLoss) != 0
            ? SegmentationLoss.Compute(LossKind.Bce, logits, m)
            : nn.functional.binary_cross_entropy_with_logits(logits, fresh ? m.unsqueeze(1).to_type(ScalarType.Float32) : _y);
        float value = loss.item<float>();
        loss.backward();
        bool gradsFinite = (v & RawVariant.FiniteCheck) == 0 || GradientsFinite();
        _opt.step();
        return float.IsFinite(value) && gradsFinite;
    }

    /// <summary>The same work as SegmentationTrainer.ThrowIfGradientsNotFinite on the all-finite path.</summary>
    private bool GradientsFinite()
    {
        var named = _model.named_parameters().Where(p => p.parameter.grad is not null).ToList();
        using var scope = NewDisposeScope();
        Tensor sums = stack(named.Select(p => p.parameter.grad!.sum()).ToArray());
        return sums.isfinite().all().item<bool>();
    }

    /// <summary>
    /// The pieces SegmentationTrainer adds to a step, timed alone (<paramref name="reps"/> times each, after one
    /// warm-up): median and minimum in ms. The gradient check runs on this trainer's gradients of its last step.
    /// </summary>
    public List<(string Name, double Median, double Min)> Components(int reps)
    {
        Step(RawVariant.Raw); // gradients for the check
        using var leaf = randn(_n, 1, _h, _w).requires_grad_(true);
        var parts = new (string, Action)[]
        {
            ("input + mask tensors from managed arrays (FreshInput)", () =>
            {
                using var s = NewDisposeScope();
                tensor(_xs, new[] { _n, 1, _h, _w }).sum();
                tensor(_ms, new[] { _n, _h, _w }).unsqueeze(1).to_type(ScalarType.Float32).sum();
            }),
            ("F.binary_cross_entropy_with_logits forward + backward (Raw's loss)", () =>
            {
                using var s = NewDisposeScope();
                nn.functional.binary_cross_entropy_with_logits(leaf, _y).backward();
                leaf.grad?.zero_();
            }),
            ("SegmentationLoss.Compute(Bce) forward + backward (LibraryLoss)", () =>
            {
                using var s = NewDisposeScope();
                SegmentationLoss.Compute(LossKind.Bce, leaf, _mask).backward();
                leaf.grad?.zero_();
            }),
            ("loss.item() read back", () =>
            {
                using var s = NewDisposeScope();
                leaf.sum().item<float>();
            }),
            ("gradient check: sum per parameter, stack, isfinite, item (FiniteCheck)", () => GradientsFinite()),
            ("Adam step (in both)", () => _opt.step()),
        };
        var result = new List<(string, double, double)>();
        foreach (var (name, action) in parts)
        {
            action();
            var t = new List<double>(reps);
            for (int i = 0; i < reps; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                action();
                t.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            }
            result.Add((name, Stats.Median(t), t.Min()));
        }
        return result;
    }

    private void Reset()
    {
        using (no_grad())
            foreach (var (name, t) in _model.state_dict())
                t.copy_(_initial[name]);
        _opt.Dispose();
        _opt = optim.Adam(_model.parameters(), 1e-3);
        _lastFinite = true;
    }

    public void Dispose()
    {
        _opt.Dispose();
        _model.Dispose();
        foreach (var t in _initial.Values) t.Dispose();
        _x.Dispose();
        _y.Dispose();
        _mask.Dispose();
    }
}
