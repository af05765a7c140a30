using System.Globalization;
using System.Text;

namespace MLNet.NoisySeg.Study;

/// <summary>Mean and sample standard deviation over seeds (std 0 for one seed; NaN values skipped).</summary>
/// <param name="Mean">Mean.</param>
/// <param name="Std">Sample standard deviation.</param>
/// <param name="Count">Number of finite values.</param>
public readonly record struct MeanStd(double Mean, double Std, int Count)
{
    /// <summary>Aggregates values.</summary>
    /// <param name="values">Values (NaN skipped).</param>
    public static MeanStd Of(IEnumerable<double> values)
    {
        var v = values.Where(double.IsFinite).ToArray();
        if (v.Length == 0) return new MeanStd(double.NaN, double.NaN, 0);
        double mean = v.Average();
        double std = v.Length > 1 ? Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Length - 1)) : 0;
        return new MeanStd(mean, std, v.Length);
    }

    /// <inheritdoc />
    public override string ToString() => double.IsNaN(Mean) ? "n/a"
        : Count > 1 ? string.Create(CultureInfo.InvariantCulture, $"{Mean:0.000} ± {Std:0.000}") : Mean.ToString("0.000", CultureInfo.InvariantCulture);

    /// <summary>"mean ± std" with the given number format (also for one value, whose std is 0).</summary>
    /// <param name="numberFormat">A .NET number format, e.g. "0.0000".</param>
    public string Format(string numberFormat) => double.IsNaN(Mean) ? "n/a"
        : string.Create(CultureInfo.InvariantCulture, $"{Mean.ToString(numberFormat, CultureInfo.InvariantCulture)} ± {Std.ToString(numberFormat, CultureInfo.InvariantCulture)}");
}

/// <summary>One row of the summary table: a condition aggregated over seeds.</summary>
/// <param name="Dataset">Data set.</param>
/// <param name="Family">Family.</param>
/// <param name="Condition">Noise text.</param>
/// <param name="Index">Grid index of the first seed's condition (ordering).</param>
/// <param name="Paper">Paper-protocol score.</param>
/// <param name="LabelFree">Label-free score.</param>
/// <param name="Fixed">Fixed-decoding score.</param>
/// <param name="StructureCorrelation">Mean structure correlation.</param>
/// <param name="NoiseRank">Rank of the estimated NTM (first seed).</param>
/// <param name="NoiseDeterminant">Determinant of the estimated NTM (mean).</param>
public sealed record StudySummaryRow(string Dataset, StudyFamily Family, string Condition, int Index, MeanStd Paper, MeanStd LabelFree, MeanStd Fixed,
    MeanStd StructureCorrelation, int NoiseRank, double NoiseDeterminant)
{
    /// <summary>Label-free minus paper protocol, per seed (both decode the same model), then mean ± std: how far decoding
    /// without clean labels is from the clean-label oracle. Negative = below it.</summary>
    public MeanStd GapToPaper { get; init; } = new(double.NaN, double.NaN, 0);

    /// <summary>Label-free minus fixed (threshold 0.5 / argmax), per seed, then mean ± std. Negative = below the baseline.</summary>
    public MeanStd GapToFixed { get; init; } = new(double.NaN, double.NaN, 0);
}

/// <summary>How far label-free decoding is from the paper protocol (the clean-label oracle) and from fixed decoding on one data set.</summary>
/// <param name="Dataset">Data set.</param>
/// <param name="WorstRclGap">The most negative mean label-free − paper protocol over the RCL conditions (NaN without any).</param>
/// <param name="WorstRclCondition">Its condition (empty without any).</param>
/// <param name="RclWithin">RCL conditions whose mean gap is at least -<paramref name="Tolerance"/>.</param>
/// <param name="RclCount">RCL conditions with a finite gap.</param>
/// <param name="WorstFixedGap">The most negative mean label-free − fixed over ALL conditions of the data set.</param>
/// <param name="WorstFixedCondition">Its condition.</param>
/// <param name="Tolerance">The tolerance (score points on a 0-1 scale).</param>
public sealed record StudyGapSummary(string Dataset, double WorstRclGap, string WorstRclCondition, int RclWithin, int RclCount,
    double WorstFixedGap, string WorstFixedCondition, double Tolerance)
{
    /// <summary>One sentence with the numbers.</summary>
    public string Statement()
    {
        if (RclCount == 0) return $"{Dataset}: no finished RCL condition";
        var sb = new StringBuilder(string.Create(CultureInfo.InvariantCulture,
            $"{Dataset}: worst RCL gap label-free − paper protocol **{StudySummary.Signed(WorstRclGap)}** (`{StudySummary.DisplayName(WorstRclCondition)}`); {RclWithin} of {RclCount} RCL condition(s) within {Tolerance:0.00} of the paper protocol or above it"));
        if (double.IsFinite(WorstFixedGap))
            sb.Append(CultureInfo.InvariantCulture, $"; worst label-free − fixed over all conditions {StudySummary.Signed(WorstFixedGap)} (`{StudySummary.DisplayName(WorstFixedCondition)}`)");
        return sb.ToString();
    }
}

/// <summary>The ranking check CL ≈ RCL &gt; PCL &gt; RL for one data set and one decoding.</summary>
/// <param name="Dataset">Data set.</param>
/// <param name="Decoding">"paper", "label-free" or "fixed".</param>
/// <param name="CL">Mean CL score.</param>
/// <param name="RCL">Mean over RCL conditions.</param>
/// <param name="PCL">Mean over PCL conditions.</param>
/// <param name="RL">Mean over RL conditions.</param>
/// <param name="Tolerance">|CL - RCL| allowed for "≈".</param>
public sealed record StudyRanking(string Dataset, string Decoding, double CL, double RCL, double PCL, double RL, double Tolerance)
{
    /// <summary>CL ≈ RCL: RCL is at least CL - Tolerance.</summary>
    public bool ClApproxRcl => RCL >= CL - Tolerance;

    /// <summary>RCL &gt; PCL.</summary>
    public bool RclAbovePcl => RCL > PCL;

    /// <summary>PCL &gt; RL.</summary>
    public bool PclAboveRl => PCL > RL;

    /// <summary>The whole ranking holds (false when a family has no finished condition).</summary>
    public bool Holds => ClApproxRcl && RclAbovePcl && PclAboveRl;

    /// <summary>One sentence stating the result with the numbers.</summary>
    public string Statement()
    {
        var missing = new[] { ("CL", CL), ("RCL", RCL), ("PCL", PCL), ("RL", RL) }.Where(x => double.IsNaN(x.Item2)).Select(x => x.Item1).ToList();
        if (missing.Count > 0)
            return $"**cannot be checked**: no finished {string.Join("/", missing)} condition(s)";
        var parts = new List<string>();
        var holding = new List<string>();
        if (!ClApproxRcl) parts.Add(string.Create(CultureInfo.InvariantCulture, $"RCL trails CL by {CL - RCL:0.000} (> {Tolerance:0.00})"));
        else holding.Add("CL ≈ RCL");
        if (!RclAbovePcl) parts.Add("RCL is not above PCL");
        else holding.Add("RCL > PCL");
        if (!PclAboveRl) parts.Add("PCL is not above RL");
        else holding.Add("PCL > RL");
        if (holding.Count > 0 && parts.Count > 0) parts.Add("holds: " + string.Join(", ", holding));
        string nums = string.Create(CultureInfo.InvariantCulture, $"CL {CL:0.000}, RCL {RCL:0.000}, PCL {PCL:0.000}, RL {RL:0.000}");
        return Holds
            ? $"**holds** ({nums})"
            : $"**does not hold**: {string.Join("; ", parts)} ({nums})";
    }
}

/// <summary>Aggregation of study results into the Markdown results table and the ranking check.</summary>
public static class StudySummary
{
    /// <summary>Default tolerance of "CL ≈ RCL" (score points on a 0-1 scale).</summary>
    public const double DefaultTolerance = 0.05;

    /// <summary>Default tolerance of "label-free as good as the paper protocol" (1 Dice / mIoU point).</summary>
    public const double DefaultGapTolerance = 0.01;

    /// <summary>A signed score difference with three decimals ("+0.004", "-0.035"; "n/a" for NaN).</summary>
    /// <param name="value">The difference.</param>
    public static string Signed(double value) => double.IsFinite(value) ? value.ToString("+0.000;-0.000;0.000", CultureInfo.InvariantCulture) : "n/a";

    /// <summary>"mean ± std" with signs (the std only over more than one value).</summary>
    /// <param name="value">Mean and std.</param>
    public static string Signed(MeanStd value) => !double.IsFinite(value.Mean) ? "n/a"
        : value.Count > 1 ? $"{Signed(value.Mean)} ± {value.Std.ToString("0.000", CultureInfo.InvariantCulture)}" : Signed(value.Mean);

    /// <summary>
    /// A short display form of a condition's noise text for tables and plots: a uniform random prior becomes
    /// <c>randomprior(uniform, K classes)</c>, other texts longer than 48 characters are cut.
    /// </summary>
    /// <param name="condition">The noise text (<c>LabelNoiseSpec.ToString()</c>).</param>
    public static string DisplayName(string condition)
    {
        ArgumentNullException.ThrowIfNull(condition);
        const string prefix = "randomprior([";
        if (condition.StartsWith(prefix, StringComparison.Ordinal) && condition.EndsWith("])", StringComparison.Ordinal))
        {
            var values = condition[prefix.Length..^2].Split(',');
            if (values.Length > 0 && values.All(v => v == values[0]))
                return string.Create(CultureInfo.InvariantCulture, $"randomprior(uniform, {values.Length} classes)");
        }
        return condition.Length > 48 ? condition[..45] + "..." : condition;
    }

    /// <summary>Aggregates results over seeds, ordered by grid index.</summary>
    /// <param name="results">Results.</param>
    public static IReadOnlyList<StudySummaryRow> Rows(IEnumerable<StudyResult> results)
        => results.GroupBy(r => (r.Dataset, r.Condition))
            .Select(g => new StudySummaryRow(g.Key.Dataset, g.First().FamilyKind, g.Key.Condition, g.Min(r => r.Index),
                MeanStd.Of(g.Select(r => r.Paper.Score)), MeanStd.Of(g.Select(r => r.LabelFree.Score)), MeanStd.Of(g.Select(r => r.Fixed.Score)),
                MeanStd.Of(g.Select(r => r.StructureCorrelation)), g.OrderBy(r => r.Index).First().NoiseRank,
                g.Select(r => r.NoiseDeterminant).Where(double.IsFinite).DefaultIfEmpty(double.NaN).Average())
            {
                GapToPaper = MeanStd.Of(g.Select(r => r.LabelFree.Score - r.Paper.Score)),
                GapToFixed = MeanStd.Of(g.Select(r => r.LabelFree.Score - r.Fixed.Score)),
            })
            .OrderBy(r => r.Index).ToList();

    /// <summary>Per data set: the worst RCL gap label-free − paper protocol, how many RCL conditions are within the tolerance,
    /// and the worst label-free − fixed over all conditions (means over seeds).</summary>
    /// <param name="results">Results.</param>
    /// <param name="tolerance">Tolerance of "as good as the paper protocol" (default 0.01).</param>
    public static IReadOnlyList<StudyGapSummary> Gaps(IEnumerable<StudyResult> results, double tolerance = DefaultGapTolerance)
    {
        var rows = Rows(results);
        var list = new List<StudyGapSummary>();
        foreach (var ds in rows.Select(r => r.Dataset).Distinct())
        {
            var rcl = rows.Where(r => r.Dataset == ds && r.Family == StudyFamily.RCL && double.IsFinite(r.GapToPaper.Mean)).ToList();
            var worst = rcl.OrderBy(r => r.GapToPaper.Mean).FirstOrDefault();
            var worstFixed = rows.Where(r => r.Dataset == ds && double.IsFinite(r.GapToFixed.Mean)).OrderBy(r => r.GapToFixed.Mean).FirstOrDefault();
            list.Add(new StudyGapSummary(ds, worst?.GapToPaper.Mean ?? double.NaN, worst?.Condition ?? "", rcl.Count(r => r.GapToPaper.Mean >= -tolerance), rcl.Count,
                worstFixed?.GapToFixed.Mean ?? double.NaN, worstFixed?.Condition ?? "", tolerance));
        }
        return list;
    }

    /// <summary>
    /// The gap label-free − paper protocol against training steps, per data set and condition with a budget curve: the mean over
    /// seeds of the per-seed differences at each step (budget points recorded without a paper-protocol score are left out).
    /// </summary>
    /// <param name="results">Results.</param>
    public static IReadOnlyList<(string Dataset, string Condition, IReadOnlyList<(int Step, MeanStd Gap)> Points)> BudgetGaps(IEnumerable<StudyResult> results)
        => results.Where(r => r.Budget.Any(p => double.IsFinite(p.Paper)))
            .GroupBy(r => (r.Dataset, r.Condition)).OrderBy(g => g.Min(r => r.Index))
            .Select(g => (g.Key.Dataset, g.Key.Condition, (IReadOnlyList<(int, MeanStd)>)g.SelectMany(r => r.Budget).Where(p => double.IsFinite(p.Paper))
                .GroupBy(p => p.Step).OrderBy(x => x.Key).Select(x => (x.Key, MeanStd.Of(x.Select(p => p.Score - p.Paper)))).ToList()))
            .ToList();

    /// <summary>The ranking check per data set and decoding (family means of the per-condition means).</summary>
    /// <param name="results">Results.</param>
    /// <param name="tolerance">Tolerance of CL ≈ RCL.</param>
    public static IReadOnlyList<StudyRanking> Rankings(IEnumerable<StudyResult> results, double tolerance = DefaultTolerance)
    {
        var rows = Rows(results);
        var list = new List<StudyRanking>();
        foreach (var ds in rows.Select(r => r.Dataset).Distinct())
        {
            var d = rows.Where(r => r.Dataset == ds).ToList();
            foreach (var (name, pick) in new (string, Func<StudySummaryRow, MeanStd>)[] { ("paper", r => r.Paper), ("label-free", r => r.LabelFree), ("fixed", r => r.Fixed) })
            {
                double F(StudyFamily f) => d.Where(r => r.Family == f).Select(r => pick(r).Mean).Where(double.IsFinite).DefaultIfEmpty(double.NaN).Average();
                list.Add(new StudyRanking(ds, name, F(StudyFamily.CL), F(StudyFamily.RCL), F(StudyFamily.PCL), F(StudyFamily.RL), tolerance));
            }
        }
        return list;
    }

    /// <summary>
    /// The Markdown results table (mean ± std over seeds, with the gap label-free − paper protocol) per data set, the worst RCL
    /// gap per data set (<see cref="Gaps"/>), the gap against training steps (<see cref="BudgetGaps"/>) and the ranking statements.
    /// The text depends only on the results' scores, never on wall times, so a merged sharded run and a single run give the same text.
    /// </summary>
    /// <param name="results">Results.</param>
    /// <param name="tolerance">Tolerance of CL ≈ RCL.</param>
    public static string ToMarkdown(IEnumerable<StudyResult> results, double tolerance = DefaultTolerance)
    {
        var all = results.ToList();
        var sb = new StringBuilder();
        var rows = Rows(all);
        foreach (var ds in rows.Select(r => r.Dataset).Distinct())
        {
            var first = all.First(r => r.Dataset == ds);
            string metric = first.ClassCount == 2 ? "Dice" : "mIoU";
            int seeds = all.Where(r => r.Dataset == ds).Select(r => r.Seed).Distinct().Count();
            sb.Append(CultureInfo.InvariantCulture, $"### {ds} ({metric}, test split, {seeds} seed(s), {first.Steps} steps)\n\n");
            sb.Append($"| family | condition | paper protocol | label-free | fixed {(first.ClassCount == 2 ? "0.5" : "argmax")} | label-free − paper protocol | structure corr. | NTM rank | det(NTM) |\n");
            sb.Append("|---|---|---|---|---|---|---|---|---|\n");
            foreach (var r in rows.Where(r => r.Dataset == ds))
                sb.Append(CultureInfo.InvariantCulture, $"| {r.Family} | `{DisplayName(r.Condition)}` | {r.Paper} | {r.LabelFree} | {r.Fixed} | {Signed(r.GapToPaper)} | {r.StructureCorrelation} | {r.NoiseRank} | {r.NoiseDeterminant:0.000} |\n");
            sb.Append('\n');
        }
        sb.Append(CultureInfo.InvariantCulture, $"### Label-free − paper protocol (per seed, then mean; bar: within {DefaultGapTolerance:0.00} or above)\n\n");
        foreach (var g in Gaps(all))
            sb.Append($"- {g.Statement()}\n");
        var budget = BudgetGaps(all);
        foreach (var ds in budget.Select(b => b.Dataset).Distinct())
        {
            var curves = budget.Where(b => b.Dataset == ds).ToList();
            var steps = curves.SelectMany(b => b.Points.Select(p => p.Step)).Distinct().Order().ToList();
            sb.Append(CultureInfo.InvariantCulture, $"\nLabel-free − paper protocol against training steps, {ds} (both decode the model of that step):\n\n");
            sb.Append("| condition | ").AppendJoin(" | ", steps.Select(x => x.ToString(CultureInfo.InvariantCulture))).Append(" |\n");
            sb.Append("|---|").Append(string.Concat(steps.Select(_ => "---|"))).Append('\n');
            foreach (var (_, condition, points) in curves)
            {
                sb.Append(CultureInfo.InvariantCulture, $"| `{DisplayName(condition)}` |");
                foreach (int step in steps)
                {
                    var p = points.Where(x => x.Step == step).Select(x => x.Gap).DefaultIfEmpty(new MeanStd(double.NaN, double.NaN, 0)).First();
                    sb.Append(' ').Append(Signed(p.Mean)).Append(" |");
                }
                sb.Append('\n');
            }
        }
        sb.Append(CultureInfo.InvariantCulture, $"\n### Ranking CL ≈ RCL > PCL > RL (family means; ≈ means RCL ≥ CL − {tolerance:0.00})\n\n");
        foreach (var k in Rankings(all, tolerance))
            sb.Append($"- {k.Dataset}, {k.Decoding}: {k.Statement()}\n");
        return sb.ToString();
    }
}
