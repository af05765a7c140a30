using System.Globalization;
using System.Text;
using MLNet.NoisySeg.Study;
using ScottPlot;

namespace NoisySeg.Study;

/// <summary>Writes the report of a results folder: results.md (table + ranking), PNG plots (ScottPlot) and report.md linking everything.</summary>
public static class ReportWriter
{
    private static readonly (string Name, Func<StudyResult, double> Pick, Color Color)[] Decodings =
    [
        ("paper protocol (best threshold on clean validation)", r => r.Paper.Score, Colors.Blue),
        ("label-free (levels from the model's own outputs)", r => r.LabelFree.Score, Colors.Green),
        ("fixed (0.5 / argmax)", r => r.Fixed.Score, Colors.Orange),
    ];

    /// <summary>Writes everything; returns the path of report.md.</summary>
    /// <param name="folder">Results folder.</param>
    /// <param name="results">Results.</param>
    /// <param name="elapsed">Wall time of the run (null for merged results).</param>
    /// <param name="options">The run's options (for the settings line), if known.</param>
    public static string Write(string folder, IReadOnlyList<StudyResult> results, TimeSpan? elapsed, StudyOptions? options)
    {
        string plots = Path.Combine(folder, "plots");
        Directory.CreateDirectory(plots);
        string table = StudySummary.ToMarkdown(results);
        StudyResultStore.WriteAtomically(Path.Combine(folder, "results.md"), table);
        var md = new StringBuilder();
        md.Append("# Noisy-label segmentation study (Luo et al., AAAI 2022)\n\n");
        if (options is not null && elapsed is not null) // a run: its own options (a merge only knows the recorded settings below)
            md.Append(CultureInfo.InvariantCulture, $"Profile **{options.Profile}**: {options.DescribeTraining()}; seeds {string.Join(",", options.Seeds)}; data sets {string.Join(", ", options.Datasets.Select(d => d.Describe()))}.\n\n");
        if (StudyResultStore.ReadSettings(folder) is { } recorded)
            md.Append("Settings recorded with these results (`settings.json`): ")
              .AppendJoin("; ", recorded.Select(kv => $"{kv.Key} = {kv.Value}")).Append(".\n\n");
        md.Append(CultureInfo.InvariantCulture, $"{results.Count} condition run(s); summed condition time {results.Sum(r => r.WallSeconds):0} s");
        if (elapsed is { } e) md.Append(CultureInfo.InvariantCulture, $"; wall time of this run {e.TotalSeconds:0} s");
        md.Append(".\n\nRaw results: [results.csv](results.csv), [results.jsonl](results.jsonl). Decodings of ONE trained model per condition: ")
          .Append("**paper protocol** = best of 50 thresholds (and the inverted map) on a clean validation split carved from train (multi-class: the better of argmax and label-free on it); ")
          .Append("**label-free** = `NoiseAwareDecoding.Plan` on the model's own outputs on its noisy training images, with the simulated NTM as the known Q (binary: threshold between the output levels, or at the foreground share Q implies when they do not separate; multi-class: argmax when Q preserves it, else the inverse-NTM correction; rank-deficient Q: fixed); ")
          .Append("**fixed** = 0.5 threshold / argmax. Structure corr. = Pearson correlation of corrupted vs clean density maps (box, h = ")
          .Append(options?.DensityBandwidth.ToString(CultureInfo.InvariantCulture) ?? "5").Append("), averaged over training images.\n\n");
        md.Append("## Results\n\n").Append(table).Append('\n');
        var failures = new StudyResultStore(folder).Failures;
        if (failures.Count > 0)
        {
            md.Append(CultureInfo.InvariantCulture, $"**{failures.Count} condition(s) failed** and are not in the table (listed in `failures.jsonl`; rerunning the same command retries them):\n\n");
            foreach (var f in failures) md.Append(CultureInfo.InvariantCulture, $"- `{f.Key}` ({f.Error}): {f.Reason}\n");
            md.Append('\n');
        }
        md.Append(BudgetNote(results)).Append('\n');
        md.Append("## Plots\n\n");
        foreach (var ds in results.Select(r => r.Dataset).Distinct())
        {
            var d = results.Where(r => r.Dataset == ds).ToList();
            bool binary = d[0].ClassCount == 2;
            string metric = binary ? "Dice" : "mIoU";
            md.Append(CultureInfo.InvariantCulture, $"### {ds}\n\n");
            var files = new List<(string Title, string File)>();
            if (Line(d, binary ? "Sampling" : "ClassSampling", 1.0, $"{ds}: {metric} vs sampling rate", "sampling rate s (CL = 1)", metric, Path.Combine(plots, $"{ds}-sampling.png")))
                files.Add(("Score vs sampling rate", $"plots/{ds}-sampling.png"));
            if (Line(d, binary ? "Flipping" : "SymmetricFlip", 0.0, $"{ds}: {metric} vs flip rate", binary ? "flip rate f = b (CL = 0)" : "symmetric flip rate e (CL = 0)", metric, Path.Combine(plots, $"{ds}-flipping.png")))
                files.Add(("Score vs flip rate", $"plots/{ds}-flipping.png"));
            if (FamilyBars(d, $"{ds}: {metric} per condition (PCL and RL against CL/RCL)", metric, Path.Combine(plots, $"{ds}-bars.png")))
                files.Add(("All conditions (bars)", $"plots/{ds}-bars.png"));
            if (!binary && PerClassIoU(d, $"{ds}: per-class IoU (label-free)", Path.Combine(plots, $"{ds}-per-class-iou.png")))
                files.Add(("Per-class IoU", $"plots/{ds}-per-class-iou.png"));
            if (Budget(d, $"{ds}: label-free {metric} vs training steps", metric, Path.Combine(plots, $"{ds}-budget.png")))
                files.Add(("Budget curves (CL, RCL)", $"plots/{ds}-budget.png"));
            if (BudgetGap(d, $"{ds}: label-free − paper protocol ({metric}) vs training steps", metric, Path.Combine(plots, $"{ds}-budget-gap.png")))
                files.Add(("Gap to the paper protocol over training steps", $"plots/{ds}-budget-gap.png"));
            foreach (var (title, file) in files)
                md.Append(CultureInfo.InvariantCulture, $"**{title}**\n\n![{title}]({file})\n\n");
            var panels = d.Where(r => !string.IsNullOrEmpty(r.Panel)).GroupBy(r => r.Condition).Select(g => g.First()).ToList();
            if (panels.Count > 0)
            {
                md.Append("Image panels, first test image. Columns: image | clean mask | corrupted mask | density map of the corrupted mask ")
                  .Append(binary ? "(foreground share in a box window, coloured from 0 to the map's own maximum, shown under it) " : "(class colours mixed by their densities) ")
                  .Append("| prediction of the model trained on the corrupted masks (label-free decoding).\n\n");
                foreach (var p in panels)
                    md.Append(CultureInfo.InvariantCulture, $"- `{StudySummary.DisplayName(p.Condition)}` ({p.Family}): ![{p.Family}]({p.Panel})\n");
                md.Append('\n');
            }
        }
        string report = Path.Combine(folder, "report.md");
        StudyResultStore.WriteAtomically(report, md.ToString());
        return report;
    }

    private static string BudgetNote(IReadOnlyList<StudyResult> results)
    {
        var sb = new StringBuilder("### Budget\n\n");
        foreach (var ds in results.Select(r => r.Dataset).Distinct())
        {
            var d = results.Where(r => r.Dataset == ds && r.Budget.Count >= 2).ToList();
            if (d.Count == 0) continue;
            var curves = d.GroupBy(r => r.Condition).Select(g =>
            {
                var pts = g.SelectMany(r => r.Budget).GroupBy(p => p.Step).OrderBy(x => x.Key).Select(x => x.Select(p => p.Score).Where(double.IsFinite).DefaultIfEmpty(double.NaN).Average()).ToList();
                double last = pts[^1], prev = pts[^2], best = pts.Where(double.IsFinite).DefaultIfEmpty(double.NaN).Max();
                return (Condition: g.Key, Last: last, Gain: last - prev, Drop: best - last, Family: g.First().Family);
            }).ToList();
                        var rising = curves.Where(x => x.Gain > 0.01).Select(x => FormattableString.Invariant($"`{StudySummary.DisplayName(x.Condition)}` (+{x.Gain:0.000})")).ToList();
            // A curve that ends well below its own best has started to fit the noise (memorization), not run out of budget.
            var declining = curves.Where(x => x.Gain <= 0.01 && x.Drop > 0.03).Select(x => FormattableString.Invariant($"`{StudySummary.DisplayName(x.Condition)}` ({x.Drop:0.000} below its best)")).ToList();
            sb.Append(CultureInfo.InvariantCulture, $"- {ds}: ");
            if (rising.Count > 0)
                sb.Append($"still rising over the last interval (gain > 0.01), so their gap to CL is at least partly a budget effect: {string.Join(", ", rising)}. ");
            if (declining.Count > 0)
                sb.Append($"past their best and falling, i.e. the network has started to memorize the noisy labels (early stopping, more data or online noise would help): {string.Join(", ", declining)}. ");
            if (rising.Count == 0 && declining.Count == 0)
                sb.Append("every CL/RCL curve is flat over its last interval (gain ≤ 0.01, within 0.03 of its best): remaining gaps to CL are not a budget effect at this scale.");
            sb.Append('\n');
        }
        return sb.ToString();
    }

    private static bool Line(List<StudyResult> d, string kind, double clX, string title, string xLabel, string yLabel, string path)
    {
        var pts = d.Where(r => r.Kind == kind).ToList();
        if (pts.Count == 0) return false;
        var plt = new Plot();
        foreach (var (name, pick, color) in Decodings)
        {
            var groups = pts.GroupBy(r => r.Parameter).Select(g => (X: g.Key, S: MeanStd.Of(g.Select(pick)))).ToList();
            var cl = d.Where(r => r.Family == "CL").Select(pick).ToList();
            if (cl.Count > 0) groups.Add((clX, MeanStd.Of(cl)));
            groups = groups.Where(g => double.IsFinite(g.S.Mean)).OrderBy(g => g.X).ToList();
            if (groups.Count == 0) continue;
            double[] xs = groups.Select(g => g.X).ToArray(), ys = groups.Select(g => g.S.Mean).ToArray(), es = groups.Select(g => g.S.Std).ToArray();
            var sc = plt.Add.Scatter(xs, ys, color);
            sc.LegendText = name;
            sc.LineWidth = 2;
            sc.MarkerSize = 7;
            var eb = plt.Add.ErrorBar(xs, ys, es);
            eb.Color = color;
        }
        Finish(plt, title, xLabel, yLabel + " (mean ± std over seeds)", path, 1000);
        return true;
    }

    private static bool FamilyBars(List<StudyResult> d, string title, string yLabel, string path)
    {
        var conds = d.GroupBy(r => r.Condition).OrderBy(g => g.Min(r => r.Index)).ToList();
        if (conds.Count == 0) return false;
        var plt = new Plot();
        var familyColor = new Dictionary<string, Color> { ["CL"] = Colors.Black, ["RCL"] = Colors.SeaGreen, ["PCL"] = Colors.DarkOrange, ["RL"] = Colors.Crimson };
        var familyName = new Dictionary<string, string>
        {
            ["CL"] = "CL: clean labels", ["RCL"] = "RCL: sampled / flipped (structure kept)",
            ["PCL"] = "PCL: dilated, eroded, skeleton, boundary", ["RL"] = "RL: random labels",
        };
        var bars = new List<Bar>();
        var ticks = new List<Tick>();
        for (int i = 0; i < conds.Count; i++)
        {
            var g = conds[i];
            var paper = MeanStd.Of(g.Select(r => r.Paper.Score));
            var lf = MeanStd.Of(g.Select(r => r.LabelFree.Score));
            var fam = familyColor.GetValueOrDefault(g.First().Family, Colors.Gray);
            bars.Add(new Bar { Position = 3 * i, Value = Zero(paper.Mean), Error = Zero(paper.Std), FillColor = fam, LineWidth = 0 });
            bars.Add(new Bar { Position = 3 * i + 1, Value = Zero(lf.Mean), Error = Zero(lf.Std), FillColor = fam.WithAlpha(0.45), LineWidth = 0 });
            ticks.Add(new Tick(3 * i + 0.5, StudySummary.DisplayName(g.Key)));
        }
        plt.Add.Bars(bars);
        foreach (var (fam, color) in familyColor)
            plt.Legend.ManualItems.Add(new LegendItem { LabelText = familyName[fam], FillColor = color });
        plt.Legend.ManualItems.Add(new LegendItem { LabelText = "solid bar: paper protocol", FillColor = Colors.Gray });
        plt.Legend.ManualItems.Add(new LegendItem { LabelText = "light bar: label-free", FillColor = Colors.Gray.WithAlpha(0.45) });
        plt.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks.ToArray());
        plt.Axes.Bottom.TickLabelStyle.Rotation = 45;
        plt.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        plt.Axes.Bottom.MinimumSize = 110;
        Finish(plt, title, "", yLabel + " (mean ± std over seeds)", path, 1200, 560);
        return true;
    }

    private static bool PerClassIoU(List<StudyResult> d, string title, string path)
    {
        var conds = d.Where(r => r.LabelFree.PerClassIoU.Count > 0).GroupBy(r => r.Condition).OrderBy(g => g.Min(r => r.Index)).ToList();
        if (conds.Count == 0) return false;
        int classes = conds[0].First().LabelFree.PerClassIoU.Count;
        var plt = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        double width = 0.8 / conds.Count;
        for (int ci = 0; ci < conds.Count; ci++)
        {
            var color = palette.GetColor(ci);
            var bars = new List<Bar>();
            for (int k = 0; k < classes; k++)
            {
                var v = MeanStd.Of(conds[ci].Select(r => r.LabelFree.PerClassIoU[k]));
                bars.Add(new Bar { Position = k + (ci - (conds.Count - 1) / 2.0) * width, Value = Zero(v.Mean), Size = width, FillColor = color, LineWidth = 0 });
            }
            plt.Add.Bars(bars);
            plt.Legend.ManualItems.Add(new LegendItem { LabelText = StudySummary.DisplayName(conds[ci].Key), FillColor = color });
        }
        plt.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(Enumerable.Range(0, classes).Select(k => new Tick(k, k.ToString(CultureInfo.InvariantCulture))).ToArray());
        Finish(plt, title, "class index", "IoU", path, 1200, 520);
        return true;
    }

    private static bool Budget(List<StudyResult> d, string title, string yLabel, string path)
    {
        var conds = d.Where(r => r.Budget.Count > 0).GroupBy(r => r.Condition).OrderBy(g => g.Min(r => r.Index)).ToList();
        if (conds.Count == 0) return false;
        var plt = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        for (int i = 0; i < conds.Count; i++)
        {
            var pts = conds[i].SelectMany(r => r.Budget).GroupBy(p => p.Step).OrderBy(g => g.Key)
                .Select(g => (X: (double)g.Key, Y: g.Select(p => p.Score).Where(double.IsFinite).DefaultIfEmpty(double.NaN).Average())).Where(p => double.IsFinite(p.Y)).ToList();
            if (pts.Count == 0) continue;
            var sc = plt.Add.Scatter(pts.Select(p => p.X).ToArray(), pts.Select(p => p.Y).ToArray(), palette.GetColor(i));
            sc.LegendText = StudySummary.DisplayName(conds[i].Key);
            sc.LineWidth = conds[i].First().Family == "CL" ? 3 : 1.5f;
            if (conds[i].First().Family == "CL") sc.Color = Colors.Black;
        }
        Finish(plt, title, "training steps", yLabel, path, 900);
        return true;
    }

    private static bool BudgetGap(List<StudyResult> d, string title, string yLabel, string path)
    {
        var curves = StudySummary.BudgetGaps(d);
        if (curves.Count == 0) return false;
        var plt = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        double lo = -0.05, hi = 0.05;
        for (int i = 0; i < curves.Count; i++)
        {
            var pts = curves[i].Points.Where(p => double.IsFinite(p.Gap.Mean)).ToList();
            if (pts.Count == 0) continue;
            var sc = plt.Add.Scatter(pts.Select(p => (double)p.Step).ToArray(), pts.Select(p => p.Gap.Mean).ToArray(), palette.GetColor(i));
            sc.LegendText = StudySummary.DisplayName(curves[i].Condition);
            lo = Math.Min(lo, pts.Min(p => p.Gap.Mean));
            hi = Math.Max(hi, pts.Max(p => p.Gap.Mean));
        }
        var bar = plt.Add.HorizontalLine(-StudySummary.DefaultGapTolerance, 1, Colors.Gray);
        bar.LinePattern = LinePattern.Dashed;
        plt.Add.HorizontalLine(0, 1, Colors.Black);
        Finish(plt, title, "training steps", yLabel + " difference (dashed: -" + StudySummary.DefaultGapTolerance.ToString(CultureInfo.InvariantCulture) + ")", path, yLimits: (lo - 0.02, hi + 0.02));
        return true;
    }

    private static double Zero(double v) => double.IsFinite(v) ? v : 0;

    /// <summary>Title, axis labels, the y range (default [0, 1.05]) and the legend, outside the data on the right (it never hides a point).</summary>
    private static void Finish(Plot plt, string title, string x, string y, string path, int width = 900, int height = 460,
        (double Low, double High)? yLimits = null)
    {
        plt.Title(title);
        if (x.Length > 0) plt.XLabel(x);
        plt.YLabel(y);
        plt.Axes.SetLimitsY(yLimits?.Low ?? 0, yLimits?.High ?? 1.05);
        plt.ShowLegend(Edge.Right);
        StudyResultStore.WriteAtomically(path, plt.GetImage(width, height).GetImageBytes(ImageFormat.Png, 100));
    }
}
