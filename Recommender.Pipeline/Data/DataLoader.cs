using Microsoft.ML;

namespace Recommender.Pipeline.Data;

/// <summary>Loads any supported format under a <see cref="DatasetSchema"/>, into memory or as a streaming <see cref="IDataView"/>.</summary>
public static class DataLoader
{
    /// <summary>The reader for <paramref name="path"/> in the schema's format.</summary>
    public static ITableReader Open(DatasetSchema schema, string path, string? commonFeaturesPath = null) => schema.Format switch
    {
        DataFormat.Csv or DataFormat.Tsv => new DelimitedTableReader(path, schema),
        DataFormat.MovieLens => new DelimitedTableReader(path, MovieLensReader.Preset(path, schema)),
        DataFormat.AliCcpRaw => new AliCcpRawReader(path, commonFeaturesPath ?? AliCcpRawReader.CommonFeaturesPathFor(path), schema),
        DataFormat.Parquet => new ParquetTableReader(path, schema),
        _ => throw new SchemaException($"unknown format {schema.Format}"),
    };

    /// <summary>Reads the whole file into memory.</summary>
    public static Table Load(DatasetSchema schema, string path, string? commonFeaturesPath = null, Action<long>? progress = null)
    {
        var reader = Open(schema, path, commonFeaturesPath);
        var report = new LoadReport();
        var chunks = new List<TableChunk>();
        foreach (var chunk in reader.ReadChunks(report))
        {
            chunks.Add(chunk);
            progress?.Invoke(report.RowsRead);
        }
        return new Table(reader.Resolved, chunks, report);
    }

    /// <summary>
    /// A view that reads the file again on every cursor, in bounded memory. The row count is unknown
    /// until a pass ends; <paramref name="report"/> holds the counts of the latest pass.
    /// </summary>
    public static IDataView Stream(DatasetSchema schema, string path, out LoadReport report, string? commonFeaturesPath = null)
    {
        var reader = Open(schema, path, commonFeaturesPath);
        var shared = new LoadReport();
        report = shared;
        return new TableDataView(reader.Resolved.TextColumns, reader.Resolved.NumberColumns, () => Pass(reader, shared), rowCount: null);
    }

    private static IEnumerable<TableChunk> Pass(ITableReader reader, LoadReport shared)
    {
        var report = new LoadReport();
        foreach (var chunk in reader.ReadChunks(report)) yield return chunk;
        shared.RowsRead = report.RowsRead;
        shared.RowsKept = report.RowsKept;
        shared.BadRowsSkipped = report.BadRowsSkipped;
        shared.InconsistentDropped = report.InconsistentDropped;
    }
}
