namespace MLNet.NoisySeg.Quality;

/// <summary>
/// Label quality of a whole data set: the fitted model, every image's judgement in input order, and rankings
/// (most suspicious first). The equivalent of cleanlab's <c>get_label_quality_scores</c> + <c>find_label_issues</c>
/// with the meta-structure score added.
/// </summary>
public sealed class LabelQualityReport
{
    private LabelQualityReport(LabelQualityModel model, ImageLabelQuality[] images)
    {
        Model = model;
        Images = Array.AsReadOnly(images);
    }

    /// <summary>The fitted model (thresholds, decoding rule, estimated noise).</summary>
    public LabelQualityModel Model { get; }

    /// <summary>Per image, in input order (<see cref="ImageLabelQuality.Index"/> = position).</summary>
    public IReadOnlyList<ImageLabelQuality> Images { get; }

    /// <summary>
    /// Fits on <paramref name="images"/> (<see cref="LabelQualityModel.Fit"/>), then scores every image.
    /// </summary>
    /// <param name="images">The data set with out-of-sample probabilities.</param>
    /// <param name="classCount">K, the number of probability planes (1 = binary sigmoid).</param>
    /// <param name="options">Options; null = defaults.</param>
    /// <param name="maxDegreeOfParallelism">Images scored at once (default: processor count). Results do not depend on it.</param>
    /// <exception cref="ArgumentException">No image, or an image is inconsistent.</exception>
    public static LabelQualityReport Create(IReadOnlyList<LabelQualityImage> images, int classCount, LabelQualityOptions? options = null, int? maxDegreeOfParallelism = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (maxDegreeOfParallelism is < 1)
            throw new ArgumentOutOfRangeException(nameof(maxDegreeOfParallelism), maxDegreeOfParallelism, "maxDegreeOfParallelism must be at least 1.");
        var model = LabelQualityModel.Fit(images, classCount, options);
        var results = new ImageLabelQuality[images.Count];
        var po = new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism ?? Environment.ProcessorCount };
        Parallel.For(0, images.Count, po, i => results[i] = model.Score(images[i], i));
        return new LabelQualityReport(model, results);
    }

    /// <summary>Wraps images already scored by <paramref name="model"/>.</summary>
    /// <param name="model">The model that scored them.</param>
    /// <param name="images">The results, in data-set order.</param>
    public static LabelQualityReport FromScores(LabelQualityModel model, IEnumerable<ImageLabelQuality> images)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(images);
        return new LabelQualityReport(model, images.ToArray());
    }

    /// <summary>The images sorted by the chosen score (<see cref="ImageLabelQuality.GetRankingKey"/>), most suspicious (lowest) first; ties keep input order, NaN scores come last.</summary>
    /// <param name="kind">The score to sort by (default: meta-structure).</param>
    public IReadOnlyList<ImageLabelQuality> Rank(LabelQualityScoreKind kind = LabelQualityScoreKind.MetaStructure) => Rank(Images, kind);

    /// <summary>Sorts any list of results by a score, most suspicious (lowest) first; stable, NaN last.</summary>
    /// <param name="images">The results.</param>
    /// <param name="kind">The score to sort by.</param>
    public static IReadOnlyList<ImageLabelQuality> Rank(IReadOnlyList<ImageLabelQuality> images, LabelQualityScoreKind kind)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (!Enum.IsDefined(kind)) throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown score kind.");
        var keys = new double[images.Count];
        var order = new int[images.Count];
        for (int i = 0; i < keys.Length; i++)
        {
            double s = images[i].GetRankingKey(kind);
            keys[i] = double.IsNaN(s) ? double.PositiveInfinity : s;
            order[i] = i;
        }
        Array.Sort(order, (a, b) =>
        {
            int cmp = keys[a].CompareTo(keys[b]);
            if (cmp != 0) return cmp;
            bool na = double.IsNaN(images[a].GetRankingKey(kind)), nb = double.IsNaN(images[b].GetRankingKey(kind));
            return na != nb ? (na ? 1 : -1) : a.CompareTo(b);
        });
        var ranked = new ImageLabelQuality[order.Length];
        for (int i = 0; i < order.Length; i++) ranked[i] = images[order[i]];
        return Array.AsReadOnly(ranked);
    }

    /// <summary>The chosen score of every image, in input order.</summary>
    /// <param name="kind">The score.</param>
    public double[] Scores(LabelQualityScoreKind kind)
    {
        var s = new double[Images.Count];
        for (int i = 0; i < s.Length; i++) s[i] = Images[i].GetScore(kind);
        return s;
    }
}
