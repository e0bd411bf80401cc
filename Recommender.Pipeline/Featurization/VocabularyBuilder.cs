using Microsoft.ML;
using Microsoft.ML.Data;

namespace Recommender.Pipeline.Featurization;

/// <summary>Counts the values of text columns in one pass and keeps, per column, the frequent ones.</summary>
public static class VocabularyBuilder
{
    /// <summary>
    /// Per column: values seen at least <paramref name="minCount"/> times, most frequent first (ties in
    /// ordinal order, so the result is deterministic), at most <paramref name="maxVocabulary"/> of them.
    /// Empty values are never in a vocabulary: they are missing and map to the out-of-vocabulary key.
    /// </summary>
    public static Dictionary<string, List<string>> Build(IDataView data, IReadOnlyList<string> columns, int minCount, int maxVocabulary)
    {
        var counts = columns.Select(_ => new Dictionary<string, int>(StringComparer.Ordinal)).ToArray();
        var lookups = counts.Select(c => c.GetAlternateLookup<ReadOnlySpan<char>>()).ToArray();
        var schemaColumns = columns.Select(c => data.Schema[c]).ToArray();
        using (var cursor = data.GetRowCursor(schemaColumns))
        {
            var getters = schemaColumns.Select(c => cursor.GetGetter<ReadOnlyMemory<char>>(c)).ToArray();
            ReadOnlyMemory<char> value = default;
            while (cursor.MoveNext())
            {
                for (int c = 0; c < getters.Length; c++)
                {
                    getters[c](ref value);
                    var span = value.Span;
                    if (span.IsEmpty) continue;
                    var lookup = lookups[c];
                    if (lookup.TryGetValue(span, out int n)) lookup[span] = n + 1;
                    else lookup[span] = 1;
                }
            }
        }
        var result = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        for (int c = 0; c < columns.Count; c++)
        {
            result[columns[c]] = counts[c].Where(kv => kv.Value >= minCount)
                .OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal)
                .Take(maxVocabulary).Select(kv => kv.Key).ToList();
        }
        return result;
    }
}
