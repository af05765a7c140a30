using System.Collections.Concurrent;

namespace MLNet.NoisySeg.Pipelines;

/// <summary>
/// The serialized state a NoisySeg transform carries inside a model zip: magic "NSST", a format version,
/// the SHA-256 of the payload and the payload. A damaged or tampered state fails with a clear
/// <see cref="InvalidDataException"/> instead of producing wrong outputs; the hash also keys
/// <see cref="StateCache{T}"/>, so the per-row mapping decodes a state once, not for every row.
/// </summary>
internal static class StateBlob
{
    private static ReadOnlySpan<byte> Magic => "NSST"u8;
    private const byte Version = 1;
    public const int HeaderSize = 4 + 1 + 32;
    private const int HashOffset = 5;

    public static byte[] Create(ReadOnlySpan<byte> payload)
    {
        var blob = new byte[HeaderSize + payload.Length];
        Magic.CopyTo(blob);
        blob[4] = Version;
        System.Security.Cryptography.SHA256.HashData(payload, blob.AsSpan(HashOffset, 32));
        payload.CopyTo(blob.AsSpan(HeaderSize));
        return blob;
    }

    /// <summary>Content key of a blob (first 16 bytes of its stored SHA-256); call after <see cref="Payload"/> verified it.</summary>
    public static Guid ContentKey(ReadOnlySpan<byte> blob) => new(blob.Slice(HashOffset, 16));

    /// <summary>The payload, after checking its SHA-256.</summary>
    public static ReadOnlySpan<byte> Payload(ReadOnlySpan<byte> blob)
    {
        Validate(blob);
        Span<byte> hash = stackalloc byte[32];
        System.Security.Cryptography.SHA256.HashData(blob[HeaderSize..], hash);
        if (!hash.SequenceEqual(blob.Slice(HashOffset, 32)))
            throw new InvalidDataException("NoisySeg transform state failed its SHA-256 check; the model zip is damaged or was modified.");
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

/// <summary>Process-wide cache of decoded transform states, keyed by the (verified) SHA-256 of their payload.</summary>
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

    /// <summary>
    /// Returns the decoded state of a blob, decoding it once per content. Every call checks the payload's SHA-256
    /// (a few ms for megabytes of weights, less than copying the state into the row), so a modified state is never
    /// served from the cache.
    /// </summary>
    public T Get(byte[] blob)
    {
        var payload = StateBlob.Payload(blob);
        var id = StateBlob.ContentKey(blob);
        if (_cache.TryGetValue(id, out var hit)) return hit;
        var value = _decode(payload.ToArray());
        if (_cache.Count >= _capacity)
        {
            foreach (var k in _cache.Keys.Take(_capacity / 2)) _cache.TryRemove(k, out _);
        }
        return _cache.GetOrAdd(id, value);
    }

    /// <summary>Serves <paramref name="value"/> for <paramref name="blob"/> (a state whose decoded form already exists) from now on.</summary>
    public void Put(byte[] blob, T value)
    {
        StateBlob.Payload(blob);
        _cache[StateBlob.ContentKey(blob)] = value;
    }

    /// <summary>Removes the entry of <paramref name="blob"/> when it is <paramref name="value"/> (not a newer one).</summary>
    public void Remove(byte[] blob, T value)
        => _cache.TryRemove(new KeyValuePair<Guid, T>(StateBlob.ContentKey(blob), value));
}
