using System.Diagnostics;
using System.Globalization;
using System.Text;
using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Data.Preprocessing;
using MLNet.NoisySeg.Losses;
using MLNet.NoisySeg.MetaStructure;
using MLNet.NoisySeg.Networks;
using MLNet.NoisySeg.Pipelines;
using MLNet.NoisySeg.Quality;
using MLNet.NoisySeg.Torch;
using MLNet.NoisySeg.Training;

namespace NoisySeg.Benchmarks;

/// <summary>
/// Issue 15's benchmark: can label-quality scores find the label errors annotators make? In a fraction (20%) of the
/// images of a real data set, <see cref="LabelErrorPlanter"/> plants one whole-mask error (dilate/erode by 2, drop or
/// add an object, shift by 3, swap a class's object on CamVid); the rest stay as they are. Out-of-sample probabilities
/// come from k-fold cross-fitting of the U-Net on the corrupted labels (<see cref="CrossFitting"/>); every image is
/// scored (<see cref="LabelQualityModel"/>). Reported per data set, mean ± std over seeds: image-level AUROC and
/// average precision of finding the planted images for the contradiction-outlier score (images carry their folds), the
/// meta-structure score, cleanlab's softmin score and the confident-issue fraction (overall and per error kind against all clean images), and pixel-level precision/recall of
/// the structural flags and the confident-learning flags against the changed pixels (flags on clean images count as
/// false positives).
/// </summary>
/// <remarks>
/// Usage: <c>quality [--datasets isbi,camvid] [--seeds 0,1,2] [--folds 5] [--steps 300] [--fraction 0.2] [--min-change 0.001] [--threads 1]
/// [--bandwidth 3] [--depth 3] [--base-width 8] [--isbi DIR] [--camvid DIR] [--camvid-size 240x180] [--out FILE] [--dump DIR]</c>
/// (<c>--dump</c>: every seed's masks, probabilities, images and folds for offline analysis, see <c>Dump</c>). ISBI: the 30 labelled 512² slices
/// (train + test) cut into four native-resolution 256² tiles each (120 images; membrane = class 1). CamVid: train + test
/// of the folder given (default: ../shared/data/camvid11 when present, else the embedded camvid11_small), resized.
/// </remarks>
internal static class QualityBenchmark
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private static readonly PlantedErrorKind[] Structural =
        [PlantedErrorKind.Dilate, PlantedErrorKind.Erode, PlantedErrorKind.DropObject, PlantedErrorKind.AddObject, PlantedErrorKind.Shift];

    private static readonly LabelQualityScoreKind[] Scores =
        [LabelQualityScoreKind.ContradictionOutlier, LabelQualityScoreKind.MetaStructure, LabelQualityScoreKind.Softmin, LabelQualityScoreKind.ConfidentIssues];

    private sealed record Dataset(string Name, IReadOnlyList<SegmentationItem> Items, int ClassCount, byte Background, PlantedErrorKind[] Kinds, int? ExcludedClass, string Describe);

    /// <summary>One seed's outcome on one data set.</summary>
    private sealed record SeedResult(int Seed, Dictionary<string, double> Metrics, double ModelQuality, TimeSpan Elapsed, string Planted);

    public static int Run(string[] args)
    {
        var datasets = Text(args, "--datasets", "isbi,camvid").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        int[] seeds = Text(args, "--seeds", "0,1,2").Split(',').Select(s => int.Parse(s, Inv)).ToArray();
        int folds = Int(args, "--folds", 5), steps = Int(args, "--steps", 300), threads = Int(args, "--threads", 1), bandwidth = Int(args, "--bandwidth", 3);
        int depth = Int(args, "--depth", 3), baseWidth = Int(args, "--base-width", 8);
        double fraction = double.Parse(Text(args, "--fraction", "0.2"), Inv);
        double minChange = double.Parse(Text(args, "--min-change", "0.001"), Inv);
        string? output = Text(args, "--out", "");
        string? dump = Text(args, "--dump", "");
        TorchRuntime.Configure(TorchRuntimeOptions.SmallCpu with { Threads = threads });

        var md = new StringBuilder();
        md.Append(Inv, $"# Label-quality benchmark (issue 15)\n\ncommand: `quality {string.Join(' ', args)}`  \n");
        md.Append(Inv, $"CPU: {Cpu()}; libtorch threads {threads}\n\n");
        md.Append(Inv, $"Protocol: {fraction:P0} of the images get one planted error (kinds dealt in turn, LabelErrorPlanter defaults: radius 2, shift 3; redrawn when it changes < {minChange:P1} of the pixels); ");
        md.Append(Inv, $"{folds}-fold cross-fitting of a U-Net (depth {depth}, base {baseWidth}, Adam 3e-3, batch 4, {steps} steps, 128² crops, flips/rotations) on the corrupted labels; ");
        md.Append(Inv, $"scores with default LabelQualityOptions (box h = {bandwidth}, label-free decoding, tolerance 1 px); seeds {string.Join(",", seeds)}.\n\n");
        foreach (string name in datasets)
        {
            var data = Load(name, args);
            Console.WriteLine($"# {data.Name}: {data.Describe}");
            var results = new List<SeedResult>();
            foreach (int seed in seeds)
            {
                var r = RunSeed(data, seed, folds, steps, fraction, minChange, bandwidth, threads, depth, baseWidth, dump);
                results.Add(r);
                Console.WriteLine(FormattableString.Invariant($"  seed {seed}: {r.Elapsed.TotalMinutes:0.0} min, model {r.ModelQuality:0.000}; ") +
                    string.Join(", ", r.Metrics.Where(m => m.Key.StartsWith("auroc", StringComparison.Ordinal) || m.Key.StartsWith("pixel", StringComparison.Ordinal))
                        .Select(m => FormattableString.Invariant($"{m.Key} {m.Value:0.000}"))));
            }
            md.Append(Table(data, results));
            Console.WriteLine(Table(data, results));
        }
        if (!string.IsNullOrEmpty(output))
        {
            File.WriteAllText(output + ".tmp", md.ToString());
            File.Move(output + ".tmp", output, overwrite: true);
            Console.WriteLine($"Wrote {Path.GetFullPath(output)}");
        }
        else Console.WriteLine(md.ToString());
        return 0;
    }

    private static SeedResult RunSeed(Dataset data, int seed, int folds, int steps, double fraction, double minChange, int bandwidth, int threads, int depth, int baseWidth, string? dump)
    {
        var clock = Stopwatch.StartNew();
        int n = data.Items.Count;
        // Which images get an error: exactly round(fraction * n), chosen by the seed; kinds dealt in turn.
        var order = Enumerable.Range(0, n).ToArray();
        var pick = SeededRandom.For(seed, "noisyseg/quality-benchmark/plant");
        pick.Shuffle(order.AsSpan());
        int planted = (int)Math.Round(fraction * n);
        var kindOf = new PlantedErrorKind?[n];
        var changed = new byte[n][];
        var corrupted = new List<SegmentationItem>(n);
        for (int i = 0; i < n; i++) corrupted.Add(data.Items[i]);
        var plantOptions = new LabelErrorPlantingOptions { BackgroundClass = data.Background };
        var changedCount = new Dictionary<PlantedErrorKind, long>();
        for (int r = 0; r < planted; r++)
        {
            int i = order[r];
            var item = data.Items[i];
            // The dealt kind (up to 5 draws: a dropped or added object picks a random one), or the next kind when it
            // cannot be planted here (no object, no room) or changes less than minChange of the pixels (a 2-pixel
            // membrane fragment is not an annotation error anyone would look for).
            long minimum = (long)Math.Ceiling(minChange * item.Mask!.Length);
            for (int attempt = 0; attempt < 5 * data.Kinds.Length && kindOf[i] is null; attempt++)
            {
                var kind = data.Kinds[(r + attempt / 5) % data.Kinds.Length];
                var rng = SeededRandom.For(seed, "noisyseg/quality-benchmark/" + item.Name, attempt);
                var e = LabelErrorPlanter.Plant(item.Mask!, item.Width, item.Height, data.ClassCount, kind, ref rng, plantOptions);
                if (e.ChangedPixelCount < Math.Max(1, minimum)) continue;
                kindOf[i] = kind;
                changed[i] = e.Changed;
                changedCount[kind] = changedCount.GetValueOrDefault(kind) + e.ChangedPixelCount;
                corrupted[i] = item with { Mask = e.Mask };
            }
        }
        string plantedText = string.Join(", ", data.Kinds.Select(kd =>
        {
            int count = kindOf.Count(x => x == kd);
            return FormattableString.Invariant($"{kd} x{count} ({(count == 0 ? 0 : changedCount.GetValueOrDefault(kd) / count)} px)");
        }));
        Console.WriteLine("    planted: " + plantedText);

        var trainer = new SegmentationTrainerOptions
        {
            Network = new UNetOptions { Depth = depth, BaseWidth = baseWidth, OutputChannels = data.ClassCount == 2 ? 1 : data.ClassCount },
            Loss = data.ClassCount == 2 ? LossKind.Bce : LossKind.CrossEntropy,
            LearningRate = 3e-3, BatchSize = 4, MaxSteps = steps, Seed = seed, Threads = threads, Augment = true,
            CropHeight = Math.Min(128, data.Items[0].Height), CropWidth = Math.Min(128, data.Items[0].Width),
        };
        var cross = new CrossFitOptions
        {
            FoldCount = folds, Seed = seed, ClassCount = data.ClassCount, Trainer = trainer,
            Progress = new InlineProgress(p =>
            {
                if (p.Training is null) Console.WriteLine(FormattableString.Invariant($"    seed {seed} fold {p.Fold + 1}/{p.FoldCount}: training on {p.TrainingImages} images"));
                else if (p.Training.Step == p.Training.TotalSteps)
                    Console.WriteLine(FormattableString.Invariant($"      {p.Training.Step} steps, loss {p.Training.Loss:0.0000}, {p.Training.Elapsed.TotalSeconds:0} s"));
            }),
        };
        using var fitted = CrossFitting.Fit(corrupted, cross);

        int k = fitted.ProbabilityChannels;
        var options = new LabelQualityOptions
        {
            Density = new DensityOptions { Kernel = DensityKernel.Box, Bandwidth = bandwidth },
            ExcludedClass = data.ExcludedClass,
            StorePixelMaps = true,
        };
        // Predicted once and kept: the variants below score the same probabilities again. With their folds: the
        // contradiction-outlier score judges each image with its own model's thresholds.
        var images = fitted.Predictions().Select(p => new LabelQualityImage(p.Item.Name, p.Item.Mask!, p.Probability, p.Item.Width, p.Item.Height, p.Fold)).ToList();
        var model = LabelQualityModel.Fit(images, k, options);
        Console.WriteLine($"    decoding {model.Decoding}; Q̂ {model.EstimatedNoise}");
        if (!string.IsNullOrEmpty(dump)) Dump(dump, data, seed, images, kindOf, model);

        var scores = Scores.ToDictionary(s => s, _ => new double[n]);
        var structural = new PixelIssueDetection();
        var confident = new PixelIssueDetection();
        var either = new PixelIssueDetection();
        var structuralPlanted = new PixelIssueDetection();
        var confidentPlanted = new PixelIssueDetection();
        double quality = 0;
        int index = 0;
        var decoded = new byte[n][];
        foreach (var image in images)
        {
            var q = model.Score(image, index);
            decoded[index] = q.DecodedMask!;
            foreach (var s in Scores) scores[s][index] = q.GetRankingKey(s); // the order Rank sorts by (lower = more suspicious)
            var truth = changed[index] ?? CleanTruth(image.Mask);
            structural.Add(q.StructuralIssueMask, truth);
            confident.Add(q.ConfidentIssueMask, truth);
            either.Add(Union(q.StructuralIssueMask!, q.ConfidentIssueMask!), truth);
            if (changed[index] is not null)
            {
                structuralPlanted.Add(q.StructuralIssueMask, truth);
                confidentPlanted.Add(q.ConfidentIssueMask, truth);
            }
            quality += Agreement(q.DecodedMask!, data.Items[index].Mask!, data.ClassCount);
            index++;
        }

        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        var hasIssue = kindOf.Select(x => x is not null).ToArray();
        foreach (var s in Scores)
        {
            metrics[$"auroc {Short(s)}"] = IssueDetectionMetrics.Auroc(scores[s], hasIssue);
            metrics[$"ap {Short(s)}"] = IssueDetectionMetrics.AveragePrecision(scores[s], hasIssue);
            if (data.Kinds.Contains(PlantedErrorKind.SwapClass))
            {
                var keep = Enumerable.Range(0, n).Where(i => kindOf[i] is null || kindOf[i] != PlantedErrorKind.SwapClass).ToArray();
                metrics[$"structural {Short(s)}"] = IssueDetectionMetrics.Auroc(keep.Select(i => scores[s][i]).ToArray(), keep.Select(i => hasIssue[i]).ToArray());
            }
            foreach (var kind in data.Kinds)
            {
                // This kind's planted images against every clean image.
                var keep = Enumerable.Range(0, n).Where(i => kindOf[i] is null || kindOf[i] == kind).ToArray();
                if (!keep.Any(i => kindOf[i] == kind)) continue;
                metrics[$"kind {kind} {Short(s)}"] = IssueDetectionMetrics.Auroc(keep.Select(i => scores[s][i]).ToArray(), keep.Select(i => hasIssue[i]).ToArray());
            }
        }
        metrics["pixel precision structural"] = structural.Precision;
        metrics["pixel recall structural"] = structural.Recall;
        metrics["pixel precision confident"] = confident.Precision;
        metrics["pixel recall confident"] = confident.Recall;
        metrics["planted precision structural"] = structuralPlanted.Precision;
        metrics["planted precision confident"] = confidentPlanted.Precision;

        // One investigation row: AUROC and AP of a ranking key (lower = more suspicious), per kind group when classes are
        // swapped, and the precision/recall of its pixel flags when it has any.
        void AddVariant(string name, double[] key, PixelIssueDetection? flags = null)
        {
            metrics[$"variant {name} auroc"] = IssueDetectionMetrics.Auroc(key, hasIssue);
            metrics[$"variant {name} ap"] = IssueDetectionMetrics.AveragePrecision(key, hasIssue);
            if (data.Kinds.Contains(PlantedErrorKind.SwapClass))
            {
                var keep = Enumerable.Range(0, n).Where(i => kindOf[i] is null || kindOf[i] != PlantedErrorKind.SwapClass).ToArray();
                metrics[$"variant {name} structural"] = IssueDetectionMetrics.Auroc(keep.Select(i => key[i]).ToArray(), keep.Select(i => hasIssue[i]).ToArray());
                var swaps = Enumerable.Range(0, n).Where(i => kindOf[i] is null || kindOf[i] == PlantedErrorKind.SwapClass).ToArray();
                metrics[$"variant {name} swap"] = IssueDetectionMetrics.Auroc(swaps.Select(i => key[i]).ToArray(), swaps.Select(i => hasIssue[i]).ToArray());
            }
            if (flags is null) return;
            metrics[$"variant {name} precision"] = flags.Precision;
            metrics[$"variant {name} recall"] = flags.Recall;
        }

        // Investigation: the meta-structure score with other bandwidths, kernels, tolerances, noise allowances and decodings
        // of the same probabilities (softmin and the confident fraction do not depend on them).
        foreach (var (name, variant) in Variants(options, data.ClassCount, images))
        {
            var m = LabelQualityModel.Fit(images, k, variant);
            var meta = new double[n];
            var flags = new PixelIssueDetection();
            for (int i = 0; i < n; i++)
            {
                var q = m.Score(images[i], i);
                meta[i] = q.MetaStructureScore;
                flags.Add(q.StructuralIssueMask, changed[i] ?? CleanTruth(images[i].Mask));
            }
            AddVariant(name, meta, flags);
        }
        // Ablation: the contradiction outlier without per-fold thresholds (every image judged with the data set's, as if
        // one network had predicted them all).
        {
            var pooled = images.Select(im => new LabelQualityImage(im.Id, im.Mask, im.Probabilities, im.Width, im.Height)).ToList();
            var m = LabelQualityModel.Fit(pooled, k, options with { StorePixelMaps = false });
            AddVariant("contradiction outlier with the data set's thresholds for every fold (no per-fold thresholds)",
                pooled.Select((im, i) => m.Score(im, i).GetRankingKey(LabelQualityScoreKind.ContradictionOutlier)).ToArray());
        }
        // Investigation: the meta-structure score and the confident-issue fraction together (mean of their ranks, lower =
        // more suspicious; pixel flags: structural or confident-learning).
        AddVariant("mean rank of meta-structure and confident-issue fraction; flags: either",
            MeanRank(scores[LabelQualityScoreKind.MetaStructure], scores[LabelQualityScoreKind.ConfidentIssues]), either);
        // Investigation (binary): whole-image statistics of the given mask against the decoded prediction, the coarsest
        // meta-structure there is (one density per image). Lower = more suspicious.
        if (data.ClassCount == 2)
        {
            var area = Enumerable.Range(0, n).Select(i => ShareRatio(images[i].Mask, decoded[i], data.Background)).ToArray();
            var dice = Enumerable.Range(0, n).Select(i => Agreement(decoded[i], images[i].Mask, data.ClassCount)).ToArray();
            AddVariant("whole image: minus the absolute log ratio of the given and decoded foreground shares", area);
            AddVariant("whole image: Dice of the given mask and the decoded prediction", dice);
            AddVariant("mean rank of the whole-image share ratio and the confident-issue fraction", MeanRank(area, scores[LabelQualityScoreKind.ConfidentIssues]));
            AddVariant("mean rank of the whole-image share ratio and meta-structure", MeanRank(area, scores[LabelQualityScoreKind.MetaStructure]));
            if (k == 1)
            {
                var fit = images.Select(im => LikelihoodZ(im.Mask, im.Probabilities, data.Background)).ToArray();
                AddVariant("log-likelihood z-score of the given mask under the probabilities", fit);
                AddVariant("mean rank of the log-likelihood z-score and the confident-issue fraction", MeanRank(fit, scores[LabelQualityScoreKind.ConfidentIssues]));
            }
        }
        return new SeedResult(seed, metrics, quality / n, clock.Elapsed, plantedText);
    }

    /// <summary>
    /// Investigation: writes one seed's cross-fitted data for offline analysis: DIR/NAME-seedS.tsv (per image: index, name, fold,
    /// planted kind or "clean", width, height, the four scores) and DIR/NAME-seedS.bin (per image in order: the original
    /// mask, the given (corrupted) mask and the decoded mask as bytes, then the probabilities and the image as float32).
    /// </summary>
    private static void Dump(string dir, Dataset data, int seed, List<LabelQualityImage> images, PlantedErrorKind?[] kindOf, LabelQualityModel model)
    {
        Directory.CreateDirectory(dir);
        string stem = Path.Combine(dir, FormattableString.Invariant($"{data.Name.Split(' ')[0].ToLowerInvariant()}-seed{seed}"));
        var tsv = new StringBuilder("index\tname\tfold\tkind\twidth\theight\tchannels\tmeta\tsoftmin\tconfident\tcontradiction\n");
        using (var bin = new BinaryWriter(File.Create(stem + ".bin.tmp")))
        {
            for (int i = 0; i < images.Count; i++)
            {
                var im = images[i];
                var q = model.Score(im, i);
                var item = data.Items[i];
                tsv.Append(Inv, $"{i}\t{im.Id}\t{im.Fold}\t{kindOf[i]?.ToString() ?? "clean"}\t{im.Width}\t{im.Height}\t{item.Channels}\t{q.MetaStructureScore:R}\t{q.SoftminScore:R}\t{q.GetScore(LabelQualityScoreKind.ConfidentIssues):R}\t{q.ContradictionOutlierScore:R}\n");
                bin.Write(item.Mask!);
                bin.Write(im.Mask);
                bin.Write(q.DecodedMask!);
                foreach (float v in im.Probabilities) bin.Write(v);
                foreach (float v in item.Image) bin.Write(v);
            }
        }
        File.Move(stem + ".bin.tmp", stem + ".bin", overwrite: true);
        File.WriteAllText(stem + ".tsv", tsv.ToString());
    }

    /// <summary>
    /// Binary: (log-likelihood of the given mask under the out-of-sample probabilities - its expectation under them) / its
    /// standard deviation under them, treating pixels as independent: how far the labels fit worse than the model's own
    /// uncertainty allows (a hard image has a low expected likelihood, which softmin does not allow for).
    /// </summary>
    private static double LikelihoodZ(ReadOnlySpan<byte> given, ReadOnlySpan<float> p, byte background)
    {
        double observed = 0, expected = 0, variance = 0;
        for (int i = 0; i < given.Length; i++)
        {
            if (given[i] == MaskConventions.IgnoreIndex) continue;
            double q = Math.Clamp(p[i], 1e-6, 1 - 1e-6), l1 = Math.Log(q), l0 = Math.Log(1 - q);
            observed += given[i] != background ? l1 : l0;
            expected += q * l1 + (1 - q) * l0;
            variance += q * (1 - q) * (l1 - l0) * (l1 - l0);
        }
        return variance > 0 ? (observed - expected) / Math.Sqrt(variance) : 0;
    }

    /// <summary>Binary: minus the absolute log ratio of the given and decoded foreground shares (counts + 1; NaN when every pixel is ignored).</summary>
    private static double ShareRatio(byte[] given, byte[] decoded, byte background)
    {
        long g = 0, d = 0, scored = 0;
        for (int i = 0; i < given.Length; i++)
        {
            if (given[i] == MaskConventions.IgnoreIndex) continue;
            scored++;
            if (given[i] != background) g++;
            if (decoded[i] != background) d++;
        }
        return scored == 0 ? double.NaN : -Math.Abs(Math.Log((g + 1.0) / (d + 1.0)));
    }

    /// <summary>Per image, the mean of its ranks under two scores (1 = lowest; ties share their mean rank).</summary>
    private static double[] MeanRank(double[] a, double[] b)
    {
        var ra = Ranks(a);
        var rb = Ranks(b);
        return ra.Select((r, i) => (r + rb[i]) / 2).ToArray();

        static double[] Ranks(double[] v)
        {
            var order = Enumerable.Range(0, v.Length).OrderBy(i => v[i]).ToArray();
            var rank = new double[v.Length];
            for (int start = 0; start < order.Length;)
            {
                int end = start;
                while (end + 1 < order.Length && v[order[end + 1]] == v[order[start]]) end++;
                for (int j = start; j <= end; j++) rank[order[j]] = (start + end) / 2.0 + 1;
                start = end + 1;
            }
            return rank;
        }
    }

    private static byte[] Union(byte[] a, byte[] b)
    {
        var u = new byte[a.Length];
        for (int i = 0; i < a.Length; i++)
            u[i] = a[i] == MaskConventions.IgnoreIndex || b[i] == MaskConventions.IgnoreIndex ? MaskConventions.IgnoreIndex : (byte)(a[i] != 0 || b[i] != 0 ? 1 : 0);
        return u;
    }

    /// <summary>The variants of the investigation table (the default options first, for reference).</summary>
    private static IEnumerable<(string Name, LabelQualityOptions Options)> Variants(LabelQualityOptions o, int classCount, IReadOnlyList<LabelQualityImage> images)
    {
        yield return ("default (box h = 3, tolerance 1 px, z = 2)", o);
        foreach (int h in new[] { 1, 2, 5, 7 })
            yield return ($"box h = {h}", o with { Density = new DensityOptions { Kernel = DensityKernel.Box, Bandwidth = h } });
        yield return ("Gaussian σ = 2", o with { Density = new DensityOptions { Kernel = DensityKernel.Gaussian, Sigma = 2 } });
        yield return ("tolerance 0 px", o with { BoundaryTolerance = 0 });
        yield return ("tolerance 2 px", o with { BoundaryTolerance = 2 });
        yield return ("z = 3 (pixel flags only)", o with { NoiseAllowance = 3 });
        if (classCount == 2) yield return ("fixed decoding (0.5)", o with { Decoding = MLNet.NoisySeg.Decoding.DecodingRule.FixedThreshold });
        else
        {
            var levels = MLNet.NoisySeg.Decoding.LabelFreeDecoder.EstimateLevels(images.Select(i => i.Probabilities).ToList(), classCount);
            yield return ("inverse-NTM decoding of the estimated levels", o with { Decoding = levels.ToRule() });
        }
    }

    private static string Short(LabelQualityScoreKind s) => s switch
    {
        LabelQualityScoreKind.MetaStructure => "meta",
        LabelQualityScoreKind.Softmin => "softmin",
        LabelQualityScoreKind.ContradictionOutlier => "contradiction",
        _ => "confident",
    };

    /// <summary>Truth of a clean image: nothing changed (255 at ignore pixels).</summary>
    private static byte[] CleanTruth(byte[] mask) => mask.Select(v => v == MaskConventions.IgnoreIndex ? MaskConventions.IgnoreIndex : (byte)0).ToArray();

    /// <summary>How well the decoded out-of-sample prediction matches the original labels: Dice of class 1 (binary) or mean IoU over present classes.</summary>
    private static double Agreement(byte[] decoded, byte[] truth, int classCount)
    {
        var inter = new long[classCount];
        var union = new long[classCount];
        var sum = new long[classCount];
        for (int i = 0; i < truth.Length; i++)
        {
            byte t = truth[i], d = decoded[i];
            if (t == MaskConventions.IgnoreIndex) continue;
            if (t == d) inter[t]++;
            sum[t]++;
            if (d < classCount) sum[d]++;
            union[t]++;
            if (d != t && d < classCount) union[d]++;
        }
        if (classCount == 2) return sum[1] == 0 ? double.NaN : 2.0 * inter[1] / sum[1];
        var present = Enumerable.Range(0, classCount).Where(c => union[c] > 0).ToArray();
        return present.Average(c => (double)inter[c] / union[c]);
    }

    private static string Table(Dataset data, List<SeedResult> results)
    {
        var sb = new StringBuilder();
        sb.Append(Inv, $"## {data.Name}\n\n{data.Describe}. Out-of-sample agreement of the decoded prediction with the original labels ({(data.ClassCount == 2 ? "Dice" : "mIoU")}): {Stat(results.Select(r => r.ModelQuality))}; ");
        sb.Append(Inv, $"time per seed {results.Average(r => r.Elapsed.TotalMinutes):0.0} min.\n\n");
        sb.Append("| image level (planted vs clean) | contradiction outlier [ours] | meta-structure [ours] | softmin [cleanlab] | confident-issue fraction [cleanlab flags] |\n|---|---|---|---|---|\n");
        string Row(string label, string key) => string.Join(" | ", Scores.Select(s => Cell(results, $"{key} {Short(s)}")).Prepend("| " + label)) + " |\n";
        sb.Append(Row("AUROC, all kinds", "auroc"));
        sb.Append(Row("average precision, all kinds", "ap"));
        if (data.Kinds.Contains(PlantedErrorKind.SwapClass)) sb.Append(Row("AUROC, structural kinds (all but SwapClass)", "structural"));
        foreach (var kind in data.Kinds) sb.Append(Row($"AUROC, {kind}", $"kind {kind}"));
        sb.Append("\n| pixel level (flags vs changed pixels) | structural flags [ours] | confident-learning flags [cleanlab] |\n|---|---|---|\n");
        sb.Append(Inv, $"| precision | {Cell(results, "pixel precision structural")} | {Cell(results, "pixel precision confident")} |\n");
        sb.Append(Inv, $"| recall | {Cell(results, "pixel recall structural")} | {Cell(results, "pixel recall confident")} |\n");
        sb.Append(Inv, $"| precision on the planted images only | {Cell(results, "planted precision structural")} | {Cell(results, "planted precision confident")} |\n\n");
        var variants = results[0].Metrics.Keys.Where(key => key.StartsWith("variant ", StringComparison.Ordinal) && key.EndsWith(" auroc", StringComparison.Ordinal))
            .Select(key => key["variant ".Length..^" auroc".Length]).ToList();
        if (variants.Count > 0)
        {
            bool swaps = data.Kinds.Contains(PlantedErrorKind.SwapClass);
            sb.Append("Investigation: the meta-structure score of the same probabilities with other options, the contradiction outlier without per-fold thresholds, combinations and whole-image statistics.\n\n");
            sb.Append(swaps ? "| variant | AUROC | AP | AUROC structural kinds | AUROC SwapClass | pixel precision | pixel recall |\n|---|---|---|---|---|---|---|\n"
                : "| variant | AUROC | AP | pixel precision | pixel recall |\n|---|---|---|---|---|\n");
            foreach (var v in variants)
            {
                sb.Append(Inv, $"| {v} | {Cell(results, $"variant {v} auroc")} | {Cell(results, $"variant {v} ap")} | ");
                if (swaps) sb.Append(Inv, $"{Cell(results, $"variant {v} structural")} | {Cell(results, $"variant {v} swap")} | ");
                sb.Append(Inv, $"{Cell(results, $"variant {v} precision")} | {Cell(results, $"variant {v} recall")} |\n");
            }
            sb.Append('\n');
        }
        sb.Append("Per seed (planted kinds, mean changed pixels):\n\n");
        foreach (var r in results)
            sb.Append(Inv, $"- seed {r.Seed}: AUROC contradiction {r.Metrics["auroc contradiction"]:0.000} / meta {r.Metrics["auroc meta"]:0.000} / softmin {r.Metrics["auroc softmin"]:0.000}; model {r.ModelQuality:0.000}; planted {r.Planted}\n");
        sb.Append('\n');
        return sb.ToString();
    }

    private static string Cell(List<SeedResult> results, string key)
        => Stat(results.Select(r => r.Metrics.TryGetValue(key, out double v) ? v : double.NaN));

    private static string Stat(IEnumerable<double> values)
    {
        var v = values.Where(x => !double.IsNaN(x)).ToArray();
        if (v.Length == 0) return "n/a";
        double mean = v.Average();
        double std = v.Length > 1 ? Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Length - 1)) : 0;
        return FormattableString.Invariant($"{mean:0.000} ± {std:0.000}");
    }

    private static Dataset Load(string name, string[] args)
    {
        string root = AppContext.BaseDirectory;
        switch (name)
        {
            case "isbi":
            {
                string dir = Text(args, "--isbi", Path.Combine(root, "datasets", "isbi2012_em_membrane"));
                var o = SegmentationFolderOptions.BinaryMasks(foregroundValue: 0);
                var slices = SegmentationFolderLoader.Load(Path.Combine(dir, "train"), o).Concat(SegmentationFolderLoader.Load(Path.Combine(dir, "test"), o)).ToList();
                var tiles = new List<SegmentationItem>();
                foreach (var s in slices)
                {
                    var grid = new TileGrid(s.Height, s.Width, 256, 256);
                    for (int t = 0; t < grid.Count; t++)
                    {
                        var image = new float[s.Channels * 256 * 256];
                        var mask = new byte[256 * 256];
                        Tiling.ExtractTile(s.Image, s.Channels, grid, t, image);
                        Tiling.ExtractTile(s.Mask!, grid, t, mask);
                        tiles.Add(new SegmentationItem($"{Path.GetFileNameWithoutExtension(s.Name)}_t{t}", image, s.Channels, 256, 256, mask));
                    }
                }
                return new Dataset("ISBI 2012 (EM membranes)", tiles, 2, 0, Structural, 0,
                    FormattableString.Invariant($"{slices.Count} slices 512² from {dir} (train + test) cut into {tiles.Count} native-resolution 256² tiles; membrane = class 1 ({Share(tiles, 1):P0} of pixels)"));
            }
            case "camvid":
            {
                string shared = FindShared("camvid11");
                string dir = Text(args, "--camvid", Directory.Exists(shared) ? shared : Path.Combine(root, "datasets", "camvid11_small"));
                var size = Text(args, "--camvid-size", "240x180").Split('x').Select(v => int.Parse(v, Inv)).ToArray();
                var o = SegmentationFolderOptions.ClassIndexMasks(11, ignoreValue: 11) with { Width = size[0], Height = size[1] };
                var items = SegmentationFolderLoader.Load(Path.Combine(dir, "train"), o).Concat(SegmentationFolderLoader.Load(Path.Combine(dir, "test"), o)).ToList();
                // Road (3) is the background the planter grows objects over and leaves behind: a sloppy car or pole polygon
                // covers road, a missed car becomes road. Every class is scored (no background to exclude).
                return new Dataset("CamVid (11 classes)", items, 11, 3, [.. Structural, PlantedErrorKind.SwapClass], null,
                    FormattableString.Invariant($"{items.Count} frames from {dir} (train + test) at {size[0]}x{size[1]}; planter background = road (3); void ignored"));
            }
            default:
                throw new ArgumentException($"Unknown data set '{name}'; use isbi, camvid.");
        }
    }

    private static double Share(IReadOnlyList<SegmentationItem> items, byte c)
        => items.Sum(i => i.Mask!.Count(v => v == c)) / (double)items.Sum(i => i.Mask!.Length);

    /// <summary>../shared/data/&lt;name&gt; beside the repository root, found from the working directory or the binary.</summary>
    private static string FindShared(string name)
    {
        foreach (string start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (Directory.Exists(Path.Combine(dir.FullName, "src", "MLNet.NoisySeg")))
                    return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "data", name));
        return "";
    }

    private static string Cpu()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/cpuinfo"))
                if (line.StartsWith("model name", StringComparison.Ordinal)) return line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException) { }
        return "unknown";
    }

    private static string Text(string[] args, string name, string fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    }

    private static int Int(string[] args, string name, int fallback) => int.Parse(Text(args, name, fallback.ToString(Inv)), Inv);

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class InlineProgress(Action<CrossFitProgress> report) : IProgress<CrossFitProgress>
    {
        public void Report(CrossFitProgress value) => report(value);
    }
}
