using System.Diagnostics;
using System.IO.Compression;
using MLNet.NoisySeg.Tests.TestSupport;

namespace MLNet.NoisySeg.Tests.Packaging;

/// <summary>
/// `dotnet pack` of the library gives a package with README, XML docs, license and the buildTransitive GLIBCXX fix,
/// and an app that consumes it from a local folder (not a project reference) builds and runs TorchSharp here.
/// </summary>
[TestClass]
public class PackageConsumerTests
{
    [TestMethod]
    [Timeout(900_000, CooperativeCancellation = true)]
    public void PackedPackage_ConsumedFromLocalFolder_RunsTorchSharp()
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
            StringAssert.Contains(spec, "id=\"TorchSharp\"");
            Assert.IsFalse(spec.Contains("libtorch-cpu"), "the library must not force a native backend");
        }

        string app = Path.Combine(tmp.Path, "consumer");
        Directory.CreateDirectory(app);
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration><packageSources><add key="local-feed" value="{feed}" /></packageSources></configuration>
            """);
        File.WriteAllText(Path.Combine(app, "consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework><ImplicitUsings>enable</ImplicitUsings><NoWarn>NU1603</NoWarn></PropertyGroup>
              <ItemGroup>
                <PackageReference Include="MLNet.NoisySeg" Version="{version}" />
                <PackageReference Include="libtorch-cpu-linux-x64" Version="2.10.0" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using MLNet.NoisySeg.Networks;
            using static TorchSharp.torch;
            var net = new UNet(new UNetOptions { Depth = 2, BaseWidth = 4 });
            var y = net.forward(randn(1, 1, 32, 32));
            Console.WriteLine($"consumer ok: {string.Join("x", y.shape)} params={net.ParameterCount}");
            """);
        try
        {
            Run("dotnet", ["build", "-c", "Release"], app);
            string output = Run("dotnet", ["run", "-c", "Release", "--no-build"], app);
            StringAssert.Contains(output, "consumer ok: 1x1x32x32");
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
