using System.Diagnostics;
using MLNet.NoisySeg.Data.Synthetic;
using MLNet.NoisySeg.Tests.TestSupport;

namespace MLNet.NoisySeg.Tests.Samples;

/// <summary>
/// The study runner app as a user runs it (a separate process): bad options give exit code 2 and a message naming the
/// option; train → evaluate → predict works on a folder of images and masks, with patch training and online noise.
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

    private static (int Code, string Output) RunApp(params string[] args)
    {
        string config = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name; // bin/<Config>/net10.0
        string app = Path.Combine(TestPaths.RepoRoot, "src", "Samples", "NoisySeg.Study", "bin", config, "net10.0", "NoisySeg.Study.dll");
        Assert.IsTrue(File.Exists(app), "study app not built: " + app);
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(app);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["NOISYSEG_THREADS"] = "1";
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        Assert.IsTrue(p.WaitForExit(300_000), "the app timed out");
        return (p.ExitCode, stdout + stderr.Result);
    }

    [TestMethod]
    [DataRow("Steps", "run", "--steps", "0")]
    [DataRow("Crop", "run", "--crop", "12x")]
    [DataRow("CropHeight", "run", "--crop", "4")]
    [DataRow("larger than the images", "run", "--crop", "200")]
    [DataRow("Profile", "run", "--profile", "huge")]
    [DataRow("Schedule must be none or cosine", "run", "--schedule", "linear")]
    [DataRow("unknown option '--bogus'", "run", "--bogus", "1")]
    [DataRow("unknown verb 'fly'", "fly")]
    [DataRow("Model is required", "train", "--data", "/nonexistent")]
    public void BadOptions_ExitWith2_AndNameTheOption(string expected, params string[] args)
    {
        var (code, output) = RunApp(args);
        Assert.AreEqual(2, code, output);
        StringAssert.Contains(output, expected);
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
    }
}
