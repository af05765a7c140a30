using TorchSharp;

namespace MLNet.NoisySeg.Torch;

/// <summary>
/// Scalars that stay alive while libtorch reads them.
/// </summary>
/// <remarks>
/// TorchSharp 0.107 turns every number passed to a tensor operation into a <see cref="Scalar"/> object: the <c>2.0</c>
/// of <c>t.mul(2.0)</c>, and also the hidden <c>alpha = 1</c> of <c>t.add(u)</c>, <c>t.add(s)</c> and <c>t.add_(1)</c>
/// (BatchNorm's batch counter, its optimizers' updates). Such an object is unreachable as soon as its native handle has
/// been read, its finalizer frees the native scalar, and TorchSharp does not call <c>GC.KeepAlive</c> after the native
/// call. A garbage collection started by any other thread while libtorch is still reading the scalar therefore frees
/// it under libtorch's feet. glibc then overwrites the scalar's type tag, and libtorch either throws ("For integral
/// input tensors, argument alpha must not be a floating point number" from BatchNorm's counter, "Unknown scalar type",
/// a failed check in <c>Scalar::toDouble</c>) or reads a wrong value. A loop of <c>counter.add_(1)</c> against a thread
/// that allocates and collects fails within seconds (see <c>ScalarLifetimeTests</c>).
/// <para>
/// Library code therefore never lets TorchSharp create a scalar for it: it passes either one of the constants here
/// (static, so never collected) or a scalar it holds with <c>using</c> until the operation has returned.
/// </para>
/// </remarks>
internal static class LiveScalars
{
    /// <summary>The integer 1: the <c>alpha</c> TorchSharp passes for <c>add</c>/<c>sub</c> without one, and the batch-counter step.</summary>
    internal static readonly Scalar One = 1.ToScalar();

    /// <summary>The double 1.0.</summary>
    internal static readonly Scalar OneDouble = 1.0.ToScalar();

    /// <summary>The double 2.0.</summary>
    internal static readonly Scalar TwoDouble = 2.0.ToScalar();

    /// <summary>The double 0.0.</summary>
    internal static readonly Scalar ZeroDouble = 0.0.ToScalar();
}
