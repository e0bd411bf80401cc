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
/// out-of-vocabulary key) or missing numbers (imputed as in training).
/// </summary>
public sealed class ModelColumns
{
    private readonly Dictionary<string, (bool Text, int Index)> _byRequestName = new(StringComparer.Ordinal);

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
            _ => c,
        }).ToArray();
        for (int i = 0; i < TextColumns.Length; i++) _byRequestName[RequestNames[i]] = (true, i);
        for (int i = 0; i < NumberColumns.Length; i++) _byRequestName[NumberColumns[i]] = (false, i);
        Required = new[] { DatasetSchema.UserColumn, DatasetSchema.ItemColumn }.Select(c => Array.IndexOf(TextColumns, c)).Where(i => i >= 0).ToArray();
    }

    /// <summary>Text columns under their table names, in the scorer's order.</summary>
    public string[] TextColumns { get; }
    /// <summary>Dense columns, in the scorer's order.</summary>
    public string[] NumberColumns { get; }
    /// <summary>The request name of each text column.</summary>
    public string[] RequestNames { get; }
    /// <summary>Text columns every row must give (the user and item ids).</summary>
    public int[] Required { get; }

    /// <summary>Every name a request row may use.</summary>
    public IEnumerable<string> Names => RequestNames.Concat(NumberColumns);

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

    /// <summary>Row <paramref name="r"/> as request names and values (what the impression log keeps as features).</summary>
    public Dictionary<string, object?> Row(TableChunk chunk, int r)
    {
        var row = new Dictionary<string, object?>(StringComparer.Ordinal);
        for (int c = 0; c < TextColumns.Length; c++) row[RequestNames[c]] = chunk.Text[c][r];
        for (int c = 0; c < NumberColumns.Length; c++) row[NumberColumns[c]] = float.IsNaN(chunk.Numbers[c][r]) ? null : chunk.Numbers[c][r];
        return row;
    }

    internal static string Invariant(float v) => v.ToString("R", CultureInfo.InvariantCulture);
}
