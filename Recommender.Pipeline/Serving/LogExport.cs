using System.Globalization;
using System.Text;
using System.Text.Json;
using Recommender.Pipeline.Data;

namespace Recommender.Pipeline.Serving;

/// <summary>What an export wrote.</summary>
public sealed record LogExportSummary(long Impressions, long Clicks, long Conversions, long Ratings, string Directory);

/// <summary>
/// Turns the impression log into training data: one row per impression served in a time range, with the feature
/// values it was scored with and its labels from the feedback that arrived within the attribution window. A
/// conversion counts as a click too (it can only follow one). Writes <c>train.csv</c> and the model's
/// <c>schema.json</c> into a folder, so <c>train --data DIR</c> reads it; the log's own columns (impression id,
/// time, position, propensity, policy, model version) ride along for off-policy evaluation.
/// </summary>
public static class LogExport
{
    /// <summary>The log's columns written after the features and labels.</summary>
    public static readonly string[] LogColumns = ["impression_id", "request_id", "ts", "shown_position", "propensity", "policy", "model_version"];

    /// <summary>
    /// Exports impressions with <paramref name="since"/> &lt;= time &lt; <paramref name="until"/>. With
    /// <paramref name="positionColumn"/>, that feature is written as the position the item was shown at: the service
    /// scores every candidate at a reference position, and the next model must learn the position's effect from
    /// where items really were.
    /// </summary>
    public static LogExportSummary Run(string logPath, DatasetSchema schema, DateTimeOffset since, DateTimeOffset until, TimeSpan window, string directory,
        string? positionColumn = null)
    {
        if (!File.Exists(logPath)) throw new FileNotFoundException($"{logPath}: no such impression log", logPath);
        if (window <= TimeSpan.Zero) throw new ArgumentException("the attribution window must be positive");
        using var connection = ImpressionLog.Open(logPath);
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT i.id, i.ts, i.position, i.propensity, i.policy, i.model_version, i.features, i.request_id,
              EXISTS(SELECT 1 FROM feedback f WHERE f.impression_id = i.id AND f.event = 'click' AND f.ts <= i.ts + $window),
              EXISTS(SELECT 1 FROM feedback f WHERE f.impression_id = i.id AND f.event = 'conversion' AND f.ts <= i.ts + $window),
              (SELECT f.value FROM feedback f WHERE f.impression_id = i.id AND f.event = 'rating' AND f.ts <= i.ts + $window)
            FROM impressions i WHERE i.ts >= $since AND i.ts < $until ORDER BY i.ts, i.id
            """;
        command.Parameters.AddWithValue("$since", since.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$until", until.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$window", (long)window.TotalMilliseconds);
        string click = schema.Click ?? "click", conversion = schema.Conversion ?? "conversion", rating = schema.Rating ?? "rating";
        var labelled = schema.WithoutLabels();
        labelled.Click = click;
        labelled.Conversion = conversion;
        labelled.Rating = rating;
        if (labelled.RatingMin >= labelled.RatingMax) (labelled.RatingMin, labelled.RatingMax) = (1, 5);
        long rows = 0, clicks = 0, conversions = 0, ratings = 0;
        string[]? features = null;
        var inv = CultureInfo.InvariantCulture;
        Directory.CreateDirectory(directory);
        AtomicFile.WriteText(Path.Combine(directory, "train.csv"), w =>
        {
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var values = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(reader.GetString(6))!;
                if (features is null)
                {
                    features = values.Keys.ToArray();
                    if (positionColumn is not null && !features.Contains(positionColumn))
                        throw new ArgumentException($"--position-column '{positionColumn}' is not a column of the logged features ({string.Join(", ", features)})");
                    w.Write(string.Join(',', features.Concat([click, conversion, rating]).Concat(LogColumns).Select(Csv)) + "\n");
                }
                var line = new StringBuilder();
                foreach (var name in features)
                {
                    if (name == positionColumn)
                    {
                        line.Append(reader.GetInt64(2).ToString(inv)).Append(',');
                        continue;
                    }
                    var v = values.GetValueOrDefault(name);
                    line.Append(v.ValueKind switch
                    {
                        JsonValueKind.String => Csv(v.GetString()!),
                        JsonValueKind.Number => v.GetRawText(),
                        _ => "",
                    }).Append(',');
                }
                bool converted = reader.GetInt64(9) == 1, clicked = converted || reader.GetInt64(8) == 1;
                clicks += clicked ? 1 : 0;
                conversions += converted ? 1 : 0;
                string ratingValue = reader.IsDBNull(10) ? "" : reader.GetDouble(10).ToString("R", inv);
                ratings += ratingValue.Length > 0 ? 1 : 0;
                line.Append(clicked ? "1," : "0,").Append(converted ? "1," : "0,").Append(ratingValue).Append(',');
                line.Append(Csv(reader.GetString(0))).Append(',').Append(Csv(reader.GetString(7))).Append(',').Append(reader.GetInt64(1).ToString(inv)).Append(',').Append(reader.GetInt64(2).ToString(inv)).Append(',')
                    .Append(reader.GetDouble(3).ToString("R", inv)).Append(',').Append(Csv(reader.GetString(4))).Append(',').Append(Csv(reader.GetString(5))).Append('\n');
                w.Write(line.ToString());
                rows++;
            }
            if (features is null) throw new InvalidDataException($"{logPath}: no impressions between {since:O} and {until:O}");
        });
        AtomicFile.WriteAllText(Path.Combine(directory, "schema.json"), JsonSerializer.Serialize(labelled, DatasetSchema.JsonOptions));
        return new LogExportSummary(rows, clicks, conversions, ratings, directory);
    }

    private static string Csv(string value) => value.AsSpan().IndexOfAny(",\"\n\r") < 0 ? value : "\"" + value.Replace("\"", "\"\"") + "\"";
}
