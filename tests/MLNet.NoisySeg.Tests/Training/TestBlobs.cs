using MLNet.NoisySeg.Data;
using MLNet.NoisySeg.Training;

namespace MLNet.NoisySeg.Tests.Training;

/// <summary>Tiny private synthetic data: bright noisy disks on a noisy background, z-scored per image.</summary>
internal static class TestBlobs
{
    public static SegmentationItem Make(int index, int size, int seed = 0, double noise = 0.6)
    {
        var rng = new Random(HashCode.Combine(seed, index, 0x5EED));
        var image = new float[size * size];
        var mask = new byte[size * size];
        int blobs = 1 + rng.Next(3);
        for (int k = 0; k < blobs; k++)
        {
            double r = size * (0.08 + 0.12 * rng.NextDouble());
            double cx = r + rng.NextDouble() * (size - 2 * r), cy = r + rng.NextDouble() * (size - 2 * r);
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                    if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r) mask[y * size + x] = 1;
        }
        double sum = 0, sum2 = 0;
        for (int i = 0; i < image.Length; i++)
        {
            double g = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
            double v = mask[i] + noise * g;
            image[i] = (float)v;
            sum += v; sum2 += v * v;
        }
        double mean = sum / image.Length, sd = Math.Sqrt(Math.Max(1e-12, sum2 / image.Length - mean * mean));
        for (int i = 0; i < image.Length; i++) image[i] = (float)((image[i] - mean) / sd);
        return new SegmentationItem($"blob-{seed}-{index}", image, 1, size, size, mask);
    }

    public static List<SegmentationItem> Many(int count, int size, int seed = 0, int firstIndex = 0)
        => Enumerable.Range(firstIndex, count).Select(i => Make(i, size, seed)).ToList();

    /// <summary>Pixel-level Dice over all images at a threshold.</summary>
    public static double Dice(IReadOnlyList<float[]> probabilities, IReadOnlyList<SegmentationItem> truth, double threshold = 0.5)
    {
        long tp = 0, fp = 0, fn = 0;
        for (int n = 0; n < truth.Count; n++)
            for (int i = 0; i < truth[n].Mask!.Length; i++)
            {
                bool p = probabilities[n][i] >= threshold, t = truth[n].Mask![i] == 1;
                if (p && t) tp++; else if (p) fp++; else if (t) fn++;
            }
        return 2.0 * tp / Math.Max(1, 2 * tp + fp + fn);
    }
}

/// <summary>Synchronous progress sink (System.Progress posts to the thread pool).</summary>
internal sealed class SyncProgress<T>(Action<T> onReport) : IProgress<T>
{
    public void Report(T value) => onReport(value);
}
