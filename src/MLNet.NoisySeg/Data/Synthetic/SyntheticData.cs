using System.Globalization;
using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Data.Preprocessing;

namespace MLNet.NoisySeg.Data.Synthetic;

/// <summary>
/// Seeded, license-free synthetic segmentation data: fluorescence-like one-channel images
/// (filament networks or nuclei) with binary masks, and RGB scenes of textured shapes with
/// multi-class masks.
/// </summary>
/// <remarks>
/// <para>Sample <c>index</c> of a given seed is always the same, whichever other samples are
/// generated, in which order, and on how many threads: every sample draws from its own
/// <see cref="SeededRandom.For(int, long, int)"/> stream. Masks use only exactly rounded arithmetic
/// (+, -, *, /, sqrt), so they are bit-identical across platforms; image values involve
/// <c>exp</c>/<c>log</c>/<c>cos</c> (PSF, noise) and may differ in the last bits between
/// operating systems or runtimes, never between runs or thread counts on one machine.</para>
/// <para>Writing PNG files is left to the data-set layer; samples carry a file-safe
/// <see cref="SegmentationItem.Name"/>.</para>
/// </remarks>
public static class SyntheticData
{
    /// <summary>Largest <see cref="SyntheticSceneOptions.ClassCount"/> (background + 5 shape classes).</summary>
    public const int MaxSceneClassCount = 6;

    private const ulong FilamentStream = 0x46494C41UL, NucleusStream = 0x4E55434CUL, SceneStream = 0x5343454EUL;

    /// <summary>Generates fluorescence sample <paramref name="index"/> of the seeded sequence.</summary>
    /// <param name="options">Generator options (validated).</param>
    /// <param name="seed">The seed.</param>
    /// <param name="index">Sample index (at least 0); names are <c>filaments-00042</c> / <c>nuclei-00042</c>.</param>
    /// <returns>A one-channel image in [0, 1] and its binary (0/1) mask.</returns>
    public static SegmentationItem Fluorescence(SyntheticFluorescenceOptions options, int seed, int index)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return FluorescenceCore(options, seed, index);
    }

    /// <summary>
    /// Generates samples <paramref name="firstIndex"/> .. <paramref name="firstIndex"/> + <paramref name="count"/> - 1
    /// in parallel; the result is identical (byte for byte) for any degree of parallelism.
    /// </summary>
    /// <param name="options">Generator options (validated).</param>
    /// <param name="seed">The seed.</param>
    /// <param name="count">Number of samples (at least 0).</param>
    /// <param name="firstIndex">Index of the first sample (at least 0).</param>
    /// <param name="maxDegreeOfParallelism">Thread limit; -1 (default) lets the runtime decide, 1 runs sequentially.</param>
    /// <returns>The samples in index order.</returns>
    public static SegmentationItem[] FluorescenceBatch(SyntheticFluorescenceOptions options, int seed, int count, int firstIndex = 0, int maxDegreeOfParallelism = -1)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return Batch(count, firstIndex, maxDegreeOfParallelism, i => FluorescenceCore(options, seed, i));
    }

    /// <summary>Generates scene sample <paramref name="index"/> of the seeded sequence.</summary>
    /// <param name="options">Generator options (validated).</param>
    /// <param name="seed">The seed.</param>
    /// <param name="index">Sample index (at least 0); names are <c>scene-00042</c>.</param>
    /// <returns>A three-channel RGB image in [0, 1] and its mask of class indices in [0, ClassCount).</returns>
    public static SegmentationItem Scene(SyntheticSceneOptions options, int seed, int index)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return SceneCore(options, seed, index);
    }

    /// <summary>Generates consecutive scene samples in parallel; identical for any degree of parallelism.</summary>
    /// <param name="options">Generator options (validated).</param>
    /// <param name="seed">The seed.</param>
    /// <param name="count">Number of samples (at least 0).</param>
    /// <param name="firstIndex">Index of the first sample (at least 0).</param>
    /// <param name="maxDegreeOfParallelism">Thread limit; -1 (default) lets the runtime decide, 1 runs sequentially.</param>
    /// <returns>The samples in index order.</returns>
    public static SegmentationItem[] SceneBatch(SyntheticSceneOptions options, int seed, int count, int firstIndex = 0, int maxDegreeOfParallelism = -1)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return Batch(count, firstIndex, maxDegreeOfParallelism, i => SceneCore(options, seed, i));
    }

    private static SegmentationItem[] Batch(int count, int firstIndex, int maxDegreeOfParallelism, Func<int, SegmentationItem> make)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "count must be at least 0.");
        if (firstIndex < 0 || (long)firstIndex + count > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(firstIndex), firstIndex, "firstIndex must be at least 0 and firstIndex + count must fit in an int.");
        if (maxDegreeOfParallelism == 0 || maxDegreeOfParallelism < -1)
            throw new ArgumentOutOfRangeException(nameof(maxDegreeOfParallelism), maxDegreeOfParallelism, "maxDegreeOfParallelism must be -1 or at least 1.");
        var result = new SegmentationItem[count];
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism }, i => result[i] = make(firstIndex + i));
        return result;
    }

    private static void CheckIndex(int index)
    {
        if (index < 0) throw new ArgumentOutOfRangeException(nameof(index), index, "index must be at least 0.");
    }

    private static string Name(string prefix, int index) => prefix + "-" + index.ToString("D5", CultureInfo.InvariantCulture);

    // ---------------------------------------------------------------- fluorescence

    private static SegmentationItem FluorescenceCore(SyntheticFluorescenceOptions o, int seed, int index)
    {
        CheckIndex(index);
        int w = o.Width, h = o.Height;
        bool filaments = o.Kind == SyntheticFluorescenceKind.Filaments;
        var rng = SeededRandom.For(seed, index).Fork(filaments ? FilamentStream : NucleusStream);
        var structure = new float[w * h];
        var mask = new byte[w * h];
        if (filaments) DrawFilaments(o, ref rng, structure, mask);
        else DrawNuclei(o, ref rng, structure, mask);

        Filtering.GaussianBlur(structure, h, w, o.BlurSigma);
        if (o.BackgroundVariation > 0)
        {
            var shading = SyntheticRaster.ValueNoise(ref rng, h, w, Math.Max(w, h) / 3f);
            float bg = (float)o.Background, bv = (float)o.BackgroundVariation;
            for (int i = 0; i < structure.Length; i++) structure[i] += bg * (1f + bv * shading[i]);
        }
        else
        {
            float bg = (float)o.Background;
            for (int i = 0; i < structure.Length; i++) structure[i] += bg;
        }
        var noiseRng = rng.Fork(1);
        SyntheticRaster.AddCameraNoise(structure, ref noiseRng, o.PhotonCount, o.NoiseLevel);
        return new SegmentationItem(Name(filaments ? "filaments" : "nuclei", index), structure, 1, h, w, mask);
    }

    private static void DrawFilaments(SyntheticFluorescenceOptions o, ref SeededRandom rng, float[] intensity, byte[] mask)
    {
        int w = o.Width, h = o.Height, plane = w * h;
        double s = o.FilamentSpacing, amp = o.FilamentWaviness;

        // Voronoi sites on a jittered grid covering the warped image plus a margin of cells.
        int off = 3 + (int)Math.Ceiling(amp / s);
        int gw = (int)Math.Ceiling(w / s) + 2 * off + 1, gh = (int)Math.Ceiling(h / s) + 2 * off + 1;
        int sites = gw * gh;
        var sx = new float[sites];
        var sy = new float[sites];
        for (int gy = 0; gy < gh; gy++)
            for (int gx = 0; gx < gw; gx++)
            {
                sx[gy * gw + gx] = (float)((gx - off + rng.NextDouble()) * s);
                sy[gy * gw + gx] = (float)((gy - off + rng.NextDouble()) * s);
            }
        ulong pairSalt = rng.NextUInt64();

        // Smooth domain warp so that the straight Voronoi edges become curved tubules.
        var px = new float[plane];
        var py = new float[plane];
        float a = (float)amp;
        float[]? warpX = null, warpY = null;
        if (amp > 0)
        {
            float spacing = (float)Math.Max(8, 2 * s);
            warpX = SyntheticRaster.ValueNoise(ref rng, h, w, spacing);
            warpY = SyntheticRaster.ValueNoise(ref rng, h, w, spacing);
        }

        // Pass 1: nearest site of every (warped) pixel. Sites outside the 3x3 cell block are at
        // least s away, so the outer ring of the 5x5 block is searched only when needed.
        var label = new int[plane];
        float inv = (float)(1 / s), s2 = (float)(s * s);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int p = y * w + x;
                float qx = x, qy = y;
                if (warpX is not null)
                {
                    qx += a * warpX[p];
                    qy += a * warpY![p];
                }
                px[p] = qx;
                py[p] = qy;
                int cx = (int)MathF.Floor(qx * inv) + off, cy = (int)MathF.Floor(qy * inv) + off;
                int best = -1;
                float bestD = float.MaxValue;
                for (int oy = -1; oy <= 1; oy++)
                {
                    int rowBase = (cy + oy) * gw + cx;
                    for (int ox = -1; ox <= 1; ox++)
                    {
                        int n = rowBase + ox;
                        float dx = sx[n] - qx, dy = sy[n] - qy, d = dx * dx + dy * dy;
                        if (d < bestD) { bestD = d; best = n; }
                    }
                }
                if (bestD > s2)
                {
                    for (int oy = -2; oy <= 2; oy++)
                        for (int ox = -2; ox <= 2; ox++)
                        {
                            if (Math.Abs(ox) < 2 && Math.Abs(oy) < 2) continue;
                            int n = (cy + oy) * gw + cx + ox;
                            float dx = sx[n] - qx, dy = sy[n] - qy, d = dx * dx + dy * dy;
                            if (d < bestD) { bestD = d; best = n; }
                        }
                }
                label[p] = best;
            }

        // Pass 2: Voronoi neighbours = labels adjacent in the pixel grid (8-neighbourhood). Each
        // kept edge m|j is the band |signed distance to the bisector| < half width, written for
        // site m as f(x) = D/2 - halfWidth - (x - p_m) . (p_j - p_m) / D (f < 0 inside the band).
        const int MaxDegree = 32;
        var degree = new int[sites];
        var neighbour = new int[sites * MaxDegree];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int m = label[y * w + x];
                if (x + 1 < w) Link(m, label[y * w + x + 1]);
                if (y + 1 < h)
                {
                    Link(m, label[(y + 1) * w + x]);
                    if (x + 1 < w) Link(m, label[(y + 1) * w + x + 1]);
                    if (x > 0) Link(m, label[(y + 1) * w + x - 1]);
                }
            }

        var coefX = new float[sites * MaxDegree];
        var coefY = new float[sites * MaxDegree];
        var coefC = new float[sites * MaxDegree];
        var level = new float[sites * MaxDegree];
        double gap = o.FilamentGapFraction, wMin = o.FilamentWidthMin, wMax = o.FilamentWidthMax;
        double sig = o.SignalIntensity, variation = o.IntensityVariation;
        for (int m = 0; m < sites; m++)
        {
            int kept = 0;
            for (int k = 0; k < degree[m]; k++)
            {
                int j = neighbour[m * MaxDegree + k];
                ulong key = Mix(pairSalt ^ ((ulong)(uint)Math.Min(m, j) << 32 | (uint)Math.Max(m, j)));
                double u1 = Unit(key), u2 = Unit(Mix(key + 1)), u3 = Unit(Mix(key + 2));
                if (u1 < gap) continue; // edge removed (same decision seen from both sides)
                float dx = sx[j] - sx[m], dy = sy[j] - sy[m], dist = MathF.Sqrt(dx * dx + dy * dy);
                int e = m * MaxDegree + kept++;
                coefX[e] = -dx / dist;
                coefY[e] = -dy / dist;
                coefC[e] = 0.5f * dist - (float)(0.5 * (wMin + (wMax - wMin) * u2));
                level[e] = (float)(sig * (1 + variation * (2 * u3 - 1)));
            }
            degree[m] = kept;
        }

        // Pass 3: a pixel is foreground when it lies inside the band of one of its site's kept edges.
        for (int p = 0; p < plane; p++)
        {
            int m = label[p];
            float ux = px[p] - sx[m], uy = py[p] - sy[m];
            float margin = 0, value = 0;
            int baseIndex = m * MaxDegree, end = baseIndex + degree[m];
            for (int e = baseIndex; e < end; e++)
            {
                float f = coefC[e] + coefX[e] * ux + coefY[e] * uy;
                if (f < margin) { margin = f; value = level[e]; }
            }
            if (margin < 0)
            {
                mask[p] = 1;
                intensity[p] = value;
            }
        }

        void Link(int m, int j)
        {
            if (m == j) return;
            AddOnce(m, j);
            AddOnce(j, m);
        }

        void AddOnce(int m, int j)
        {
            int b = m * MaxDegree, d = degree[m];
            for (int k = 0; k < d; k++)
                if (neighbour[b + k] == j) return;
            if (d < MaxDegree) neighbour[b + degree[m]++] = j;
        }
    }

    private readonly record struct Nucleus(double X, double Y, double A, double B, double Cos, double Sin, double Brightness, double[] Harmonics, double MaxIrregularity);

    private static void DrawNuclei(SyntheticFluorescenceOptions o, ref SeededRandom rng, float[] intensity, byte[] mask)
    {
        int w = o.Width, h = o.Height;
        double target = o.NucleusCoverage * w * h, area = 0;
        var nuclei = new List<Nucleus>();
        int attempts = 0, maxAttempts = 200 + (int)(50 * target / (Math.PI * o.NucleusRadiusMin * o.NucleusRadiusMin));
        while (area < target && attempts++ < maxAttempts)
        {
            double r = SyntheticRaster.Uniform(ref rng, o.NucleusRadiusMin, o.NucleusRadiusMax);
            double aspect = SyntheticRaster.Uniform(ref rng, 0.65, 1.0);
            double a = r, b = r * aspect, mean = Math.Sqrt(a * b);
            double x = rng.NextDouble() * w, y = rng.NextDouble() * h;
            bool free = true;
            foreach (var n in nuclei)
            {
                double dx = n.X - x, dy = n.Y - y, minDist = o.NucleusSpacing * (mean + Math.Sqrt(n.A * n.B));
                if (dx * dx + dy * dy < minDist * minDist) { free = false; break; }
            }
            if (!free) continue;
            var (c, s) = SyntheticRaster.RandomDirection(ref rng);
            var harmonics = new double[8]; // (cos, sin) amplitudes of orders 2..5
            double maxIrr = 0;
            for (int k = 0; k < 4; k++)
            {
                double scale = o.NucleusIrregularity / (k + 1);
                harmonics[2 * k] = scale * (2 * rng.NextDouble() - 1);
                harmonics[2 * k + 1] = scale * (2 * rng.NextDouble() - 1);
                maxIrr += Math.Sqrt(harmonics[2 * k] * harmonics[2 * k] + harmonics[2 * k + 1] * harmonics[2 * k + 1]);
            }
            double brightness = o.SignalIntensity * (1 + o.IntensityVariation * (2 * rng.NextDouble() - 1));
            nuclei.Add(new Nucleus(x, y, a, b, c, s, brightness, harmonics, maxIrr));
            area += Math.PI * a * b;
        }

        var texture = SyntheticRaster.ValueNoise(ref rng, h, w, 5f);
        foreach (var n in nuclei)
        {
            double reach = n.A * (1 + n.MaxIrregularity) + 1;
            int x0 = Math.Max(0, (int)Math.Floor(n.X - reach)), x1 = Math.Min(w - 1, (int)Math.Ceiling(n.X + reach));
            int y0 = Math.Max(0, (int)Math.Floor(n.Y - reach)), y1 = Math.Min(h - 1, (int)Math.Ceiling(n.Y + reach));
            double inner = Math.Max(0, 1 - n.MaxIrregularity), outer = 1 + n.MaxIrregularity;
            double inner2 = inner * inner, outer2 = outer * outer;
            var hm = n.Harmonics;
            for (int y = y0; y <= y1; y++)
                for (int x = x0; x <= x1; x++)
                {
                    double dx = x - n.X, dy = y - n.Y;
                    double u = (dx * n.Cos + dy * n.Sin) / n.A, v = (-dx * n.Sin + dy * n.Cos) / n.B;
                    double rho2 = u * u + v * v;
                    if (rho2 >= outer2) continue;
                    if (rho2 > inner2)
                    {
                        double rho = Math.Sqrt(rho2);
                        if (rho == 0) continue;
                        double c1 = u / rho, s1 = v / rho;
                        // cos/sin of k*phi by complex multiplication, k = 2..5.
                        double ck = c1 * c1 - s1 * s1, sk = 2 * c1 * s1, boundary = 1;
                        for (int k = 0; k < 4; k++)
                        {
                            boundary += hm[2 * k] * ck + hm[2 * k + 1] * sk;
                            double nc = ck * c1 - sk * s1;
                            sk = sk * c1 + ck * s1;
                            ck = nc;
                        }
                        if (rho >= boundary) continue;
                    }
                    int p = y * w + x;
                    mask[p] = 1;
                    float value = (float)(n.Brightness * (1 + 0.2 * texture[p]));
                    if (value > intensity[p]) intensity[p] = value;
                }
        }
    }

    // ---------------------------------------------------------------- scenes

    private static readonly float[][] ClassColors =
    [
        [0.38f, 0.38f, 0.42f], // 0 background: grey
        [0.85f, 0.25f, 0.20f], // 1 disks: red
        [0.25f, 0.72f, 0.30f], // 2 rectangles: green
        [0.22f, 0.35f, 0.85f], // 3 triangles: blue
        [0.90f, 0.80f, 0.22f], // 4 rings: yellow
        [0.75f, 0.30f, 0.80f], // 5 diamonds: magenta
    ];

    private static SegmentationItem SceneCore(SyntheticSceneOptions o, int seed, int index)
    {
        CheckIndex(index);
        int w = o.Width, h = o.Height, plane = w * h;
        var rng = SeededRandom.For(seed, index).Fork(SceneStream);
        var image = new float[3 * plane];
        var mask = new byte[plane];

        // Background: grey with low-frequency shading and fine grain.
        var shading = SyntheticRaster.ValueNoise(ref rng, h, w, Math.Max(w, h) / 4f);
        var grain = SyntheticRaster.ValueNoise(ref rng, h, w, 3f);
        var bgTint = Jitter(ref rng, ClassColors[0], o.ColorJitter);
        for (int c = 0; c < 3; c++)
            for (int p = 0; p < plane; p++)
                image[c * plane + p] = bgTint[c] * (1f + 0.25f * shading[p] + 0.06f * grain[p]);

        int foreground = o.ClassCount - 1;
        int start = rng.NextInt(foreground);
        for (int n = 0; n < o.ObjectCount; n++)
        {
            int cls = 1 + (start + n) % foreground;
            double r = SyntheticRaster.Uniform(ref rng, o.ObjectRadiusMin, o.ObjectRadiusMax);
            double cx = rng.NextDouble() * w, cy = rng.NextDouble() * h;
            var (cos, sin) = SyntheticRaster.RandomDirection(ref rng);
            double aspect = SyntheticRaster.Uniform(ref rng, 0.5, 1.0);
            double period = SyntheticRaster.Uniform(ref rng, 5, 9);
            var color = Jitter(ref rng, ClassColors[cls], o.ColorJitter);
            PaintShape(image, mask, w, h, cls, cx, cy, r, aspect, cos, sin, period, color, grain);
        }

        var noiseRng = rng.Fork(1);
        for (int c = 0; c < 3; c++)
        {
            var ch = image.AsSpan(c * plane, plane);
            Filtering.GaussianBlur(ch, h, w, o.BlurSigma);
            SyntheticRaster.AddCameraNoise(ch, ref noiseRng, 0, o.NoiseLevel);
        }
        return new SegmentationItem(Name("scene", index), image, 3, h, w, mask);
    }

    private static float[] Jitter(ref SeededRandom rng, float[] baseColor, double jitter)
    {
        var c = new float[3];
        double common = 1 + jitter * (2 * rng.NextDouble() - 1);
        for (int k = 0; k < 3; k++)
            c[k] = (float)Math.Clamp(baseColor[k] * common * (1 + 0.5 * jitter * (2 * rng.NextDouble() - 1)), 0, 1);
        return c;
    }

    private static void PaintShape(float[] image, byte[] mask, int w, int h, int cls, double cx, double cy, double r,
        double aspect, double cos, double sin, double period, float[] color, float[] grain)
    {
        int plane = w * h;
        double reach = 1.42 * r + 1; // covers the rotated rectangle's corners (r * sqrt(2))
        int x0 = Math.Max(0, (int)Math.Floor(cx - reach)), x1 = Math.Min(w - 1, (int)Math.Ceiling(cx + reach));
        int y0 = Math.Max(0, (int)Math.Floor(cy - reach)), y1 = Math.Min(h - 1, (int)Math.Ceiling(cy + reach));
        double sqrt3 = Math.Sqrt(3);
        for (int y = y0; y <= y1; y++)
            for (int x = x0; x <= x1; x++)
            {
                double dx = x - cx, dy = y - cy;
                double u = dx * cos + dy * sin, v = -dx * sin + dy * cos; // object frame
                bool inside;
                double shade;
                switch (cls)
                {
                    case 1: // disk, fine grain
                        inside = dx * dx + dy * dy <= r * r;
                        shade = 1 + 0.35 * grain[y * w + x];
                        break;
                    case 2: // rotated rectangle, stripes across its long axis
                        inside = Math.Abs(u) <= r * 0.95 && Math.Abs(v) <= r * aspect * 0.95;
                        shade = 0.7 + 0.6 * Triangle(u / period);
                        break;
                    case 3: // triangle (equilateral, circumradius r), checkerboard
                    {
                        // Inside if the point is on the inner side of the three edges (inradius r / 2).
                        double e0 = -v, e1 = 0.5 * v + 0.5 * sqrt3 * u, e2 = 0.5 * v - 0.5 * sqrt3 * u;
                        inside = e0 <= 0.5 * r && e1 <= 0.5 * r && e2 <= 0.5 * r;
                        long cell = (long)Math.Floor(u / period) + (long)Math.Floor(v / period);
                        shade = (cell & 1) == 0 ? 1.15 : 0.8;
                        break;
                    }
                    case 4: // ring, dots
                    {
                        double d2 = dx * dx + dy * dy, inner = r * (0.35 + 0.25 * aspect);
                        inside = d2 <= r * r && d2 >= inner * inner;
                        double fu = u / period - Math.Floor(u / period) - 0.5, fv = v / period - Math.Floor(v / period) - 0.5;
                        shade = fu * fu + fv * fv < 0.09 ? 1.25 : 0.85;
                        break;
                    }
                    default: // diamond, diagonal hatching
                        inside = Math.Abs(u) / r + Math.Abs(v) / (r * aspect) <= 1;
                        shade = 0.75 + 0.5 * Triangle((u + v) / period);
                        break;
                }
                if (!inside) continue;
                int p = y * w + x;
                mask[p] = (byte)cls;
                for (int c = 0; c < 3; c++)
                    image[c * plane + p] = (float)Math.Min(1, color[c] * shade);
            }
    }

    /// <summary>Triangle wave in [0, 1] with period 1.</summary>
    private static double Triangle(double t) => 2 * Math.Abs(t - Math.Floor(t) - 0.5);

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static double Unit(ulong bits) => (bits >> 11) * (1.0 / (1UL << 53));
}
