namespace Recommender.Pipeline.Data;

/// <summary>A source of rows in one format, bound to a schema. Each call to <see cref="ReadChunks(LoadReport)"/> reads the source again.</summary>
public interface ITableReader
{
    /// <summary>The schema bound to this source's columns.</summary>
    ResolvedSchema Resolved { get; }

    /// <summary>Streams the rows in chunks, counting into <paramref name="report"/>.</summary>
    IEnumerable<TableChunk> ReadChunks(LoadReport report) => ReadChunks(report, 1 << 16, null);

    /// <summary>Streams chunks of <paramref name="chunkRows"/> kept rows; <paramref name="rejected"/> sees every skipped or dropped row.</summary>
    IEnumerable<TableChunk> ReadChunks(LoadReport report, int chunkRows, Action<IRecord, DataFormatException>? rejected);
}
