namespace Recommender.Pipeline.Data;

/// <summary>Reads wide delimited text (CSV/TSV with a header, or headerless with named columns) under a schema.</summary>
public sealed class DelimitedTableReader : ITableReader
{
    private readonly string _path;
    private readonly DatasetSchema _schema;

    /// <summary>Binds the schema to the file's header.</summary>
    public DelimitedTableReader(string path, DatasetSchema schema)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found", path);
        _path = path;
        _schema = schema;
        Resolved = schema.Resolve(ReadHeader(), path);
    }

    /// <inheritdoc/>
    public ResolvedSchema Resolved { get; }

    private string[] ReadHeader()
    {
        if (!_schema.HasHeader)
        {
            return _schema.ColumnNames?.ToArray()
                ?? throw new SchemaException($"{_path}: the schema says the file has no header, so it must list columnNames");
        }
        using var reader = new DelimitedReader(_path, _schema.SeparatorChar, multilineFields: _schema.MultilineFields);
        if (!reader.Read()) throw new DataFormatException(_path, 1, 1, "the file is empty: expected a header row");
        if (reader.Malformed is { } malformed) throw malformed;
        var header = new string[reader.FieldCount];
        for (int i = 0; i < header.Length; i++) header[i] = reader[i].Trim().ToString();
        return header;
    }

    /// <inheritdoc/>
    public IEnumerable<TableChunk> ReadChunks(LoadReport report, int chunkRows, Action<IRecord, DataFormatException>? rejected)
    {
        using var reader = new DelimitedReader(_path, _schema.SeparatorChar, multilineFields: _schema.MultilineFields);
        if (_schema.HasHeader && !reader.Read()) yield break;
        var builder = new TableBuilder(Resolved, report, expectedFields: Resolved.Header.Length, chunkSize: chunkRows) { Rejected = rejected };
        while (reader.Read())
        {
            var chunk = builder.Add(reader);
            if (chunk is not null) yield return chunk;
        }
        var last = builder.Flush();
        if (last is not null) yield return last;
    }
}
