using System.Text;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.NoisySeg.Pipelines;
using MLNet.NoisySeg.Tests.TestSupport;

namespace MLNet.NoisySeg.Tests.Pipelines;

/// <summary>
/// Issue 12, "Hardening": <c>mlContext.Model.SaveAtomically</c> never destroys the previous model when a save fails part-way,
/// and <c>mlContext.Model.LoadNoisySeg</c> turns a damaged zip into one <see cref="InvalidDataException"/> naming the file.
/// </summary>
[TestClass]
public sealed class ModelPersistenceTests
{
    private static readonly Lazy<(ITransformer Model, Dictionary<string, byte[]> Outputs)> Other = new(() =>
    {
        var (ml, data, _) = SmallPipeline.Get();
        var model = SmallPipeline.Estimator(ml, seed: 2).Fit(data);
        return (model, SmallPipeline.Outputs(model, data));
    });

    [TestMethod]
    public void SaveAtomically_WritesALoadableModel_AndReplacesTheOlderOne_WithoutLitter()
    {
        var (ml, data, model) = SmallPipeline.Get();
        var (other, otherOutputs) = Other.Value;
        var expected = SmallPipeline.Outputs(model, data);
        CollectionAssert.AreNotEqual(expected["Probability"], otherOutputs["Probability"], "the two models must differ for this test to mean anything");
        using var tmp = TestPaths.NewTemp();
        string folder = Path.Combine(tmp.Path, "models"); // does not exist yet: created
        string zip = Path.Combine(folder, "model.zip");

        ml.Model.SaveAtomically(model, data.Schema, zip);
        var loaded = new MLContext(seed: 1).RegisterNoisySeg().Model.LoadNoisySeg(zip, out var schema);
        Assert.AreEqual(data.Schema.Count, schema.Count);
        SmallPipeline.AssertSameOutputs(expected, SmallPipeline.Outputs(loaded, data), "after the first save");

        ml.Model.SaveAtomically(other, data.Schema, zip);
        var replaced = new MLContext(seed: 1).RegisterNoisySeg().Model.LoadNoisySeg(zip, out _);
        SmallPipeline.AssertSameOutputs(otherOutputs, SmallPipeline.Outputs(replaced, data), "after replacing it");
        CollectionAssert.AreEqual(new[] { "model.zip" }, Directory.GetFiles(folder).Select(Path.GetFileName).ToArray());
    }

    [TestMethod]
    public void SaveAtomically_WhenAComponentFailsPartWay_KeepsThePreviousModel_WhereModelSaveDestroysIt()
    {
        var (ml, data, model) = SmallPipeline.Get();
        var expected = SmallPipeline.Outputs(model, data);
        using var tmp = TestPaths.NewTemp();
        string zip = Path.Combine(tmp.Path, "model.zip");
        ml.Model.SaveAtomically(model, data.Schema, zip);
        var good = File.ReadAllBytes(zip);

        // ML.NET writes the other model's transforms into the zip, then the last component's save throws.
        var failing = new TransformerChain<ITransformer>(Other.Value.Model, new FailingSave());
        var e = Assert.ThrowsExactly<IOException>(() => ml.Model.SaveAtomically(failing, data.Schema, zip));
        Assert.AreEqual(FailingSave.Message, e.Message);
        CollectionAssert.AreEqual(good, File.ReadAllBytes(zip), "the previous model must be untouched");
        CollectionAssert.AreEqual(new[] { "model.zip" }, Directory.GetFiles(tmp.Path).Select(Path.GetFileName).ToArray(), "no temporary file left");
        var loaded = new MLContext(seed: 1).RegisterNoisySeg().Model.LoadNoisySeg(zip, out _);
        SmallPipeline.AssertSameOutputs(expected, SmallPipeline.Outputs(loaded, data), "after the failed save");

        // The finding: ML.NET's own Model.Save truncates the file first, so the same failure leaves a zip that no
        // longer loads; LoadNoisySeg reports it as a damaged file.
        Assert.ThrowsExactly<IOException>(() => ml.Model.Save(failing, data.Schema, zip));
        var damaged = Assert.ThrowsExactly<InvalidDataException>(() => new MLContext().RegisterNoisySeg().Model.LoadNoisySeg(zip, out _));
        StringAssert.StartsWith(damaged.Message, zip + ":");
    }

    [TestMethod]
    public void SaveAtomically_OnAFullDisk_KeepsThePreviousModel_AndWritesItsTemporaryFileBesideIt()
    {
        var (ml, data, model) = SmallPipeline.Get();
        var expected = SmallPipeline.Outputs(model, data);
        using var tmp = TestPaths.NewTemp();
        string zip = Path.Combine(tmp.Path, "model.zip");
        ml.Model.SaveAtomically(model, data.Schema, zip);
        var good = File.ReadAllBytes(zip);

        // The temporary file's stream accepts half a model, then fails as a full disk does.
        string? temporary = null;
        LimitedStream? limited = null;
        var e = Assert.ThrowsExactly<IOException>(() => ModelPersistence.SaveAtomically(zip,
            stream => ml.Model.Save(Other.Value.Model, data.Schema, stream),
            file =>
            {
                temporary = ((FileStream)file).Name;
                return limited = new LimitedStream(file, good.Length / 2);
            }));
        Assert.AreEqual(LimitedStream.Message, e.Message);
        Assert.AreEqual(good.Length / 2, limited!.Written, "the write limit was reached");
        Assert.AreEqual(tmp.Path, Path.GetDirectoryName(temporary), "the temporary file is in the target's folder (so the rename is atomic)");
        Assert.IsFalse(File.Exists(temporary), "the temporary file is removed");
        CollectionAssert.AreEqual(good, File.ReadAllBytes(zip));
        var loaded = new MLContext(seed: 1).RegisterNoisySeg().Model.LoadNoisySeg(zip, out _);
        SmallPipeline.AssertSameOutputs(expected, SmallPipeline.Outputs(loaded, data), "after the full disk");
    }

    [TestMethod]
    public void LoadNoisySeg_FromStreams_LoadsWhatWasSaved()
    {
        var (ml, data, model) = SmallPipeline.Get();
        var expected = SmallPipeline.Outputs(model, data);
        var bytes = new MemoryStream();
        ml.Model.Save(model, data.Schema, bytes);
        var ml2 = new MLContext(seed: 1).RegisterNoisySeg();
        SmallPipeline.AssertSameOutputs(expected, SmallPipeline.Outputs(ml2.Model.LoadNoisySeg(new MemoryStream(bytes.ToArray()), out _), data), "seekable stream");
        SmallPipeline.AssertSameOutputs(expected, SmallPipeline.Outputs(ml2.Model.LoadNoisySeg(new ForwardOnly(bytes.ToArray()), out _), data), "forward-only stream");
        var e = Assert.ThrowsExactly<InvalidDataException>(() => ml2.Model.LoadNoisySeg(new MemoryStream(bytes.ToArray()[..1000]), out _));
        StringAssert.StartsWith(e.Message, "the model stream:");
    }

    [TestMethod]
    public void LoadNoisySeg_DamagedZips_FailWithInvalidDataException_NamingTheFileAndTheEntry()
    {
        var (ml, data, model) = SmallPipeline.Get();
        var stream = new MemoryStream();
        ml.Model.Save(model, data.Schema, stream);
        var zip = stream.ToArray();
        var entries = SmallPipeline.Entries(zip);
        using var tmp = TestPaths.NewTemp();
        var ml2 = new MLContext().RegisterNoisySeg();
        InvalidDataException Refused(string name, byte[] bytes)
        {
            string path = Path.Combine(tmp.Path, name + ".zip");
            File.WriteAllBytes(path, bytes);
            var e = Assert.ThrowsExactly<InvalidDataException>(() => ml2.Model.LoadNoisySeg(path, out _), name);
            StringAssert.StartsWith(e.Message, path + ":", name);
            return e;
        }

        StringAssert.Contains(Refused("truncated", zip[..(zip.Length / 2)]).Message, "not a readable zip archive");
        StringAssert.Contains(Refused("not-a-zip", Encoding.ASCII.GetBytes("just text, not a model")).Message, "not a readable zip archive");

        // A flipped byte inside a compressed Model.key: ML.NET checks no CRC, so it used to reach its parsers (the
        // harness's ArgumentOutOfRangeException from ColumnSelectingTransformer); the CRC check names the entry.
        string key = entries.Keys.Where(k => k.EndsWith("/Model.key", StringComparison.Ordinal)).OrderBy(k => k, StringComparer.Ordinal).Last();
        var flipped = (byte[])zip.Clone();
        int data0 = DataOffset(zip, key);
        flipped[data0 + 40] ^= 0x10;
        var e1 = Refused("flipped-model-key", flipped);
        StringAssert.Contains(e1.Message, $"zip entry '{key}' is damaged");

        // The harness's case written with a valid CRC (a deliberate edit): one character of a column that the drop-columns
        // transform (SELCOLST) removes. ML.NET loads it and fails at the first schema, in ColumnSelectingTransformer.
        // GetOutputSchema, with an ArgumentOutOfRangeException; LoadNoisySeg applies the model to its saved input schema,
        // so that exception becomes the inner exception of one InvalidDataException at load.
        var probability = Encoding.Unicode.GetBytes("__NoisySeg_Seg_Probability");
        string drop = entries.First(kv => IndexOf(kv.Value, "SELCOLST"u8) >= 0 && IndexOf(kv.Value, probability) >= 0).Key;
        var renamed = SmallPipeline.WithEntry(zip, n => n == drop, c =>
        {
            c[IndexOf(c, probability) + 2 * "__NoisyS".Length] = (byte)'c';
            return c;
        });
        var e2 = Refused("renamed-column", renamed);
        StringAssert.Contains(e2.Message, "does not apply to the input schema saved with it");
        Assert.IsInstanceOfType<ArgumentOutOfRangeException>(Innermost(e2), e2.ToString());

        // A state changed with a valid CRC: its SHA-256 fails at load, naming the entry that holds it.
        string state = entries.Where(kv => kv.Key.EndsWith("/DefaultMap.idv", StringComparison.Ordinal)).MaxBy(kv => kv.Value.Length).Key;
        var tampered = SmallPipeline.WithEntry(zip, n => n == state, c =>
        {
            c[c.Length / 2] ^= 0x5A; // inside the state's bytes (near the end, the IDV's block table: a FormatException from ML.NET)
            return c;
        });
        var e3 = Refused("tampered-state", tampered);
        StringAssert.Contains(e3.Message, $"zip entry '{state}'");
        StringAssert.Contains(e3.Message, "SHA-256");

        // Not a damaged file: the file does not exist.
        Assert.ThrowsExactly<FileNotFoundException>(() => ml2.Model.LoadNoisySeg(Path.Combine(tmp.Path, "missing.zip"), out _));
    }

    [TestMethod]
    public void LoadNoisySeg_AComponentMLNetCannotFind_IsARegistrationError_NotADamagedFile()
    {
        var (ml, data, model) = SmallPipeline.Get();
        var stream = new MemoryStream();
        ml.Model.Save(model, data.Schema, stream);
        var zip = stream.ToArray();
        // Another contract name, written with a valid CRC: as if the model came from a component this process lacks.
        var contract = Encoding.Unicode.GetBytes(ThresholdFactory.ContractName);
        string entry = SmallPipeline.Entries(zip).First(kv => IndexOf(kv.Value, contract) >= 0).Key;
        var other = SmallPipeline.WithEntry(zip, n => n == entry, c =>
        {
            c[IndexOf(c, contract) + 2 * "NoisySeg.Threshold.v".Length] = (byte)'9';
            return c;
        });
        var e = Assert.ThrowsExactly<InvalidOperationException>(() => new MLContext().RegisterNoisySeg().Model.LoadNoisySeg(new MemoryStream(other), out _));
        StringAssert.Contains(e.Message, "'NoisySeg.Threshold.v9'");
        StringAssert.Contains(e.Message, "register the assembly");

        // A registered contract name in ML.NET's message means the caller did not register NoisySeg.
        var missing = new InvalidOperationException("Error during class instantiation",
            new InvalidOperationException("Unable to locate an extension for the contract 'NoisySeg.UNetSegmentation.v1'. Ensure you have called ..."));
        Assert.AreEqual("NoisySeg.UNetSegmentation.v1", ModelPersistence.MissingComponent(missing));
        Assert.IsNull(ModelPersistence.MissingComponent(new FormatException("Corrupt model file")));
    }

    [TestMethod]
    public void SaveAtomically_WithExtraEntries_WritesThemInTheSameAtomicWrite_AndRefusesBadNames_WithoutTouchingThePreviousFile()
    {
        var (ml, data, model) = SmallPipeline.Get();
        var expected = SmallPipeline.Outputs(model, data);
        using var tmp = TestPaths.NewTemp();
        string zip = Path.Combine(tmp.Path, "model.zip");
        var record = Encoding.UTF8.GetBytes("{\"trainedOn\":\"isbi\"}");
        ml.Model.SaveAtomically(model, data.Schema, zip, new Dictionary<string, byte[]> { ["App/training.json"] = record });
        CollectionAssert.AreEqual(record, SmallPipeline.Entries(File.ReadAllBytes(zip))["App/training.json"]);
        var loaded = new MLContext(seed: 1).RegisterNoisySeg().Model.LoadNoisySeg(zip, out _);
        SmallPipeline.AssertSameOutputs(expected, SmallPipeline.Outputs(loaded, data), "a zip with an extra entry");
        var good = File.ReadAllBytes(zip);

        string mlnets = SmallPipeline.Entries(good).Keys.First(k => k.StartsWith("TransformerChain/", StringComparison.Ordinal)); // one ML.NET wrote
        foreach (var bad in new[] { "", "/abs.json", "a\\b.json", "../up.json", mlnets })
        {
            var e = Assert.ThrowsExactly<ArgumentException>(() => ml.Model.SaveAtomically(Other.Value.Model, data.Schema, zip,
                new Dictionary<string, byte[]> { [bad] = record }), bad);
            Assert.AreEqual("extraEntries", e.ParamName, bad);
            StringAssert.Contains(e.Message, $"'{bad}'");
            CollectionAssert.AreEqual(good, File.ReadAllBytes(zip), "the previous model must be untouched: " + bad);
        }

        // A full disk while the complete zip (model and extra entry) is copied to the temporary file.
        var full = Assert.ThrowsExactly<IOException>(() => ModelPersistence.SaveAtomically(zip,
            stream => ModelPersistence.SaveWithEntries(stream, s => ml.Model.Save(Other.Value.Model, data.Schema, s), new Dictionary<string, byte[]> { ["App/training.json"] = record }),
            file => new LimitedStream(file, good.Length / 3)));
        Assert.AreEqual(LimitedStream.Message, full.Message);
        CollectionAssert.AreEqual(good, File.ReadAllBytes(zip));
        CollectionAssert.AreEqual(new[] { "model.zip" }, Directory.GetFiles(tmp.Path).Select(Path.GetFileName).ToArray(), "no temporary file left");
    }

    internal static int DataOffset(byte[] zip, string entry)
    {
        // The entry's local header (found through the central directory) is followed by its data.
        int eocd = zip.AsSpan().LastIndexOf("PK\u0005\u0006"u8);
        int cd = BitConverter.ToInt32(zip, eocd + 16);
        while (BitConverter.ToUInt32(zip, cd) == 0x02014b50)
        {
            int nameLength = BitConverter.ToUInt16(zip, cd + 28), extra = BitConverter.ToUInt16(zip, cd + 30), comment = BitConverter.ToUInt16(zip, cd + 32);
            int local = BitConverter.ToInt32(zip, cd + 42);
            if (Encoding.UTF8.GetString(zip, cd + 46, nameLength) == entry)
                return local + 30 + BitConverter.ToUInt16(zip, local + 26) + BitConverter.ToUInt16(zip, local + 28);
            cd += 46 + nameLength + extra + comment;
        }
        throw new InvalidOperationException("entry not found: " + entry);
    }

    private static int IndexOf(byte[] content, ReadOnlySpan<byte> text) => content.AsSpan().IndexOf(text);

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e;
    }

    /// <summary>A component whose save fails after the components before it were written into the zip.</summary>
    private sealed class FailingSave : ITransformer, ICanSaveModel
    {
        public const string Message = "simulated failure part-way through the save";

        public bool IsRowToRowMapper => true;

        public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => inputSchema;

        public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => throw new NotSupportedException();

        public IDataView Transform(IDataView input) => input;

        public void Save(ModelSaveContext ctx) => throw new IOException(Message);
    }

    /// <summary>A write-only stream that accepts <c>limit</c> bytes, then fails like a full disk.</summary>
    private sealed class LimitedStream(Stream inner, long limit) : Stream
    {
        public const string Message = "No space left on device (simulated)";

        public long Written { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => inner.CanSeek;

        public override bool CanWrite => true;

        public override long Length => inner.Length;

        public override long Position
        {
            get => inner.Position;
            set => inner.Position = value;
        }

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => inner.Seek(offset, origin);

        public override void SetLength(long value) => inner.SetLength(value);

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            int room = (int)Math.Min(buffer.Length, limit - Written);
            inner.Write(buffer[..room]);
            Written += room;
            if (room < buffer.Length) throw new IOException(Message);
        }
    }

    /// <summary>A stream that can only be read forward (as a network stream).</summary>
    private sealed class ForwardOnly(byte[] bytes) : Stream
    {
        private readonly MemoryStream _inner = new(bytes);

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
