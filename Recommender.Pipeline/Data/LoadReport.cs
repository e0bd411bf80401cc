namespace Recommender.Pipeline.Data;

/// <summary>What a load did: rows read and kept, and every row not kept, counted by reason.</summary>
public sealed class LoadReport
{
    private readonly List<string> _examples = new();

    /// <summary>Data rows read (headers and blank lines excluded).</summary>
    public long RowsRead { get; internal set; }

    /// <summary>Rows in the output.</summary>
    public long RowsKept { get; internal set; }

    /// <summary>Malformed rows skipped under <see cref="DatasetSchema.SkipBadRows"/>.</summary>
    public long BadRowsSkipped { get; internal set; }

    /// <summary>Rows with conversion 1 and click 0, dropped under <see cref="InconsistentRowPolicy.Drop"/>.</summary>
    public long InconsistentDropped { get; internal set; }

    /// <summary>Up to ten located messages for skipped or dropped rows.</summary>
    public IReadOnlyList<string> Examples => _examples;

    internal void AddExample(string message)
    {
        if (_examples.Count < 10) _examples.Add(message);
    }

    /// <summary>Adds another report's counts (for several files loaded as one).</summary>
    public void Add(LoadReport other)
    {
        RowsRead += other.RowsRead;
        RowsKept += other.RowsKept;
        BadRowsSkipped += other.BadRowsSkipped;
        InconsistentDropped += other.InconsistentDropped;
        foreach (var e in other.Examples) AddExample(e);
    }

    /// <summary>One line for logs.</summary>
    public override string ToString() =>
        $"{RowsRead:N0} rows read, {RowsKept:N0} kept, {BadRowsSkipped:N0} malformed skipped, {InconsistentDropped:N0} inconsistent (a label 1 where the task it follows is 0) dropped";
}
