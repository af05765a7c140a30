using System.Reflection;
using System.Text.RegularExpressions;
using MLNet.NoisySeg.Tests.TestSupport;

namespace MLNet.NoisySeg.Tests.Architecture;

/// <summary>
/// The layering of docs/architecture.md, checked on the source: a folder of src/MLNet.NoisySeg may only use the folders
/// (namespaces) and external libraries its row allows, so data flows one way (folder, sample, noise, density, tensors,
/// network, probabilities, decoded mask, metrics) and the ML.NET glue sits on top. A new folder must add its row here
/// and in the architecture table.
/// </summary>
[TestClass]
public sealed class DependencyRuleTests
{
    private const string ML = "Microsoft.ML", Torch = "TorchSharp", Skia = "SkiaSharp";

    /// <summary>Folder → the NoisySeg folders and the external libraries its files may use (besides itself and the BCL).</summary>
    private static readonly Dictionary<string, (string[] Folders, string[] External)> Rules = new()
    {
        ["Core"] = ([], []),
        ["Morphology"] = (["Core"], []),
        ["Noise"] = (["Core", "Morphology"], []),
        ["MetaStructure"] = (["Core"], []),
        ["Evaluation"] = (["Core"], []),
        ["Decoding"] = (["Core"], []),
        ["Quality"] = (["Core", "Morphology", "MetaStructure", "Decoding"], []),
        ["Data"] = (["Core"], [Skia]),
        ["Torch"] = ([], [Torch]),
        ["Networks"] = (["Core", "Torch"], [Torch]),
        ["Losses"] = (["Core", "Torch"], [Torch]),
        ["Training"] = (["Core", "Data", "Torch", "Networks", "Losses"], [Torch]),
        ["Unsupervised"] = (["Core", "Data", "Morphology", "Noise", "Decoding", "Torch", "Networks", "Losses", "Training"], [Torch]),
        ["Pipelines"] = (["Core", "Data", "Morphology", "Noise", "MetaStructure", "Evaluation", "Decoding", "Quality", "Torch", "Networks", "Losses", "Training", "Unsupervised"], [ML, Torch]),
    };

    private static string Library => Path.Combine(TestPaths.RepoRoot, "src", "MLNet.NoisySeg");

    private static IEnumerable<(string Folder, string File, string Code)> Sources() =>
        Directory.EnumerateFiles(Library, "*.cs", SearchOption.AllDirectories)
            .Where(f => !Path.GetRelativePath(Library, f).Split(Path.DirectorySeparatorChar)[0].Equals("obj", StringComparison.Ordinal)
                        && !Path.GetRelativePath(Library, f).Split(Path.DirectorySeparatorChar)[0].Equals("bin", StringComparison.Ordinal))
            .Select(f => (Path.GetRelativePath(Library, f).Split(Path.DirectorySeparatorChar)[0], Path.GetRelativePath(Library, f), CodeOnly(File.ReadAllText(f))));

    [TestMethod]
    public void EveryFolder_UsesOnlyTheLayersItsRowAllows()
    {
        var violations = new List<string>();
        var folders = Rules.Keys.ToHashSet(StringComparer.Ordinal);
        foreach (var (folder, file, code) in Sources())
        {
            if (!Rules.TryGetValue(folder, out var rule))
            {
                violations.Add($"{file}: folder '{folder}' has no row in the dependency rule (docs/architecture.md and this test)");
                continue;
            }
            foreach (var used in NoisySegFoldersUsed(code, folders))
                if (used != folder && !rule.Folders.Contains(used))
                    violations.Add($"{file} ({folder}) uses {used}");
            foreach (var external in new[] { ML, Torch, Skia })
                if (UsesExternal(code, external) && !rule.External.Contains(external))
                    violations.Add($"{file} ({folder}) uses {external}");
        }
        Assert.AreEqual(0, violations.Count, "layering violations:\n" + string.Join("\n", violations));
    }

    [TestMethod]
    public void EveryFile_DeclaresTheNamespaceOfItsFolder()
    {
        var wrong = new List<string>();
        foreach (var (folder, file, code) in Sources())
        {
            var ns = Regex.Match(code, @"^\s*namespace\s+([\w.]+)", RegexOptions.Multiline).Groups[1].Value;
            string expected = "MLNet.NoisySeg." + string.Join('.', Path.GetDirectoryName(file)!.Split(Path.DirectorySeparatorChar));
            // Catalog extension methods live in Microsoft.ML (discoverable without a using), as ML.NET's own.
            bool catalog = folder == "Pipelines" && ns == "Microsoft.ML";
            if (ns != expected && !catalog) wrong.Add($"{file}: namespace {ns}, expected {expected}");
        }
        Assert.AreEqual(0, wrong.Count, string.Join("\n", wrong));
    }

    [TestMethod]
    public void PackedLibrary_ContainsNoStudyTypes_AndTheStudyEngineStandsBeside()
    {
        var library = typeof(MLNet.NoisySeg.Data.SegmentationItem).Assembly;
        var study = library.GetTypes().Where(t => (t.Namespace ?? "").Contains("Study", StringComparison.Ordinal) || t.Name.StartsWith("Study", StringComparison.Ordinal)).ToList();
        Assert.AreEqual(0, study.Count, string.Join(", ", study.Select(t => t.FullName)));
        Assert.IsFalse(Directory.Exists(Path.Combine(Library, "Study")));
        var engine = typeof(MLNet.NoisySeg.Study.StudyRunner).Assembly;
        Assert.AreEqual("MLNet.NoisySeg.Study", engine.GetName().Name);
        string csproj = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "src", "MLNet.NoisySeg.Study", "MLNet.NoisySeg.Study.csproj"));
        StringAssert.Contains(csproj, "<IsPackable>false</IsPackable>");
    }

    [TestMethod]
    public void PublicApi_ShowsNoPlumbing()
    {
        // The per-row mappings and state rows are found by ML.NET through their contract names, not by users.
        var library = typeof(MLNet.NoisySeg.Data.SegmentationItem).Assembly;
        var plumbing = library.GetExportedTypes()
            .Where(t => t.Name.EndsWith("Factory", StringComparison.Ordinal) || t.Name.StartsWith("StateKey", StringComparison.Ordinal)
                        || t.GetCustomAttributes().Any(a => a.GetType().Name == "CustomMappingFactoryAttributeAttribute"))
            .Select(t => t.FullName).ToList();
        Assert.AreEqual(0, plumbing.Count, string.Join(", ", plumbing));
    }

    /// <summary>The NoisySeg folders a file refers to: usings, fully qualified names, and names qualified by a folder namespace.</summary>
    private static IEnumerable<string> NoisySegFoldersUsed(string code, IReadOnlySet<string> folders)
    {
        foreach (Match m in Regex.Matches(code, @"MLNet\.NoisySeg\.(\w+)"))
            yield return m.Groups[1].Value;
        // Inside namespace MLNet.NoisySeg.*, "Core.Guard" or "Data.Preprocessing" resolve to sibling namespaces.
        foreach (Match m in Regex.Matches(code, @"(?<![\w.])(\w+)\.[A-Z]\w*"))
            if (folders.Contains(m.Groups[1].Value)) yield return m.Groups[1].Value;
    }

    private static bool UsesExternal(string code, string library)
        => Regex.IsMatch(code, @"(?<![\w.])" + Regex.Escape(library) + @"(\.|;|\s)");

    /// <summary>The source without comments, string and character literals (so prose and messages are not read as references).</summary>
    private static string CodeOnly(string source)
    {
        var pattern = new Regex(@"""""""[\s\S]*?""""""|//[^\n]*|/\*[\s\S]*?\*/|@""(?:""""|[^""])*""|""(?:\\.|[^""\\\n])*""|'(?:\\.|[^'\\\n])'");
        return pattern.Replace(source, " ");
    }
}
