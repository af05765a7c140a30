using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.NoisySeg.Pipelines;

/// <summary>
/// The one base of every NoisySeg estimator, transforms and trainers alike. <see cref="Fit"/> checks the input columns,
/// lets the estimator compute its state from the data (the column shapes; for a trainer, the training), builds the
/// public-API chain that carries that state into model zips (<see cref="StatefulMapping"/>) and wraps the fitted chain
/// in the estimator's typed transformer. <see cref="GetOutputSchema"/> builds the same chain with the shapes unknown.
/// Only this library derives from it.
/// </summary>
/// <typeparam name="TTransformer">The fitted transformer.</typeparam>
public abstract class NoisySegEstimator<TTransformer> : IEstimator<TTransformer>
    where TTransformer : ITransformer
{
    private readonly TransformsCatalog _catalog;

    private protected NoisySegEstimator(TransformsCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        _catalog = catalog;
    }

    /// <summary>The columns Fit reads; checked by Fit and GetOutputSchema alike.</summary>
    private protected abstract IEnumerable<InputColumn> InputColumns { get; }

    /// <summary>The Fit-time work: the plan of the chain (with the state) and how to wrap the fitted chain.</summary>
    private protected abstract (MappingPlan Plan, Func<ITransformer, TTransformer> Wrap) FitPlan(IDataView input);

    /// <summary>The plan with the shapes (and the trained state) unknown, for GetOutputSchema.</summary>
    private protected abstract MappingPlan SchemaPlan();

    /// <inheritdoc />
    public TTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        foreach (var column in InputColumns) column.Require(input.Schema);
        var (plan, wrap) = FitPlan(input);
        return wrap(plan.Build(_catalog).Fit(input));
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        foreach (var column in InputColumns) column.Require(inputSchema);
        return SchemaPlan().Build(_catalog).GetOutputSchema(inputSchema);
    }
}

/// <summary>A column an estimator reads: a vector of <see cref="ItemType"/> (image, mask) or, when not a vector, a text identity.</summary>
/// <param name="Name">Column name.</param>
/// <param name="ItemType">Item type (Single for images, Byte for masks, Text for identities).</param>
/// <param name="Role">What the column is, for messages ("image", "mask", ...).</param>
/// <param name="Hint">Appended to the message when the column is missing or of another type.</param>
internal sealed record InputColumn(string Name, PrimitiveDataViewType ItemType, string Role, string Hint = "")
{
    private bool IsText => ItemType is TextDataViewType;

    /// <summary>The column in a data schema; throws <see cref="ArgumentException"/> naming it when absent or of another type.</summary>
    public DataViewSchema.Column Require(DataViewSchema schema)
    {
        if (!IsText) return SchemaChecks.RequireVector(schema, Name, ItemType, Role, Hint);
        var col = schema.GetColumnOrNull(Name);
        if (col is null || col.Value.Type is not TextDataViewType)
            throw new ArgumentException($"The {Role} column '{Name}' (text) was not found or is not text.{Hint}", "input");
        return col.Value;
    }

    /// <summary>The same check on a schema shape.</summary>
    public void Require(SchemaShape schema)
    {
        if (!IsText)
        {
            SchemaChecks.RequireVectorShape(schema, Name, ItemType, Role, Hint);
            return;
        }
        if (!schema.Any(c => c.Name == Name && c.ItemType is TextDataViewType))
            throw new ArgumentException($"The {Role} column '{Name}' (text) was not found.{Hint}", nameof(schema));
    }
}
