using System.Text;
using System.Text.Json;
using MLNet.NoisySeg.Networks;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.NoisySeg.Training;

/// <summary>
/// Resumable training state: options, completed steps, torch RNG state, module weights and buffers, optimizer state.
/// Format: magic "NSEGCKPT", int32 version, then length-prefixed options JSON, int32 step, RNG bytes, module bytes,
/// optimizer bytes (BinaryWriter, little-endian). Written through <see cref="Core.AtomicFile"/>.
/// </summary>
internal sealed class TrainingCheckpoint
{
    private static readonly byte[] Magic = "NSEGCKPT"u8.ToArray();
    private const int Version = 1;

    public required SegmentationTrainerOptions Options { get; init; }
    public required int Step { get; init; }
    public required byte[] RngState { get; init; }
    public required byte[] ModuleState { get; init; }
    public required byte[] OptimizerState { get; init; }

    public static TrainingCheckpoint Capture(SegmentationTrainerOptions options, int step, UNet network, OptimizerHelper optimizer)
    {
        using var rng = get_rng_state();
        byte[] rngBytes = rng.cpu().data<byte>().ToArray();
        using var moduleStream = new MemoryStream();
        network.save(moduleStream);
        using var optStream = new MemoryStream();
        using (var w = new BinaryWriter(optStream, Encoding.UTF8, leaveOpen: true))
            optimizer.save_state_dict(w);
        return new TrainingCheckpoint { Options = options, Step = step, RngState = rngBytes, ModuleState = moduleStream.ToArray(), OptimizerState = optStream.ToArray() };
    }

    public void Restore(UNet network, OptimizerHelper optimizer)
    {
        using (var ms = new MemoryStream(ModuleState, writable: false))
            network.load(ms);
        using (var ms = new MemoryStream(OptimizerState, writable: false))
        using (var r = new BinaryReader(ms))
            optimizer.load_state_dict(r);
        using var rng = tensor(RngState, ScalarType.Byte);
        set_rng_state(rng);
    }

    public void WriteAtomically(string path) => Core.AtomicFile.Write(path, fs =>
    {
        using var w = new BinaryWriter(fs, Encoding.UTF8, leaveOpen: true);
        w.Write(Magic);
        w.Write(Version);
        byte[] json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(Options, ModelJson.Options));
        WriteBlock(w, json);
        w.Write(Step);
        WriteBlock(w, RngState);
        WriteBlock(w, ModuleState);
        WriteBlock(w, OptimizerState);
        w.Flush();
    });

    public static TrainingCheckpoint Read(string path)
    {
        using var fs = File.OpenRead(path);
        using var r = new BinaryReader(fs, Encoding.UTF8);
        if (!r.ReadBytes(Magic.Length).AsSpan().SequenceEqual(Magic))
            throw new InvalidDataException($"{path} is not a MLNet.NoisySeg training checkpoint.");
        int version = r.ReadInt32();
        if (version != Version) throw new InvalidDataException($"{path}: unsupported checkpoint version {version}.");
        var options = JsonSerializer.Deserialize<SegmentationTrainerOptions>(ReadBlock(r), ModelJson.Options)
            ?? throw new InvalidDataException($"{path}: empty options.");
        int step = r.ReadInt32();
        return new TrainingCheckpoint { Options = options, Step = step, RngState = ReadBlock(r), ModuleState = ReadBlock(r), OptimizerState = ReadBlock(r) };
    }

    private static void WriteBlock(BinaryWriter w, byte[] data)
    {
        w.Write(data.Length);
        w.Write(data);
    }

    private static byte[] ReadBlock(BinaryReader r)
    {
        int n = r.ReadInt32();
        if (n < 0) throw new InvalidDataException("Corrupt checkpoint block length.");
        byte[] b = r.ReadBytes(n);
        if (b.Length != n) throw new EndOfStreamException("Truncated checkpoint.");
        return b;
    }
}
