using System.Globalization;
using Parquet;
using Parquet.Schema;

namespace Recommender.Pipeline.Data;

/// <summary>Reads a Parquet file under a schema, one row group at a time (memory bounded by the largest row group).</summary>
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
        Fields = reader.Schema.GetDataFields();
        Resolved = schema.Resolve(Fields.Select(f => f.Name).ToArray(), path);
    }

    private DataField[] Fields { get; }

    /// <inheritdoc/>
    public ResolvedSchema Resolved { get; }

    /// <inheritdoc/>
    public IEnumerable<TableChunk> ReadChunks(LoadReport report, int chunkRows, Action<IRecord, DataFormatException>? rejected)
    {
        using var stream = File.OpenRead(_path);
        var reader = ParquetReader.CreateAsync(stream).GetAwaiter().GetResult();
        using var _ = new Disposer(reader);
        var builder = new TableBuilder(Resolved, report, expectedFields: Fields.Length, chunkSize: chunkRows) { Rejected = rejected };
        var record = new ArrayRecord(Fields.Length) { File = _path };
        var used = Resolved.TextSources.Concat(Resolved.NumberSources).Distinct().ToArray();
        long row = 0;
        for (int g = 0; g < reader.RowGroupCount; g++)
        {
            var columns = new string[Fields.Length][];
            int rows;
            using (var group = reader.OpenRowGroupReader(g))
            {
                rows = checked((int)group.RowCount);
                foreach (int f in used) columns[f] = ReadColumn(group, Fields[f], rows);
            }
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

    private static string[] ReadColumn(ParquetRowGroupReader group, DataField field, int rows)
    {
        if (field.IsArray) throw new SchemaException($"column '{field.Name}' is a list; only flat columns are supported");
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
