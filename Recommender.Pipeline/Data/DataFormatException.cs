namespace Recommender.Pipeline.Data;

/// <summary>
/// Malformed input, located as <c>file:line:column</c> (1-based; the column is the character
/// position where the offending field starts) so an editor can jump straight to it.
/// </summary>
public sealed class DataFormatException : Exception
{
    /// <summary>Creates the error for a position in a text file.</summary>
    public DataFormatException(string file, long line, int column, string message)
        : base($"{file}:{line}:{column}: {message}")
    {
        File = file;
        Line = line;
        Column = column;
        Reason = message;
    }

    /// <summary>The file that holds the bad value.</summary>
    public string File { get; }

    /// <summary>1-based line number (for Parquet: 1-based row number).</summary>
    public long Line { get; }

    /// <summary>1-based character column where the field starts (for Parquet: 1-based column index).</summary>
    public int Column { get; }

    /// <summary>The reason without the location prefix.</summary>
    public string Reason { get; }
}

/// <summary>A schema that does not fit the data or the rules of its roles.</summary>
public sealed class SchemaException(string message) : Exception(message);
