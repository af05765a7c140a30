using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Data.Preprocessing;
using MLNet.NoisySeg.Study;
using NoisySeg.Study.Cli;

namespace NoisySeg.Study;

/// <summary>predict: model zip + images → mask PNGs and overlays in --out, at each input image's own size.</summary>
public sealed class PredictVerb : Verb
{
    /// <inheritdoc/>
    public override string Name => "predict";
    /// <inheritdoc/>
    public override int Order => 40;
    /// <inheritdoc/>
    public override string Summary => "Segment images with a saved model: writes NAME.mask.png and NAME.overlay.png at each image's own size.";
    /// <inheritdoc/>
    public override string? Details => "Images are prepared as in training: a model trained on resized images predicts on the image resized the "
        + "same way and its probabilities are scaled back to the image's size before decoding; a model trained at the stored size predicts on "
        + "the whole image as it is (the U-Net accepts any size). Masks use the training masks' encoding (binary: the foreground value on "
        + "foreground, 0 or 255 elsewhere; class-index: the class index).";
    /// <inheritdoc/>
    public override IReadOnlyList<string> Examples => ["predict --model m.zip --images my/new --out predictions"];
    /// <inheritdoc/>
    public override IReadOnlyList<CliOption> Options =>
    [
        CliOptions.Model with { Description = "Model zip written by train (required)" },
        CliOptions.Images with { Description = "Folder of images, or a split folder with images/ (required)" },
        CliOptions.Out with { Description = "Folder for the masks and overlays" },
        CliOptions.MaskEncoding with { Default = "the model's" }, CliOptions.Foreground with { Default = "the model's" },
        CliOptions.Classes with { Default = "the model's" },
    ];

    /// <inheritdoc/>
    public override int Execute(VerbContext context)
    {
        var (s, log, ct) = (context.Settings, context.Log, context.Cancellation);
        string images = VerbSupport.Require(s.Images, "--images", "a folder of images, or a split folder with images/");
        if (!Directory.Exists(images)) throw new DirectoryNotFoundException($"--images: folder '{images}' does not exist.");
        var loaded = context.Services.GetRequiredService<ModelStore>().Load(VerbSupport.Require(s.Model, "--model", "the model .zip written by train"));
        var input = loaded.Input;
        var atModelSize = loaded.FolderOptions(s);
        bool split = Directory.Exists(Path.Combine(images, SegmentationFolderOptions.Defaults.ImagesFolderName));
        var asStored = atModelSize with
        {
            LoadMasks = false,
            ImagesFolderName = split ? SegmentationFolderOptions.Defaults.ImagesFolderName : ".",
            Width = null,
            Height = null,
        };
        // Without a record the model's size is all we know of training: prepare images as evaluate does.
        bool resize = loaded.Training?.Resized ?? true;
        var items = SegmentationFolderLoader.Load(images, asStored, cancellationToken: ct);
        var resized = resize ? SegmentationFolderLoader.Load(images, asStored with { Width = input.Width, Height = input.Height }, cancellationToken: ct) : items;
        var seg = loaded.Segmentation;
        int k = input.ProbabilityChannels;
        Directory.CreateDirectory(s.Out);
        for (int i = 0; i < items.Count; i++)
        {
            ct.ThrowIfCancellationRequested();
            var item = items[i];
            byte[] mask;
            if (resize && (item.Height != input.Height || item.Width != input.Width))
            {
                var (probability, _) = seg.Predict(resized[i].Image, input.Channels, input.Height, input.Width);
                var scaled = Resizing.Bilinear(probability, k, input.Height, input.Width, item.Height, item.Width);
                mask = new byte[item.Height * item.Width];
                seg.Decoding.Decode(scaled, input.ClassCount == 2 ? 1 : input.ClassCount, mask);
            }
            else
            {
                mask = seg.Predict(item.Image, input.Channels, item.Height, item.Width).Mask;
            }
            string stem = Path.GetFileNameWithoutExtension(item.Name);
            PngWriter.WriteGray(Path.Combine(s.Out, stem + ".mask.png"), Encode(mask, atModelSize), item.Width, item.Height);
            PngWriter.WriteRgb(Path.Combine(s.Out, stem + ".overlay.png"), Overlay(item, mask, input.ClassCount), item.Width, item.Height);
        }
        log.LogInformation("Wrote {Count} mask(s) and overlay(s) at the images' own sizes ({Sizes}) to {Out}", items.Count,
            string.Join(", ", items.Select(x => $"{x.Width}x{x.Height}").Distinct()), Path.GetFullPath(s.Out));
        return ExitCodes.Ok;
    }

    /// <summary>A predicted mask in the training masks' encoding.</summary>
    private static byte[] Encode(byte[] mask, SegmentationFolderOptions folder)
    {
        if (folder.ClassCount != 2 || folder.MaskEncoding != MaskEncoding.Binary) return mask;
        byte foreground = (byte)folder.ForegroundValue, background = (byte)(folder.ForegroundValue == 0 ? 255 : 0);
        return mask.Select(v => v == 1 ? foreground : background).ToArray();
    }

    private static byte[] Overlay(SegmentationItem item, byte[] mask, int classes)
    {
        var rgb = PngWriter.ToRgb(item.Image, item.Channels, item.Height, item.Width);
        for (int i = 0; i < mask.Length; i++)
        {
            if (classes == 2 && mask[i] != 1) continue;
            var (r, g, b) = classes == 2 ? ((byte)255, (byte)40, (byte)40) : StudyPanels.ClassColor(mask[i], classes);
            rgb[3 * i] = Blend(rgb[3 * i], r);
            rgb[3 * i + 1] = Blend(rgb[3 * i + 1], g);
            rgb[3 * i + 2] = Blend(rgb[3 * i + 2], b);
        }
        return rgb;

        static byte Blend(byte image, byte colour) => (byte)Math.Clamp((int)MathF.Round(0.55f * image + 0.45f * colour), 0, 255);
    }
}
