using System.Runtime.ExceptionServices;
using MLNet.NoisySeg.Core;

namespace MLNet.NoisySeg.Noise;

/// <summary>
/// Applies one <see cref="LabelNoiseSpec"/> to batches of masks, in parallel over images. Image i of a
/// batch uses the stream <c>SeededRandom.For(Seed, imageIds[i], epoch)</c>, so the output depends only
/// on (seed, image identity, epoch), never on thread count or batch composition.
/// </summary>
/// <remarks>
/// Offline noise (the default) ignores the epoch: every call gives the same corrupted mask. With
/// <see cref="Online"/> the corruption is redrawn for every epoch (the paper's online noise).
/// </remarks>
public sealed class LabelCorruptor
{
    /// <summary>Creates a corruptor; validates <paramref name="spec"/>.</summary>
    /// <param name="spec">The corruption.</param>
    /// <param name="seed">The user's seed.</param>
    public LabelCorruptor(LabelNoiseSpec spec, int seed)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        Spec = spec;
        Seed = seed;
    }

    /// <summary>The corruption.</summary>
    public LabelNoiseSpec Spec { get; }

    /// <summary>The user's seed.</summary>
    public int Seed { get; }

    /// <summary>True to redraw the noise at every epoch; false (default) to draw it once (epoch treated as 0).</summary>
    public bool Online { get; init; }

    /// <summary>Upper bound on images processed concurrently; -1 (default) lets the runtime decide. Never changes the output.</summary>
    public int MaxDegreeOfParallelism { get; init; } = -1;

    /// <summary>Corrupts one mask.</summary>
    /// <param name="clean">The true mask.</param>
    /// <param name="width">Mask width.</param>
    /// <param name="height">Mask height.</param>
    /// <param name="imageId">Stable identity of the image (e.g. file name).</param>
    /// <param name="epoch">Epoch (used only when <see cref="Online"/>).</param>
    /// <returns>A new noisy mask.</returns>
    public byte[] Corrupt(ReadOnlySpan<byte> clean, int width, int height, string imageId, int epoch = 0)
    {
        ArgumentNullException.ThrowIfNull(imageId);
        return Spec.Apply(clean, width, height, Seed, imageId, Online ? epoch : 0);
    }

    /// <summary>Corrupts a batch of equally sized masks into new arrays.</summary>
    /// <param name="masks">The true masks.</param>
    /// <param name="width">Width of every mask.</param>
    /// <param name="height">Height of every mask.</param>
    /// <param name="imageIds">Stable identity of every image (same count as <paramref name="masks"/>).</param>
    /// <param name="epoch">Epoch (used only when <see cref="Online"/>).</param>
    /// <returns>One new noisy mask per input.</returns>
    public byte[][] CorruptBatch(IReadOnlyList<byte[]> masks, int width, int height, IReadOnlyList<string> imageIds, int epoch = 0)
    {
        ArgumentNullException.ThrowIfNull(masks);
        var outputs = new byte[masks.Count][];
        for (int i = 0; i < outputs.Length; i++)
            outputs[i] = new byte[(masks[i] ?? throw new ArgumentException($"masks[{i}] is null.", nameof(masks))).Length];
        CorruptBatch(masks, outputs, width, height, imageIds, epoch);
        return outputs;
    }

    /// <summary>Corrupts a batch of equally sized masks into caller-provided buffers.</summary>
    /// <param name="masks">The true masks.</param>
    /// <param name="outputs">One output buffer per mask (same sizes; distinct from the inputs).</param>
    /// <param name="width">Width of every mask.</param>
    /// <param name="height">Height of every mask.</param>
    /// <param name="imageIds">Stable identity of every image.</param>
    /// <param name="epoch">Epoch (used only when <see cref="Online"/>).</param>
    public void CorruptBatch(IReadOnlyList<byte[]> masks, IReadOnlyList<byte[]> outputs, int width, int height, IReadOnlyList<string> imageIds, int epoch = 0)
    {
        ArgumentNullException.ThrowIfNull(masks);
        ArgumentNullException.ThrowIfNull(outputs);
        ArgumentNullException.ThrowIfNull(imageIds);
        if (outputs.Count != masks.Count)
            throw new ArgumentException($"outputs has {outputs.Count} buffers for {masks.Count} masks.", nameof(outputs));
        if (imageIds.Count != masks.Count)
            throw new ArgumentException($"imageIds has {imageIds.Count} entries for {masks.Count} masks.", nameof(imageIds));
        int e = Online ? epoch : 0;
        var options = new ParallelOptions { MaxDegreeOfParallelism = MaxDegreeOfParallelism };
        try
        {
            Parallel.For(0, masks.Count, options, i =>
            {
                var rng = SeededRandom.For(Seed, imageIds[i] ?? throw new ArgumentException($"imageIds[{i}] is null.", nameof(imageIds)), e);
                Spec.Apply(masks[i], outputs[i], width, height, ref rng);
            });
        }
        catch (AggregateException ex) when (ex.InnerExceptions.Count >= 1 && ex.InnerExceptions[0] is ArgumentException)
        {
            ExceptionDispatchInfo.Capture(ex.InnerExceptions[0]).Throw();
        }
    }
}
