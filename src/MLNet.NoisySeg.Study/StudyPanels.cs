using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.MetaStructure;

namespace MLNet.NoisySeg.Study;

/// <summary>
/// Image panels of the study report: image | clean mask | corrupted mask | density of the corrupted mask | prediction,
/// side by side with a white gap, as one RGB PNG (composed from the arrays; no plotting involved).
/// </summary>
public static class StudyPanels
{
    private const int Gap = 4;

    /// <summary>Colour of a class index (binary: black background, white foreground; ignore: dark red).</summary>
    /// <param name="classIndex">Class index or 255.</param>
    /// <param name="classCount">Number of classes.</param>
    public static (byte R, byte G, byte B) ClassColor(int classIndex, int classCount)
    {
        if (classIndex == MaskConventions.IgnoreIndex) return (110, 0, 0);
        if (classCount == 2) return classIndex == 0 ? ((byte)0, (byte)0, (byte)0) : ((byte)255, (byte)255, (byte)255);
        ReadOnlySpan<int> palette = [0x808080, 0x800000, 0xC0C080, 0x804080, 0x3C28DE, 0x808000, 0xC08080, 0x404080, 0x400080, 0x404000, 0x0080C0, 0x00C000];
        if (classIndex < palette.Length)
        {
            int c = palette[classIndex];
            return ((byte)(c >> 16), (byte)(c >> 8), (byte)c);
        }
        double hue = (classIndex * 0.618033988749895) % 1.0;
        var (r, g, b) = Hsv(hue, 0.7, 0.9);
        return (r, g, b);
    }

    /// <summary>Writes a panel PNG for one image.</summary>
    /// <param name="path">Destination PNG (written atomically).</param>
    /// <param name="item">The image (planar [C, H, W], C = 1 or 3).</param>
    /// <param name="clean">Clean mask.</param>
    /// <param name="corrupted">Corrupted mask.</param>
    /// <param name="prediction">Predicted mask.</param>
    /// <param name="classCount">Number of classes.</param>
    /// <param name="bandwidth">Box half-size of the density map.</param>
    public static void Write(string path, SegmentationItem item, byte[] clean, byte[] corrupted, byte[] prediction, int classCount, int bandwidth)
    {
        ArgumentNullException.ThrowIfNull(item);
        int h = item.Height, w = item.Width, n = h * w;
        var density = DensityMap.ComputeBox(corrupted, w, h, classCount, bandwidth);
        int total = 5 * w + 4 * Gap;
        var rgb = new byte[3 * total * h];
        Array.Fill(rgb, (byte)255);
        // Image, min-max scaled (gray replicated), by the library's one float-to-8-bit conversion.
        var image = PngWriter.ToRgb(item.Image, item.Channels, h, w);
        for (int i = 0; i < n; i++)
            for (int c = 0; c < 3; c++) Set(rgb, total, 0, i, w, c, image[3 * i + c]);
        PaintMask(rgb, total, 1, clean, w, classCount);
        PaintMask(rgb, total, 2, corrupted, w, classCount);
        for (int i = 0; i < n; i++)
        {
            double r = 0, g = 0, b = 0;
            for (int m = 0; m < classCount; m++)
            {
                var (cr, cg, cb) = ClassColor(m, classCount);
                float d = density[m * n + i];
                r += d * cr; g += d * cg; b += d * cb;
            }
            Set(rgb, total, 3, i, w, 0, (byte)Math.Clamp((int)Math.Round(r), 0, 255));
            Set(rgb, total, 3, i, w, 1, (byte)Math.Clamp((int)Math.Round(g), 0, 255));
            Set(rgb, total, 3, i, w, 2, (byte)Math.Clamp((int)Math.Round(b), 0, 255));
        }
        PaintMask(rgb, total, 4, prediction, w, classCount);
        PngWriter.WriteRgb(path, rgb, total, h);
    }

    private static void PaintMask(byte[] rgb, int total, int tile, byte[] mask, int w, int classCount)
    {
        for (int i = 0; i < mask.Length; i++)
        {
            var (r, g, b) = ClassColor(mask[i], classCount);
            Set(rgb, total, tile, i, w, 0, r);
            Set(rgb, total, tile, i, w, 1, g);
            Set(rgb, total, tile, i, w, 2, b);
        }
    }

    private static void Set(byte[] rgb, int total, int tile, int pixel, int w, int channel, byte value)
    {
        int y = pixel / w, x = pixel % w;
        int X = tile * (w + Gap) + x;
        rgb[3 * (y * total + X) + channel] = value;
    }

    private static (byte, byte, byte) Hsv(double h, double s, double v)
    {
        double c = v * s, x = c * (1 - Math.Abs(h * 6 % 2 - 1)), m = v - c;
        (double r, double g, double b) = (int)(h * 6) switch
        {
            0 => (c, x, 0.0), 1 => (x, c, 0.0), 2 => (0.0, c, x), 3 => (0.0, x, c), 4 => (x, 0.0, c), _ => (c, 0.0, x),
        };
        return ((byte)((r + m) * 255), (byte)((g + m) * 255), (byte)((b + m) * 255));
    }
}
