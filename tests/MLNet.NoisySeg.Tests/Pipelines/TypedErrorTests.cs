using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Noise;
using MLNet.NoisySeg.Pipelines;
using MLNet.NoisySeg.Tests.TestSupport;

namespace MLNet.NoisySeg.Tests.Pipelines;

/// <summary>
/// Issue 12, "Hardening": the library's own errors reach the caller as themselves. Problems visible from the schema fail
/// before any row is read; problems found in a row surface unwrapped wherever the library reads the data (the evaluators,
/// the trainers, <see cref="SegmentationDataView.ReadItems"/>); a cursor the caller drives keeps ML.NET's worker wrapper,
/// with the precise error as its inner exception.
/// </summary>
[TestClass]
public sealed class TypedErrorTests
{
    private static readonly NoiseTransitionMatrix TwoClasses = new(new double[,] { { 0.9, 0.1 }, { 0.2, 0.8 } });

    /// <summary>Items with random gray images and masks of classes 0..classes-1.</summary>
    private static IDataView Items(MLContext ml, int size, int classes, int count = 3)
    {
        var rng = new Random(5);
        var items = Enumerable.Range(0, count).Select(i => new SegmentationItem($"img{i}",
            Enumerable.Range(0, size * size).Select(_ => (float)rng.NextDouble()).ToArray(), 1, size, size,
            Enumerable.Range(0, size * size).Select(_ => (byte)rng.Next(classes)).ToArray())).ToList();
        return SegmentationDataView.Create(ml, items);
    }

    /// <summary>What a cursor driven by the caller throws: the precise error, or ML.NET's worker wrapper around it.</summary>
    private static T PreciseInside<T>(Exception e) where T : Exception
    {
        if (e is T precise) return precise;
        Assert.IsTrue(ExceptionUnwrapping.IsWorkerWrapper(e), e.ToString());
        return Assert.IsInstanceOfType<T>(ExceptionUnwrapping.Unwrap(e), e.ToString());
    }

    [TestMethod]
    public void NoiseMatrixSmallerThanTheMasksClasses_FailsAtFit_NamingImageColumnPixelAndOption()
    {
        var ml = new MLContext(seed: 0);
        var three = Items(ml, 16, classes: 3);
        var noise = LabelNoiseSpec.FromMatrix(TwoClasses);
        var e = Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.CorruptLabels(noise).Fit(three));
        Assert.AreEqual("input", e.ParamName);
        StringAssert.StartsWith(e.Message, "Image 'img0': the mask column 'Mask' holds 2 at pixel (x=");
        StringAssert.Contains(e.Message, "has a 2x2 noise transition matrix: expected classes 0..1 or 255 (ignore)");
        StringAssert.Contains(e.Message, "LabelNoiseOptions.Noise");

        // In a pipeline the trainer never starts: the corruption's Fit reports it.
        var pipeline = ml.Transforms.CorruptLabels(noise).Append(ml.Segmentation().Trainers.UNet(labelColumnName: "NoisyMask", classCount: 3, epochs: 1));
        Assert.AreEqual(e.Message, Assert.ThrowsExactly<ArgumentException>(() => pipeline.Fit(three)).Message);

        var binary = Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.CorruptLabels(LabelNoiseSpec.Sampling(0.5)).Fit(three));
        StringAssert.Contains(binary.Message, "needs binary masks: expected 0 (background), 1 (foreground) or 255 (ignore)");
        var symmetric = Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.CorruptLabels(LabelNoiseSpec.SymmetricFlip(0.2, 2)).Fit(three));
        StringAssert.Contains(symmetric.Message, "has 2 classes: expected classes 0..1");
        ml.Transforms.CorruptLabels(LabelNoiseSpec.FromMatrix(NoiseTransitionMatrix.SymmetricFlip(3, 0.2))).Fit(three); // 3x3 fits
    }

    [TestMethod]
    public void NoiseMatrixSmallerThanTheMasksClasses_OnNewData_IsThePreciseErrorInTheEvaluator_AndInsideAUsersCursor()
    {
        var ml = new MLContext(seed: 0);
        var corrupt = ml.Transforms.CorruptLabels(LabelNoiseSpec.FromMatrix(TwoClasses)).Fit(Items(ml, 16, classes: 2));
        var scored = corrupt.Transform(Items(ml, 16, classes: 3));

        var e = Assert.ThrowsExactly<ArgumentException>(() => ml.Segmentation().EvaluateMulticlass(scored, 3, "Mask", "NoisyMask"));
        Assert.AreEqual("input", e.ParamName);
        StringAssert.StartsWith(e.Message, "Image 'img0': the mask column 'Mask' holds 2 at pixel (x=");
        StringAssert.Contains(e.Message, "2x2 noise transition matrix");
        Assert.AreEqual(e.Message, Assert.ThrowsExactly<ArgumentException>(() => SegmentationDataView.ReadItems(scored, maskColumnName: "NoisyMask")).Message);
        Assert.AreEqual(e.Message, Assert.ThrowsExactly<ArgumentException>(() => corrupt.Corrupt(SegmentationDataView.ReadItems(Items(ml, 16, classes: 3))[0].Mask, "img0")).Message
            .Replace("(Parameter 'mask')", "(Parameter 'input')", StringComparison.Ordinal));

        // ML.NET drives this cursor: its wrapper stays, the precise error is inside.
        var user = Assert.Throws<Exception>(() => scored.GetColumn<VBuffer<byte>>("NoisyMask").ToList());
        Assert.AreEqual(e.Message, PreciseInside<ArgumentException>(user).Message);
    }

    [TestMethod]
    public void UpstreamRowError_ReachesTheMetaStructureAndLabelQualityFitsAsItself()
    {
        // The meta-structure Fit scans the masks for their classes; a row error of the mapping before it is that error,
        // not ML.NET's worker wrapper around it.
        var ml = new MLContext(seed: 0);
        var corrupt = ml.Transforms.CorruptLabels(LabelNoiseSpec.FromMatrix(TwoClasses)).Fit(Items(ml, 16, classes: 2));
        var scored = corrupt.Transform(Items(ml, 16, classes: 3));
        var e = Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.ExtractMetaStructure(inputColumnName: "NoisyMask", classCount: 3).Fit(scored));
        StringAssert.StartsWith(e.Message, "Image 'img0': the mask column 'Mask' holds 2 at pixel (x=");
        StringAssert.Contains(e.Message, "2x2 noise transition matrix");
        // The same for the label-quality Fit (the gray images stand in for probabilities).
        var quality = Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.ScoreLabelQuality("NoisyMask", "Image", classCount: 2).Fit(scored));
        StringAssert.Contains(quality.Message, "2x2 noise transition matrix");
    }

    [TestMethod]
    public void ModelAppliedToAnotherImageSize_FailsBeforeAnyRow_NamingTheColumnAndTheTrainedShape()
    {
        var (ml, _, model) = SmallPipeline.Get();
        var segmentation = SegmentationTransformer.From(model);
        var other = Items(ml, 16, classes: 2);

        // A planar image column whose type states another size is served at that size (issue 13: whole images after crops).
        var served = segmentation.Transform(other);
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single, 1, 16, 16), served.Schema["Probability"].Type);
        Assert.AreEqual(3, served.GetColumn<VBuffer<float>>("Probability").Count(p => p.Length == 256));

        // A vector that does not say its shape cannot be read as an image of another size: refused before any row.
        var flat = ml.Data.LoadFromEnumerable(new[] { new Flat256 { Image = new float[256] } });
        var e = Assert.ThrowsExactly<ArgumentException>(() => segmentation.Transform(flat));
        Assert.AreEqual("input", e.ParamName);
        StringAssert.StartsWith(e.Message, "The image column 'Image' is Vector<Single, 256> (256 values per row); the segmentation model was fitted on 1x32x32 images");
        StringAssert.Contains(e.Message, "SegmentationTransformer.Predict takes an image of any size");
        Assert.AreEqual("inputSchema", Assert.ThrowsExactly<ArgumentException>(() => segmentation.GetOutputSchema(flat.Schema)).ParamName);
        Assert.ThrowsExactly<ArgumentException>(() => ml.Model.CreatePredictionEngine<Flat256, Prediction>(segmentation));

        // The whole pipeline stops at its first transform fitted on 32x32 (the label noise, on the mask column).
        var pipeline = Assert.ThrowsExactly<ArgumentException>(() => model.Transform(other));
        StringAssert.StartsWith(pipeline.Message, "The mask column 'Mask' is Vector<Byte, 16, 16>");
        StringAssert.Contains(pipeline.Message, "the label-noise transform was fitted on 32x32 masks");
        var otsu = Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.OtsuThreshold().Fit(SmallPipeline.Get().Data).Transform(other));
        StringAssert.Contains(otsu.Message, "the threshold transform was fitted on 1x32x32 images");

        // The typed convenience takes any size.
        var (probability, mask) = segmentation.Predict(new float[16 * 16], 1, 16, 16);
        Assert.AreEqual(256, probability.Length);
        Assert.AreEqual(256, mask.Length);
    }

    [TestMethod]
    public void LoadedModelAppliedToAnotherImageSize_IsThePreciseErrorInTheEvaluators_ThePredictionEngine_AndInsideAUsersCursor()
    {
        var (ml, data, model) = SmallPipeline.Get();
        using var tmp = TestPaths.NewTemp();
        string zip = Path.Combine(tmp.Path, "segmentation.zip");
        ml.Model.SaveAtomically(SegmentationTransformer.From(model), data.Schema, zip); // the model alone, as the study's train verb saves it
        var ml2 = new MLContext(seed: 1).RegisterNoisySeg();
        var loaded = ml2.Model.LoadNoisySeg(zip, out _);
        var scored = loaded.Transform(Items(ml2, 16, classes: 2)); // a loaded chain is plain ML.NET: nothing fails yet

        var e = Assert.ThrowsExactly<ArgumentException>(() => ml2.Segmentation().EvaluateBinary(scored));
        Assert.AreEqual("input", e.ParamName);
        StringAssert.StartsWith(e.Message, "The image column 'Image' holds a row of 256 values; the segmentation model was fitted on 1x32x32 images (1024 values).");
        Assert.AreEqual(e.Message, Assert.ThrowsExactly<ArgumentException>(() => ml2.Segmentation().EvaluateBinary(ml2.Data.Cache(scored))).Message, "through the cache's filler thread");
        Assert.AreEqual(e.Message, Assert.ThrowsExactly<ArgumentException>(() => SegmentationDataView.ReadItems(scored, "Probability", null, null, 16, 16)).Message);

        // A prediction engine runs the mapping on the caller's thread: no wrapper.
        var engine = ml2.Model.CreatePredictionEngine<Image16, Prediction>(loaded);
        Assert.AreEqual(e.Message, Assert.ThrowsExactly<ArgumentException>(() => engine.Predict(new Image16 { Image = new float[256] })).Message);

        var user = Assert.Throws<Exception>(() => scored.GetColumn<VBuffer<float>>("Probability").ToList());
        Assert.AreEqual(e.Message, PreciseInside<ArgumentException>(user).Message);
    }

    [TestMethod]
    public void TamperedModelState_FailsAtLoadNoisySeg_AndAsItselfInTheEvaluators()
    {
        var (ml, data, model) = SmallPipeline.Get();
        var stream = new MemoryStream();
        ml.Model.Save(SegmentationTransformer.From(model), data.Schema, stream);
        string state = SmallPipeline.Entries(stream.ToArray()).Where(kv => kv.Key.EndsWith("/DefaultMap.idv", StringComparison.Ordinal)).Single().Key;
        var tampered = SmallPipeline.WithEntry(stream.ToArray(), n => n == state, c =>
        {
            c[c.Length / 2] ^= 0x01;
            return c;
        });
        var ml2 = new MLContext(seed: 1).RegisterNoisySeg();

        var atLoad = Assert.ThrowsExactly<InvalidDataException>(() => ml2.Model.LoadNoisySeg(new MemoryStream(tampered), out _));
        StringAssert.Contains(atLoad.Message, $"zip entry '{state}'");
        StringAssert.Contains(atLoad.Message, "failed its SHA-256 check");

        // Plain Model.Load does not look at the state; the first row does, and the evaluator reports it as itself.
        var loaded = ml2.Model.Load(new MemoryStream(tampered), out _);
        var scored = loaded.Transform(data);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => ml2.Segmentation().EvaluateBinary(scored));
        Assert.AreEqual($"The state of the NoisySeg transform '{SegmentationFactory.ContractName}' failed its SHA-256 check; the model zip is damaged or was modified.", e.Message);
        var user = Assert.Throws<Exception>(() => scored.GetColumn<VBuffer<float>>("Probability").ToList());
        Assert.AreEqual(e.Message, PreciseInside<InvalidDataException>(user).Message);
    }

    [TestMethod]
    public void Unwrap_RemovesOnlyMLNetsThreadHopWrappers()
    {
        var inner = new ArgumentException("precise", "input");
        var wrapped = new InvalidOperationException("Event we were waiting on was subject to an exception",
            new InvalidOperationException(ExceptionUnwrapping.WorkerMessage, inner));
        Assert.AreSame(inner, ExceptionUnwrapping.Unwrap(wrapped));
        var other = new InvalidOperationException("Something else", inner);
        Assert.AreSame(other, ExceptionUnwrapping.Unwrap(other));
        Assert.IsFalse(ExceptionUnwrapping.IsWorkerWrapper(new InvalidOperationException(ExceptionUnwrapping.WorkerMessage)), "no inner exception: nothing to unwrap");
    }

    public sealed class Flat256
    {
        [VectorType(256)]
        public float[] Image { get; set; } = [];
    }

    public sealed class Image16
    {
        [VectorType(1, 16, 16)]
        public float[] Image { get; set; } = [];
    }

    public sealed class Prediction
    {
        [VectorType]
        public float[] Probability { get; set; } = [];
    }
}
