using System.IO.Compression;
using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Transforms;
using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Data;

namespace MLNet.NoisySeg.Pipelines;

/// <summary>
/// The implementation behind <c>mlContext.Model.SaveAtomically</c> and <c>mlContext.Model.LoadNoisySeg</c>
/// (<see cref="Microsoft.ML.SegmentationModelCatalog"/>): atomic replacement of a model zip, and a load that turns every
/// failure caused by the file's content into one <see cref="InvalidDataException"/> naming the file (and the zip entry when
/// it is known), while failures of the environment keep their own type.
/// </summary>
internal static class ModelPersistence
{
    /// <summary>The contract names of this library's components stored in model zips: every CustomMapping factory it defines.</summary>
    private static readonly HashSet<string> Contracts = typeof(ModelPersistence).Assembly.GetTypes()
        .Select(t => t.GetCustomAttribute<CustomMappingFactoryAttributeAttribute>(inherit: false)?.ContractName)
        .OfType<string>().ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// Lets <paramref name="save"/> write the model into a temporary file in the folder of <paramref name="filePath"/>,
    /// flushes it to disk and renames it over <paramref name="filePath"/> (<see cref="AtomicFile"/>). On any failure the
    /// temporary file is deleted and the previous file is untouched.
    /// </summary>
    /// <param name="filePath">The model zip.</param>
    /// <param name="save">Writes the model into the stream (it must not close it).</param>
    /// <param name="intercept">Test seam: wraps the temporary file's stream (e.g. to simulate a full disk).</param>
    public static void SaveAtomically(string filePath, Action<Stream> save, Func<Stream, Stream>? intercept = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(filePath);
        ArgumentNullException.ThrowIfNull(save);
        AtomicFile.Write(filePath, file =>
        {
            var target = intercept is null ? file : intercept(file);
            save(target);
            target.Flush();
        });
    }

    /// <summary>
    /// Lets <paramref name="save"/> write a model zip into memory, adds <paramref name="extraEntries"/> to it and copies the
    /// result to <paramref name="target"/>. Nothing reaches <paramref name="target"/> unless the model serialized completely
    /// and every entry was added.
    /// </summary>
    /// <exception cref="ArgumentException">An entry name is empty, rooted, contains '\' or "..", or is already in the zip.</exception>
    public static void SaveWithEntries(Stream target, Action<Stream> save, IReadOnlyDictionary<string, byte[]> extraEntries)
    {
        var zip = new MemoryStream();
        save(zip);
        zip.Position = 0;
        using (var archive = new ZipArchive(zip, ZipArchiveMode.Update, leaveOpen: true))
        {
            var existing = archive.Entries.Select(e => e.FullName).ToHashSet(StringComparer.Ordinal);
            foreach (var (name, content) in extraEntries)
            {
                if (string.IsNullOrWhiteSpace(name) || name.StartsWith('/') || name.Contains('\\') || name.Split('/').Contains(".."))
                    throw new ArgumentException($"Extra zip entry name '{name}' must be a relative path with '/' separators.", nameof(extraEntries));
                if (!existing.Add(name))
                    throw new ArgumentException($"Extra zip entry '{name}' is already in the model zip.", nameof(extraEntries));
                ArgumentNullException.ThrowIfNull(content, nameof(extraEntries));
                using var entry = archive.CreateEntry(name, CompressionLevel.Optimal).Open();
                entry.Write(content);
            }
        }
        zip.Position = 0;
        zip.CopyTo(target);
    }

    /// <summary>Loads a model zip from a file; see <see cref="Load(ModelOperationsCatalog, Stream, string, out DataViewSchema)"/>.</summary>
    public static ITransformer Load(ModelOperationsCatalog catalog, string filePath, out DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentException.ThrowIfNullOrWhiteSpace(filePath);
        // A missing file, a folder or a permission problem is not a damaged model: those exceptions pass unchanged.
        using var file = new FileStream(filePath, FileMode.Open, FileAccess.Read, FileShare.Read);
        return Load(catalog, file, filePath, out inputSchema);
    }

    /// <summary>
    /// Loads a model zip in four steps: (1) every zip entry must decompress to its declared size with its CRC-32 (ML.NET
    /// does not check CRCs, so a flipped byte would otherwise reach its parsers, or our state); (2) ML.NET's
    /// <c>Model.Load</c>; (3) the model must apply to the input schema saved with it (ML.NET binds column names only then);
    /// (4) every NoisySeg state in the loaded chain must pass its SHA-256 check. A failure caused by the
    /// content is an <see cref="InvalidDataException"/> whose message starts with <paramref name="source"/>; a failure to
    /// read the stream itself, out-of-memory and cancellation keep their type; a component ML.NET cannot find (an
    /// unregistered assembly) is an <see cref="InvalidOperationException"/> saying what to register.
    /// </summary>
    public static ITransformer Load(ModelOperationsCatalog catalog, Stream stream, string source, out DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanRead) throw new ArgumentException("The model stream must be readable.", nameof(stream));
        Stream seekable = stream;
        if (!stream.CanSeek)
        {
            var copy = new MemoryStream();
            stream.CopyTo(copy); // a failure to read the caller's stream passes unchanged
            copy.Position = 0;
            seekable = copy;
        }
        long start = seekable.Position;
        var guarded = new SourceStream(seekable);

        var entries = CheckZip(guarded, source);

        guarded.Position = start;
        ITransformer model;
        try
        {
            model = catalog.Load(guarded, out inputSchema);
        }
        catch (Exception e) when (!guarded.Failed && MissingComponent(e) is { } contract)
        {
            throw new InvalidOperationException(Contracts.Contains(contract)
                ? $"{source} holds the NoisySeg component '{contract}', which ML.NET finds only in registered assemblies: call mlContext.RegisterNoisySeg() before loading."
                : $"{source} names the component '{contract}', which ML.NET did not find: register the assembly that defines it (mlContext.ComponentCatalog.RegisterAssembly) before loading. " +
                  "If no such component exists, the file was modified after it was saved.", e);
        }
        catch (Exception e) when (IsContentError(e, guarded))
        {
            var innermost = Innermost(e);
            throw new InvalidDataException($"{source}: ML.NET could not load the model: {innermost.GetType().Name}: {Sentence(innermost.Message)} " +
                "Every zip entry passed its CRC-32 check, so entry names or contents were changed after saving, or the model needs a component this process does not have.", e);
        }

        // ML.NET resolves the columns a transform reads only when it meets a schema: with the saved input schema, a column
        // name changed in the zip fails here, not at the caller's first Transform.
        if (inputSchema is not null)
        {
            try
            {
                model.GetOutputSchema(inputSchema);
            }
            catch (Exception e) when (IsContentError(e, guarded))
            {
                throw new InvalidDataException($"{source}: the model does not apply to the input schema saved with it: {Innermost(e).GetType().Name}: {Sentence(Innermost(e).Message)} " +
                    "Either the file was modified after saving, or the model was saved with a schema other than its input's.", e);
            }
        }
        VerifyStates(model, "TransformerChain", entries, source);
        return model;
    }

    /// <summary>True when <paramref name="e"/> can only come from the bytes read, not from the stream, the process or the caller.</summary>
    private static bool IsContentError(Exception e, SourceStream stream)
        => !stream.Failed && e is not (OutOfMemoryException or OperationCanceledException or ThreadInterruptedException or InsufficientExecutionStackException);

    /// <summary>Reads every entry once: its data must decompress to the declared size and match the stored CRC-32. Returns the entry names.</summary>
    private static HashSet<string> CheckZip(SourceStream stream, string source)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        string? current = null;
        try
        {
            using var archive = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
            var buffer = new byte[1 << 16];
            foreach (var entry in archive.Entries)
            {
                current = entry.FullName;
                names.Add(current);
                using var data = entry.Open();
                long total = 0;
                uint crc = 0;
                int n;
                while ((n = data.Read(buffer)) > 0)
                {
                    total += n;
                    if (total > entry.Length) throw new InvalidDataException($"it decompresses to more than its declared {entry.Length} bytes.");
                    crc = Crc32.Append(crc, buffer.AsSpan(0, n));
                }
                if (total != entry.Length) throw new InvalidDataException($"it holds {total} bytes, not its declared {entry.Length}.");
                if (crc != entry.Crc32) throw new InvalidDataException($"its CRC-32 is {crc:x8}, not the stored {entry.Crc32:x8}.");
                current = null;
            }
        }
        catch (Exception e) when (IsContentError(e, stream))
        {
            throw new InvalidDataException(current is null
                ? $"{source}: not a readable zip archive ({e.Message.TrimEnd('.')}); the model file is truncated or damaged."
                : $"{source}: zip entry '{current}' is damaged: {Sentence(e.Message)} The model file was truncated or corrupted after it was written.", e);
        }
        return names;
    }

    /// <summary>
    /// Checks the SHA-256 of every NoisySeg state in a loaded chain. ML.NET saves a chain's i-th transformer in the folder
    /// <c>Transform_{i:000}</c> of the chain's folder (the root is <c>TransformerChain</c>), and a NoisySeg state is the
    /// value map that follows the state key, so its data is <c>…/Transform_001/DefaultMap.idv</c>.
    /// </summary>
    private static void VerifyStates(ITransformer model, string folder, HashSet<string> entries, string source)
    {
        if (model is not IEnumerable<ITransformer> chain) return;
        var parts = chain.ToList();
        byte[]? blob;
        try
        {
            blob = parts.Count >= 2 ? StatefulMapping.ReadState(parts[0], parts[1]) : null;
        }
        catch (Exception e) when (e is not (OutOfMemoryException or OperationCanceledException or ThreadInterruptedException or InsufficientExecutionStackException))
        {
            throw new InvalidDataException($"{source}: the chain saved in '{folder}' loaded but cannot run: {Sentence(Innermost(e).Message)}", e);
        }
        if (blob is not null)
        {
            try
            {
                StateBlob.Payload(blob);
            }
            catch (InvalidDataException e)
            {
                string entry = folder + "/Transform_001/DefaultMap.idv";
                throw new InvalidDataException($"{source}: zip entry '{(entries.Contains(entry) ? entry : folder + "/Transform_001")}': {e.Message}", e);
            }
            return;
        }
        for (int i = 0; i < parts.Count; i++)
            VerifyStates(parts[i], $"{folder}/Transform_{i:000}", entries, source);
    }

    /// <summary>The contract ML.NET could not find a component for ("Unable to locate an extension for the contract 'X'"), or null.</summary>
    internal static string? MissingComponent(Exception e)
    {
        const string Prefix = "Unable to locate an extension for the contract '";
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            int at = x.Message.IndexOf(Prefix, StringComparison.Ordinal);
            if (at < 0) continue;
            int begin = at + Prefix.Length, end = x.Message.IndexOf('\'', begin);
            if (end > begin) return x.Message[begin..end];
        }
        return null;
    }

    private static string Sentence(string message) => message.EndsWith('.') ? message : message + ".";

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e;
    }

    /// <summary>
    /// Passes a seekable stream through, remembering whether the stream itself failed (a read error is the environment's,
    /// not the content's). A seek before the start, which only a damaged offset asks for, is refused as content.
    /// </summary>
    private sealed class SourceStream(Stream inner) : Stream
    {
        public bool Failed { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => true;

        public override bool CanWrite => false;

        public override long Length => Guard(() => inner.Length);

        public override long Position
        {
            get => Guard(() => inner.Position);
            set => Seek(value, SeekOrigin.Begin);
        }

        public override int Read(byte[] buffer, int offset, int count) => Guard(() => inner.Read(buffer, offset, count));

        public override int Read(Span<byte> buffer)
        {
            try
            {
                return inner.Read(buffer);
            }
            catch
            {
                Failed = true;
                throw;
            }
        }

        public override long Seek(long offset, SeekOrigin origin)
        {
            long target = origin switch
            {
                SeekOrigin.Begin => offset,
                SeekOrigin.Current => Position + offset,
                _ => Length + offset,
            };
            if (target < 0) throw new InvalidDataException("an offset in the zip points before the start of the file.");
            return Guard(() => inner.Seek(target, SeekOrigin.Begin));
        }

        public override void Flush()
        {
        }

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private T Guard<T>(Func<T> read)
        {
            try
            {
                return read();
            }
            catch
            {
                Failed = true;
                throw;
            }
        }
    }
}
