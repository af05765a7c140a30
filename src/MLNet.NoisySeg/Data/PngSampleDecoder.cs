using System.Buffers.Binary;
using System.IO.Compression;

namespace MLNet.NoisySeg.Data;

/// <summary>
/// A managed PNG decoder that returns samples at the file's stored bit depth (1, 2, 4, 8 or 16 bits), used for
/// masks so that 16-bit class indices are never rounded to 8 bits. Supports every colour type (gray, RGB,
/// palette, gray+alpha, RGBA; alpha is dropped), every filter and Adam7 interlacing. Critical chunks are
/// CRC-checked, as libpng does; ancillary chunks (gAMA, tRNS, iCCP, text ...) are skipped. The header must
/// already have passed <see cref="ImageHeaderReader.Read"/> (size limit and IDAT plausibility).
/// </summary>
internal static class PngSampleDecoder
{
    /// <summary>Decodes a PNG file whose header has been validated.</summary>
    /// <param name="file">The whole file.</param>
    /// <param name="header">Its header, from <see cref="ImageHeaderReader.Read"/>.</param>
    /// <param name="path">The file's path, for error messages.</param>
    /// <exception cref="SegmentationDataException">The file is truncated or corrupt.</exception>
    public static MaskSamples Decode(byte[] file, ImageHeader header, string path)
    {
        if (header.Format != ImageFormat.Png) throw new ArgumentException("Not a PNG header.", nameof(header));
        var (idat, palette) = ReadChunks(file, header, path);
        int w = header.Width, h = header.Height, depth = header.BitDepth, colour = header.ColorType;
        bool gray = colour is 0 or 4;
        int outChannels = gray ? 1 : 3;
        long count = (long)outChannels * w * h;
        if (count > Array.MaxLength)
            throw new SegmentationDataException(path, $"is {w}x{h}, too large to hold in memory as one array.");
        byte[]? narrow = null;
        ushort[]? wide = null;
        try
        {
            if (depth == 16) wide = new ushort[count];
            else narrow = new byte[count];
            using var z = new ZLibStream(new SegmentStream(file, idat), CompressionMode.Decompress);
            if (!header.Interlaced)
            {
                DecodePass(z, header, palette, path, 0, 0, 1, 1, w, h, narrow, wide);
            }
            else
            {
                foreach (var (x0, y0, dx, dy) in ImageHeaderReader.Adam7)
                {
                    int pw = (w - x0 + dx - 1) / dx, ph = (h - y0 + dy - 1) / dy;
                    if (pw > 0 && ph > 0) DecodePass(z, header, palette, path, x0, y0, dx, dy, pw, ph, narrow, wide);
                }
            }
        }
        catch (EndOfStreamException e)
        {
            throw new SegmentationDataException(path, "is a truncated PNG: its compressed image data (IDAT) ends before the last row.", e);
        }
        catch (InvalidDataException e)
        {
            throw new SegmentationDataException(path, $"is a corrupt PNG: its compressed image data (IDAT) is not valid zlib data ({e.Message}).", e);
        }
        catch (OutOfMemoryException e)
        {
            throw new SegmentationDataException(path, $"is {w}x{h}; not enough memory to decode it.", e);
        }
        // Palette colours are 8-bit whatever the index depth.
        return new MaskSamples(w, h, gray, colour == 3 ? 8 : depth, narrow, wide);
    }

    private static (List<(int Offset, int Length)> Idat, byte[]? Palette) ReadChunks(byte[] file, ImageHeader header, string path)
    {
        var idat = new List<(int, int)>();
        byte[]? palette = null;
        bool idatEnded = false;
        int off = 8;
        while (off < file.Length)
        {
            if (file.Length - off < 12)
                throw new SegmentationDataException(path, $"is a truncated PNG: a chunk at byte {off} is cut off.");
            uint length = BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(off));
            var type = file.AsSpan(off + 4, 4);
            string name = ChunkName(type);
            if (length > (uint)(file.Length - off - 12))
                throw new SegmentationDataException(path, $"is a truncated or corrupt PNG: chunk '{name}' at byte {off} declares {length} bytes but only {file.Length - off - 12} remain.");
            foreach (byte b in type)
                if (b is not ((>= (byte)'A' and <= (byte)'Z') or (>= (byte)'a' and <= (byte)'z')))
                    throw new SegmentationDataException(path, $"is a corrupt PNG: invalid chunk type '{name}' at byte {off}.");
            int len = (int)length;
            bool critical = (type[0] & 0x20) == 0;
            if (critical && Crc32.Compute(file.AsSpan(off + 4, 4 + len)) != BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(off + 8 + len)))
                throw new SegmentationDataException(path, $"is a corrupt PNG: the CRC of chunk '{name}' at byte {off} does not match its contents.");
            bool isIdat = type.SequenceEqual("IDAT"u8);
            if (idat.Count > 0 && !isIdat) idatEnded = true;
            if (isIdat)
            {
                if (idatEnded)
                    throw new SegmentationDataException(path, $"is a corrupt PNG: IDAT chunks are not consecutive (another one at byte {off}).");
                idat.Add((off + 8, len));
            }
            else if (type.SequenceEqual("IEND"u8))
            {
                break;
            }
            else if (type.SequenceEqual("IHDR"u8))
            {
                if (off != 8) throw new SegmentationDataException(path, $"is a corrupt PNG: a second IHDR chunk at byte {off}.");
            }
            else if (type.SequenceEqual("PLTE"u8))
            {
                if (idat.Count > 0 || palette is not null)
                    throw new SegmentationDataException(path, $"is a corrupt PNG: misplaced or repeated PLTE chunk at byte {off}.");
                if (len == 0 || len % 3 != 0 || len > 3 * 256)
                    throw new SegmentationDataException(path, $"is a corrupt PNG: PLTE chunk of {len} bytes (must be 3 x 1..256).");
                palette = file.AsSpan(off + 8, len).ToArray();
            }
            else if (critical)
            {
                throw new SegmentationDataException(path, $"is a PNG with an unknown critical chunk '{name}' at byte {off}.");
            }
            off += 12 + len;
        }
        if (idat.Count == 0)
            throw new SegmentationDataException(path, "is a truncated or corrupt PNG: it has no image data (IDAT chunk).");
        if (header.ColorType == 3 && palette is null)
            throw new SegmentationDataException(path, "is a corrupt PNG: a palette image without a PLTE chunk.");
        return (idat, header.ColorType == 3 ? palette : null);
    }

    private static string ChunkName(ReadOnlySpan<byte> type)
    {
        Span<char> c = stackalloc char[4];
        for (int i = 0; i < 4; i++) c[i] = type[i] is >= 0x20 and < 0x7F ? (char)type[i] : '?';
        return new string(c);
    }

    /// <summary>Decodes one (sub-)image of <paramref name="pw"/> x <paramref name="ph"/> pixels placed at (x0 + i dx, y0 + j dy).</summary>
    private static void DecodePass(Stream z, ImageHeader header, byte[]? palette, string path,
        int x0, int y0, int dx, int dy, int pw, int ph, byte[]? narrow, ushort[]? wide)
    {
        int depth = header.BitDepth, fileChannels = header.PngChannels, w = header.Width;
        int bitsPerPixel = depth * fileChannels;
        long rowBytesLong = ImageHeaderReader.PngRowBytes(pw, bitsPerPixel);
        if (rowBytesLong + 1 > Array.MaxLength)
            throw new SegmentationDataException(path, $"has rows of {rowBytesLong} bytes, too long to decode.");
        int rowBytes = (int)rowBytesLong;
        int bpp = Math.Max(1, bitsPerPixel / 8);
        bool gray = header.ColorType is 0 or 4;
        int outChannels = gray ? 1 : 3;
        int paletteCount = palette is null ? 0 : palette.Length / 3;
        // line[0] is the filter byte; pixel bytes follow.
        var line = new byte[rowBytes + 1];
        var prev = new byte[rowBytes + 1];
        for (int r = 0; r < ph; r++)
        {
            z.ReadExactly(line);
            int filter = line[0];
            Unfilter(filter, line, prev, bpp, rowBytes, path, y0 + r * dy);
            long rowStart = (long)(y0 + r * dy) * w;
            if (dx == 1 && depth == 8 && (header.ColorType is 0 or 2))
            {
                // Non-interlaced 8-bit gray or RGB: the row is the output as is.
                line.AsSpan(1, rowBytes).CopyTo(narrow!.AsSpan((int)(rowStart * outChannels), rowBytes));
                (line, prev) = (prev, line);
                continue;
            }
            for (int c = 0; c < pw; c++)
            {
                long o = (rowStart + x0 + (long)c * dx) * outChannels;
                if (depth == 16)
                {
                    int b = 1 + 2 * c * fileChannels;
                    for (int k = 0; k < outChannels; k++)
                        wide![o + k] = (ushort)(line[b + 2 * k] << 8 | line[b + 2 * k + 1]);
                }
                else if (depth == 8 && header.ColorType != 3)
                {
                    int b = 1 + c * fileChannels;
                    for (int k = 0; k < outChannels; k++) narrow![o + k] = line[b + k];
                }
                else
                {
                    // One sample per pixel: gray or palette index at 1, 2, 4 or 8 bits.
                    int bit = c * depth;
                    int v = (line[1 + (bit >> 3)] >> (8 - depth - (bit & 7))) & ((1 << depth) - 1);
                    if (header.ColorType == 3)
                    {
                        if (v >= paletteCount)
                            throw new SegmentationDataException(path, $"is a corrupt PNG: pixel ({x0 + c * dx}, {y0 + r * dy}) uses palette index {v} but PLTE has {paletteCount} entries.");
                        narrow![o] = palette![3 * v];
                        narrow[o + 1] = palette[3 * v + 1];
                        narrow[o + 2] = palette[3 * v + 2];
                    }
                    else
                    {
                        narrow![o] = (byte)v;
                    }
                }
            }
            (line, prev) = (prev, line);
        }
    }

    private static void Unfilter(int filter, byte[] line, byte[] prev, int bpp, int rowBytes, string path, int y)
    {
        int end = rowBytes + 1;
        switch (filter)
        {
            case 0:
                break;
            case 1:
                for (int i = 1 + bpp; i < end; i++) line[i] += line[i - bpp];
                break;
            case 2:
                for (int i = 1; i < end; i++) line[i] += prev[i];
                break;
            case 3:
                for (int i = 1; i < end; i++)
                {
                    int left = i > bpp ? line[i - bpp] : 0;
                    line[i] += (byte)((left + prev[i]) >> 1);
                }
                break;
            case 4:
                for (int i = 1; i < end; i++)
                {
                    int a = i > bpp ? line[i - bpp] : 0, b = prev[i], c = i > bpp ? prev[i - bpp] : 0;
                    int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
                    line[i] += (byte)(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
                }
                break;
            default:
                throw new SegmentationDataException(path, $"is a corrupt PNG: row {y} uses filter type {filter} (0-4 allowed).");
        }
    }

    /// <summary>A read-only stream over the IDAT payloads of a PNG file held in memory.</summary>
    private sealed class SegmentStream(byte[] file, List<(int Offset, int Length)> segments) : Stream
    {
        private int _segment;
        private int _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            while (_segment < segments.Count)
            {
                var (start, length) = segments[_segment];
                int n = Math.Min(buffer.Length, length - _position);
                if (n > 0)
                {
                    file.AsSpan(start + _position, n).CopyTo(buffer);
                    _position += n;
                    return n;
                }
                if (buffer.Length == 0) return 0;
                _segment++;
                _position = 0;
            }
            return 0;
        }
    }
}
