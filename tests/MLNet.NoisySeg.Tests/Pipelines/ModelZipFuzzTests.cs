using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using Microsoft.ML;
using MLNet.NoisySeg.Tests.TestSupport;

namespace MLNet.NoisySeg.Tests.Pipelines;

/// <summary>
/// Seeded, deterministic mutation fuzzing of model zips through <c>mlContext.Model.LoadNoisySeg</c>. Two seed zips hold
/// every NoisySeg transform and a tiny U-Net: one written now by <c>SaveAtomically</c> (<see cref="SmallPipeline"/>), and
/// the zip written before issue 11 (Pipelines/Legacy). Mutations: bit flips and byte edits anywhere, truncation,
/// appended bytes, flips inside an entry's compressed data (any entry, a <c>Model.key</c>, the U-Net's state), edits of
/// local headers, of the central directory and of its end record, a dropped entry, and the U-Net's state edited with a
/// valid CRC (so only its SHA-256 can tell). The only accepted outcomes are an <see cref="InvalidDataException"/> whose
/// message starts with the file's path, or a model whose every output column is byte-identical to the unmutated
/// model's on the same data; any other exception, or a different output, fails with the iteration, the mutations and
/// the zip in base64.
/// <para>
/// The default run (<see cref="DefaultIterations"/> zips) always runs and takes a few seconds. Set
/// <c>NOISYSEG_LONG_FUZZ</c> to a count (e.g. 2000) for a long run, and <c>NOISYSEG_FUZZ_SEED</c> to change the seed
/// (as for <c>PngFuzzTests</c>).
/// </para>
/// </summary>
[TestClass]
public sealed class ModelZipFuzzTests
{
    public const int DefaultIterations = 120;
    public const int DefaultSeed = 20240612;

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public void MutatedModelZips_YieldTypedErrorsOrIdenticalPredictions()
    {
        int iterations = int.TryParse(Environment.GetEnvironmentVariable("NOISYSEG_LONG_FUZZ"), out int n) && n > 0 ? n : DefaultIterations;
        int seed = int.TryParse(Environment.GetEnvironmentVariable("NOISYSEG_FUZZ_SEED"), out int s) ? s : DefaultSeed;
        var summary = Run(seed, iterations);
        string line = $"Model zip fuzz: seed {seed}, {iterations} zips: {summary}; {summary.Seconds:F1} s wall, {summary.CpuSeconds:F1} s process CPU";
        TestContext.WriteLine(line);
        Console.WriteLine(line);
    }

    [TestMethod]
    public void Fuzzing_IsDeterministic()
    {
        Assert.AreEqual(Run(7, 16).ToString(), Run(7, 16).ToString());
    }

    internal sealed record Summary(int Identical, Dictionary<string, int> Refused, Dictionary<string, int> ByMutation, double Seconds, double CpuSeconds)
    {
        public override string ToString()
            => $"{Identical} loaded with identical outputs, {Refused.Values.Sum()} refused with InvalidDataException (" +
               string.Join(", ", Refused.OrderBy(k => k.Key, StringComparer.Ordinal).Select(k => $"{k.Key} {k.Value}")) + "); mutations: " +
               string.Join(", ", ByMutation.OrderBy(k => k.Key, StringComparer.Ordinal).Select(k => $"{k.Key} {k.Value}"));
    }

    private static readonly string[] MutationNames =
        ["bitflip", "byteset", "truncate", "extend", "entry-data", "model-key-data", "state-data", "local-header", "central-directory",
         "end-record", "entry-drop", "state-edit"];

    private sealed record SeedZip(string Name, byte[] Zip, IDataView Data, Dictionary<string, byte[]> Outputs);

    private static Summary Run(int seed, int iterations)
    {
        var ml = new MLContext(seed: 0).RegisterNoisySeg();
        var seeds = SeedZips(ml);
        var rng = new Random(seed);
        int identical = 0;
        var refused = new Dictionary<string, int>(StringComparer.Ordinal);
        var byMutation = MutationNames.ToDictionary(m => m, _ => 0);
        var sw = Stopwatch.StartNew();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        using var tmp = TestPaths.NewTemp();
        for (int it = 0; it < iterations; it++)
        {
            var source = seeds[rng.Next(seeds.Count)];
            var bytes = (byte[])source.Zip.Clone();
            var applied = new List<string>();
            int count = 1 + (rng.Next(4) == 0 ? 1 : 0);
            for (int k = 0; k < count; k++)
            {
                string m = MutationNames[rng.Next(MutationNames.Length)];
                (bytes, m) = Mutate(bytes, m, rng);
                applied.Add(m);
                byMutation[m]++;
            }
            string path = Path.Combine(tmp.Path, $"fuzz-{it}.zip");
            File.WriteAllBytes(path, bytes);
            string context = $"iteration {it} (seed {seed}): '{source.Name}' after {string.Join(" + ", applied)}, {bytes.Length} bytes; zip base64: {Convert.ToBase64String(bytes)}";
            ITransformer model;
            try
            {
                model = ml.Model.LoadNoisySeg(path, out _);
            }
            catch (InvalidDataException e)
            {
                Assert.IsTrue(e.Message.StartsWith(path + ": ", StringComparison.Ordinal), $"{e.Message} -- {context}");
                string kind = Kind(e.Message[(path.Length + 2)..]);
                refused[kind] = refused.GetValueOrDefault(kind) + 1;
                File.Delete(path);
                continue;
            }
            catch (Exception e)
            {
                Assert.Fail($"{e.GetType().Name}: {e.Message} -- {context}\n{e}");
                throw;
            }
            try
            {
                var outputs = SmallPipeline.Outputs(model, source.Data);
                foreach (var (column, expected) in source.Outputs)
                    Assert.IsTrue(expected.AsSpan().SequenceEqual(outputs[column]), $"loaded, but column {column} differs -- {context}");
            }
            catch (Exception e) when (e is not AssertFailedException)
            {
                Assert.Fail($"loaded, then {e.GetType().Name}: {e.Message} -- {context}\n{e}");
            }
            identical++;
            File.Delete(path);
        }
        return new Summary(identical, refused, byMutation, sw.Elapsed.TotalSeconds, (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds);
    }

    /// <summary>Which check refused a zip, from the start of the message after the path.</summary>
    private static string Kind(string message)
        => message.StartsWith("not a readable zip archive", StringComparison.Ordinal) ? "not a zip"
         : message.StartsWith("zip entry", StringComparison.Ordinal) && message.Contains("SHA-256", StringComparison.Ordinal) ? "state SHA-256"
         : message.StartsWith("zip entry", StringComparison.Ordinal) ? "entry damaged"
         : message.StartsWith("ML.NET could not load the model: ", StringComparison.Ordinal) ? $"ML.NET load ({Type(message["ML.NET could not load the model: ".Length..])})"
         : message.StartsWith("the model does not apply to the input schema saved with it: ", StringComparison.Ordinal)
            ? $"schema ({Type(message["the model does not apply to the input schema saved with it: ".Length..])})"
         : "other";

    /// <summary>The exception type that opens the rest of a message ("FormatException: ...").</summary>
    private static string Type(string rest) => rest.IndexOf(':', StringComparison.Ordinal) is > 0 and var colon ? rest[..colon] : "?";

    private static List<SeedZip> SeedZips(MLContext ml)
    {
        var (fitted, data, model) = SmallPipeline.Get();
        using var tmp = TestPaths.NewTemp();
        string fresh = Path.Combine(tmp.Path, "fresh.zip");
        fitted.Model.SaveAtomically(model, data.Schema, fresh);
        var list = new List<SeedZip>();
        foreach (var (name, path) in new[] { ("fresh", fresh), ("legacy-v1", Path.Combine(SmallPipeline.LegacyFolder, "legacy-v1-pipeline.zip")) })
        {
            var zip = File.ReadAllBytes(path);
            var seedData = SmallPipeline.LoadData(ml);
            var outputs = SmallPipeline.Outputs(ml.Model.LoadNoisySeg(path, out _), seedData);
            list.Add(new SeedZip(name, zip, seedData, outputs));
        }
        SmallPipeline.AssertSameOutputs(SmallPipeline.Outputs(model, data), list[0].Outputs, "the fresh seed zip must reproduce the fitted model");
        return list;
    }

    /// <summary>The zip's entries as the central directory describes them.</summary>
    private sealed record Entry(string Name, int CentralRecord, int CentralLength, int LocalHeader, int DataStart, int CompressedSize);

    private static (List<Entry> Entries, int EndRecord)? Layout(byte[] zip)
    {
        try
        {
            int end = zip.AsSpan().LastIndexOf("PK\u0005\u0006"u8);
            if (end < 0 || end + 22 > zip.Length) return null;
            int count = BinaryPrimitives.ReadUInt16LittleEndian(zip.AsSpan(end + 10));
            int cd = BinaryPrimitives.ReadInt32LittleEndian(zip.AsSpan(end + 16));
            var entries = new List<Entry>();
            for (int i = 0; i < count; i++)
            {
                if (cd < 0 || cd + 46 > zip.Length || BinaryPrimitives.ReadUInt32LittleEndian(zip.AsSpan(cd)) != 0x02014b50) return null;
                int compressed = BinaryPrimitives.ReadInt32LittleEndian(zip.AsSpan(cd + 20));
                int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(zip.AsSpan(cd + 28));
                int extra = BinaryPrimitives.ReadUInt16LittleEndian(zip.AsSpan(cd + 30));
                int comment = BinaryPrimitives.ReadUInt16LittleEndian(zip.AsSpan(cd + 32));
                int local = BinaryPrimitives.ReadInt32LittleEndian(zip.AsSpan(cd + 42));
                if (local < 0 || local + 30 > zip.Length || cd + 46 + nameLength > zip.Length) return null;
                int data = local + 30 + BinaryPrimitives.ReadUInt16LittleEndian(zip.AsSpan(local + 26)) + BinaryPrimitives.ReadUInt16LittleEndian(zip.AsSpan(local + 28));
                if (compressed <= 0 || data + compressed > zip.Length) return null;
                entries.Add(new Entry(Encoding.UTF8.GetString(zip, cd + 46, nameLength), cd, 46 + nameLength + extra + comment, local, data, compressed));
                cd += 46 + nameLength + extra + comment;
            }
            return (entries, end);
        }
        catch (ArgumentOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>Applies <paramref name="mutation"/>; a structural one on a zip already too damaged to parse becomes a bit flip.</summary>
    private static (byte[] Bytes, string Applied) Mutate(byte[] b, string mutation, Random rng)
    {
        if (b.Length == 0) return (b, "none");
        var layout = Layout(b);
        void Flip(int start, int length)
        {
            for (int i = 1 + rng.Next(3); i > 0; i--) b[start + rng.Next(length)] ^= (byte)(1 << rng.Next(8));
        }
        Entry? Pick(Func<Entry, bool> where)
        {
            var candidates = layout?.Entries.Where(where).ToList();
            return candidates is { Count: > 0 } ? candidates[rng.Next(candidates.Count)] : null;
        }
        switch (mutation)
        {
            case "bitflip":
                Flip(0, b.Length);
                return (b, mutation);
            case "byteset":
                b[rng.Next(b.Length)] = rng.Next(3) switch { 0 => 0, 1 => 0xFF, _ => (byte)rng.Next(256) };
                return (b, mutation);
            case "truncate":
                return (b[..rng.Next(b.Length)], mutation);
            case "extend":
            {
                var tail = new byte[1 + rng.Next(64)];
                rng.NextBytes(tail);
                return ([.. b, .. tail], mutation);
            }
            case "entry-data" when Pick(_ => true) is { } any:
                Flip(any.DataStart, any.CompressedSize);
                return (b, mutation);
            case "model-key-data" when Pick(e => e.Name.EndsWith("/Model.key", StringComparison.Ordinal)) is { } key:
                Flip(key.DataStart, key.CompressedSize);
                return (b, mutation);
            case "state-data" when layout?.Entries.Where(e => e.Name.EndsWith("/DefaultMap.idv", StringComparison.Ordinal)).MaxBy(e => e.CompressedSize) is { } state:
                Flip(state.DataStart, state.CompressedSize);
                return (b, mutation);
            case "local-header" when Pick(_ => true) is { } local:
                Flip(local.LocalHeader, local.DataStart - local.LocalHeader);
                return (b, mutation);
            case "central-directory" when Pick(_ => true) is { } central:
                Flip(central.CentralRecord, central.CentralLength);
                return (b, mutation);
            case "end-record" when layout is { } l:
                Flip(l.EndRecord, 22);
                return (b, mutation);
            case "entry-drop" when Pick(_ => true) is { } dropped:
                return (Rewritten(b, dropped.Name, null), mutation);
            case "state-edit" when layout?.Entries.Where(e => e.Name.EndsWith("/DefaultMap.idv", StringComparison.Ordinal)).MaxBy(e => e.CompressedSize) is { } edited:
                return (Rewritten(b, edited.Name, content =>
                {
                    // Inside the state (away from the IDV's header and block table): only the state's SHA-256 can tell.
                    content[content.Length / 4 + rng.Next(content.Length / 2)] ^= (byte)(1 << rng.Next(8));
                    return content;
                }), mutation);
            default:
                Flip(0, b.Length);
                return (b, "bitflip");
        }
    }

    /// <summary>The zip re-written with one entry dropped (<paramref name="edit"/> null) or edited (with a valid CRC).</summary>
    private static byte[] Rewritten(byte[] zip, string entry, Func<byte[], byte[]>? edit)
    {
        try
        {
            if (edit is not null) return SmallPipeline.WithEntry(zip, n => n == entry, edit);
            using var ms = new MemoryStream();
            ms.Write(zip);
            using (var archive = new System.IO.Compression.ZipArchive(ms, System.IO.Compression.ZipArchiveMode.Update, leaveOpen: true))
                archive.GetEntry(entry)!.Delete();
            return ms.ToArray();
        }
        catch (InvalidDataException)
        {
            return zip; // already too damaged to re-write (a second mutation): left as it is
        }
    }
}
