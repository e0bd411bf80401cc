using Microsoft.ML;

namespace Recommender.Pipeline.Data;

/// <summary>A dataset loaded into memory under a <see cref="ResolvedSchema"/>, with the report of the load.</summary>
public sealed class Table
{
    /// <summary>Creates a table from its chunks.</summary>
    public Table(ResolvedSchema schema, IReadOnlyList<TableChunk> chunks, LoadReport report)
    {
        Schema = schema;
        Chunks = chunks;
        Report = report;
        RowCount = chunks.Sum(c => (long)c.Count);
    }

    /// <summary>The bound schema.</summary>
    public ResolvedSchema Schema { get; }

    /// <summary>The rows, in chunks.</summary>
    public IReadOnlyList<TableChunk> Chunks { get; }

    /// <summary>What the load did.</summary>
    public LoadReport Report { get; }

    /// <summary>Number of rows.</summary>
    public long RowCount { get; }

    /// <summary>The rows as an ML.NET <see cref="IDataView"/>.</summary>
    public IDataView ToDataView() =>
        new TableDataView(Schema.TextColumns, Schema.NumberColumns, () => Chunks, RowCount);

    /// <summary>All values of a float column, in row order.</summary>
    public float[] GetNumbers(string column)
    {
        int c = Array.IndexOf(Schema.NumberColumns, column);
        if (c < 0) throw new ArgumentException($"no float column '{column}'", nameof(column));
        var result = new float[RowCount];
        long offset = 0;
        foreach (var chunk in Chunks)
        {
            Array.Copy(chunk.Numbers[c], 0, result, offset, chunk.Count);
            offset += chunk.Count;
        }
        return result;
    }

    /// <summary>All values of a text column, in row order.</summary>
    public string[] GetText(string column)
    {
        int c = Array.IndexOf(Schema.TextColumns, column);
        if (c < 0) throw new ArgumentException($"no text column '{column}'", nameof(column));
        var result = new string[RowCount];
        long offset = 0;
        foreach (var chunk in Chunks)
        {
            Array.Copy(chunk.Text[c], 0, result, offset, chunk.Count);
            offset += chunk.Count;
        }
        return result;
    }
}
