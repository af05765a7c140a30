namespace MLNet.NoisySeg.Training;

/// <summary>What a non-finite training step points to.</summary>
public enum DivergenceCause
{
    /// <summary>The loss is already non-finite before any update: the batch (images or labels) holds bad values.</summary>
    BadInput,

    /// <summary>The loss was finite and the learning rate is large: the updates blew the weights up.</summary>
    LearningRate,

    /// <summary>
    /// The loss was finite but a gradient is not, at an ordinary learning rate: a numerical fault below the
    /// network, typically a CPU convolution kernel (see <see cref="Torch.TorchRuntime.ConvolutionRoute"/>).
    /// </summary>
    NumericalFault,
}

/// <summary>
/// Training produced a non-finite loss or gradient. Thrown at the step where it happened, before the optimizer
/// applies it, so the weights are never overwritten with NaN or infinity.
/// </summary>
public sealed class TrainingDivergedException : Exception
{
    /// <summary>Learning rates above this count as "large" when diagnosing a divergence.</summary>
    public const double LargeLearningRate = 1.0;

    /// <summary>Creates the exception; the message names the step, the loss, the learning rate and the likely cause.</summary>
    /// <param name="step">The 1-based training step that went non-finite.</param>
    /// <param name="loss">The step's loss (possibly NaN or infinite).</param>
    /// <param name="learningRate">The learning rate of the step.</param>
    /// <param name="nonFiniteGradients">Names of the parameters whose gradient is non-finite (empty when the loss is).</param>
    public TrainingDivergedException(int step, double loss, double learningRate, IReadOnlyList<string> nonFiniteGradients)
        : base(BuildMessage(step, loss, learningRate, nonFiniteGradients, out DivergenceCause cause))
    {
        Step = step;
        Loss = loss;
        LearningRate = learningRate;
        NonFiniteGradients = nonFiniteGradients;
        LikelyCause = cause;
    }

    /// <summary>The 1-based step that went non-finite.</summary>
    public int Step { get; }

    /// <summary>The loss at that step.</summary>
    public double Loss { get; }

    /// <summary>The learning rate at that step.</summary>
    public double LearningRate { get; }

    /// <summary>Parameters whose gradient held NaN or infinity (empty when the loss itself was non-finite).</summary>
    public IReadOnlyList<string> NonFiniteGradients { get; }

    /// <summary>The most likely cause, from the loss, the gradients and the learning rate.</summary>
    public DivergenceCause LikelyCause { get; }

    private static string BuildMessage(int step, double loss, double learningRate, IReadOnlyList<string> bad, out DivergenceCause cause)
    {
        ArgumentNullException.ThrowIfNull(bad);
        string where = bad.Count == 0 ? $"loss {loss:R}"
            : $"loss {loss:R}, non-finite gradient in {string.Join(", ", bad.Take(3))}{(bad.Count > 3 ? $" and {bad.Count - 3} more" : "")}";
        string why;
        if (!double.IsFinite(loss) && step == 1)
        {
            cause = DivergenceCause.BadInput;
            why = "the first loss is already non-finite: check the images and labels of the batch (non-finite pixels, labels outside the classes)";
        }
        else if (learningRate > LargeLearningRate || (!double.IsFinite(loss) && bad.Count == 0))
        {
            cause = DivergenceCause.LearningRate;
            why = $"the learning rate {learningRate:G4} is too large for this network and loss (the weights grew until the loss overflowed); lower it";
        }
        else
        {
            cause = DivergenceCause.NumericalFault;
            why = "the loss was finite and the learning rate is ordinary, so a numerical fault below the network is likely: a CPU convolution kernel "
                + "(see TorchRuntime.ConvolutionRoute and docs/design-decisions.md) or a gradient explosion; report it with `lscpu`";
        }
        return $"Training diverged at step {step} ({where}, learning rate {learningRate:G4}): {why}. The weights were not updated with it.";
    }
}
