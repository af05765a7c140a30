// Kernel benchmark: times the label-noise, morphology and density kernels on blob masks built like
// ../shared/reference/kernels_ref.py (Gaussian-filtered uniform noise > 0.52, about 16% foreground) and,
// when /usr/bin/python3 has SciPy and scikit-image, runs that NumPy/SciPy/scikit-image reference in the
// same run and prints a speed-up table (reference ms / our ms; the project's target is >= 3x).
//
// Usage: NoisySeg.Benchmarks kernels [--sizes 512,2048] [--repeats 7] [--reference <dir-or-file>] [--no-reference]
// Output, one line per op and size (median of the repeats after a warm-up of up to 60 runs / 400 ms):
//   op=sample_0.1 size=512 ms=0.15 mpx_s=1726.9
using System.Globalization;

namespace NoisySeg.Benchmarks;

/// <summary>The kernels benchmark (see the file header).</summary>
internal static class KernelBenchmark
{
    public static int Run(string[] args)
    {
        BenchmarkOptions options;
        try
        {
            options = BenchmarkOptions.Parse(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine("Usage: NoisySeg.Benchmarks kernels [--sizes 512,2048] [--repeats 7] [--reference <dir-or-file>] [--no-reference]");
            return 2;
        }
        Console.WriteLine($"# NoisySeg.Benchmarks  cores={Environment.ProcessorCount}  repeats={options.Repeats}  {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}");

        var ours = new List<Timing>();
        foreach (int size in options.Sizes)
        {
            byte[] mask = BenchmarkMasks.Blobs(size, seed: 0);
            double fg = mask.Count(v => v == 1) / (double)mask.Length;
            Console.WriteLine($"# mask {size}x{size}: foreground {fg.ToString("P1", CultureInfo.InvariantCulture)}");
            foreach (var op in BenchmarkOps.All(mask, size))
            {
                double ms = Stopwatches.MedianMs(op.Run, options.Repeats);
                var t = new Timing(op.Name, size, ms);
                ours.Add(t);
                Console.WriteLine(t.Line);
            }
        }

        if (options.SkipReference)
            return 0;
        string? script = ReferenceRunner.Locate(options.ReferencePath);
        if (script is null)
        {
            Console.WriteLine("# reference: kernels_ref.py not found (pass --reference <dir>); skipping the comparison.");
            return 0;
        }
        if (!ReferenceRunner.PythonReady(out string why))
        {
            Console.WriteLine($"# reference: {why}; skipping the comparison (apt-get install -y python3-scipy python3-skimage).");
            return 0;
        }
        var reference = new List<Timing>();
        foreach (int size in options.Sizes)
        {
            Console.WriteLine($"# reference: {ReferenceRunner.Python} {script} {size} {ReferenceRunner.Repeats}");
            foreach (var t in ReferenceRunner.Run(script, size))
            {
                reference.Add(t);
                Console.WriteLine("ref " + t.Line);
            }
        }
        Console.WriteLine();
        Console.WriteLine("speed-up = reference ms / ours ms (target >= 3x)");
        Console.WriteLine($"{"op",-18} {"size",5} {"ours ms",10} {"ref ms",10} {"speed-up",9}");
        foreach (var o in ours)
        {
            var r = reference.FirstOrDefault(x => x.Op == o.Op && x.Size == o.Size);
            string refMs = r is null ? "-" : r.Ms.ToString("F2", CultureInfo.InvariantCulture);
            string ratio = r is null ? "-" : (r.Ms / o.Ms).ToString("F1", CultureInfo.InvariantCulture) + "x" + (r.Ms / o.Ms < 3 ? " <3x" : "");
            Console.WriteLine($"{o.Op,-18} {o.Size,5} {o.Ms.ToString("F2", CultureInfo.InvariantCulture),10} {refMs,10} {ratio,9}");
        }
        return 0;
    }
}
