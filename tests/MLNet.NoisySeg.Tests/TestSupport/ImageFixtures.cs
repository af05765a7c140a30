using System.Buffers.Binary;
using SkiaSharp;

namespace MLNet.NoisySeg.Tests.TestSupport;

/// <summary>
/// Small valid JPEG, WebP (through SkiaSharp's encoders), BMP and GIF files (written by hand) for the header
/// tests, and helpers that rewrite the size a JPEG or BMP header declares. (GIF and WebP are refused by the loader.)
/// </summary>
internal static class ImageFixtures
{
    /// <summary>A gray gradient, width x height.</summary>
    public static byte[] Gradient(int width, int height)
    {
        var g = new byte[width * height];
        for (int i = 0; i < g.Length; i++) g[i] = (byte)(i * 255 / Math.Max(1, g.Length - 1));
        return g;
    }

    /// <summary>A colour JPEG (quality 95).</summary>
    public static byte[] Jpeg(int width, int height) => EncodeWithSkia(width, height, SKEncodedImageFormat.Jpeg, 95);

    /// <summary>A lossy WebP (a plain "VP8 " chunk for an opaque image).</summary>
    public static byte[] WebPLossy(int width, int height) => EncodeWithSkia(width, height, SKEncodedImageFormat.Webp, 90);

    /// <summary>A lossless WebP ("VP8L").</summary>
    public static byte[] WebPLossless(int width, int height)
    {
        using var bmp = ColourBitmap(width, height);
        using var pix = bmp.PeekPixels();
        using var data = pix.Encode(new SKWebpEncoderOptions(SKWebpEncoderCompression.Lossless, 100));
        return data.ToArray();
    }

    /// <summary>An uncompressed 24-bit bottom-up BMP (BITMAPINFOHEADER) of the gradient in blue, green and red.</summary>
    public static byte[] Bmp24(int width, int height)
    {
        int stride = (3 * width + 3) & ~3;
        var b = new byte[54 + stride * height];
        b[0] = (byte)'B'; b[1] = (byte)'M';
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(2), b.Length);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(10), 54);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(14), 40);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(18), width);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(22), height);
        BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(26), 1);
        BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(28), 24);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(34), stride * height);
        var g = Gradient(width, height);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int o = 54 + (height - 1 - y) * stride + 3 * x;
                b[o] = g[y * width + x];
                b[o + 1] = g[y * width + x];
                b[o + 2] = g[y * width + x];
            }
        return b;
    }

    /// <summary>A 32-bit BI_BITFIELDS BMP with the given channel masks (pixels all zero).</summary>
    public static byte[] Bmp32BitFields(int width, int height, uint red, uint green, uint blue)
    {
        const int offset = 54 + 12;
        var b = new byte[offset + 4 * width * height];
        b[0] = (byte)'B'; b[1] = (byte)'M';
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(2), b.Length);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(10), offset);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(14), 40);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(18), width);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(22), height);
        BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(26), 1);
        BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(28), 32);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(30), 3);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(34), 4 * width * height);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(54), red);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(58), green);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(62), blue);
        return b;
    }

    /// <summary>The classic 1x1 GIF89a (one white pixel, two-colour global palette).</summary>
    public static byte[] Gif1x1() =>
    [
        (byte)'G', (byte)'I', (byte)'F', (byte)'8', (byte)'9', (byte)'a', 1, 0, 1, 0, 0x80, 0, 0,
        0xFF, 0xFF, 0xFF, 0, 0, 0,
        0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0,
        2, 2, 0x44, 0x01, 0,
        0x3B,
    ];

    /// <summary>A gray (one-component) JPEG (quality 95).</summary>
    public static byte[] JpegGray(int width, int height)
    {
        using var bmp = new SKBitmap(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque));
        var g = Gradient(width, height);
        for (int y = 0; y < height; y++) System.Runtime.InteropServices.Marshal.Copy(g, y * width, bmp.GetPixels() + y * bmp.RowBytes, width);
        using var image = SKImage.FromBitmap(bmp);
        using var data = image.Encode(SKEncodedImageFormat.Jpeg, 95);
        return data.ToArray();
    }

    /// <summary>A copy of a JPEG whose frame header marker says arithmetic coding (SOF9) instead of Huffman (SOF0).</summary>
    public static byte[] JpegAsArithmetic(byte[] jpeg)
    {
        var b = (byte[])jpeg.Clone();
        b[SofOffset(b) + 1] = 0xC9;
        return b;
    }

    /// <summary>A copy of a JPEG whose first frame header (SOFn) declares another size.</summary>
    public static byte[] JpegWithSize(byte[] jpeg, int width, int height)
    {
        var b = (byte[])jpeg.Clone();
        int off = SofOffset(b);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(off + 5), (ushort)height);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(off + 7), (ushort)width);
        return b;
    }

    private static int SofOffset(byte[] b)
    {
        int off = 2;
        while (off + 4 < b.Length)
        {
            byte marker = b[off + 1];
            if (marker is >= 0xC0 and <= 0xCF && marker is not (0xC4 or 0xC8 or 0xCC)) return off;
            off += 2 + BinaryPrimitives.ReadUInt16BigEndian(b.AsSpan(off + 2));
        }
        throw new InvalidOperationException("no SOF marker");
    }

    /// <summary>A copy of a BMP whose info header declares another size.</summary>
    public static byte[] BmpWithSize(byte[] bmp, int width, int height)
    {
        var b = (byte[])bmp.Clone();
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(18), width);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(22), height);
        return b;
    }

    private static SKBitmap ColourBitmap(int width, int height)
    {
        var bmp = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                bmp.SetPixel(x, y, new SKColor((byte)(x * 255 / Math.Max(1, width - 1)), (byte)(y * 255 / Math.Max(1, height - 1)), 128));
        return bmp;
    }

    private static byte[] EncodeWithSkia(int width, int height, SKEncodedImageFormat format, int quality)
    {
        using var bmp = ColourBitmap(width, height);
        using var image = SKImage.FromBitmap(bmp);
        using var data = image.Encode(format, quality);
        return data.ToArray();
    }
}
