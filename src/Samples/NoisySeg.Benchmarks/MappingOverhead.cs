using System.Diagnostics;
using System.Security.Cryptography;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace NoisySeg.Benchmarks;

/// <summary>
/// What the ML.NET row mapping costs per PredictionEngine call without any network (part e of the train verb).
/// The library's transformer is a public-API chain (Pipelines/StatefulMapping.cs): a key column, a one-entry
/// ValueMapping that puts the serialized state (the weights) into every row, CopyColumns in, the compute
/// CustomMapping (which checks the state's SHA-256 in StateCache.Get before its cache lookup), CopyColumns out,
/// DropColumns. The same shapes of chain are built here with a compute step that only copies the image to the
/// output, so the differences between them are the per-row costs of the state column and of the hash.
/// </summary>
internal static class MappingOverhead
{
    public sealed class Img
    {
        [VectorType(1, 512, 512)] public float[] Image { get; set; } = [];
    }

    public sealed class Out
    {
        [VectorType] public float[] Probability { get; set; } = [];
    }

    public sealed class KeyIn
    {
    }

    public sealed class KeyOut
    {
        [ColumnName("__key")] public string Key { get; set; } = "state";
    }

    public sealed class WithState
    {
        [ColumnName("__img"), VectorType] public float[] Image { get; set; } = [];
        [ColumnName("__state"), VectorType] public byte[] State { get; set; } = [];
    }

    public sealed class WithoutState
    {
        [ColumnName("__img"), VectorType] public float[] Image { get; set; } = [];
    }

    public sealed class Result
    {
        [ColumnName("__prob"), VectorType] public float[] Probability { get; set; } = [];
    }

    /// <summary>Per-call medians (ms) of: no state column, state column, state column + SHA-256 of it.</summary>
    public static List<(string Name, double Ms, double CpuMs, double Faults)> Measure(byte[] state, float[] image, int rounds, int calls)
    {
        var ml = new MLContext(seed: 0);
        var empty = ml.Data.LoadFromEnumerable(new[] { new Img { Image = image } });
        byte[] blob = state;

        IEstimator<ITransformer> Chain(bool withState, bool hash)
        {
            IEstimator<ITransformer> chain = ml.Transforms.CustomMapping<KeyIn, KeyOut>((_, o) => o.Key = "state", contractName: null);
            if (withState)
                chain = chain.Append(ml.Transforms.Conversion.MapValue("__state", new[] { new KeyValuePair<string, byte[]>("state", blob) }, "__key"));
            chain = chain.Append(ml.Transforms.CopyColumns("__img", "Image"));
            chain = withState
                ? chain.Append(ml.Transforms.CustomMapping<WithState, Result>((i, o) =>
                {
                    if (hash) SHA256.HashData(i.State);
                    o.Probability = i.Image.AsSpan().ToArray();
                }, contractName: null))
                : chain.Append(ml.Transforms.CustomMapping<WithoutState, Result>((i, o) => o.Probability = i.Image.AsSpan().ToArray(), contractName: null));
            var drop = withState ? new[] { "__key", "__state", "__img", "__prob" } : new[] { "__key", "__img", "__prob" };
            return chain.Append(ml.Transforms.CopyColumns("Probability", "__prob")).Append(ml.Transforms.DropColumns(drop));
        }

        var legs = new (string Name, PredictionEngine<Img, Out> Engine)[]
        {
            ("chain without state column", ml.Model.CreatePredictionEngine<Img, Out>(Chain(false, false).Fit(empty))),
            ($"chain with the {state.Length / 1048576.0:0.0} MB state column", ml.Model.CreatePredictionEngine<Img, Out>(Chain(true, false).Fit(empty))),
            ("chain with the state column + SHA-256 of it", ml.Model.CreatePredictionEngine<Img, Out>(Chain(true, true).Fit(empty))),
        };
        var input = new Img { Image = image };
        var ms = legs.ToDictionary(l => l.Name, _ => new List<double>());
        var cpu = legs.ToDictionary(l => l.Name, _ => new List<double>());
        var faults = legs.ToDictionary(l => l.Name, _ => 0L);
        foreach (var leg in legs) { leg.Engine.Predict(input); leg.Engine.Predict(input); }
        for (int r = 0; r < rounds; r++)
        {
            foreach (var leg in legs)
            {
                double c0 = CpuClock.ProcessMs();
                long f0 = CpuClock.MinorFaults();
                for (int i = 0; i < calls; i++)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    leg.Engine.Predict(input);
                    ms[leg.Name].Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                }
                cpu[leg.Name].Add((CpuClock.ProcessMs() - c0) / calls);
                faults[leg.Name] += CpuClock.MinorFaults() - f0;
            }
        }
        return legs.Select(l => (l.Name, Stats.Median(ms[l.Name]), Stats.Median(cpu[l.Name]), faults[l.Name] / (double)(rounds * calls))).ToList();
    }
}
