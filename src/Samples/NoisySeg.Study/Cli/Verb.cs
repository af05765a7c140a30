using Microsoft.Extensions.Logging;

namespace NoisySeg.Study.Cli;

/// <summary>
/// A verb of the app (<c>noisyseg VERB [options]</c>). A verb is one class deriving from this one, anywhere in the app
/// assembly: <see cref="All"/> finds it, the command line offers it with exactly its <see cref="Options"/> (and their help),
/// and <see cref="Execute"/> runs it with the bound settings. Nothing else needs registering.
/// </summary>
public abstract class Verb
{
    /// <summary>The verb as typed (lower case).</summary>
    public abstract string Name { get; }

    /// <summary>One line for the verb list in <c>--help</c>.</summary>
    public abstract string Summary { get; }

    /// <summary>More text for the verb's own help (below the summary), or null.</summary>
    public virtual string? Details => null;

    /// <summary>Example command lines for the verb's own help (without the <c>noisyseg</c> prefix).</summary>
    public virtual IReadOnlyList<string> Examples => [];

    /// <summary>Position in the verb list.</summary>
    public virtual int Order => 100;

    /// <summary>The options this verb accepts (from <see cref="CliOptions"/>); any other option is an error.</summary>
    public abstract IReadOnlyList<CliOption> Options { get; }

    /// <summary>Runs the verb; returns the process exit code (<see cref="ExitCodes"/>). Known failures throw (see <see cref="ExitCodes"/>).</summary>
    /// <param name="context">Settings, logger, services and the Ctrl+C token.</param>
    public abstract int Execute(VerbContext context);

    /// <summary>Every verb of the app, in <see cref="Order"/>.</summary>
    public static IReadOnlyList<Verb> All { get; } = typeof(Verb).Assembly.GetTypes()
        .Where(t => t.IsSubclassOf(typeof(Verb)) && !t.IsAbstract)
        .Select(t => (Verb)Activator.CreateInstance(t)!)
        .OrderBy(v => v.Order).ThenBy(v => v.Name, StringComparer.Ordinal)
        .ToList();
}

/// <summary>What a verb runs with.</summary>
/// <param name="Settings">appsettings.json &lt; NOISYSEG_* environment variables &lt; command line, bound.</param>
/// <param name="Log">The verb's logger.</param>
/// <param name="Services">The host's services (e.g. <see cref="ModelStore"/>).</param>
/// <param name="Cancellation">Cancelled on Ctrl+C / SIGTERM.</param>
public sealed record VerbContext(AppSettings Settings, ILogger Log, IServiceProvider Services, CancellationToken Cancellation);

/// <summary>Process exit codes of the app (also listed in <c>--help</c> and the app's README).</summary>
public static class ExitCodes
{
    /// <summary>Success.</summary>
    public const int Ok = 0;
    /// <summary>An unexpected failure (the message is printed).</summary>
    public const int Failure = 1;
    /// <summary>Bad option or value, missing file or folder, unreadable data, corrupt or mismatching model.</summary>
    public const int Usage = 2;
    /// <summary>Training diverged (train), or some study conditions failed while the others finished (run).</summary>
    public const int ConditionsFailed = 3;
    /// <summary>Cancelled with Ctrl+C (finished conditions are kept).</summary>
    public const int Cancelled = 130;

    /// <summary>The exit codes as help text.</summary>
    public const string Help = "Exit codes: 0 ok; 1 unexpected failure; 2 bad option or value, missing file or folder, unreadable data, "
        + "corrupt or mismatching model; 3 training diverged (train) or some conditions failed (run, the others are reported); 130 cancelled (Ctrl+C).";
}
