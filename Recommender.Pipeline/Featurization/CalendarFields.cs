using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Recommender.Pipeline.Data;

namespace Recommender.Pipeline.Featurization;

/// <summary>
/// A calendar field: a categorical column that holds one value per day (a weekday, a month, a holiday flag), found from
/// the event times. <paramref name="Days"/> counts, per value, the days it held.
/// </summary>
/// <param name="Column">The column.</param>
/// <param name="OffsetMinutes">Where its days start, in minutes after UTC midnight (a local time zone's midnight).</param>
/// <param name="Days">Per value, the number of days on which it was the day's value.</param>
public sealed record CalendarField(string Column, int OffsetMinutes, IReadOnlyDictionary<string, int> Days);

/// <summary>
/// Finds the calendar fields of training data. Every row of a day shares such a field's value, so whatever else moved
/// the day (a trend, a campaign, a day's own noise) moves all of that value's rows together: its effect is measured once
/// per day, not once per row, and a value seen on three days is three observations however many rows it has. The
/// featurizer counts these fields' values in days (<see cref="FeaturizerOptions.MinDays"/>).
/// </summary>
public static class CalendarFields
{
    /// <summary>Days are found to start on a quarter hour after UTC midnight, as every time zone's do.</summary>
    public const int BucketMinutes = 15;

    /// <summary>
    /// A day is one value's when that value holds at least this share of its rows: a daylight-saving hour, or the quarter
    /// hour a log's own midnight falls in, may hold the next day's.
    /// </summary>
    public const double DayShare = 0.95;

    /// <summary>
    /// A column is called a calendar field only where, had its values been drawn independently of the day, at least this
    /// many days would have been expected to show a second value: one row a day is no evidence.
    /// </summary>
    public const double Evidence = 3;

    /// <summary>Times from this on are read as Unix milliseconds (as seconds they would fall after the year 5000), as logs often write them.</summary>
    public const double MillisecondsFrom = 1e11;

    /// <summary>
    /// The columns of <paramref name="schema"/> that may be calendar fields: the categorical ones with a vocabulary of their
    /// own, but not the user or item id (ids name things, not days, however few a sparse log shows a day) nor a sequence's
    /// target (its positions read its vocabulary).
    /// </summary>
    public static string[] Candidates(ResolvedSchema schema) => schema.CategoricalFeatures
        .Where(c => schema.VocabularyOf(c) == c && c is not (DatasetSchema.UserColumn or DatasetSchema.ItemColumn))
        .Where(c => !schema.BehaviourSequences.Any(q => q.Target == c))
        .ToArray();

    /// <summary>
    /// The calendar fields among <paramref name="columns"/> (text columns of <paramref name="data"/>), from the event times in
    /// <paramref name="timeColumn"/> (Unix seconds, or milliseconds, as text; empty times are skipped).
    /// <paramref name="timeName"/> names the column in errors.
    /// </summary>
    public static IReadOnlyList<CalendarField> Find(IDataView data, string timeColumn, string timeName, IReadOnlyList<string> columns)
    {
        // Per column, each quarter hour's values and their rows. A quarter hour holds at most two (the one a day ends on may
        // straddle midnight); a column with more is no calendar field, and its quarter hours are dropped (null).
        var buckets = columns.Select(_ => (Dictionary<long, Dictionary<string, long>>?)new()).ToArray();
        int following = columns.Count;
        var schemaColumns = columns.Append(timeColumn).Select(c => data.Schema[c]).ToArray();
        using (var cursor = data.GetRowCursor(schemaColumns))
        {
            var getters = columns.Select(c => cursor.GetGetter<ReadOnlyMemory<char>>(data.Schema[c])).ToArray();
            var time = cursor.GetGetter<ReadOnlyMemory<char>>(data.Schema[timeColumn]);
            ReadOnlyMemory<char> text = default, value = default;
            while (following > 0 && cursor.MoveNext())
            {
                time(ref text);
                if (text.IsEmpty) continue;
                if (!double.TryParse(text.Span, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) || !double.IsFinite(seconds))
                    throw new SchemaException($"time column '{timeName}': '{text}' is not a time in Unix seconds");
                if (Math.Abs(seconds) >= MillisecondsFrom) seconds /= 1000;
                long bucket = (long)Math.Floor(seconds / (BucketMinutes * 60));
                for (int c = 0; c < getters.Length; c++)
                {
                    if (buckets[c] is not { } quarters) continue;
                    getters[c](ref value);
                    if (value.IsEmpty) continue;
                    if (!quarters.TryGetValue(bucket, out var counts)) quarters[bucket] = counts = new(StringComparer.Ordinal);
                    var lookup = counts.GetAlternateLookup<ReadOnlySpan<char>>();
                    if (lookup.TryGetValue(value.Span, out long rows)) lookup[value.Span] = rows + 1;
                    else if (counts.Count < 2) lookup[value.Span] = 1;
                    else { buckets[c] = null; following--; }
                }
            }
        }
        var found = new List<CalendarField>();
        for (int c = 0; c < columns.Count; c++)
            if (buckets[c] is { } quarters && Days(columns[c], quarters) is { } field) found.Add(field);
        return found;
    }

    // The best start of day for one column's quarter hours, if at it every day has a value of its own.
    private static CalendarField? Days(string column, Dictionary<long, Dictionary<string, long>> buckets)
    {
        const int perDay = 24 * 60 / BucketMinutes;
        // The most frequent value's share of the rows: drawn independently of the day, a day of n rows would show it
        // alone (or any one value alone) with probability at most top^(n-1).
        var totals = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (value, rows) in buckets.Values.SelectMany(b => b)) totals[value] = totals.GetValueOrDefault(value) + rows;
        if (totals.Count == 0) return null;
        double top = (double)totals.Values.Max() / totals.Values.Sum();
        CalendarField? best = null;
        long bestRows = -1;
        for (int offset = 0; offset < perDay; offset++)
        {
            var days = new Dictionary<long, Dictionary<string, long>>();
            foreach (var (bucket, values) in buckets)
            {
                long day = Math.DivRem(bucket - offset, perDay, out long r) - (r < 0 ? 1 : 0);
                if (!days.TryGetValue(day, out var counts)) days[day] = counts = new(StringComparer.Ordinal);
                foreach (var (value, rows) in values) counts[value] = counts.GetValueOrDefault(value) + rows;
            }
            var sized = days.Values.Select(d => (Rows: d.Values.Sum(), Top: d.MaxBy(kv => kv.Value))).ToList();
            // A day with under half the median day's rows is a part of one (the log's first or last, an outage): it holds
            // its value for hours, not a day, so it neither counts nor tests.
            long median = sized.Select(d => d.Rows).Order().ElementAt(sized.Count / 2);
            var whole = sized.Where(d => 2 * d.Rows >= median).ToList();
            if (whole.Any(d => d.Top.Value < DayShare * d.Rows)) continue;
            long held = whole.Sum(d => d.Top.Value);
            if (held <= bestRows || whole.Sum(d => 1 - Math.Pow(top, d.Rows - 1)) < Evidence) continue;
            best = new CalendarField(column, offset * BucketMinutes, whole.GroupBy(d => d.Top.Key).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal));
            bestRows = held;
        }
        return best;
    }
}
