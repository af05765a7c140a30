using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Text.RegularExpressions;
using MLNet.NoisySeg.Data.Synthetic;
using MLNet.NoisySeg.Tests.TestSupport;

namespace MLNet.NoisySeg.Tests.Samples;

/// <summary>
/// The study runner app as a user runs it (a separate process): help on every verb, --version, bad options give exit code 2
/// and one line naming the option; train → evaluate → predict works on a folder of images and masks, with patch training
/// and online noise; the model zip remembers how its masks were encoded; predict writes masks at the images' own size.
/// </summary>
[TestClass]
public sealed class StudyAppTests
{
    private static readonly Lazy<string> Data = new(() =>
    {
        var o = new SyntheticFluorescenceOptions { Kind = SyntheticFluorescenceKind.Nuclei, Width = 32, Height = 32, NucleusRadiusMin = 3, NucleusRadiusMax = 6 };
        string path = Path.Combine(Path.GetTempPath(), "noisyseg-app-tests-" + Guid.NewGuid().ToString("N")[..8]);
        SyntheticDataSets.WriteSplit(SyntheticData.FluorescenceBatch(o, 21, 6), Path.Combine(path, "train"), binary: true);
        SyntheticDataSets.WriteSplit(SyntheticData.FluorescenceBatch(o, 21, 3, firstIndex: 50), Path.Combine(path, "test"), binary: true);
        return path;
    });

    [ClassCleanup]
    public static void Cleanup()
    {
        if (!Data.IsValueCreated) return;
        try { Directory.Delete(Data.Value, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private static (int Code, string Output) RunApp(params string[] args) => RunApp(new Dictionary<string, string>(), args);

    private static (int Code, string Output) RunApp(Dictionary<string, string> environment, params string[] args)
    {
        string config = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name; // bin/<Config>/net10.0
        string app = Path.Combine(TestPaths.RepoRoot, "src", "Samples", "NoisySeg.Study", "bin", config, "net10.0", "NoisySeg.Study.dll");
        Assert.IsTrue(File.Exists(app), "study app not built: " + app);
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(app);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["NOISYSEG_THREADS"] = "1";
        foreach (var (name, value) in environment) psi.Environment[name] = value;
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        Assert.IsTrue(p.WaitForExit(300_000), "the app timed out");
        return (p.ExitCode, stdout + stderr.Result);
    }

    [TestMethod]
    [DataRow("--steps must be at least 1", "run", "--steps", "0")]
    [DataRow("--steps must be at least 1; got -5", "train", "--steps", "-5")]
    [DataRow("--learning-rate must be a number greater than 0; got '-1'", "train", "--learning-rate", "-1")]
    [DataRow("--foreground must be at most 255", "evaluate", "--foreground", "300")]
    [DataRow("--depth must be an integer; got 'deep'", "train", "--depth", "deep")]
    [DataRow("--crop must be N or WxH", "run", "--crop", "12x")]
    [DataRow("CropHeight", "run", "--crop", "4")]
    [DataRow("larger than the images", "run", "--crop", "200")]
    [DataRow("--profile must be quick or paper; got 'huge'", "run", "--profile", "huge")]
    [DataRow("--schedule must be none or cosine; got 'linear'", "run", "--schedule", "linear")]
    [DataRow("--noise:", "train", "--noise", "sampling(7)")]
    [DataRow("unknown option '--bogus' for 'run'", "run", "--bogus", "1")]
    [DataRow("unknown option '--images' for 'train'", "train", "--images", "x")]
    [DataRow("unknown option '--bogus'", "--bogus")]
    [DataRow("unexpected argument 'stray' for 'evaluate'", "evaluate", "stray")]
    [DataRow("unknown verb 'fly'", "fly")]
    [DataRow("unknown verb 'fly'", "help", "fly")]
    [DataRow("--model is required", "train", "--data", "/nonexistent")]
    [DataRow("/nonexistent", "train", "--data", "/nonexistent", "--model", "/tmp/never.zip")]
    [DataRow("/nonexistent", "predict", "--images", "/nonexistent", "--model", "/tmp/never.zip")]
    public void BadOptions_ExitWith2_AndNameTheOption(string expected, params string[] args)
    {
        var (code, output) = RunApp(args);
        Assert.AreEqual(2, code, output);
        StringAssert.Contains(output, expected);
        Assert.IsFalse(output.Contains("   at ", StringComparison.Ordinal), "no stack trace: " + output);
        Assert.IsFalse(output.Contains("Options:", StringComparison.Ordinal), "an error is one line and a hint, not the help: " + output);
    }

    [TestMethod]
    [DataRow("train", "--help")]
    [DataRow("train", "-h")]
    [DataRow("help", "train")]
    public void VerbHelp_ListsOnlyThatVerbsOptions_WithDefaults_AndExitCodes(params string[] args)
    {
        var (code, output) = RunApp(args);
        Assert.AreEqual(0, code, output);
        foreach (var expected in new[] { "noisyseg train [options]", "--model <file.zip>", "--steps <N>", "[default: 160 (quick), 3000 (paper)]",
                     "--learning-rate", "--noise <spec>", "[default: clean]", "Examples:", "Exit codes: 0 ok" })
            StringAssert.Contains(output, expected);
        foreach (var other in new[] { "--shard", "--inputs", "--images", "--filter", "--parallel", "unknown" })
            Assert.IsFalse(output.Contains(other, StringComparison.Ordinal), $"train's help lists {other}: {output}");
    }

    [TestMethod]
    public void EveryVerb_HasHelp_AndTheRootHelpListsTheVerbs()
    {
        foreach (var verb in new[] { "run", "merge", "train", "evaluate", "predict", "unsupervised" })
        {
            var (code, output) = RunApp(verb, "--help");
            Assert.AreEqual(0, code, output);
            StringAssert.Contains(output, $"noisyseg {verb} [options]");
        }
        foreach (var args in new[] { new[] { "--help" }, ["-h"], ["help"] })
        {
            var (code, output) = RunApp(args);
            Assert.AreEqual(0, code, output);
            foreach (var verb in new[] { "run", "merge", "train", "evaluate", "predict", "unsupervised" })
                StringAssert.Contains(output, $"  {verb} ");
            StringAssert.Contains(output, "Exit codes: 0 ok; 1 unexpected failure; 2 bad option");
            Assert.IsFalse(output.Contains("--steps", StringComparison.Ordinal), output);
        }
        var (versionCode, version) = RunApp("--version");
        Assert.AreEqual(0, versionCode, version);
        StringAssert.Matches(version.Trim(), new Regex(@"^\d+\.\d+\.\d+"));
    }

    [TestMethod]
    public void Settings_CommandLineWinsOverEnvironment()
    {
        var env = new Dictionary<string, string> { ["NOISYSEG_SCHEDULE"] = "linear" };
        var (code, output) = RunApp(env, "train", "--data", "/nonexistent-split", "--model", "/tmp/never.zip");
        Assert.AreEqual(2, code, output);
        StringAssert.Contains(output, "Schedule must be none or cosine"); // from the environment
        (code, output) = RunApp(env, "train", "--data", "/nonexistent-split", "--model", "/tmp/never.zip", "--schedule", "cosine");
        Assert.AreEqual(2, code, output);
        StringAssert.Contains(output, "/nonexistent-split"); // the command line's schedule won; the missing folder is next
        Assert.IsFalse(output.Contains("Schedule", StringComparison.Ordinal), output);
    }

    [TestMethod]
    public void Train_WithADivergingLearningRate_ExitsWith3_AndSaysWhy_WithoutWritingAModel()
    {
        using var temp = TestPaths.NewTemp();
        string model = Path.Combine(temp.Path, "model.zip");
        var (code, output) = RunApp([.. $"train --data {Data.Value}/train --mask-encoding binary --foreground 255 --steps 20 --depth 2 --base-width 4 --learning-rate 1e12 --model {model}".Split(' ')]);
        Assert.AreEqual(3, code, output);
        StringAssert.Contains(output, "Training diverged at step");
        StringAssert.Contains(output, "learning rate");
        Assert.IsFalse(output.Contains("   at ", StringComparison.Ordinal), "one line, no stack trace: " + output);
        Assert.IsFalse(File.Exists(model));
    }

    [TestMethod]
    public void Train_Evaluate_Predict_WorkOnAFolder()
    {
        using var temp = TestPaths.NewTemp();
        string model = Path.Combine(temp.Path, "model.zip");
        string common = "--mask-encoding binary --foreground 255";
        var (code, output) = RunApp([.. $"train --data {Data.Value}/train --test {Data.Value}/test {common} --noise sampling(0.5) --online true --crop 24 --schedule cosine --steps 8 --depth 2 --base-width 4 --model {model}".Split(' ')]);
        Assert.AreEqual(0, code, output);
        Assert.IsTrue(File.Exists(model), output);
        StringAssert.Contains(output, "Dice ");

        (code, output) = RunApp([.. $"evaluate --model {model} --data {Data.Value}/test {common}".Split(' ')]);
        Assert.AreEqual(0, code, output);
        StringAssert.Matches(output, new System.Text.RegularExpressions.Regex(@"Dice \d\.\d{4}  IoU \d\.\d{4}"));

        string predictions = Path.Combine(temp.Path, "pred");
        (code, output) = RunApp("predict", "--model", model, "--images", Path.Combine(Data.Value, "test"), "--out", predictions);
        Assert.AreEqual(0, code, output);
        Assert.AreEqual(3, Directory.GetFiles(predictions, "*.mask.png").Length, output);
        Assert.AreEqual(3, Directory.GetFiles(predictions, "*.overlay.png").Length, output);

        (code, output) = RunApp("evaluate", "--model", Path.Combine(temp.Path, "missing.zip"), "--data", Path.Combine(Data.Value, "test"));
        Assert.AreEqual(2, code, output);
        StringAssert.Contains(output, "missing.zip");

        // The zip remembers the masks' encoding: a contradicting option is refused, naming it.
        (code, output) = RunApp("evaluate", "--model", model, "--data", Path.Combine(Data.Value, "test"), "--foreground", "0");
        Assert.AreEqual(2, code, output);
        StringAssert.Contains(output, "--foreground 0 contradicts the model, which was trained on binary masks, foreground 255");

        // A truncated and a foreign zip: one line, exit 2, no stack trace.
        string truncated = Path.Combine(temp.Path, "truncated.zip");
        var bytes = File.ReadAllBytes(model);
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        string foreign = Path.Combine(temp.Path, "foreign.zip");
        using (var zip = ZipFile.Open(foreign, ZipArchiveMode.Create))
        using (var w = new StreamWriter(zip.CreateEntry("hello.txt").Open())) w.Write("not a model");
        foreach (var bad in new[] { truncated, foreign })
        {
            (code, output) = RunApp("evaluate", "--model", bad, "--data", Path.Combine(Data.Value, "test"));
            Assert.AreEqual(2, code, output);
            StringAssert.Contains(output, $"--model: '{bad}' is not a readable NoisySeg model zip");
            Assert.IsFalse(output.Contains("   at ", StringComparison.Ordinal), output);
        }
    }

    [TestMethod]
    public void Evaluate_UsesTheEncodingTheModelWasTrainedWith_AndPredict_WritesMasksAtTheImagesSize()
    {
        // ISBI 2012 marks membranes (the foreground) with 0: evaluate without --foreground used to score the inverted masks.
        using var temp = TestPaths.NewTemp();
        string model = Path.Combine(temp.Path, "isbi.zip");
        var (code, trained) = RunApp("train", "--data", Path.Combine(TestPaths.Isbi, "train"), "--test", Path.Combine(TestPaths.Isbi, "test"),
            "--foreground", "0", "--width", "32", "--height", "32", "--steps", "6", "--depth", "2", "--base-width", "4", "--model", model);
        Assert.AreEqual(0, code, trained);
        using (var zip = ZipFile.OpenRead(model))
        {
            using var record = new StreamReader(zip.GetEntry("NoisySeg.Study/training.json")!.Open());
            StringAssert.Contains(record.ReadToEnd(), "\"ForegroundValue\": 0");
        }
        var (evalCode, evaluated) = RunApp("evaluate", "--model", model, "--data", Path.Combine(TestPaths.Isbi, "test"));
        Assert.AreEqual(0, evalCode, evaluated);
        string Metrics(string text) => Regex.Match(text, @"Dice \d\.\d{4}.*AUC \d\.\d{4}").Value;
        Assert.AreNotEqual("", Metrics(trained), trained);
        Assert.AreEqual(Metrics(trained), Metrics(evaluated), "evaluate must score as train did:\n" + evaluated);

        // Trained on 32x32 resized images, predicting 512x512 images: masks and overlays are 512x512, in the training encoding.
        string predictions = Path.Combine(temp.Path, "pred");
        (code, var predicted) = RunApp("predict", "--model", model, "--images", Path.Combine(TestPaths.Isbi, "test", "images"), "--out", predictions);
        Assert.AreEqual(0, code, predicted);
        var masks = Directory.GetFiles(predictions, "*.mask.png");
        Assert.AreEqual(10, masks.Length, predicted);
        foreach (var png in masks.Concat(Directory.GetFiles(predictions, "*.overlay.png")))
            Assert.AreEqual((512, 512), PngSize(png), png);

        // A zip without the record (another program's, or an older app's) still works, with the options as given.
        string bare = Path.Combine(temp.Path, "bare.zip");
        File.Copy(model, bare);
        using (var zip = ZipFile.Open(bare, ZipArchiveMode.Update)) zip.GetEntry("NoisySeg.Study/training.json")!.Delete();
        (code, evaluated) = RunApp("evaluate", "--model", bare, "--data", Path.Combine(TestPaths.Isbi, "test"), "--foreground", "0");
        Assert.AreEqual(0, code, evaluated);
        StringAssert.Contains(evaluated, "does not record how it was trained");
        Assert.AreEqual(Metrics(trained), Metrics(evaluated));
    }

    [TestMethod]
    public void Predict_WithAModelTrainedAtTheStoredSize_PredictsWholeImagesOfAnySize()
    {
        using var temp = TestPaths.NewTemp();
        string model = Path.Combine(temp.Path, "model.zip");
        var (code, output) = RunApp([.. $"train --data {Data.Value}/train --steps 4 --depth 2 --base-width 4 --model {model}".Split(' ')]);
        Assert.AreEqual(0, code, output);
        // Images of another size than the 32x32 training images (and not a multiple of 2^depth).
        var o = new SyntheticFluorescenceOptions { Kind = SyntheticFluorescenceKind.Nuclei, Width = 45, Height = 38, NucleusRadiusMin = 3, NucleusRadiusMax = 6 };
        SyntheticDataSets.WriteSplit(SyntheticData.FluorescenceBatch(o, 5, 2), Path.Combine(temp.Path, "split"), binary: true);
        string predictions = Path.Combine(temp.Path, "pred");
        (code, output) = RunApp("predict", "--model", model, "--images", Path.Combine(temp.Path, "split"), "--out", predictions);
        Assert.AreEqual(0, code, output);
        var masks = Directory.GetFiles(predictions, "*.mask.png");
        Assert.AreEqual(2, masks.Length, output);
        foreach (var png in masks) Assert.AreEqual((45, 38), PngSize(png), png);
    }

    private static (int Width, int Height) PngSize(string path)
    {
        var header = File.ReadAllBytes(path).AsSpan(16, 8);
        return (BinaryPrimitives.ReadInt32BigEndian(header), BinaryPrimitives.ReadInt32BigEndian(header[4..]));
    }
}
