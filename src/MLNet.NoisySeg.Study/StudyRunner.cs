using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Data.Preprocessing;
using MLNet.NoisySeg.Decoding;
using MLNet.NoisySeg.Evaluation;
using MLNet.NoisySeg.Losses;
using MLNet.NoisySeg.MetaStructure;
using MLNet.NoisySeg.Networks;
using MLNet.NoisySeg.Pipelines;
using MLNet.NoisySeg.Training;

namespace MLNet.NoisySeg.Study;

/// <summary>What a running study reports.</summary>
/// <param name="Phase">"load", "skip", "start", "train", "done".</param>
/// <param name="Number">1-based number of the condition among this run's pending conditions.</param>
/// <param name="Count">Pending conditions of this run.</param>
/// <param name="Condition">The condition (null while loading data).</param>
/// <param name="Training">Training progress (phase "train").</param>
/// <param name="Result">The result (phase "done").</param>
/// <param name="Message">Human-readable text.</param>
public sealed record StudyProgress(string Phase, int Number, int Count, StudyCondition? Condition, TrainingProgress? Training, StudyResult? Result, string Message);

/// <summary>Outcome of <see cref="StudyRunner.Run"/>.</summary>
/// <param name="Results">All finished results of the results folder (including earlier runs), sorted by grid index.</param>
/// <param name="Ran">Conditions trained by this call.</param>
/// <param name="Skipped">Conditions skipped because they were already finished.</param>
/// <param name="Elapsed">Wall time of this call.</param>
public sealed record StudyRunSummary(IReadOnlyList<StudyResult> Results, int Ran, int Skipped, TimeSpan Elapsed)
{
    /// <summary>Conditions of this run that failed (training diverged, or their data was refused); the others went on.</summary>
    public IReadOnlyList<StudyFailure> Failures { get; init; } = [];
}

/// <summary>A condition that could not be finished, with the reason; a rerun retries it.</summary>
/// <param name="Key">The condition key (<see cref="StudyCondition.Key"/>).</param>
/// <param name="Index">Its grid index.</param>
/// <param name="Error">The exception type, e.g. <c>TrainingDivergedException</c>.</param>
/// <param name="Reason">The exception message.</param>
public sealed record StudyFailure(string Key, int Index, string Error, string Reason);

/// <summary>
/// Runs the study grid (<see cref="StudyGrid"/>): per condition, the ML.NET pipeline
/// data → <c>CorruptLabels</c> → U-Net trainer (label-free decoding) → evaluation, then decodes the same model's test
/// probabilities three ways (paper protocol, label-free, fixed), measures the noise matrix and density statistics of the
/// corrupted training labels, records budget curves for CL/RCL and appends the result atomically to the results folder.
/// A rerun skips finished conditions; <see cref="StudyOptions.Shard"/> selects a deterministic slice.
/// </summary>
public sealed class StudyRunner
{
    private readonly StudyOptions _options;
    private readonly Dictionary<string, StudyData> _data = new(StringComparer.Ordinal);

    /// <summary>Creates a runner; validates the options.</summary>
    /// <param name="options">The options.</param>
    public StudyRunner(StudyOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
    }

    /// <summary>The options.</summary>
    public StudyOptions Options => _options;

    /// <summary>
    /// Runs every pending condition of this shard, in grid order. Cancellation stops between training steps; the
    /// condition in progress is not recorded and is rerun by the next call (finished ones are kept).
    /// </summary>
    /// <param name="progress">Progress reports.</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    /// <exception cref="IOException">Another run holds the results folder.</exception>
    /// <exception cref="ArgumentException">The results folder holds results of different settings (<see cref="StudyOptions.ResultSettings"/>).</exception>
    public StudyRunSummary Run(IProgress<StudyProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        Directory.CreateDirectory(_options.ResultsFolder);
        using var runLock = AcquireLock(_options.ResultsFolder);
        var store = new StudyResultStore(_options.ResultsFolder);
        store.EnsureSettings(_options.ResultSettings());
        var mine = StudyGrid.ForShard(_options);
        var pending = mine.Where(c => !store.Contains(c.Key)).ToList();
        int skipped = mine.Count - pending.Count;
        if (skipped > 0)
            progress?.Report(new StudyProgress("skip", 0, pending.Count, null, null, null, $"{skipped} finished condition(s) found in {store.JsonLinesPath}; skipping them."));
        foreach (var name in pending.Select(c => c.Dataset).Distinct())
            GetData(name, progress, cancellationToken);
        int ran = 0;
        var failures = new List<StudyFailure>();
        void RunOne(int i, CancellationToken ct)
        {
            ct.ThrowIfCancellationRequested();
            var c = pending[i];
            progress?.Report(new StudyProgress("start", i + 1, pending.Count, c, null, null, $"[{i + 1}/{pending.Count}] {c.DisplayKey} ({c.Family})"));
            StudyResult result;
            try
            {
                result = RunCondition(c, _data[c.Dataset], i + 1, pending.Count, progress, ct);
            }
            catch (Exception e) when (e is TrainingDivergedException or SegmentationDataException)
            {
                // This condition cannot be finished; record why and go on with the others (finished ones are stored).
                var failure = new StudyFailure(c.Key, c.Index, e.GetType().Name, e.Message);
                store.AddFailure(failure);
                lock (failures) failures.Add(failure);
                progress?.Report(new StudyProgress("failed", i + 1, pending.Count, c, null, null, $"[{i + 1}/{pending.Count}] {c.DisplayKey} FAILED: {e.Message}"));
                return;
            }
            store.Add(result);
            Interlocked.Increment(ref ran);
            progress?.Report(new StudyProgress("done", i + 1, pending.Count, c, null, result,
                FormattableString.Invariant($"[{i + 1}/{pending.Count}] {c.DisplayKey}: paper {result.Paper.Score:0.000}, label-free {result.LabelFree.Score:0.000}, fixed {result.Fixed.Score:0.000}, rank {result.NoiseRank}, corr {result.StructureCorrelation:0.000}, {result.WallSeconds:0.0}s")));
        }
        if (_options.MaxParallelConditions <= 1)
        {
            for (int i = 0; i < pending.Count; i++) RunOne(i, cancellationToken);
        }
        else
        {
            // Conditions in flight at once; each result is stored as soon as it is finished, so a kill loses at most the ones in flight.
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            try
            {
                // NoBuffering: conditions start in grid order, one at a time as workers free up.
                var order = System.Collections.Concurrent.Partitioner.Create(Enumerable.Range(0, pending.Count), System.Collections.Concurrent.EnumerablePartitionerOptions.NoBuffering);
                Parallel.ForEach(order, new ParallelOptions { MaxDegreeOfParallelism = _options.MaxParallelConditions },
                    i =>
                    {
                        try { RunOne(i, linked.Token); }
                        catch { linked.Cancel(); throw; }
                    });
            }
            catch (AggregateException e)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var first = e.Flatten().InnerExceptions.FirstOrDefault(x => x is not OperationCanceledException) ?? e.InnerExceptions[0];
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(first).Throw();
            }
        }
        return new StudyRunSummary(store.Results, ran, skipped, clock.Elapsed) { Failures = failures };
    }

    /// <summary>One run per results folder: a second process on the same folder would overwrite the first one's results.</summary>
    private static FileStream AcquireLock(string folder)
    {
        string path = Path.Combine(folder, "run.lock");
        try
        {
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose);
        }
        catch (IOException e)
        {
            throw new IOException($"Another study run is using '{folder}' ({path} is locked). Give each run or shard its own OutputFolder/Shard.", e);
        }
    }

    private StudyData GetData(string name, IProgress<StudyProgress>? progress, CancellationToken ct)
    {
        if (_data.TryGetValue(name, out var d)) return d;
        var ds = _options.Datasets.First(x => x.Name == name);
        progress?.Report(new StudyProgress("load", 0, 0, null, null, null, $"Loading {ds.Name} from {ds.Path}"));
        var fo = ds.Folder;
        var all = SegmentationFolderLoader.Load(Path.Combine(ds.Path, ds.TrainSplit), fo, null, ct);
        var test = SegmentationFolderLoader.Load(Path.Combine(ds.Path, ds.TestSplit), fo, null, ct);
        if (all.Count < 2) throw new ArgumentException($"Datasets '{ds.Name}': the training split needs at least 2 images to carve a validation split; found {all.Count}.", "Datasets");
        var split = DataSplit.SplitTrainValidation(all.Select(x => x.Name), _options.ValidationFraction, _options.SplitSeed);
        var val = new HashSet<string>(split.Validation, StringComparer.Ordinal);
        d = new StudyData(ds, all.Where(x => !val.Contains(x.Name)).ToList(), all.Where(x => val.Contains(x.Name)).ToList(), test);
        _data[name] = d;
        return d;
    }

    private StudyResult RunCondition(StudyCondition c, StudyData data, int number, int count, IProgress<StudyProgress>? progress, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        int classes = data.Options.ClassCount;
        bool binary = classes == 2;
        int k = binary ? 1 : classes;
        var first = data.Train[0];
        int ch = first.Channels, h = first.Height, w = first.Width;

        var ml = new MLContext(seed: c.Seed);
        var trainView = SegmentationDataView.Create(ml, data.Train);
        var testView = SegmentationDataView.Create(ml, data.Test);
        // Any defined Q, whatever its determinant: the decoding planner reports a rank-deficient one as not recoverable.
        var known = _options.UseKnownNoise ? c.Noise.ExpectedTransitionMatrix(classes) : null;

        // The ML.NET pipeline of the condition, as a user writes it: corrupt the clean masks, train on the corrupted column.
        // The fitted transform's typed form gives exactly what its column holds (the first draw for online noise).
        var noise = ml.Transforms.CorruptLabels(c.Noise, SegmentationColumnNames.NoisyMask, SegmentationColumnNames.Mask, c.Seed).Fit(trainView);
        var pairs = data.Train.Select(x => (x.Mask!, noise.Corrupt(x.Mask!, x.Name))).ToList();
        // Binary label-free decoding matches the noisy labels' foreground share (as the trainer does); online noise redraws them.
        // With the noisy masks themselves, a known Q places the threshold at the clean Dice estimated from them.
        IReadOnlyList<byte[]>? noisyMasks = binary && !_options.OnlineNoise ? pairs.Select(p => p.Item2).ToList() : null;
        double? noisyShare = noisyMasks is null ? null : LabelFreeDecoder.ForegroundShare(noisyMasks);

        var budget = new List<StudyBudgetPoint>();
        Func<int, TrainedSegmentationModel, IReadOnlyDictionary<string, double>>? callback = null;
        if (c.HasBudgetCurve && _options.BudgetEvery > 0)
        {
            callback = (step, model) =>
            {
                var point = BudgetPoint(ml, step, model, data, known, noisyShare, noisyMasks, classes, ch, h, w);
                budget.Add(point);
                return new Dictionary<string, double> { ["labelfree"] = point.Score, ["paper"] = point.Paper };
            };
        }
        IProgress<TrainingProgress>? trainingProgress = progress is null ? null
            : new SyncProgress<TrainingProgress>(p => progress.Report(new StudyProgress("train", number, count, c, p, null,
                FormattableString.Invariant($"{c.DisplayKey}: step {p.Step}/{p.TotalSteps}, loss {p.Loss:0.0000}"))));

        var trainerOptions = _options.TrainerOptions(c.Noise, c.Seed, ch, classes, data.Options.CropHeight, data.Options.CropWidth) with
        {
            KnownNoise = known,
            Progress = trainingProgress,
            CancellationToken = ct,
            ValidationCallback = callback,
        };

        using var seg = ml.Segmentation().Trainers.UNet(trainerOptions).Fit(noise.Transform(trainView));
        ct.ThrowIfCancellationRequested();

        // One pass of the test set through the network (cached), scored through the catalog with the model's own
        // (label-free) decoding; its probabilities are decoded two more ways below.
        var scored = ml.Data.Cache(seg.Transform(testView), SegmentationColumnNames.Mask, SegmentationColumnNames.PredictedMask, SegmentationColumnNames.Probability);
        var testProbs = new List<float[]>();
        var probabilityColumn = scored.Schema[SegmentationColumnNames.Probability];
        using (var cursor = ExceptionUnwrapping.GetRowCursor(scored, [probabilityColumn])) // a row's error (e.g. non-finite outputs) as itself
        {
            var get = cursor.GetGetter<VBuffer<float>>(probabilityColumn);
            VBuffer<float> values = default;
            while (cursor.MoveNext())
            {
                get(ref values);
                testProbs.Add(values.DenseValues().ToArray());
            }
        }
        var testMasks = data.Test.Select(x => x.Mask!).ToList();
        double auc = double.NaN;
        StudyScores labelFree;
        if (binary)
        {
            var m = ml.Segmentation().EvaluateBinary(scored);
            auc = m.Auc;
            labelFree = StudyScoring.Scores(seg.Decoding, m);
        }
        else
        {
            labelFree = StudyScoring.Scores(seg.Decoding, ml.Segmentation().EvaluateMulticlass(scored, classes));
        }

        // The same model's probabilities decoded two more ways: the paper protocol (clean validation split) and fixed.
        var valProbs = seg.Model.PredictProbabilities(data.Validation.Select(x => x.Image).ToList(), ch, h, w);
        var valMasks = data.Validation.Select(x => x.Mask!).ToList();
        var paper = StudyScoring.Score(ml, PaperRule(ml, seg.Decoding, valProbs, valMasks, classes), testProbs, testMasks, classes);
        var fixedScores = StudyScoring.Score(ml, binary ? DecodingRule.FixedThreshold : DecodingRule.Argmax, testProbs, testMasks, classes);

        // Noise matrix and meta-structure statistics of the corrupted training labels.
        var q = NoiseTransitionEstimator.Estimate(pairs, classes);
        double corr = MeanStructureCorrelation(pairs, w, h, classes, _options.DensityBandwidth);

        string panel = "";
        if (_options.WritePanels && c.Seed == _options.Seeds[0])
        {
            panel = Path.Combine("panels", c.FileStem + ".png");
            var rule = seg.Decoding;
            var pred = new byte[h * w];
            rule.Decode(testProbs[0], k, pred);
            var testNoisy = noise.Corrupt(testMasks[0], data.Test[0].Name);
            StudyPanels.Write(Path.Combine(_options.ResultsFolder, panel), data.Test[0], testMasks[0], testNoisy, pred, classes, _options.DensityBandwidth);
        }

        return new StudyResult
        {
            Index = c.Index,
            Key = c.Key,
            Dataset = c.Dataset,
            Family = c.Family.ToString(),
            Condition = c.Noise.ToString(),
            Kind = c.Noise.Kind.ToString(),
            Parameter = StudyGrid.Parameter(c.Noise),
            Seed = c.Seed,
            ClassCount = classes,
            Steps = _options.Steps,
            Paper = paper,
            LabelFree = labelFree,
            Fixed = fixedScores,
            Auc = auc,
            LabelFreeReport = seg.DecodingReport,
            NoiseMatrix = Enumerable.Range(0, classes).Select(j => (IReadOnlyList<double>)Enumerable.Range(0, classes).Select(m => q[j, m]).ToArray()).ToArray(),
            NoiseRank = q.Rank(_options.RankTolerance),
            NoiseDeterminant = q.Determinant(),
            StructureCorrelation = corr,
            Budget = budget.ToArray(),
            Panel = panel.Replace('\\', '/'),
            WallSeconds = clock.Elapsed.TotalSeconds,
        };
    }

    /// <summary>
    /// The paper protocol's rule on the clean validation split: binary, the best of 50 thresholds (and the inverted map);
    /// multi-class [ours] (the paper gives no multi-class sweep), the better of argmax and the label-free rule.
    /// </summary>
    private static DecodingRule PaperRule(MLContext ml, DecodingRule labelFree, IReadOnlyList<float[]> valProbs, IReadOnlyList<byte[]> valMasks, int classes)
    {
        if (classes == 2) return ThresholdSweep.Run(valProbs, valMasks).ToRule();
        double argmaxVal = StudyScoring.Score(ml, DecodingRule.Argmax, valProbs, valMasks, classes).Score;
        double lfVal = StudyScoring.Score(ml, labelFree, valProbs, valMasks, classes).Score;
        return lfVal > argmaxVal ? labelFree : DecodingRule.Argmax;
    }

    /// <summary>
    /// A budget point: the model after <paramref name="step"/> steps decoded as at the end of training: label-free (the trainer's
    /// rule, <see cref="NoiseAwareDecoding.Plan"/> on its training outputs), by the paper protocol (clean validation split) and fixed.
    /// </summary>
    private static StudyBudgetPoint BudgetPoint(MLContext ml, int step, TrainedSegmentationModel model, StudyData data, NoiseTransitionMatrix? known,
        double? noisyShare, IReadOnlyList<byte[]>? noisyMasks, int classes, int ch, int h, int w)
    {
        var testOut = model.PredictProbabilities(data.Test.Select(x => x.Image).ToList(), ch, h, w);
        var testMasks = data.Test.Select(x => x.Mask!).ToList();
        DecodingRule? labelFree = null;
        try
        {
            var trainOut = model.PredictProbabilities(data.Train.Select(x => x.Image).ToList(), ch, h, w);
            labelFree = NoiseAwareDecoding.Plan(trainOut, classes, known, noisyShare, noisyMasks: noisyMasks).Rule;
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            // degenerate outputs early in training: no label-free rule exists yet
        }
        var valOut = model.PredictProbabilities(data.Validation.Select(x => x.Image).ToList(), ch, h, w);
        var fixedRule = classes == 2 ? DecodingRule.FixedThreshold : DecodingRule.Argmax;
        var paperRule = PaperRule(ml, labelFree ?? fixedRule, valOut, data.Validation.Select(x => x.Mask!).ToList(), classes);
        return new StudyBudgetPoint(step, labelFree is null ? double.NaN : StudyScoring.Score(ml, labelFree, testOut, testMasks, classes).Score)
        {
            Paper = StudyScoring.Score(ml, paperRule, testOut, testMasks, classes).Score,
            Fixed = StudyScoring.Score(ml, fixedRule, testOut, testMasks, classes).Score,
        };
    }

    private static double MeanStructureCorrelation(IReadOnlyList<(byte[] Clean, byte[] Noisy)> pairs, int w, int h, int classes, int bandwidth)
    {
        double sum = 0;
        int n = 0;
        foreach (var (clean, noisy) in pairs)
        {
            var a = DensityMap.ComputeBox(clean, w, h, classes, bandwidth);
            var b = DensityMap.ComputeBox(noisy, w, h, classes, bandwidth);
            double r = DensityStatistics.MeanStructureCorrelation(a, b, w, h, classes, clean);
            if (double.IsNaN(r)) continue;
            sum += r;
            n++;
        }
        return n == 0 ? double.NaN : sum / n;
    }

    private sealed record StudyData(StudyDatasetOptions Options, IReadOnlyList<SegmentationItem> Train, IReadOnlyList<SegmentationItem> Validation, IReadOnlyList<SegmentationItem> Test);
}
