namespace Recommender.Pipeline.Data;

/// <summary>A block of rows in columnar form: text columns (ids, categoricals) and float columns (dense, labels).</summary>
public sealed class TableChunk
{
    /// <summary>Allocates a chunk with room for <paramref name="capacity"/> rows.</summary>
    public TableChunk(int textColumns, int numberColumns, int capacity)
    {
        Text = new string[textColumns][];
        for (int c = 0; c < textColumns; c++) Text[c] = new string[capacity];
        Numbers = new float[numberColumns][];
        for (int c = 0; c < numberColumns; c++) Numbers[c] = new float[capacity];
    }

    /// <summary>Number of rows filled.</summary>
    public int Count { get; internal set; }

    /// <summary>Row capacity.</summary>
    public int Capacity => Text.Length > 0 ? Text[0].Length : Numbers.Length > 0 ? Numbers[0].Length : 0;

    /// <summary>Text columns, column-major.</summary>
    public string[][] Text { get; }

    /// <summary>Float columns, column-major.</summary>
    public float[][] Numbers { get; }
}
