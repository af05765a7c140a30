// noisyseg — the study runner and model builder: reproduces Luo et al. (AAAI 2022) as ML.NET pipelines and
// trains/evaluates/predicts on your data. `noisyseg --help` lists the verbs, `noisyseg VERB --help` a verb's options.
//   dotnet run -c Release --project src/Samples/NoisySeg.Study                 # = run: quick profile on the embedded ISBI + CamVid
//   noisyseg train --data my/train --test my/test --foreground 255 --noise "sampling(0.1)" --model m.zip
//   noisyseg evaluate --model m.zip --data my/test
//   noisyseg predict --model m.zip --images my/new --out predictions
// System.CommandLine parses (Cli/); the generic host gives configuration (appsettings.json < NOISYSEG_* environment
// variables < command line), logging, services and Ctrl+C. Exit codes: ExitCodes (0, 1, 2, 3, 130).
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MLNet.NoisySeg.Torch;
using NoisySeg.Study;
using NoisySeg.Study.Cli;

var request = new StudyCommandLine(Verb.All).Parse(args);
if (request.ExitCode is int parsedExit) return parsedExit;
var verb = request.Verb!;

// The app asks for the full process-wide libtorch tuning (passive OpenMP waiting, malloc tuning) before libtorch loads;
// the library on its own never changes the host process (TorchRuntime).
TorchRuntime.Configure(TorchRuntimeOptions.SmallCpu);

var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [], ContentRootPath = AppContext.BaseDirectory });
builder.Configuration.AddEnvironmentVariables("NOISYSEG_");
builder.Configuration.AddInMemoryCollection(request.Settings); // the command line wins
builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Error);
builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
builder.Services.AddSingleton<ModelStore>();
using var host = builder.Build();
var log = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("NoisySeg.Study." + verb.Name);
var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();

var settings = new AppSettings();
try
{
    host.Services.GetRequiredService<IConfiguration>().Bind(settings);
}
catch (InvalidOperationException e)
{
    log.LogError("Bad setting: {Message}", e.InnerException?.Message is { } inner ? $"{e.Message} {inner}" : e.Message);
    return ExitCodes.Usage;
}

await host.StartAsync();
using var cts = CancellationTokenSource.CreateLinkedTokenSource(lifetime.ApplicationStopping);
int code;
try
{
    code = await Task.Run(() => verb.Execute(new VerbContext(settings, log, host.Services, cts.Token)));
}
catch (OperationCanceledException)
{
    log.LogWarning("Cancelled. Finished conditions are saved; rerun the same command to resume.");
    code = ExitCodes.Cancelled;
}
catch (MLNet.NoisySeg.Training.TrainingDivergedException e)
{
    log.LogError("{Message}", e.Message);
    code = ExitCodes.ConditionsFailed;
}
catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException or FormatException
                              or MLNet.NoisySeg.Data.SegmentationDataException or InvalidDataException)
{
    // Known failures: one line naming the option, file or folder (InvalidDataException: a corrupt or foreign model zip).
    log.LogError("{Message}", e is ArgumentException { ParamName: { } name } ? e.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal) : e.Message);
    code = ExitCodes.Usage;
}
catch (Exception e)
{
    log.LogError("Failed ({Type}): {Message}", e.GetType().Name, e.Message);
    log.LogDebug(e, "Details");
    code = ExitCodes.Failure;
}
lifetime.StopApplication();
await host.StopAsync();
return code;
