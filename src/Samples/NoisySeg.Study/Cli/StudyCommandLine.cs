using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;

namespace NoisySeg.Study.Cli;

/// <summary>What the command line asked for: an exit code (help, version or an error was printed), or a verb to run with the settings the command line overrides.</summary>
/// <param name="ExitCode">Set when the process should end with it (nothing to run).</param>
/// <param name="Verb">The verb to run.</param>
/// <param name="Settings">Setting name → value for every option given on the command line (the last configuration source).</param>
public sealed record CommandLineRequest(int? ExitCode, Verb? Verb, IReadOnlyDictionary<string, string?> Settings);

/// <summary>
/// The app's command line on System.CommandLine: <c>noisyseg [VERB] [options]</c>, one command per <see cref="Verb"/> with
/// exactly its options, <c>--help</c>/<c>-h</c> on every verb, <c>help VERB</c>, <c>--version</c>. Without a verb (or with
/// an option first) the verb is <c>run</c>. Bad input prints one error line and a hint, and yields exit code 2.
/// </summary>
public sealed class StudyCommandLine
{
    /// <summary>The command name (the .NET tool's command).</summary>
    public const string CommandName = "noisyseg";

    /// <summary>The verb used when none is given.</summary>
    public const string DefaultVerb = "run";

    private readonly Command _root;
    private readonly Dictionary<Command, (Verb Verb, List<(CliOption Spec, Option<string> Option)> Options)> _verbs = [];

    /// <summary>Builds the commands of <paramref name="verbs"/>.</summary>
    /// <param name="verbs">The verbs (usually <see cref="Verb.All"/>).</param>
    public StudyCommandLine(IReadOnlyList<Verb> verbs)
    {
        _root = new Command(CommandName,
            "NoisySeg: learning segmentation from noisy labels (Luo et al., AAAI 2022) with ML.NET and a TorchSharp U-Net. "
            + "Reproduces the paper's study on the embedded data, and trains, evaluates and predicts on your own image/mask folders. "
            + $"Without a verb it runs '{DefaultVerb}' (the quick study). Settings: appsettings.json < NOISYSEG_<NAME> environment variables "
            + "(e.g. NOISYSEG_STEPS=500) < command line.");
        var help = new HelpOption();
        help.Action = new HelpWithExtras((HelpAction)help.Action!, this);
        _root.Options.Add(help);
        _root.Options.Add(new VersionOption());
        foreach (var verb in verbs)
        {
            var command = new Command(verb.Name, verb.Summary);
            var options = verb.Options.Select(spec => (spec, spec.Create())).ToList();
            foreach (var (_, option) in options) command.Options.Add(option);
            _verbs[command] = (verb, options);
            _root.Subcommands.Add(command);
        }
        var helpVerb = new Command("help", "Show the options of a verb: help VERB");
        var verbArgument = new Argument<string?>("verb") { Arity = ArgumentArity.ZeroOrOne, Description = "The verb" };
        helpVerb.Arguments.Add(verbArgument);
        helpVerb.SetAction(r => HelpFor(r.GetValue(verbArgument), r.InvocationConfiguration.Output, r.InvocationConfiguration.Error));
        _root.Subcommands.Add(helpVerb);
    }

    /// <summary>Parses <paramref name="args"/>; prints help, version or one error line (+ a hint) itself.</summary>
    /// <param name="args">The process arguments.</param>
    /// <param name="output">Where help and version go (default: standard output).</param>
    /// <param name="error">Where errors go (default: standard error).</param>
    public CommandLineRequest Parse(string[] args, TextWriter? output = null, TextWriter? error = null)
    {
        output ??= Console.Out;
        error ??= Console.Error;
        if (args.Length == 0 || (args[0].StartsWith('-') && args[0] is not ("-h" or "-?" or "--help" or "--version")))
            args = [DefaultVerb, .. args];
        var result = _root.Parse(args);
        var invocation = new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false };
        if (result.Errors.Count == 0 && result.Action is not null and not ParseErrorAction)
            return new(result.Invoke(invocation), null, new Dictionary<string, string?>());

        var command = result.CommandResult.Command;
        _verbs.TryGetValue(command, out var verb);
        if (result.Errors.Count > 0 || verb.Verb is null)
        {
            string message = ErrorLine(result, command, verb.Verb);
            error.WriteLine($"error: {message}");
            error.WriteLine(verb.Verb is null
                ? $"Run '{CommandName} --help' for the verbs."
                : $"Run '{CommandName} {verb.Verb.Name} --help' for the options of '{verb.Verb.Name}'.");
            return new(ExitCodes.Usage, null, new Dictionary<string, string?>());
        }

        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var (spec, option) in verb.Options)
            if (result.GetResult(option) is { Tokens.Count: > 0 } given)
                settings[spec.Setting] = given.Tokens[^1].Value;
        return new(null, verb.Verb, settings);
    }

    private string ErrorLine(ParseResult result, Command command, Verb? verb)
    {
        if (result.UnmatchedTokens.Count > 0)
        {
            string token = result.UnmatchedTokens.FirstOrDefault(t => t.StartsWith('-')) ?? result.UnmatchedTokens[0];
            if (verb is null)
                return token.StartsWith('-')
                    ? $"unknown option '{token}'."
                    : $"unknown verb '{token}'; expected one of {string.Join(", ", _verbs.Values.Select(v => v.Verb.Name))}.";
            return token.StartsWith('-')
                ? $"unknown option '{token.Split('=', ':')[0]}' for '{verb.Name}'."
                : $"unexpected argument '{token}' for '{verb.Name}' (every option takes one value; quote values with spaces).";
        }
        return result.Errors.Count > 0 ? result.Errors[0].Message : $"'{command.Name}' needs a verb.";
    }

    private int HelpFor(string? verb, TextWriter output, TextWriter error)
    {
        var invocation = new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false };
        if (string.IsNullOrWhiteSpace(verb)) return _root.Parse(["--help"]).Invoke(invocation);
        if (!_verbs.Keys.Any(c => c.Name == verb))
        {
            error.WriteLine($"error: unknown verb '{verb}'; expected one of {string.Join(", ", _verbs.Values.Select(v => v.Verb.Name))}.");
            error.WriteLine($"Run '{CommandName} --help' for the verbs.");
            return ExitCodes.Usage;
        }
        return _root.Parse([verb, "--help"]).Invoke(invocation);
    }

    /// <summary>System.CommandLine's help, then the verb's details and examples, and the exit codes.</summary>
    private sealed class HelpWithExtras(HelpAction inner, StudyCommandLine cli) : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            inner.Invoke(parseResult);
            var output = parseResult.InvocationConfiguration.Output;
            if (cli._verbs.TryGetValue(parseResult.CommandResult.Command, out var verb))
            {
                if (verb.Verb.Details is { } details) output.WriteLine(details + Environment.NewLine);
                if (verb.Verb.Examples.Count > 0)
                {
                    output.WriteLine("Examples:");
                    foreach (var example in verb.Verb.Examples) output.WriteLine($"  {CommandName} {example}");
                    output.WriteLine();
                }
            }
            else
            {
                output.WriteLine($"Run '{CommandName} help VERB' or '{CommandName} VERB --help' for a verb's options and defaults.");
                output.WriteLine();
            }
            output.WriteLine(ExitCodes.Help);
            return ExitCodes.Ok;
        }
    }
}
