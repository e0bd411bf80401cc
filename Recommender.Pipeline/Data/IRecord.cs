namespace Recommender.Pipeline.Data;

/// <summary>One parsed input record: its fields, and a way to locate an error in it.</summary>
public interface IRecord
{
    /// <summary>Number of fields.</summary>
    int FieldCount { get; }

    /// <summary>The text of field <paramref name="index"/>.</summary>
    ReadOnlySpan<char> this[int index] { get; }

    /// <summary>An error located at field <paramref name="index"/>.</summary>
    DataFormatException Error(int index, string message);
}
