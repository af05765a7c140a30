using MLNet.NoisySeg.Core;

namespace MLNet.NoisySeg.Quality;

/// <summary>
/// One image to judge: its given (possibly wrong) mask and the model's out-of-sample probabilities for it, i.e. from
/// a model that did not train on this image (k-fold cross-fitting), as cleanlab requires.
/// </summary>
public sealed class LabelQualityImage
{
    /// <summary>Creates an input; the arrays are used as they are (not copied) and must not change while in use.</summary>
    /// <param name="id">A name for reports (e.g. the file name); may be empty.</param>
    /// <param name="mask">Given labels, row-major width*height bytes: class indices or the ignore value.</param>
    /// <param name="probabilities">Planar [K, H, W] probabilities in [0, 1]; K = 1 for a binary sigmoid output (foreground probability).</param>
    /// <param name="width">Image width.</param>
    /// <param name="height">Image height.</param>
    /// <param name="fold">The fold (cross-fitted model) that produced the probabilities, or null (see <see cref="Fold"/>).</param>
    /// <exception cref="ArgumentException">The mask is not width*height, or the probabilities are not a positive multiple of it.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="fold"/> is negative.</exception>
    public LabelQualityImage(string id, byte[] mask, float[] probabilities, int width, int height, int? fold = null)
    {
        QualityPixels.CheckFold(fold);
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(mask);
        ArgumentNullException.ThrowIfNull(probabilities);
        Guard.MaskSize(mask.Length, width, height, nameof(mask));
        if (probabilities.Length == 0 || probabilities.Length % mask.Length != 0)
            throw new ArgumentException($"probabilities has {probabilities.Length} values, not K x {width}x{height} for a whole K >= 1.", nameof(probabilities));
        Id = id;
        Mask = mask;
        Probabilities = probabilities;
        Width = width;
        Height = height;
        Fold = fold;
    }

    /// <summary>The image's name in reports.</summary>
    public string Id { get; }

    /// <summary>Given labels (width*height bytes).</summary>
    public byte[] Mask { get; }

    /// <summary>Planar [K, H, W] out-of-sample probabilities.</summary>
    public float[] Probabilities { get; }

    /// <summary>Image width.</summary>
    public int Width { get; }

    /// <summary>Image height.</summary>
    public int Height { get; }

    /// <summary>
    /// The fold whose model produced the probabilities (e.g. the <c>Fold</c> of a cross-fitted prediction), or null. Images of one
    /// fold share a network; the contradiction-outlier score judges them with that network's own confident thresholds.
    /// </summary>
    public int? Fold { get; }

    /// <summary>K, the number of probability planes (Probabilities.Length / (Width * Height)).</summary>
    public int PlaneCount => Probabilities.Length / Mask.Length;
}

/// <summary>Per-pixel work shared by fitting and scoring (internal).</summary>
internal static class QualityPixels
{
    /// <summary>Copy of the mask with the custom ignore value mapped to 255; throws on a value that is not a class.</summary>
    public static byte[] NormaliseMask(ReadOnlySpan<byte> mask, int labelClassCount, byte ignore, string name)
    {
        var m = mask.ToArray();
        for (int i = 0; i < m.Length; i++)
        {
            byte v = m[i];
            if (v < labelClassCount) continue;
            if (v == ignore || v == MaskConventions.IgnoreIndex) { m[i] = MaskConventions.IgnoreIndex; continue; }
            throw new ArgumentException($"{name}[{i}] = {v} is not a class index in [0, {labelClassCount - 1}] nor the ignore value.", name);
        }
        return m;
    }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> (parameter "fold") unless the fold is null or at least 0.</summary>
    public static void CheckFold(int? fold)
    {
        if (fold is < 0) throw new ArgumentOutOfRangeException(nameof(fold), fold, "fold must be null or at least 0.");
    }

    /// <summary>Throws unless every probability is a number in [0, 1] and the length is K x pixels.</summary>
    public static void CheckProbabilities(ReadOnlySpan<float> p, int classCount, int pixels, string name)
    {
        if ((long)pixels * classCount != p.Length)
            throw new ArgumentException($"{name} has {p.Length} values but classCount x pixels = {classCount} x {pixels} = {(long)pixels * classCount}.", name);
        for (int i = 0; i < p.Length; i++)
        {
            float v = p[i];
            if (!(v >= 0f && v <= 1f))
                throw new ArgumentException($"{name}[{i}] = {v} is not a probability in [0, 1].", name);
        }
    }

    /// <summary>Most probable class (ties: lowest index, as numpy's argmax) and its probability, per pixel.</summary>
    public static void Argmax(ReadOnlySpan<float> p, int classCount, Span<byte> arg, Span<float> max)
    {
        int n = arg.Length;
        if (classCount == 1)
        {
            for (int i = 0; i < n; i++)
            {
                float f = p[i], b = 1f - f;
                // np.argmax([1 - p, p]): foreground only when strictly larger.
                if (f > b) { arg[i] = 1; max[i] = f; } else { arg[i] = 0; max[i] = b; }
            }
            return;
        }
        p.Slice(0, n).CopyTo(max);
        arg.Clear();
        for (int k = 1; k < classCount; k++)
        {
            ReadOnlySpan<float> plane = p.Slice(k * n, n);
            for (int i = 0; i < n; i++)
                if (plane[i] > max[i]) { max[i] = plane[i]; arg[i] = (byte)k; }
        }
    }

    /// <summary>Probability of class k at pixel i (K = 1: class 0 is 1 - p).</summary>
    public static float Probability(ReadOnlySpan<float> p, int classCount, int n, int i, int k)
        => classCount == 1 ? (k == 1 ? p[i] : 1f - p[i]) : p[k * n + i];
}
