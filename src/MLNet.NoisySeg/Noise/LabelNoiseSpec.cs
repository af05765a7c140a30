using System.Globalization;
using System.Text;
using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Morphology;

namespace MLNet.NoisySeg.Noise;

/// <summary>
/// A serialisable description of one label corruption: a <see cref="Kind"/> plus the parameters that
/// kind uses (the others keep their defaults and are ignored). Build it with the factory methods
/// (<see cref="Sampling"/>, <see cref="Flipping"/>, ...) or <see cref="Parse"/>, and corrupt a mask
/// with <see cref="Apply(ReadOnlySpan{byte}, Span{byte}, int, int, ref SeededRandom)"/>.
/// </summary>
/// <remarks>
/// <para>The compact text form (<see cref="ToString"/>) uses the invariant culture and round-trips
/// through <see cref="Parse"/>: <c>clean</c>, <c>sampling(0.1)</c>, <c>flip(0.45,0.45)</c>,
/// <c>random(0.3)</c>, <c>dilate(2)</c>, <c>erode(1)</c>, <c>skeleton</c>, <c>shift(1)</c>,
/// <c>boundaryflip(2,0.5)</c>, <c>ntm([[0.9,0.1],[0.2,0.8]])</c>, <c>symflip(0.5,classes=4)</c>,
/// <c>classsample(0.1,bg=0)</c>, <c>classdilate(1,bg=0)</c>, <c>classerode(1,bg=0)</c>,
/// <c>randomprior([0.5,0.3,0.2])</c>.</para>
/// <para>Exact counts: wherever a definition says ceil(x·N) the count is computed with a small
/// tolerance against floating-point error (ceil((1 - 0.9)·10) is 1, not 2), and the subset is drawn
/// uniformly without replacement (sampling, flipping, boundary flipping, class sampling).</para>
/// <para>Binary kinds (sampling, flip, dilate, erode, skeleton, shift, boundaryflip) need masks with
/// values 0, 1 and 255 only. Ignore pixels (255) are never corrupted by any kind.</para>
/// </remarks>
public sealed partial record LabelNoiseSpec
{
    /// <summary>Which corruption this is.</summary>
    public LabelNoiseKind Kind { get; init; } = LabelNoiseKind.Clean;

    /// <summary>The rate of the kinds with one rate: s of sampling and class sampling, r of random
    /// labels, e of symmetric and boundary flipping. In [0, 1].</summary>
    public double Rate { get; init; }

    /// <summary>Flipping f: fraction of foreground pixels turned to background. In [0, 1].</summary>
    public double ForegroundFlipRate { get; init; }

    /// <summary>Flipping b: fraction of background pixels turned to foreground. In [0, 1].</summary>
    public double BackgroundFlipRate { get; init; }

    /// <summary>Disk radius k of dilation/erosion (in [0, <see cref="BinaryMorphology.MaxRadius"/>]) or shift radius r (≥ 0).</summary>
    public int Radius { get; init; }

    /// <summary>Boundary flipping d: pixels within this Euclidean distance of the other class may flip.
    /// In [1, <see cref="BinaryMorphology.MaxRadius"/>].</summary>
    public int Distance { get; init; }

    /// <summary>Number of classes of the symmetric flip, in [2, 255].</summary>
    public int ClassCount { get; init; }

    /// <summary>Background class of class-wise sampling, dilation and erosion, in [0, 254]. Default 0.</summary>
    public int BackgroundClass { get; init; }

    /// <summary>The noise transition matrix of <see cref="LabelNoiseKind.TransitionMatrix"/>.</summary>
    public NoiseTransitionMatrix? Matrix { get; init; }

    /// <summary>The class prior of <see cref="LabelNoiseKind.RandomPrior"/>: at least 2 probabilities summing to 1.</summary>
    public IReadOnlyList<double>? Prior { get; init; }

    /// <summary>True for the kinds that need binary masks (values 0, 1, 255).</summary>
    public bool IsBinary => Kind is LabelNoiseKind.Sampling or LabelNoiseKind.Flipping or LabelNoiseKind.Dilate
        or LabelNoiseKind.Erode or LabelNoiseKind.Skeleton or LabelNoiseKind.Shift or LabelNoiseKind.BoundaryFlip;

    /// <summary>CL: no corruption.</summary>
    public static LabelNoiseSpec Clean() => new() { Kind = LabelNoiseKind.Clean };

    /// <summary>RCL sampling: keep exactly ceil(s·N_fg) foreground pixels chosen uniformly without replacement.</summary>
    /// <param name="rate">s in [0, 1].</param>
    public static LabelNoiseSpec Sampling(double rate) => Checked(new() { Kind = LabelNoiseKind.Sampling, Rate = rate });

    /// <summary>RCL two-sided flipping with separate foreground (f) and background (b) rates.</summary>
    /// <param name="foregroundFlipRate">f in [0, 1].</param>
    /// <param name="backgroundFlipRate">b in [0, 1].</param>
    public static LabelNoiseSpec Flipping(double foregroundFlipRate, double backgroundFlipRate)
        => Checked(new() { Kind = LabelNoiseKind.Flipping, ForegroundFlipRate = foregroundFlipRate, BackgroundFlipRate = backgroundFlipRate });

    /// <summary>RL: every pixel foreground with probability r, ignoring the truth.</summary>
    /// <param name="rate">r in [0, 1].</param>
    public static LabelNoiseSpec RandomLabels(double rate) => Checked(new() { Kind = LabelNoiseKind.Random, Rate = rate });

    /// <summary>PCL dilation with a disk of radius k.</summary>
    /// <param name="radius">k in [0, <see cref="BinaryMorphology.MaxRadius"/>].</param>
    public static LabelNoiseSpec Dilation(int radius) => Checked(new() { Kind = LabelNoiseKind.Dilate, Radius = radius });

    /// <summary>PCL erosion with a disk of radius k (outside the image = background).</summary>
    /// <param name="radius">k in [0, <see cref="BinaryMorphology.MaxRadius"/>].</param>
    public static LabelNoiseSpec Erosion(int radius) => Checked(new() { Kind = LabelNoiseKind.Erode, Radius = radius });

    /// <summary>PCL skeleton (see <see cref="BinaryMorphology.Skeletonize"/>).</summary>
    public static LabelNoiseSpec Skeleton() => new() { Kind = LabelNoiseKind.Skeleton };

    /// <summary>Pixel shift: every foreground pixel moves by uniform integer offsets in [-r, r] per axis.</summary>
    /// <param name="radius">r ≥ 0.</param>
    public static LabelNoiseSpec PixelShift(int radius) => Checked(new() { Kind = LabelNoiseKind.Shift, Radius = radius });

    /// <summary>Boundary-biased flipping: among the pixels within distance d of the other class, keep
    /// ceil((1-e)·n) foreground pixels and flip n - ceil((1-e)·n) background pixels (n counted per class).</summary>
    /// <param name="distance">d in [1, <see cref="BinaryMorphology.MaxRadius"/>].</param>
    /// <param name="rate">e in [0, 1].</param>
    public static LabelNoiseSpec BoundaryFlip(int distance, double rate)
        => Checked(new() { Kind = LabelNoiseKind.BoundaryFlip, Distance = distance, Rate = rate });

    /// <summary>Per-pixel noise from a transition matrix Q[true, noisy].</summary>
    /// <param name="matrix">The matrix.</param>
    public static LabelNoiseSpec FromMatrix(NoiseTransitionMatrix matrix)
        => Checked(new() { Kind = LabelNoiseKind.TransitionMatrix, Matrix = matrix });

    /// <summary>Symmetric flip: stay with probability 1-e, else a uniformly random other class.</summary>
    /// <param name="rate">e in [0, 1].</param>
    /// <param name="classCount">Number of classes, in [2, 255].</param>
    public static LabelNoiseSpec SymmetricFlip(double rate, int classCount)
        => Checked(new() { Kind = LabelNoiseKind.SymmetricFlip, Rate = rate, ClassCount = classCount });

    /// <summary>Class-wise sampling: keep exactly ceil(s·N_c) pixels of every non-background class c; the rest become background.</summary>
    /// <param name="rate">s in [0, 1].</param>
    /// <param name="backgroundClass">The background class, in [0, 254].</param>
    public static LabelNoiseSpec ClassSampling(double rate, int backgroundClass = 0)
        => Checked(new() { Kind = LabelNoiseKind.ClassSampling, Rate = rate, BackgroundClass = backgroundClass });

    /// <summary>Class-wise dilation: every non-background class grows by a disk of radius k into background
    /// pixels only; where several classes reach the same background pixel the lowest class index wins.</summary>
    /// <param name="radius">k in [0, <see cref="BinaryMorphology.MaxRadius"/>].</param>
    /// <param name="backgroundClass">The background class, in [0, 254].</param>
    public static LabelNoiseSpec ClassDilation(int radius, int backgroundClass = 0)
        => Checked(new() { Kind = LabelNoiseKind.ClassDilate, Radius = radius, BackgroundClass = backgroundClass });

    /// <summary>Class-wise erosion: every non-background class is eroded by a disk of radius k (every
    /// other class, ignore and the outside count as not-the-class); eroded pixels become background.</summary>
    /// <param name="radius">k in [0, <see cref="BinaryMorphology.MaxRadius"/>].</param>
    /// <param name="backgroundClass">The background class, in [0, 254].</param>
    public static LabelNoiseSpec ClassErosion(int radius, int backgroundClass = 0)
        => Checked(new() { Kind = LabelNoiseKind.ClassErode, Radius = radius, BackgroundClass = backgroundClass });

    /// <summary>Random multi-class labels: every pixel's class drawn from <paramref name="prior"/>, ignoring the truth.</summary>
    /// <param name="prior">Class probabilities (at least 2, summing to 1).</param>
    public static LabelNoiseSpec RandomPrior(IReadOnlyList<double> prior)
        => Checked(new() { Kind = LabelNoiseKind.RandomPrior, Prior = prior?.ToArray() });

    private static LabelNoiseSpec Checked(LabelNoiseSpec spec)
    {
        spec.Validate();
        return spec;
    }

    /// <summary>Checks the parameters the <see cref="Kind"/> uses.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A parameter is out of range; ParamName and message name it.</exception>
    /// <exception cref="ArgumentException">A required matrix or prior is missing or invalid.</exception>
    public void Validate()
    {
        switch (Kind)
        {
            case LabelNoiseKind.Clean:
            case LabelNoiseKind.Skeleton:
                break;
            case LabelNoiseKind.Sampling:
            case LabelNoiseKind.Random:
                Guard.Probability(Rate, nameof(Rate));
                break;
            case LabelNoiseKind.Flipping:
                Guard.Probability(ForegroundFlipRate, nameof(ForegroundFlipRate));
                Guard.Probability(BackgroundFlipRate, nameof(BackgroundFlipRate));
                break;
            case LabelNoiseKind.Dilate:
            case LabelNoiseKind.Erode:
                CheckRange(Radius, 0, BinaryMorphology.MaxRadius, nameof(Radius));
                break;
            case LabelNoiseKind.Shift:
                Guard.AtLeast(Radius, 0, nameof(Radius));
                break;
            case LabelNoiseKind.BoundaryFlip:
                CheckRange(Distance, 1, BinaryMorphology.MaxRadius, nameof(Distance));
                Guard.Probability(Rate, nameof(Rate));
                break;
            case LabelNoiseKind.TransitionMatrix:
                if (Matrix is null)
                    throw new ArgumentException("Matrix must be set for the transition-matrix noise.", nameof(Matrix));
                if (Matrix.ClassCount > MaskConventions.MaxClassCount)
                    throw new ArgumentOutOfRangeException(nameof(Matrix), Matrix.ClassCount, $"Matrix has {Matrix.ClassCount} classes; at most {MaskConventions.MaxClassCount} are supported.");
                break;
            case LabelNoiseKind.SymmetricFlip:
                Guard.Probability(Rate, nameof(Rate));
                CheckRange(ClassCount, 2, MaskConventions.MaxClassCount, nameof(ClassCount));
                break;
            case LabelNoiseKind.ClassSampling:
                Guard.Probability(Rate, nameof(Rate));
                CheckRange(BackgroundClass, 0, MaskConventions.MaxClassCount - 1, nameof(BackgroundClass));
                break;
            case LabelNoiseKind.ClassDilate:
            case LabelNoiseKind.ClassErode:
                CheckRange(Radius, 0, BinaryMorphology.MaxRadius, nameof(Radius));
                CheckRange(BackgroundClass, 0, MaskConventions.MaxClassCount - 1, nameof(BackgroundClass));
                break;
            case LabelNoiseKind.RandomPrior:
                ValidatePrior(Prior);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(Kind), Kind, $"Kind {Kind} is not a known label noise kind.");
        }
    }

    private static void CheckRange(int value, int min, int max, string name)
    {
        if (value < min || value > max)
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be in [{min}, {max}]; got {value}.");
    }

    private static void ValidatePrior(IReadOnlyList<double>? prior)
    {
        if (prior is null)
            throw new ArgumentException("Prior must be set for random labels with a class prior.", nameof(Prior));
        if (prior.Count < 2 || prior.Count > MaskConventions.MaxClassCount)
            throw new ArgumentOutOfRangeException(nameof(Prior), prior.Count, $"Prior must have between 2 and {MaskConventions.MaxClassCount} entries; got {prior.Count}.");
        double sum = 0;
        for (int i = 0; i < prior.Count; i++)
        {
            double p = prior[i];
            if (double.IsNaN(p) || p < 0 || p > 1)
                throw new ArgumentOutOfRangeException(nameof(Prior), p, $"Prior[{i}] must be a number in [0, 1]; got {p.ToString(CultureInfo.InvariantCulture)}.");
            sum += p;
        }
        if (Math.Abs(sum - 1) > NoiseTransitionMatrix.RowSumTolerance)
            throw new ArgumentException($"Prior must sum to 1; it sums to {sum.ToString("R", CultureInfo.InvariantCulture)}.", nameof(Prior));
    }

    /// <summary>
    /// The noise transition matrix Q[true, noisy] this corruption realises in expectation, or null when
    /// none is defined (dilation, erosion, skeleton, shift, boundary flip: they depend on the shape).
    /// </summary>
    /// <remarks>
    /// Binary kinds give 2x2 matrices: sampling [[1, 0], [1-s, s]], flipping [[1-b, b], [f, 1-f]],
    /// random [[1-r, r], [1-r, r]]. The transition matrix, symmetric flip and prior define their own
    /// class count; clean and class-wise sampling use <paramref name="classCount"/>.
    /// </remarks>
    /// <param name="classCount">Number of classes for <c>clean</c> and <c>classsample</c> (at least 2; larger than the background class).</param>
    public NoiseTransitionMatrix? ExpectedTransitionMatrix(int classCount = 2)
    {
        Validate();
        switch (Kind)
        {
            case LabelNoiseKind.Clean:
                return NoiseTransitionMatrix.Identity(classCount);
            case LabelNoiseKind.Sampling:
                return new NoiseTransitionMatrix(new double[,] { { 1, 0 }, { 1 - Rate, Rate } });
            case LabelNoiseKind.Flipping:
                return NoiseTransitionMatrix.BinaryFlip(ForegroundFlipRate, BackgroundFlipRate);
            case LabelNoiseKind.Random:
                return new NoiseTransitionMatrix(new double[,] { { 1 - Rate, Rate }, { 1 - Rate, Rate } });
            case LabelNoiseKind.TransitionMatrix:
                return Matrix;
            case LabelNoiseKind.SymmetricFlip:
                return NoiseTransitionMatrix.SymmetricFlip(ClassCount, Rate);
            case LabelNoiseKind.ClassSampling:
            {
                CheckRange(classCount, Math.Max(2, BackgroundClass + 1), MaskConventions.MaxClassCount, nameof(classCount));
                var q = new double[classCount, classCount];
                for (int j = 0; j < classCount; j++)
                {
                    if (j == BackgroundClass) { q[j, j] = 1; continue; }
                    q[j, j] += Rate;
                    q[j, BackgroundClass] += 1 - Rate;
                }
                return new NoiseTransitionMatrix(q);
            }
            case LabelNoiseKind.RandomPrior:
            {
                int k = Prior!.Count;
                var q = new double[k, k];
                for (int j = 0; j < k; j++)
                    for (int m = 0; m < k; m++)
                        q[j, m] = Prior[m];
                return new NoiseTransitionMatrix(q);
            }
            default:
                return null;
        }
    }

    /// <summary>The compact invariant-culture text form, e.g. <c>flip(0.45,0.45)</c>; <see cref="Parse"/> reads it back.</summary>
    public override string ToString()
    {
        static string D(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        static string I(int v) => v.ToString(CultureInfo.InvariantCulture);
        return Kind switch
        {
            LabelNoiseKind.Clean => "clean",
            LabelNoiseKind.Sampling => $"sampling({D(Rate)})",
            LabelNoiseKind.Flipping => $"flip({D(ForegroundFlipRate)},{D(BackgroundFlipRate)})",
            LabelNoiseKind.Random => $"random({D(Rate)})",
            LabelNoiseKind.Dilate => $"dilate({I(Radius)})",
            LabelNoiseKind.Erode => $"erode({I(Radius)})",
            LabelNoiseKind.Skeleton => "skeleton",
            LabelNoiseKind.Shift => $"shift({I(Radius)})",
            LabelNoiseKind.BoundaryFlip => $"boundaryflip({I(Distance)},{D(Rate)})",
            LabelNoiseKind.TransitionMatrix => $"ntm({MatrixText(Matrix)})",
            LabelNoiseKind.SymmetricFlip => $"symflip({D(Rate)},classes={I(ClassCount)})",
            LabelNoiseKind.ClassSampling => $"classsample({D(Rate)},bg={I(BackgroundClass)})",
            LabelNoiseKind.ClassDilate => $"classdilate({I(Radius)},bg={I(BackgroundClass)})",
            LabelNoiseKind.ClassErode => $"classerode({I(Radius)},bg={I(BackgroundClass)})",
            LabelNoiseKind.RandomPrior => $"randomprior({ListText(Prior)})",
            _ => Kind.ToString(),
        };
    }

    private static string ListText(IReadOnlyList<double>? values)
    {
        if (values is null) return "[]";
        var sb = new StringBuilder("[");
        for (int i = 0; i < values.Count; i++)
        {
            if (i > 0) sb.Append(',');
            sb.Append(values[i].ToString("R", CultureInfo.InvariantCulture));
        }
        return sb.Append(']').ToString();
    }

    private static string MatrixText(NoiseTransitionMatrix? q)
    {
        if (q is null) return "[]";
        var sb = new StringBuilder("[");
        for (int j = 0; j < q.ClassCount; j++)
        {
            if (j > 0) sb.Append(',');
            var row = new double[q.ClassCount];
            for (int m = 0; m < row.Length; m++) row[m] = q[j, m];
            sb.Append(ListText(row));
        }
        return sb.Append(']').ToString();
    }

    /// <summary>Value equality; the matrix and the prior compare by their entries.</summary>
    /// <param name="other">The other spec.</param>
    public bool Equals(LabelNoiseSpec? other)
    {
        if (other is null) return false;
        if (ReferenceEquals(this, other)) return true;
        return Kind == other.Kind && Rate.Equals(other.Rate) && ForegroundFlipRate.Equals(other.ForegroundFlipRate)
            && BackgroundFlipRate.Equals(other.BackgroundFlipRate) && Radius == other.Radius && Distance == other.Distance
            && ClassCount == other.ClassCount && BackgroundClass == other.BackgroundClass
            && MatrixEquals(Matrix, other.Matrix) && PriorEquals(Prior, other.Prior);
    }

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(Kind); h.Add(Rate); h.Add(ForegroundFlipRate); h.Add(BackgroundFlipRate);
        h.Add(Radius); h.Add(Distance); h.Add(ClassCount); h.Add(BackgroundClass);
        if (Matrix is not null)
            for (int j = 0; j < Matrix.ClassCount; j++)
                for (int m = 0; m < Matrix.ClassCount; m++) h.Add(Matrix[j, m]);
        if (Prior is not null)
            foreach (double p in Prior) h.Add(p);
        return h.ToHashCode();
    }

    private static bool MatrixEquals(NoiseTransitionMatrix? a, NoiseTransitionMatrix? b)
    {
        if (ReferenceEquals(a, b)) return true;
        if (a is null || b is null || a.ClassCount != b.ClassCount) return false;
        for (int j = 0; j < a.ClassCount; j++)
            for (int m = 0; m < a.ClassCount; m++)
                if (!a[j, m].Equals(b[j, m])) return false;
        return true;
    }

    private static bool PriorEquals(IReadOnlyList<double>? a, IReadOnlyList<double>? b)
    {
        if (ReferenceEquals(a, b)) return true;
        if (a is null || b is null || a.Count != b.Count) return false;
        for (int i = 0; i < a.Count; i++)
            if (!a[i].Equals(b[i])) return false;
        return true;
    }
}
