using System.Runtime.InteropServices;
using TorchSharp;

namespace MLNet.NoisySeg.Torch;

/// <summary>What <see cref="TorchRuntime.Configure"/> / <see cref="TorchRuntime.Initialize(int?)"/> did, for logging and diagnostics.</summary>
/// <param name="Threads">The intra-op thread count libtorch now uses.</param>
/// <param name="OmpWaitPolicy">The value of OMP_WAIT_POLICY in the native environment (null if unknown).</param>
/// <param name="OmpWaitPolicySetByUs">True if this library set OMP_WAIT_POLICY=PASSIVE (asked for by
/// <see cref="TorchRuntimeOptions.PassiveOpenMpWait"/>; false if the user had set it, if not asked, or on failure).</param>
/// <param name="LibTorchLoadedBefore">True if libtorch was already mapped into the process when the OpenMP wait policy was
/// set, so it came too late to take effect (call <see cref="TorchRuntime.Configure"/> before any other TorchSharp use).</param>
/// <param name="MallocTuned">True if all three glibc <c>mallopt</c> settings were asked for (<see cref="TorchRuntimeOptions.TuneMalloc"/>) and accepted.</param>
public sealed record TorchRuntimeStatus(int Threads, string? OmpWaitPolicy, bool OmpWaitPolicySetByUs, bool LibTorchLoadedBefore, bool MallocTuned);

/// <summary>
/// Process-wide runtime tuning an application may switch on with <see cref="TorchRuntime.Configure"/>. Both switches change
/// the whole host process, not only libtorch, so the library never turns them on by itself: <see cref="Default"/> leaves
/// the process as it is; <see cref="SmallCpu"/> is what the study app, the benchmarks and the tests use.
/// </summary>
public sealed record TorchRuntimeOptions
{
    /// <summary>libtorch intra-op threads (a libtorch setting); null = <see cref="Environment.ProcessorCount"/>.</summary>
    public int? Threads { get; init; }

    /// <summary>
    /// Set OMP_WAIT_POLICY=PASSIVE in the native environment (unless already set) before libtorch loads: idle OpenMP
    /// threads sleep instead of spinning. With one core busy elsewhere, a 2-thread step took 382 ms instead of 879 ms.
    /// Affects every OpenMP runtime in the process. Default false.
    /// </summary>
    public bool PassiveOpenMpWait { get; init; }

    /// <summary>
    /// Tune glibc malloc for large tensors (mmap threshold 32 MiB, trim threshold 2 GiB, top pad 256 MiB; Linux/glibc only):
    /// page faults 5.8 M to 0.26 M, a 256² training step 1279 to 952 ms. Affects every allocation of the process and keeps
    /// freed memory in the heap. Default false.
    /// </summary>
    public bool TuneMalloc { get; init; }

    /// <summary>What the library does on its own: libtorch's thread count only.</summary>
    public static TorchRuntimeOptions Default => new();

    /// <summary>Full tuning for small shared CPU machines: passive OpenMP waiting and malloc tuning.</summary>
    public static TorchRuntimeOptions SmallCpu => new() { PassiveOpenMpWait = true, TuneMalloc = true };

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> for a thread count below 1.</summary>
    public void Validate()
    {
        if (Threads is < 1) throw new ArgumentOutOfRangeException(nameof(Threads), Threads, "Threads must be null or at least 1.");
    }
}

/// <summary>
/// The one place for TorchSharp runtime setup. On its own the library only does what is safe for a host process: the
/// trainer and the model loader call <see cref="Initialize(int?)"/>, which sets libtorch's own intra-op thread count.
/// Tuning that changes the whole process (passive OpenMP waiting, glibc malloc settings) happens only when the
/// application asks for it with <see cref="Configure"/>, before any other TorchSharp call. The CPU convolution route
/// (<see cref="ConvolutionRoute"/>) is a correctness feature, not tuning: it is always on.
/// </summary>
/// <remarks>
/// Measured on a 2-core AMD EPYC (U-Net depth 4, base 16, batch 4, 2 threads, see docs platform notes):
/// <list type="bullet">
/// <item>malloc tuning cuts page faults from 5.8 M to 0.26 M; a 128x128 training step goes from 320 to 283 ms,
/// a 256x256 step from 1279 to 952 ms and 512x512 inference from 500 to 308 ms.</item>
/// <item>OMP_WAIT_POLICY=PASSIVE: with one core busy elsewhere, a 2-thread step took 382 ms instead of 879 ms
/// (OpenMP's default spinning fights other processes on shared cores).</item>
/// </list>
/// OMP_WAIT_POLICY is read by the OpenMP runtime when libtorch is loaded, so it must be in the <em>native</em>
/// environment (libc <c>setenv</c>; .NET's <see cref="Environment.SetEnvironmentVariable(string, string)"/> does not
/// change the native environ on Linux) before the first TorchSharp call. A value the user set is never overwritten.
/// </remarks>
public static class TorchRuntime
{
    private const int M_TRIM_THRESHOLD = -1;
    private const int M_TOP_PAD = -2;
    private const int M_MMAP_THRESHOLD = -3;

    /// <summary>mmap threshold: 32 MiB (glibc's maximum on 64-bit), so big tensors are reused from the heap instead of being mmapped and faulted in again each step.</summary>
    public const int MmapThreshold = 33554432;

    /// <summary>
    /// Trim threshold. The measured setting is 4294967296 (4 GiB), but <c>mallopt</c> takes an <see cref="int"/>, so
    /// <see cref="int.MaxValue"/> (2 GiB - 1) is used: in practice the same (the heap is almost never trimmed).
    /// </summary>
    public const int TrimThreshold = int.MaxValue;

    /// <summary>Top pad: 256 MiB extra each time the heap grows.</summary>
    public const int TopPad = 268435456;

    private static readonly object Gate = new();
    private static TorchRuntimeStatus? _status;

    /// <summary>The status after the first <see cref="Configure"/> or <see cref="Initialize(int?)"/> (updated by later calls); null before.</summary>
    public static TorchRuntimeStatus? Status { get { lock (Gate) return _status; } }

    /// <summary>
    /// The application's runtime setup: call it once at start-up, before any other TorchSharp use (e.g.
    /// <c>TorchRuntime.Configure(TorchRuntimeOptions.SmallCpu)</c>). Switches asked for are applied once; a later call can
    /// still switch on what an earlier one left off (the OpenMP policy then only helps if libtorch is not loaded yet, see
    /// <see cref="TorchRuntimeStatus.LibTorchLoadedBefore"/>) and change the thread count; nothing is switched back off.
    /// </summary>
    /// <param name="options">What to tune.</param>
    /// <returns>What was done.</returns>
    public static TorchRuntimeStatus Configure(TorchRuntimeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        lock (Gate)
        {
            // Everything before the first reference to `torch` must not load libtorch.
            var status = _status ?? new TorchRuntimeStatus(0, NativeEnvironment("OMP_WAIT_POLICY"), false, false, false);
            if (options.PassiveOpenMpWait && !status.OmpWaitPolicySetByUs)
            {
                bool loadedBefore = LibTorchIsMapped();
                (string? policy, bool setByUs) = SetPassiveOpenMpWait();
                status = status with { OmpWaitPolicy = policy, OmpWaitPolicySetByUs = setByUs, LibTorchLoadedBefore = loadedBefore };
            }
            if (options.TuneMalloc && !status.MallocTuned)
                status = status with { MallocTuned = TuneGlibcMalloc() };
            int threads = options.Threads ?? (status.Threads > 0 ? status.Threads : Environment.ProcessorCount);
            if (threads != status.Threads)
            {
                torch.set_num_threads(threads);
                status = status with { Threads = torch.get_num_threads() };
            }
            return _status = status;
        }
    }

    /// <summary>
    /// What the library calls before it uses libtorch (training, loading a model): the first call sets libtorch's
    /// intra-op thread count (<paramref name="threads"/>, default <see cref="Environment.ProcessorCount"/>) and nothing
    /// else; later calls only change the thread count, and only when <paramref name="threads"/> is given. Process-wide
    /// tuning is <see cref="Configure"/>'s, at the application's request.
    /// </summary>
    /// <param name="threads">Intra-op threads for libtorch; default <see cref="Environment.ProcessorCount"/>.</param>
    /// <returns>The runtime status.</returns>
    /// <exception cref="ArgumentOutOfRangeException">When <paramref name="threads"/> is less than 1.</exception>
    public static TorchRuntimeStatus Initialize(int? threads = null)
    {
        if (threads is < 1)
            throw new ArgumentOutOfRangeException(nameof(threads), threads, "threads must be at least 1.");
        lock (Gate)
        {
            if (_status is { } status && (threads is null || threads == status.Threads)) return status;
            return Configure(TorchRuntimeOptions.Default with { Threads = threads });
        }
    }

    private static (string? Value, bool SetByUs) SetPassiveOpenMpWait()
    {
        const string name = "OMP_WAIT_POLICY";
        try
        {
            if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
            {
                // On Windows the CRT environment and the process environment are one (SetEnvironmentVariable works).
                string? existing = Environment.GetEnvironmentVariable(name);
                if (!string.IsNullOrEmpty(existing)) return (existing, false);
                Environment.SetEnvironmentVariable(name, "PASSIVE");
                return ("PASSIVE", true);
            }

            string? native = Marshal.PtrToStringUTF8(Native.getenv(name));
            if (!string.IsNullOrEmpty(native)) return (native, false);
            bool ok = Native.setenv(name, "PASSIVE", 0) == 0;
            if (ok) Environment.SetEnvironmentVariable(name, "PASSIVE"); // keep the managed view consistent
            return (Marshal.PtrToStringUTF8(Native.getenv(name)), ok);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or MarshalDirectiveException)
        {
            return (null, false);
        }
    }

    private static bool TuneGlibcMalloc()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            _ = Native.gnu_get_libc_version(); // throws EntryPointNotFound/DllNotFound on musl and others
            bool ok = Native.mallopt(M_MMAP_THRESHOLD, MmapThreshold) == 1;
            ok &= Native.mallopt(M_TRIM_THRESHOLD, TrimThreshold) == 1;
            ok &= Native.mallopt(M_TOP_PAD, TopPad) == 1;
            return ok;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or MarshalDirectiveException)
        {
            return false;
        }
    }

    private static CpuConvolutionRoute? _route;

    /// <summary>
    /// How <see cref="Networks.UNet"/> runs convolutions on the CPU in this process (see <see cref="CpuConvolutionRoute"/>).
    /// Detected on first use: <see cref="CpuConvolutionRoute.ChannelsLast"/> where oneDNN will use AVX-512 (the CPU
    /// reports avx512f/bw/vl/dq and neither <c>ONEDNN_MAX_CPU_ISA</c> nor <c>DNNL_MAX_CPU_ISA</c> caps it lower),
    /// <see cref="CpuConvolutionRoute.Blocked"/> on other x86-64 CPUs, <see cref="CpuConvolutionRoute.Native"/>
    /// elsewhere. Setting it (for benchmarks and diagnostics) changes every later forward pass in the process;
    /// only the detected route is known to be correct on a given CPU.
    /// </summary>
    public static CpuConvolutionRoute ConvolutionRoute
    {
        get { lock (Gate) return _route ??= DetectConvolutionRoute(); }
        set
        {
            if (!Enum.IsDefined(value)) throw new ArgumentOutOfRangeException(nameof(value), value, "ConvolutionRoute must be ChannelsLast, Blocked or Native.");
            lock (Gate) _route = value;
        }
    }

    /// <summary>The route the CPU and the oneDNN environment call for (what <see cref="ConvolutionRoute"/> starts as).</summary>
    public static CpuConvolutionRoute DetectConvolutionRoute()
    {
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64) return CpuConvolutionRoute.Native;
        string? cap = NativeEnvironment("ONEDNN_MAX_CPU_ISA") ?? NativeEnvironment("DNNL_MAX_CPU_ISA");
        bool capped = !string.IsNullOrWhiteSpace(cap)
            && !cap.Trim().StartsWith("AVX512", StringComparison.OrdinalIgnoreCase)
            && !cap.Trim().StartsWith("AVX10", StringComparison.OrdinalIgnoreCase)
            && !cap.Trim().Equals("ALL", StringComparison.OrdinalIgnoreCase)
            && !cap.Trim().Equals("DEFAULT", StringComparison.OrdinalIgnoreCase);
        return !capped && CpuHasAvx512Core() ? CpuConvolutionRoute.ChannelsLast : CpuConvolutionRoute.Blocked;
    }

    /// <summary>avx512f + dq + bw + vl by CPUID leaf 7 (oneDNN's avx512_core), enabled by the OS (XCR0 opmask and ZMM state).</summary>
    private static bool CpuHasAvx512Core()
    {
        if (!System.Runtime.Intrinsics.X86.X86Base.IsSupported) return false;
        (int _, int ebx, int _, int _) = System.Runtime.Intrinsics.X86.X86Base.CpuId(7, 0);
        const int f = 1 << 16, dq = 1 << 17, bw = 1 << 30, vl = unchecked((int)(1u << 31));
        if ((ebx & (f | dq | bw | vl)) != (f | dq | bw | vl)) return false;
        // The OS must save the AVX-512 state. .NET's own check (Avx512F.IsSupported) covers that but can be switched off
        // by DOTNET_EnableAVX512F, which does not change what oneDNN does; on Linux the kernel lists avx512f only then.
        if (OperatingSystem.IsLinux())
        {
            try
            {
                foreach (string line in File.ReadLines("/proc/cpuinfo"))
                    if (line.StartsWith("flags", StringComparison.Ordinal))
                        return line.Contains(" avx512f", StringComparison.Ordinal) && line.Contains(" avx512bw", StringComparison.Ordinal);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return System.Runtime.Intrinsics.X86.Avx512F.IsSupported || !OperatingSystem.IsLinux();
    }

    /// <summary>A variable as native code sees it (libc getenv on Linux and macOS; the process environment elsewhere).</summary>
    private static string? NativeEnvironment(string name)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return Environment.GetEnvironmentVariable(name);
        try { return Marshal.PtrToStringUTF8(Native.getenv(name)); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return Environment.GetEnvironmentVariable(name); }
    }

    private static bool LibTorchIsMapped()
    {
        try
        {
            if (!OperatingSystem.IsLinux()) return false;
            foreach (string line in File.ReadLines("/proc/self/maps"))
                if (line.Contains("libtorch_cpu", StringComparison.Ordinal) || line.Contains("libLibTorchSharp", StringComparison.Ordinal))
                    return true;
            return false;
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    private static class Native
    {
        private const string LibC = "libc.so.6";

        [DllImport(LibC, CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
        internal static extern int setenv(string name, string value, int overwrite);

        [DllImport(LibC, CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
        internal static extern IntPtr getenv(string name);

        [DllImport(LibC)]
        internal static extern int mallopt(int param, int value);

        [DllImport(LibC)]
        internal static extern IntPtr gnu_get_libc_version();
    }
}

/// <summary>Device selection mirroring ML.NET's <c>MLContext.GpuDeviceId</c> and <c>MLContext.FallbackToCpu</c>.</summary>
public static class TorchDevices
{
    /// <summary>
    /// CUDA device <paramref name="gpuDeviceId"/> when one is requested and available; otherwise the CPU if
    /// <paramref name="fallbackToCpu"/> is true (or no GPU was requested).
    /// </summary>
    /// <param name="gpuDeviceId">The CUDA device index, or null for the CPU.</param>
    /// <param name="fallbackToCpu">Whether to use the CPU when the requested GPU is not available.</param>
    /// <returns>The device to place modules and tensors on.</returns>
    /// <exception cref="ArgumentOutOfRangeException">When <paramref name="gpuDeviceId"/> is negative.</exception>
    /// <exception cref="InvalidOperationException">When the GPU is not available and fallback is not allowed.</exception>
    public static torch.Device Resolve(int? gpuDeviceId, bool fallbackToCpu)
    {
        if (gpuDeviceId is < 0)
            throw new ArgumentOutOfRangeException(nameof(gpuDeviceId), gpuDeviceId, "GpuDeviceId must be null (CPU) or a CUDA device index >= 0.");
        TorchRuntime.Initialize();
        if (gpuDeviceId is not int id) return torch.CPU;

        bool available = torch.cuda.is_available();
        int count = available ? torch.cuda.device_count() : 0;
        if (available && id < count) return new torch.Device(DeviceType.CUDA, id);
        if (fallbackToCpu) return torch.CPU;
        throw new InvalidOperationException(available
            ? $"GpuDeviceId = {id} was requested but only {count} CUDA device(s) exist, and FallbackToCpu is false."
            : $"GpuDeviceId = {id} was requested but CUDA is not available (a CPU-only libtorch backend is referenced, or no GPU/driver), and FallbackToCpu is false. Reference a CUDA libtorch package or set FallbackToCpu = true.");
    }
}
