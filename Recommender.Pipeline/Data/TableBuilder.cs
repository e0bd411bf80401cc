using System.Globalization;
using Recommender.Trainers.Network;

namespace Recommender.Pipeline.Data;

/// <summary>
/// Turns records into <see cref="TableChunk"/>s under a <see cref="ResolvedSchema"/>, enforcing the
/// label rules: a binary label is 0/1 (click and conversion may not be empty; a declared task's empty label is "no
/// label"), a regression label lies in its declared range (empty = none), a 1 needs a 1 in the task it is given
/// (a conversion needs a click). Malformed rows throw a located error or, with
/// <see cref="DatasetSchema.SkipBadRows"/>, are counted in the <see cref="LoadReport"/>.
/// </summary>
public sealed class TableBuilder
{
    private readonly ResolvedSchema _schema;
    private readonly LoadReport _report;
    private readonly int _chunkSize;
    private readonly int _expectedFields;
    private readonly Dictionary<string, string>[] _intern;
    private readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>>[] _lookup;
    private readonly float[] _row;
    // Per behaviour sequence: the ranges of the current record's most recent items, and how many there are.
    private readonly Range[][] _recent;
    private readonly int[] _recentCount;
    private TableChunk _chunk;

    /// <summary>Creates a builder; <paramref name="expectedFields"/> is the exact field count of a record, or 0 for "at least enough".</summary>
    public TableBuilder(ResolvedSchema schema, LoadReport report, int expectedFields = 0, int chunkSize = 1 << 16)
    {
        _schema = schema;
        _report = report;
        _chunkSize = chunkSize;
        _expectedFields = expectedFields;
        _intern = new Dictionary<string, string>[schema.TextColumns.Length];
        _lookup = new Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>>[_intern.Length];
        for (int i = 0; i < _intern.Length; i++)
        {
            _intern[i] = new Dictionary<string, string>(StringComparer.Ordinal);
            _lookup[i] = _intern[i].GetAlternateLookup<ReadOnlySpan<char>>();
        }
        _row = new float[schema.NumberColumns.Length];
        _recent = schema.BehaviourSequences.Select(q => new Range[q.Positions.Length]).ToArray();
        _recentCount = new int[_recent.Length];
        _chunk = NewChunk();
    }

    private TableChunk NewChunk() => new(_schema.TextColumns.Length, _schema.NumberColumns.Length, _chunkSize);

    /// <summary>Called with each skipped or dropped record and the reason (for a quarantine file).</summary>
    public Action<IRecord, DataFormatException>? Rejected { get; set; }

    /// <summary>Adds a record; returns a full chunk when one is complete, else null.</summary>
    public TableChunk? Add(IRecord record)
    {
        _report.RowsRead++;
        try
        {
            if (record.Malformed is { } malformed) throw malformed;
            if (!ParseNumbers(record)) return null;
        }
        catch (DataFormatException e) when (_schema.Schema.SkipBadRows)
        {
            _report.BadRowsSkipped++;
            _report.AddExample(e.Message);
            Rejected?.Invoke(record, e);
            return null;
        }

        int row = _chunk.Count;
        for (int c = 0; c < _row.Length; c++) _chunk.Numbers[c][row] = _row[c];
        var sources = _schema.TextSources;
        var elements = _schema.TextElements;
        for (int q = 0; q < _recent.Length; q++) _recentCount[q] = -1;
        for (int c = 0; c < sources.Length; c++)
        {
            if (elements[c] < 0) { _chunk.Text[c][row] = Intern(c, record[sources[c]].Trim()); continue; }
            int q = _schema.SequenceOfText[c];
            var cell = record[sources[c]];
            if (_recentCount[q] < 0) _recentCount[q] = SequenceColumn.Recent(cell, _schema.SequenceSeparators[q], _recent[q]);
            _chunk.Text[c][row] = elements[c] < _recentCount[q] ? Intern(c, cell[_recent[q][elements[c]]]) : "";
        }
        _chunk.Count++;
        _report.RowsKept++;
        if (_chunk.Count < _chunkSize) return null;
        var full = _chunk;
        _chunk = NewChunk();
        return full;
    }

    /// <summary>The last, partly filled chunk (null when empty).</summary>
    public TableChunk? Flush()
    {
        if (_chunk.Count == 0) return null;
        var last = _chunk;
        _chunk = NewChunk();
        return last;
    }

    // Returns false when the row is dropped as inconsistent.
    private bool ParseNumbers(IRecord record)
    {
        int expected = _expectedFields > 0 ? _expectedFields : _schema.MaxSource + 1;
        if (_expectedFields > 0 ? record.FieldCount != expected : record.FieldCount < expected)
            throw record.Error(Math.Max(0, Math.Min(record.FieldCount, expected) - 1), $"expected {expected} fields, found {record.FieldCount}");
        var sources = _schema.NumberSources;
        for (int c = 0; c < _schema.DenseCount; c++)
            _row[c] = ParseDense(record, sources[c], _schema.NumberColumns[c]);
        var labels = _schema.Labels;
        foreach (var label in labels)
            _row[label.Number] = label.Kind == TaskKind.Binary ? ParseBinary(record, sources[label.Number], label) : ParseRange(record, sources[label.Number], label);
        foreach (var label in labels)
        {
            if (label.Given < 0 || _row[label.Number] != 1f || _row[labels[label.Given].Number] != 0f) continue;
            var given = labels[label.Given];
            var error = record.Error(sources[label.Number], $"{label.Name} is 1 where {given.Name} is 0 (a {label.Name} must follow a {given.Name})");
            if (_schema.Schema.OnInconsistent == InconsistentRowPolicy.Fail) throw error;
            _report.InconsistentDropped++;
            _report.AddExample(error.Message);
            Rejected?.Invoke(record, error);
            return false;
        }
        return true;
    }

    internal static bool IsMissing(ReadOnlySpan<char> s) =>
        s.IsEmpty || s is "NA" or "N/A" or "NaN" or "nan" or "null" or "NULL" or "?" || s.IsWhiteSpace();

    private static float ParseDense(IRecord record, int field, string name)
    {
        var s = record[field].Trim();
        if (IsMissing(s)) return float.NaN;
        if (!float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out float v))
            throw record.Error(field, $"dense column '{name}': '{s}' is not a number");
        // Infinity (or 1e400, which parses to it) would poison training and score as NaN: it is an error like any bad value.
        if (!float.IsFinite(v)) throw record.Error(field, $"dense column '{name}': '{s}' is not a finite number");
        return v;
    }

    private static float ParseBinary(IRecord record, int field, ResolvedSchema.LabelSlot label)
    {
        var s = record[field].Trim();
        if (s.IsEmpty && label.Required) throw record.Error(field, $"{label.Name} label is empty");
        if (IsMissing(s) && !label.Required) return float.NaN;
        if (s is "0") return 0f;
        if (s is "1") return 1f;
        if (float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) && (v == 0f || v == 1f)) return v;
        throw record.Error(field, $"{label.Name} label must be 0 or 1{(label.Required ? "" : " (or empty)")}, got '{s}'");
    }

    private static float ParseRange(IRecord record, int field, ResolvedSchema.LabelSlot label)
    {
        var s = record[field].Trim();
        if (IsMissing(s)) return float.NaN;
        if (!float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out float v))
            throw record.Error(field, $"{label.Name} '{s}' is not a number");
        if (!float.IsFinite(v)) throw record.Error(field, $"{label.Name} '{s}' is not a finite number");
        if (v < label.Min || v > label.Max)
            throw record.Error(field, $"{label.Name} {s} is outside the declared range [{label.Min}, {label.Max}]");
        return v;
    }

    private string Intern(int column, ReadOnlySpan<char> value)
    {
        if (_lookup[column].TryGetValue(value, out var existing)) return existing;
        // Unbounded vocabularies (raw Ali-CCP) must not grow this cache without limit.
        if (_intern[column].Count >= 1 << 20) _intern[column].Clear();
        string s = value.ToString();
        _intern[column][s] = s;
        return s;
    }
}
