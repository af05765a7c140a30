using MLNet.NoisySeg.Data.Preprocessing;
using MLNet.NoisySeg.Networks;
using MLNet.NoisySeg.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.NoisySeg.Training;

/// <summary>
/// Sliding-window (tiled) prediction and test-time augmentation for <see cref="TrainedSegmentationModel"/>
/// (<see cref="SegmentationPredictionOptions"/>). The image is padded as the whole-image path pads it (right and bottom to a
/// multiple of 2^Depth), cut into overlapping tiles on that padded grid (<see cref="TileGrid"/>: origins are multiples of
/// 2^Depth, so every tile shares the whole image's pooling grid), each tile's probabilities are blended with
/// <see cref="TileWeights"/> (<see cref="TileStitcher"/>, double sums), and the result is cropped back. Augmentation
/// applies the <see cref="Dihedral"/> transforms to the network input and their inverses to its output, and averages.
/// Memory: the tiles of one batch in flight, plus the image and the K x H x W double accumulators.
/// </summary>
internal static class TiledPrediction
{
    /// <summary>The transforms of an augmentation setting (identity first).</summary>
    public static IReadOnlyList<Dihedral> Transforms(TestTimeAugmentation tta) => tta switch
    {
        TestTimeAugmentation.None => [Dihedral.Identity],
        TestTimeAugmentation.Flips => [Dihedral.Identity, Dihedral.FlipHorizontal, Dihedral.FlipVertical, Dihedral.Rotate180],
        _ => DihedralTransforms.All,
    };

    /// <summary>The tile grid the options give for an image of <paramref name="height"/> x <paramref name="width"/>, or null for whole-image prediction.</summary>
    public static TileGrid? Grid(SegmentationPredictionOptions options, int sizeMultiple, int height, int width)
    {
        if (options.TileSize is not int requested || (height <= requested && width <= requested)) return null;
        int m = sizeMultiple;
        int ph = RoundUp(height, m), pw = RoundUp(width, m);
        int tile = Math.Max(m, Math.Min(requested / m * m, Math.Min(ph, pw) / m * m));
        int stride = Math.Max(m, (int)(tile * (1 - options.TileOverlap)) / m * m);
        return new TileGrid(ph, pw, tile, Math.Min(stride, tile));
    }

    public static float[] Predict(TrainedSegmentationModel model, float[] image, int c, int h, int w, SegmentationPredictionOptions options)
    {
        var transforms = Transforms(options.TestTimeAugmentation);
        var grid = Grid(options, model.Options.Network.SizeMultiple, h, w);
        return grid is null ? WholeImage(model, image, c, h, w, transforms) : Tiled(model, image, c, h, w, grid, options, transforms);
    }

    /// <summary>Whole-image prediction, averaged over the transforms (each transformed on the CPU by <see cref="DihedralTransforms"/>).</summary>
    private static float[] WholeImage(TrainedSegmentationModel model, float[] image, int c, int h, int w, IReadOnlyList<Dihedral> transforms)
    {
        if (transforms.Count == 1) return model.PredictProbabilities(image, c, h, w);
        int k = model.OutputChannels;
        var sum = new double[(long)k * h * w];
        foreach (var t in transforms)
        {
            var x = DihedralTransforms.Apply(image, c, h, w, t);
            var (th, tw) = DihedralTransforms.OutputSize(t, h, w);
            var p = model.PredictProbabilities(x, c, th, tw);
            var back = DihedralTransforms.Apply(p, k, th, tw, DihedralTransforms.Inverse(t));
            for (int i = 0; i < back.Length; i++) sum[i] += back[i];
        }
        var result = new float[sum.Length];
        for (int i = 0; i < result.Length; i++) result[i] = (float)(sum[i] / transforms.Count);
        return result;
    }

    private static float[] Tiled(TrainedSegmentationModel model, float[] image, int c, int h, int w, TileGrid grid,
        SegmentationPredictionOptions options, IReadOnlyList<Dihedral> transforms)
    {
        int k = model.OutputChannels, tile = grid.TileSize;
        var shared = options.Blending switch
        {
            TileBlending.Gaussian => TileWeights.Gaussian(tile, options.GaussianSigmaScale),
            TileBlending.Constant => TileWeights.Constant(tile),
            _ => null, // Center: per tile
        };
        var stitcher = new TileStitcher(grid, k);
        var network = model.Network;
        bool wasTraining = network.training;
        network.eval();
        try
        {
            using var outer = NewDisposeScope();
            using var mode = inference_mode();
            Tensor padded = Pad(tensor(image, new long[] { 1, c, h, w }), grid.Height - h, grid.Width - w, model.InferencePadding);
            int tilePlane = k * tile * tile;
            for (int start = 0; start < grid.Count; start += options.BatchSize)
            {
                int n = Math.Min(options.BatchSize, grid.Count - start);
                using var scope = NewDisposeScope();
                var parts = new Tensor[n];
                for (int i = 0; i < n; i++)
                {
                    var (x0, y0) = grid.GetOrigin(start + i);
                    parts[i] = padded[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(y0, y0 + tile), TensorIndex.Slice(x0, x0 + tile)];
                }
                Tensor batch = cat(parts, 0).to(model.Device);
                Tensor? sum = null;
                foreach (var t in transforms)
                {
                    Tensor logits = network.forward(Apply(batch, t));
                    Tensor p = Apply(k == 1 ? logits.sigmoid() : logits.softmax(1), DihedralTransforms.Inverse(t));
                    sum = sum is null ? p : sum.add_(p, LiveScalars.One);
                }
                using Scalar count = transforms.Count.ToScalar();
                float[] probs = sum!.div_(count).cpu().contiguous().data<float>().ToArray();
                for (int i = 0; i < n; i++)
                    stitcher.Add(start + i, probs.AsSpan(i * tilePlane, tilePlane), shared ?? CenterWeights(grid, start + i));
            }
        }
        finally
        {
            if (wasTraining) network.train();
        }
        var stitched = stitcher.ToArray();
        if (grid.Height == h && grid.Width == w) return stitched;
        return Cropping.Crop(stitched, k, grid.Height, grid.Width, 0, 0, w, h);
    }

    /// <summary>
    /// <see cref="TileBlending.Center"/> weights of one tile: 1 on the pixels whose nearest tile centre is this tile's (the
    /// regions of neighbouring tiles meet halfway across their overlap; tiles at the image border keep the border), 0
    /// elsewhere, so every pixel has exactly one tile.
    /// </summary>
    internal static float[] CenterWeights(TileGrid grid, int index)
    {
        int t = grid.TileSize;
        var (x0, y0) = grid.GetOrigin(index);
        var (c0, c1) = CoreRange(grid.ColumnOrigins, index % grid.Columns, t, grid.Width);
        var (r0, r1) = CoreRange(grid.RowOrigins, index / grid.Columns, t, grid.Height);
        var w = new float[t * t];
        for (int y = Math.Max(r0 - y0, 0); y < Math.Min(r1 - y0, t); y++)
            for (int x = Math.Max(c0 - x0, 0); x < Math.Min(c1 - x0, t); x++)
                w[y * t + x] = 1f;
        return w;
    }

    /// <summary>The image range [from, to) that tile <paramref name="i"/> of the origins owns along one axis.</summary>
    private static (int From, int To) CoreRange(IReadOnlyList<int> origins, int i, int tile, int length)
    {
        int from = i == 0 ? 0 : (origins[i - 1] + tile + origins[i]) / 2;
        int to = i == origins.Count - 1 ? length : (origins[i] + tile + origins[i + 1]) / 2;
        return (from, to);
    }

    /// <summary>Right/bottom padding as <see cref="UNet.PredictLogits(Tensor, UNetPadding)"/> pads (so tiles see what the whole image sees).</summary>
    private static Tensor Pad(Tensor x, int padH, int padW, UNetPadding padding)
        => padH == 0 && padW == 0 ? x : UNet.PadBottomRight(x, padH, padW, padding);

    /// <summary>A <see cref="Dihedral"/> transform of a batch [N, C, H, W]: flip left-right when k &gt;= 4, then rotate (k mod 4) x 90 degrees counter-clockwise.</summary>
    internal static Tensor Apply(Tensor x, Dihedral transform)
    {
        int k = (int)transform;
        if (k >= 4) x = x.flip(3);
        return (k & 3) == 0 ? x : x.rot90(k & 3, (2, 3));
    }

    private static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;
}
