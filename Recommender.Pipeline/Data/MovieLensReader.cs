namespace Recommender.Pipeline.Data;

/// <summary>
/// MovieLens ratings: <c>ratings.csv</c> (latest releases: <c>userId,movieId,rating,timestamp</c> with a
/// header, ratings 0.5-5) or <c>u.data</c> (100k release: tab-separated, no header, ratings 1-5).
/// Roles the schema leaves unset get these defaults; the timestamp is kept as a dense column, unless it is the schema's
/// event time (<c>time</c>).
/// </summary>
public static class MovieLensReader
{
    /// <summary>Fills the MovieLens defaults into <paramref name="schema"/> for the file at <paramref name="path"/>.</summary>
    public static DatasetSchema Preset(string path, DatasetSchema? schema = null)
    {
        var s = schema ?? new DatasetSchema();
        bool uData = IsUData(path);
        var result = new DatasetSchema
        {
            Name = s.Name ?? (uData ? "movielens-100k" : "movielens"),
            Format = uData ? DataFormat.Tsv : DataFormat.Csv,
            HasHeader = !uData,
            ColumnNames = uData ? ["user_id", "item_id", "rating", "timestamp"] : s.ColumnNames,
            Separator = s.Separator,
            User = s.User ?? (uData ? "user_id" : "userId"),
            Item = s.Item ?? (uData ? "item_id" : "movieId"),
            Rating = s.Rating ?? "rating",
            Group = s.Group,
            Time = s.Time,
            Categorical = s.Categorical,
            Dense = s.Dense.Count > 0 ? s.Dense : s.Time == "timestamp" ? [] : ["timestamp"],
            Click = s.Click,
            Conversion = s.Conversion,
            RatingMin = schema is null || s.Rating is null ? (uData ? 1f : 0.5f) : s.RatingMin,
            RatingMax = schema is null || s.Rating is null ? 5f : s.RatingMax,
            SkipBadRows = s.SkipBadRows,
            OnInconsistent = s.OnInconsistent,
        };
        return result;
    }

    private static bool IsUData(string path)
    {
        string name = Path.GetFileName(path);
        if (name.Equals("u.data", StringComparison.OrdinalIgnoreCase)) return true;
        using var reader = new StreamReader(path);
        string? first = reader.ReadLine();
        return first is not null && first.Contains('\t') && !first.Contains("userId", StringComparison.OrdinalIgnoreCase);
    }
}
