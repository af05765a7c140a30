using System.Buffers;
using MLNet.NoisySeg.Core;
using MLNet.NoisySeg.Morphology;

namespace MLNet.NoisySeg.Noise;

public sealed partial record LabelNoiseSpec
{
    /// <summary>Rows per independently seeded tile of the per-pixel kinds (random, ntm, symflip, randomprior).</summary>
    internal const int TileRows = 32;

    /// <summary>
    /// Corrupts <paramref name="clean"/> into <paramref name="noisy"/>. Ignore pixels (255) are copied
    /// unchanged. All randomness comes from <paramref name="rng"/>, so equal streams give equal bytes
    /// whatever the thread count (per-pixel kinds fork one stream per fixed tile of rows).
    /// </summary>
    /// <param name="clean">The true mask (width x height, row-major).</param>
    /// <param name="noisy">Output of the same size; must not overlap <paramref name="clean"/>.</param>
    /// <param name="width">Mask width.</param>
    /// <param name="height">Mask height.</param>
    /// <param name="rng">The image's stream, e.g. <c>SeededRandom.For(seed, imageId, epoch)</c>.</param>
    /// <exception cref="ArgumentException">Sizes do not match, the buffers overlap, a binary kind meets a
    /// non-binary mask, or a class is outside the matrix.</exception>
    public void Apply(ReadOnlySpan<byte> clean, Span<byte> noisy, int width, int height, ref SeededRandom rng)
    {
        Validate();
        Guard.MaskSize(clean.Length, width, height, nameof(clean));
        Guard.MaskSize(noisy.Length, width, height, nameof(noisy));
        if (clean.Overlaps(noisy))
            throw new ArgumentException("noisy must not overlap clean.", nameof(noisy));
        // Sampling and flipping validate the mask in their own counting pass.
        if (IsBinary && Kind is not (LabelNoiseKind.Sampling or LabelNoiseKind.Flipping)) NoiseKernels.EnsureBinary(clean, this);

        switch (Kind)
        {
            case LabelNoiseKind.Clean:
                clean.CopyTo(noisy);
                break;
            case LabelNoiseKind.Sampling:
                NoiseKernels.Flip(clean, noisy, Rate, 1, ref rng, this);
                break;
            case LabelNoiseKind.Flipping:
                NoiseKernels.Flip(clean, noisy, 1 - ForegroundFlipRate, 1 - BackgroundFlipRate, ref rng, this);
                break;
            case LabelNoiseKind.Random:
                NoiseKernels.RandomBinary(noisy, clean, width, height, Rate, ref rng);
                break;
            case LabelNoiseKind.Dilate:
                BinaryMorphology.Dilate(clean, noisy, width, height, Radius);
                break;
            case LabelNoiseKind.Erode:
                BinaryMorphology.Erode(clean, noisy, width, height, Radius);
                break;
            case LabelNoiseKind.Skeleton:
                BinaryMorphology.Skeletonize(clean, noisy, width, height);
                break;
            case LabelNoiseKind.Shift:
                BinaryMorphology.Shift(clean, noisy, width, height, Radius, ref rng);
                break;
            case LabelNoiseKind.BoundaryFlip:
                NoiseKernels.BoundaryFlip(clean, noisy, width, height, Distance, Rate, ref rng);
                break;
            case LabelNoiseKind.TransitionMatrix:
                NoiseKernels.PerPixel(clean, noisy, width, height, Matrix!.ToArray(), truthRows: true, ref rng);
                break;
            case LabelNoiseKind.SymmetricFlip:
                NoiseKernels.PerPixel(clean, noisy, width, height, NoiseTransitionMatrix.SymmetricFlip(ClassCount, Rate).ToArray(), truthRows: true, ref rng);
                break;
            case LabelNoiseKind.RandomPrior:
            {
                var row = new double[1, Prior!.Count];
                for (int m = 0; m < Prior.Count; m++) row[0, m] = Prior[m];
                NoiseKernels.PerPixel(clean, noisy, width, height, row, truthRows: false, ref rng);
                break;
            }
            case LabelNoiseKind.ClassSampling:
                NoiseKernels.ClassSampling(clean, noisy, Rate, (byte)BackgroundClass, ref rng);
                break;
            case LabelNoiseKind.ClassDilate:
                NoiseKernels.ClassMorphology(clean, noisy, width, height, Radius, (byte)BackgroundClass, dilate: true);
                break;
            case LabelNoiseKind.ClassErode:
                NoiseKernels.ClassMorphology(clean, noisy, width, height, Radius, (byte)BackgroundClass, dilate: false);
                break;
            default:
                throw new InvalidOperationException($"Kind {Kind} has no implementation.");
        }
    }

    /// <summary>Corrupts one image with the stream <c>SeededRandom.For(seed, imageId, epoch)</c>.</summary>
    /// <param name="clean">The true mask.</param>
    /// <param name="width">Mask width.</param>
    /// <param name="height">Mask height.</param>
    /// <param name="seed">The user's seed.</param>
    /// <param name="imageId">A stable identity of the image, such as its file name.</param>
    /// <param name="epoch">The epoch for online noise; 0 for noise drawn once.</param>
    /// <returns>A new noisy mask.</returns>
    public byte[] Apply(ReadOnlySpan<byte> clean, int width, int height, int seed, string imageId, int epoch = 0)
    {
        var rng = SeededRandom.For(seed, imageId, epoch);
        var noisy = new byte[clean.Length];
        Apply(clean, noisy, width, height, ref rng);
        return noisy;
    }

    /// <summary>Corrupts one image with the stream <c>SeededRandom.For(seed, imageIndex, epoch)</c>.</summary>
    /// <param name="clean">The true mask.</param>
    /// <param name="width">Mask width.</param>
    /// <param name="height">Mask height.</param>
    /// <param name="seed">The user's seed.</param>
    /// <param name="imageIndex">A stable index of the image.</param>
    /// <param name="epoch">The epoch for online noise; 0 for noise drawn once.</param>
    /// <returns>A new noisy mask.</returns>
    public byte[] Apply(ReadOnlySpan<byte> clean, int width, int height, int seed, long imageIndex, int epoch = 0)
    {
        var rng = SeededRandom.For(seed, imageIndex, epoch);
        var noisy = new byte[clean.Length];
        Apply(clean, noisy, width, height, ref rng);
        return noisy;
    }
}
