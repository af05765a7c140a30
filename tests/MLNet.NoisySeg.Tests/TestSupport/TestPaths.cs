namespace MLNet.NoisySeg.Tests.TestSupport;

/// <summary>Locates data shipped inside the repository (tests never depend on ../shared).</summary>
internal static class TestPaths
{
    private static readonly Lazy<string> Root = new(() =>
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "NoisySeg.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Repository root (NoisySeg.sln) not found above " + AppContext.BaseDirectory);
    });

    public static string RepoRoot => Root.Value;

    public static string Datasets => Path.Combine(RepoRoot, "src", "Samples", "datasets");

    public static string Isbi => Path.Combine(Datasets, "isbi2012_em_membrane");

    public static string CamVid => Path.Combine(Datasets, "camvid11_small");

    /// <summary>A fresh temporary folder, deleted by the caller's using.</summary>
    public static TempFolder NewTemp() => new();
}

internal sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "noisyseg-tests-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public void Dispose()
    {
        try { Directory.Delete(Path, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
