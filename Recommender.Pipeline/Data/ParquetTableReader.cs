using System.Globalization;
using Parquet;
using Parquet.Schema;
using Parquet.Serialization;

namespace Recommender.Pipeline.Data;

/// <summary>
/// Reads a Parquet file under a schema, one row group at a time (memory bounded by the largest row group). Flat columns
/// only, but for a list column declared as a behaviour sequence: its items, in order, become the sequence's cell text.
/// </summary>
/// <remarks>Errors are located as <c>file:row:column</c>: the 1-based row in the file and the 1-based column index.</remarks>
public sealed class ParquetTableReader : ITableReader
{
    private readonly string _path;

    /// <summary>Binds the schema to the file's columns.</summary>
    public ParquetTableReader(string path, DatasetSchema schema)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found", path);
        _path = path;
        using var stream = File.OpenRead(path);
        var reader = ParquetReader.CreateAsync(stream).GetAwaiter().GetResult();
        using var _ = new Disposer(reader);
        // One record field per top-level column: a flat column, or a list of flat items.
        Columns = reader.Schema.Fields.ToArray();
        Resolved = schema.Resolve(Columns.Select(f => f.Name).ToArray(), path);
        var sequences = (schema.Sequences ?? []).Select(q => q.Column).ToHashSet();
        foreach (var column in Columns)
        {
            if (column is DataField) continue;
            if (column is ListField { Item: DataField } && sequences.Contains(column.Name)) continue;
            throw new SchemaException(column is ListField
                ? $"{path}: column '{column.Name}' is a list; a list column is read only as a behaviour sequence (declare it under \"sequences\")"
                : $"{path}: column '{column.Name}' is a {column.SchemaType}; only flat columns and lists of flat items are supported");
        }
    }

    private Field[] Columns { get; }

    /// <inheritdoc/>
    public ResolvedSchema Resolved { get; }

    /// <inheritdoc/>
    public IEnumerable<TableChunk> ReadChunks(LoadReport report, int chunkRows, Action<IRecord, DataFormatException>? rejected)
    {
        using var stream = File.OpenRead(_path);
        var reader = ParquetReader.CreateAsync(stream).GetAwaiter().GetResult();
        using var _ = new Disposer(reader);
        var builder = new TableBuilder(Resolved, report, expectedFields: Columns.Length, chunkSize: chunkRows) { Rejected = rejected };
        var record = new ArrayRecord(Columns.Length) { File = _path };
        var used = Resolved.TextSources.Concat(Resolved.NumberSources).Distinct().ToArray();
        var separators = (Resolved.Schema.Sequences ?? []).ToDictionary(q => q.Column, q => q.Separator);
        long row = 0;
        for (int g = 0; g < reader.RowGroupCount; g++)
        {
            var columns = new string[Columns.Length][];
            int rows;
            using (var group = reader.OpenRowGroupReader(g))
            {
                rows = checked((int)group.RowCount);
                foreach (int f in used)
                    if (Columns[f] is DataField field) columns[f] = ReadColumn(group, field, rows);
            }
            if (used.Any(f => Columns[f] is ListField)) ReadLists(g, rows, used.Where(f => Columns[f] is ListField).ToArray(), columns, separators);
            for (int r = 0; r < rows; r++)
            {
                record.Line = ++row;
                foreach (int f in used) record.Set(f, columns[f][r]);
                var chunk = builder.Add(record);
                if (chunk is not null) yield return chunk;
            }
        }
        var last = builder.Flush();
        if (last is not null) yield return last;
    }

    // A row group's list columns, each row's items joined by its sequence's separator (an empty or missing list: "").
    // Through Parquet.Net's row deserializer: its column reader fails on a list of strings with repetition levels (6.1.0).
    private void ReadLists(int group, int rows, int[] lists, string[][] columns, Dictionary<string, string> separators)
    {
        using var stream = File.OpenRead(_path);
        var data = ParquetSerializer.DeserializeUntypedAsync(stream, null, group).GetAwaiter().GetResult().Data;
        if (data.Count != rows) throw new InvalidDataException($"{_path}: row group {group} has {rows} rows but {data.Count} were read");
        foreach (int f in lists)
        {
            string name = Columns[f].Name, separator = separators[name];
            var cells = columns[f] = new string[rows];
            for (int r = 0; r < rows; r++)
                cells[r] = data[r].TryGetValue(name, out var items) && items is System.Collections.IEnumerable list and not string
                    ? string.Join(separator, list.Cast<object?>().Select(Format).Where(v => v.Length > 0))
                    : "";
        }
    }

    private static string[] ReadColumn(ParquetRowGroupReader group, DataField field, int rows)
    {
        var type = field.ClrType;
        if (type == typeof(string) || type == typeof(ReadOnlyMemory<char>))
        {
            var values = new string?[rows];
            group.ReadAsync(field, values.AsMemory()).AsTask().GetAwaiter().GetResult();
            return Array.ConvertAll(values, v => v ?? "");
        }
        if (type == typeof(float)) return Read<float>(group, field, rows);
        if (type == typeof(double)) return Read<double>(group, field, rows);
        if (type == typeof(int)) return Read<int>(group, field, rows);
        if (type == typeof(long)) return Read<long>(group, field, rows);
        if (type == typeof(short)) return Read<short>(group, field, rows);
        if (type == typeof(bool)) return Read<bool>(group, field, rows);
        throw new SchemaException($"column '{field.Name}' has Parquet type {type.Name}; supported are string, float, double, int, long, short, bool");
    }

    private static string[] Read<T>(ParquetRowGroupReader group, DataField field, int rows) where T : struct
    {
        var result = new string[rows];
        if (field.IsNullable)
        {
            var values = new T?[rows];
            group.ReadAsync(field, values.AsMemory()).AsTask().GetAwaiter().GetResult();
            for (int i = 0; i < rows; i++) result[i] = Format(values[i]);
        }
        else
        {
            var values = new T[rows];
            group.ReadAsync(field, values.AsMemory()).AsTask().GetAwaiter().GetResult();
            for (int i = 0; i < rows; i++) result[i] = Format(values[i]);
        }
        return result;
    }

    private static string Format(object? value) => value switch
    {
        null => "",
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        bool b => b ? "1" : "0",
        IFormattable x => x.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    // ParquetReader is only IAsyncDisposable; iterators cannot await.
    private sealed class Disposer(IAsyncDisposable inner) : IDisposable
    {
        public void Dispose() => inner.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
