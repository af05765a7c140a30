using System.Collections.Concurrent;

namespace MLNet.NoisySeg.Pipelines;

/// <summary>
/// The serialized state a NoisySeg transform carries inside a model zip: magic "NSST", a format version,
/// a 16-byte identity and the payload. The identity lets the per-row mapping reuse the decoded state
/// (<see cref="StateCache{T}"/>) instead of decoding it for every row.
/// </summary>
internal static class StateBlob
{
    private static ReadOnlySpan<byte> Magic => "NSST"u8;
    private const byte Version = 1;
    public const int HeaderSize = 4 + 1 + 16;

    public static byte[] Create(ReadOnlySpan<byte> payload)
    {
        var blob = new byte[HeaderSize + payload.Length];
        Magic.CopyTo(blob);
        blob[4] = Version;
        Guid.NewGuid().TryWriteBytes(blob.AsSpan(5, 16));
        payload.CopyTo(blob.AsSpan(HeaderSize));
        return blob;
    }

    public static Guid Identity(ReadOnlySpan<byte> blob)
    {
        Validate(blob);
        return new Guid(blob.Slice(5, 16));
    }

    public static ReadOnlySpan<byte> Payload(ReadOnlySpan<byte> blob)
    {
        Validate(blob);
        return blob[HeaderSize..];
    }

    private static void Validate(ReadOnlySpan<byte> blob)
    {
        if (blob.Length < HeaderSize || !blob[..4].SequenceEqual(Magic))
            throw new InvalidDataException("NoisySeg transform state is missing or corrupt (bad header); the model zip is damaged or was not written by MLNet.NoisySeg.");
        if (blob[4] != Version)
            throw new InvalidDataException($"NoisySeg transform state has format version {blob[4]}; this library reads version {Version}.");
    }
}

/// <summary>Process-wide cache of decoded transform states, keyed by the state's identity.</summary>
/// <typeparam name="T">The decoded state.</typeparam>
internal sealed class StateCache<T> where T : class
{
    private readonly ConcurrentDictionary<Guid, T> _cache = new();
    private readonly Func<byte[], T> _decode;
    private readonly int _capacity;

    public StateCache(Func<byte[], T> decode, int capacity = 64)
    {
        _decode = decode;
        _capacity = capacity;
    }

    /// <summary>Returns the decoded state of a blob, decoding it once per identity.</summary>
    public T Get(byte[] blob)
    {
        var id = StateBlob.Identity(blob);
        if (_cache.TryGetValue(id, out var hit)) return hit;
        var value = _decode(StateBlob.Payload(blob).ToArray());
        if (_cache.Count >= _capacity)
        {
            foreach (var k in _cache.Keys.Take(_capacity / 2)) _cache.TryRemove(k, out _);
        }
        return _cache.GetOrAdd(id, value);
    }
}
