using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Training;

namespace MLNet.NoisySeg.Pipelines;

/// <summary>Options of k-fold cross-fitting (<see cref="CrossFitting.Fit"/>, <c>mlContext.Segmentation().CrossFitProbabilities</c>).</summary>
public sealed record CrossFitOptions
{
    /// <summary>k, the number of folds (at least 2, at most the number of images). Default 5.</summary>
    public int FoldCount { get; init; } = 5;

    /// <summary>Seed of the fold assignment (<see cref="CrossFitting.AssignFolds"/>). The training seed is <c>Trainer.Seed</c>. Default 0.</summary>
    public int Seed { get; init; }

    /// <summary>Number of classes; 2 = binary (one sigmoid output). Default 2.</summary>
    public int ClassCount { get; init; } = 2;

    /// <summary>
    /// The U-Net training of every fold: network, loss, optimizer, budget (<c>MaxSteps</c> or <c>Epochs</c>), crops, seed,
    /// threads. <c>Network.InputChannels</c> is taken from the images; <c>Network.OutputChannels</c> must be 1 for
    /// binary and <see cref="ClassCount"/> otherwise, with a loss that supports it (e.g. CrossEntropy for multi-class).
    /// </summary>
    public SegmentationTrainerOptions Trainer { get; init; } = new();

    /// <summary>Image column of the data view given to the catalog. Default "Image".</summary>
    public string ImageColumnName { get; init; } = SegmentationColumnNames.Image;

    /// <summary>Mask column (the given labels being judged) of the data view given to the catalog. Default "Mask".</summary>
    public string LabelColumnName { get; init; } = SegmentationColumnNames.Mask;

    /// <summary>Name column (text) of the data view given to the catalog; the row index when absent. Default "Name".</summary>
    public string NameColumnName { get; init; } = SegmentationColumnNames.Name;

    /// <summary>Progress: a report when a fold starts and after every training step, synchronously on the training thread.</summary>
    public IProgress<CrossFitProgress>? Progress { get; init; }

    /// <summary>Stops the cross-fitting between training steps and between predictions.</summary>
    public CancellationToken CancellationToken { get; init; }

    /// <summary>Checks every option; throws naming the first bad one.</summary>
    public void Validate()
    {
        if (FoldCount < 2) throw new ArgumentOutOfRangeException(nameof(FoldCount), FoldCount, "FoldCount must be at least 2.");
        if (ClassCount is < 2 or > MaskConventions.MaxClassCount)
            throw new ArgumentOutOfRangeException(nameof(ClassCount), ClassCount, $"ClassCount must be in [2, {MaskConventions.MaxClassCount}].");
        ArgumentNullException.ThrowIfNull(Trainer, nameof(Trainer));
        int expected = ClassCount == 2 ? 1 : ClassCount;
        if (Trainer.Network is { } net && net.OutputChannels != expected)
            throw new ArgumentException($"Trainer.Network.OutputChannels is {net.OutputChannels}; ClassCount {ClassCount} needs {expected} (1 logit for binary).", nameof(Trainer));
        Trainer.Validate();
        OptionChecks.Columns((ImageColumnName, nameof(ImageColumnName)), (LabelColumnName, nameof(LabelColumnName)), (NameColumnName, nameof(NameColumnName)));
    }
}

/// <summary>Progress of cross-fitting.</summary>
/// <param name="Fold">The fold being held out (0-based).</param>
/// <param name="FoldCount">k.</param>
/// <param name="TrainingImages">Images the fold's model trains on.</param>
/// <param name="HeldOutImages">Images of the fold (predicted by that model).</param>
/// <param name="Training">The training step just done; null for the report at the start of a fold.</param>
public sealed record CrossFitProgress(int Fold, int FoldCount, int TrainingImages, int HeldOutImages, TrainingProgress? Training);

/// <summary>One image with its out-of-sample probabilities.</summary>
/// <param name="Item">The image and its given mask.</param>
/// <param name="Index">Its position in the cross-fitted data.</param>
/// <param name="Fold">Its fold: the model that predicted it trained on every other fold.</param>
/// <param name="Probability">Planar <c>[K, H, W]</c> probabilities (K = 1 for binary: the foreground probability).</param>
public sealed record CrossFittedPrediction(SegmentationItem Item, int Index, int Fold, float[] Probability);

/// <summary>
/// k-fold cross-fitting with the U-Net trainer, for label-quality scoring (cleanlab's requirement that every image be
/// judged by a model that did not train on it): the images are split into k folds (<see cref="AssignFolds"/>, by seed
/// and image name), a U-Net is trained on every k−1 folds (<see cref="SegmentationTrainer"/>) and predicts the fold it
/// did not see.
/// </summary>
/// <remarks>
/// Memory: the k trained networks are kept (a few MB at most) and the probabilities are computed on demand, one image
/// at a time (<see cref="CrossFittedSegmentation.Predictions"/>, <see cref="CrossFittedSegmentation.ToDataView"/>), so
/// nothing of size images x classes x pixels is held. The images and masks themselves are in memory (training needs them).
/// Determinism: the folds depend on the seed and the set of names only; each fold's training is deterministic as
/// <see cref="SegmentationTrainer"/> is (same seed and thread count on the CPU give the same weights).
/// </remarks>
public static class CrossFitting
{
    /// <summary>
    /// The fold of every image: images are ordered by a 64-bit hash of (<paramref name="seed"/>, name) and dealt out
    /// to the folds in turn, so folds differ in size by at most one and an image's fold depends only on the seed and
    /// the set of names (not their order). Equal names are ordered by position.
    /// </summary>
    /// <param name="names">Image names (e.g. file names).</param>
    /// <param name="foldCount">k, at least 2 and at most the number of names.</param>
    /// <param name="seed">Seed of the assignment.</param>
    /// <returns>Per name, its fold in [0, k).</returns>
    /// <exception cref="ArgumentOutOfRangeException">k is out of range.</exception>
    public static int[] AssignFolds(IReadOnlyList<string> names, int foldCount, int seed)
    {
        ArgumentNullException.ThrowIfNull(names);
        if (foldCount < 2 || foldCount > names.Count)
            throw new ArgumentOutOfRangeException(nameof(foldCount), foldCount, $"foldCount must be in [2, {names.Count}] (the number of images).");
        var keys = new ulong[names.Count];
        var order = new int[names.Count];
        for (int i = 0; i < keys.Length; i++)
        {
            keys[i] = SeededRandom.For(seed, "noisyseg/cross-fit/" + (names[i] ?? "")).NextUInt64();
            order[i] = i;
        }
        Array.Sort(order, (a, b) =>
        {
            int c = keys[a].CompareTo(keys[b]);
            if (c == 0) c = string.CompareOrdinal(names[a], names[b]);
            return c != 0 ? c : a.CompareTo(b);
        });
        var folds = new int[names.Count];
        for (int r = 0; r < order.Length; r++) folds[order[r]] = r % foldCount;
        return folds;
    }

    /// <summary>
    /// Trains the k fold models, one after the other. Every image needs a mask (the given labels, possibly wrong) and
    /// all images one channel count; sizes may differ when the trainer crops.
    /// </summary>
    /// <param name="items">The data set.</param>
    /// <param name="options">Folds, classes, training; progress and cancellation.</param>
    /// <returns>The fitted folds; dispose it to release the networks.</returns>
    /// <exception cref="ArgumentException">An option is invalid, an item has no mask, or there are fewer images than folds.</exception>
    /// <exception cref="OperationCanceledException">Cancelled (the models trained so far are released).</exception>
    public static CrossFittedSegmentation Fit(IReadOnlyList<SegmentationItem> items, CrossFitOptions options)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (items.Count < options.FoldCount)
            throw new ArgumentException($"{items.Count} image(s) cannot be split into {options.FoldCount} folds.", nameof(items));
        int channels = items[0].Channels;
        foreach (var item in items)
        {
            if (item.Mask is null) throw new ArgumentException($"Image '{item.Name}' has no mask; cross-fitting trains on the given masks.", nameof(items));
            if (item.Channels != channels)
                throw new ArgumentException($"Image '{item.Name}' has {item.Channels} channels but '{items[0].Name}' has {channels}.", nameof(items));
            foreach (byte v in item.Mask)
                if (v >= options.ClassCount && v != options.Trainer.IgnoreIndex)
                    throw new ArgumentException($"Image '{item.Name}' has mask value {v}; expected class indices 0..{options.ClassCount - 1} or {options.Trainer.IgnoreIndex} (ignore).", nameof(items));
        }
        var trainer = options.Trainer with { Network = options.Trainer.Network with { InputChannels = channels } };
        int k = options.FoldCount;
        int[] folds = AssignFolds(items.Select(i => i.Name).ToList(), k, options.Seed);
        var models = new List<TrainedSegmentationModel>(k);
        try
        {
            for (int f = 0; f < k; f++)
            {
                options.CancellationToken.ThrowIfCancellationRequested();
                var train = new List<SegmentationItem>(items.Count);
                for (int i = 0; i < items.Count; i++) if (folds[i] != f) train.Add(items[i]);
                int heldOut = items.Count - train.Count;
                options.Progress?.Report(new CrossFitProgress(f, k, train.Count, heldOut, null));
                var relay = options.Progress is { } p ? new Relay(p, f, k, train.Count, heldOut) : null;
                models.Add(SegmentationTrainer.Train(train, trainer, relay, options.CancellationToken));
            }
        }
        catch
        {
            foreach (var m in models) m.Dispose();
            throw;
        }
        return new CrossFittedSegmentation(items, folds, models, options.ClassCount);
    }

    /// <summary>Passes training steps on as fold progress, synchronously.</summary>
    private sealed class Relay(IProgress<CrossFitProgress> target, int fold, int folds, int train, int heldOut) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => target.Report(new CrossFitProgress(fold, folds, train, heldOut, value));
    }
}

/// <summary>
/// The k fold models of <see cref="CrossFitting.Fit"/> and the out-of-sample probabilities they give: every image is
/// predicted by the model of its fold, which did not train on it. Probabilities are computed when asked for (a forward
/// pass per image), so memory stays bounded; dispose to release the networks.
/// </summary>
public sealed class CrossFittedSegmentation : IDisposable
{
    private readonly TrainedSegmentationModel[] _models;
    private readonly object[] _gates;
    private readonly int[] _folds;
    private bool _disposed;

    internal CrossFittedSegmentation(IReadOnlyList<SegmentationItem> items, int[] folds, IReadOnlyList<TrainedSegmentationModel> models, int classCount)
    {
        Items = items;
        _folds = folds;
        Folds = Array.AsReadOnly(folds);
        _models = models.ToArray();
        _gates = _models.Select(_ => new object()).ToArray();
        ClassCount = classCount;
    }

    /// <summary>The cross-fitted images, in the given order.</summary>
    public IReadOnlyList<SegmentationItem> Items { get; }

    /// <summary>Per image (same order as <see cref="Items"/>), its fold.</summary>
    public IReadOnlyList<int> Folds { get; }

    /// <summary>k.</summary>
    public int FoldCount => _models.Length;

    /// <summary>Number of classes (2 = binary).</summary>
    public int ClassCount { get; }

    /// <summary>Probability planes K per image: 1 for binary, else <see cref="ClassCount"/>.</summary>
    public int ProbabilityChannels => ClassCount == 2 ? 1 : ClassCount;

    /// <summary>The model trained without fold <paramref name="fold"/> (owned by this object; do not dispose it, and do
    /// not use it on several threads at once).</summary>
    /// <param name="fold">A fold in [0, k).</param>
    public TrainedSegmentationModel GetModel(int fold)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if ((uint)fold >= (uint)_models.Length) throw new ArgumentOutOfRangeException(nameof(fold), fold, $"fold must be in [0, {_models.Length - 1}].");
        return _models[fold];
    }

    /// <summary>The positions of the images the model of <paramref name="fold"/> trained on: every image of the other folds.</summary>
    /// <param name="fold">A fold in [0, k).</param>
    public IReadOnlyList<int> TrainingIndices(int fold)
    {
        if ((uint)fold >= (uint)_models.Length) throw new ArgumentOutOfRangeException(nameof(fold), fold, $"fold must be in [0, {_models.Length - 1}].");
        var list = new List<int>();
        for (int i = 0; i < _folds.Length; i++) if (_folds[i] != fold) list.Add(i);
        return list;
    }

    /// <summary>Out-of-sample probabilities <c>[K, H, W]</c> of image <paramref name="index"/>, by the model of its fold. Thread-safe.</summary>
    /// <param name="index">Position in <see cref="Items"/>.</param>
    public float[] PredictProbabilities(int index)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if ((uint)index >= (uint)Items.Count) throw new ArgumentOutOfRangeException(nameof(index), index, $"index must be in [0, {Items.Count - 1}].");
        var item = Items[index];
        int f = _folds[index];
        lock (_gates[f]) return _models[f].PredictProbabilities(item.Image, item.Channels, item.Height, item.Width);
    }

    /// <summary>Every image with its out-of-sample probabilities, in order, computed one at a time as the sequence is read
    /// (each enumeration predicts again).</summary>
    /// <param name="cancellationToken">Checked before each image.</param>
    public IEnumerable<CrossFittedPrediction> Predictions(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return Enumerate(cancellationToken);
    }

    private IEnumerable<CrossFittedPrediction> Enumerate(CancellationToken cancellationToken)
    {
        for (int i = 0; i < Items.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return new CrossFittedPrediction(Items[i], i, _folds[i], PredictProbabilities(i));
        }
    }

    /// <summary>
    /// The cross-fitted data as an <see cref="IDataView"/>: columns Image <c>[C, H, W]</c>, Mask <c>[H, W]</c> (the given
    /// labels), Name, Fold (Int32) and Probability <c>[K, H, W]</c> (<see cref="SegmentationColumnNames"/>), ready for
    /// <c>mlContext.Transforms.ScoreLabelQuality()</c>. Streaming: every cursor predicts each row again, one at a time;
    /// wrap it in <c>mlContext.Data.Cache</c> to predict once and keep the probabilities in memory instead.
    /// </summary>
    /// <param name="mlContext">The ML.NET context.</param>
    /// <exception cref="ArgumentException">The images differ in size (one column has one shape).</exception>
    public IDataView ToDataView(MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var first = Items[0];
        foreach (var it in Items)
            if (it.Height != first.Height || it.Width != first.Width)
                throw new ArgumentException($"Image '{it.Name}' is {it.Height}x{it.Width} but '{first.Name}' is {first.Height}x{first.Width}; one IDataView column has one shape.", nameof(mlContext));
        var def = SchemaDefinition.Create(typeof(Row));
        def[nameof(Row.Image)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, first.Channels, first.Height, first.Width);
        def[nameof(Row.Mask)].ColumnType = new VectorDataViewType(NumberDataViewType.Byte, first.Height, first.Width);
        def[nameof(Row.Probability)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, ProbabilityChannels, first.Height, first.Width);
        return mlContext.Data.LoadFromEnumerable(new Rows(this), def);
    }

    /// <summary>Releases the fold networks.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var m in _models) m.Dispose();
    }

    /// <summary>A re-enumerable sequence: every enumeration (every cursor) predicts again.</summary>
    private sealed class Rows(CrossFittedSegmentation owner) : IEnumerable<Row>
    {
        public IEnumerator<Row> GetEnumerator()
        {
            foreach (var p in owner.Predictions())
                yield return new Row { Name = p.Item.Name, Image = p.Item.Image, Mask = p.Item.Mask!, Fold = p.Fold, Probability = p.Probability };
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    private sealed class Row
    {
        [ColumnName(SegmentationColumnNames.Name)] public string Name { get; set; } = "";
        [ColumnName(SegmentationColumnNames.Image)] public float[] Image { get; set; } = [];
        [ColumnName(SegmentationColumnNames.Mask)] public byte[] Mask { get; set; } = [];
        [ColumnName(SegmentationColumnNames.Fold)] public int Fold { get; set; }
        [ColumnName(SegmentationColumnNames.Probability)] public float[] Probability { get; set; } = [];
    }
}
