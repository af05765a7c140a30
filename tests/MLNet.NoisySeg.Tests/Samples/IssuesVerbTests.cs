using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Data.Synthetic;
using MLNet.NoisySeg.Tests.TestSupport;

namespace MLNet.NoisySeg.Tests.Samples;

/// <summary>
/// The study app's <c>issues</c> verb as a user runs it (a separate process) on a tiny folder with two bad masks: a CSV
/// ranked by the chosen score (most suspicious first) and overlays of the top N; bad options exit with 2.
/// </summary>
[TestClass]
public sealed class IssuesVerbTests
{
    private const int Size = 32, Count = 8;

    private static string MakeFolder(string root)
    {
        var o = new SyntheticFluorescenceOptions { Kind = SyntheticFluorescenceKind.Nuclei, Width = Size, Height = Size, NucleusRadiusMin = 3, NucleusRadiusMax = 6 };
        var samples = SyntheticData.FluorescenceBatch(o, 31, Count).ToList();
        string split = Path.Combine(root, "data");
        SyntheticDataSets.WriteSplit(samples, split, binary: true);
        // Two wrong labels: one image labelled empty, one labelled everywhere.
        PngWriter.WriteGray(Path.Combine(split, "masks", samples[1].Name + ".png"), new byte[Size * Size], Size, Size);
        PngWriter.WriteGray(Path.Combine(split, "masks", samples[4].Name + ".png"), Enumerable.Repeat((byte)255, Size * Size).ToArray(), Size, Size);
        return split;
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

    private static (string[] Header, List<string[]> Rows) ReadCsv(string path)
    {
        var lines = File.ReadAllLines(path);
        return (lines[0].Split(','), lines.Skip(1).Select(l => l.Split(',')).ToList());
    }

    private static double[] Column(string[] header, List<string[]> rows, string name)
    {
        int c = Array.IndexOf(header, name);
        Assert.IsTrue(c >= 0, name);
        return rows.Select(r => double.Parse(r[c], CultureInfo.InvariantCulture)).ToArray();
    }

    private static void AssertAscending(double[] values, string what)
    {
        for (int i = 1; i < values.Length; i++) Assert.IsTrue(values[i - 1] <= values[i], $"{what} not ascending at row {i}: {string.Join(", ", values)}");
    }

    [TestMethod]
    public void Issues_WritesARankedCsv_AndOverlaysOfTheTopImages()
    {
        using var temp = TestPaths.NewTemp();
        string data = MakeFolder(temp.Path);
        string out1 = Path.Combine(temp.Path, "by-contradiction");
        string common = "--mask-encoding binary --foreground 255 --folds 2 --steps 4 --depth 2 --base-width 4 --crop 16";
        var (code, output) = RunApp([.. $"issues --data {data} {common} --top 3 --out {out1}".Split(' ')]);
        Assert.AreEqual(0, code, output);
        StringAssert.Contains(output, "Ranked 8 images");
        StringAssert.Contains(output, "beyond z = 3 of the folder's spread");

        var (header, rows) = ReadCsv(Path.Combine(out1, "issues.csv"));
        CollectionAssert.AreEqual(new[] { "rank", "name", "fold", "contradiction_outlier_score", "meta_structure_score", "softmin_score", "confident_issue_score",
            "contradiction_z", "contradiction_class", "contradiction_direction" }, header.Take(10).ToArray());
        Assert.AreEqual("meta_structure_class_1", header[^1]);
        Assert.AreEqual(Count, rows.Count);
        CollectionAssert.AreEqual(Enumerable.Range(1, Count).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray(), rows.Select(r => r[0]).ToArray());
        Assert.AreEqual(Count, rows.Select(r => r[1]).Distinct().Count(), "every image once");
        // The default ranking is by the contradiction outlier: its z descending (score ascending).
        AssertAscending(Column(header, rows, "contradiction_z").Select(z => -z).ToArray(), "minus the contradiction z");
        AssertAscending(Column(header, rows, "contradiction_outlier_score"), "contradiction-outlier score");
        int direction = Array.IndexOf(header, "contradiction_direction");
        Assert.IsTrue(rows.All(r => r[direction] is "surplus" or "deficit"), string.Join(", ", rows.Select(r => r[direction])));
        Assert.IsTrue(Column(header, rows, "fold").All(f => f is 0 or 1));

        var overlays = Directory.GetFiles(Path.Combine(out1, "overlays"), "*.png").Select(Path.GetFileName).Order().ToArray();
        Assert.AreEqual(3, overlays.Length, string.Join(", ", overlays));
        Assert.AreEqual($"001-{Path.GetFileNameWithoutExtension(rows[0][1])}.png", overlays[0], "the first overlay is the most suspicious image");
        var png = File.ReadAllBytes(Path.Combine(out1, "overlays", overlays[0]!));
        Assert.AreEqual(3 * Size + 2 * 4, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)), "three panels with gaps");
        Assert.AreEqual(Size, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));
        Assert.AreEqual(0, Directory.GetFiles(out1, "*.tmp*", SearchOption.AllDirectories).Length, "no temporary files left");

        string out2 = Path.Combine(temp.Path, "by-softmin");
        (code, output) = RunApp([.. $"issues --data {data} {common} --top 0 --rank-by softmin --out {out2}".Split(' ')]);
        Assert.AreEqual(0, code, output);
        (header, rows) = ReadCsv(Path.Combine(out2, "issues.csv"));
        AssertAscending(Column(header, rows, "softmin_score"), "softmin score");
        Assert.IsFalse(Directory.Exists(Path.Combine(out2, "overlays")));
    }

    [TestMethod]
    [DataRow("--folds must be at least 2; got 1.", "--folds", "1")]
    [DataRow("--rank-by must be contradiction, meta-structure, softmin or confident; got 'loudest'.", "--rank-by", "loudest")]
    [DataRow("--top must be an integer; got 'x'.", "--top", "x")]
    [DataRow("unknown option '--model' for 'issues'", "--model", "m.zip")]
    [DataRow("cannot be split into 9 folds", "--folds", "9")]
    public void Issues_BadOptions_ExitWith2_InOneLine(string expected, string option, string value)
    {
        using var temp = TestPaths.NewTemp();
        string data = MakeFolder(temp.Path);
        var (code, output) = RunApp("issues", "--data", data, option, value, "--out", Path.Combine(temp.Path, "o"));
        Assert.AreEqual(2, code, output);
        StringAssert.Contains(output, expected);
        Assert.IsFalse(output.Contains("   at ", StringComparison.Ordinal), "no stack trace: " + output);
        Assert.IsFalse(output.Contains("Options:", StringComparison.Ordinal), "an error is one line and a hint, not the help: " + output);
    }

    [TestMethod]
    public void Issues_MissingData_ExitsWith2_NamingTheOption()
    {
        var (code, output) = RunApp("issues", "--out", "/tmp/never-written");
        Assert.AreEqual(2, code, output);
        StringAssert.Contains(output, "--data is required");
        (code, output) = RunApp("issues", "--data", "/nonexistent-split");
        Assert.AreEqual(2, code, output);
        StringAssert.Contains(output, "--data: folder '/nonexistent-split' does not exist.");
    }

    [TestMethod]
    public void IssuesHelp_ListsOnlyItsOptions_AndTheRootHelpListsTheVerb()
    {
        var (code, output) = RunApp("issues", "--help");
        Assert.AreEqual(0, code, output);
        foreach (var expected in new[] { "noisyseg issues [options]", "--data <folder>", "--folds <N>", "[default: 5]", "--top <N>", "[default: 10]",
                     "--rank-by <contradiction|meta-structure|softmin|confident>", "--steps <N>", "--crop", "Examples:", "Exit codes: 0 ok" })
            StringAssert.Contains(output, expected);
        foreach (var other in new[] { "--shard", "--inputs", "--images", "--model", "--noise", "--filter", "--parallel", "--test" })
            Assert.IsFalse(output.Contains(other, StringComparison.Ordinal), $"issues' help lists {other}: {output}");
        (code, output) = RunApp("--help");
        Assert.AreEqual(0, code, output);
        StringAssert.Contains(output, "  issues ");
    }
}
