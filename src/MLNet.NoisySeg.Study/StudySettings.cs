using System.Globalization;
using System.Reflection;

namespace MLNet.NoisySeg.Study;

/// <summary>
/// Marks a study option that changes what a result means: it is recorded in the results folder's <c>settings.json</c>
/// (<see cref="StudyOptions.ResultSettings"/>). On an options-valued property, <see cref="Members"/> names the members of
/// that value that count.
/// </summary>
/// <param name="members">For an options-valued property, the members of its value that are result settings.</param>
[AttributeUsage(AttributeTargets.Property)]
public sealed class ResultSettingAttribute(params string[] members) : Attribute
{
    /// <summary>The members of the property's value that count (empty: the property's own value).</summary>
    public IReadOnlyList<string> Members { get; } = members;
}

/// <summary>Marks a study option that selects conditions or resources and does not change a result (not recorded).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class RunSettingAttribute : Attribute
{
}

/// <summary>The result settings of options objects, read from their attributes.</summary>
internal static class StudySettings
{
    /// <summary>Adds <paramref name="options"/>' result settings to <paramref name="settings"/>, keys prefixed.</summary>
    public static void Collect(object options, string prefix, IDictionary<string, string> settings)
    {
        foreach (var property in options.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetCustomAttribute<ResultSettingAttribute>() is not { } attribute) continue;
            object? value = property.GetValue(options);
            if (attribute.Members.Count == 0)
            {
                settings[prefix + property.Name] = Text(value);
                continue;
            }
            foreach (var member in attribute.Members)
            {
                var inner = property.PropertyType.GetProperty(member)
                    ?? throw new InvalidOperationException($"{property.DeclaringType?.Name}.{property.Name}: [ResultSetting] names '{member}', which {property.PropertyType.Name} does not have.");
                settings[prefix + member] = Text(value is null ? null : inner.GetValue(value));
            }
        }
    }

    /// <summary>
    /// Settings as written before issue 11 kept a data set in one entry (<c>Datasets[name]</c> = <c>Option=value; ...</c>);
    /// this spreads such entries into one key per option, so old results folders compare with new runs.
    /// </summary>
    public static SortedDictionary<string, string> Normalize(IReadOnlyDictionary<string, string> stored)
    {
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in stored)
        {
            if (key.StartsWith("Datasets[", StringComparison.Ordinal) && key.EndsWith(']') && value.Contains('='))
            {
                foreach (var part in value.Split("; "))
                {
                    int eq = part.IndexOf('=');
                    if (eq > 0) result[$"{key}.{part[..eq]}"] = part[(eq + 1)..];
                }
                continue;
            }
            result[key] = value;
        }
        return result;
    }

    private static string Text(object? value) => value switch
    {
        null => "none",
        bool b => b ? "true" : "false",
        double x => x.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
