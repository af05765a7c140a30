using MLNet.NoisySeg.Core;

namespace MLNet.NoisySeg.Data.Preprocessing;

/// <summary>
/// The eight symmetries of a rectangle grid (dihedral group D4): value <c>k</c> means "flip
/// horizontally if <c>k &gt;= 4</c>, then rotate by <c>(k % 4) * 90</c> degrees counter-clockwise"
/// (rotations as <c>numpy.rot90</c> / <c>torch.rot90(dims=(H, W))</c> with row 0 at the top).
/// Odd values swap height and width.
/// </summary>
public enum Dihedral
{
    /// <summary>No change: <c>out[i, j] = in[i, j]</c>.</summary>
    Identity = 0,

    /// <summary>Rotation by 90 degrees counter-clockwise: <c>out[i, j] = in[j, W-1-i]</c>; output is W x H.</summary>
    Rotate90 = 1,

    /// <summary>Rotation by 180 degrees: <c>out[i, j] = in[H-1-i, W-1-j]</c>.</summary>
    Rotate180 = 2,

    /// <summary>Rotation by 270 degrees counter-clockwise (90 clockwise): <c>out[i, j] = in[H-1-j, i]</c>; output is W x H.</summary>
    Rotate270 = 3,

    /// <summary>Mirror left-right: <c>out[i, j] = in[i, W-1-j]</c>.</summary>
    FlipHorizontal = 4,

    /// <summary>Transpose (horizontal flip, then 90 degrees): <c>out[i, j] = in[j, i]</c>; output is W x H.</summary>
    Transpose = 5,

    /// <summary>Mirror top-bottom (horizontal flip, then 180 degrees): <c>out[i, j] = in[H-1-i, j]</c>.</summary>
    FlipVertical = 6,

    /// <summary>Anti-transpose (horizontal flip, then 270 degrees): <c>out[i, j] = in[H-1-j, W-1-i]</c>; output is W x H.</summary>
    AntiTranspose = 7,
}

/// <summary>
/// Applies <see cref="Dihedral"/> transforms identically to planar images <c>[C, H, W]</c>, masks
/// <c>[H, W]</c> and probability maps, with inverses (for test-time augmentation) and seeded random choice.
/// </summary>
public static class DihedralTransforms
{
    /// <summary>All eight transforms, in enum order.</summary>
    public static IReadOnlyList<Dihedral> All { get; } = [.. Enumerable.Range(0, 8).Select(k => (Dihedral)k)];

    /// <summary>The transform that undoes <paramref name="transform"/>: rotations invert to the opposite rotation, reflections are their own inverse.</summary>
    /// <param name="transform">A transform.</param>
    /// <returns>The inverse transform.</returns>
    public static Dihedral Inverse(Dihedral transform)
    {
        int k = Check(transform);
        return k >= 4 ? transform : (Dihedral)((4 - k) & 3);
    }

    /// <summary>The transform equal to applying <paramref name="first"/> and then <paramref name="second"/>.</summary>
    /// <param name="first">Applied first.</param>
    /// <param name="second">Applied second.</param>
    /// <returns>The composition.</returns>
    public static Dihedral Compose(Dihedral first, Dihedral second)
    {
        int a = Check(first), b = Check(second);
        // Element k = R^(k&3) F^(k>>2); F R^r = R^-r F.
        int ra = a & 3, fa = a >> 2, rb = b & 3, fb = b >> 2;
        int r = fb == 1 ? (rb - ra) & 3 : (rb + ra) & 3;
        return (Dihedral)(r | ((fa ^ fb) << 2));
    }

    /// <summary>Whether the transform swaps height and width (odd values).</summary>
    /// <param name="transform">A transform.</param>
    /// <returns><c>true</c> for 90/270-degree rotations, transpose and anti-transpose.</returns>
    public static bool SwapsAxes(Dihedral transform) => (Check(transform) & 1) == 1;

    /// <summary>Output size of a transformed <paramref name="height"/> x <paramref name="width"/> grid.</summary>
    /// <param name="transform">A transform.</param>
    /// <param name="height">Input height.</param>
    /// <param name="width">Input width.</param>
    /// <returns>The output height and width.</returns>
    public static (int Height, int Width) OutputSize(Dihedral transform, int height, int width)
        => SwapsAxes(transform) ? (width, height) : (height, width);

    /// <summary>A uniformly random transform among all eight.</summary>
    /// <param name="random">The generator (advanced by one draw).</param>
    /// <returns>The chosen transform.</returns>
    public static Dihedral Random(ref SeededRandom random) => (Dihedral)random.NextInt(8);

    /// <summary>A uniformly random transform among <paramref name="allowed"/> (e.g. flips only).</summary>
    /// <param name="random">The generator (advanced by one draw).</param>
    /// <param name="allowed">Candidate transforms; not empty.</param>
    /// <returns>The chosen transform.</returns>
    public static Dihedral Random(ref SeededRandom random, ReadOnlySpan<Dihedral> allowed)
    {
        if (allowed.IsEmpty) throw new ArgumentException("allowed must contain at least one transform.", nameof(allowed));
        return allowed[random.NextInt(allowed.Length)];
    }

    /// <summary>Transforms a planar image (or per-class probability map) <c>[C, H, W]</c>.</summary>
    /// <param name="image">Source <c>[C, height, width]</c>.</param>
    /// <param name="channels">Number of channels C.</param>
    /// <param name="height">Source height.</param>
    /// <param name="width">Source width.</param>
    /// <param name="transform">The transform.</param>
    /// <param name="destination">Destination <c>[C, H', W']</c> with (H', W') = <see cref="OutputSize"/>; must not overlap the source.</param>
    public static void Apply(ReadOnlySpan<float> image, int channels, int height, int width, Dihedral transform, Span<float> destination)
    {
        Guard.ImageSize(image.Length, channels, height, width, nameof(image));
        ApplyCore(image, channels, height, width, transform, destination);
    }

    /// <summary>Transforms a planar image, returning a new array; see <see cref="Apply(ReadOnlySpan{float}, int, int, int, Dihedral, Span{float})"/>.</summary>
    /// <param name="image">Source <c>[C, height, width]</c>.</param>
    /// <param name="channels">Number of channels C.</param>
    /// <param name="height">Source height.</param>
    /// <param name="width">Source width.</param>
    /// <param name="transform">The transform.</param>
    /// <returns>The transformed image; its size is <see cref="OutputSize"/>.</returns>
    public static float[] Apply(ReadOnlySpan<float> image, int channels, int height, int width, Dihedral transform)
    {
        var result = new float[image.Length];
        Apply(image, channels, height, width, transform, result);
        return result;
    }

    /// <summary>Transforms a mask <c>[H, W]</c> exactly like <see cref="Apply(ReadOnlySpan{float}, int, int, int, Dihedral, Span{float})"/> transforms its image.</summary>
    /// <param name="mask">Source <c>[height, width]</c>.</param>
    /// <param name="height">Source height.</param>
    /// <param name="width">Source width.</param>
    /// <param name="transform">The transform.</param>
    /// <param name="destination">Destination <c>[H', W']</c>; must not overlap the source.</param>
    public static void Apply(ReadOnlySpan<byte> mask, int height, int width, Dihedral transform, Span<byte> destination)
    {
        Guard.MaskSize(mask.Length, width, height, nameof(mask));
        ApplyCore(mask, 1, height, width, transform, destination);
    }

    /// <summary>Transforms a mask, returning a new array.</summary>
    /// <param name="mask">Source <c>[height, width]</c>.</param>
    /// <param name="height">Source height.</param>
    /// <param name="width">Source width.</param>
    /// <param name="transform">The transform.</param>
    /// <returns>The transformed mask; its size is <see cref="OutputSize"/>.</returns>
    public static byte[] Apply(ReadOnlySpan<byte> mask, int height, int width, Dihedral transform)
    {
        var result = new byte[mask.Length];
        Apply(mask, height, width, transform, result);
        return result;
    }

    /// <summary>Transforms an image and its mask with the same transform.</summary>
    /// <param name="image">Image <c>[C, height, width]</c>.</param>
    /// <param name="mask">Mask <c>[height, width]</c>.</param>
    /// <param name="channels">Number of channels C.</param>
    /// <param name="height">Height.</param>
    /// <param name="width">Width.</param>
    /// <param name="transform">The transform.</param>
    /// <returns>The transformed image and mask and their common new size.</returns>
    public static (float[] Image, byte[] Mask, int Height, int Width) ApplyToPair(ReadOnlySpan<float> image, ReadOnlySpan<byte> mask,
        int channels, int height, int width, Dihedral transform)
    {
        var img = Apply(image, channels, height, width, transform);
        var msk = Apply(mask, height, width, transform);
        var (h, w) = OutputSize(transform, height, width);
        return (img, msk, h, w);
    }

    private static int Check(Dihedral transform)
    {
        int k = (int)transform;
        if ((uint)k > 7) throw new ArgumentOutOfRangeException(nameof(transform), transform, "transform must be a Dihedral value in [0, 7].");
        return k;
    }

    private static void ApplyCore<T>(ReadOnlySpan<T> src, int channels, int height, int width, Dihedral transform, Span<T> destination)
        where T : unmanaged
    {
        int k = Check(transform);
        Guard.Destination(destination.Length, src.Length, nameof(destination));
        if (src.Overlaps(destination))
            throw new ArgumentException("destination must not overlap the source.", nameof(destination));
        int plane = height * width;
        var (outH, outW) = OutputSize(transform, height, width);
        // out[i, j] = in[offset + i * di + j * dj] (flat source index within one plane).
        int offset, di, dj;
        switch (k)
        {
            case 0: offset = 0; di = width; dj = 1; break;
            case 1: offset = width - 1; di = -1; dj = width; break;
            case 2: offset = plane - 1; di = -width; dj = -1; break;
            case 3: offset = (height - 1) * width; di = 1; dj = -width; break;
            case 4: offset = width - 1; di = width; dj = -1; break;
            case 5: offset = 0; di = 1; dj = width; break;
            case 6: offset = (height - 1) * width; di = -width; dj = 1; break;
            default: offset = plane - 1; di = -1; dj = -width; break;
        }
        for (int c = 0; c < channels; c++)
        {
            var s = src.Slice(c * plane, plane);
            var d = destination.Slice(c * plane, plane);
            if (k == 0) { s.CopyTo(d); continue; }
            for (int i = 0; i < outH; i++)
            {
                var row = d.Slice(i * outW, outW);
                int idx = offset + i * di;
                if (dj == 1)
                {
                    s.Slice(idx, outW).CopyTo(row);
                }
                else if (dj == -1)
                {
                    s.Slice(idx - outW + 1, outW).CopyTo(row);
                    row.Reverse();
                }
                else
                {
                    for (int j = 0; j < outW; j++, idx += dj) row[j] = s[idx];
                }
            }
        }
    }
}
