using MLNet.NoisySeg.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.NoisySeg.Training;

/// <summary>
/// TorchSharp's optimizers with the same updates, state and state-dictionary format, except that every number reaches
/// libtorch as a scalar held alive for the call. TorchSharp's own <c>step</c> converts its coefficients to scalars
/// implicitly, and a garbage collection started by another thread can free one while libtorch reads it (see
/// <see cref="LiveScalars"/>). The classes keep TorchSharp's type names: a state dictionary records the optimizer's
/// type name, so checkpoints move freely between these and TorchSharp's own.
/// </summary>
internal static class LiveScalarOptimizers
{
    /// <summary>TorchSharp's Adam, with scalars held alive (see <see cref="LiveScalarOptimizers"/>).</summary>
    internal sealed class Adam(IEnumerable<Parameter> parameters, double lr, double weightDecay)
        : TorchSharp.Modules.Adam(parameters, lr, weight_decay: weightDecay)
    {
        /// <inheritdoc/>
        public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
        {
            var options = (Options)group.Options;
            double beta1 = options.beta1!.Value, beta2 = options.beta2!.Value, eps = options.eps!.Value;
            double weightDecay = options.weight_decay!.Value, lr = options.LearningRate!.Value;
            bool amsgrad = options.amsgrad!.Value, maximize = options.maximize!.Value;
            using Scalar b1 = beta1.ToScalar(), oneMinusB1 = (1 - beta1).ToScalar();
            using Scalar b2 = beta2.ToScalar(), oneMinusB2 = (1 - beta2).ToScalar();
            using Scalar epsilon = eps.ToScalar(), decay = weightDecay.ToScalar();
            foreach (var param in group.Parameters)
            {
                var state = (State)_state[param.Handle];
                Tensor? grad = param.grad;
                if (grad is null) continue;
                if (maximize) grad = grad.neg();
                state.step += 1;
                double biasCorrection1 = 1 - Math.Pow(beta1, state.step);
                double biasCorrection2 = 1 - Math.Pow(beta2, state.step);
                if (weightDecay != 0) grad = grad.add(param, decay);

                state.exp_avg.mul_(b1).add_(grad, oneMinusB1);
                state.exp_avg_sq.mul_(b2).addcmul_(grad, grad.conj(), oneMinusB2);
                using Scalar sqrtBc2 = Math.Sqrt(biasCorrection2).ToScalar();
                Tensor denom;
                if (amsgrad)
                {
                    var previous = state.max_exp_avg_sq;
                    state.max_exp_avg_sq = maximum(previous, state.exp_avg_sq).DetachFromDisposeScope();
                    previous.Dispose();
                    denom = state.max_exp_avg_sq.sqrt().div(sqrtBc2).add_(epsilon, LiveScalars.One);
                }
                else
                {
                    denom = state.exp_avg_sq.sqrt().div(sqrtBc2).add_(epsilon, LiveScalars.One);
                }
                using Scalar stepSize = (-(lr / biasCorrection1)).ToScalar();
                param.addcdiv_(state.exp_avg, denom, stepSize);
            }
        }, closure);
    }

    /// <summary>TorchSharp's SGD, with scalars held alive (see <see cref="LiveScalarOptimizers"/>).</summary>
    internal sealed class SGD(IEnumerable<Parameter> parameters, double lr, double momentum, double weightDecay)
        : TorchSharp.Modules.SGD(parameters, lr, momentum: momentum, weight_decay: weightDecay)
    {
        /// <inheritdoc/>
        public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
        {
            var options = group.Options;
            double momentum = options.momentum!.Value, dampening = options.dampening!.Value;
            double weightDecay = options.weight_decay!.Value, lr = options.LearningRate!.Value;
            bool nesterov = options.nesterov!.Value, maximize = options.maximize!.Value;
            using Scalar mom = momentum.ToScalar(), oneMinusDampening = (1 - dampening).ToScalar();
            using Scalar decay = weightDecay.ToScalar(), alpha = (maximize ? lr : -lr).ToScalar();
            foreach (var param in group.Parameters)
            {
                var state = (State)_state[param.Handle];
                Tensor? grad = param.grad;
                if (grad is null) continue;
                if (weightDecay != 0) grad = grad.add(param, decay);
                if (momentum != 0)
                {
                    var buf = state.momentum_buffer;
                    if (buf is null)
                    {
                        buf = grad.clone().detach().DetachFromDisposeScope();
                        state.momentum_buffer = buf;
                    }
                    else
                    {
                        buf.mul_(mom).add_(grad, oneMinusDampening);
                    }
                    grad = nesterov ? grad.add(buf, mom) : buf;
                }
                param.add_(grad, alpha);
            }
        }, closure);
    }
}
