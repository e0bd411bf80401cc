using System.Globalization;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Recommender.Pipeline.Data;

namespace Recommender.Pipeline.Serving;

/// <summary>
/// The columns a served model reads, from the input schema its featurization was saved with: text columns (ids,
/// categoricals) and dense columns, under their table names (<c>UserId</c>, <c>ItemId</c>, ...) and under the
/// names a request uses, the schema's own column names. Turns JSON rows into a <see cref="TableChunk"/>: unknown
/// columns and wrong types are refused naming the field; missing optional columns are empty (the
/// out-of-vocabulary key) or missing numbers (imputed as in training). A behaviour sequence is given under its column's
/// name, as the files hold it (<c>"i7|i3|i9"</c>, oldest first) or as a JSON array in the same order; its positions take
/// the most recent items.
/// </summary>
public sealed class ModelColumns
{
    private readonly Dictionary<string, (bool Text, int Index)> _byRequestName = new(StringComparer.Ordinal);
    // Each behaviour sequence the model reads: its schema entry and its positions' text column indices (most recent first).
    private readonly Dictionary<string, (SequenceColumn Sequence, int[] Positions)> _sequences = new(StringComparer.Ordinal);
    private readonly HashSet<int> _positionColumns = new();

    /// <summary>Reads the columns from <paramref name="inputSchema"/> under <paramref name="schema"/>'s roles.</summary>
    public ModelColumns(DataViewSchema inputSchema, DatasetSchema schema)
    {
        string[] labels = [DatasetSchema.ClickColumn, DatasetSchema.ConversionColumn, DatasetSchema.RatingColumn];
        TextColumns = inputSchema.Where(c => c.Type is TextDataViewType).Select(c => c.Name).ToArray();
        NumberColumns = inputSchema.Where(c => c.Type == NumberDataViewType.Single && !labels.Contains(c.Name)).Select(c => c.Name).ToArray();
        RequestNames = TextColumns.Select(c => c switch
        {
            DatasetSchema.UserColumn => schema.User ?? c,
            DatasetSchema.ItemColumn => schema.Item ?? c,
            DatasetSchema.GroupColumn => schema.Group ?? c,
            DatasetSchema.TimeColumn => schema.Time ?? c,
            _ => c,
        }).ToArray();
        for (int i = 0; i < TextColumns.Length; i++) _byRequestName[RequestNames[i]] = (true, i);
        for (int i = 0; i < NumberColumns.Length; i++) _byRequestName[NumberColumns[i]] = (false, i);
        Required = new[] { DatasetSchema.UserColumn, DatasetSchema.ItemColumn }.Select(c => Array.IndexOf(TextColumns, c)).Where(i => i >= 0).ToArray();
        foreach (var q in schema.Sequences ?? [])
        {
            var positions = Enumerable.Range(0, q.Length).Select(i => Array.IndexOf(TextColumns, q.Position(i))).ToArray();
            if (positions.Any(i => i < 0)) continue;
            _sequences[q.Column] = (q, positions);
            _positionColumns.UnionWith(positions);
        }
    }

    /// <summary>Text columns under their table names, in the scorer's order.</summary>
    public string[] TextColumns { get; }
    /// <summary>Dense columns, in the scorer's order.</summary>
    public string[] NumberColumns { get; }
    /// <summary>The request name of each text column.</summary>
    public string[] RequestNames { get; }
    /// <summary>Text columns every row must give (the user and item ids).</summary>
    public int[] Required { get; }

    /// <summary>Every name a request row may use (a sequence's positions are also accepted one by one, under their column names).</summary>
    public IEnumerable<string> Names => RequestNames.Where((_, i) => !_positionColumns.Contains(i)).Concat(_sequences.Keys).Concat(NumberColumns);

    /// <summary>The table column (text or dense) a request name stands for, or null.</summary>
    public (bool Text, int Index)? Find(string requestName) => _byRequestName.TryGetValue(requestName, out var c) ? c : null;

    /// <summary>An empty chunk of <paramref name="rows"/> rows: empty text, missing numbers.</summary>
    public TableChunk Empty(int rows)
    {
        var chunk = new TableChunk(TextColumns.Length, NumberColumns.Length, rows);
        foreach (var t in chunk.Text) Array.Fill(t, "");
        foreach (var n in chunk.Numbers) Array.Fill(n, float.NaN);
        chunk.Count = rows;
        return chunk;
    }

    /// <summary>Parses a JSON array of row objects (<paramref name="path"/> names it in errors).</summary>
    public TableChunk Parse(JsonElement rows, string path)
    {
        if (rows.ValueKind != JsonValueKind.Array) throw new RequestException(400, path, $"{path} must be an array of row objects");
        var chunk = Empty(rows.GetArrayLength());
        int r = 0;
        foreach (var row in rows.EnumerateArray())
        {
            string at = $"{path}[{r}]";
            if (row.ValueKind != JsonValueKind.Object) throw new RequestException(400, at, $"{at} must be an object of column values");
            Fill(chunk, r, row, at, requireIds: true);
            r++;
        }
        return chunk;
    }

    /// <summary>Sets the columns an object gives on row <paramref name="r"/>; with <paramref name="requireIds"/> the user and item must be there.</summary>
    public void Fill(TableChunk chunk, int r, JsonElement values, string path, bool requireIds)
    {
        foreach (var property in values.EnumerateObject())
        {
            string field = $"{path}.{property.Name}";
            if (_sequences.TryGetValue(property.Name, out var sequence))
            {
                FillSequence(chunk, r, sequence.Sequence, sequence.Positions, property.Value, field);
                continue;
            }
            if (Find(property.Name) is not { } column)
                throw new RequestException(400, field, $"{field}: unknown column; the model reads {string.Join(", ", Names)}");
            var v = property.Value;
            if (column.Text)
            {
                chunk.Text[column.Index][r] = v.ValueKind switch
                {
                    JsonValueKind.String => v.GetString()!,
                    JsonValueKind.Number => v.GetRawText(),
                    JsonValueKind.Null => "",
                    _ => throw new RequestException(400, field, $"{field}: a categorical value must be a string or a number, got {v.ValueKind}"),
                };
            }
            else
            {
                chunk.Numbers[column.Index][r] = v.ValueKind switch
                {
                    // Parsed as float, as the file loaders do, so a value scores exactly as in a file.
                    JsonValueKind.Number when v.TryGetSingle(out float f) && float.IsFinite(f) => f,
                    JsonValueKind.Null => float.NaN,
                    _ => throw new RequestException(400, field, $"{field}: a dense value must be a finite number or null, got {(v.ValueKind == JsonValueKind.Number ? v.GetRawText() : v.ValueKind.ToString())}"),
                };
            }
        }
        if (!requireIds) return;
        foreach (int c in Required)
            if (chunk.Text[c][r].Length == 0)
                throw new RequestException(400, $"{path}.{RequestNames[c]}", $"{path}.{RequestNames[c]}: required (the {(TextColumns[c] == DatasetSchema.UserColumn ? "user" : "item")} id)");
    }

    // A sequence's positions from a list cell or a JSON array, both oldest first.
    private static void FillSequence(TableChunk chunk, int r, SequenceColumn sequence, int[] positions, JsonElement v, string field)
    {
        foreach (int c in positions) chunk.Text[c][r] = "";
        switch (v.ValueKind)
        {
            case JsonValueKind.Null: return;
            case JsonValueKind.String:
            {
                string cell = v.GetString()!;
                var recent = new Range[positions.Length];
                int n = SequenceColumn.Recent(cell, sequence.SeparatorChar, recent);
                for (int i = 0; i < n; i++) chunk.Text[positions[i]][r] = cell[recent[i]];
                return;
            }
            case JsonValueKind.Array:
            {
                var items = v.EnumerateArray().Select((e, i) => e.ValueKind switch
                {
                    JsonValueKind.String => e.GetString()!.Trim(),
                    JsonValueKind.Number => e.GetRawText(),
                    _ => throw new RequestException(400, $"{field}[{i}]", $"{field}[{i}]: an item of a sequence must be a string or a number, got {e.ValueKind}"),
                }).Where(s => s.Length > 0).ToArray();
                for (int i = 0; i < positions.Length && i < items.Length; i++) chunk.Text[positions[i]][r] = items[^(i + 1)];
                return;
            }
            default:
                throw new RequestException(400, field, $"{field}: a sequence is a string of items separated by '{sequence.Separator}' or an array of items, oldest first; got {v.ValueKind}");
        }
    }

    /// <summary>Row <paramref name="r"/> as request names and values (what the impression log keeps as features; a sequence as its list cell).</summary>
    public Dictionary<string, object?> Row(TableChunk chunk, int r)
    {
        var row = new Dictionary<string, object?>(StringComparer.Ordinal);
        for (int c = 0; c < TextColumns.Length; c++)
            if (!_positionColumns.Contains(c)) row[RequestNames[c]] = chunk.Text[c][r];
        foreach (var (name, (sequence, positions)) in _sequences)
            row[name] = string.Join(sequence.Separator, positions.Reverse().Select(c => chunk.Text[c][r]).Where(v => v.Length > 0));
        for (int c = 0; c < NumberColumns.Length; c++) row[NumberColumns[c]] = float.IsNaN(chunk.Numbers[c][r]) ? null : chunk.Numbers[c][r];
        return row;
    }

    internal static string Invariant(float v) => v.ToString("R", CultureInfo.InvariantCulture);
}
