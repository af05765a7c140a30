using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Noise;
using MLNet.NoisySeg.Study;
using MLNet.NoisySeg.Tests.TestSupport;

namespace MLNet.NoisySeg.Tests.Study;

[TestClass]
public class StudyOptionsTests
{
    private static StudyDatasetOptions Binary(string name = "a") => new() { Name = name, Path = "/nonexistent/" + name, Folder = SegmentationFolderOptions.BinaryMasks(255) };

    private static StudyOptions Valid() => new() { Datasets = [Binary()], OutputFolder = "out" };

    [TestMethod]
    public void Valid_Options_Pass_WithoutFolderCheck() => Valid().Validate(checkFolders: false);

    [TestMethod]
    [DataRow("Steps")]
    [DataRow("Seeds")]
    [DataRow("ValidationFraction")]
    [DataRow("BatchSize")]
    [DataRow("Depth")]
    [DataRow("BudgetEvery")]
    [DataRow("OutputFolder")]
    [DataRow("Datasets")]
    [DataRow("Threads")]
    [DataRow("Schedule")]
    public void BadOption_IsNamed(string option)
    {
        var o = option switch
        {
            "Steps" => Valid() with { Steps = 0 },
            "Seeds" => Valid() with { Seeds = [1, 1] },
            "ValidationFraction" => Valid() with { ValidationFraction = 1.0 },
            "BatchSize" => Valid() with { BatchSize = 0 },
            "Depth" => Valid() with { Depth = 9 },
            "BudgetEvery" => Valid() with { BudgetEvery = -1 },
            "OutputFolder" => Valid() with { OutputFolder = " " },
            "Datasets" => Valid() with { Datasets = [] },
            "Schedule" => Valid() with { Schedule = MLNet.NoisySeg.Training.LearningRateSchedule.Step },
            _ => Valid() with { Threads = 0 },
        };
        var e = Assert.Throws<ArgumentException>(() => o.Validate(checkFolders: false));
        Assert.AreEqual(option, e.ParamName);
        StringAssert.Contains(e.Message, option);
    }

    [TestMethod]
    public void DatasetErrors_NameTheDatasetOption()
    {
        var missing = Valid();
        var e = Assert.ThrowsExactly<ArgumentException>(() => missing.Validate(checkFolders: true));
        Assert.AreEqual("Datasets[0].Path", e.ParamName);
        StringAssert.Contains(e.Message, "/nonexistent/a/train");

        var onlyWidth = Valid() with { Datasets = [new StudyDatasetOptions { Name = "x", Path = "p", Folder = SegmentationFolderOptions.BinaryMasks() with { Width = 64 } }] };
        Assert.AreEqual("Datasets[0].Folder.Height", Assert.Throws<ArgumentException>(() => onlyWidth.Validate(false)).ParamName);

        var badClasses = Valid() with { Datasets = [new StudyDatasetOptions { Name = "x", Path = "p", Folder = new SegmentationFolderOptions { MaskEncoding = MaskEncoding.Binary, ClassCount = 3 } }] };
        Assert.AreEqual("Datasets[0].Folder.ClassCount", Assert.Throws<ArgumentException>(() => badClasses.Validate(false)).ParamName);

        var ignore = Valid() with { Datasets = [new StudyDatasetOptions { Name = "x", Path = "p", Folder = SegmentationFolderOptions.ClassIndexMasks(11, ignoreValue: 3) }] };
        Assert.AreEqual("Datasets[0].Folder.IgnoreValue", Assert.Throws<ArgumentException>(() => ignore.Validate(false)).ParamName);

        var twice = Valid() with { Datasets = [Binary("d"), Binary("d")] };
        Assert.AreEqual("Datasets[1].Name", Assert.ThrowsExactly<ArgumentException>(() => twice.Validate(false)).ParamName);

        var badName = Valid() with { Datasets = [Binary("a b")] };
        Assert.AreEqual("Datasets[0].Name", Assert.ThrowsExactly<ArgumentException>(() => badName.Validate(false)).ParamName);

        var cropAlone = Valid() with { Datasets = [new StudyDatasetOptions { Name = "x", Path = "p", CropHeight = 64 }] };
        Assert.AreEqual("Datasets[0].CropWidth", Assert.Throws<ArgumentException>(() => cropAlone.Validate(false)).ParamName);

        var cropTooBig = Valid() with { Datasets = [new StudyDatasetOptions { Name = "x", Path = "p", Folder = SegmentationFolderOptions.BinaryMasks() with { Width = 64, Height = 64 }, CropHeight = 128, CropWidth = 64 }] };
        var big = Assert.Throws<ArgumentException>(() => cropTooBig.Validate(false));
        Assert.AreEqual("Datasets[0].CropHeight", big.ParamName);
        StringAssert.Contains(big.Message, "larger than the images");

        var cropTiny = Valid() with { Datasets = [new StudyDatasetOptions { Name = "x", Path = "p", CropHeight = 4, CropWidth = 4 }] };
        Assert.AreEqual("Datasets[0].CropHeight", Assert.Throws<ArgumentException>(() => cropTiny.Validate(false)).ParamName);
    }

    [TestMethod]
    public void ResultSettings_ChangeWithWhatResultsMean_NotWithResources()
    {
        var a = Valid();
        CollectionAssert.AreEquivalent(a.ResultSettings().ToList(), (a with { Threads = 1, Seeds = [4], Shard = new StudyShard(1, 3), OutputFolder = "x" }).ResultSettings().ToList());
        Assert.AreEqual("160", a.ResultSettings()["Steps"]); // the quick profile
        Assert.AreNotEqual(a.ResultSettings()["Steps"], (a with { Steps = 301 }).ResultSettings()["Steps"]);
        Assert.AreEqual("true", (a with { OnlineNoise = true }).ResultSettings()["OnlineNoise"]);
        Assert.AreEqual("Cosine", (a with { Schedule = MLNet.NoisySeg.Training.LearningRateSchedule.Cosine }).ResultSettings()["Schedule"]);
        var cropped = a with { Datasets = [new StudyDatasetOptions { Name = "a", Path = "/elsewhere", Folder = SegmentationFolderOptions.BinaryMasks(255), CropHeight = 32, CropWidth = 16 }] };
        Assert.AreEqual("16", cropped.ResultSettings()["Datasets[a].CropWidth"]);
        Assert.AreEqual("32", cropped.ResultSettings()["Datasets[a].CropHeight"]);
        Assert.AreEqual("a (stored size, 2 classes, random 16x32 crops)", cropped.Datasets[0].Describe());
    }

    [TestMethod]
    public void EveryOption_IsEitherAResultSettingOrARunSetting()
    {
        foreach (var type in new[] { typeof(StudyOptions), typeof(StudyDatasetOptions) })
            foreach (var p in type.GetProperties().Where(p => p.CanWrite))
            {
                bool result = p.IsDefined(typeof(ResultSettingAttribute), false), run = p.IsDefined(typeof(RunSettingAttribute), false);
                Assert.IsTrue(result ^ run, $"{type.Name}.{p.Name} must be marked [ResultSetting] (changes what a result means) or [RunSetting] (does not)");
            }
    }

    [TestMethod]
    public void ResultSettings_HaveOneKeyPerDatasetOption_AndReadOlderSettingsFiles()
    {
        var o = Valid() with { Datasets = [new StudyDatasetOptions { Name = "isbi", Path = "p", Folder = SegmentationFolderOptions.BinaryMasks(0) with { Width = 256, Height = 256 }, CropHeight = 128, CropWidth = 128 }] };
        var settings = o.ResultSettings();
        Assert.AreEqual("Binary", settings["Datasets[isbi].MaskEncoding"]);
        Assert.AreEqual("0", settings["Datasets[isbi].ForegroundValue"]);
        Assert.AreEqual("none", settings["Datasets[isbi].IgnoreValue"]);
        Assert.AreEqual("256", settings["Datasets[isbi].Width"]);

        // settings.json as written before issue 11: one entry per data set.
        using var tmp = TestPaths.NewTemp();
        var old = settings.Where(kv => !kv.Key.StartsWith("Datasets[", StringComparison.Ordinal)).ToDictionary();
        old["Datasets[isbi]"] = "TrainSplit=train; TestSplit=test; MaskEncoding=Binary; ForegroundValue=0; ClassCount=2; IgnoreValue=none; BackgroundClass=0; Width=256; Height=256; CropWidth=128; CropHeight=128";
        File.WriteAllText(Path.Combine(tmp.Path, StudyResultStore.SettingsFileName), System.Text.Json.JsonSerializer.Serialize(old));
        CollectionAssert.AreEquivalent(settings.ToList(), StudyResultStore.ReadSettings(tmp.Path)!.ToList());
        new StudyResultStore(tmp.Path).EnsureSettings(settings); // the same settings: accepted
    }

    [TestMethod]
    [DataRow("2/2")]
    [DataRow("1")]
    [DataRow("-1/2")]
    [DataRow("a/b")]
    [DataRow("0/0")]
    public void Shard_Parse_RejectsBadText_NamingShard(string text)
    {
        var e = Assert.ThrowsExactly<ArgumentException>(() => StudyShard.Parse(text));
        Assert.AreEqual("Shard", e.ParamName);
        StringAssert.Contains(e.Message, "i/n");
    }

    [TestMethod]
    public void Grid_MatchesIssue_AndShardsPartitionIt()
    {
        Assert.AreEqual(18, StudyGrid.Binary().Count);
        Assert.AreEqual(8, StudyGrid.Multiclass(11).Count);
        CollectionAssert.AreEqual(
            new[] { "clean", "sampling(0.5)", "sampling(0.3)", "sampling(0.1)", "sampling(0.05)", "flip(0.2,0.2)", "flip(0.45,0.45)", "flip(0.9,0.9)",
                    "dilate(1)", "dilate(2)", "dilate(3)", "erode(1)", "erode(2)", "skeleton", "boundaryflip(2,0.5)", "random(0.1)", "random(0.3)", "random(0.5)" },
            StudyGrid.Binary().Select(c => c.Noise.ToString()).ToArray());
        Assert.AreEqual(4, StudyGrid.Multiclass(11).Count(c => c.Family == StudyFamily.RCL));

        var o = new StudyOptions
        {
            Datasets = [Binary("b"), new StudyDatasetOptions { Name = "m", Path = "p", Folder = SegmentationFolderOptions.ClassIndexMasks(4) }],
            Seeds = [3, 4],
        };
        var all = StudyGrid.Build(o);
        Assert.AreEqual(2 * 18 + 2 * 8, all.Count);
        CollectionAssert.AreEqual(Enumerable.Range(0, all.Count).ToArray(), all.Select(c => c.Index).ToArray());
        Assert.AreEqual(all.Count, all.Select(c => c.Key).Distinct().Count());
        Assert.AreEqual("b|sampling(0.1)|seed=3", all[3].Key);

        var shards = Enumerable.Range(0, 3).Select(i => StudyGrid.ForShard(o with { Shard = new StudyShard(i, 3) })).ToList();
        CollectionAssert.AreEquivalent(all.Select(c => c.Key).ToList(), shards.SelectMany(s => s.Select(c => c.Key)).ToList());
        Assert.IsTrue(shards[1].All(c => c.Index % 3 == 1));   // unfiltered: position = grid index

        var filtered = StudyGrid.Build(o with { ConditionFilter = ["dilate("] });
        Assert.AreEqual(2 * (3 + 1), filtered.Count); // dilate(1..3) and classdilate(2), per seed
        Assert.AreEqual(8, filtered[0].Index); // indices survive filtering

        // Shards split the FILTERED grid evenly, even when every selected index has the same parity.
        var evenOnly = o with { ConditionFilter = ["clean", "flip(0.45"] };   // grid indices 0, 6, 18, 24, ... all even
        Assert.IsTrue(StudyGrid.Build(evenOnly).All(c => c.Index % 2 == 0));
        var halves = Enumerable.Range(0, 2).Select(i => StudyGrid.ForShard(evenOnly with { Shard = new StudyShard(i, 2) })).ToList();
        Assert.AreEqual(halves[0].Count, halves[1].Count);
        CollectionAssert.AreEquivalent(StudyGrid.Build(evenOnly).ToList(), halves.SelectMany(h => h).ToList());
    }

    [TestMethod]
    public void Parameter_IsTheRateOrRadius()
    {
        Assert.AreEqual(0.1, StudyGrid.Parameter(LabelNoiseSpec.Sampling(0.1)));
        Assert.AreEqual(0.45, StudyGrid.Parameter(LabelNoiseSpec.Flipping(0.45, 0.45)));
        Assert.AreEqual(2.0, StudyGrid.Parameter(LabelNoiseSpec.Dilation(2)));
        Assert.IsTrue(double.IsNaN(StudyGrid.Parameter(LabelNoiseSpec.Skeleton())));
    }

    [TestMethod]
    public void DisplayName_ShortensUniformPriors()
    {
        var uniform = LabelNoiseSpec.RandomPrior(Enumerable.Repeat(1.0 / 11, 11).ToArray()).ToString();
        Assert.AreEqual("randomprior(uniform, 11 classes)", StudySummary.DisplayName(uniform));
        Assert.AreEqual("sampling(0.1)", StudySummary.DisplayName("sampling(0.1)"));
        Assert.AreEqual(48, StudySummary.DisplayName(new string('x', 60)).Length);
        var c = StudyGrid.Build(new StudyOptions { Datasets = [new StudyDatasetOptions { Name = "m", Path = "p", Folder = SegmentationFolderOptions.ClassIndexMasks(11) }] })[7];
        Assert.IsTrue(c.FileStem.Length <= 69 && c.FileStem.StartsWith("0007_m_randomprior"), c.FileStem); // short enough for any file system
    }

    [TestMethod]
    public void MeanStd_And_Ranking_AreComputed()
    {
        var ms = MeanStd.Of([0.5, 0.7, double.NaN]);
        Assert.AreEqual(0.6, ms.Mean, 1e-12);
        Assert.AreEqual(Math.Sqrt(0.02), ms.Std, 1e-12);
        Assert.AreEqual("0.600 ± 0.141", ms.ToString());

        StudyResult R(int i, string fam, string cond, double s) => new()
        {
            Index = i, Key = $"d|{cond}|seed=0", Dataset = "d", Family = fam, Condition = cond, ClassCount = 2,
            Paper = new StudyScores { Score = s }, LabelFree = new StudyScores { Score = s - 0.1 }, Fixed = new StudyScores { Score = 0.2 },
        };
        var results = new[] { R(0, "CL", "clean", 0.8), R(1, "RCL", "sampling(0.1)", 0.78), R(2, "PCL", "dilate(2)", 0.6), R(3, "RL", "random(0.3)", 0.3) };
        var paper = StudySummary.Rankings(results).Single(r => r.Decoding == "paper");
        Assert.IsTrue(paper.Holds);
        var fixedRank = StudySummary.Rankings(results).Single(r => r.Decoding == "fixed");
        Assert.IsFalse(fixedRank.Holds); // all 0.2: RCL is not above PCL
        StringAssert.Contains(fixedRank.Statement(), "does not hold");
        var md = StudySummary.ToMarkdown(results);
        StringAssert.Contains(md, "| RCL | `sampling(0.1)` | 0.780 | 0.680 | 0.200 | -0.100 |");
        StringAssert.Contains(md, "- d, paper: **holds**");
    }

    [TestMethod]
    public void Gaps_ArePerSeedDifferences_WithTheWorstRclConditionPerDataset()
    {
        StudyResult R(int i, string fam, string cond, int seed, double paper, double labelFree, double fix, params (int Step, double Lf, double Paper)[] budget) => new()
        {
            Index = i, Key = $"d|{cond}|seed={seed}", Dataset = "d", Family = fam, Condition = cond, Seed = seed, ClassCount = 11,
            Paper = new StudyScores { Score = paper }, LabelFree = new StudyScores { Score = labelFree }, Fixed = new StudyScores { Score = fix },
            Budget = budget.Select(b => new StudyBudgetPoint(b.Step, b.Lf) { Paper = b.Paper }).ToArray(),
        };
        var results = new[]
        {
            R(0, "CL", "clean", 0, 0.30, 0.30, 0.30, (40, 0.20, 0.20), (80, 0.30, 0.30)),
            R(1, "RCL", "symflip(0.9)", 0, 0.14, 0.14, 0.14, (40, 0.10, 0.12), (80, 0.14, 0.14)),
            R(1, "RCL", "symflip(0.9)", 1, 0.16, 0.15, 0.16, (40, 0.11, 0.12), (80, 0.15, 0.16)),
            R(2, "RCL", "classsample(0.1)", 0, 0.05, 0.02, 0.01),
            R(3, "PCL", "classdilate(2)", 0, 0.20, 0.17, 0.20),
        };
        var rows = StudySummary.Rows(results);
        var flip = rows.Single(r => r.Condition == "symflip(0.9)");
        Assert.AreEqual(-0.005, flip.GapToPaper.Mean, 1e-12);                 // (0 + -0.01) / 2
        Assert.AreEqual(2, flip.GapToPaper.Count);
        Assert.AreEqual(-0.005, flip.GapToFixed.Mean, 1e-12);

        var gap = StudySummary.Gaps(results).Single();
        Assert.AreEqual("classsample(0.1)", gap.WorstRclCondition);
        Assert.AreEqual(-0.03, gap.WorstRclGap, 1e-12);
        Assert.AreEqual(1, gap.RclWithin);                                    // symflip within 0.01, classsample not
        Assert.AreEqual(2, gap.RclCount);
        Assert.AreEqual("classdilate(2)", gap.WorstFixedCondition);           // over all families
        Assert.AreEqual(-0.03, gap.WorstFixedGap, 1e-12);

        var curves = StudySummary.BudgetGaps(results);
        CollectionAssert.AreEqual(new[] { "clean", "symflip(0.9)" }, curves.Select(c => c.Condition).ToArray()); // only curves with a paper score
        var flipCurve = curves[1].Points;
        CollectionAssert.AreEqual(new[] { 40, 80 }, flipCurve.Select(p => p.Step).ToArray());
        Assert.AreEqual(-0.015, flipCurve[0].Gap.Mean, 1e-12);                // (-0.02 + -0.01) / 2

        var md = StudySummary.ToMarkdown(results);
        StringAssert.Contains(md, "| RCL | `symflip(0.9)` | 0.150 ± 0.014 | 0.145 ± 0.007 | 0.150 ± 0.014 | -0.005 ± 0.007 |");
        StringAssert.Contains(md, "- d: worst RCL gap label-free − paper protocol **-0.030** (`classsample(0.1)`); 1 of 2 RCL condition(s) within 0.01");
        StringAssert.Contains(md, "worst label-free − fixed over all conditions -0.030 (`classdilate(2)`)");
        StringAssert.Contains(md, "| condition | 40 | 80 |");
        StringAssert.Contains(md, "| `symflip(0.9)` | -0.015 | -0.005 |");
        StringAssert.Contains(md, "| `clean` | 0.000 | 0.000 |");
    }

    [TestMethod]
    public void BudgetPoints_WithoutPaperScore_ReadBackAsNaN()
    {
        // results.jsonl written before budget points carried the paper-protocol score
        const string line = "{\"Index\":0,\"Key\":\"d|clean|seed=0\",\"Dataset\":\"d\",\"Family\":\"CL\",\"Condition\":\"clean\",\"Budget\":[{\"Step\":40,\"Score\":0.5}]}";
        var r = System.Text.Json.JsonSerializer.Deserialize<StudyResult>(line, StudyResultStore.JsonOptions)!;
        Assert.AreEqual(0.5, r.Budget[0].Score);
        Assert.IsTrue(double.IsNaN(r.Budget[0].Paper));
        Assert.IsTrue(double.IsNaN(r.Budget[0].Fixed));
        Assert.AreEqual(0, StudySummary.BudgetGaps([r]).Count);
    }
}
