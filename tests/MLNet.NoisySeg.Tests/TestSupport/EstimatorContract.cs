using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.NoisySeg.Tests.TestSupport;

/// <summary>
/// The gauntlet every NoisySeg estimator goes through (in the spirit of ML.NET's TestEstimatorCore):
/// output schema of estimator == transformer, invalid input fails clearly, and Save -> Load in a fresh
/// MLContext gives the same column names, item types and values.
/// </summary>
internal static class EstimatorContract
{
    public static ITransformer Check<T>(IEstimator<T> estimator, IDataView data, IDataView invalidInput, params string[] outputColumns)
        where T : class, ITransformer
    {
        var shape = estimator.GetOutputSchema(ShapeOf(data.Schema));
        var model = estimator.Fit(data);
        var schema = model.GetOutputSchema(data.Schema);
        foreach (var name in outputColumns)
        {
            var fromShape = shape.Single(c => c.Name == name);
            var col = schema[name];
            Assert.AreEqual(col.Type.ItemTypeOf(), fromShape.ItemType, $"item type of {name}");
            Assert.AreEqual(col.Type is VectorDataViewType, fromShape.Kind != SchemaShape.Column.VectorKind.Scalar, $"vector kind of {name}");
        }
        Assert.IsFalse(schema.Any(c => !c.IsHidden && c.Name.StartsWith("__NoisySeg", StringComparison.Ordinal)), "internal columns must be dropped");

        var err = Assert.Throws<ArgumentException>(() => estimator.Fit(invalidInput));
        Assert.IsFalse(string.IsNullOrWhiteSpace(err.Message));
        Assert.Throws<ArgumentException>(() => estimator.GetOutputSchema(ShapeOf(invalidInput.Schema)));

        using var tmp = TestPaths.NewTemp();
        string zip = Path.Combine(tmp.Path, "model.zip");
        var ml = new MLContext(seed: 0);
        ml.Model.Save(model, data.Schema, zip);
        var ml2 = new MLContext(seed: 123).RegisterNoisySeg();
        var loaded = ml2.Model.Load(zip, out var inputSchema);
        Assert.AreEqual(data.Schema.Count, inputSchema.Count);
        var a = model.Transform(data);
        var b = loaded.Transform(data);
        foreach (var name in outputColumns)
        {
            Assert.AreEqual(a.Schema[name].Type.ItemTypeOf(), b.Schema[name].Type.ItemTypeOf());
            CollectionAssert.AreEqual(Dump(a, name), Dump(b, name), $"values of {name} after Save/Load");
        }
        return model;
    }

    /// <summary>ML.NET's SchemaShape.Create(DataViewSchema) is internal; tests reach it by reflection (as ML.NET's own tests can directly).</summary>
    public static SchemaShape ShapeOf(DataViewSchema schema)
    {
        var create = typeof(SchemaShape).GetMethod("Create", System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic, [typeof(DataViewSchema)])
            ?? throw new InvalidOperationException("SchemaShape.Create(DataViewSchema) not found");
        return (SchemaShape)create.Invoke(null, [schema])!;
    }

    public static DataViewType ItemTypeOf(this DataViewType type) => type is VectorDataViewType v ? v.ItemType : type;

    public static byte[] Dump(IDataView view, string column)
    {
        using var ms = new MemoryStream();
        using var w = new BinaryWriter(ms);
        var col = view.Schema[column];
        if (col.Type.ItemTypeOf() == NumberDataViewType.Single)
            foreach (var v in view.GetColumn<VBuffer<float>>(col)) foreach (var x in v.DenseValues()) w.Write(x);
        else
            foreach (var v in view.GetColumn<VBuffer<byte>>(col)) foreach (var x in v.DenseValues()) w.Write(x);
        w.Flush();
        return ms.ToArray();
    }

    /// <summary>Runs the ModelLoadProbe in a separate process and returns the dumped column bytes.</summary>
    public static byte[] DumpInFreshProcess(string zip, string splitFolder, string encoding, string column)
        => RunProbe(zip, splitFolder, encoding, column).Bytes;

    /// <summary>Runs the ModelLoadProbe in a separate process: the dumped column bytes and what it printed.</summary>
    public static (byte[] Bytes, string Output) RunProbe(string zip, string splitFolder, string encoding, string column)
    {
        string config = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name; // bin/<Config>/net10.0
        string probe = Path.Combine(TestPaths.RepoRoot, "tests", "ModelLoadProbe", "bin", config, "net10.0", "ModelLoadProbe.dll");
        Assert.IsTrue(File.Exists(probe), "probe not built: " + probe);
        string outFile = Path.Combine(Path.GetTempPath(), "noisyseg-probe-" + Guid.NewGuid().ToString("N")[..10] + ".bin");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { probe, zip, splitFolder, encoding, column, outFile }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd();
        string stderr = p.StandardError.ReadToEnd();
        Assert.IsTrue(p.WaitForExit(300_000), "probe timed out");
        Assert.AreEqual(0, p.ExitCode, stdout + stderr);
        var bytes = File.ReadAllBytes(outFile);
        File.Delete(outFile);
        return (bytes, stdout);
    }
}
