using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.MetaStructure;
using MLNet.NoisySeg.Morphology;
using MLNet.NoisySeg.Noise;

namespace NoisySeg.Benchmarks;

/// <summary>A timed operation; the name matches the reference script's op names.</summary>
internal sealed record BenchmarkOp(string Name, Action Run);

/// <summary>
/// The list of timed operations. To add one, append a <see cref="BenchmarkOp"/> whose name matches the
/// reference script's <c>op=</c> name so the speed-up table pairs them.
/// </summary>
internal static class BenchmarkOps
{
    public static IEnumerable<BenchmarkOp> All(byte[] mask, int size)
    {
        var noisy = new byte[mask.Length];
        var density = new float[mask.Length];
        int epoch = 0;

        // Each repeat draws a fresh stream (seed 0, image "bench", a new epoch), as online noise would.
        BenchmarkOp Noise(string name, LabelNoiseSpec spec) => new(name, () =>
        {
            var rng = SeededRandom.For(0, "bench", epoch++);
            spec.Apply(mask, noisy, size, size, ref rng);
        });

        // --- label noise (MLNet.NoisySeg.Noise)
        yield return Noise("sample_0.1", LabelNoiseSpec.Sampling(0.1));
        yield return Noise("flip_0.45_0.45", LabelNoiseSpec.Flipping(0.45, 0.45));
        yield return Noise("random_label_0.3", LabelNoiseSpec.RandomLabels(0.3));

        // --- morphology (MLNet.NoisySeg.Morphology)
        yield return new("dilate_disk2", () => BinaryMorphology.Dilate(mask, noisy, size, size, 2));
        yield return new("erode_disk2", () => BinaryMorphology.Erode(mask, noisy, size, size, 2));
        yield return new("skeletonize", () => BinaryMorphology.Skeletonize(mask, noisy, size, size));

        // --- meta-structure density (MLNet.NoisySeg.MetaStructure); the reference filters the float
        //     foreground map with zero padding, i.e. the foreground class density with a constant divisor.
        var box = new DensityOptions { Kernel = DensityKernel.Box, Bandwidth = 5, Border = DensityBorder.ZeroPadding };
        var gauss = new DensityOptions { Kernel = DensityKernel.Gaussian, Sigma = 3, Border = DensityBorder.ZeroPadding };
        yield return new("box_density_h5", () => DensityMap.ComputeClass(mask, size, size, 1, box, density));
        yield return new("gauss_density_s3", () => DensityMap.ComputeClass(mask, size, size, 1, gauss, density));

        // --- empirical 2-class NTM of a fresh sampling(0.1) corruption (sampling + counting, as the reference)
        var sampling = LabelNoiseSpec.Sampling(0.1);
        yield return new("ntm_2class", () =>
        {
            var rng = SeededRandom.For(0, "bench", epoch++);
            sampling.Apply(mask, noisy, size, size, ref rng);
            NoiseTransitionEstimator.Count(mask, noisy, 2);
        });
    }
}
