namespace Recommender.Pipeline.Data;

/// <summary>
/// A behaviour-sequence column of the schema: one cell per row holding the user's earlier events as a delimited list
/// of ids, oldest first (<c>"i7|i3|i9"</c>; empty for none), over the vocabulary of <see cref="Field"/>, the id or
/// categorical column whose values they are (the item id, say) and whose embedding they share. The loaders keep the
/// <see cref="Length"/> most recent events as columns <c>column#0</c> (the most recent) to <c>column#(Length-1)</c>, empty
/// where the history is shorter; the network pools them against the row's own <see cref="Field"/> value.
/// </summary>
public sealed class SequenceColumn
{
    /// <summary>Longest sequence the loaders keep by default.</summary>
    public const int DefaultLength = 20;

    /// <summary>The column holding the list.</summary>
    public string Column { get; set; } = "";

    /// <summary>The column whose values the list holds (the item id column, a category column).</summary>
    public string Field { get; set; } = "";

    /// <summary>How many of the most recent events are kept.</summary>
    public int Length { get; set; } = DefaultLength;

    /// <summary>The list's separator inside the cell (one character, not the file's separator).</summary>
    public string Separator { get; set; } = "|";

    /// <summary>The output column of position <paramref name="i"/> (0 = the most recent event).</summary>
    public string Position(int i) => $"{Column}#{i}";

    /// <summary>The separator as a character.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public char SeparatorChar => Separator is { Length: 1 } s ? s[0] : throw new SchemaException($"sequence '{Column}': separator must be one character, got '{Separator}'");

    /// <summary>
    /// The ranges of the <paramref name="recent"/>.Length most recent items of <paramref name="cell"/> (a list, oldest first),
    /// most recent first, each trimmed; returns how many there are. Empty items (<c>"a||b"</c>) are skipped.
    /// </summary>
    public static int Recent(ReadOnlySpan<char> cell, char separator, Span<Range> recent)
    {
        int count = 0, end = cell.Length;
        while (end > 0 && count < recent.Length)
        {
            int start = cell[..end].LastIndexOf(separator) + 1;
            var item = cell[start..end];
            int lead = item.Length - item.TrimStart().Length, trail = item.Length - item.TrimEnd().Length;
            if (item.Length - lead - trail > 0) recent[count++] = new Range(start + lead, end - trail);
            end = start - 1;
        }
        return count;
    }
}
