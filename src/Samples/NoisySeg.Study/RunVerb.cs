using System.Diagnostics;
using Microsoft.Extensions.Logging;
using MLNet.NoisySeg.Study;
using NoisySeg.Study.Cli;

namespace NoisySeg.Study;

/// <summary>run: the study grid (or one shard of it), then the report (unsharded runs).</summary>
public sealed class RunVerb : Verb
{
    /// <inheritdoc/>
    public override string Name => "run";
    /// <inheritdoc/>
    public override int Order => 0;
    /// <inheritdoc/>
    public override string Summary => "Run the study's condition grid (or one shard of it) and write the report (the default verb).";
    /// <inheritdoc/>
    public override string? Details => "Results go to --out: results.jsonl/csv/md, plots/, panels/, report.md. Rerunning the same command resumes "
        + "(finished conditions are skipped); a results folder refuses options that would change what its results mean (settings.json).";
    /// <inheritdoc/>
    public override IReadOnlyList<string> Examples =>
    [
        "run                                            # quick profile on the embedded ISBI 2012 + CamVid",
        "run --profile paper --seeds 0,1,2 --out results/paper",
        "run --shard 0/4 --out results/grid             # then: merge --out results/grid",
        "run --data my/set --mask-encoding binary --foreground 255 --filter \"clean,sampling(\"",
    ];
    /// <inheritdoc/>
    public override IReadOnlyList<CliOption> Options =>
    [
        CliOptions.Profile, CliOptions.Data, CliOptions.Name, CliOptions.MaskEncoding, CliOptions.Foreground, CliOptions.Classes,
        CliOptions.Ignore, CliOptions.Width, CliOptions.Height, CliOptions.Seeds, CliOptions.Steps, CliOptions.BatchSize, CliOptions.Depth,
        CliOptions.BaseWidth, CliOptions.LearningRate, CliOptions.Schedule, CliOptions.BudgetEvery, CliOptions.Crop, CliOptions.Online,
        CliOptions.Filter, CliOptions.Shard, CliOptions.Threads, CliOptions.Parallel, CliOptions.Out,
    ];

    /// <inheritdoc/>
    public override int Execute(VerbContext context)
    {
        var (s, log, ct) = (context.Settings, context.Log, context.Cancellation);
        var options = s.ToStudyOptions();
        var grid = StudyGrid.ForShard(options);
        log.LogInformation("Study {Profile}: {Count} condition(s) on shard {Shard} ({Datasets}), {Training}, seeds {Seeds}; results in {Folder}",
            options.Profile, grid.Count, options.Shard, string.Join(", ", options.Datasets.Select(d => d.Describe())),
            options.DescribeTraining(), string.Join(",", options.Seeds), Path.GetFullPath(options.ResultsFolder));
        var clock = Stopwatch.StartNew();
        var summary = new StudyRunner(options).Run(new LogProgress(log), ct);
        log.LogInformation("Trained {Ran} condition(s), skipped {Skipped} finished, in {Elapsed:0.0} s", summary.Ran, summary.Skipped, summary.Elapsed.TotalSeconds);
        foreach (var f in summary.Failures)
            log.LogError("Condition {Key} failed ({Error}): {Reason}", f.Key, f.Error, f.Reason);
        if (options.Shard.Count > 1)
        {
            log.LogInformation("Shard {Shard} done. When every shard has finished: merge --out {Out}", options.Shard, options.OutputFolder);
            return ExitCodes.Ok;
        }
        string report = ReportWriter.Write(options.ResultsFolder, summary.Results, clock.Elapsed, options);
        log.LogInformation("Report: {Report}", Path.GetFullPath(report));
        Console.WriteLine();
        Console.WriteLine(StudySummary.ToMarkdown(summary.Results));
        if (summary.Failures.Count > 0)
        {
            log.LogError("{Count} condition(s) failed; the report lists them and a rerun retries them.", summary.Failures.Count);
            return ExitCodes.ConditionsFailed;
        }
        return ExitCodes.Ok;
    }

    private sealed class LogProgress(ILogger log) : IProgress<StudyProgress>
    {
        public void Report(StudyProgress p)
        {
            switch (p.Phase)
            {
                case "train" when p.Training is { } t:
                    // A budget point (label-free Dice), or every tenth of the budget: long conditions show they are alive.
                    if (t.Validation is { } v && v.TryGetValue("labelfree", out double lf))
                        log.LogInformation("{Message}, label-free Dice {Score:0.000}, ETA {Eta:hh\\:mm\\:ss}", p.Message, lf, t.Eta);
                    else if (t.Step % Math.Max(1, t.TotalSteps / 10) == 0)
                        log.LogInformation("{Message}, ETA {Eta:hh\\:mm\\:ss}", p.Message, t.Eta);
                    break;
                default:
                    log.LogInformation("{Message}", p.Message);
                    break;
            }
        }
    }
}
