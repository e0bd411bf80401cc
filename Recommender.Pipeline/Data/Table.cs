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
    public float[] GetNumbers(string column) => Column(Schema.NumberColumns, column, chunk => chunk.Numbers);

    /// <summary>All values of a text column, in row order.</summary>
    public string[] GetText(string column) => Column(Schema.TextColumns, column, chunk => chunk.Text);

    private T[] Column<T>(string[] names, string column, Func<TableChunk, T[][]> columns)
    {
        int c = Array.IndexOf(names, column);
        if (c < 0) throw new ArgumentException($"no {typeof(T).Name} column '{column}'", nameof(column));
        var result = new T[RowCount];
        long offset = 0;
        foreach (var chunk in Chunks)
        {
            Array.Copy(columns(chunk)[c], 0, result, offset, chunk.Count);
            offset += chunk.Count;
        }
        return result;
    }
}
