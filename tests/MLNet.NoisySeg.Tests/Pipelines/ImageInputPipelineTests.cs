using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Data.Synthetic;
using MLNet.NoisySeg.Noise;
using MLNet.NoisySeg.Pipelines;
using MLNet.NoisySeg.Tests.TestSupport;

namespace MLNet.NoisySeg.Tests.Pipelines;

/// <summary>
/// Issue 13: a saved pipeline scores images without masks (training-only steps pass through, preprocessing travels in
/// the zip); standard ML.NET image columns (LoadImages, ResizeImages, ExtractPixels planar or interleaved, MLImage) train
/// the U-Net with the mask transform and no CustomMapping.
/// </summary>
[TestClass]
public class ImageInputPipelineTests
{
    private static string WriteFiles(string folder, int size, int count, int seed = 7)
    {
        var o = new SyntheticFluorescenceOptions { Kind = SyntheticFluorescenceKind.Nuclei, Width = size, Height = size, NucleusRadiusMin = 5 * size / 64, NucleusRadiusMax = 10 * size / 64 };
        SyntheticDataSets.WriteSplit(SyntheticData.FluorescenceBatch(o, seed, count), folder, binary: true);
        return folder;
    }

    private sealed class FileRow
    {
        public string ImagePath { get; set; } = "";
        public string MaskPath { get; set; } = "";
    }

    private static IDataView Files(MLContext ml, string split) => ml.Data.LoadFromEnumerable(
        Directory.GetFiles(Path.Combine(split, "images")).Order(StringComparer.Ordinal)
            .Select(f => new FileRow { ImagePath = f, MaskPath = Path.Combine(split, "masks", Path.GetFileName(f)) }).ToList());

    public sealed class PathInput
    {
        public string ImagePath { get; set; } = "";
    }

    [TestMethod]
    public void CorruptLabelsThenUNet_SavedAndLoaded_ScoresAnImageWithoutMask()
    {
        var ml = new MLContext(seed: 0);
        var train = SyntheticFixtures.View(ml, seed: 7, count: 8);
        var model = ml.Transforms.CorruptLabels(LabelNoiseSpec.Sampling(0.5), seed: 1)
            .Append(ml.Segmentation().Trainers.UNet(UNetSegmentationTrainerTests.SmallOptions(steps: 6) with { LabelColumnName = SegmentationColumnNames.NoisyMask }))
            .Fit(train);
        using var tmp = TestPaths.NewTemp();
        string zip = Path.Combine(tmp.Path, "model.zip");
        ml.Model.Save(model, train.Schema, zip);

        var ml2 = new MLContext().RegisterNoisySeg();
        var loaded = ml2.Model.Load(zip, out _);
        // The schema of image-only data: no mask asked for, no corrupted column made.
        var imageOnly = ml2.Data.LoadFromEnumerable(new[] { new UNetSegmentationTrainerTests.ImageInput() }).Schema;
        var output = loaded.GetOutputSchema(imageOnly);
        Assert.IsNotNull(output.GetColumnOrNull(SegmentationColumnNames.PredictedMask));
        Assert.IsNull(output.GetColumnOrNull(SegmentationColumnNames.NoisyMask), "a training-only step added its column at scoring time");

        var items = SegmentationDataView.ReadItems(train);
        var engine = ml2.Model.CreatePredictionEngine<UNetSegmentationTrainerTests.ImageInput, UNetSegmentationTrainerTests.Prediction>(loaded);
        var p = engine.Predict(new UNetSegmentationTrainerTests.ImageInput { Image = items[0].Image });
        var expected = EstimatorContract.Dump(model.Transform(train), SegmentationColumnNames.PredictedMask).AsSpan(0, 64 * 64).ToArray();
        CollectionAssert.AreEqual(expected, p.PredictedMask);

        // With the mask column, the fitted (unsaved) pipeline still corrupts: the training path is unchanged.
        Assert.IsNotNull(model.Transform(train).Schema.GetColumnOrNull(SegmentationColumnNames.NoisyMask));
    }

    [TestMethod]
    public void LoadSegmentationImage_AtTheHead_LoadedModelScoresAnImageFilePath_AsTheFolderLoaderPrepared()
    {
        using var tmp = TestPaths.NewTemp();
        string split = WriteFiles(Path.Combine(tmp.Path, "train"), size: 80, count: 6);
        var ml = new MLContext(seed: 0);
        var folder = new SegmentationFolderOptions { MaskEncoding = MaskEncoding.Binary, ForegroundValue = 255, Width = 64, Height = 64 };
        var train = ml.Data.LoadFromSegmentationFolder(split, folder);
        var model = ml.Transforms.LoadSegmentationImage(SegmentationImageOptions.From(folder))
            .Append(ml.Segmentation().Trainers.UNet(UNetSegmentationTrainerTests.SmallOptions(steps: 4)))
            .Fit(train);
        string zip = Path.Combine(tmp.Path, "model.zip");
        ml.Model.Save(model, train.Schema, zip);

        var ml2 = new MLContext().RegisterNoisySeg();
        var engine = ml2.Model.CreatePredictionEngine<PathInput, UNetSegmentationTrainerTests.Prediction>(ml2.Model.Load(zip, out _));
        string file = Directory.GetFiles(Path.Combine(split, "images")).Order(StringComparer.Ordinal).First();
        var p = engine.Predict(new PathInput { ImagePath = file });

        // The same image prepared by the folder loader (resize 80 -> 64, z-score), predicted by the trainer's transformer.
        var item = SegmentationFolderLoader.LoadOne(file, null, 0, folder);
        var segmentation = SegmentationTransformer.From(model);
        var direct = segmentation.Predict(item.Image, 1, 64, 64);
        CollectionAssert.AreEqual(direct.Probability, p.Probability);
        CollectionAssert.AreEqual(direct.Mask, p.PredictedMask);
    }

    [TestMethod]
    [DataRow("planar")]
    [DataRow("interleaved")]
    [DataRow("mlimage")]
    public void ImageAnalytics_LoadResizeExtract_PlusMaskTransform_TrainsTheUNet_WithoutCustomMapping(string route)
    {
        using var tmp = TestPaths.NewTemp();
        // 96x96 files resized to 64x64: the masks' bilinear blending is what the threshold of the mask transform undoes.
        string split = WriteFiles(Path.Combine(tmp.Path, "train"), size: 96, count: 16);
        var ml = new MLContext(seed: 0);
        var files = Files(ml, split);

        IEstimator<ITransformer> images = ml.Transforms.LoadImages("ImageObject", null, "ImagePath")
            .Append(ml.Transforms.ResizeImages("ImageObject", 64, 64, "ImageObject"));
        string imageColumn = "ImageObject";
        if (route != "mlimage")
        {
            images = images.Append(ml.Transforms.ExtractPixels("Pixels", "ImageObject", ImagePixelExtractingEstimator.ColorBits.Red,
                interleavePixelColors: route == "interleaved", scaleImage: 1f / 255));
            imageColumn = "Pixels";
        }
        var masks = ml.Transforms.ConvertMaskToClassIndices(new MaskConversionOptions
        {
            InputColumnName = "MaskPath", OutputColumnName = "Mask", ForegroundValue = 255, Threshold = 128, Width = 64, Height = 64,
        });
        var trainer = ml.Segmentation().Trainers.UNet(UNetSegmentationTrainerTests.SmallOptions(steps: 80) with { ImageColumnName = imageColumn });
        var model = images.Append(masks).Append(trainer).Fit(files);

        var scored = model.Transform(files);
        var metrics = ml.Segmentation().EvaluateBinary(scored);
        Assert.IsTrue(metrics.Dice >= 0.7, $"{route}: Dice {metrics.Dice:0.000} on the training images");

        // Saved and loaded, the model scores an image path alone (the mask conversion is training-only).
        string zip = Path.Combine(tmp.Path, "model.zip");
        ml.Model.Save(model, files.Schema, zip);
        var ml2 = new MLContext().RegisterNoisySeg();
        var engine = ml2.Model.CreatePredictionEngine<PathInput, UNetSegmentationTrainerTests.Prediction>(ml2.Model.Load(zip, out _));
        var first = Directory.GetFiles(Path.Combine(split, "images")).Order(StringComparer.Ordinal).First();
        var p = engine.Predict(new PathInput { ImagePath = first });
        var expected = EstimatorContract.Dump(scored, SegmentationColumnNames.PredictedMask).AsSpan(0, 64 * 64).ToArray();
        CollectionAssert.AreEqual(expected, p.PredictedMask);
    }

    [TestMethod]
    public void Interleaved_Multichannel_ExtractPixels_IsReadAsPlanar()
    {
        // A 3-channel interleaved vector [H, W, 3] and the same pixels planar [3, H, W] give the same items.
        var ml = new MLContext(seed: 0);
        int h = 8, w = 6;
        var planar = new float[3 * h * w];
        var interleaved = new float[3 * h * w];
        var rng = new Random(3);
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < h * w; i++)
            {
                float v = rng.Next(256);
                planar[c * h * w + i] = v;
                interleaved[i * 3 + c] = v;
            }
        var mask = new byte[h * w];
        IDataView View(float[] pixels, int[] dims)
        {
            var def = SchemaDefinition.Create(typeof(VectorRow));
            def[nameof(VectorRow.Image)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, dims);
            def[nameof(VectorRow.Mask)].ColumnType = new VectorDataViewType(NumberDataViewType.Byte, h, w);
            return ml.Data.LoadFromEnumerable(new[] { new VectorRow { Image = pixels, Mask = mask } }, def);
        }
        var a = SegmentationDataView.ReadItems(View(planar, [3, h, w]));
        var b = SegmentationDataView.ReadItems(View(interleaved, [h, w, 3]));
        Assert.AreEqual(3, b[0].Channels);
        CollectionAssert.AreEqual(a[0].Image, b[0].Image);

        // A vector without dimensions: the error says how to give the shape.
        var def2 = SchemaDefinition.Create(typeof(VectorRow));
        def2[nameof(VectorRow.Image)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 3 * h * w);
        def2[nameof(VectorRow.Mask)].ColumnType = new VectorDataViewType(NumberDataViewType.Byte, h, w);
        var flat = ml.Data.LoadFromEnumerable(new[] { new VectorRow { Image = planar, Mask = mask } }, def2);
        var e = Assert.ThrowsExactly<ArgumentException>(() => ml.Segmentation().Trainers.UNet(UNetSegmentationTrainerTests.SmallOptions(steps: 1)).Fit(flat));
        StringAssert.Contains(e.Message, "NormalizeSegmentationImage");
    }

    private sealed class VectorRow
    {
        public float[] Image { get; set; } = [];
        public byte[] Mask { get; set; } = [];
    }

    private sealed class MaskRow
    {
        public byte[] MaskPixels { get; set; } = [];
    }

    private static byte[] Convert(MLContext ml, byte[] pixels, int[] dims, MaskConversionOptions options)
    {
        var def = SchemaDefinition.Create(typeof(MaskRow));
        def[nameof(MaskRow.MaskPixels)].ColumnType = new VectorDataViewType(NumberDataViewType.Byte, dims);
        var data = ml.Data.LoadFromEnumerable(new[] { new MaskRow { MaskPixels = pixels } }, def);
        var output = ml.Transforms.ConvertMaskToClassIndices(options with { InputColumnName = "MaskPixels" }).Fit(data).Transform(data);
        return output.GetColumn<VBuffer<byte>>(output.Schema[options.OutputColumnName]).Single().DenseValues().ToArray();
    }

    [TestMethod]
    public void MaskConversion_BinaryThreshold_GrayValueMap_AndPalette()
    {
        var ml = new MLContext(seed: 0);
        // Binary, exact: only 255 is foreground; with a threshold (foreground above it) blended values count too.
        byte[] gray = [0, 100, 127, 128, 200, 255];
        CollectionAssert.AreEqual(new byte[] { 0, 0, 0, 0, 0, 1 }, Convert(ml, gray, [2, 3], new MaskConversionOptions { ForegroundValue = 255 }));
        CollectionAssert.AreEqual(new byte[] { 0, 0, 0, 1, 1, 1 }, Convert(ml, gray, [2, 3], new MaskConversionOptions { ForegroundValue = 255, Threshold = 128 }));
        // Dark foreground (ISBI 2012 membranes are 0): at or below the threshold.
        CollectionAssert.AreEqual(new byte[] { 1, 1, 1, 1, 0, 0 }, Convert(ml, gray, [2, 3], new MaskConversionOptions { ForegroundValue = 0, Threshold = 128 }));

        // Gray-value map to class indices, 255 = ignore.
        byte[] levels = [0, 85, 170, 255, 85, 0];
        var map = new MaskConversionOptions
        {
            Encoding = MaskEncoding.ClassIndex, ClassCount = 3, GrayValues = new Dictionary<int, int> { [0] = 0, [85] = 1, [170] = 2, [255] = 255 },
        };
        CollectionAssert.AreEqual(new byte[] { 0, 1, 2, 255, 1, 0 }, Convert(ml, levels, [2, 3], map));
        // A gray value the map does not know is an error naming it (ML.NET's cursor may wrap it; issue 12 unwraps).
        Exception? e = Assert.Throws<Exception>(() => Convert(ml, [0, 1, 85, 170], [2, 2], map));
        while (e is not null and not SegmentationDataException) e = e.InnerException;
        Assert.IsNotNull(e, "no SegmentationDataException");
        StringAssert.Contains(e.Message, "gray value 1, which is not in GrayValues");

        // RGB palette from an interleaved [H, W, 3] vector (ExtractPixels with interleaving).
        byte[] rgb = [255, 0, 0, 0, 255, 0, 0, 0, 0, 255, 0, 0];
        var palette = new MaskConversionOptions
        {
            Encoding = MaskEncoding.RgbPalette, ClassCount = 3, Palette = new Dictionary<int, int> { [0x000000] = 0, [0xFF0000] = 1, [0x00FF00] = 2 },
        };
        CollectionAssert.AreEqual(new byte[] { 1, 2, 0, 1 }, Convert(ml, rgb, [2, 2, 3], palette));
    }
}
