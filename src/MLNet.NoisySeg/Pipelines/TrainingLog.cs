using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNet.NoisySeg.Training;

namespace MLNet.NoisySeg.Pipelines;

/// <summary>
/// Reports training progress to <c>MLContext.Log</c> through the context's channel, as ML.NET's own trainers do: every
/// <c>every</c> steps (and at the last step, and whenever validation metrics arrive) one Info message with the step,
/// epoch, loss, learning rate, validation metrics, elapsed time and ETA. Forwards every report to the user's progress.
/// </summary>
internal sealed class TrainingLog : IProgress<TrainingProgress>, IDisposable
{
    private readonly IChannel _channel;
    private readonly IProgress<TrainingProgress>? _user;
    private readonly int _requested;
    private int _every;

    public TrainingLog(MLContext mlContext, string trainerName, int every, IProgress<TrainingProgress>? user)
    {
        var host = ((IHostEnvironment)mlContext).Register(trainerName);
        _channel = host.Start("Training");
        _user = user;
        _requested = every;
    }

    /// <summary>Writes one Info message to <c>MLContext.Log</c>.</summary>
    public void Info(string message) => _channel.Info(MessageSensitivity.None, message);

    public void Report(TrainingProgress p)
    {
        _user?.Report(p);
        if (_every == 0) _every = _requested > 0 ? _requested : Math.Max(1, p.TotalSteps / 20);
        if (p.Step % _every != 0 && p.Step != p.TotalSteps && p.Validation is null) return;
        Info(Format(p));
    }

    internal static string Format(TrainingProgress p)
    {
        var s = string.Create(CultureInfo.InvariantCulture,
            $"step {p.Step}/{p.TotalSteps} epoch {p.Epoch + 1}: loss {p.Loss:0.0000}, lr {p.LearningRate:0.######}");
        if (p.Validation is { Count: > 0 } v)
            s += ", validation " + string.Join(", ", v.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value:0.0000}")));
        return s + string.Create(CultureInfo.InvariantCulture, $"; elapsed {p.Elapsed:hh\\:mm\\:ss}, ETA {p.Eta:hh\\:mm\\:ss}");
    }

    public void Dispose() => _channel.Dispose();
}
