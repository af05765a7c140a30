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
}

/// <summary>Input of the state-key mapping: it reads no column.</summary>
public sealed class StateKeyInput
{
}

/// <summary>Output of the state-key mapping: a constant key that the state map looks up.</summary>
public sealed class StateKeyOutput
{
    /// <summary>The constant key.</summary>
    [ColumnName(StatefulMapping.KeyColumn)]
    public string Key { get; set; } = StatefulMapping.Key;
}

/// <summary>Stateless factory (found by contract name at load) that emits the constant state key.</summary>
[CustomMappingFactoryAttribute(ContractName)]
public sealed class StateKeyFactory : CustomMappingFactory<StateKeyInput, StateKeyOutput>
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
    protected ChainBackedTransformer(ITransformer inner)
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
