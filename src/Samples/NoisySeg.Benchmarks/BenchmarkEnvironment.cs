using System.Diagnostics;
using System.Globalization;

namespace NoisySeg.Benchmarks;

/// <summary>The CPU as <c>lscpu</c> names it, and whether it has the AVX-512 subset oneDNN calls avx512_core.</summary>
internal sealed record MachineInfo(string Model, string Family, bool Avx512Core, string Avx512Flags)
{
    /// <summary>Printed beside every figure: timings mean little without the CPU and its ISA.</summary>
    public string Tag => $"[{Model}, family {Family}, AVX-512: {(Avx512Core ? "yes" : "no")}]";

    public static MachineInfo Read()
    {
        string model = "unknown", family = "?", flags = "";
        try
        {
            var (code, output, _) = ChildProcess.Run("lscpu", [], null, TimeSpan.FromSeconds(20));
            if (code == 0)
                foreach (string line in output.Split('\n'))
                {
                    int colon = line.IndexOf(':');
                    if (colon < 0) continue;
                    string key = line[..colon].Trim(), value = line[(colon + 1)..].Trim();
                    if (key == "Model name") model = value;
                    else if (key == "CPU family") family = value;
                    else if (key == "Flags") flags = value;
                }
        }
        catch (System.ComponentModel.Win32Exception) { } // no lscpu: fall back to /proc/cpuinfo below
        if (flags.Length == 0 && File.Exists("/proc/cpuinfo"))
            foreach (string line in File.ReadLines("/proc/cpuinfo"))
            {
                if (model == "unknown" && line.StartsWith("model name", StringComparison.Ordinal)) model = line[(line.IndexOf(':') + 1)..].Trim();
                if (family == "?" && line.StartsWith("cpu family", StringComparison.Ordinal)) family = line[(line.IndexOf(':') + 1)..].Trim();
                if (line.StartsWith("flags", StringComparison.Ordinal)) { flags = line[(line.IndexOf(':') + 1)..].Trim(); break; }
            }
        var set = flags.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        bool core = new[] { "avx512f", "avx512bw", "avx512vl", "avx512dq" }.All(set.Contains);
        string list = string.Join(' ', set.Where(f => f.StartsWith("avx512", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        return new MachineInfo(model, family, core, list.Length == 0 ? "none" : list);
    }
}

/// <summary>A Python interpreter and what it can import.</summary>
internal sealed record PythonInfo(string Command, string Executable, string Version, string? Numpy, string? Torch)
{
    public bool HasNumpy => Numpy is not null;
    public bool HasTorch => Torch is not null;
    public string Describe => $"{Executable} (Python {Version}; numpy {Numpy ?? "MISSING"}, torch {Torch ?? "MISSING"})";
}

/// <summary>
/// Picks the Python for the reference legs. The `python3` first on PATH may be a pyenv build without numpy/torch
/// (it is on the project's build machine), so the default tries Debian's /usr/bin/python3 first.
/// </summary>
internal static class PythonLocator
{
    public static readonly string[] DefaultCandidates = ["/usr/bin/python3", "python3"];

    private const string Probe = """
        import sys
        print(sys.executable)
        print(sys.version.split()[0])
        try:
            import numpy; print(numpy.__version__)
        except Exception:
            print('-')
        try:
            import torch; print(torch.__version__)
        except Exception:
            print('-')
        """;

    /// <summary>
    /// With <paramref name="requested"/>: that interpreter, whatever it imports (the legs it cannot run say so).
    /// Otherwise the first default candidate that imports numpy and torch, else the first that imports numpy.
    /// </summary>
    public static PythonInfo? Select(string? requested, List<string> log)
    {
        var found = new List<PythonInfo>();
        foreach (string candidate in requested is null ? DefaultCandidates : [requested])
        {
            PythonInfo? info = Inspect(candidate, out string why);
            log.Add(info is null ? $"{candidate}: {why}" : $"{candidate}: {info.Describe}");
            if (info is null) continue;
            if (requested is not null || (info.HasNumpy && info.HasTorch)) return info;
            found.Add(info);
        }
        return found.FirstOrDefault(p => p.HasNumpy);
    }

    private static PythonInfo? Inspect(string command, out string why)
    {
        try
        {
            var (code, output, err) = ChildProcess.Run(command, ["-c", Probe.Replace("\r", "", StringComparison.Ordinal)], null, TimeSpan.FromSeconds(60));
            string[] lines = output.Split('\n', StringSplitOptions.TrimEntries);
            if (code != 0 || lines.Length < 4)
            {
                why = $"exit {code}: {err.Trim().Split('\n').LastOrDefault()}";
                return null;
            }
            why = "";
            static string? V(string s) => s == "-" ? null : s;
            return new PythonInfo(command, lines[0], lines[1], V(lines[2]), V(lines[3]));
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            why = "cannot start: " + e.Message;
            return null;
        }
    }
}

internal static class ChildProcess
{
    /// <summary>Runs a command to completion (killed after <paramref name="timeout"/>). <paramref name="env"/>: a null value removes the variable from the child's environment.</summary>
    public static (int Code, string Out, string Err) Run(string file, IEnumerable<string> arguments, IReadOnlyDictionary<string, string?>? env, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in arguments) psi.ArgumentList.Add(a);
        if (env is not null)
            foreach (var (k, v) in env)
            {
                if (v is null) psi.Environment.Remove(k);
                else psi.Environment[k] = v;
            }
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"Cannot start {file}.");
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            return (-1, stdout.Result, stderr.Result + $"\n(killed after {timeout.TotalSeconds:0} s)");
        }
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>key=value fields of a line.</summary>
    public static Dictionary<string, string> Fields(string line)
        => line.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(p => p.Split('=', 2)).Where(p => p.Length == 2)
            .GroupBy(p => p[0], StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First()[1], StringComparer.Ordinal);

    public static double Num(string s) => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);
}

/// <summary>Resident memory of this process from /proc/self/status (VmRSS now, VmHWM = peak), in MB.</summary>
internal static class Memory
{
    public static (double Rss, double Peak) Read()
    {
        double rss = double.NaN, hwm = double.NaN;
        if (!File.Exists("/proc/self/status")) return (Process.GetCurrentProcess().WorkingSet64 / 1048576.0, Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0);
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = Kb(line);
            else if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) hwm = Kb(line);
        }
        return (rss, hwm);
        static double Kb(string line) => double.Parse(line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0; // 8-digit values follow a tab alone
    }
}

internal static class Stats
{
    public static double Median(IEnumerable<double> values)
    {
        var xs = values.Where(double.IsFinite).Order().ToArray();
        if (xs.Length == 0) return double.NaN;
        return xs.Length % 2 == 1 ? xs[xs.Length / 2] : 0.5 * (xs[xs.Length / 2 - 1] + xs[xs.Length / 2]);
    }

    public static string Spread(IReadOnlyCollection<double> values, string format = "0")
    {
        var xs = values.Where(double.IsFinite).ToArray();
        return xs.Length == 0 ? "n/a" : $"{xs.Min().ToString(format, CultureInfo.InvariantCulture)}-{xs.Max().ToString(format, CultureInfo.InvariantCulture)}";
    }
}

/// <summary>CPU time of the whole process (all threads), nanosecond-precise on Linux (clock_gettime CLOCK_PROCESS_CPUTIME_ID);
/// Process.TotalProcessorTime there counts 10 ms clock ticks, too coarse for single operations.</summary>
internal static class CpuClock
{
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Sec;
        public long Nsec;
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int clock_gettime(int clockId, out Timespec ts);

    private const int ClockProcessCputimeId = 2;
    private static readonly bool Native = OperatingSystem.IsLinux() && Probe();

    private static bool Probe()
    {
        try { return clock_gettime(ClockProcessCputimeId, out _) == 0; }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return false; }
    }

    /// <summary>Minor page faults of the process so far (/proc/self/stat field 10); 0 where unavailable.</summary>
    public static long MinorFaults()
    {
        try
        {
            string stat = File.ReadAllText("/proc/self/stat");
            string[] f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(f[7], CultureInfo.InvariantCulture); // field 10 overall; fields after the command name start at 3
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException) { return 0; }
    }

    /// <summary>Process CPU time in milliseconds.</summary>
    public static double ProcessMs()
    {
        if (Native && clock_gettime(ClockProcessCputimeId, out var ts) == 0) return ts.Sec * 1e3 + ts.Nsec / 1e6;
        return Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds;
    }
}
