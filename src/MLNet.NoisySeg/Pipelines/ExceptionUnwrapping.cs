using System.Runtime.ExceptionServices;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.NoisySeg.Pipelines;

/// <summary>
/// ML.NET computes the rows of a transformed data view on worker threads (its parallel "splitter/consolidator" cursor,
/// and the filler thread of <c>mlContext.Data.Cache</c>) and rethrows a worker's exception on the reading thread wrapped
/// in an <see cref="InvalidOperationException"/> whose message says only that a worker failed; the real error (a NoisySeg
/// mapping's <see cref="ArgumentException"/> or <see cref="InvalidDataException"/>, or any other component's) is its
/// <see cref="Exception.InnerException"/>. Where this library reads a data view itself (the evaluators, the trainers'
/// reading of their input, <c>SegmentationDataView.ReadItems</c>), it reads through <see cref="GetRowCursor"/>, which
/// rethrows the inner exception with its original stack trace. The wrappers add nothing but the thread hop, so they are
/// removed whatever the inner exception is. A cursor that ML.NET or the user drives (<c>GetColumn</c>,
/// <c>CreateEnumerable</c>, a user's own cursor) cannot be reached from here and keeps ML.NET's wrapper; a
/// <c>PredictionEngine</c> runs on the caller's thread and is not wrapped.
/// </summary>
internal static class ExceptionUnwrapping
{
    /// <summary>ML.NET's wrapper around an exception of a parallel cursor's worker (<c>DataViewUtils.Splitter</c>).</summary>
    internal const string WorkerMessage = "Splitter/consolidator worker encountered exception while consuming source data";

    /// <summary>ML.NET's wrapper around an exception of the cache's filler thread (<c>CacheDataView</c>).</summary>
    internal const string CacheMessage = "Event we were waiting on was subject to an exception";

    /// <summary>True for one of ML.NET's thread-hop wrappers (exactly an <see cref="InvalidOperationException"/> with one of their messages and an inner exception).</summary>
    public static bool IsWorkerWrapper(Exception e)
        => e.GetType() == typeof(InvalidOperationException) && e.InnerException is not null
           && (e.Message.StartsWith(WorkerMessage, StringComparison.Ordinal) || e.Message.StartsWith(CacheMessage, StringComparison.Ordinal));

    /// <summary>The exception inside ML.NET's thread-hop wrappers (<paramref name="e"/> itself when it is not one).</summary>
    public static Exception Unwrap(Exception e)
    {
        while (IsWorkerWrapper(e)) e = e.InnerException!;
        return e;
    }

    /// <summary>A cursor over <paramref name="data"/> whose MoveNext and getters rethrow the inner exception of ML.NET's wrappers.</summary>
    public static DataViewRowCursor GetRowCursor(IDataView data, IEnumerable<DataViewSchema.Column> columns)
    {
        ArgumentNullException.ThrowIfNull(data);
        try
        {
            return new UnwrappingCursor(data.GetRowCursor(columns));
        }
        catch (InvalidOperationException e) when (IsWorkerWrapper(e))
        {
            throw Rethrow(e);
        }
    }

    /// <summary>Rethrows the unwrapped exception with its original stack trace (the return value only satisfies the compiler).</summary>
    private static Exception Rethrow(Exception wrapper)
    {
        ExceptionDispatchInfo.Capture(Unwrap(wrapper)).Throw();
        return wrapper;
    }

    private sealed class UnwrappingCursor(DataViewRowCursor inner) : DataViewRowCursor
    {
        public override DataViewSchema Schema => inner.Schema;

        public override long Position => inner.Position;

        public override long Batch => inner.Batch;

        public override bool MoveNext()
        {
            try
            {
                return inner.MoveNext();
            }
            catch (InvalidOperationException e) when (IsWorkerWrapper(e))
            {
                throw Rethrow(e);
            }
        }

        public override ValueGetter<DataViewRowId> GetIdGetter() => inner.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) => inner.IsColumnActive(column);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            var getter = inner.GetGetter<TValue>(column);
            return (ref TValue value) =>
            {
                try
                {
                    getter(ref value);
                }
                catch (InvalidOperationException e) when (IsWorkerWrapper(e))
                {
                    throw Rethrow(e);
                }
            };
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
