// The study runner: reproduces Luo et al. (AAAI 2022) as ML.NET pipelines and trains/evaluates/predicts on your data.
//   dotnet run -c Release --project src/Samples/NoisySeg.Study                 # quick profile on the embedded ISBI + CamVid
//   ... run --profile paper --seeds 0,1,2 --out results/paper                 # paper scale (hours; GPU advised)
//   ... run --shard 0/4 --out results/grid   (x4: k8s Indexed Job / Slurm array: --shard $JOB_COMPLETION_INDEX/4)
//   ... merge --out results/grid                                              # combines shard-*-of-4/ into one table + report
//   ... train --data my/train --test my/test --mask-encoding binary --foreground 255 --noise "sampling(0.1)" --model m.zip
//   ... evaluate --model m.zip --data my/test --mask-encoding binary --foreground 255
//   ... predict --model m.zip --images my/new --out predictions
// Settings: appsettings.json < NOISYSEG_* environment variables < command line. Ctrl+C cancels cleanly (finished
// conditions are kept; rerunning resumes). Exit codes: 0 ok, 1 failure, 2 bad option/path/data, 3 training diverged
// (train) or some study conditions failed (run: the others finished and are reported), 130 cancelled.
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MLNet.NoisySeg.Torch;
using NoisySeg.Study;

string[] verbs = ["run", "merge", "train", "evaluate", "predict", "unsupervised", "issues"];
string verb = args.Length > 0 && !args[0].StartsWith('-') ? args[0].ToLowerInvariant() : "run";
string[] rest = args.Length > 0 && !args[0].StartsWith('-') ? args[1..] : args;
if (!verbs.Contains(verb))
{
    Console.Error.WriteLine($"error: unknown verb '{verb}'; expected one of {string.Join(", ", verbs)}.");
    return 2;
}
foreach (var a in rest.Where(a => a.StartsWith('-')))
{
    string key = a.Split('=')[0].ToLowerInvariant();
    if (!AppSettings.KnownSwitches.Contains(key))
    {
        Console.Error.WriteLine($"error: unknown option '{key}'. Options: {string.Join(" ", AppSettings.KnownSwitches.Order())}");
        return 2;
    }
}

// The app asks for the full process-wide libtorch tuning (passive OpenMP waiting, malloc tuning) before libtorch loads;
// the library on its own never changes the host process (TorchRuntime).
TorchRuntime.Configure(TorchRuntimeOptions.SmallCpu);

var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [], ContentRootPath = AppContext.BaseDirectory });
builder.Configuration.AddEnvironmentVariables("NOISYSEG_");
builder.Configuration.AddCommandLine(rest, AppSettings.SwitchMappings);
builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
builder.Services.AddSingleton<Verbs>();
using var host = builder.Build();
var log = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("NoisySeg.Study");
var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();

var settings = new AppSettings();
try
{
    host.Services.GetRequiredService<IConfiguration>().Bind(settings);
}
catch (InvalidOperationException e)
{
    log.LogError("Bad option: {Message}", e.InnerException?.Message is { } inner ? $"{e.Message} {inner}" : e.Message);
    return 2;
}

await host.StartAsync();
using var cts = CancellationTokenSource.CreateLinkedTokenSource(lifetime.ApplicationStopping);
int code;
try
{
    var v = host.Services.GetRequiredService<Verbs>();
    code = await Task.Run(() => verb switch
    {
        "merge" => v.Merge(settings, cts.Token),
        "train" => v.Train(settings, cts.Token),
        "evaluate" => v.Evaluate(settings),
        "predict" => v.Predict(settings),
        "unsupervised" => v.Unsupervised(settings, cts.Token),
        "issues" => IssuesVerb.Run(IssuesOptions.FromSettings(settings), log, cts.Token),
        _ => v.Run(settings, cts.Token),
    });
}
catch (OperationCanceledException)
{
    log.LogWarning("Cancelled. Finished conditions are saved; rerun the same command to resume.");
    code = 130;
}
catch (MLNet.NoisySeg.Training.TrainingDivergedException e)
{
    log.LogError("{Message}", e.Message);
    code = ExitCodes.ConditionsFailed;
}
catch (Exception e) when (e is ArgumentException or IOException or MLNet.NoisySeg.Data.SegmentationDataException or InvalidDataException)
{
    log.LogError("{Message}", e.Message);
    code = 2;
}
catch (Exception e)
{
    log.LogError(e, "Failed: {Message}", e.Message);
    code = 1;
}
lifetime.StopApplication();
await host.StopAsync();
return code;

/// <summary>Process exit codes of the runner.</summary>
internal static class ExitCodes
{
    /// <summary>Training diverged (train), or some study conditions failed while the others finished (run).</summary>
    public const int ConditionsFailed = 3;
}
