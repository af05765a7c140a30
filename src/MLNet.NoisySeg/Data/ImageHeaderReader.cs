using System.Buffers.Binary;
using System.Globalization;

namespace MLNet.NoisySeg.Data;

/// <summary>Image container formats the loader decodes (recognised by content, not by file extension).</summary>
internal enum ImageFormat
{
    /// <summary>PNG (all bit depths and colour types, interlaced or not).</summary>
    Png,
    /// <summary>JPEG (JFIF/EXIF).</summary>
    Jpeg,
    /// <summary>Windows/OS2 bitmap.</summary>
    Bmp,
}

/// <summary>
/// What a file's header declares, read by managed code before any pixel buffer is allocated or any native
/// decoder sees the file. PNG fields (<see cref="BitDepth"/>, <see cref="ColorType"/>, <see cref="Interlaced"/>)
/// are the IHDR values; other formats report bit depth 8 and colour type -1.
/// </summary>
internal readonly record struct ImageHeader(ImageFormat Format, int Width, int Height, int BitDepth, int ColorType, bool Interlaced)
{
    /// <summary>Width x height, without overflow.</summary>
    public long PixelCount => (long)Width * Height;

    /// <summary>PNG: samples per pixel of the colour type (gray 1, RGB 3, palette 1, gray+alpha 2, RGBA 4).</summary>
    public int PngChannels => ColorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, 6 => 4, _ => 0 };
}

/// <summary>
/// Parses and validates image headers (PNG IHDR, JPEG SOF, BMP info header) in managed code, so that a hostile or
/// corrupt header is refused with a <see cref="SegmentationDataException"/> in microseconds instead of reaching
/// SkiaSharp's native decoders or a huge allocation. Every read is bounds-checked; every size computation is done in
/// 64 bits. Besides the pixel limit, a file must be large enough to hold the image it declares, where the format
/// allows a bound: PNG (deflate expands at most 1032:1), Huffman-coded JPEG (at least one bit per 8x8 block) and
/// uncompressed BMP (rows stored in full). Other formats SkiaSharp could decode (GIF, WebP, ICO, WBMP, HEIF, ...)
/// are refused: a few bytes of them can legitimately describe an image of any size.
/// </summary>
internal static class ImageHeaderReader
{
    private static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Adam7 passes: x offset, y offset, x step, y step.</summary>
    internal static readonly (int X0, int Y0, int Dx, int Dy)[] Adam7 =
        [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)];

    /// <summary>
    /// Deflate cannot expand data by more than 1032:1 (a 258-byte match costs at least 2 bits). A PNG whose IDAT
    /// bytes cannot expand to the image its IHDR declares is refused before anything is allocated.
    /// </summary>
    internal const long MaxDeflateRatio = 1032;

    /// <summary>
    /// Reads the header of an image file and checks it against <paramref name="maxPixels"/>.
    /// </summary>
    /// <param name="file">The whole file.</param>
    /// <param name="path">The file's path, for error messages.</param>
    /// <param name="maxPixels">The largest accepted width x height.</param>
    /// <exception cref="SegmentationDataException">The file is empty, of an unsupported format, has a malformed
    /// or truncated header, declares an empty image or one larger than <paramref name="maxPixels"/>.</exception>
    public static ImageHeader Read(ReadOnlySpan<byte> file, string path, long maxPixels)
    {
        if (file.Length == 0)
            throw new SegmentationDataException(path, "is empty (0 bytes); expected a PNG, JPEG or BMP image.");
        ImageHeader h;
        if (file.Length >= 4 && file[..4].SequenceEqual(PngSignature.AsSpan(0, 4)))
            h = ReadPng(file, path);
        else if (file.Length >= 3 && file[0] == 0xFF && file[1] == 0xD8 && file[2] == 0xFF)
            h = ReadJpeg(file, path);
        else if (file.Length >= 2 && file[0] == (byte)'B' && file[1] == (byte)'M')
            h = ReadBmp(file, path);
        else if (KnownUnsupported(file) is string format)
            throw new SegmentationDataException(path, $"is a {format} file; the loader decodes PNG, JPEG and BMP only (convert it to PNG).");
        else
            throw new SegmentationDataException(path, "is not a PNG, JPEG or BMP image (unrecognised file signature); the file is corrupt or of an unsupported format.");

        if (h.Width <= 0 || h.Height <= 0)
            throw new SegmentationDataException(path, $"declares an empty or invalid image size {h.Width}x{h.Height} in its {h.Format} header.");
        CheckPixelLimit(path, h.Width, h.Height, maxPixels);
        if (h.Format == ImageFormat.Png)
            CheckPngDataSuffices(file, path, h);
        else if (h.Format == ImageFormat.Bmp)
            CheckBmpDataSuffices(file, path, h);
        else
            CheckJpegDataSuffices(file, path, h);
        return h;
    }

    private static string? KnownUnsupported(ReadOnlySpan<byte> file)
    {
        if (file.Length >= 4 && (file[..4].SequenceEqual("II*\0"u8) || file[..4].SequenceEqual("MM\0*"u8))) return "TIFF";
        if (file.Length >= 6 && (file[..6].SequenceEqual("GIF87a"u8) || file[..6].SequenceEqual("GIF89a"u8))) return "GIF";
        if (file.Length >= 12 && file[..4].SequenceEqual("RIFF"u8) && file.Slice(8, 4).SequenceEqual("WEBP"u8)) return "WebP";
        if (file.Length >= 4 && file[0] == 0 && file[1] == 0 && file[2] is 1 or 2 && file[3] == 0) return "ICO/CUR";
        if (file.Length >= 12 && file.Slice(4, 4).SequenceEqual("ftyp"u8)) return "HEIF/AVIF";
        return null;
    }

    /// <summary>
    /// A Huffman-coded JPEG spends at least one bit per 8x8 block of its largest component (the DC code of a
    /// complete scan), so it holds at least width x height / 512 bytes; twice that margin is required.
    /// </summary>
    private static void CheckJpegDataSuffices(ReadOnlySpan<byte> file, string path, ImageHeader h)
    {
        long blocks = ((h.Width + 7L) / 8) * ((h.Height + 7L) / 8);
        if (blocks > 16L * file.Length)
            throw new SegmentationDataException(path, string.Format(CultureInfo.InvariantCulture,
                "declares a {0}x{1} JPEG ({2:N0} blocks of 8x8 pixels) but has only {3:N0} bytes, fewer than its coded blocks need; " +
                "the file is truncated or its header is corrupt.", h.Width, h.Height, blocks, file.Length));
    }

    /// <summary>Throws when width x height exceeds the limit.</summary>
    internal static void CheckPixelLimit(string path, long width, long height, long maxPixels)
    {
        long pixels = width * height;
        if (pixels > maxPixels)
            throw new SegmentationDataException(path, string.Format(CultureInfo.InvariantCulture,
                "declares a {0}x{1} image ({2:N0} pixels), more than MaxImagePixels = {3:N0}; refused before decoding. " +
                "Raise SegmentationFolderOptions.MaxImagePixels to load larger images.", width, height, pixels, maxPixels));
    }

    /// <summary>Bytes of one filtered PNG row (without the filter byte).</summary>
    internal static long PngRowBytes(long width, int bitsPerPixel) => (width * bitsPerPixel + 7) / 8;

    /// <summary>Bytes of the whole filtered (decompressed) PNG image data, filter bytes included.</summary>
    internal static long PngFilteredSize(ImageHeader h)
    {
        int bits = h.PngChannels * h.BitDepth;
        if (!h.Interlaced) return h.Height * (1 + PngRowBytes(h.Width, bits));
        long total = 0;
        foreach (var (x0, y0, dx, dy) in Adam7)
        {
            long pw = (h.Width - x0 + dx - 1L) / dx, ph = (h.Height - y0 + dy - 1L) / dy;
            if (pw > 0 && ph > 0) total += ph * (1 + PngRowBytes(pw, bits));
        }
        return total;
    }

    private static ImageHeader ReadPng(ReadOnlySpan<byte> file, string path)
    {
        if (file.Length < 8 || !file[..8].SequenceEqual(PngSignature))
            throw new SegmentationDataException(path, "has a damaged PNG signature (the file was altered in transfer, or is truncated).");
        // Signature (8) + IHDR length/type (8) + IHDR data (13) + CRC (4).
        if (file.Length < 33)
            throw new SegmentationDataException(path, $"is a truncated PNG ({file.Length} bytes; the IHDR header alone needs 33).");
        uint length = BinaryPrimitives.ReadUInt32BigEndian(file[8..]);
        if (!file.Slice(12, 4).SequenceEqual("IHDR"u8) || length != 13)
            throw new SegmentationDataException(path, "is not a valid PNG: the first chunk must be a 13-byte IHDR.");
        uint crc = BinaryPrimitives.ReadUInt32BigEndian(file[29..]);
        if (Crc32.Compute(file.Slice(12, 17)) != crc)
            throw new SegmentationDataException(path, "is a corrupt PNG: the IHDR chunk's CRC does not match its contents.");
        uint w = BinaryPrimitives.ReadUInt32BigEndian(file[16..]);
        uint hgt = BinaryPrimitives.ReadUInt32BigEndian(file[20..]);
        int depth = file[24], colour = file[25], compression = file[26], filter = file[27], interlace = file[28];
        if (w == 0 || hgt == 0 || w > int.MaxValue || hgt > int.MaxValue)
            throw new SegmentationDataException(path, $"declares an invalid PNG size {w}x{hgt} (each side must be 1..2^31-1).");
        bool valid = colour switch
        {
            0 => depth is 1 or 2 or 4 or 8 or 16,
            3 => depth is 1 or 2 or 4 or 8,
            2 or 4 or 6 => depth is 8 or 16,
            _ => false,
        };
        if (!valid)
            throw new SegmentationDataException(path, $"declares an invalid PNG bit depth {depth} for colour type {colour}.");
        if (compression != 0 || filter != 0 || interlace > 1)
            throw new SegmentationDataException(path, $"declares an unknown PNG compression ({compression}), filter ({filter}) or interlace ({interlace}) method.");
        return new ImageHeader(ImageFormat.Png, (int)w, (int)hgt, depth, colour, interlace == 1);
    }

    /// <summary>
    /// Refuses a PNG whose IDAT chunks hold fewer compressed bytes than could possibly expand to the declared
    /// image (a tiny file claiming a large size), without decompressing anything.
    /// </summary>
    private static void CheckPngDataSuffices(ReadOnlySpan<byte> file, string path, ImageHeader h)
    {
        long idat = 0;
        long off = 8;
        while (off + 8 <= file.Length)
        {
            uint length = BinaryPrimitives.ReadUInt32BigEndian(file[(int)off..]);
            var type = file.Slice((int)off + 4, 4);
            long data = off + 8;
            long available = Math.Min(length, file.Length - data);
            if (type.SequenceEqual("IDAT"u8)) idat += available;
            if (type.SequenceEqual("IEND"u8) || length > int.MaxValue) break;
            off = data + length + 4;
        }
        long needed = PngFilteredSize(h);
        // Two bytes of zlib header, and a little slack for the first literal of each block.
        if (needed > idat * MaxDeflateRatio + 1024)
            throw new SegmentationDataException(path, string.Format(CultureInfo.InvariantCulture,
                "declares a {0}x{1} PNG ({2:N0} bytes of image data) but holds only {3:N0} bytes of compressed data (IDAT), " +
                "which cannot expand to that; the file is truncated or its header is corrupt.", h.Width, h.Height, needed, idat));
    }

    private static ImageHeader ReadJpeg(ReadOnlySpan<byte> file, string path)
    {
        int off = 2;
        while (true)
        {
            // Find the next marker: 0xFF followed by a non-0xFF, non-zero byte (libjpeg skips stray bytes the same way).
            while (off < file.Length && file[off] != 0xFF) off++;
            while (off < file.Length && file[off] == 0xFF) off++;
            if (off >= file.Length)
                throw new SegmentationDataException(path, "is a truncated or corrupt JPEG: no frame header (SOF) found.");
            byte marker = file[off++];
            if (marker == 0x00 || marker == 0x01 || marker is >= 0xD0 and <= 0xD8) continue; // stuffed byte, TEM, RSTn, SOI
            if (marker == 0xD9 || marker == 0xDA)
                throw new SegmentationDataException(path, "is a corrupt JPEG: its image data starts before any frame header (SOF).");
            if (off + 2 > file.Length)
                throw new SegmentationDataException(path, "is a truncated JPEG: a segment header is cut off.");
            int length = BinaryPrimitives.ReadUInt16BigEndian(file[off..]);
            if (length < 2)
                throw new SegmentationDataException(path, $"is a corrupt JPEG: segment 0xFF{marker:X2} declares length {length}.");
            bool sof = marker is >= 0xC0 and <= 0xCF && marker is not (0xC4 or 0xC8 or 0xCC);
            if (sof)
            {
                if (length < 8 || off + 8 > file.Length)
                    throw new SegmentationDataException(path, "is a truncated or corrupt JPEG: its frame header (SOF) is cut off.");
                int height = BinaryPrimitives.ReadUInt16BigEndian(file[(off + 3)..]);
                int width = BinaryPrimitives.ReadUInt16BigEndian(file[(off + 5)..]);
                int precision = file[off + 2];
                if (marker is >= 0xC9)
                    throw new SegmentationDataException(path, "is an arithmetic-coded JPEG, which is not supported (re-encode it with Huffman coding, or as PNG).");
                if (height == 0)
                    throw new SegmentationDataException(path, "is a JPEG whose height is defined by a DNL marker, which is not supported.");
                return new ImageHeader(ImageFormat.Jpeg, width, height, precision, -1, false);
            }
            off += length;
        }
    }

    private static ImageHeader ReadBmp(ReadOnlySpan<byte> file, string path)
    {
        if (file.Length < 18 + 8)
            throw new SegmentationDataException(path, $"is a truncated BMP ({file.Length} bytes; the headers alone need at least 26).");
        uint infoSize = BinaryPrimitives.ReadUInt32LittleEndian(file[14..]);
        long width, height;
        uint compression = 0;
        if (infoSize == 12)
        {
            width = BinaryPrimitives.ReadUInt16LittleEndian(file[18..]);
            height = BinaryPrimitives.ReadUInt16LittleEndian(file[20..]);
        }
        else if (infoSize is >= 16 and <= 4096)
        {
            if (file.Length < 30)
                throw new SegmentationDataException(path, $"is a truncated BMP ({file.Length} bytes).");
            width = BinaryPrimitives.ReadInt32LittleEndian(file[18..]);
            height = Math.Abs((long)BinaryPrimitives.ReadInt32LittleEndian(file[22..])); // negative = top-down rows
            if (infoSize >= 20 && file.Length >= 34) compression = BinaryPrimitives.ReadUInt32LittleEndian(file[30..]);
        }
        else
        {
            throw new SegmentationDataException(path, $"is a corrupt BMP: its info header declares {infoSize} bytes.");
        }
        if (width <= 0 || height <= 0 || width > int.MaxValue || height > int.MaxValue)
            throw new SegmentationDataException(path, $"declares an invalid BMP size {width}x{height}.");
        // Widest colour channel: 8 bits unless bit-field masks (BI_BITFIELDS / BI_ALPHABITFIELDS) say otherwise;
        // the decoder keeps the top 8 bits of wider channels, which masks must not allow.
        int channelBits = 8;
        if ((compression is 3 or 6) && infoSize >= 40 && file.Length >= 14 + 40 + 12)
            for (int k = 0; k < 3; k++)
                channelBits = Math.Max(channelBits, System.Numerics.BitOperations.PopCount(BinaryPrimitives.ReadUInt32LittleEndian(file[(54 + 4 * k)..])));
        return new ImageHeader(ImageFormat.Bmp, (int)width, (int)height, channelBits, -1, false);
    }

    /// <summary>
    /// Uncompressed BMP rows are stored in full: a file too short to hold them is truncated. Checked after the
    /// pixel limit and before any allocation, so a tiny file cannot claim a large image.
    /// </summary>
    private static void CheckBmpDataSuffices(ReadOnlySpan<byte> file, string path, ImageHeader h)
    {
        uint infoSize = BinaryPrimitives.ReadUInt32LittleEndian(file[14..]);
        int bitCount = infoSize == 12 ? BinaryPrimitives.ReadUInt16LittleEndian(file[24..]) : BinaryPrimitives.ReadUInt16LittleEndian(file[28..]);
        uint compression = infoSize >= 20 && file.Length >= 34 ? BinaryPrimitives.ReadUInt32LittleEndian(file[30..]) : 0;
        if (compression is not (0 or 3 or 6) || bitCount is not (1 or 2 or 4 or 8 or 16 or 24 or 32)) return;
        long stride = ((long)h.Width * bitCount + 31) / 32 * 4;
        long needed = stride * h.Height; // at most ~2^29 pixels x 4 bytes: no overflow
        if (needed > file.Length)
            throw new SegmentationDataException(path, string.Format(CultureInfo.InvariantCulture,
                "declares an uncompressed {0}x{1} BMP ({2:N0} bytes of pixels) but has only {3:N0} bytes; the file is truncated or its header is corrupt.",
                h.Width, h.Height, needed, file.Length));
    }
}

/// <summary>CRC-32 (ISO-HDLC, as used by PNG and zlib), table-driven.</summary>
internal static class Crc32
{
    private static readonly uint[] Table = MakeTable();

    /// <summary>The CRC of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => Append(0, data);

    /// <summary>The CRC of the bytes whose CRC is <paramref name="crc"/> followed by <paramref name="data"/> (start with 0).</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        crc = ~crc;
        foreach (byte b in data) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return ~crc;
    }

    private static uint[] MakeTable()
    {
        var t = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[n] = c;
        }
        return t;
    }
}
