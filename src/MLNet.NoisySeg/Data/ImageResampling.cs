namespace MLNet.NoisySeg.Data;

/// <summary>TEMP adapter (to be replaced by Data/Preprocessing).</summary>
internal static class ImageResampling
{
    public static float[] ResizeBilinear(float[] src, int c, int h, int w, int th, int tw)
    {
        var dst = new float[c * th * tw];
        float sy = (float)h / th, sx = (float)w / tw;
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < th; y++)
            {
                float fy = Math.Max(0, (y + 0.5f) * sy - 0.5f);
                int y0 = Math.Min((int)fy, h - 1), y1 = Math.Min(y0 + 1, h - 1);
                float ay = fy - y0;
                for (int x = 0; x < tw; x++)
                {
                    float fx = Math.Max(0, (x + 0.5f) * sx - 0.5f);
                    int x0 = Math.Min((int)fx, w - 1), x1 = Math.Min(x0 + 1, w - 1);
                    float ax = fx - x0;
                    int b = ch * h * w;
                    float top = src[b + y0 * w + x0] * (1 - ax) + src[b + y0 * w + x1] * ax;
                    float bot = src[b + y1 * w + x0] * (1 - ax) + src[b + y1 * w + x1] * ax;
                    dst[ch * th * tw + y * tw + x] = top * (1 - ay) + bot * ay;
                }
            }
        return dst;
    }

    public static byte[] ResizeNearest(byte[] src, int h, int w, int th, int tw)
    {
        var dst = new byte[th * tw];
        for (int y = 0; y < th; y++)
        {
            int sy = Math.Min(h - 1, (int)((y + 0.5) * h / th));
            for (int x = 0; x < tw; x++)
                dst[y * tw + x] = src[sy * w + Math.Min(w - 1, (int)((x + 0.5) * w / tw))];
        }
        return dst;
    }
}

/// <summary>TEMP adapter (to be replaced by Data/Preprocessing).</summary>
internal static class ImageNormalization
{
    public static void ZScore(float[] image)
    {
        double sum = 0, sq = 0;
        foreach (var v in image) { sum += v; sq += (double)v * v; }
        double mean = sum / image.Length;
        double std = Math.Sqrt(Math.Max(0, sq / image.Length - mean * mean));
        float inv = std > 1e-6 ? (float)(1 / std) : 1f;
        for (int i = 0; i < image.Length; i++) image[i] = (float)((image[i] - mean) * inv);
    }
}
