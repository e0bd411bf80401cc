namespace Recommender.Pipeline.Data;

/// <summary>A record assembled from values held in memory (joined or columnar sources), located at one position.</summary>
internal sealed class ArrayRecord : IRecord
{
    private readonly string[] _fields;

    public ArrayRecord(int fieldCount) => _fields = new string[fieldCount];

    public string File { get; set; } = "";
    public long Line { get; set; }

    /// <summary>Source column of each field (1-based); defaults to the field's ordinal.</summary>
    public int[]? Columns { get; set; }


    public int FieldCount => _fields.Length;

    public ReadOnlySpan<char> this[int index] => _fields[index];

    public void Set(int index, string value) => _fields[index] = value;

    public DataFormatException Error(int index, string message) =>
        new(File, Line, Columns is null ? index + 1 : Columns[index], message);
}
