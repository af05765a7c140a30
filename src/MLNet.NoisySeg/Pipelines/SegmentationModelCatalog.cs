using MLNet.NoisySeg.Pipelines;

namespace Microsoft.ML;

/// <summary>
/// Saving and loading model zips safely, on <c>mlContext.Model</c>: <see cref="SaveAtomically(ModelOperationsCatalog, ITransformer, DataViewSchema, string)"/>
/// never leaves a half-written zip in place of a good one, and <see cref="LoadNoisySeg(ModelOperationsCatalog, string, out DataViewSchema)"/>
/// turns every way a damaged zip can fail to load into one <see cref="System.IO.InvalidDataException"/>. Both work for any
/// ML.NET model; for NoisySeg models the load also checks every transform's state.
/// </summary>
public static class SegmentationModelCatalog
{
    /// <summary>
    /// Saves a model like <c>mlContext.Model.Save(model, inputSchema, filePath)</c>, atomically: the zip is written to a
    /// temporary file in the same folder, flushed to disk, and renamed over <paramref name="filePath"/>. If anything fails
    /// (a component's save throws, the disk is full, the process dies) the previous file is left untouched and the
    /// temporary file is removed (a killed process may leave a <c>*.tmp</c> beside it, never a damaged model). The folder is
    /// created if needed. There is no <see cref="System.IO.Stream"/> overload: a stream cannot be rolled back (to write a
    /// stream only after the model serialized completely, save into a <see cref="System.IO.MemoryStream"/> first).
    /// </summary>
    /// <param name="catalog">The model operations catalog (<c>mlContext.Model</c>).</param>
    /// <param name="model">The fitted model.</param>
    /// <param name="inputSchema">The schema of the model's input (may be null, as for <c>Model.Save</c>).</param>
    /// <param name="filePath">The model zip to create or replace.</param>
    public static void SaveAtomically(this ModelOperationsCatalog catalog, ITransformer model, DataViewSchema inputSchema, string filePath)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(model);
        ModelPersistence.SaveAtomically(filePath, stream => catalog.Save(model, inputSchema, stream));
    }

    /// <summary>
    /// Saves a model like <see cref="SaveAtomically(ModelOperationsCatalog, ITransformer, DataViewSchema, string)"/>, with
    /// extra entries in the zip (e.g. an application's record of how the model was trained), all in one atomic write: the
    /// model is serialized in memory, the entries are added, and the complete zip is written to a temporary file, flushed
    /// and renamed over <paramref name="filePath"/>. ML.NET ignores entries it does not know, so the zip still loads with
    /// <c>Model.Load</c> and <see cref="LoadNoisySeg(ModelOperationsCatalog, string, out DataViewSchema)"/> (which checks
    /// the extra entries' CRC-32 too). Read them back with <see cref="System.IO.Compression.ZipFile.OpenRead(string)"/>.
    /// </summary>
    /// <param name="catalog">The model operations catalog (<c>mlContext.Model</c>).</param>
    /// <param name="model">The fitted model.</param>
    /// <param name="inputSchema">The schema of the model's input (may be null, as for <c>Model.Save</c>).</param>
    /// <param name="filePath">The model zip to create or replace.</param>
    /// <param name="extraEntries">Entry name (a relative path with '/' separators) → content.</param>
    /// <exception cref="ArgumentException">An extra entry's name is empty, rooted, or one ML.NET already wrote (ParamName
    /// <c>extraEntries</c>); the previous file is untouched.</exception>
    public static void SaveAtomically(this ModelOperationsCatalog catalog, ITransformer model, DataViewSchema inputSchema, string filePath,
        IReadOnlyDictionary<string, byte[]> extraEntries)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(extraEntries);
        ModelPersistence.SaveAtomically(filePath, stream => ModelPersistence.SaveWithEntries(stream, s => catalog.Save(model, inputSchema, s), extraEntries));
    }

    /// <summary>
    /// Saves a model with its data loader like <c>mlContext.Model.Save(model, loader, filePath)</c>, atomically (see
    /// <see cref="SaveAtomically(ModelOperationsCatalog, ITransformer, DataViewSchema, string)"/>).
    /// </summary>
    /// <typeparam name="TSource">The loader's source type.</typeparam>
    /// <param name="catalog">The model operations catalog (<c>mlContext.Model</c>).</param>
    /// <param name="model">The fitted model.</param>
    /// <param name="loader">The data loader saved with it.</param>
    /// <param name="filePath">The model zip to create or replace.</param>
    public static void SaveAtomically<TSource>(this ModelOperationsCatalog catalog, ITransformer model, IDataLoader<TSource> loader, string filePath)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(loader);
        ModelPersistence.SaveAtomically(filePath, stream => catalog.Save(model, loader, stream));
    }

    /// <summary>
    /// Loads a model zip like <c>mlContext.Model.Load(filePath, out inputSchema)</c>, but a zip whose content is damaged
    /// fails with one exception type, <see cref="System.IO.InvalidDataException"/>, whose message starts with the file path
    /// and names the zip entry when it is known. Before ML.NET parses anything, every entry must decompress to its declared
    /// size with its CRC-32 (ML.NET checks neither, so a flipped byte would otherwise reach its parsers); after loading,
    /// every NoisySeg transform's state must pass its SHA-256 check, so a damaged or modified state fails here rather than
    /// on the first row. Call <c>mlContext.RegisterNoisySeg()</c> first, as for <c>Model.Load</c>.
    /// </summary>
    /// <param name="catalog">The model operations catalog (<c>mlContext.Model</c>).</param>
    /// <param name="filePath">The model zip.</param>
    /// <param name="inputSchema">The input schema saved with the model.</param>
    /// <returns>The model, exactly what <c>Model.Load</c> returns.</returns>
    /// <exception cref="System.IO.InvalidDataException">The file is not a readable zip, an entry is damaged, ML.NET cannot load
    /// its content, or a NoisySeg state fails its check.</exception>
    /// <exception cref="System.IO.FileNotFoundException">The file does not exist (reading errors of the file itself keep their type).</exception>
    /// <exception cref="InvalidOperationException">The model names a component ML.NET did not find: its assembly was not
    /// registered (for NoisySeg, <c>mlContext.RegisterNoisySeg()</c>).</exception>
    public static ITransformer LoadNoisySeg(this ModelOperationsCatalog catalog, string filePath, out DataViewSchema inputSchema)
        => ModelPersistence.Load(catalog, filePath, out inputSchema);

    /// <summary>
    /// Loads a model zip from a stream with the checks of <see cref="LoadNoisySeg(ModelOperationsCatalog, string, out DataViewSchema)"/>;
    /// messages name "the model stream". A stream that cannot seek is copied into memory first.
    /// </summary>
    /// <param name="catalog">The model operations catalog (<c>mlContext.Model</c>).</param>
    /// <param name="stream">A readable stream positioned at the start of the zip.</param>
    /// <param name="inputSchema">The input schema saved with the model.</param>
    /// <returns>The model, exactly what <c>Model.Load</c> returns.</returns>
    /// <exception cref="System.IO.InvalidDataException">The zip's content is damaged (see the path overload).</exception>
    /// <exception cref="InvalidOperationException">The model names a component ML.NET did not find (an unregistered assembly).</exception>
    public static ITransformer LoadNoisySeg(this ModelOperationsCatalog catalog, Stream stream, out DataViewSchema inputSchema)
        => ModelPersistence.Load(catalog, stream, "the model stream", out inputSchema);
}
