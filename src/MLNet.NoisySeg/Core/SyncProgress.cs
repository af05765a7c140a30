namespace MLNet.NoisySeg.Core;

/// <summary>
/// An <see cref="IProgress{T}"/> that reports on the calling thread, in order (<see cref="Progress{T}"/> posts to the
/// thread pool or a synchronization context, which reorders reports and outlives the work).
/// </summary>
/// <typeparam name="T">The report.</typeparam>
internal sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
{
    /// <inheritdoc/>
    public void Report(T value) => report(value);
}
