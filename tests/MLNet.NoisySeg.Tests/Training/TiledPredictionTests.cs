using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Data.Preprocessing;
using MLNet.NoisySeg.Networks;
using MLNet.NoisySeg.Pipelines;
using MLNet.NoisySeg.Training;

namespace MLNet.NoisySeg.Tests.Training;

/// <summary>
/// Issue 13: prediction of images larger than the training size by overlapping tiles (sliding window) at the image's
/// own resolution, and test-time augmentation. Center blending with half the overlap at least the receptive-field radius
/// equals whole-image prediction up to float rounding; Gaussian blending stays close.
/// </summary>
[TestClass]
public class TiledPredictionTests
{
    private static readonly Lazy<TrainedSegmentationModel> Model = new(() => SegmentationTrainer.Train(TestBlobs.Many(4, 64, seed: 2), new SegmentationTrainerOptions
    {
        Network = new UNetOptions { Depth = 3, BaseWidth = 8 },
        MaxSteps = 6,
        BatchSize = 4,
        LearningRate = 3e-3,
        Optimizer = OptimizerKind.Adam,
        Seed = 1,
        Threads = 2,
    }));

    private static double MaxAbsDiff(float[] a, float[] b)
    {
        Assert.AreEqual(a.Length, b.Length);
        double max = 0;
        for (int i = 0; i < a.Length; i++) max = Math.Max(max, Math.Abs(a[i] - b[i]));
        return max;
    }

    [TestMethod]
    [DataRow(512, 512)]
    [DataRow(300, 520)]
    public void CenterTiles_WithOverlapCoveringTheReceptiveField_EqualWholeImagePrediction(int h, int w)
    {
        var model = Model.Value;
        Assert.AreEqual(58, model.Options.Network.ReceptiveFieldRadius);
        var image = TestBlobs.Make(0, Math.Max(h, w), seed: 9).Image.AsSpan(0, h * w).ToArray();
        var whole = model.PredictProbabilities(image, 1, h, w);
        var options = new SegmentationPredictionOptions { TileSize = 256, TileOverlap = 0.5, Blending = TileBlending.Center };
        var grid = TiledPrediction.Grid(options, model.Options.Network.SizeMultiple, h, w)!;
        Assert.IsTrue(grid.Count > 1, "the image is really tiled");
        Assert.IsTrue((grid.TileSize - grid.Stride) / 2 >= 58, "half the overlap covers the receptive field");
        var tiled = model.PredictProbabilities(image, 1, h, w, options);
        double diff = MaxAbsDiff(whole, tiled);
        Assert.IsTrue(diff <= 1e-4, $"max |tiled - whole| = {diff:E2}");
    }

    [TestMethod]
    public void GaussianAndConstantTiles_StayCloseToWholeImagePrediction()
    {
        var model = Model.Value;
        var image = TestBlobs.Make(1, 512, seed: 9).Image;
        var whole = model.PredictProbabilities(image, 1, 512, 512);
        foreach (var blending in new[] { TileBlending.Gaussian, TileBlending.Constant })
        {
            var tiled = model.PredictProbabilities(image, 1, 512, 512, new SegmentationPredictionOptions { TileSize = 256, Blending = blending });
            double mean = whole.Zip(tiled, (a, b) => Math.Abs(a - b)).Average();
            Assert.IsTrue(mean < 0.01, $"{blending}: mean |tiled - whole| = {mean:E2}");
        }
    }

    [TestMethod]
    public void CenterWeights_GiveEveryPixelExactlyOneTile()
    {
        var grid = new TileGrid(200, 328, 64, 40);
        var sum = new int[200 * 328];
        for (int t = 0; t < grid.Count; t++)
        {
            var w = TiledPrediction.CenterWeights(grid, t);
            var (x0, y0) = grid.GetOrigin(t);
            for (int y = 0; y < 64; y++)
                for (int x = 0; x < 64; x++)
                    sum[(y0 + y) * 328 + x0 + x] += (int)w[y * 64 + x];
        }
        Assert.IsTrue(sum.All(s => s == 1));
    }

    [TestMethod]
    public void FlipAugmentation_IsTheMeanOfTheFlippedPredictionsFlippedBack()
    {
        var model = Model.Value;
        int h = 64, w = 96;
        var image = TestBlobs.Make(2, 96, seed: 9).Image.AsSpan(0, h * w).ToArray();
        var expected = new double[h * w];
        foreach (var (fx, fy) in new[] { (false, false), (true, false), (false, true), (true, true) })
        {
            var p = model.PredictProbabilities(Flip(image, h, w, fx, fy), 1, h, w);
            var back = Flip(p, h, w, fx, fy);
            for (int i = 0; i < back.Length; i++) expected[i] += back[i] / 4.0;
        }
        var tta = model.PredictProbabilities(image, 1, h, w, new SegmentationPredictionOptions { TestTimeAugmentation = TestTimeAugmentation.Flips });
        double diff = MaxAbsDiff(expected.Select(v => (float)v).ToArray(), tta);
        Assert.IsTrue(diff <= 1e-5, $"max diff {diff:E2}");
        // Not the plain prediction: augmentation changes the output.
        Assert.IsTrue(MaxAbsDiff(model.PredictProbabilities(image, 1, h, w), tta) > 1e-4);
        // Dihedral (8 passes) with tiles runs and gives probabilities.
        var dihedral = model.PredictProbabilities(image, 1, h, w, new SegmentationPredictionOptions
        {
            TileSize = 32, TestTimeAugmentation = TestTimeAugmentation.Dihedral,
        });
        Assert.IsTrue(dihedral.All(v => v is >= 0 and <= 1));
    }

    private static float[] Flip(float[] image, int h, int w, bool x, bool y)
    {
        var r = new float[image.Length];
        for (int i = 0; i < h; i++)
            for (int j = 0; j < w; j++)
                r[i * w + j] = image[(y ? h - 1 - i : i) * w + (x ? w - 1 - j : j)];
        return r;
    }

    private sealed class Row
    {
        public float[] Image { get; set; } = [];
        public byte[] Mask { get; set; } = [];
    }

    [TestMethod]
    public void Pipeline_TrainedOn64_ScoresLarger512Images_TileWise_ThroughWithPrediction_AndTheZip()
    {
        var ml = new MLContext(seed: 0);
        var train = SegmentationDataView.Create(ml, TestBlobs.Many(4, 64, seed: 3));
        var options = Pipelines.UNetSegmentationTrainerTests.SmallOptions(steps: 4);
        var model = ml.Segmentation().Trainers.UNet(options).Fit(train);
        var big = TestBlobs.Make(5, 512, seed: 3);
        var prediction = new SegmentationPredictionOptions { TileSize = 256, TileOverlap = 0.5, Blending = TileBlending.Center };
        var def = SchemaDefinition.Create(typeof(Row));
        def[nameof(Row.Image)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 1, 512, 512);
        def[nameof(Row.Mask)].ColumnType = new VectorDataViewType(NumberDataViewType.Byte, 512, 512);
        var data = ml.Data.LoadFromEnumerable(new[] { new Row { Image = big.Image, Mask = big.Mask! } }, def);
        var tiled = model.WithPrediction(prediction, data.Schema);
        Assert.AreEqual(TileBlending.Center, tiled.Prediction.Blending);
        var scored = tiled.Transform(data);
        var probability = scored.GetColumn<VBuffer<float>>(scored.Schema[SegmentationColumnNames.Probability]).Single().DenseValues().ToArray();
        Assert.AreEqual(512 * 512, probability.Length);
        var whole = model.Predict(big.Image, 1, 512, 512).Probability;
        Assert.IsTrue(MaxAbsDiff(whole, probability) <= 1e-4);

        // The prediction options are saved with the model.
        using var tmp = TestSupport.TestPaths.NewTemp();
        string zip = Path.Combine(tmp.Path, "tiled.zip");
        ml.Model.Save(tiled, data.Schema, zip);
        var loaded = SegmentationTransformer.From(new MLContext().RegisterNoisySeg().Model.Load(zip, out _));
        Assert.AreEqual(256, loaded.Prediction.TileSize);
        Assert.AreEqual(TileBlending.Center, loaded.Prediction.Blending);
    }
}
