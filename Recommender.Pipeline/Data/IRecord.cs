namespace Recommender.Pipeline.Data;

/// <summary>One parsed input record: its fields, and a way to locate an error in it.</summary>
public interface IRecord
{
    /// <summary>Number of fields.</summary>
    int FieldCount { get; }

    /// <summary>The text of field <paramref name="index"/>.</summary>
    ReadOnlySpan<char> this[int index] { get; }

    /// <summary>Why the record could not be split into fields (a quoting error, bytes that are not UTF-8), or null.</summary>
    DataFormatException? Malformed => null;

    /// <summary>An error located at field <paramref name="index"/>.</summary>
    DataFormatException Error(int index, string message);
}
