using System.Text.Json.Serialization;

namespace Recommender.Trainers.Evaluation;

/// <summary>A metric value, or NaN with the reason it is undefined (one class only, no rows, ...).</summary>
public readonly record struct Metric(double Value, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Reason = null)
{
    /// <summary>An undefined metric.</summary>
    public static Metric Undefined(string reason) => new(double.NaN, reason);

    /// <summary>Whether the value is defined.</summary>
    [JsonIgnore]
    public bool IsDefined => !double.IsNaN(Value);

    /// <summary>The value with 4 decimals, or "n/a (reason)".</summary>
    public override string ToString() => IsDefined ? Value.ToString("F4", System.Globalization.CultureInfo.InvariantCulture) : $"n/a ({Reason})";
}
