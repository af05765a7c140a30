namespace MLNet.NoisySeg.Data.Preprocessing;

/// <summary>Shape checks for planar images <c>[C, H, W]</c> and row-major masks <c>[H, W]</c>; messages name the argument.</summary>
internal static class Layout
{
    public static void CheckImage(int length, int channels, int height, int width, string name)
    {
        if (channels <= 0) throw new ArgumentOutOfRangeException(nameof(channels), channels, $"channels must be at least 1 (argument {name}).");
        CheckSize(height, width, name);
        long expected = (long)channels * height * width;
        if (length != expected)
            throw new ArgumentException($"{name} has {length} values but channels x height x width = {channels}x{height}x{width} = {expected}.", name);
    }

    public static void CheckMask(int length, int height, int width, string name)
    {
        CheckSize(height, width, name);
        long expected = (long)height * width;
        if (length != expected)
            throw new ArgumentException($"{name} has {length} pixels but height x width = {height}x{width} = {expected}.", name);
    }

    public static void CheckSize(int height, int width, string name)
    {
        if (height <= 0) throw new ArgumentOutOfRangeException(nameof(height), height, $"height must be at least 1 (argument {name}).");
        if (width <= 0) throw new ArgumentOutOfRangeException(nameof(width), width, $"width must be at least 1 (argument {name}).");
    }

    public static void CheckDestination(int length, long expected, string name)
    {
        if (length != expected)
            throw new ArgumentException($"{name} has {length} values but {expected} are required.", name);
    }
}
