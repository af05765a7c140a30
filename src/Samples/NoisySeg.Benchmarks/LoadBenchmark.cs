using System.Diagnostics;
using MLNet.NoisySeg.Data;

namespace NoisySeg.Benchmarks;

/// <summary>Issue 2's data-layer target: load + z-score 100 PNGs of 256x256 in under 0.5 s.</summary>
internal static class LoadBenchmark
{
    public static int Run()
    {
        string root = Path.Combine(Path.GetTempPath(), "noisyseg-load-bench-" + Environment.ProcessId);
        try
        {
            // 100 gray 256x256 images + binary masks cut from the embedded ISBI slices.
            var isbi = SegmentationFolderLoader.Load(Path.Combine(AppContext.BaseDirectory, "datasets", "isbi2012_em_membrane", "train"),
                new SegmentationFolderOptions { MaskEncoding = MaskEncoding.Binary, ForegroundValue = 0, ZScore = false });
            int k = 0;
            foreach (var it in isbi)
                for (int ty = 0; ty < 2; ty++)
                    for (int tx = 0; tx < 2 && k < 100; tx++)
                        for (int shift = 0; shift < 2 && k < 100; shift++, k++)
                        {
                            var img = new byte[256 * 256];
                            var mask = new byte[256 * 256];
                            for (int y = 0; y < 256; y++)
                                for (int x = 0; x < 256; x++)
                                {
                                    int sy = ty * 256 + y, sx = Math.Min(511, tx * 256 + x + shift * 3);
                                    img[y * 256 + x] = (byte)(it.Image[sy * 512 + sx] * 255);
                                    mask[y * 256 + x] = (byte)(it.Mask![sy * 512 + sx] * 255);
                                }
                            string name = $"tile{k:000}.png";
                            PngWriter.WriteGray(Path.Combine(root, "images", name), img, 256, 256);
                            PngWriter.WriteGray(Path.Combine(root, "masks", name), mask, 256, 256);
                        }
            var options = SegmentationFolderOptions.BinaryMasks(255);
            SegmentationFolderLoader.Load(root, options); // warm-up (JIT, Skia)
            var times = new List<double>();
            for (int r = 0; r < 7; r++)
            {
                var sw = Stopwatch.StartNew();
                var items = SegmentationFolderLoader.Load(root, options);
                times.Add(sw.Elapsed.TotalMilliseconds);
                if (items.Count != 100) throw new InvalidOperationException($"expected 100 items, got {items.Count}");
            }
            times.Sort();
            Console.WriteLine($"load+zscore 100 PNG pairs 256x256 (image + mask): median {times[3]:0.0} ms, best {times[0]:0.0} ms (target < 500 ms), {Environment.ProcessorCount} cores");
            return 0;
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, true);
        }
    }
}
