using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MLNet.NoisySeg.Study;

/// <summary>
/// The results of a study folder: <c>results.jsonl</c> (one <see cref="StudyResult"/> per line, the source of truth) and
/// <c>results.csv</c> (derived). Every <see cref="Add"/> rewrites both files whole, through a temporary file that is flushed
/// to disk and renamed over the old one, so a killed run leaves either the old or the new file, never a torn one, and a
/// finished condition is never lost or duplicated. Records are kept sorted by grid index, so a merged set of shards and a
/// single run produce the same files (up to wall times).
/// </summary>
public sealed class StudyResultStore
{
    /// <summary>File name of the JSON-lines results.</summary>
    public const string JsonLinesFileName = "results.jsonl";

    /// <summary>File name of the CSV results.</summary>
    public const string CsvFileName = "results.csv";

    /// <summary>File name of the result-affecting settings of the folder (<see cref="StudyOptions.ResultSettings"/>).</summary>
    public const string SettingsFileName = "settings.json";

    /// <summary>JSON settings of the results (NaN allowed, enums as names).</summary>
    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter() },
        WriteIndented = false,
    };

    private static readonly JsonSerializerOptions SettingsJsonOptions = new() { WriteIndented = true };

    private readonly object _gate = new();
    private readonly SortedDictionary<int, StudyResult> _byIndex = new();
    private readonly Dictionary<string, StudyResult> _byKey = new(StringComparer.Ordinal);

    /// <summary>Opens (or creates) the store in <paramref name="folder"/>, loading finished conditions.</summary>
    /// <param name="folder">The results folder.</param>
    /// <exception cref="InvalidDataException">results.jsonl holds a line that is not a result.</exception>
    public StudyResultStore(string folder)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        Folder = folder;
        Directory.CreateDirectory(folder);
        foreach (var r in Read(JsonLinesPath)) Put(r);
        LoadFailures();
        // A kill between the two renames of Add leaves an older CSV: regenerate it from the JSON lines.
        if (_byKey.Count > 0) WriteCsvFile();
    }

    /// <summary>The results folder.</summary>
    public string Folder { get; }

    /// <summary>Path of results.jsonl.</summary>
    public string JsonLinesPath => Path.Combine(Folder, JsonLinesFileName);

    /// <summary>Path of results.csv.</summary>
    public string CsvPath => Path.Combine(Folder, CsvFileName);

    /// <summary>Finished results, sorted by grid index.</summary>
    public IReadOnlyList<StudyResult> Results
    {
        get { lock (_gate) return _byIndex.Values.ToList(); }
    }

    /// <summary>True when the condition with this key is finished.</summary>
    /// <param name="key">Condition key.</param>
    public bool Contains(string key)
    {
        lock (_gate) return _byKey.ContainsKey(key);
    }

    /// <summary>Adds a finished condition and rewrites the files atomically. Returns false (and writes nothing) when its key is already stored.</summary>
    /// <param name="result">The result.</param>
    /// <exception cref="InvalidOperationException">Another result with the same grid index but a different key is stored (the grid changed).</exception>
    public bool Add(StudyResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        lock (_gate)
        {
            if (_byKey.ContainsKey(result.Key)) return false;
            Put(result);
            WriteAtomically(JsonLinesPath, ToJsonLines(_byIndex.Values));
            WriteCsvFile();
            if (_failures.Remove(result.Key)) WriteFailures(); // a retried condition that now finished
            return true;
        }
    }

    /// <summary>File name of the conditions that failed (one <see cref="StudyFailure"/> per line); a rerun retries them.</summary>
    public const string FailuresFileName = "failures.jsonl";

    private readonly SortedDictionary<string, StudyFailure> _failures = new(StringComparer.Ordinal);

    /// <summary>Path of failures.jsonl.</summary>
    public string FailuresPath => Path.Combine(Folder, FailuresFileName);

    /// <summary>Conditions whose last attempt failed (not finished: a rerun retries them), by key.</summary>
    public IReadOnlyList<StudyFailure> Failures
    {
        get { lock (_gate) return _failures.Values.ToList(); }
    }

    /// <summary>Records that a condition failed (replacing an earlier failure of the same key), atomically.</summary>
    /// <param name="failure">The failure.</param>
    public void AddFailure(StudyFailure failure)
    {
        ArgumentNullException.ThrowIfNull(failure);
        lock (_gate)
        {
            _failures[failure.Key] = failure;
            WriteFailures();
        }
    }

    private void WriteFailures()
        => WriteAtomically(FailuresPath, string.Concat(_failures.Values.Select(f => JsonSerializer.Serialize(f, JsonOptions) + "\n")));

    private void LoadFailures()
    {
        if (!File.Exists(FailuresPath)) return;
        foreach (var line in File.ReadLines(FailuresPath))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                if (JsonSerializer.Deserialize<StudyFailure>(line, JsonOptions) is { } f && !_byKey.ContainsKey(f.Key)) _failures[f.Key] = f;
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{FailuresPath} holds a line that is not a study failure: {e.Message}", e);
            }
        }
    }

    private void Put(StudyResult r)
    {
        if (_byKey.ContainsKey(r.Key)) return;
        if (_byIndex.TryGetValue(r.Index, out var other))
            throw new InvalidOperationException($"Results in {Folder} hold two conditions with grid index {r.Index} ('{other.Key}' and '{r.Key}'): they come from different grids (data sets, seeds or filters).");
        _byIndex[r.Index] = r;
        _byKey[r.Key] = r;
    }

    private void WriteCsvFile() => WriteAtomically(CsvPath, ToCsv(_byIndex.Values));

    /// <summary>Path of settings.json.</summary>
    public string SettingsPath => Path.Combine(Folder, SettingsFileName);

    /// <summary>
    /// Records <paramref name="settings"/> in settings.json, or, when the folder already has settings, checks that they
    /// are the same, so results of different budgets or sizes never end up in one table.
    /// </summary>
    /// <param name="settings">The settings of the run (<see cref="StudyOptions.ResultSettings"/>).</param>
    /// <exception cref="ArgumentException">The folder holds results of different settings (ParamName "OutputFolder"); the message lists them.</exception>
    /// <exception cref="InvalidDataException">settings.json is not a settings file.</exception>
    public void EnsureSettings(IReadOnlyDictionary<string, string> settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        lock (_gate)
        {
            var stored = ReadSettings(Folder);
            if (stored is null)
            {
                WriteAtomically(SettingsPath, SettingsText(settings));
                return;
            }
            string diff = DescribeDifference(stored, settings, "there", "now");
            if (diff.Length > 0)
                throw new ArgumentException($"OutputFolder: {SettingsPath} holds results of a run with different settings ({diff}). Use another OutputFolder, or delete the folder to start over.", "OutputFolder");
        }
    }

    /// <summary>Reads a folder's settings.json, or null when it has none (settings written before issue 11 are read too).</summary>
    /// <param name="folder">A results folder.</param>
    /// <exception cref="InvalidDataException">settings.json is not a settings file.</exception>
    public static IReadOnlyDictionary<string, string>? ReadSettings(string folder)
    {
        string path = Path.Combine(folder, SettingsFileName);
        if (!File.Exists(path)) return null;
        try
        {
            return StudySettings.Normalize(JsonSerializer.Deserialize<SortedDictionary<string, string>>(File.ReadAllText(path), JsonOptions)
                ?? throw new JsonException("null"));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is not a study settings file (a JSON object of option names to values): {e.Message}", e);
        }
    }

    private static string SettingsText(IReadOnlyDictionary<string, string> settings)
        => JsonSerializer.Serialize(new SortedDictionary<string, string>(settings.ToDictionary(), StringComparer.Ordinal), SettingsJsonOptions) + "\n";

    private static string DescribeDifference(IReadOnlyDictionary<string, string> a, IReadOnlyDictionary<string, string> b, string aName, string bName)
    {
        var parts = new List<string>();
        foreach (var key in a.Keys.Union(b.Keys).Order(StringComparer.Ordinal))
        {
            string va = a.TryGetValue(key, out var x) ? x : "absent", vb = b.TryGetValue(key, out var y) ? y : "absent";
            if (va != vb) parts.Add($"{key} = {va} {aName}, {vb} {bName}");
        }
        return string.Join("; ", parts);
    }

    /// <summary>Reads the results of a results.jsonl file (empty when it does not exist).</summary>
    /// <param name="path">The file.</param>
    /// <exception cref="InvalidDataException">A line is not a result.</exception>
    public static IReadOnlyList<StudyResult> Read(string path)
    {
        if (!File.Exists(path)) return [];
        var list = new List<StudyResult>();
        int lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                list.Add(JsonSerializer.Deserialize<StudyResult>(line, JsonOptions) ?? throw new JsonException("null"));
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{path}:{lineNumber} is not a study result: {e.Message}", e);
            }
        }
        return list;
    }

    /// <summary>
    /// Merges the results of several folders (e.g. shard outputs) into <paramref name="outputFolder"/>: the union by key,
    /// sorted by grid index: the same files a single run of the whole grid writes.
    /// </summary>
    /// <param name="inputFolders">Folders holding results.jsonl.</param>
    /// <param name="outputFolder">Destination folder (may be one of the inputs).</param>
    /// <returns>The merged store.</returns>
    /// <exception cref="ArgumentException">An input folder has no results.jsonl, or the inputs were run with different settings.</exception>
    public static StudyResultStore Merge(IEnumerable<string> inputFolders, string outputFolder)
    {
        ArgumentNullException.ThrowIfNull(inputFolders);
        var all = new List<StudyResult>();
        int n = 0;
        IReadOnlyDictionary<string, string>? settings = null;
        string? settingsFolder = null;
        foreach (var folder in inputFolders)
        {
            string file = Path.Combine(folder, JsonLinesFileName);
            if (!File.Exists(file)) throw new ArgumentException($"Inputs: '{folder}' holds no {JsonLinesFileName}.", "Inputs");
            if (ReadSettings(folder) is { } s)
            {
                if (settings is null) (settings, settingsFolder) = (s, folder);
                else if (DescribeDifference(settings, s, $"in {settingsFolder}", $"in {folder}") is { Length: > 0 } diff)
                    throw new ArgumentException($"Inputs: the folders were run with different settings ({diff}); merge only shards of one study.", "Inputs");
            }
            all.AddRange(Read(file));
            n++;
        }
        if (n == 0) throw new ArgumentException("Inputs must name at least one results folder.", "Inputs");
        var store = new StudyResultStore(outputFolder);
        if (settings is not null) store.EnsureSettings(settings);
        lock (store._gate)
        {
            foreach (var r in all) store.Put(r);
            WriteAtomically(store.JsonLinesPath, ToJsonLines(store._byIndex.Values));
            store.WriteCsvFile();
        }
        return store;
    }

    /// <summary>The shard result folders (<c>shard-i-of-n</c>) directly below <paramref name="root"/>.</summary>
    /// <param name="root">Output folder of sharded runs.</param>
    public static IReadOnlyList<string> FindShardFolders(string root)
        => Directory.Exists(root)
            ? Directory.GetDirectories(root, "shard-*-of-*").Where(d => File.Exists(Path.Combine(d, JsonLinesFileName))).Order(StringComparer.Ordinal).ToList()
            : [];

    /// <summary>The JSON-lines text of results.</summary>
    /// <param name="results">The results.</param>
    public static string ToJsonLines(IEnumerable<StudyResult> results)
    {
        var sb = new StringBuilder();
        foreach (var r in results) sb.Append(JsonSerializer.Serialize(r, JsonOptions)).Append('\n');
        return sb.ToString();
    }

    /// <summary>CSV columns written by <see cref="ToCsv"/>.</summary>
    public static readonly IReadOnlyList<string> CsvColumns =
    [
        "index", "key", "dataset", "family", "condition", "parameter", "seed", "classes", "steps",
        "paper_score", "labelfree_score", "fixed_score", "paper_dice", "labelfree_dice", "fixed_dice",
        "paper_iou", "labelfree_iou", "fixed_iou", "auc", "paper_rule", "labelfree_rule", "fixed_rule",
        "ntm_rank", "ntm_det", "structure_corr", "ntm", "wall_seconds",
    ];

    /// <summary>The CSV text (invariant culture, RFC 4180 quoting).</summary>
    /// <param name="results">The results.</param>
    /// <param name="includeWallTime">Include the wall-time column (false gives text comparable across runs).</param>
    public static string ToCsv(IEnumerable<StudyResult> results, bool includeWallTime = true)
    {
        var sb = new StringBuilder();
        var cols = includeWallTime ? CsvColumns : CsvColumns.Take(CsvColumns.Count - 1).ToList();
        sb.AppendJoin(',', cols).Append('\n');
        foreach (var r in results)
        {
            var cells = new List<string>
            {
                I(r.Index), Q(r.Key), Q(r.Dataset), r.Family, Q(r.Condition), D(r.Parameter), I(r.Seed), I(r.ClassCount), I(r.Steps),
                D(r.Paper.Score), D(r.LabelFree.Score), D(r.Fixed.Score), D(r.Paper.Dice), D(r.LabelFree.Dice), D(r.Fixed.Dice),
                D(r.Paper.IoU), D(r.LabelFree.IoU), D(r.Fixed.IoU), D(r.Auc), Q(r.Paper.Rule), Q(r.LabelFree.Rule), Q(r.Fixed.Rule),
                I(r.NoiseRank), D(r.NoiseDeterminant), D(r.StructureCorrelation),
                Q(string.Join(';', r.NoiseMatrix.Select(row => string.Join(' ', row.Select(v => v.ToString("0.######", CultureInfo.InvariantCulture)))))),
            };
            if (includeWallTime) cells.Add(r.WallSeconds.ToString("0.###", CultureInfo.InvariantCulture));
            sb.AppendJoin(',', cells).Append('\n');
        }
        return sb.ToString();

        static string I(int v) => v.ToString(CultureInfo.InvariantCulture);
        static string D(double v) => double.IsNaN(v) ? "NaN" : v.ToString("R", CultureInfo.InvariantCulture);
        static string Q(string s) => s.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;
    }

    /// <summary>Writes text through a flushed temporary file in the same folder and a rename over <paramref name="path"/>.</summary>
    /// <param name="path">Destination.</param>
    /// <param name="text">UTF-8 text.</param>
    public static void WriteAtomically(string path, string text) => Core.AtomicFile.WriteText(path, text);

    /// <summary>Writes bytes (e.g. a PNG plot) through a flushed temporary file in the same folder and a rename over <paramref name="path"/>.</summary>
    /// <param name="path">Destination.</param>
    /// <param name="bytes">The file's content.</param>
    public static void WriteAtomically(string path, byte[] bytes) => Core.AtomicFile.Write(path, bytes);
}
