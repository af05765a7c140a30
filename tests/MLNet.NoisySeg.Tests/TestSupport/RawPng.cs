using System.Buffers.Binary;
using System.IO.Compression;

namespace MLNet.NoisySeg.Tests.TestSupport;

/// <summary>
/// Test fixture writer for PNG variants SkiaSharp cannot encode: every colour type and bit depth (1-16),
/// every filter type, Adam7 interlacing, split IDAT chunks and extra chunks; plus chunk-level helpers
/// (list chunks, rewrite IHDR, recompute CRCs) for the hardening and fuzz tests. An independent encoder:
/// the library decodes PNG masks with its own decoder and images through SkiaSharp, and the tests compare
/// both against what this writer was given.
/// </summary>
internal static class RawPng
{
    public static readonly byte[] Signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10];

    private static readonly (int X0, int Y0, int Dx, int Dy)[] Adam7 =
        [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)];

    /// <summary>Samples per pixel of a PNG colour type.</summary>
    public static int ChannelsOf(int colorType) => colorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, 6 => 4, _ => throw new ArgumentOutOfRangeException(nameof(colorType)) };

    public static void Write16BitGray(string path, ushort[] values, int width, int height)
        => Write(path, Encode(width, height, colorType: 0, bitDepth: 16, values));

    /// <summary>Writes <paramref name="png"/>, creating the folder.</summary>
    public static void Write(string path, byte[] png)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, png);
    }

    /// <summary>
    /// Encodes a PNG. <paramref name="samples"/> holds ChannelsOf(colorType) x width x height stored values
    /// (palette images: indices), row-major and interleaved.
    /// </summary>
    /// <param name="varyFilters">Use filter type (row % 5) instead of 0, exercising every unfilter path.</param>
    /// <param name="idatChunks">Split the compressed data over this many IDAT chunks.</param>
    /// <param name="extraChunks">Chunks (type, data) written between IHDR/PLTE and IDAT.</param>
    public static byte[] Encode(int width, int height, int colorType, int bitDepth, ushort[] samples, byte[]? palette = null,
        bool interlaced = false, bool varyFilters = false, int idatChunks = 1, IEnumerable<(string Type, byte[] Data)>? extraChunks = null)
    {
        int ch = ChannelsOf(colorType);
        if (samples.Length != ch * width * height) throw new ArgumentException("wrong sample count", nameof(samples));
        var raw = new MemoryStream();
        if (!interlaced)
        {
            EncodePass(raw, samples, width, ch, bitDepth, 0, 0, 1, 1, width, height, varyFilters);
        }
        else
        {
            foreach (var (x0, y0, dx, dy) in Adam7)
            {
                int pw = (width - x0 + dx - 1) / dx, ph = (height - y0 + dy - 1) / dy;
                if (pw > 0 && ph > 0) EncodePass(raw, samples, width, ch, bitDepth, x0, y0, dx, dy, pw, ph, varyFilters);
            }
        }
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = (byte)bitDepth;
        ihdr[9] = (byte)colorType;
        ihdr[12] = (byte)(interlaced ? 1 : 0);
        var z = new MemoryStream();
        using (var zs = new ZLibStream(z, CompressionLevel.Optimal, leaveOpen: true)) raw.WriteTo(zs);
        byte[] compressed = z.ToArray();
        var fs = new MemoryStream();
        fs.Write(Signature);
        Chunk(fs, "IHDR", ihdr);
        if (palette is not null) Chunk(fs, "PLTE", palette);
        foreach (var (type, data) in extraChunks ?? []) Chunk(fs, type, data);
        int per = (compressed.Length + idatChunks - 1) / idatChunks;
        for (int o = 0; o < compressed.Length; o += per)
            Chunk(fs, "IDAT", compressed[o..Math.Min(compressed.Length, o + per)]);
        Chunk(fs, "IEND", []);
        return fs.ToArray();
    }

    private static void EncodePass(Stream raw, ushort[] samples, int width, int ch, int depth,
        int x0, int y0, int dx, int dy, int pw, int ph, bool varyFilters)
    {
        int rowBytes = (pw * ch * depth + 7) / 8;
        int bpp = Math.Max(1, ch * depth / 8);
        var prev = new byte[rowBytes];
        for (int r = 0; r < ph; r++)
        {
            var row = new byte[rowBytes];
            int bit = 0;
            for (int c = 0; c < pw; c++)
            {
                int p = ((y0 + r * dy) * width + x0 + c * dx) * ch;
                for (int k = 0; k < ch; k++, bit += depth)
                {
                    int v = samples[p + k];
                    if (depth == 16) { row[bit / 8] = (byte)(v >> 8); row[bit / 8 + 1] = (byte)v; }
                    else if (depth == 8) row[bit / 8] = (byte)v;
                    else row[bit / 8] |= (byte)((v & ((1 << depth) - 1)) << (8 - depth - bit % 8));
                }
            }
            int filter = varyFilters ? r % 5 : 0;
            raw.WriteByte((byte)filter);
            for (int i = 0; i < rowBytes; i++)
            {
                int a = i >= bpp ? row[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
                int pred = filter switch
                {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => (a + b) >> 1,
                    _ => Paeth(a, b, c),
                };
                raw.WriteByte((byte)(row[i] - pred));
            }
            prev = row;
        }
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    /// <summary>One chunk: length, type, data, CRC.</summary>
    public static byte[] ChunkBytes(string type, byte[] data)
    {
        var s = new MemoryStream();
        Chunk(s, type, data);
        return s.ToArray();
    }

    private static void Chunk(Stream s, string type, byte[] data)
    {
        Span<byte> len = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(len, data.Length);
        s.Write(len);
        var td = new byte[4 + data.Length];
        System.Text.Encoding.ASCII.GetBytes(type, td);
        data.CopyTo(td, 4);
        s.Write(td);
        BinaryPrimitives.WriteUInt32BigEndian(len, Crc32(td));
        s.Write(len);
    }

    /// <summary>The chunks of a well-formed prefix of <paramref name="png"/>: offset of the length field, data length, type.</summary>
    public static List<(int Offset, int Length, string Type)> Chunks(byte[] png)
    {
        var list = new List<(int, int, string)>();
        int off = 8;
        while (off + 12 <= png.Length)
        {
            uint len = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(off));
            if (len > png.Length - off - 12) break;
            list.Add((off, (int)len, System.Text.Encoding.ASCII.GetString(png, off + 4, 4)));
            off += 12 + (int)len;
        }
        return list;
    }

    /// <summary>Recomputes the CRC of the chunk whose length field is at <paramref name="offset"/> (in place).</summary>
    public static void FixCrc(byte[] png, int offset)
    {
        int len = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(offset));
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(offset + 8 + len), Crc32(png.AsSpan(offset + 4, 4 + len)));
    }

    /// <summary>A copy of <paramref name="png"/> whose IHDR declares another size (CRC recomputed unless told otherwise).</summary>
    public static byte[] WithSize(byte[] png, uint width, uint height, bool fixCrc = true)
    {
        var copy = (byte[])png.Clone();
        BinaryPrimitives.WriteUInt32BigEndian(copy.AsSpan(16), width);
        BinaryPrimitives.WriteUInt32BigEndian(copy.AsSpan(20), height);
        if (fixCrc) FixCrc(copy, 8);
        return copy;
    }

    /// <summary>The decompressed (filtered) image data of a PNG's IDAT chunks.</summary>
    public static byte[] Inflate(byte[] png)
    {
        var z = new MemoryStream();
        foreach (var (off, len, type) in Chunks(png))
            if (type == "IDAT") z.Write(png, off + 8, len);
        z.Position = 0;
        var raw = new MemoryStream();
        using (var zs = new ZLibStream(z, CompressionMode.Decompress)) zs.CopyTo(raw);
        return raw.ToArray();
    }

    /// <summary>A copy of <paramref name="png"/> with its IDAT chunks replaced by one holding <paramref name="raw"/>, compressed.</summary>
    public static byte[] WithImageData(byte[] png, byte[] raw)
    {
        var z = new MemoryStream();
        using (var zs = new ZLibStream(z, CompressionLevel.Fastest, leaveOpen: true)) zs.Write(raw);
        var output = new MemoryStream();
        output.Write(png, 0, 8);
        bool written = false;
        foreach (var (off, len, type) in Chunks(png))
        {
            if (type == "IDAT")
            {
                if (!written) Chunk(output, "IDAT", z.ToArray());
                written = true;
                continue;
            }
            output.Write(png, off, len + 12);
        }
        return output.ToArray();
    }

    public static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
        return ~crc;
    }
}
