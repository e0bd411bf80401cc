namespace Recommender.Pipeline.Data;

/// <summary>A source of rows in one format, bound to a schema. Each call to <see cref="ReadChunks"/> reads the source again.</summary>
public interface ITableReader
{
    /// <summary>The schema bound to this source's columns.</summary>
    ResolvedSchema Resolved { get; }

    /// <summary>Streams the rows in chunks, counting into <paramref name="report"/>.</summary>
    IEnumerable<TableChunk> ReadChunks(LoadReport report);
}
