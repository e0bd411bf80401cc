using Recommender.Trainers.Evaluation;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Recommender.Pipeline.Evaluation;

namespace Recommender.Pipeline.Cli;

/// <summary>Prints <see cref="MultiTaskMetrics"/> as a table or as JSON (undefined metrics: null plus the reason).</summary>
internal static class MetricsReport
{
    public static string Table(MultiTaskMetrics metrics)
    {
        var table = new TextTable("metric", "value");
        foreach (var (name, value) in metrics.Items()) table.Add(name, value.ToString());
        return table.ToString();
    }

    public static JsonObject Json(MultiTaskMetrics metrics)
    {
        var values = new JsonObject();
        var reasons = new JsonObject();
        foreach (var (name, value) in metrics.Items())
        {
            values[name] = value.IsDefined ? JsonValue.Create(Math.Round(value.Value, 6)) : null;
            if (!value.IsDefined) reasons[name] = value.Reason;
        }
        var result = new JsonObject { ["rows"] = metrics.Rows, ["metrics"] = values };
        if (reasons.Count > 0) result["undefined"] = reasons;
        return result;
    }

    public static string Format(JsonNode node) => node.ToJsonString(new JsonSerializerOptions { WriteIndented = true });

    public static string F(double v) => v.ToString("F4", CultureInfo.InvariantCulture);

    /// <summary>A paired difference and its standard error, signed: <c>+0.0031 ± 0.0010</c>.</summary>
    public static string Difference(double difference, double standardError) => $"{difference.ToString("+0.0000;-0.0000", CultureInfo.InvariantCulture)} ± {F(standardError)}";
}
