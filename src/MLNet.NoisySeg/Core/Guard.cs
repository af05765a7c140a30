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

    /// <summary>Throws unless a mask buffer has exactly width*height elements and positive sizes.</summary>
    public static void MaskSize(int length, int width, int height, string name = "mask")
    {
        if (width <= 0 || height <= 0)
            throw new ArgumentOutOfRangeException(name, $"{name}: width and height must be positive; got {width}x{height}.");
        if ((long)width * height != length)
            throw new ArgumentException($"{name} has {length} pixels but width x height = {width}x{height} = {(long)width * height}.", name);
    }
}
