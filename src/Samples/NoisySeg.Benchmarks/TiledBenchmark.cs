using System.Diagnostics;
using System.Globalization;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Networks;
using MLNet.NoisySeg.Torch;
using MLNet.NoisySeg.Training;

namespace NoisySeg.Benchmarks;

/// <summary>
/// Large-image prediction (issue 13): a 2048 x 2048 EM image (a 4 x 4 mosaic of ISBI 2012 test slices, z-scored as one
/// image) predicted whole and by tiles with the default U-Net (Depth 4, BaseWidth 16) briefly trained on ISBI: wall
/// time, peak RSS of each leg (VmHWM, reset between legs through /proc/self/clear_refs), and the difference to the
/// whole-image probabilities. Tile legs run before the whole-image leg (whose resident set would raise later peaks),
/// except the test-time-augmentation leg, which is timed last.
///   dotnet run -c Release -- tiles [--size 2048] [--steps 30] [--threads 2] [--datasets DIR] [--no-tta]
/// </summary>
internal static class TiledBenchmark
{
    public static int Run(string[] args)
    {
        int size = Arg(args, "--size", 2048), steps = Arg(args, "--steps", 30), threads = Arg(args, "--threads", 2);
        string datasets = ArgS(args, "--datasets") ?? Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "datasets");
        string isbi = Path.Combine(datasets, "isbi2012_em_membrane");
        var machine = MachineInfo.Read();
        TorchRuntime.Configure(new TorchRuntimeOptions { Threads = threads });
        Console.WriteLine($"machine: {machine.Tag}; threads {threads}");

        var folder = SegmentationFolderOptions.BinaryMasks(0) with { Width = 256, Height = 256 };
        var train = SegmentationFolderLoader.Load(Path.Combine(isbi, "train"), folder);
        var sw = Stopwatch.StartNew();
        using var model = SegmentationTrainer.Train(train, new SegmentationTrainerOptions
        {
            Network = new UNetOptions(), MaxSteps = steps, BatchSize = 4, LearningRate = 1e-3, Optimizer = OptimizerKind.Adam, Seed = 1, Threads = threads,
        });
        Console.WriteLine($"trained {steps} steps on {train.Count} ISBI slices at 256x256 in {sw.Elapsed.TotalSeconds:0.0} s; receptive-field radius {model.Options.Network.ReceptiveFieldRadius}");

        var image = Mosaic(SegmentationFolderLoader.Load(Path.Combine(isbi, "test"), SegmentationFolderOptions.BinaryMasks(0) with { ZScore = false }), size);
        var (rss0, _) = Memory.Read();
        Console.WriteLine($"image {size}x{size}; RSS before prediction {rss0:0} MiB");

        var legs = new (string Name, SegmentationPredictionOptions Options)[]
        {
            ("tiles 512, overlap 0.5, center", new() { TileSize = 512, TileOverlap = 0.5, Blending = TileBlending.Center }),
            ("tiles 512, overlap 0.25, gaussian", new() { TileSize = 512, Blending = TileBlending.Gaussian }),
            ("whole image", SegmentationPredictionOptions.WholeImage),
            // Last: its peak RSS is read after the whole-image leg raised the process's resident set (time only).
            ("tiles 512, overlap 0.25, gaussian, flips TTA", new() { TileSize = 512, Blending = TileBlending.Gaussian, TestTimeAugmentation = TestTimeAugmentation.Flips }),
        };
        if (args.Contains("--no-tta")) legs = legs.Where(l => l.Options.TestTimeAugmentation == TestTimeAugmentation.None).ToArray();
        var results = new List<(string Name, float[] P)>();
        foreach (var (name, options) in legs)
        {
            ResetPeak();
            var t = Stopwatch.StartNew();
            var p = model.PredictProbabilities(image, 1, size, size, options);
            t.Stop();
            var (rss, peak) = Memory.Read();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-46} {t.Elapsed.TotalSeconds,7:0.0} s  peak RSS {peak,6:0} MiB (after: {rss:0} MiB)"));
            Console.Out.Flush();
            results.Add((name, p));
            GC.Collect();
        }
        var whole = results.Single(r => r.Name == "whole image").P;
        foreach (var (name, p) in results.Where(r => r.Name != "whole image"))
        {
            double max = 0, sum = 0;
            long flips = 0;
            for (int i = 0; i < p.Length; i++)
            {
                double d = Math.Abs(p[i] - whole[i]);
                max = Math.Max(max, d);
                sum += d;
                if (p[i] > 0.5f != whole[i] > 0.5f) flips++;
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name,-46} vs whole: max |dp| {max:E2}, mean |dp| {sum / p.Length:E2}, pixels whose 0.5-threshold label differs {flips} of {p.Length}"));
        }
        return 0;
    }

    /// <summary>A size x size mosaic of the slices (repeated as needed), z-scored as one image.</summary>
    private static float[] Mosaic(IReadOnlyList<SegmentationItem> slices, int size)
    {
        var image = new float[size * size];
        int s = slices[0].Height, k = 0;
        for (int y0 = 0; y0 < size; y0 += s)
            for (int x0 = 0; x0 < size; x0 += s, k++)
            {
                var slice = slices[k % slices.Count];
                for (int y = 0; y < s && y0 + y < size; y++)
                    for (int x = 0; x < s && x0 + x < size; x++)
                        image[(y0 + y) * size + x0 + x] = slice.Image[y * s + x];
            }
        double mean = image.Average(), sd = Math.Sqrt(image.Select(v => (v - mean) * (v - mean)).Average());
        for (int i = 0; i < image.Length; i++) image[i] = (float)((image[i] - mean) / Math.Max(sd, 1e-6));
        return image;
    }

    /// <summary>Resets VmHWM to the current RSS (Linux 4.0+: writing 5 to clear_refs).</summary>
    private static void ResetPeak()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private static int Arg(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    private static string? ArgS(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
