using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.MetaStructure;
using MLNet.NoisySeg.Noise;
using MLNet.NoisySeg.Quality;

namespace MLNet.NoisySeg.Tests.Quality;

/// <summary>Structural label errors planted into synthetic masks.</summary>
internal enum PlantedError
{
    None,
    Dilate,
    Erode,
    DropObject,
    AddObject,
    Shift,
    SwapClass,
}

/// <summary>One synthetic image: the judged input, its truth, and where its given label is wrong.</summary>
internal sealed record SyntheticCase(LabelQualityImage Image, byte[] TrueMask, byte[] CorruptedMask, byte[] Changed, PlantedError Error)
{
    public bool HasIssue => Error != PlantedError.None;
}

/// <summary>Knobs of <see cref="QualityTestData.Make"/>.</summary>
internal sealed record SyntheticSpec
{
    public int Count { get; init; } = 60;
    public int Size { get; init; } = 64;
    public int Seed { get; init; } = 1;

    /// <summary>Every PlantEvery-th image (index % PlantEvery == 0) gets an error, cycling through Errors.</summary>
    public int PlantEvery { get; init; } = 5;

    public PlantedError[] Errors { get; init; } = [PlantedError.Dilate, PlantedError.Erode, PlantedError.DropObject, PlantedError.AddObject, PlantedError.Shift];

    /// <summary>Classes of the masks (2 = binary); the probabilities have 1 plane when binary and BinaryPlanes.</summary>
    public int ClassCount { get; init; } = 2;

    public bool SinglePlane { get; init; } = true;

    /// <summary>When set (binary only): the given mask keeps this fraction of its foreground (exact count), and the
    /// simulated network outputs about this level on foreground, as one trained on such labels does.</summary>
    public double? SamplingRate { get; init; }

    /// <summary>When set (binary only): two-sided flipping of the given mask at this rate (foreground and background),
    /// and the simulated network outputs about 1 - rate on foreground and rate on background.</summary>
    public double? FlipRate { get; init; }

    /// <summary>Standard deviation of the per-pixel output noise, relative to the output range.</summary>
    public double Noise { get; init; } = 0.05;

    /// <summary>Gaussian blur of the simulated output, in pixels.</summary>
    public double Blur { get; init; } = 1.0;

    /// <summary>The simulated network sees objects displaced by up to one pixel and radii off by up to one (its imprecision).</summary>
    public bool ModelJitter { get; init; } = true;

    /// <summary>With ModelJitter: also change the radii the network sees by up to one pixel.</summary>
    public bool RadiusJitter { get; init; } = true;

    public int DilateRadius { get; init; } = 2;
    public int ShiftX { get; init; } = 3;
    public int ShiftY { get; init; } = 2;
}

/// <summary>
/// Synthetic data with known planted label errors: masks made of discs; a planted error edits the disc list (all radii
/// +/- k, one disc dropped or added, every disc shifted, one disc's class swapped); the "out-of-sample probabilities"
/// are a blurred, noisy one-hot of the TRUE mask as a slightly imprecise network would see it, at the output levels of
/// the label noise (about s on foreground for sampling at rate s).
/// </summary>
internal static class QualityTestData
{
    private sealed record Disc(int X, int Y, int R, byte Class);

    public static List<SyntheticCase> Make(SyntheticSpec spec)
    {
        var cases = new List<SyntheticCase>(spec.Count);
        for (int i = 0; i < spec.Count; i++) cases.Add(MakeOne(spec, i));
        return cases;
    }

    public static SyntheticCase MakeOne(SyntheticSpec spec, int index)
    {
        int size = spec.Size, n = size * size, c = spec.ClassCount;
        var rng = SeededRandom.For(spec.Seed, index);
        var discs = new List<Disc>();
        int objects = 3 + rng.NextInt(3);
        for (int attempt = 0; discs.Count < objects && attempt < 500; attempt++)
        {
            var d = RandomDisc(ref rng, size, c);
            if (Fits(d, discs, size)) discs.Add(d);
        }
        byte[] truth = Paint(discs, size);

        var error = index % spec.PlantEvery == 0 ? spec.Errors[index / spec.PlantEvery % spec.Errors.Length] : PlantedError.None;
        var corruptedDiscs = error switch
        {
            PlantedError.None => discs,
            PlantedError.Dilate => discs.Select(d => d with { R = d.R + spec.DilateRadius }).ToList(),
            PlantedError.Erode => discs.Select(d => d with { R = Math.Max(1, d.R - spec.DilateRadius) }).ToList(),
            PlantedError.DropObject => discs.Where((d, k) => k != 0).ToList(),
            PlantedError.AddObject => AddOne(discs, ref rng, size, c),
            PlantedError.Shift => discs.Select(d => d with { X = d.X + spec.ShiftX, Y = d.Y + spec.ShiftY }).ToList(),
            PlantedError.SwapClass => discs.Select((d, k) => k == 0 ? d with { Class = (byte)(d.Class % (c - 1) + 1) } : d).ToList(),
            _ => throw new ArgumentOutOfRangeException(nameof(spec)),
        };
        byte[] corrupted = Paint(corruptedDiscs, size);
        var changed = new byte[n];
        for (int i = 0; i < n; i++) changed[i] = corrupted[i] != truth[i] ? (byte)1 : (byte)0;

        byte[] given = corrupted;
        if (spec.SamplingRate is double s)
            given = LabelNoiseSpec.Sampling(s).Apply(corrupted, size, size, spec.Seed, index);
        if (spec.FlipRate is double f)
            given = LabelNoiseSpec.Flipping(f, f).Apply(corrupted, size, size, spec.Seed, index);

        // What the (imprecise) network sees: the true discs, jittered.
        var seen = discs;
        if (spec.ModelJitter)
        {
            var jr = rng.Fork(7);
            seen = discs.Select(d => d with { X = d.X + jr.NextInt(3) - 1, Y = d.Y + jr.NextInt(3) - 1, R = spec.RadiusJitter ? Math.Max(1, d.R + jr.NextInt(3) - 1) : d.R }).ToList();
        }
        byte[] seenMask = Paint(seen, size);
        float[] soft = DensityMap.ComputeGaussian(seenMask, size, size, c, spec.Blur);
        var noise = rng.Fork(11);
        float[] probabilities;
        double level = spec.SamplingRate ?? 1.0;
        if (c == 2 && spec.SinglePlane)
        {
            probabilities = new float[n];
            double lo = spec.SamplingRate is null ? 0.02 : 0.0, hi = spec.SamplingRate is null ? 0.98 : level;
            if (spec.FlipRate is double fr) { lo = fr; hi = 1 - fr; }
            for (int i = 0; i < n; i++)
            {
                double p = lo + (hi - lo) * soft[n + i] + spec.Noise * (hi - lo) * noise.NextGaussian();
                probabilities[i] = (float)Math.Clamp(p, 0, 1);
            }
        }
        else
        {
            probabilities = new float[c * n];
            for (int i = 0; i < n; i++)
            {
                double sum = 0;
                for (int k = 0; k < c; k++)
                {
                    double p = Math.Max(1e-4, 0.9 * soft[k * n + i] + 0.1 / c + spec.Noise * noise.NextGaussian());
                    probabilities[k * n + i] = (float)p;
                    sum += p;
                }
                for (int k = 0; k < c; k++) probabilities[k * n + i] = (float)(probabilities[k * n + i] / sum);
            }
        }
        var image = new LabelQualityImage($"img-{index:D3}-{error}", given, probabilities, size, size);
        return new SyntheticCase(image, truth, corrupted, changed, error);
    }

    private static Disc RandomDisc(ref SeededRandom rng, int size, int c)
    {
        int r = rng.NextIntInclusive(size / 16, size / 7);
        return new Disc(rng.NextIntInclusive(r + 4, size - r - 5), rng.NextIntInclusive(r + 4, size - r - 5), r, (byte)(1 + rng.NextInt(c - 1)));
    }

    private static bool Fits(Disc d, List<Disc> discs, int size)
    {
        foreach (var o in discs)
        {
            double dist = Math.Sqrt((d.X - o.X) * (d.X - o.X) + (d.Y - o.Y) * (d.Y - o.Y));
            if (dist < d.R + o.R + 6) return false;
        }
        return true;
    }

    private static List<Disc> AddOne(List<Disc> discs, ref SeededRandom rng, int size, int c)
    {
        var fork = rng.Fork(3);
        for (int attempt = 0; attempt < 1000; attempt++)
        {
            var d = RandomDisc(ref fork, size, c);
            if (Fits(d, discs, size)) return [.. discs, d];
        }
        throw new InvalidOperationException("no room for an added object");
    }

    public static byte[] Paint(IEnumerable<(int X, int Y, int R, byte Class)> discs, int size)
        => Paint(discs.Select(d => new Disc(d.X, d.Y, d.R, d.Class)).ToList(), size);

    private static byte[] Paint(List<Disc> discs, int size)
    {
        var m = new byte[size * size];
        foreach (var d in discs)
            for (int y = Math.Max(0, d.Y - d.R); y <= Math.Min(size - 1, d.Y + d.R); y++)
                for (int x = Math.Max(0, d.X - d.R); x <= Math.Min(size - 1, d.X + d.R); x++)
                    if ((x - d.X) * (x - d.X) + (y - d.Y) * (y - d.Y) <= d.R * d.R) m[y * size + x] = d.Class;
        return m;
    }

    public static bool[] Issues(IReadOnlyList<SyntheticCase> cases) => cases.Select(k => k.HasIssue).ToArray();
}
