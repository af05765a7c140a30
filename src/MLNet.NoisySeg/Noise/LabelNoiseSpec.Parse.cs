using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using MLNet.NoisySeg.Core;

namespace MLNet.NoisySeg.Noise;

public sealed partial record LabelNoiseSpec
{
    private static readonly string[] s_names =
    [
        "clean", "sampling", "flip", "random", "dilate", "erode", "skeleton", "shift", "boundaryflip",
        "ntm", "symflip", "classsample", "classdilate", "classerode", "randomprior",
    ];

    /// <summary>
    /// Reads the text form written by <see cref="ToString"/> (case-insensitive, spaces allowed), e.g.
    /// <c>sampling(0.1)</c>, <c>flip(0.45,0.45)</c>, <c>symflip(0.5,classes=4)</c>. Aliases: <c>flipping</c>,
    /// <c>skeletonize</c>, <c>sample</c>. Named arguments of the class-wise kinds may be omitted
    /// (<c>bg</c> defaults to 0) or given positionally.
    /// </summary>
    /// <param name="text">The text form.</param>
    /// <returns>The validated spec.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> is null.</exception>
    /// <exception cref="FormatException">The text is malformed or a parameter is invalid; the message says which
    /// (an invalid parameter's <see cref="ArgumentException"/> is the inner exception).</exception>
    public static LabelNoiseSpec Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!TryParse(text, out var spec, out string? error, out Exception? inner))
            throw new FormatException(error, inner);
        return spec;
    }

    /// <summary>Tries to read a text form; see <see cref="Parse"/>.</summary>
    /// <param name="text">The text form.</param>
    /// <param name="spec">The spec, when successful.</param>
    /// <returns>True if <paramref name="text"/> is a valid spec.</returns>
    public static bool TryParse([NotNullWhen(true)] string? text, [NotNullWhen(true)] out LabelNoiseSpec? spec)
        => TryParse(text, out spec, out _, out _);

    /// <summary>Tries to read a text form and explains a failure; see <see cref="Parse"/>.</summary>
    /// <param name="text">The text form.</param>
    /// <param name="spec">The spec, when successful.</param>
    /// <param name="error">Why parsing failed, otherwise null.</param>
    /// <returns>True if <paramref name="text"/> is a valid spec.</returns>
    public static bool TryParse([NotNullWhen(true)] string? text, [NotNullWhen(true)] out LabelNoiseSpec? spec, out string? error)
        => TryParse(text, out spec, out error, out _);

    private static bool TryParse(string? text, [NotNullWhen(true)] out LabelNoiseSpec? spec, out string? error, out Exception? inner)
    {
        spec = null;
        inner = null;
        try
        {
            spec = ParseCore(text);
            error = null;
            return true;
        }
        catch (SpecFormatException e)
        {
            error = $"Invalid label noise '{text}': {e.Message}";
        }
        catch (ArgumentException e)
        {
            error = $"Invalid label noise '{text}': {e.Message}";
            inner = e;
        }
        return false;
    }

    private sealed class SpecFormatException(string message) : Exception(message);

    private static LabelNoiseSpec ParseCore(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
            throw new SpecFormatException("the text is empty.");
        string t = text.Trim();
        int open = t.IndexOf('(');
        string name = (open < 0 ? t : t[..open]).Trim().ToLowerInvariant();
        var args = new List<string>();
        if (open >= 0)
        {
            if (!t.EndsWith(')'))
                throw new SpecFormatException("missing closing ')'.");
            args = SplitTopLevel(t[(open + 1)..^1]);
        }
        name = name switch { "flipping" => "flip", "skeletonize" => "skeleton", "sample" => "sampling", _ => name };

        var reader = new ArgReader(name, args);
        LabelNoiseSpec spec = name switch
        {
            "clean" => Clean(),
            "sampling" => Sampling(reader.Double(0, "rate")),
            "flip" => Flipping(reader.Double(0, "f"), reader.Double(1, "b")),
            "random" => RandomLabels(reader.Double(0, "rate")),
            "dilate" => Dilation(reader.Int(0, "radius")),
            "erode" => Erosion(reader.Int(0, "radius")),
            "skeleton" => Skeleton(),
            "shift" => PixelShift(reader.Int(0, "radius")),
            "boundaryflip" => BoundaryFlip(reader.Int(0, "distance"), reader.Double(1, "rate")),
            "ntm" => FromMatrix(new NoiseTransitionMatrix(reader.Matrix(0, "matrix"))),
            "symflip" => SymmetricFlip(reader.Double(0, "rate"), reader.Int(1, "classes")),
            "classsample" => ClassSampling(reader.Double(0, "rate"), reader.Int(1, "bg", 0)),
            "classdilate" => ClassDilation(reader.Int(0, "radius"), reader.Int(1, "bg", 0)),
            "classerode" => ClassErosion(reader.Int(0, "radius"), reader.Int(1, "bg", 0)),
            "randomprior" => RandomPrior(reader.List(0, "prior")),
            _ => throw new SpecFormatException($"unknown kind '{name}'; expected one of {string.Join(", ", s_names)}."),
        };
        reader.EnsureAllUsed();
        return spec;
    }

    private static List<string> SplitTopLevel(string s)
    {
        var parts = new List<string>();
        if (s.Trim().Length == 0) return parts;
        int depth = 0, start = 0;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c == '[' || c == '(') depth++;
            else if (c == ']' || c == ')')
            {
                if (--depth < 0) throw new SpecFormatException($"unbalanced '{c}'.");
            }
            else if (c == ',' && depth == 0)
            {
                parts.Add(s[start..i].Trim());
                start = i + 1;
            }
        }
        if (depth != 0) throw new SpecFormatException("unbalanced brackets.");
        parts.Add(s[start..].Trim());
        return parts;
    }

    /// <summary>Positional or named (name=value) arguments of one kind.</summary>
    private sealed class ArgReader
    {
        private readonly string _kind;
        private readonly List<(string? Name, string Value)> _args = [];
        private readonly bool[] _used;

        public ArgReader(string kind, List<string> raw)
        {
            _kind = kind;
            foreach (string a in raw)
            {
                if (a.Length == 0) throw new SpecFormatException($"{kind}: empty argument.");
                int eq = a.IndexOf('=');
                if (eq > 0 && a[0] != '[') _args.Add((a[..eq].Trim().ToLowerInvariant(), a[(eq + 1)..].Trim()));
                else _args.Add((null, a));
            }
            _used = new bool[_args.Count];
        }

        private string? Raw(int position, string name, bool required)
        {
            for (int i = 0; i < _args.Count; i++)
                if (_args[i].Name == name) { _used[i] = true; return _args[i].Value; }
            if (position < _args.Count && _args[position].Name is null)
            {
                _used[position] = true;
                return _args[position].Value;
            }
            if (required) throw new SpecFormatException($"{_kind} needs argument {position + 1} ({name}).");
            return null;
        }

        public double Double(int position, string name)
        {
            string v = Raw(position, name, true)!;
            if (!double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double d))
                throw new SpecFormatException($"{_kind}: {name} '{v}' is not a number.");
            return d;
        }

        public int Int(int position, string name, int? fallback = null)
        {
            string? v = Raw(position, name, fallback is null);
            if (v is null) return fallback!.Value;
            if (!int.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int i))
                throw new SpecFormatException($"{_kind}: {name} '{v}' is not an integer.");
            return i;
        }

        public double[] List(int position, string name) => ParseList(Raw(position, name, true)!, name);

        public double[,] Matrix(int position, string name)
        {
            string v = Raw(position, name, true)!;
            if (!v.StartsWith('[') || !v.EndsWith(']'))
                throw new SpecFormatException($"{_kind}: {name} must look like [[a,b],[c,d]].");
            var rows = SplitTopLevel(v[1..^1]).Select(r => ParseList(r, name)).ToList();
            if (rows.Count == 0) throw new SpecFormatException($"{_kind}: {name} is empty.");
            int cols = rows[0].Length;
            if (rows.Any(r => r.Length != cols))
                throw new SpecFormatException($"{_kind}: the rows of {name} have different lengths.");
            var m = new double[rows.Count, cols];
            for (int j = 0; j < rows.Count; j++)
                for (int k = 0; k < cols; k++) m[j, k] = rows[j][k];
            return m;
        }

        private double[] ParseList(string v, string name)
        {
            if (!v.StartsWith('[') || !v.EndsWith(']'))
                throw new SpecFormatException($"{_kind}: {name} must be a bracketed list like [0.5,0.5]; got '{v}'.");
            var parts = SplitTopLevel(v[1..^1]);
            var result = new double[parts.Count];
            for (int i = 0; i < parts.Count; i++)
                if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out result[i]))
                    throw new SpecFormatException($"{_kind}: {name} entry '{parts[i]}' is not a number.");
            return result;
        }

        public void EnsureAllUsed()
        {
            for (int i = 0; i < _args.Count; i++)
                if (!_used[i])
                    throw new SpecFormatException($"{_kind}: unexpected argument '{(_args[i].Name is null ? _args[i].Value : _args[i].Name + "=" + _args[i].Value)}'.");
        }
    }
}
