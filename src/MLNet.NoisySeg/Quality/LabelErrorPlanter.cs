using System.Globalization;
using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Morphology;

namespace MLNet.NoisySeg.Quality;

/// <summary>Structural label errors that <see cref="LabelErrorPlanter"/> plants into a mask (issue 15's benchmark).</summary>
public enum PlantedErrorKind
{
    /// <summary>Every object class grows by a disk of radius <see cref="LabelErrorPlantingOptions.Radius"/> into the background.</summary>
    Dilate = 0,

    /// <summary>Every object class shrinks by a disk of radius <see cref="LabelErrorPlantingOptions.Radius"/>; removed pixels become background.</summary>
    Erode = 1,

    /// <summary>One random object (8-connected component of one non-background class) becomes background.</summary>
    DropObject = 2,

    /// <summary>A copy of one random object is pasted at a random place where it covers only background.</summary>
    AddObject = 3,

    /// <summary>The whole labelling moves by <see cref="LabelErrorPlantingOptions.Shift"/> pixels in one of 8 compass directions.</summary>
    Shift = 4,

    /// <summary>One random object is relabelled as another non-background class (needs two of them).</summary>
    SwapClass = 5,

    /// <summary>Binary masks only: foreground and background swap over the whole image.</summary>
    Invert = 6,
}

/// <summary>Options of <see cref="LabelErrorPlanter"/>.</summary>
public sealed class LabelErrorPlantingOptions
{
    /// <summary>Disk radius of <see cref="PlantedErrorKind.Dilate"/> and <see cref="PlantedErrorKind.Erode"/> (default 2, at least 1).</summary>
    public int Radius { get; init; } = 2;

    /// <summary>Displacement of <see cref="PlantedErrorKind.Shift"/> along each moving axis, in pixels (default 3, at least 1).</summary>
    public int Shift { get; init; } = 3;

    /// <summary>The background class that objects grow into and leave behind (default 0).</summary>
    public byte BackgroundClass { get; init; } = MaskConventions.Background;

    /// <summary>Random placements tried by <see cref="PlantedErrorKind.AddObject"/> before giving up (default 200).</summary>
    public int AddAttempts { get; init; } = 200;

    /// <summary>Throws when an option is out of range; the exception names the option.</summary>
    public void Validate()
    {
        Guard.AtLeast(Radius, 1, nameof(Radius));
        if (Radius > BinaryMorphology.MaxRadius)
            throw new ArgumentOutOfRangeException(nameof(Radius), Radius, $"{nameof(Radius)} must be at most {BinaryMorphology.MaxRadius}.");
        Guard.AtLeast(Shift, 1, nameof(Shift));
        Guard.AtLeast(AddAttempts, 1, nameof(AddAttempts));
        if (BackgroundClass == MaskConventions.IgnoreIndex)
            throw new ArgumentOutOfRangeException(nameof(BackgroundClass), BackgroundClass, $"{nameof(BackgroundClass)} must not be the ignore index.");
    }
}

/// <summary>A mask with a planted error and where it differs from the original.</summary>
public sealed class PlantedLabelError
{
    internal PlantedLabelError(PlantedErrorKind kind, byte[] mask, byte[] changed, long changedCount, string description)
    {
        Kind = kind;
        Mask = mask;
        Changed = changed;
        ChangedPixelCount = changedCount;
        Description = description;
    }

    /// <summary>The kind of error.</summary>
    public PlantedErrorKind Kind { get; }

    /// <summary>The corrupted mask (ignore pixels unchanged).</summary>
    public byte[] Mask { get; }

    /// <summary>Per pixel: 1 where the label changed, 0 where not, 255 at ignore pixels (the truth for <see cref="PixelIssueDetection"/>).</summary>
    public byte[] Changed { get; }

    /// <summary>Pixels whose label changed; 0 when the error could not be planted (no object, no room, ...).</summary>
    public long ChangedPixelCount { get; }

    /// <summary>What was done, e.g. <c>drop object of class 1 (312 px) at (40, 17)</c>.</summary>
    public string Description { get; }
}

/// <summary>
/// Plants whole-mask structural label errors into clean masks, for benchmarks of label-quality scores (issue 15:
/// in a fraction of the training images dilate or erode whole masks, drop or add whole objects, shift by a few
/// pixels, swap a class). Deterministic given the random stream; ignore pixels are never changed.
/// </summary>
/// <remarks>
/// Objects are the 8-connected components of one class other than <see cref="LabelErrorPlantingOptions.BackgroundClass"/>.
/// Multi-class dilation grows the classes in increasing order, each only into pixels that were background in the
/// original (the first class wins where two meet); erosion shrinks each class separately. Morphology uses
/// <see cref="BinaryMorphology"/> (disks as skimage's, pixels outside the image count as background).
/// </remarks>
public static class LabelErrorPlanter
{
    /// <summary>Plants one error.</summary>
    /// <param name="mask">Clean mask, row-major width*height: classes 0..classCount-1 or 255 (ignore).</param>
    /// <param name="width">Image width.</param>
    /// <param name="height">Image height.</param>
    /// <param name="classCount">Number of classes (2 for binary).</param>
    /// <param name="kind">The error.</param>
    /// <param name="rng">Random stream of this image (e.g. <c>SeededRandom.For(seed, imageId)</c>).</param>
    /// <param name="options">Radius, shift, background class; null = defaults.</param>
    /// <exception cref="ArgumentException">The mask holds a value that is not a class, or the kind does not fit the class count.</exception>
    public static PlantedLabelError Plant(ReadOnlySpan<byte> mask, int width, int height, int classCount, PlantedErrorKind kind,
        ref SeededRandom rng, LabelErrorPlantingOptions? options = null)
    {
        options ??= new LabelErrorPlantingOptions();
        options.Validate();
        Guard.MaskSize(mask.Length, width, height, nameof(mask));
        if (classCount < 2 || classCount > MaskConventions.MaxClassCount)
            throw new ArgumentOutOfRangeException(nameof(classCount), classCount, $"classCount must be in [2, {MaskConventions.MaxClassCount}].");
        if (options.BackgroundClass >= classCount)
            throw new ArgumentOutOfRangeException(nameof(options), options.BackgroundClass, $"BackgroundClass {options.BackgroundClass} is not one of the {classCount} classes.");
        for (int i = 0; i < mask.Length; i++)
            if (mask[i] >= classCount && mask[i] != MaskConventions.IgnoreIndex)
                throw new ArgumentException($"mask[{i}] = {mask[i]} is not a class index in [0, {classCount - 1}] nor the ignore index 255.", nameof(mask));

        byte[] src = mask.ToArray();
        byte bg = options.BackgroundClass;
        byte[] dst;
        string what;
        switch (kind)
        {
            case PlantedErrorKind.Dilate:
                dst = Grow(src, width, height, classCount, bg, options.Radius);
                what = $"dilate by {options.Radius}";
                break;
            case PlantedErrorKind.Erode:
                dst = Shrink(src, width, height, classCount, bg, options.Radius);
                what = $"erode by {options.Radius}";
                break;
            case PlantedErrorKind.DropObject:
                (dst, what) = Drop(src, width, height, bg, ref rng);
                break;
            case PlantedErrorKind.AddObject:
                (dst, what) = Add(src, width, height, bg, options.AddAttempts, ref rng);
                break;
            case PlantedErrorKind.Shift:
                (dst, what) = Move(src, width, height, bg, options.Shift, ref rng);
                break;
            case PlantedErrorKind.SwapClass:
                if (classCount < 3)
                    throw new ArgumentException("SwapClass needs at least two classes besides the background; use Invert for binary masks.", nameof(kind));
                (dst, what) = Swap(src, width, height, classCount, bg, ref rng);
                break;
            case PlantedErrorKind.Invert:
                if (classCount != 2)
                    throw new ArgumentException("Invert is defined for binary masks (classCount = 2).", nameof(kind));
                dst = new byte[src.Length];
                for (int i = 0; i < src.Length; i++) dst[i] = src[i] == MaskConventions.IgnoreIndex ? src[i] : (byte)(1 - src[i]);
                what = "invert";
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown error kind.");
        }

        var changed = new byte[src.Length];
        long count = 0;
        for (int i = 0; i < src.Length; i++)
        {
            if (src[i] == MaskConventions.IgnoreIndex) { changed[i] = MaskConventions.IgnoreIndex; continue; }
            if (dst[i] != src[i]) { changed[i] = 1; count++; }
        }
        return new PlantedLabelError(kind, dst, changed, count, what);
    }

    private static byte[] Indicator(byte[] src, byte c)
    {
        var ind = new byte[src.Length];
        for (int i = 0; i < src.Length; i++)
            ind[i] = src[i] == MaskConventions.IgnoreIndex ? MaskConventions.IgnoreIndex : src[i] == c ? (byte)1 : (byte)0;
        return ind;
    }

    private static byte[] Grow(byte[] src, int w, int h, int classCount, byte bg, int radius)
    {
        var dst = (byte[])src.Clone();
        var grown = new byte[src.Length];
        for (int c = 0; c < classCount; c++)
        {
            if (c == bg || Array.IndexOf(src, (byte)c) < 0) continue;
            BinaryMorphology.Dilate(Indicator(src, (byte)c), grown, w, h, radius);
            for (int i = 0; i < src.Length; i++)
                if (grown[i] == 1 && src[i] == bg && dst[i] == bg) dst[i] = (byte)c;
        }
        return dst;
    }

    private static byte[] Shrink(byte[] src, int w, int h, int classCount, byte bg, int radius)
    {
        var dst = (byte[])src.Clone();
        var shrunk = new byte[src.Length];
        for (int c = 0; c < classCount; c++)
        {
            if (c == bg || Array.IndexOf(src, (byte)c) < 0) continue;
            BinaryMorphology.Erode(Indicator(src, (byte)c), shrunk, w, h, radius);
            for (int i = 0; i < src.Length; i++)
                if (src[i] == c && shrunk[i] != 1) dst[i] = bg;
        }
        return dst;
    }

    /// <summary>8-connected components of equal non-background classes: per pixel its component (-1 for none), and the components.</summary>
    internal static (int[] Labels, List<ObjectComponent> Objects) Components(byte[] src, int w, int h, byte bg)
    {
        var labels = new int[src.Length];
        Array.Fill(labels, -1);
        var objects = new List<ObjectComponent>();
        var queue = new int[src.Length];
        for (int start = 0; start < src.Length; start++)
        {
            byte c = src[start];
            if (c == bg || c == MaskConventions.IgnoreIndex || labels[start] >= 0) continue;
            int id = objects.Count, head = 0, tail = 0;
            queue[tail++] = start;
            labels[start] = id;
            int minX = w, minY = h, maxX = -1, maxY = -1;
            while (head < tail)
            {
                int p = queue[head++];
                int x = p % w, y = p / w;
                if (x < minX) minX = x;
                if (x > maxX) maxX = x;
                if (y < minY) minY = y;
                if (y > maxY) maxY = y;
                for (int dy = -1; dy <= 1; dy++)
                {
                    int ny = y + dy;
                    if ((uint)ny >= (uint)h) continue;
                    for (int dx = -1; dx <= 1; dx++)
                    {
                        int nx = x + dx;
                        if ((uint)nx >= (uint)w) continue;
                        int q = ny * w + nx;
                        if (labels[q] < 0 && src[q] == c) { labels[q] = id; queue[tail++] = q; }
                    }
                }
            }
            objects.Add(new ObjectComponent(c, queue[..tail], minX, minY, maxX, maxY));
        }
        return (labels, objects);
    }

    internal sealed record ObjectComponent(byte Class, int[] Pixels, int MinX, int MinY, int MaxX, int MaxY);

    private static (byte[], string) Drop(byte[] src, int w, int h, byte bg, ref SeededRandom rng)
    {
        var (_, objects) = Components(src, w, h, bg);
        var dst = (byte[])src.Clone();
        if (objects.Count == 0) return (dst, "drop object: no object");
        var o = objects[rng.NextInt(objects.Count)];
        foreach (int p in o.Pixels) dst[p] = bg;
        return (dst, Describe("drop object", o));
    }

    private static (byte[], string) Add(byte[] src, int w, int h, byte bg, int attempts, ref SeededRandom rng)
    {
        var (_, objects) = Components(src, w, h, bg);
        var dst = (byte[])src.Clone();
        if (objects.Count == 0) return (dst, "add object: no object to copy");
        var o = objects[rng.NextInt(objects.Count)];
        int bw = o.MaxX - o.MinX + 1, bh = o.MaxY - o.MinY + 1;
        if (bw > w || bh > h) return (dst, "add object: no room");
        for (int attempt = 0; attempt < attempts; attempt++)
        {
            int ox = rng.NextInt(w - bw + 1) - o.MinX, oy = rng.NextInt(h - bh + 1) - o.MinY;
            if (ox == 0 && oy == 0) continue;
            bool free = true;
            foreach (int p in o.Pixels)
            {
                int q = (p / w + oy) * w + p % w + ox;
                if (src[q] != bg) { free = false; break; }
            }
            if (!free) continue;
            foreach (int p in o.Pixels) dst[(p / w + oy) * w + p % w + ox] = o.Class;
            return (dst, string.Create(CultureInfo.InvariantCulture, $"{Describe("add copy of object", o)} moved by ({ox}, {oy})"));
        }
        return (dst, "add object: no room");
    }

    private static (byte[], string) Move(byte[] src, int w, int h, byte bg, int shift, ref SeededRandom rng)
    {
        int dir = rng.NextInt(8);
        int[] dxs = [1, 1, 0, -1, -1, -1, 0, 1], dys = [0, 1, 1, 1, 0, -1, -1, -1];
        int dx = dxs[dir] * shift, dy = dys[dir] * shift;
        var dst = new byte[src.Length];
        for (int i = 0; i < src.Length; i++) dst[i] = src[i] == MaskConventions.IgnoreIndex ? MaskConventions.IgnoreIndex : bg;
        for (int y = 0; y < h; y++)
        {
            int ny = y + dy;
            if ((uint)ny >= (uint)h) continue;
            for (int x = 0; x < w; x++)
            {
                byte c = src[y * w + x];
                int nx = x + dx;
                if (c == bg || c == MaskConventions.IgnoreIndex || (uint)nx >= (uint)w) continue;
                int q = ny * w + nx;
                if (dst[q] != MaskConventions.IgnoreIndex) dst[q] = c;
            }
        }
        return (dst, string.Create(CultureInfo.InvariantCulture, $"shift by ({dx}, {dy})"));
    }

    private static (byte[], string) Swap(byte[] src, int w, int h, int classCount, byte bg, ref SeededRandom rng)
    {
        var (_, objects) = Components(src, w, h, bg);
        var dst = (byte[])src.Clone();
        if (objects.Count == 0) return (dst, "swap class: no object");
        var o = objects[rng.NextInt(objects.Count)];
        // Another non-background class, uniformly.
        int k = rng.NextInt(classCount - 2);
        byte to = 0;
        for (int c = 0, seen = 0; c < classCount; c++)
        {
            if (c == bg || c == o.Class) continue;
            if (seen++ == k) { to = (byte)c; break; }
        }
        foreach (int p in o.Pixels) dst[p] = to;
        return (dst, string.Create(CultureInfo.InvariantCulture, $"{Describe("swap class of object", o)} to {to}"));
    }

    private static string Describe(string what, ObjectComponent o)
        => string.Create(CultureInfo.InvariantCulture, $"{what} of class {o.Class} ({o.Pixels.Length} px) at ({o.MinX}, {o.MinY})");
}
