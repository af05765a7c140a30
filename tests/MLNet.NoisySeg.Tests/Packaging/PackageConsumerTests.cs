using System.Diagnostics;
using System.IO.Compression;
using MLNet.NoisySeg.Tests.TestSupport;

namespace MLNet.NoisySeg.Tests.Packaging;

/// <summary>
/// `dotnet pack` of the library gives a package with its consumer README (PACKAGE.md), XML docs, license, the
/// buildTransitive GLIBCXX fix and a symbols package; a fresh `dotnet new console` app that follows the package README
/// verbatim (its install commands, then its program as Program.cs) consumes it from a local folder, trains a tiny model
/// on a tiny synthetic folder, saves, loads and predicts on an image file.
/// </summary>
[TestClass]
public class PackageConsumerTests
{
    [TestMethod]
    [Timeout(900_000, CooperativeCancellation = true)]
    public void PackedPackage_FollowingItsReadmeVerbatim_TrainsSavesLoadsAndPredicts()
    {
        using var tmp = TestPaths.NewTemp();
        string repo = Path.Combine(tmp.Path, "repo");
        CopyRepoForPacking(repo);
        string version = "0.0.0-ci" + DateTime.UtcNow.ToString("yyyyMMddHHmmssfff");
        string feed = Path.Combine(tmp.Path, "feed");
        Run("dotnet", ["pack", Path.Combine(repo, "src", "MLNet.NoisySeg", "MLNet.NoisySeg.csproj"), "-c", "Release", "-o", feed, "-p:Version=" + version], repo);

        string nupkg = Path.Combine(feed, $"MLNet.NoisySeg.{version}.nupkg");
        Assert.IsTrue(File.Exists(nupkg), nupkg);
        using (var zip = ZipFile.OpenRead(nupkg))
        {
            var names = zip.Entries.Select(e => e.FullName).ToHashSet();
            foreach (var expected in new[] { "README.md", "LICENSE", "lib/net10.0/MLNet.NoisySeg.dll", "lib/net10.0/MLNet.NoisySeg.xml",
                         "build/MLNet.NoisySeg.targets", "buildTransitive/MLNet.NoisySeg.targets" })
                Assert.IsTrue(names.Contains(expected), $"{expected} missing from the package: {string.Join(", ", names)}");
            using var nuspec = new StreamReader(zip.Entries.Single(e => e.FullName.EndsWith(".nuspec")).Open());
            string spec = nuspec.ReadToEnd();
            StringAssert.Contains(spec, "<license type=\"expression\">MIT</license>");
            StringAssert.Contains(spec, "<readme>README.md</readme>");
            using var readme = new StreamReader(zip.GetEntry("README.md")!.Open());
            Assert.AreEqual(File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "src", "MLNet.NoisySeg", "PACKAGE.md")), readme.ReadToEnd(),
                "the package's README is PACKAGE.md");
            StringAssert.Contains(spec, "id=\"TorchSharp\"");
            Assert.IsFalse(spec.Contains("libtorch-cpu"), "the library must not force a native backend");
        }
        string snupkg = Path.Combine(feed, $"MLNet.NoisySeg.{version}.snupkg");
        Assert.IsTrue(File.Exists(snupkg), "symbols package missing: " + snupkg);
        using (var symbols = ZipFile.OpenRead(snupkg))
            Assert.IsTrue(symbols.Entries.Any(e => e.FullName == "lib/net10.0/MLNet.NoisySeg.pdb"), "no pdb in the symbols package");

        // The README's two code blocks: the install commands and the program.
        string packageReadme = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "src", "MLNet.NoisySeg", "PACKAGE.md"));
        var blocks = System.Text.RegularExpressions.Regex.Matches(packageReadme, "```(bash|csharp)\n(.*?)```", System.Text.RegularExpressions.RegexOptions.Singleline);
        string install = blocks.First(b => b.Groups[1].Value == "bash").Groups[2].Value;
        string program = blocks.First(b => b.Groups[1].Value == "csharp").Groups[2].Value;
        string rid = OperatingSystem.IsWindows() ? "win-x64" : OperatingSystem.IsMacOS() ? "osx-arm64" : "linux-x64";
        var commands = install.Split('\n').Select(l => l.Split('#')[0].Trim())
            .Where(l => l == "dotnet add package MLNet.NoisySeg" || l.StartsWith($"dotnet add package libtorch-cpu-{rid} ", StringComparison.Ordinal)).ToList();
        Assert.AreEqual(2, commands.Count, "the README's install lines for the library and this platform's backend:\n" + install);

        string app = Path.Combine(tmp.Path, "consumer");
        Run("dotnet", ["new", "console", "--no-restore", "--framework", "net10.0", "-o", app], tmp.Path);
        // The local folder as a package source, beside the machine's sources (no <clear/>).
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration><packageSources><add key="local-feed" value="{feed}" /></packageSources></configuration>
            """);
        try
        {
            foreach (var command in commands)
            {
                var words = command.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).ToList(); // after "dotnet"
                if (words[^1] == "MLNet.NoisySeg") words.AddRange(["--version", version]); // the throw-away version of this test
                Run("dotnet", [.. words], app);
            }
            File.WriteAllText(Path.Combine(app, "Program.cs"), program);
            var o = new MLNet.NoisySeg.Data.Synthetic.SyntheticFluorescenceOptions
            {
                Kind = MLNet.NoisySeg.Data.Synthetic.SyntheticFluorescenceKind.Nuclei, Width = 64, Height = 64, NucleusRadiusMin = 4, NucleusRadiusMax = 8,
            };
            MLNet.NoisySeg.Data.Synthetic.SyntheticDataSets.WriteSplit(MLNet.NoisySeg.Data.Synthetic.SyntheticData.FluorescenceBatch(o, 11, 8), Path.Combine(app, "data", "train"), binary: true);
            MLNet.NoisySeg.Data.Synthetic.SyntheticDataSets.WriteSplit(MLNet.NoisySeg.Data.Synthetic.SyntheticData.FluorescenceBatch(o, 11, 3, firstIndex: 100), Path.Combine(app, "data", "test"), binary: true);
            Run("dotnet", ["build", "-c", "Release"], app);
            string output = Run("dotnet", ["run", "-c", "Release", "--no-build"], app);
            StringAssert.Matches(output, new System.Text.RegularExpressions.Regex(@"Dice \d\.\d{3}  IoU \d\.\d{3}  AUC \d\.\d{3}"));
            StringAssert.Contains(output, "foreground pixels -> prediction.png");
            var header = File.ReadAllBytes(Path.Combine(app, "prediction.png")).AsSpan(16, 8);
            Assert.AreEqual((64, 64), (System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(header), System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(header[4..])));
            Assert.IsTrue(File.Exists(Path.Combine(app, "model.zip")));
        }
        finally
        {
            // Do not leave the throw-away version in the machine's package cache.
            string cached = Path.Combine(Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"), "mlnet.noisyseg", version);
            try { if (Directory.Exists(cached)) Directory.Delete(cached, true); } catch (IOException) { }
        }
    }

    private static void CopyRepoForPacking(string dest)
    {
        string root = TestPaths.RepoRoot;
        foreach (var f in new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props", "README.md", "LICENSE", "global.json", "nuget.config" })
            File.Copy(Path.Combine(root, f), Path.Combine(Directory.CreateDirectory(dest).FullName, f));
        string src = Path.Combine(root, "src", "MLNet.NoisySeg");
        foreach (var file in Directory.EnumerateFiles(src, "*", SearchOption.AllDirectories))
        {
            string rel = Path.GetRelativePath(src, file);
            if (rel.StartsWith("bin" + Path.DirectorySeparatorChar) || rel.StartsWith("obj" + Path.DirectorySeparatorChar)) continue;
            string target = Path.Combine(dest, "src", "MLNet.NoisySeg", rel);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    private static string Run(string exe, string[] args, string workDir)
    {
        var psi = new ProcessStartInfo(exe) { WorkingDirectory = workDir, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.AreEqual(0, p.ExitCode, $"{exe} {string.Join(' ', args)} failed:\n{stdout}\n{stderr.Result}");
        return stdout;
    }
}
