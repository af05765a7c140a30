using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Data.Preprocessing;

namespace MLNet.NoisySeg.Data;

/// <summary>
/// Loads a data set split laid out as <c>&lt;split&gt;/images/NAME</c> + <c>&lt;split&gt;/masks/NAME</c> into memory:
/// images as planar float <c>[C, H, W]</c> (z-scored per image by default), masks as class indices
/// <c>[H, W]</c> with ignored pixels set to <see cref="MaskConventions.IgnoreIndex"/>.
/// Every file's header is validated by managed code (format, size against
/// <see cref="SegmentationFolderOptions.MaxImagePixels"/>, PNG data plausibility) before any pixel buffer is
/// allocated or a native decoder runs; images decode at 8-bit precision, PNG masks at their stored bit depth.
/// Bad input of any kind surfaces as a <see cref="SegmentationDataException"/> naming the file (see docs/robustness.md).
/// </summary>
public static class SegmentationFolderLoader
{
    /// <summary>Loads every image (and its mask) of one split folder, sorted by file name.</summary>
    /// <param name="splitFolder">The folder that contains the images and masks sub-folders.</param>
    /// <param name="options">Encoding, size and normalisation options; defaults when null.</param>
    /// <param name="progress">Receives the number of items decoded so far.</param>
    /// <param name="cancellationToken">Cancels loading.</param>
    /// <exception cref="SegmentationDataException">A folder or file is missing, unreadable or inconsistent.</exception>
    public static IReadOnlyList<SegmentationItem> Load(string splitFolder, SegmentationFolderOptions? options = null,
        IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(splitFolder);
        options ??= new SegmentationFolderOptions();
        options.Validate();
        if (!Directory.Exists(splitFolder))
            throw new SegmentationDataException(splitFolder, "folder does not exist; expected a split folder with images/ and masks/ sub-folders.");
        string imagesDir = Path.Combine(splitFolder, options.ImagesFolderName);
        string masksDir = Path.Combine(splitFolder, options.MasksFolderName);
        if (!Directory.Exists(imagesDir))
            throw new SegmentationDataException(imagesDir, $"folder does not exist; expected the images of the split in '{options.ImagesFolderName}/'.");
        bool requireMasks = options.LoadMasks && options.RequireMasks;
        bool haveMasks = options.LoadMasks && Directory.Exists(masksDir);
        if (!haveMasks && requireMasks)
            throw new SegmentationDataException(masksDir, $"folder does not exist; expected masks in '{options.MasksFolderName}/' (set RequireMasks = false for unlabelled images).");

        var images = ListImages(imagesDir, options);
        if (images.Count == 0)
            throw new SegmentationDataException(imagesDir, $"contains no image files ({string.Join(", ", options.Extensions)}).");
        var masks = haveMasks ? ListImages(masksDir, options) : [];
        var maskByName = masks.ToDictionary(m => Path.GetFileName(m), StringComparer.Ordinal);
        var maskByStem = masks.GroupBy(m => Path.GetFileNameWithoutExtension(m), StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        var pairs = new (string Image, string? Mask)[images.Count];
        var used = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < images.Count; i++)
        {
            string name = Path.GetFileName(images[i]);
            string? mask = maskByName.GetValueOrDefault(name) ?? maskByStem.GetValueOrDefault(Path.GetFileNameWithoutExtension(name));
            if (mask is null && requireMasks)
                throw new SegmentationDataException(images[i], $"has no partner mask; expected {Path.Combine(masksDir, name)}.");
            if (mask is not null) used.Add(mask);
            pairs[i] = (images[i], mask);
        }
        if (requireMasks)
        {
            var orphan = masks.FirstOrDefault(m => !used.Contains(m));
            if (orphan is not null)
                throw new SegmentationDataException(orphan, $"has no partner image; expected {Path.Combine(imagesDir, Path.GetFileName(orphan))}.");
        }

        var items = new SegmentationItem[pairs.Length];
        int done = 0;
        // Channel agreement in "as stored" mode is decided by the first file, decoded (once) before the parallel work.
        var firstImage = ImageFileDecoder.Decode(pairs[0].Image, options.MaxImagePixels);
        int channels = options.Channels != 0 ? options.Channels : firstImage.IsGray ? 1 : 3;
        items[0] = LoadOne(firstImage, pairs[0].Image, pairs[0].Mask, channels, options);
        progress?.Report(++done);
        try
        {
            Parallel.For(1, pairs.Length, new ParallelOptions { MaxDegreeOfParallelism = options.MaxDegreeOfParallelism, CancellationToken = cancellationToken }, i =>
            {
                items[i] = LoadOne(pairs[i].Image, pairs[i].Mask, channels, options);
                progress?.Report(Interlocked.Increment(ref done));
            });
        }
        catch (AggregateException e)
        {
            // Report the failing file with the smallest index, so the error does not depend on scheduling.
            var first = e.Flatten().InnerExceptions.OfType<SegmentationDataException>()
                .OrderBy(x => Array.FindIndex(pairs, p => p.Image == x.FilePath || p.Mask == x.FilePath)).FirstOrDefault();
            if (first is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
            throw;
        }
        return items;
    }

    /// <summary>Loads one image file (and optionally its mask) with the given options.</summary>
    /// <param name="imagePath">The image file.</param>
    /// <param name="maskPath">The mask file, or null.</param>
    /// <param name="channels">1 or 3.</param>
    /// <param name="options">Encoding, size and normalisation options.</param>
    public static SegmentationItem LoadOne(string imagePath, string? maskPath, int channels, SegmentationFolderOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), channels, "channels must be 1 or 3.");
        return LoadOne(ImageFileDecoder.Decode(imagePath, options.MaxImagePixels), imagePath, maskPath, channels, options);
    }

    private static SegmentationItem LoadOne(ImageFileDecoder.Decoded img, string imagePath, string? maskPath, int channels, SegmentationFolderOptions options)
    {
        int h = img.Height, w = img.Width;
        float[] image;
        try
        {
            image = new float[(long)channels * h * w];
        }
        catch (OutOfMemoryException e)
        {
            throw new SegmentationDataException(imagePath, $"is {w}x{h}; not enough memory for its {channels}-channel float image.", e);
        }
        int n = h * w;
        if (img.IsGray)
        {
            if (channels == 3 && options.Channels != 3)
                throw new SegmentationDataException(imagePath, "is a gray image but the data set's first image is colour (3 channels); set Channels = 3 to replicate gray images.");
            for (int c = 0; c < channels; c++)
                for (int i = 0; i < n; i++) image[c * n + i] = img.Pixels[i];
        }
        else if (channels == 1)
        {
            if (!ImageFileDecoder.IsNeutral(img.Pixels))
                throw new SegmentationDataException(imagePath, "is a colour image with 3 channels; expected 1 channel (gray). Set Channels = 3 to load colour images.");
            for (int i = 0; i < n; i++) image[i] = img.Pixels[3 * i];
        }
        else
        {
            for (int i = 0; i < n; i++)
            {
                image[i] = img.Pixels[3 * i];
                image[n + i] = img.Pixels[3 * i + 1];
                image[2 * n + i] = img.Pixels[3 * i + 2];
            }
        }

        byte[]? mask = null;
        if (maskPath is not null)
        {
            var m = ImageFileDecoder.DecodeMask(maskPath, options.MaxImagePixels);
            if (m.Width != w || m.Height != h)
                throw new SegmentationDataException(maskPath, $"is {m.Width}x{m.Height} but its image {Path.GetFileName(imagePath)} is {w}x{h}; expected equal sizes.");
            mask = EncodeMask(m, maskPath, options);
        }

        if (options.Width is int tw && options.Height is int th && (tw != w || th != h))
        {
            image = Resizing.Bilinear(image, channels, h, w, th, tw);
            if (mask is not null) mask = Resizing.Nearest(mask, h, w, th, tw);
            h = th;
            w = tw;
        }
        Normalize(image, channels, h, w, options.ZScore);
        return new SegmentationItem(Path.GetFileName(imagePath), image, channels, h, w, mask);
    }

    private static byte[] EncodeMask(MaskSamples m, string path, SegmentationFolderOptions o)
    {
        int n = m.Width * m.Height;
        var mask = new byte[n];
        if (o.MaskEncoding == MaskEncoding.RgbPalette)
        {
            var map = o.Palette!;
            for (int i = 0; i < n; i++)
            {
                int colour = m.IsGray
                    ? Gray8(m, m[i], i, path, o) * 0x010101
                    : (Gray8(m, m[3 * i], i, path, o) << 16) | (Gray8(m, m[3 * i + 1], i, path, o) << 8) | Gray8(m, m[3 * i + 2], i, path, o);
                if (map.TryGetValue(colour, out int cls)) mask[i] = (byte)cls;
                else if (o.UnknownColorIsIgnore) mask[i] = MaskConventions.IgnoreIndex;
                else throw new SegmentationDataException(path, $"pixel ({i % m.Width}, {i / m.Width}) has colour #{colour:X6}, which is not in the palette.");
            }
            return mask;
        }
        if (!m.IsNeutral())
            throw new SegmentationDataException(path, $"is a colour image; {o.MaskEncoding} masks must be gray (use RgbPalette for colour-coded masks).");
        int stride = m.IsGray ? 1 : 3;
        for (int i = 0; i < n; i++)
        {
            int sample = m[i * stride];
            if (o.MaskEncoding == MaskEncoding.Binary)
            {
                // Binary masks compare 8-bit gray values (ForegroundValue, IgnoreValue).
                int v = Gray8(m, sample, i, path, o);
                if (o.IgnoreValue == v) mask[i] = MaskConventions.IgnoreIndex;
                else mask[i] = v == o.ForegroundValue ? MaskConventions.Foreground : MaskConventions.Background;
            }
            else
            {
                // Class indices are the stored sample values, at any bit depth: never rescaled, never rounded.
                if (o.IgnoreValue == sample) { mask[i] = MaskConventions.IgnoreIndex; continue; }
                if (sample >= o.ClassCount && sample != MaskConventions.IgnoreIndex)
                    throw new SegmentationDataException(path, $"pixel ({i % m.Width}, {i / m.Width}) has class index {sample}; expected 0..{o.ClassCount - 1}" +
                        (o.IgnoreValue is int iv ? $" or the ignore value {iv}." : " (set IgnoreValue if it marks ignored pixels).") +
                        (m.BitDepth != 8 ? $" The mask stores {m.BitDepth}-bit samples; class indices are read as stored, not rescaled." : ""));
                mask[i] = (byte)sample;
            }
        }
        return mask;
    }

    /// <summary>The exact 8-bit value of a mask sample, or a refusal naming the pixel (never a rounded value).</summary>
    private static int Gray8(MaskSamples m, int sample, int pixel, string path, SegmentationFolderOptions o)
    {
        int v = m.To8Bit(sample);
        if (v < 0)
            throw new SegmentationDataException(path, $"pixel ({pixel % m.Width}, {pixel / m.Width}) holds the {m.BitDepth}-bit value {sample}, which has no exact 8-bit value; " +
                $"{o.MaskEncoding} masks compare 8-bit gray values or colours, so reading it would change labels. Save the mask with 8-bit samples, " +
                "or store class indices and use MaskEncoding.ClassIndex (read at any bit depth).");
        return v;
    }

    private static void Normalize(float[] image, int channels, int height, int width, bool zScore)
    {
        if (!zScore)
        {
            for (int i = 0; i < image.Length; i++) image[i] /= 255f;
            return;
        }
        // One mean/std over all channels (the paper's per-image z-score of a one-channel image).
        Normalization.ZScore(image, channels, height, width, perChannel: false);
    }

    private static List<string> ListImages(string dir, SegmentationFolderOptions options)
    {
        var ext = new HashSet<string>(options.Extensions, StringComparer.OrdinalIgnoreCase);
        var files = Directory.EnumerateFiles(dir).Where(f => ext.Contains(Path.GetExtension(f))).ToList();
        files.Sort(StringComparer.Ordinal);
        return files;
    }
}
