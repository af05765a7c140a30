using Microsoft.Extensions.Logging;
using MLNet.NoisySeg.Study;
using NoisySeg.Study.Cli;

namespace NoisySeg.Study;

/// <summary>merge: shard folders → one results table + report in --out.</summary>
public sealed class MergeVerb : Verb
{
    /// <inheritdoc/>
    public override string Name => "merge";
    /// <inheritdoc/>
    public override int Order => 10;
    /// <inheritdoc/>
    public override string Summary => "Combine the results of shard folders into one table and report.";
    /// <inheritdoc/>
    public override string? Details => "Shards of different settings (settings.json) are refused. Panels are copied next to the merged report.";
    /// <inheritdoc/>
    public override IReadOnlyList<string> Examples => ["merge --out results/grid          # finds results/grid/shard-*-of-*", "merge --inputs a,b --out merged"];
    /// <inheritdoc/>
    public override IReadOnlyList<CliOption> Options => [CliOptions.Out with { Description = "Folder of the merged results (and of the shard-*-of-* folders)" }, CliOptions.Inputs, CliOptions.Profile];

    /// <inheritdoc/>
    public override int Execute(VerbContext context)
    {
        var (s, log, ct) = (context.Settings, context.Log, context.Cancellation);
        var inputs = string.IsNullOrWhiteSpace(s.Inputs)
            ? StudyResultStore.FindShardFolders(s.Out)
            : s.Inputs.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (inputs.Count == 0)
            throw new ArgumentException($"--inputs: no shard-*-of-* folders with results below '{s.Out}'; pass --inputs a,b,...", "Inputs");
        ct.ThrowIfCancellationRequested();
        var store = StudyResultStore.Merge(inputs, s.Out);
        // Panels live next to each shard's results; the merged report links them relative to --out.
        foreach (var input in inputs.Where(i => Path.GetFullPath(i) != Path.GetFullPath(s.Out)))
        {
            string panels = Path.Combine(input, "panels");
            if (!Directory.Exists(panels)) continue;
            Directory.CreateDirectory(Path.Combine(s.Out, "panels"));
            foreach (var png in Directory.GetFiles(panels, "*.png"))
                File.Copy(png, Path.Combine(s.Out, "panels", Path.GetFileName(png)), overwrite: true);
        }
        log.LogInformation("Merged {Count} result(s) from {Inputs} into {Out}", store.Results.Count, string.Join(", ", inputs), store.JsonLinesPath);
        StudyOptions? options = null;
        try { options = s.ToStudyOptions(checkFolders: false); } catch (ArgumentException) { }
        string report = ReportWriter.Write(s.Out, store.Results, null, options);
        log.LogInformation("Report: {Report}", Path.GetFullPath(report));
        Console.WriteLine(StudySummary.ToMarkdown(store.Results));
        return ExitCodes.Ok;
    }
}
