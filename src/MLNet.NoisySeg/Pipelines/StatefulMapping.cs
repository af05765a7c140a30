using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace MLNet.NoisySeg.Pipelines;

/// <summary>
/// Builds the public-API-only ML.NET pipeline every NoisySeg transform is made of, so that a fitted
/// pipeline is saved and loaded by plain <c>mlContext.Model.Save</c>/<c>Load</c> (see docs/design-decisions.md):
/// <list type="number">
/// <item>a stateless <c>CustomMapping</c> (<see cref="StateKeyFactory"/>) emits a constant key column;</item>
/// <item>a one-entry <c>ValueMapping</c> maps that key to the transform's serialized state (options, weights);</item>
/// <item><c>CopyColumns</c> copies the user's input columns to fixed internal names;</item>
/// <item>the transform's own <c>CustomMapping</c> (found again at load by its contract name) computes outputs
/// from the internal inputs and the state;</item>
/// <item><c>CopyColumns</c> publishes the outputs under the user's names and <c>DropColumns</c> removes the internal ones.</item>
/// </list>
/// ML.NET saves each of these with its own public persistence; nothing here touches ML.NET internals.
/// </summary>
internal static class StatefulMapping
{
    /// <summary>Internal column carrying the constant state key.</summary>
    public const string KeyColumn = "__NoisySeg_StateKey";
    /// <summary>Internal column carrying the state bytes.</summary>
    public const string StateColumn = "__NoisySeg_State";
    /// <summary>The single key of the state map.</summary>
    public const string Key = "state";

    /// <summary>Builds the estimator chain.</summary>
    /// <typeparam name="TSrc">The compute mapping's input row (internal column names + a State byte[] column).</typeparam>
    /// <typeparam name="TDst">The compute mapping's output row (internal column names).</typeparam>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="state">The serialized state.</param>
    /// <param name="inputs">User input column -> internal column.</param>
    /// <param name="mapping">The compute action (the same instance the factory returns).</param>
    /// <param name="contractName">The compute factory's contract name.</param>
    /// <param name="outputs">Internal output column -> user output column, with its shaped type for the live pipeline.</param>
    public static IEstimator<ITransformer> Build<TSrc, TDst>(TransformsCatalog catalog, byte[] state,
        IReadOnlyList<(string User, string Internal)> inputs, Action<TSrc, TDst> mapping, string contractName,
        IReadOnlyList<(string Internal, string User, DataViewType? Type)> outputs)
        where TSrc : class, new()
        where TDst : class, new()
    {
        IEstimator<ITransformer> chain = catalog.CustomMapping(StateKeyFactory.Mapping, StateKeyFactory.ContractName);
        chain = chain.Append(catalog.Conversion.MapValue(StateColumn,
            new[] { new KeyValuePair<string, byte[]>(Key, state) }, KeyColumn));
        foreach (var (user, intern) in inputs)
            chain = chain.Append(catalog.CopyColumns(intern, user));
        SchemaDefinition? outDef = null;
        if (outputs.Any(o => o.Type is not null))
        {
            outDef = SchemaDefinition.Create(typeof(TDst), SchemaDefinition.Direction.Write);
            foreach (var (intern, _, type) in outputs)
                if (type is not null) outDef[intern].ColumnType = type;
        }
        chain = chain.Append(catalog.CustomMapping(mapping, contractName, outputSchemaDefinition: outDef));
        foreach (var (intern, user, _) in outputs)
            chain = chain.Append(catalog.CopyColumns(user, intern));
        var drop = new List<string> { KeyColumn, StateColumn };
        drop.AddRange(inputs.Select(i => i.Internal));
        drop.AddRange(outputs.Select(o => o.Internal));
        return chain.Append(catalog.DropColumns(drop.Distinct().ToArray()));
    }

    /// <summary>
    /// The state bytes of a chain built by <see cref="Build{TSrc, TDst}"/> and loaded back from a zip (its first two
    /// transformers are the state key and the state map), or null when the two transformers are something else.
    /// </summary>
    public static byte[]? ReadState(ITransformer keyMapping, ITransformer stateMap)
    {
        try
        {
            var row = new MLContext().Data.LoadFromEnumerable(new[] { new NoColumnsRow() });
            if (keyMapping.GetOutputSchema(row.Schema).GetColumnOrNull(KeyColumn) is null) return null;
            var withState = stateMap.Transform(keyMapping.Transform(row));
            if (withState.Schema.GetColumnOrNull(StateColumn) is not { Type: VectorDataViewType { ItemType: NumberDataViewType } } column) return null;
            return withState.GetColumn<VBuffer<byte>>(column).First().DenseValues().ToArray();
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            return null; // not a NoisySeg chain: the transformer needs columns the probe row does not have
        }
    }

    /// <summary>A row for probing chains: one placeholder column that no NoisySeg component reads.</summary>
    private sealed class NoColumnsRow
    {
        public float NoisySegProbe { get; set; }
    }
}

/// <summary>Input of the state-key mapping: it reads no column.</summary>
internal sealed class StateKeyInput
{
}

/// <summary>Output of the state-key mapping: a constant key that the state map looks up.</summary>
internal sealed class StateKeyOutput
{
    /// <summary>The constant key.</summary>
    [ColumnName(StatefulMapping.KeyColumn)]
    public string Key { get; set; } = StatefulMapping.Key;
}

/// <summary>Stateless factory (found by contract name at load) that emits the constant state key.</summary>
[CustomMappingFactoryAttribute(ContractName)]
internal sealed class StateKeyFactory : CustomMappingFactory<StateKeyInput, StateKeyOutput>
{
    /// <summary>Contract name stored in model zips.</summary>
    public const string ContractName = "NoisySeg.StateKey.v1";

    /// <summary>The mapping action.</summary>
    public static readonly Action<StateKeyInput, StateKeyOutput> Mapping = (_, o) => o.Key = StatefulMapping.Key;

    /// <inheritdoc />
    public override Action<StateKeyInput, StateKeyOutput> GetMapping() => Mapping;
}

/// <summary>
/// An <see cref="ITransformer"/> that is a public ML.NET chain inside: it transforms and saves exactly like the
/// chain, so a model zip holds only standard ML.NET components. After <c>mlContext.Model.Load</c> the same
/// computation comes back as a plain <see cref="TransformerChain{TLastTransformer}"/>.
/// </summary>
public abstract class ChainBackedTransformer : ITransformer
{
    private readonly ITransformer _inner;

    /// <summary>Wraps a fitted chain.</summary>
    /// <param name="inner">The fitted public-API chain.</param>
    private protected ChainBackedTransformer(ITransformer inner)
    {
        _inner = inner ?? throw new ArgumentNullException(nameof(inner));
    }

    /// <inheritdoc />
    public bool IsRowToRowMapper => _inner.IsRowToRowMapper;

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => _inner.GetOutputSchema(inputSchema);

    /// <inheritdoc />
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => _inner.GetRowToRowMapper(inputSchema);

    /// <inheritdoc />
    public virtual IDataView Transform(IDataView input) => _inner.Transform(input);

    /// <inheritdoc />
    void ICanSaveModel.Save(ModelSaveContext ctx) => ((ICanSaveModel)_inner).Save(ctx);
}

/// <summary>
/// Everything <see cref="StatefulMapping.Build{TSrc, TDst}"/> needs to build one transform's chain: its state bytes, which
/// user columns feed which internal ones, the per-row mapping and its contract, and the outputs (with their shaped type
/// when the shapes are known). A plan is built once at Fit and once, with unknown shapes, for GetOutputSchema.
/// </summary>
internal abstract class MappingPlan
{
    /// <summary>The estimator chain of this plan.</summary>
    public abstract IEstimator<ITransformer> Build(TransformsCatalog catalog);
}

/// <summary>A <see cref="MappingPlan"/> of a mapping from <typeparamref name="TSrc"/> rows to <typeparamref name="TDst"/> rows.</summary>
internal sealed class MappingPlan<TSrc, TDst>(byte[] state, IReadOnlyList<(string User, string Internal)> inputs, Action<TSrc, TDst> mapping,
    string contractName, IReadOnlyList<(string Internal, string User, DataViewType? Type)> outputs) : MappingPlan
    where TSrc : class, new()
    where TDst : class, new()
{
    /// <inheritdoc />
    public override IEstimator<ITransformer> Build(TransformsCatalog catalog)
        => StatefulMapping.Build(catalog, state, inputs, mapping, contractName, outputs);
}

/// <summary>A mapping's input row: every one carries the transform's state bytes in <see cref="StatefulMapping.StateColumn"/>.</summary>
internal interface IStateRow
{
    /// <summary>The serialized state (<see cref="StateBlob"/>).</summary>
    byte[] State { get; }
}

/// <summary>
/// Base of the per-row mappings of NoisySeg transforms (the <c>CustomMapping</c> factories found again at load by their
/// contract name): decodes the state of a row once per content (<see cref="StateCache{T}"/>) and maps the row with it.
/// A derived factory supplies the contract name, how to decode its state and the mapping itself.
/// </summary>
/// <typeparam name="TSelf">The derived factory (one static cache and one mapping delegate per factory).</typeparam>
/// <typeparam name="TSrc">Input row (internal column names and the state).</typeparam>
/// <typeparam name="TDst">Output row (internal column names).</typeparam>
/// <typeparam name="TState">The decoded state.</typeparam>
internal abstract class StateMappingFactory<TSelf, TSrc, TDst, TState> : CustomMappingFactory<TSrc, TDst>
    where TSelf : StateMappingFactory<TSelf, TSrc, TDst, TState>, new()
    where TSrc : class, IStateRow, new()
    where TDst : class, new()
    where TState : class
{
    private static readonly TSelf Instance = new();
    private static readonly StateCache<TState> Cache = new(Instance.Decode, Instance.CacheCapacity);

    /// <summary>The mapping action, the same live (at Fit) and after load (<see cref="GetMapping"/>).</summary>
    public static readonly Action<TSrc, TDst> Mapping = (i, o) => Instance.Map(i, o, Cache.Get(i.State));

    /// <summary>Contract name stored in model zips; never change it (saved models name it).</summary>
    protected abstract string Contract { get; }

    /// <summary>Decoded states kept per process.</summary>
    protected virtual int CacheCapacity => 64;

    /// <summary>Decodes a verified state payload.</summary>
    protected abstract TState Decode(byte[] payload);

    /// <summary>Maps one row with its decoded state.</summary>
    protected abstract void Map(TSrc input, TDst output, TState state);

    /// <inheritdoc />
    public sealed override Action<TSrc, TDst> GetMapping() => Mapping;

    /// <summary>The plan of a chain carrying <paramref name="state"/> through this mapping.</summary>
    public static MappingPlan<TSrc, TDst> Plan(byte[] state, IReadOnlyList<(string User, string Internal)> inputs,
        IReadOnlyList<(string Internal, string User, DataViewType? Type)> outputs)
        => new(state, inputs, Mapping, Instance.Contract, outputs);

    /// <summary>The decoded state of <paramref name="blob"/> (decoded once per content).</summary>
    public static TState Get(byte[] blob) => Cache.Get(blob);

    /// <summary>Serves <paramref name="value"/> for <paramref name="blob"/> without decoding it (e.g. the network a trainer just trained).</summary>
    public static void Remember(byte[] blob, TState value) => Cache.Put(blob, value);

    /// <summary>Drops <paramref name="value"/> from the cache if it is what <paramref name="blob"/> maps to.</summary>
    public static void Forget(byte[] blob, TState value) => Cache.Remove(blob, value);
}
