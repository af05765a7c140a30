using MLNet.NoisySeg.Core;

namespace MLNet.NoisySeg.Data.Preprocessing;

/// <summary>A train/validation partition of item ids.</summary>
/// <param name="Train">Training ids, in the seeded shuffled order.</param>
/// <param name="Validation">Validation ids, in the seeded shuffled order.</param>
public sealed record TrainValidationSplit(IReadOnlyList<string> Train, IReadOnlyList<string> Validation);

/// <summary>
/// Seeded shuffling and splitting of item ids (for example file names). Every id gets the key
/// <c>SeededRandom.For(seed, id).NextUInt64()</c> and ids are ordered by (key, ordinal id), so the
/// result depends only on the seed and the set of ids: never on the input order, the platform or
/// the thread count. An id keeps its key when other ids are added or removed.
/// </summary>
public static class DataSplit
{
    /// <summary>Returns the ids in a deterministic pseudo-random order that depends only on <paramref name="seed"/> and the set of ids.</summary>
    /// <param name="ids">Unique item ids.</param>
    /// <param name="seed">The seed.</param>
    /// <returns>A new list with the ids in shuffled order.</returns>
    /// <exception cref="ArgumentException">An id is null or appears twice.</exception>
    public static IReadOnlyList<string> Shuffle(IEnumerable<string> ids, int seed)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var list = ids.ToList();
        var keys = new ulong[list.Count];
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < list.Count; i++)
        {
            string id = list[i] ?? throw new ArgumentException($"ids[{i}] is null.", nameof(ids));
            if (!seen.Add(id)) throw new ArgumentException($"ids must be unique; '{id}' appears more than once.", nameof(ids));
            keys[i] = SeededRandom.For(seed, id).NextUInt64();
        }
        var order = new int[list.Count];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        Array.Sort(order, (a, b) =>
        {
            int c = keys[a].CompareTo(keys[b]);
            return c != 0 ? c : string.CompareOrdinal(list[a], list[b]);
        });
        var result = new string[order.Length];
        for (int i = 0; i < order.Length; i++) result[i] = list[order[i]];
        return result;
    }

    /// <summary>
    /// Number of validation items for <paramref name="count"/> items: <c>round(validationFraction * count)</c>
    /// (midpoint away from zero), then clamped so that both parts are non-empty whenever
    /// <c>0 &lt; validationFraction &lt; 1</c> and <c>count &gt;= 2</c>.
    /// </summary>
    /// <param name="count">Number of items.</param>
    /// <param name="validationFraction">Fraction in [0, 1].</param>
    /// <returns>The validation count.</returns>
    public static int ValidationCount(int count, double validationFraction)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "count must be at least 0.");
        Guard.Probability(validationFraction);
        int k = (int)Math.Round(validationFraction * count, MidpointRounding.AwayFromZero);
        if (validationFraction > 0 && validationFraction < 1 && count >= 2)
            k = Math.Clamp(k, 1, count - 1);
        return k;
    }

    /// <summary>
    /// Splits ids into training and validation parts: the first <see cref="ValidationCount"/> ids
    /// of <see cref="Shuffle"/> go to validation, the rest to training. Deterministic given
    /// (seed, set of ids); the parts are disjoint and together contain every id.
    /// </summary>
    /// <param name="ids">Unique item ids.</param>
    /// <param name="validationFraction">Fraction of ids for validation, in [0, 1].</param>
    /// <param name="seed">The seed.</param>
    /// <returns>The split.</returns>
    public static TrainValidationSplit SplitTrainValidation(IEnumerable<string> ids, double validationFraction, int seed)
    {
        Guard.Probability(validationFraction);
        var shuffled = Shuffle(ids, seed);
        int k = ValidationCount(shuffled.Count, validationFraction);
        var validation = new string[k];
        var train = new string[shuffled.Count - k];
        for (int i = 0; i < shuffled.Count; i++)
        {
            if (i < k) validation[i] = shuffled[i];
            else train[i - k] = shuffled[i];
        }
        return new TrainValidationSplit(train, validation);
    }
}
