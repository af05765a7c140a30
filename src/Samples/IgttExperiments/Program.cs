// Experiment harness of issue 16 (not part of the solution build): budget curves of iGTT and of the supervised U-Net,
// per-round diagnostics (candidate share and train Dice, pseudo-label precision, test Dice at the candidates' share,
// two-level and oracle thresholds), baselines. Run from the repository root, e.g.
//   dotnet run --project src/Samples/IgttExperiments -c Release -- igtt --data isbi --rounds 8 --steps 50 --seed 0 --out curves.jsonl
//   dotnet run --project src/Samples/IgttExperiments -c Release -- sup --data isbi --steps 400 --every 50 --seed 0 --out curves.jsonl
// Test labels are used only for the printed diagnostics (oracle, per-round Dice), never by iGTT.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Data.Synthetic;
using MLNet.NoisySeg.Decoding;
using MLNet.NoisySeg.Evaluation;
using MLNet.NoisySeg.Losses;
using MLNet.NoisySeg.Networks;
using MLNet.NoisySeg.Torch;
using MLNet.NoisySeg.Training;
using MLNet.NoisySeg.Unsupervised;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
var a = Args.Parse(args);
TorchRuntime.Initialize(1);
string outFile = a.Get("out", "igtt-results.jsonl");
var (name, train, test, polarity) = Data.Load(a.Get("data", "isbi"), a);
Console.WriteLine($"{name}: {train.Count} train / {test.Count} test, {train[0].Channels}x{train[0].Height}x{train[0].Width}, " +
    $"train fg {Fg(train):0.000}, test fg {Fg(test):0.000}, polarity {polarity}");
var net = new UNetOptions { Depth = a.Int("depth", 3), BaseWidth = a.Int("base", 16), InputChannels = train[0].Channels };
string cmd = a.Positional.Count > 0 ? a.Positional[0] : "igtt";
var rec = new Dictionary<string, object?> { ["cmd"] = cmd, ["data"] = name, ["args"] = string.Join(' ', args) };
var sw = Stopwatch.StartNew();

switch (cmd)
{
    case "baselines":
    {
        foreach (var (m, f) in new (string, Func<SegmentationItem, (byte[], float[])>)[]
        {
            ("otsu", t => { var mk = new byte[t.PixelCount]; var sc = new float[t.PixelCount]; ThresholdBaselines.Otsu(t.Image, t.Channels, t.Height, t.Width, polarity, mk, sc); return (mk, sc); }),
            ("adaptive", t => { var mk = new byte[t.PixelCount]; var sc = new float[t.PixelCount]; ThresholdBaselines.Adaptive(t.Image, t.Channels, t.Height, t.Width, ThresholdBaselines.DefaultSigma, 0, polarity, mk, sc); return (mk, sc); }),
        })
        {
            var ev = new BinarySegmentationEvaluator();
            foreach (var t in test) { var (mk, sc) = f(t); ev.Add(t.Mask, mk, sc); }
            var r = ev.GetMetrics();
            Console.WriteLine($"{m}: Dice {r.Dice:0.0000} AUC {r.Auc:0.0000} pred fg {(r.TruePositives + r.FalsePositives) / (double)r.PixelCount:0.000}");
            rec[m + "_dice"] = r.Dice; rec[m + "_auc"] = r.Auc;
        }
        break;
    }
    case "sup":
    {
        int steps = a.Int("steps", 400), every = a.Int("every", 50), seed = a.Int("seed", 0);
        var samples = train;
        var curve = new List<double[]>();
        var o = new SegmentationTrainerOptions { Loss = LossKind.Bce, Network = net, BatchSize = 4, Threads = 1, MaxSteps = steps, ValidateEvery = every, Seed = seed, LearningRate = 1e-3 };
        using var model = SegmentationTrainer.Train(samples, o, null, default, (step, m) =>
        {
            var s = Score(test, m, DecodingRule.FixedThreshold);
            curve.Add([step, s.Dice, s.Auc]);
            Console.WriteLine($"  step {step}: test Dice {s.Dice:0.0000} AUC {s.Auc:0.0000} ({sw.Elapsed.TotalSeconds:0}s)");
            return new Dictionary<string, double>();
        });
        rec["seed"] = seed; rec["curve"] = curve; rec["dice"] = curve[^1][1]; rec["auc"] = curve[^1][2];
        break;
    }
    case "igtt":
    {
        int seed = a.Int("seed", 0);
        var o = new IgttOptions
        {
            Rounds = a.Int("rounds", 4), StepsPerRound = a.Int("steps", 20), UseMetaStructureExtraction = !a.Has("no-ems"),
            InitialPrediction = a.Get("init", "network") == "image" ? IgttInitialPrediction.Image : IgttInitialPrediction.Network,
            Trainer = new SegmentationTrainerOptions { Loss = LossKind.DmiSoftIoU, Network = net, BatchSize = 4, Threads = 1, Seed = seed, LearningRate = 1e-3 },
        };
        o = Variants.Apply(o, a);
        var rounds = new List<Dictionary<string, object?>>();
        double lastCandShare = double.NaN;
        var perRoundShare = new List<double>();
        var progress = new SyncProgress<IgttProgress>(p =>
        {
            if (p.Stage != IgttStage.Selection) return;
            var s = p.Selection!;
            var ev = new BinarySegmentationEvaluator();
            var evp = new BinarySegmentationEvaluator();
            for (int i = 0; i < train.Count; i++)
            {
                var c = p.Candidates![i];
                double fg = c.Count(v => v == 1) / (double)c.Length;
                var oriented = fg > 0.5 && a.Has("orient-candidates") ? c.Select(v => (byte)(1 - v)).ToArray() : c;
                ev.Add(train[i].Mask, oriented);
                evp.Add(train[i].Mask, p.PseudoLabels![i]);
            }
            var cm = ev.GetMetrics(); var pm = evp.GetMetrics();
            var d = new Dictionary<string, object?>
            {
                ["round"] = s.Round, ["level"] = s.MeanLevelIndex, ["dmi"] = s.MeanDmiLoss, ["candFg"] = s.MeanCandidateForeground,
                ["pseudoFg"] = s.MeanPseudoLabelForeground, ["inverted"] = s.InvertedImages, ["candDice"] = cm.Dice, ["pseudoPrecision"] = pm.Precision,
                ["extra"] = s.ToString(),
            };
            rounds.Add(d);
            lastCandShare = s.MeanCandidateForeground;
            if (a.Has("dump")) Dump(a.Get("dump", "dump"), $"r{s.Round}", train, p.Candidates!, p.PseudoLabels!, null);
            Console.WriteLine($"  select r{s.Round}: level {s.MeanLevelIndex:0.0} cand fg {s.MeanCandidateForeground:0.000} (train Dice {cm.Dice:0.000}) pseudo fg {s.MeanPseudoLabelForeground:0.0000} (precision {pm.Precision:0.000}) inv {s.InvertedImages} ({sw.Elapsed.TotalSeconds:0}s)");
            Console.WriteLine($"     {s}");
        });
        var perRound = new List<Dictionary<string, object?>>();
        void AfterRound(IgttRoundEnd end)
        {
            var (round, m, trainOut) = (end.Round, end.Model, end.TrainingOutputs.ToList());
            var lv = LabelFreeDecoder.EstimateBinary(trainOut);
            var raw = Score(test, m, DecodingRule.AtThreshold(lv.Threshold));
            var pooled = trainOut.SelectMany(x => x).ToArray();
            bool aligned = raw.Auc >= 0.5; // diagnostics only (uses test labels to pick the side)
            double shareT = LabelFreeDecoder.ThresholdAtForegroundShare(trainOut, lastCandShare, !aligned);
            var atShare = Score(test, m, DecodingRule.AtThreshold(shareT, !aligned));
            Console.WriteLine($"  after r{round}: Dice at last candidate share {lastCandShare:0.000}: {atShare.Dice:0.000}");
            perRoundShare.Add(atShare.Dice);
            var inv = Score(test, m, DecodingRule.AtThreshold(lv.Threshold, true));
            var best = OracleBest(test, m);
            perRound.Add(new() { ["diceAtShare"] = perRoundShare.Count > 0 ? perRoundShare[^1] : double.NaN, ["round"] = round, ["diceRaw"] = raw.Dice, ["diceInv"] = inv.Dice, ["aucRaw"] = raw.Auc, ["oracle"] = best.Dice, ["oracleInv"] = best.Inverted, ["predFgRaw"] = raw.PredFg });
            Console.WriteLine($"  after r{round}: test Dice at label-free t {raw.Dice:0.000} (inverted {inv.Dice:0.000}) raw AUC {raw.Auc:0.000} oracle {best.Dice:0.000}{(best.Inverted ? " inv" : "")} pred fg {raw.PredFg:0.000} ({sw.Elapsed.TotalSeconds:0}s)");
        }
        using var r = IterativeGroundTruthTrainer.Train(train, o, progress, default, AfterRound);
        var final = Score(test, r.Model, r.Decoding);
        var twoLevel = Score(test, r.Model, r.TwoLevelDecoding);
        rec["diceTwoLevel"] = twoLevel.Dice; rec["share"] = r.ForegroundShare;
        Console.WriteLine($"two-level decoding: Dice {twoLevel.Dice:0.0000} pred fg {twoLevel.PredFg:0.000}");
        if (a.Has("dump"))
        {
            var outs = r.Model.PredictProbabilities(train.Select(t => t.Image).ToList(), train[0].Channels, train[0].Height, train[0].Width);
            var touts = r.Model.PredictProbabilities(test.Select(t => t.Image).ToList(), test[0].Channels, test[0].Height, test[0].Width);
            Dump(a.Get("dump", "dump"), "final", train, r.Candidates, r.PseudoLabels, outs);
            Dump(a.Get("dump", "dump"), "test", test, test.Select(t => t.Mask!).ToList(), test.Select(t => t.Mask!).ToList(), touts);
        }
        var info = Variants.Describe(r);
        Console.WriteLine($"FINAL seed {seed}: Dice {final.Dice:0.0000} AUC(Probability) {final.Auc:0.0000} pred fg {final.PredFg:0.000} decoding {r.Decoding} {info} ({sw.Elapsed.TotalSeconds:0}s)");
        rec["seed"] = seed; rec["dice"] = final.Dice; rec["auc"] = final.Auc; rec["predFg"] = final.PredFg; rec["decoding"] = r.Decoding.ToString();
        rec["info"] = info; rec["selections"] = rounds; rec["rounds"] = perRound;
        break;
    }
    default: throw new ArgumentException("command: baselines | sup | igtt");
}
rec["seconds"] = sw.Elapsed.TotalSeconds;
File.AppendAllText(outFile, JsonSerializer.Serialize(rec) + "\n");
return 0;

static void Dump(string dir, string tag, IReadOnlyList<SegmentationItem> items, IReadOnlyList<byte[]> cand, IReadOnlyList<byte[]> pseudo, float[][]? outs)
{
    Directory.CreateDirectory(dir);
    int h = items[0].Height, w = items[0].Width, cols = outs is null ? 4 : 5;
    foreach (int i in new[] { 0, 1 })
    {
        var t = items[i];
        var panel = new byte[h * w * cols];
        float min = t.Image.Min(), max = t.Image.Max();
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int j = y * w + x, row = y * w * cols;
                panel[row + x] = (byte)(255 * (t.Image[j] - min) / (max - min + 1e-6));
                panel[row + w + x] = t.Mask![j] == 1 ? (byte)255 : t.Mask[j] == 255 ? (byte)128 : (byte)0;
                panel[row + 2 * w + x] = cand[i][j] == 1 ? (byte)255 : (byte)0;
                bool near = false;
                for (int dy = -1; dy <= 1 && !near; dy++) for (int dx = -1; dx <= 1; dx++)
                { int yy = y + dy, xx = x + dx; if (yy >= 0 && yy < h && xx >= 0 && xx < w && pseudo[i][yy * w + xx] == 1) { near = true; break; } }
                panel[row + 3 * w + x] = pseudo[i][j] == 255 ? (byte)128 : near ? (byte)255 : (byte)0;
                if (outs is not null) panel[row + 4 * w + x] = (byte)(255 * Math.Clamp(outs[i][j], 0f, 1f));
            }
        MLNet.NoisySeg.Data.PngWriter.WriteGray(Path.Combine(dir, $"{tag}_{i}.png"), panel, w * cols, h);
    }
}

static double Fg(IReadOnlyList<SegmentationItem> items)
{
    long fg = 0, n = 0;
    foreach (var t in items) foreach (var v in t.Mask!) { if (v == 255) continue; n++; if (v != 0) fg++; }
    return fg / (double)n;
}

static (double Dice, double Auc, double PredFg) Score(IReadOnlyList<SegmentationItem> test, TrainedSegmentationModel m, DecodingRule rule)
{
    var probs = m.PredictProbabilities(test.Select(t => t.Image).ToList(), test[0].Channels, test[0].Height, test[0].Width);
    var ev = new BinarySegmentationEvaluator();
    for (int i = 0; i < test.Count; i++)
    {
        var mask = new byte[probs[i].Length];
        rule.Decode(probs[i], 1, mask);
        ev.Add(test[i].Mask, mask, probs[i]);
    }
    var r = ev.GetMetrics();
    return (r.Dice, r.Auc, (r.TruePositives + r.FalsePositives) / (double)r.PixelCount);
}

static (double Dice, bool Inverted) OracleBest(IReadOnlyList<SegmentationItem> test, TrainedSegmentationModel m)
{
    var probs = m.PredictProbabilities(test.Select(t => t.Image).ToList(), test[0].Channels, test[0].Height, test[0].Width);
    float min = probs.Min(p => p.Min()), max = probs.Max(p => p.Max());
    double best = -1; bool inv = false;
    for (int k = 1; k < 50; k++)
    {
        double t = min + (max - min) * k / 50.0;
        foreach (bool iv in new[] { false, true })
        {
            var ev = new BinarySegmentationEvaluator();
            for (int i = 0; i < test.Count; i++)
            {
                var mask = new byte[probs[i].Length];
                for (int j = 0; j < mask.Length; j++) mask[j] = (probs[i][j] > t) ^ iv ? (byte)1 : (byte)0;
                ev.Add(test[i].Mask, mask);
            }
            double d = ev.GetMetrics().Dice;
            if (d > best) { best = d; inv = iv; }
        }
    }
    return (best, inv);
}

sealed class SyncProgress<T>(Action<T> f) : IProgress<T> { public void Report(T v) => f(v); }

sealed class Args
{
    public List<string> Positional { get; } = [];
    private readonly Dictionary<string, string> _kv = new();
    public static Args Parse(string[] args)
    {
        var a = new Args();
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i].StartsWith("--"))
            {
                string k = args[i][2..];
                if (i + 1 < args.Length && !args[i + 1].StartsWith("--")) a._kv[k] = args[++i]; else a._kv[k] = "true";
            }
            else a.Positional.Add(args[i]);
        }
        return a;
    }
    public bool Has(string k) => _kv.ContainsKey(k);
    public string Get(string k, string d) => _kv.TryGetValue(k, out var v) ? v : d;
    public int Int(string k, int d) => _kv.TryGetValue(k, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : d;
    public double Dbl(string k, double d) => _kv.TryGetValue(k, out var v) ? double.Parse(v, CultureInfo.InvariantCulture) : d;
}

static class Data
{
    public static (string, IReadOnlyList<SegmentationItem>, IReadOnlyList<SegmentationItem>, ThresholdPolarity) Load(string which, Args a)
    {
        int size = a.Int("size", 128);
        switch (which)
        {
            case "isbi":
            {
                string root = a.Get("isbi", "src/Samples/datasets/isbi2012_em_membrane");
                var o = new SegmentationFolderOptions { MaskEncoding = MaskEncoding.Binary, ForegroundValue = 0, Width = size, Height = size };
                return ($"isbi{size}", SegmentationFolderLoader.Load(Path.Combine(root, "train"), o), SegmentationFolderLoader.Load(Path.Combine(root, "test"), o), ThresholdPolarity.Dark);
            }
            case "nuclei":
            {
                var o = new SyntheticFluorescenceOptions
                {
                    Kind = SyntheticFluorescenceKind.Nuclei, Width = size, Height = size, NucleusRadiusMin = 5, NucleusRadiusMax = 10,
                    NucleusCoverage = a.Dbl("coverage", 0.1), PhotonCount = 20, NoiseLevel = 0.08, BackgroundVariation = 0.6,
                };
                return ($"nuclei{size}", SyntheticData.FluorescenceBatch(o, 7, 20).Select(x => x.AsLoaded()).ToList(),
                    SyntheticData.FluorescenceBatch(o, 7, 10, 1000).Select(x => x.AsLoaded()).ToList(), ThresholdPolarity.Bright);
            }
            case "nuclei64":
            {
                var o = new SyntheticFluorescenceOptions
                {
                    Kind = SyntheticFluorescenceKind.Nuclei, Width = 64, Height = 64, NucleusRadiusMin = 5, NucleusRadiusMax = 10,
                    PhotonCount = 20, NoiseLevel = 0.08, BackgroundVariation = 0.6,
                };
                return ("nuclei64", SyntheticData.FluorescenceBatch(o, 7, 16).Select(x => x.AsLoaded()).ToList(),
                    SyntheticData.FluorescenceBatch(o, 7, 8, 1000).Select(x => x.AsLoaded()).ToList(), ThresholdPolarity.Bright);
            }
            case "camvid-sky":
            case "camvid-road":
            {
                int cls = which == "camvid-sky" ? 0 : 3;
                string root = a.Get("camvid", "/work/shared/data/camvid11");
                int w = size, h = size * 3 / 4;
                var o = new SegmentationFolderOptions { MaskEncoding = MaskEncoding.ClassIndex, ClassCount = 11, IgnoreValue = 11, Width = w, Height = h, Channels = 3, ZScore = false };
                int nTrain = a.Int("ntrain", 40), nTest = a.Int("ntest", 20);
                var tr = SegmentationFolderLoader.Load(Path.Combine(root, "train"), o).Where((_, i) => i % Math.Max(1, 184 / nTrain) == 0).Take(nTrain).Select(t => Gray(t, cls)).ToList();
                var te = SegmentationFolderLoader.Load(Path.Combine(root, "test"), o).Where((_, i) => i % Math.Max(1, 47 / nTest) == 0).Take(nTest).Select(t => Gray(t, cls)).ToList();
                return ($"{which}{w}x{h}", tr, te, cls == 0 ? ThresholdPolarity.Bright : ThresholdPolarity.Dark);
            }
            default: throw new ArgumentException("data: isbi | nuclei | nuclei64 | camvid-sky | camvid-road");
        }
    }

    /// <summary>Luma, per-image z-score; mask: class → 1, void → 255, other → 0.</summary>
    private static SegmentationItem Gray(SegmentationItem t, int cls)
    {
        int n = t.Height * t.Width;
        var g = new float[n];
        for (int i = 0; i < n; i++) g[i] = 0.299f * t.Image[i] + 0.587f * t.Image[n + i] + 0.114f * t.Image[2 * n + i];
        double mean = g.Average(), sd = Math.Sqrt(g.Sum(v => (v - mean) * (v - mean)) / n) + 1e-6;
        for (int i = 0; i < n; i++) g[i] = (float)((g[i] - mean) / sd);
        var m = t.Mask!.Select(v => v == 255 ? (byte)255 : v == cls ? (byte)1 : (byte)0).ToArray();
        return new SegmentationItem(t.Name, g, 1, t.Height, t.Width, m);
    }
}
