using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Data.Synthetic;
using MLNet.NoisySeg.Study;

namespace MLNet.NoisySeg.Tests.Study;

/// <summary>
/// End-to-end runs of a tiny study grid (4 conditions on 32x32 synthetic nuclei, 6 steps): resume after a kill and
/// shard + merge must reproduce the single run's table exactly (up to wall times).
/// </summary>
[TestClass]
public class StudyRunnerTests
{
    private static readonly string Root = Path.Combine(Path.GetTempPath(), "noisyseg-study-tests-" + Guid.NewGuid().ToString("N")[..8]);
    private static readonly Lazy<string> Dataset = new(() =>
    {
        var o = new SyntheticFluorescenceOptions { Kind = SyntheticFluorescenceKind.Nuclei, Width = 32, Height = 32, NucleusRadiusMin = 3, NucleusRadiusMax = 6 };
        string path = Path.Combine(Root, "nuclei");
        SyntheticDataSets.WriteSplit(SyntheticData.FluorescenceBatch(o, 11, 8), Path.Combine(path, "train"), binary: true);
        SyntheticDataSets.WriteSplit(SyntheticData.FluorescenceBatch(o, 11, 4, firstIndex: 100), Path.Combine(path, "test"), binary: true);
        return path;
    });

    private static readonly Lazy<StudyRunSummary> Single = new(() => new StudyRunner(Options("single")).Run());

    [ClassCleanup]
    public static void Cleanup()
    {
        try { Directory.Delete(Root, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private static StudyOptions Options(string output, StudyShard? shard = null) => new()
    {
        Datasets = [new StudyDatasetOptions { Name = "nuclei", Path = Dataset.Value, Folder = SegmentationFolderOptions.BinaryMasks(255) }],
        Seeds = [5],
        Steps = 6,
        BatchSize = 4,
        Depth = 2,
        BaseWidth = 4,
        BudgetEvery = 3,
        Threads = 1,
        DensityBandwidth = 2,
        ValidationFraction = 0.25,
        ConditionFilter = ["clean", "sampling(0.1)", "dilate(1)", "random(0.3)"],
        OutputFolder = Path.Combine(Root, output),
        Shard = shard ?? StudyShard.All,
    };

    private static string Table(IEnumerable<StudyResult> results) => StudyResultStore.ToCsv(results, includeWallTime: false);

    [TestMethod]
    public void SingleRun_RecordsEveryMeasurement()
    {
        var s = Single.Value;
        Assert.AreEqual(4, s.Ran);
        Assert.AreEqual(0, s.Skipped);
        CollectionAssert.AreEqual(new[] { "clean", "sampling(0.1)", "dilate(1)", "random(0.3)" }, s.Results.Select(r => r.Condition).ToArray());
        CollectionAssert.AreEqual(new[] { 0, 3, 8, 16 }, s.Results.Select(r => r.Index).ToArray());
        foreach (var r in s.Results)
        {
            Assert.IsTrue(r.Paper.Score is >= 0 and <= 1, r.Key);
            Assert.IsTrue(r.LabelFree.Score is >= 0 and <= 1, r.Key);
            Assert.IsTrue(r.Fixed.Score is >= 0 and <= 1, r.Key);
            Assert.AreEqual(2, r.NoiseMatrix.Count);
            Assert.IsTrue(r.WallSeconds > 0);
            Assert.IsTrue(File.Exists(Path.Combine(Options("single").OutputFolder, r.Panel)), r.Panel);
        }
        var clean = s.Results[0];
        Assert.AreEqual(1.0, clean.NoiseMatrix[0][0], 1e-12);
        Assert.AreEqual(1.0, clean.NoiseDeterminant, 1e-12);
        Assert.AreEqual(1.0, clean.StructureCorrelation, 1e-9);
        CollectionAssert.AreEqual(new[] { 3, 6 }, clean.Budget.Select(b => b.Step).ToArray());
        foreach (var r in s.Results.Where(r => r.Budget.Count > 0))
        {
            foreach (var b in r.Budget)
            {
                Assert.IsTrue(b.Paper is >= 0 and <= 1, $"{r.Key} step {b.Step}: paper {b.Paper}");
                Assert.IsTrue(b.Fixed is >= 0 and <= 1, $"{r.Key} step {b.Step}: fixed {b.Fixed}");
            }
            // The runner's budget decoding and the trainer's label-free decoding are one rule (NoiseAwareDecoding.Plan, the same
            // known Q and noisy share): at the last step they score the same model the same way.
            Assert.AreEqual(r.LabelFree.Score, r.Budget[^1].Score, 1e-12, $"{r.Key}: {r.LabelFreeReport}");
            Assert.AreEqual(r.Fixed.Score, r.Budget[^1].Fixed, 1e-12, r.Key);
        }
        foreach (var r in s.Results) StringAssert.StartsWith(r.LabelFreeReport, "label-free, ", r.Key);
        var sampling = s.Results[1];
        Assert.AreEqual(1.0, sampling.NoiseMatrix[0][0], 1e-12);           // background never becomes foreground
        Assert.AreEqual(0.1, sampling.NoiseMatrix[1][1], 0.02);            // ~10% of the foreground kept
        Assert.AreEqual(2, sampling.NoiseRank);
        Assert.IsTrue(sampling.StructureCorrelation > 0.5, $"corr {sampling.StructureCorrelation}");
        var random = s.Results[3];
        Assert.IsTrue(Math.Abs(random.NoiseDeterminant) < 0.1, $"det {random.NoiseDeterminant}"); // random labels: Q ≈ rank 1
        Assert.IsTrue(Math.Abs(random.StructureCorrelation) < 0.3, $"corr {random.StructureCorrelation}");
        Assert.AreEqual(0, random.Budget.Count);                           // curves only for CL and RCL
        // Its known Q (rank 1) reaches the decoding planner as is, which reports it and falls back to the fixed rule.
        StringAssert.Contains(random.LabelFreeReport, "rank-deficient");
        Assert.AreEqual(random.Fixed.Rule, random.LabelFree.Rule);
        Assert.AreEqual(random.Fixed.Score, random.LabelFree.Score, 1e-12);

        string folder = Options("single").OutputFolder;
        Assert.AreEqual(4, File.ReadAllLines(Path.Combine(folder, StudyResultStore.JsonLinesFileName)).Length);
        Assert.AreEqual(5, File.ReadAllLines(Path.Combine(folder, StudyResultStore.CsvFileName)).Length);
    }

    [TestMethod]
    public void DivergingConditions_AreRecordedWithTheReason_TheRunGoesOn_AndARerunRetriesThem()
    {
        var o = Options("diverge") with { LearningRate = 1e12, ConditionFilter = ["clean", "sampling(0.1)"] };
        var s = new StudyRunner(o).Run();
        Assert.AreEqual(0, s.Results.Count);
        Assert.AreEqual(0, s.Ran);
        // the first condition's failure did not stop the run: both were attempted and recorded
        CollectionAssert.AreEqual(new[] { "nuclei|clean|seed=5", "nuclei|sampling(0.1)|seed=5" }, s.Failures.Select(f => f.Key).ToArray());
        foreach (var f in s.Failures)
        {
            Assert.AreEqual(nameof(MLNet.NoisySeg.Training.TrainingDivergedException), f.Error);
            StringAssert.Contains(f.Reason, "learning rate 1E+12");
        }
        var store = new StudyResultStore(o.OutputFolder);
        Assert.AreEqual(2, store.Failures.Count);
        Assert.IsFalse(store.Contains(s.Failures[0].Key), "a failed condition is not finished");
        var again = new StudyRunner(o).Run();
        Assert.AreEqual(0, again.Skipped, "a rerun retries failed conditions");
        Assert.AreEqual(2, again.Failures.Count);
    }

    [TestMethod]
    public void KilledRun_Resumes_WithoutLossOrDuplicates_AndSameTable()
    {
        var o = Options("resume");
        using var cts = new CancellationTokenSource();
        int done = 0;
        var progress = new Inline(p =>
        {
            if (p.Phase == "done") done++;
            if (p.Phase == "train" && p.Number == 3 && p.Training!.Step == 3) cts.Cancel(); // killed in the middle of the 3rd condition
        });
        Assert.ThrowsExactly<OperationCanceledException>(() => new StudyRunner(o).Run(progress, cts.Token));
        Assert.AreEqual(2, done);
        var partial = StudyResultStore.Read(Path.Combine(o.OutputFolder, StudyResultStore.JsonLinesFileName));
        CollectionAssert.AreEqual(new[] { "clean", "sampling(0.1)" }, partial.Select(r => r.Condition).ToArray());
        Assert.AreEqual(0, Directory.GetFiles(o.OutputFolder, "*.tmp").Length);

        var resumed = new StudyRunner(o).Run();
        Assert.AreEqual(2, resumed.Skipped);
        Assert.AreEqual(2, resumed.Ran);
        var lines = File.ReadAllLines(Path.Combine(o.OutputFolder, StudyResultStore.JsonLinesFileName));
        Assert.AreEqual(4, lines.Length);
        Assert.AreEqual(Table(Single.Value.Results), Table(resumed.Results));
        Assert.AreEqual(StudySummary.ToMarkdown(Single.Value.Results), StudySummary.ToMarkdown(resumed.Results));

        var again = new StudyRunner(o).Run();                              // nothing left to do
        Assert.AreEqual(0, again.Ran);
        Assert.AreEqual(4, again.Skipped);
        Assert.AreEqual(4, File.ReadAllLines(Path.Combine(o.OutputFolder, StudyResultStore.JsonLinesFileName)).Length);
    }

    [TestMethod]
    public void TwoShards_PlusMerge_EqualSingleRun()
    {
        var s0 = new StudyRunner(Options("sharded", new StudyShard(0, 2))).Run();
        var s1 = new StudyRunner(Options("sharded", new StudyShard(1, 2))).Run();
        Assert.AreEqual(2, s0.Ran);
        Assert.AreEqual(2, s1.Ran);
        // The k-th selected condition (grid indices 0, 3, 8, 16) runs on shard k mod 2: balanced whatever the filter.
        CollectionAssert.AreEqual(new[] { 0, 8 }, s0.Results.Select(r => r.Index).ToArray());
        CollectionAssert.AreEqual(new[] { 3, 16 }, s1.Results.Select(r => r.Index).ToArray());

        string root = Options("sharded").OutputFolder;
        var shards = StudyResultStore.FindShardFolders(root);
        Assert.AreEqual(2, shards.Count);
        var merged = StudyResultStore.Merge(shards, Path.Combine(root, "merged"));
        Assert.AreEqual(Table(Single.Value.Results), Table(merged.Results));
        Assert.AreEqual(StudySummary.ToMarkdown(Single.Value.Results), StudySummary.ToMarkdown(merged.Results));
        Assert.AreEqual(Table(Single.Value.Results), Table(StudyResultStore.Read(Path.Combine(root, "merged", StudyResultStore.JsonLinesFileName))));

        // Merging twice (or a shard given twice) never duplicates.
        var twice = StudyResultStore.Merge(shards.Concat(shards), Path.Combine(root, "merged"));
        Assert.AreEqual(4, twice.Results.Count);
    }

    [TestMethod]
    public void ResultsFolder_RefusesARunWithOtherSettings_AndMergeRefusesMixedShards()
    {
        var o = Options("settings") with { ConditionFilter = ["clean"] };
        new StudyRunner(o).Run();
        var stored = StudyResultStore.ReadSettings(o.OutputFolder);
        Assert.IsNotNull(stored);
        Assert.AreEqual("6", stored["Steps"]);
        CollectionAssert.AreEquivalent(o.ResultSettings().ToList(), stored.ToList());

        // Resuming into the same folder with a different budget would mix 6-step and 7-step results in one table.
        var e = Assert.ThrowsExactly<ArgumentException>(() => new StudyRunner(o with { Steps = 7 }).Run());
        Assert.AreEqual("OutputFolder", e.ParamName);
        StringAssert.Contains(e.Message, "Steps = 6 there, 7 now");
        StringAssert.Contains(e.Message, StudyResultStore.SettingsFileName);
        Assert.AreEqual(1, StudyResultStore.Read(Path.Combine(o.OutputFolder, StudyResultStore.JsonLinesFileName)).Count, "nothing written");
        // Options that select conditions or resources do not count.
        Assert.AreEqual(0, new StudyRunner(o with { Threads = 2 }).Run().Ran);

        var other = o with { OutputFolder = Path.Combine(Root, "settings-other"), OnlineNoise = true };
        new StudyRunner(other).Run();
        var m = Assert.ThrowsExactly<ArgumentException>(() => StudyResultStore.Merge([o.OutputFolder, other.OutputFolder], Path.Combine(Root, "settings-merged")));
        StringAssert.Contains(m.Message, "OnlineNoise = false in");
    }

    [TestMethod]
    public void OnlineNoise_AndCrops_RunThroughThePipeline()
    {
        var o = Options("online") with { ConditionFilter = ["sampling(0.1)"], OnlineNoise = true };
        o = o with { Datasets = [new StudyDatasetOptions { Name = "nuclei", Path = Dataset.Value, Folder = SegmentationFolderOptions.BinaryMasks(255), CropHeight = 24, CropWidth = 16 }] };
        var online = new StudyRunner(o).Run();
        var r = online.Results.Single();
        var fixedDraw = Single.Value.Results.Single(x => x.Condition == "sampling(0.1)");
        // Statistics describe the first draw (epoch 0), which is the fixed draw ...
        Assert.AreEqual(fixedDraw.StructureCorrelation, r.StructureCorrelation, 1e-12);
        Assert.AreEqual(fixedDraw.NoiseMatrix[1][1], r.NoiseMatrix[1][1], 1e-12);
        // ... while training saw other labels and crops, so the model differs.
        Assert.AreNotEqual(fixedDraw.Budget[^1].Score, r.Budget[^1].Score);
        Assert.IsTrue(r.LabelFree.Score is >= 0 and <= 1);
    }

    [TestMethod]
    public void Store_RejectsDuplicates_AndTornFilesAreReported()
    {
        string folder = Path.Combine(Root, "store");
        var store = new StudyResultStore(folder);
        var r = new StudyResult { Index = 1, Key = "k|clean|seed=0", Dataset = "k", Family = "CL", Condition = "clean" };
        Assert.IsTrue(store.Add(r));
        Assert.IsFalse(store.Add(r with { WallSeconds = 9 }));
        Assert.AreEqual(1, new StudyResultStore(folder).Results.Count);
        Assert.ThrowsExactly<InvalidOperationException>(() => store.Add(r with { Key = "other" }));   // same index, other key: grids differ
        File.AppendAllText(store.JsonLinesPath, "{\"Index\": 2, \"Key\"");
        Assert.ThrowsExactly<InvalidDataException>(() => new StudyResultStore(folder));
    }

    private sealed class Inline(Action<StudyProgress> action) : IProgress<StudyProgress>
    {
        public void Report(StudyProgress value) => action(value);
    }
}
