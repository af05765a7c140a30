using System.Globalization;
using MLNet.NoisySeg.Noise;

namespace MLNet.NoisySeg.Study;

/// <summary>The paper's label families (method.md §1-2).</summary>
public enum StudyFamily
{
    /// <summary>Clean labels (ground truth).</summary>
    CL,

    /// <summary>Randomised clean labels: sampling and flipping (keep the meta-structure).</summary>
    RCL,

    /// <summary>Perturbed clean labels: dilation, erosion, skeleton, boundary-biased flipping.</summary>
    PCL,

    /// <summary>Random labels (no structure).</summary>
    RL,
}

/// <summary>One cell of the study grid: a data set, a corruption and a seed.</summary>
/// <param name="Index">Position in the full grid (stable; sharding and result order use it).</param>
/// <param name="Dataset">Data set name.</param>
/// <param name="Family">Label family.</param>
/// <param name="Noise">The corruption.</param>
/// <param name="Seed">Seed of corruption and training.</param>
public sealed record StudyCondition(int Index, string Dataset, StudyFamily Family, LabelNoiseSpec Noise, int Seed)
{
    /// <summary>Unique, stable key: <c>dataset|noise|seed=s</c>.</summary>
    public string Key => string.Create(CultureInfo.InvariantCulture, $"{Dataset}|{Noise}|seed={Seed}");

    /// <summary>The key with long noise texts shortened for logs (e.g. uniform random priors), see <see cref="StudySummary.DisplayName"/>.</summary>
    public string DisplayKey => string.Create(CultureInfo.InvariantCulture, $"{Dataset}|{StudySummary.DisplayName(Noise.ToString())}|seed={Seed}");

    /// <summary>File-name-safe, unique and short form of the key: grid index, then the key's first characters (at most 64).</summary>
    public string FileStem
    {
        get
        {
            string safe = string.Concat(Key.Select(ch => char.IsLetterOrDigit(ch) || ch is '.' or '-' ? ch : '_'));
            return string.Create(CultureInfo.InvariantCulture, $"{Index:D4}_{(safe.Length > 64 ? safe[..64] : safe)}");
        }
    }

    /// <summary>True for conditions that get budget curves (CL and RCL).</summary>
    public bool HasBudgetCurve => Family is StudyFamily.CL or StudyFamily.RCL;
}

/// <summary>The condition grid of issue 5, binary and multi-class, in a fixed order.</summary>
public static class StudyGrid
{
    /// <summary>
    /// Binary grid: CL; sampling s ∈ {0.5, 0.3, 0.1, 0.05}; flipping (f, b) ∈ {(0.2, 0.2), (0.45, 0.45), (0.9, 0.9)};
    /// dilation k ∈ {1, 2, 3}; erosion k ∈ {1, 2}; skeleton; boundary-biased flip (d = 2, e = 0.5); random r ∈ {0.1, 0.3, 0.5}.
    /// </summary>
    public static IReadOnlyList<(StudyFamily Family, LabelNoiseSpec Noise)> Binary() =>
    [
        (StudyFamily.CL, LabelNoiseSpec.Clean()),
        (StudyFamily.RCL, LabelNoiseSpec.Sampling(0.5)),
        (StudyFamily.RCL, LabelNoiseSpec.Sampling(0.3)),
        (StudyFamily.RCL, LabelNoiseSpec.Sampling(0.1)),
        (StudyFamily.RCL, LabelNoiseSpec.Sampling(0.05)),
        (StudyFamily.RCL, LabelNoiseSpec.Flipping(0.2, 0.2)),
        (StudyFamily.RCL, LabelNoiseSpec.Flipping(0.45, 0.45)),
        (StudyFamily.RCL, LabelNoiseSpec.Flipping(0.9, 0.9)),
        (StudyFamily.PCL, LabelNoiseSpec.Dilation(1)),
        (StudyFamily.PCL, LabelNoiseSpec.Dilation(2)),
        (StudyFamily.PCL, LabelNoiseSpec.Dilation(3)),
        (StudyFamily.PCL, LabelNoiseSpec.Erosion(1)),
        (StudyFamily.PCL, LabelNoiseSpec.Erosion(2)),
        (StudyFamily.PCL, LabelNoiseSpec.Skeleton()),
        (StudyFamily.PCL, LabelNoiseSpec.BoundaryFlip(2, 0.5)),
        (StudyFamily.RL, LabelNoiseSpec.RandomLabels(0.1)),
        (StudyFamily.RL, LabelNoiseSpec.RandomLabels(0.3)),
        (StudyFamily.RL, LabelNoiseSpec.RandomLabels(0.5)),
    ];

    /// <summary>
    /// Multi-class grid: CL; class-wise sampling {0.5, 0.1}; symmetric flip {0.5, 0.9}; per-class dilation and erosion
    /// (radius 2); random labels with a uniform class prior.
    /// </summary>
    /// <param name="classCount">Number of classes.</param>
    /// <param name="backgroundClass">Background class of class-wise sampling/dilation/erosion.</param>
    public static IReadOnlyList<(StudyFamily Family, LabelNoiseSpec Noise)> Multiclass(int classCount, int backgroundClass = 0) =>
    [
        (StudyFamily.CL, LabelNoiseSpec.Clean()),
        (StudyFamily.RCL, LabelNoiseSpec.ClassSampling(0.5, backgroundClass)),
        (StudyFamily.RCL, LabelNoiseSpec.ClassSampling(0.1, backgroundClass)),
        (StudyFamily.RCL, LabelNoiseSpec.SymmetricFlip(0.5, classCount)),
        (StudyFamily.RCL, LabelNoiseSpec.SymmetricFlip(0.9, classCount)),
        (StudyFamily.PCL, LabelNoiseSpec.ClassDilation(2, backgroundClass)),
        (StudyFamily.PCL, LabelNoiseSpec.ClassErosion(2, backgroundClass)),
        (StudyFamily.RL, LabelNoiseSpec.RandomPrior(Enumerable.Repeat(1.0 / classCount, classCount).ToArray())),
    ];

    /// <summary>
    /// The full grid of a study in its stable order: data sets in the given order, then seeds, then conditions.
    /// Indices are assigned before <see cref="StudyOptions.ConditionFilter"/> and sharding, so they never move.
    /// </summary>
    /// <param name="options">The study options.</param>
    public static IReadOnlyList<StudyCondition> Build(StudyOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var list = new List<StudyCondition>();
        foreach (var d in options.Datasets)
        {
            var conditions = d.IsBinary ? Binary() : Multiclass(d.ClassCount, d.BackgroundClass);
            foreach (int seed in options.Seeds)
                foreach (var (family, noise) in conditions)
                    list.Add(new StudyCondition(list.Count, d.Name, family, noise, seed));
        }
        if (options.ConditionFilter is { Count: > 0 } filter)
            list = list.Where(c => filter.Any(f => c.Noise.ToString().Contains(f, StringComparison.OrdinalIgnoreCase))).ToList();
        return list;
    }

    /// <summary>
    /// The conditions of <see cref="Build"/> owned by the options' shard: the k-th condition of the (filtered) grid runs on
    /// shard k mod n, so shards stay balanced whatever the filter selects. Every shard must use the same data sets,
    /// seeds and filter.
    /// </summary>
    /// <param name="options">The study options.</param>
    public static IReadOnlyList<StudyCondition> ForShard(StudyOptions options)
        => Build(options).Where((_, position) => options.Shard.Owns(position)).ToList();

    /// <summary>
    /// The x-axis value of a condition in the report's plots: the sampling rate s (CL = 1), the flip rate f (CL = 0),
    /// the radius k, or the random rate r; NaN for kinds without one.
    /// </summary>
    /// <param name="noise">The corruption.</param>
    public static double Parameter(LabelNoiseSpec noise) => noise.Kind switch
    {
        LabelNoiseKind.Sampling or LabelNoiseKind.ClassSampling or LabelNoiseKind.Random or LabelNoiseKind.SymmetricFlip => noise.Rate,
        LabelNoiseKind.Flipping => noise.ForegroundFlipRate,
        LabelNoiseKind.Dilate or LabelNoiseKind.Erode or LabelNoiseKind.ClassDilate or LabelNoiseKind.ClassErode => noise.Radius,
        LabelNoiseKind.BoundaryFlip => noise.Rate,
        _ => double.NaN,
    };
}
