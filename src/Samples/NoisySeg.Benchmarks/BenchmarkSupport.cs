using System.Diagnostics;
using System.Globalization;
using MLNet.NoisySeg.Core;

namespace NoisySeg.Benchmarks;

/// <summary>One measured median.</summary>
internal sealed record Timing(string Op, int Size, double Ms)
{
    public string Line => FormattableString.Invariant(
        $"op={Op} size={Size} ms={Ms:F2} mpx_s={(double)Size * Size / 1e6 / (Ms / 1000):F1}");
}

/// <summary>Command-line options.</summary>
internal sealed class BenchmarkOptions
{
    public int[] Sizes { get; private set; } = [512, 2048];
    public int Repeats { get; private set; } = 7;
    public string? ReferencePath { get; private set; }
    public bool SkipReference { get; private set; }

    public static BenchmarkOptions Parse(string[] args)
    {
        var o = new BenchmarkOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--sizes": o.Sizes = Next().Split(',').Select(Int).ToArray(); break;
                case "--repeats": o.Repeats = Int(Next()); break;
                case "--reference": o.ReferencePath = Next(); break;
                case "--no-reference": o.SkipReference = true; break;
                default: throw new ArgumentException($"Unknown argument {args[i]}; use --sizes, --repeats, --reference, --no-reference.");
            }
        }
        static int Int(string text) => int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v)
            ? v : throw new ArgumentException($"'{text}' is not an integer.");
        if (o.Repeats < 1 || o.Sizes.Any(s => s < 16))
            throw new ArgumentOutOfRangeException(nameof(args), "--repeats must be >= 1 and every size >= 16.");
        return o;
    }
}

internal static class Stopwatches
{
    /// <summary>Median wall time of <paramref name="repeats"/> runs after the warm-up.</summary>
    /// <remarks>Warm-up: at least two runs, then more until 60 runs or 400 ms. Fast kernels need about 30 calls
    /// (and the tiering delay) before the JIT swaps in optimised code; two runs timed them at tier 0.</remarks>
    public static double MedianMs(Action run, int repeats)
    {
        long w0 = Stopwatch.GetTimestamp();
        for (int calls = 0; calls < 2 || (calls < 60 && Stopwatch.GetElapsedTime(w0).TotalMilliseconds < 400); calls++)
            run();
        var xs = new double[repeats];
        for (int i = 0; i < repeats; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            run();
            xs[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }
        Array.Sort(xs);
        return xs[repeats / 2];
    }
}

/// <summary>Masks built like the reference: uniform noise, Gaussian filter (sigma 4, truncate 4, reflect), > 0.52.</summary>
internal static class BenchmarkMasks
{
    public static byte[] Blobs(int size, int seed)
    {
        var rng = new SeededRandom((ulong)seed);
        var f = new float[size * size];
        for (int i = 0; i < f.Length; i++) f[i] = (float)rng.NextDouble();
        const double sigma = 4;
        int r = (int)(4 * sigma + 0.5);
        var k = new float[2 * r + 1];
        double sum = 0;
        for (int i = -r; i <= r; i++) sum += k[i + r] = (float)Math.Exp(-0.5 * i * i / (sigma * sigma));
        for (int i = 0; i < k.Length; i++) k[i] /= (float)sum;
        var tmp = new float[f.Length];
        Parallel.For(0, size, y => // horizontal pass
        {
            for (int x = 0; x < size; x++)
            {
                float s = 0;
                for (int d = -r; d <= r; d++) s += k[d + r] * f[y * size + Reflect(x + d, size)];
                tmp[y * size + x] = s;
            }
        });
        var mask = new byte[f.Length];
        Parallel.For(0, size, y => // vertical pass + threshold
        {
            for (int x = 0; x < size; x++)
            {
                float s = 0;
                for (int d = -r; d <= r; d++) s += k[d + r] * tmp[Reflect(y + d, size) * size + x];
                mask[y * size + x] = s > 0.52f ? (byte)1 : (byte)0;
            }
        });
        return mask;
    }

    /// <summary>scipy.ndimage 'reflect' (d c b a | a b c d | d c b a).</summary>
    private static int Reflect(int i, int n)
    {
        while (i < 0 || i >= n) i = i < 0 ? -i - 1 : 2 * n - i - 1;
        return i;
    }
}

/// <summary>Runs ../shared/reference/kernels_ref.py with Debian's python3 and parses its op= lines.</summary>
internal static class ReferenceRunner
{
    public const string Python = "/usr/bin/python3";
    public const int Repeats = 5;

    /// <summary>The script from --reference (a file or a folder), else ../shared/reference beside the repository root.</summary>
    public static string? Locate(string? given)
    {
        if (given is not null)
        {
            string p = Directory.Exists(given) ? Path.Combine(given, "kernels_ref.py") : given;
            return File.Exists(p) ? Path.GetFullPath(p) : null;
        }
        foreach (string start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                bool isRoot = Directory.Exists(Path.Combine(dir.FullName, ".git")) || Directory.Exists(Path.Combine(dir.FullName, "src", "MLNet.NoisySeg"));
                if (!isRoot) continue;
                string p = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "reference", "kernels_ref.py"));
                if (File.Exists(p)) return p;
            }
        }
        return null;
    }

    public static bool PythonReady(out string why)
    {
        if (!File.Exists(Python)) { why = $"{Python} not found"; return false; }
        var (code, _, err) = Exec(Python, ["-c", "import scipy, skimage"]);
        why = code == 0 ? "" : $"{Python} cannot import scipy/skimage ({err.Trim().Split('\n').LastOrDefault()})";
        return code == 0;
    }

    public static IEnumerable<Timing> Run(string script, int size)
    {
        var (code, output, err) = Exec(Python, [script, size.ToString(CultureInfo.InvariantCulture), Repeats.ToString(CultureInfo.InvariantCulture)]);
        if (code != 0)
            throw new InvalidOperationException($"The reference failed (exit {code}): {err}");
        foreach (string line in output.Split('\n'))
        {
            var fields = line.Trim().Split(' ').Select(p => p.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1]);
            if (fields.TryGetValue("op", out var op) && fields.TryGetValue("size", out var s) && fields.TryGetValue("ms", out var ms))
                yield return new Timing(op, int.Parse(s, CultureInfo.InvariantCulture), double.Parse(ms, CultureInfo.InvariantCulture));
        }
    }

    private static (int Code, string Out, string Err) Exec(string file, string[] arguments)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in arguments) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"Cannot start {file}.");
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout, stderr.Result);
    }
}
