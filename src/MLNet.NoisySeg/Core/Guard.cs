using System.Runtime.CompilerServices;

namespace MLNet.NoisySeg.Core;

/// <summary>Argument checks shared by options classes; every message names the option.</summary>
internal static class Guard
{
    /// <summary>Throws unless <paramref name="value"/> is a number in [0, 1].</summary>
    public static double Probability(double value, [CallerArgumentExpression(nameof(value))] string? name = null)
    {
        if (double.IsNaN(value) || value < 0 || value > 1)
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be a number in [0, 1].");
        return value;
    }

    /// <summary>Throws unless <paramref name="value"/> is at least <paramref name="min"/>.</summary>
    public static int AtLeast(int value, int min, [CallerArgumentExpression(nameof(value))] string? name = null)
    {
        if (value < min)
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be at least {min}.");
        return value;
    }

    /// <summary>Throws unless <paramref name="width"/> and <paramref name="height"/> are positive.</summary>
    public static void Size(int width, int height, string name)
    {
        if (width <= 0 || height <= 0)
            throw new ArgumentOutOfRangeException(name, $"{name}: width and height must be positive; got {width}x{height}.");
    }

    /// <summary>Throws unless a row-major mask buffer <c>[H, W]</c> has exactly width x height elements and positive sizes.</summary>
    public static void MaskSize(int length, int width, int height, string name = "mask")
    {
        Size(width, height, name);
        if ((long)width * height != length)
            throw new ArgumentException($"{name} has {length} pixels but width x height = {width}x{height} = {(long)width * height}.", name);
    }

    /// <summary>Throws unless a planar image buffer <c>[C, H, W]</c> has exactly channels x height x width elements and positive sizes.</summary>
    public static void ImageSize(int length, int channels, int height, int width, string name = "image")
    {
        if (channels <= 0) throw new ArgumentOutOfRangeException(name, channels, $"{name}: channels must be at least 1; got {channels}.");
        Size(width, height, name);
        long expected = (long)channels * height * width;
        if (length != expected)
            throw new ArgumentException($"{name} has {length} values but channels x height x width = {channels}x{height}x{width} = {expected}.", name);
    }

    /// <summary>Throws unless a destination buffer has exactly <paramref name="expected"/> elements.</summary>
    public static void Destination(int length, long expected, string name = "destination")
    {
        if (length != expected)
            throw new ArgumentException($"{name} has {length} values but {expected} are required.", name);
    }
}
