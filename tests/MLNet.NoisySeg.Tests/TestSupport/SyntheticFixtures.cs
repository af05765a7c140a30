using Microsoft.ML;
using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Data.Synthetic;
using MLNet.NoisySeg.Pipelines;

namespace MLNet.NoisySeg.Tests.TestSupport;

/// <summary>Small synthetic data sets for trainer tests (nuclei-like blobs, 64x64).</summary>
internal static class SyntheticFixtures
{
    public static readonly SyntheticFluorescenceOptions Nuclei64 = new()
    {
        Kind = SyntheticFluorescenceKind.Nuclei, Width = 64, Height = 64, NucleusRadiusMin = 5, NucleusRadiusMax = 10,
    };

    public static IReadOnlyList<SegmentationItem> Items(int seed, int count, int firstIndex = 0)
        => SyntheticData.FluorescenceBatch(Nuclei64, seed, count, firstIndex).Select(s => s.AsLoaded()).ToList();

    public static IDataView View(MLContext ml, int seed, int count, int firstIndex = 0)
        => SegmentationDataView.Create(ml, Items(seed, count, firstIndex));

    public static IDataView View(MLContext ml, IReadOnlyList<SegmentationItem> items) => SegmentationDataView.Create(ml, items);
}
