using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using MLNet.NoisySeg.Networks;
using MLNet.NoisySeg.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.NoisySeg.Training;

/// <summary>
/// A trained segmentation network plus the options it was trained with. Owns the TorchSharp module (dispose it).
/// Not thread-safe: use one instance per thread, or lock around predictions.
/// </summary>
public sealed class TrainedSegmentationModel : IDisposable
{
    /// <summary>First 8 bytes of a saved model.</summary>
    public static ReadOnlySpan<byte> Magic => "NSEGMODL"u8;

    /// <summary>Format version written by <see cref="Save(Stream)"/>.</summary>
    public const int FormatVersion = 1;

    private readonly bool _ownsNetwork;
    private bool _disposed;

    internal TrainedSegmentationModel(UNet network, SegmentationTrainerOptions options, Device device, bool ownsNetwork)
    {
        Network = network;
        Options = options;
        Device = device;
        _ownsNetwork = ownsNetwork;
    }

    /// <summary>The network (in eval mode after training or loading).</summary>
    public UNet Network { get; }

    /// <summary>The options the model was trained with (saved with it).</summary>
    public SegmentationTrainerOptions Options { get; }

    /// <summary>The device the network lives on.</summary>
    public Device Device { get; }

    /// <summary>Output channels K: 1 = binary (foreground probability), K &gt;= 2 = class probabilities.</summary>
    public int OutputChannels => Options.Network.OutputChannels;

    /// <summary>What early stopping did in the training that produced this model (null without early stopping, and after Load: it is not saved).</summary>
    public EarlyStoppingResult? EarlyStoppingResult { get; internal init; }

    /// <summary>How images whose size is not a multiple of 2^Depth are padded at inference.</summary>
    public UNetPadding InferencePadding { get; set; } = UNetPadding.Reflect;

    /// <summary>
    /// Probabilities [K, H, W] for one planar image [C, H, W]: K = 1 gives the sigmoid foreground probability,
    /// K &gt;= 2 the softmax over classes. Any H, W (padded internally).
    /// </summary>
    /// <param name="image">Planar pixels, length c*h*w, normalised as in training.</param>
    /// <param name="c">Channels (must equal the network's InputChannels).</param>
    /// <param name="h">Height.</param>
    /// <param name="w">Width.</param>
    public float[] PredictProbabilities(float[] image, int c, int h, int w)
        => PredictProbabilities(new[] { image }, c, h, w, 1)[0];

    /// <summary>
    /// Probabilities [K, H, W] for one planar image of any size, predicted as <paramref name="options"/> say: whole or by
    /// overlapping tiles blended at their borders (sliding-window inference at the image's own resolution, memory bounded by
    /// the tiles of one batch), optionally with test-time augmentation (flips and rotations, averaged).
    /// </summary>
    /// <param name="image">Planar pixels, length c*h*w, normalised as in training.</param>
    /// <param name="c">Channels (the network's InputChannels).</param>
    /// <param name="h">Height.</param>
    /// <param name="w">Width.</param>
    /// <param name="options">Tiles, blending and augmentation; <see cref="SegmentationPredictionOptions.WholeImage"/> = <see cref="PredictProbabilities(float[], int, int, int)"/>.</param>
    public float[] PredictProbabilities(float[] image, int c, int h, int w, SegmentationPredictionOptions options)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        CheckShape(c, h, w);
        if (image.Length != (long)c * h * w) throw new ArgumentException($"image has {image.Length} values; expected c*h*w = {(long)c * h * w}.", nameof(image));
        return TiledPrediction.Predict(this, image, c, h, w, options);
    }

    private void CheckShape(int c, int h, int w)
    {
        if (c != Options.Network.InputChannels) throw new ArgumentOutOfRangeException(nameof(c), c, $"c must equal the network's InputChannels = {Options.Network.InputChannels}.");
        if (h < 1) throw new ArgumentOutOfRangeException(nameof(h), h, "h must be at least 1.");
        if (w < 1) throw new ArgumentOutOfRangeException(nameof(w), w, "w must be at least 1.");
    }

    /// <summary>Probabilities [K, H, W] for several images of the same size, <paramref name="batchSize"/> at a time.</summary>
    /// <param name="images">Planar images, each of length c*h*w.</param>
    /// <param name="c">Channels.</param>
    /// <param name="h">Height.</param>
    /// <param name="w">Width.</param>
    /// <param name="batchSize">Images per forward pass.</param>
    public float[][] PredictProbabilities(IReadOnlyList<float[]> images, int c, int h, int w, int batchSize = 8)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(images);
        CheckShape(c, h, w);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batchSize must be at least 1.");
        int plane = checked(c * h * w);
        var results = new float[images.Count][];
        bool wasTraining = Network.training;
        Network.eval();
        try
        {
            for (int start = 0; start < images.Count; start += batchSize)
            {
                int n = Math.Min(batchSize, images.Count - start);
                // One image goes to libtorch as it is; a batch is gathered into one buffer first.
                float[] buffer = n == 1 ? Checked(start) : new float[(long)n * plane];
                for (int i = 0; n > 1 && i < n; i++) Checked(start + i).CopyTo(buffer, (long)i * plane);
                using var scope = NewDisposeScope();
                using var mode = inference_mode();
                Tensor x = tensor(buffer, new long[] { n, c, h, w }).to(Device);
                Tensor logits = Network.PredictLogits(x, InferencePadding);
                Tensor probs = (OutputChannels == 1 ? logits.sigmoid() : logits.softmax(1)).cpu().contiguous();
                float[] all = probs.data<float>().ToArray();
                int outPlane = OutputChannels * h * w;
                if (n == 1) results[start] = all;
                else for (int i = 0; i < n; i++) results[start + i] = all.AsSpan(i * outPlane, outPlane).ToArray();
            }
        }
        finally
        {
            if (wasTraining) Network.train();
        }
        return results;

        float[] Checked(int index)
        {
            float[] img = images[index] ?? throw new ArgumentException($"images[{index}] is null.", nameof(images));
            if (img.Length != plane) throw new ArgumentException($"images[{index}] has {img.Length} values; expected c*h*w = {plane}.", nameof(images));
            return img;
        }
    }

    /// <summary>
    /// Writes the model: 8-byte magic "NSEGMODL", int32 version, int32 length + UTF-8 JSON of the options,
    /// int64 length + TorchSharp <c>module.save</c> bytes (little-endian). Save → Load → Save is byte-identical.
    /// </summary>
    /// <param name="stream">Writable stream.</param>
    public void Save(Stream stream)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(stream);
        byte[] json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(Options, ModelJson.Options));
        byte[] weights;
        using (var ms = new MemoryStream())
        {
            Network.save(ms); // closes the stream; ToArray still works on a closed MemoryStream
            weights = ms.ToArray();
        }
        Span<byte> header = stackalloc byte[8 + 4 + 4];
        Magic.CopyTo(header);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], FormatVersion);
        BinaryPrimitives.WriteInt32LittleEndian(header[12..], json.Length);
        stream.Write(header);
        stream.Write(json);
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(len, weights.Length);
        stream.Write(len);
        stream.Write(weights);
    }

    /// <summary>The saved model as a byte array.</summary>
    public byte[] ToBytes()
    {
        using var ms = new MemoryStream();
        Save(ms);
        return ms.ToArray();
    }

    /// <summary>Reads a model written by <see cref="Save(Stream)"/>.</summary>
    /// <param name="stream">Readable stream positioned at the magic.</param>
    /// <param name="device">Device to load onto; null = from the saved GpuDeviceId/FallbackToCpu options.</param>
    /// <exception cref="InvalidDataException">When the stream is not a saved model or its version is unknown.</exception>
    public static TrainedSegmentationModel Load(Stream stream, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Span<byte> header = stackalloc byte[16];
        stream.ReadExactly(header);
        if (!header[..8].SequenceEqual(Magic)) throw new InvalidDataException("Not a MLNet.NoisySeg segmentation model (bad magic).");
        int version = BinaryPrimitives.ReadInt32LittleEndian(header[8..]);
        if (version != FormatVersion) throw new InvalidDataException($"Unsupported segmentation model format version {version} (this library reads {FormatVersion}).");
        int jsonLength = BinaryPrimitives.ReadInt32LittleEndian(header[12..]);
        if (jsonLength <= 0 || jsonLength > 1 << 20) throw new InvalidDataException($"Corrupt model: options length {jsonLength}.");
        var json = new byte[jsonLength];
        stream.ReadExactly(json);
        var options = JsonSerializer.Deserialize<SegmentationTrainerOptions>(json, ModelJson.Options)
            ?? throw new InvalidDataException("Corrupt model: empty options.");
        options.Validate();
        Span<byte> len = stackalloc byte[8];
        stream.ReadExactly(len);
        long weightsLength = BinaryPrimitives.ReadInt64LittleEndian(len);
        if (weightsLength <= 0 || weightsLength > int.MaxValue) throw new InvalidDataException($"Corrupt model: weights length {weightsLength}.");
        var weights = new byte[weightsLength];
        stream.ReadExactly(weights);

        TorchRuntime.Initialize(); // the saved Threads option is not applied: it describes the training machine
        Device target = device ?? TorchDevices.Resolve(options.GpuDeviceId, options.FallbackToCpu);
        var network = new UNet(options.Network);
        try
        {
            using (var ms = new MemoryStream(weights, writable: false))
                network.load(ms);
            network.to(target);
            network.eval();
            return new TrainedSegmentationModel(network, options, target, ownsNetwork: true);
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>Loads a model from bytes written by <see cref="ToBytes"/>.</summary>
    /// <param name="bytes">The saved model.</param>
    /// <param name="device">Device to load onto; null = from the saved options.</param>
    public static TrainedSegmentationModel FromBytes(byte[] bytes, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        using var ms = new MemoryStream(bytes, writable: false);
        return Load(ms, device);
    }

    /// <summary>Releases the network's native memory (if this instance owns it).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_ownsNetwork) Network.Dispose();
    }
}

/// <summary>JSON settings for options stored in models and checkpoints (enums as names, stable property order).</summary>
internal static class ModelJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = false,
        Converters = { new JsonStringEnumConverter() },
    };
}
