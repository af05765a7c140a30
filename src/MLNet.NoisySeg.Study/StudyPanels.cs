using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.MetaStructure;
using SkiaSharp;

namespace MLNet.NoisySeg.Study;

/// <summary>
/// Image panels of the study report, one RGB PNG per condition: the columns image | clean mask | corrupted mask |
/// density map of the corrupted mask | prediction, each titled, with the density map's colour scale under it. Binary:
/// the foreground density on a dark-blue-to-yellow scale from 0 to the map's own maximum (a sparse corruption keeps a
/// visible map; the bar says what yellow means). Multi-class: the class colours mixed by their densities.
/// </summary>
public static class StudyPanels
{
    private const int Gap = 6;
    private const int TitleHeight = 20;
    private const int ScaleHeight = 30;
    private static readonly int[] DensityStops = [0x440154, 0x3B528B, 0x21918C, 0x5EC962, 0xFDE725];

    /// <summary>The column titles, left to right.</summary>
    public static IReadOnlyList<string> Titles { get; } = ["image", "clean mask", "corrupted mask", "density map", "prediction"];

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

    /// <summary>The density colour scale at t in [0, 1] (viridis-like: dark blue, teal, green, yellow).</summary>
    /// <param name="t">Position on the scale.</param>
    public static (byte R, byte G, byte B) DensityColor(double t)
    {
        t = double.IsFinite(t) ? Math.Clamp(t, 0, 1) : 0;
        double x = t * (DensityStops.Length - 1);
        int i = Math.Min((int)x, DensityStops.Length - 2);
        double f = x - i;
        byte Mix(int shift) => (byte)Math.Round(((DensityStops[i] >> shift) & 0xFF) * (1 - f) + ((DensityStops[i + 1] >> shift) & 0xFF) * f);
        return (Mix(16), Mix(8), Mix(0));
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
        // Tiles of at least 128 pixels wide, so that the titles fit (nearest-neighbour enlargement of small images).
        int zoom = Math.Max(1, (int)Math.Ceiling(128.0 / w));
        int tw = w * zoom, th = h * zoom;
        int total = 5 * tw + 4 * Gap, height = TitleHeight + th + ScaleHeight;
        var tiles = new byte[5][];
        tiles[0] = PngWriter.ToRgb(item.Image, item.Channels, h, w); // min-max scaled, by the library's one float-to-8-bit conversion
        tiles[1] = MaskRgb(clean, classCount);
        tiles[2] = MaskRgb(corrupted, classCount);
        var density = DensityMap.ComputeBox(corrupted, w, h, classCount, bandwidth);
        float max = 0;
        if (classCount == 2)
            for (int i = 0; i < n; i++) max = Math.Max(max, density[n + i]);
        float scaleMax = max > 0 ? max : 1;
        tiles[3] = new byte[3 * n];
        for (int i = 0; i < n; i++)
        {
            (byte R, byte G, byte B) c;
            if (classCount == 2) c = DensityColor(density[n + i] / scaleMax);
            else
            {
                double r = 0, g = 0, b = 0, sum = 0;
                for (int m = 0; m < classCount; m++)
                {
                    var (cr, cg, cb) = ClassColor(m, classCount);
                    float d = density[m * n + i];
                    r += d * cr; g += d * cg; b += d * cb; sum += d;
                }
                if (sum > 0) { r /= sum; g /= sum; b /= sum; } // pixels whose window is partly ignored keep full brightness
                c = ((byte)Math.Clamp(Math.Round(r), 0, 255), (byte)Math.Clamp(Math.Round(g), 0, 255), (byte)Math.Clamp(Math.Round(b), 0, 255));
            }
            (tiles[3][3 * i], tiles[3][3 * i + 1], tiles[3][3 * i + 2]) = c;
        }
        tiles[4] = MaskRgb(prediction, classCount);

        using var bitmap = new SKBitmap(new SKImageInfo(total, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        using var canvas = new SKCanvas(bitmap);
        canvas.Clear(SKColors.White);
        var pixels = new byte[4 * total * height];
        for (int t = 0; t < 5; t++)
            for (int y = 0; y < th; y++)
                for (int x = 0; x < tw; x++)
                {
                    int src = 3 * ((y / zoom) * w + x / zoom), dst = 4 * ((TitleHeight + y) * total + t * (tw + Gap) + x);
                    pixels[dst] = tiles[t][src]; pixels[dst + 1] = tiles[t][src + 1]; pixels[dst + 2] = tiles[t][src + 2]; pixels[dst + 3] = 255;
                }
        for (int y = 0; y < height; y++)
            for (int x = 0; x < total; x++)
            {
                int i = 4 * (y * total + x);
                if (pixels[i + 3] == 0) { pixels[i] = pixels[i + 1] = pixels[i + 2] = pixels[i + 3] = 255; }
            }
        System.Runtime.InteropServices.Marshal.Copy(pixels, 0, bitmap.GetPixels(), pixels.Length);

        using var typeface = SKTypeface.FromFamilyName("DejaVu Sans") ?? SKTypeface.Default;
        using var text = new SKPaint { Color = SKColors.Black, IsAntialias = true, TextSize = 13, Typeface = typeface, TextAlign = SKTextAlign.Center };
        using var small = new SKPaint { Color = SKColors.Black, IsAntialias = true, TextSize = 11, Typeface = typeface };
        for (int t = 0; t < 5; t++)
            canvas.DrawText(Titles[t], t * (tw + Gap) + tw / 2f, TitleHeight - 6, text);
        float left = 3 * (tw + Gap), top = TitleHeight + th + 4;
        if (classCount == 2)
        {
            // The density scale: 0 .. the map's maximum, so a sparse corruption's map is visible and still readable.
            using var bar = new SKPaint();
            for (int x = 0; x < tw; x++)
            {
                var (r, g, b) = DensityColor(x / (double)Math.Max(1, tw - 1));
                bar.Color = new SKColor(r, g, b);
                canvas.DrawRect(left + x, top, 1, 8, bar);
            }
            canvas.DrawText("0", left, top + 20, small);
            string label = FormattableString.Invariant($"{scaleMax:0.###} (max)");
            small.TextAlign = SKTextAlign.Right;
            canvas.DrawText(label, left + tw, top + 20, small);
        }
        else
        {
            small.TextAlign = SKTextAlign.Center;
            canvas.DrawText("class colours by density", left + tw / 2f, top + 12, small);
        }
        canvas.Flush();

        var rgb = new byte[3 * total * height];
        System.Runtime.InteropServices.Marshal.Copy(bitmap.GetPixels(), pixels, 0, pixels.Length);
        for (int i = 0; i < total * height; i++)
        {
            rgb[3 * i] = pixels[4 * i]; rgb[3 * i + 1] = pixels[4 * i + 1]; rgb[3 * i + 2] = pixels[4 * i + 2];
        }
        PngWriter.WriteRgb(path, rgb, total, height);
    }

    private static byte[] MaskRgb(byte[] mask, int classCount)
    {
        var rgb = new byte[3 * mask.Length];
        for (int i = 0; i < mask.Length; i++)
            (rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]) = ClassColor(mask[i], classCount);
        return rgb;
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
