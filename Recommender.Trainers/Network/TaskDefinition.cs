using System.Text.Json.Serialization;

namespace Recommender.Trainers.Network;

/// <summary>What a task predicts.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<TaskKind>))]
public enum TaskKind
{
    /// <summary>A 0/1 label: a sigmoid head and binary cross-entropy.</summary>
    Binary,
    /// <summary>A number in [Min, Max]: a sigmoid squashed into the range and squared error.</summary>
    Regression,
}

/// <summary>
/// One task the network learns: its label column, its kind and, with <see cref="Given"/>, the binary task its label
/// depends on: the label is only defined where the given task's label is 1 (a purchase after a cart, a rating after
/// a purchase). A task without <see cref="Given"/> is independent and defined on every row. A missing label (NaN) is
/// left out of the task's loss and metrics.
/// </summary>
public sealed record TaskDefinition
{
    /// <summary>The task's name: its tower, gate, loss term and metrics are named after it.</summary>
    public string Name { get; init; } = "";
    /// <summary>The label column (0/1 for a binary task; NaN = no label).</summary>
    public string Label { get; init; } = "";
    /// <summary>Binary or regression.</summary>
    public TaskKind Kind { get; init; } = TaskKind.Binary;
    /// <summary>The binary task this one follows, or null for an independent task.</summary>
    public string? Given { get; init; }
    /// <summary>Weight of the task's loss; 0 switches its training off (its head still predicts).</summary>
    public float Weight { get; init; } = 1;
    /// <summary>Regression: the smallest value (the head maps into [Min, Max]).</summary>
    public float Min { get; init; }
    /// <summary>Regression: the largest value.</summary>
    public float Max { get; init; } = 1;
    /// <summary>The prediction column; default <c>P_name</c> (binary: entire space, the product along the chain) or <c>Pred_name</c>.</summary>
    public string? Prediction { get; init; }
    /// <summary>A chained binary task's prediction given its <see cref="Given"/> task; default <c>P_name_given_given</c>.</summary>
    public string? ConditionalPrediction { get; init; }

    /// <summary>The prediction column's name.</summary>
    [JsonIgnore]
    public string PredictionName => Prediction ?? (Kind == TaskKind.Binary ? $"P_{Name}" : $"Pred_{Name}");

    /// <summary>The conditional prediction's name, for a chained binary task; null otherwise.</summary>
    [JsonIgnore]
    public string? ConditionalPredictionName => Given is null || Kind != TaskKind.Binary ? null : ConditionalPrediction ?? $"P_{Name}_given_{Given}";

    /// <summary>
    /// Parses the command line's <c>name:label:kind[:given]</c> (kind <c>binary</c>, or <c>regression</c> with an
    /// optional range: <c>regression[1..5]</c>).
    /// </summary>
    public static TaskDefinition Parse(string text)
    {
        var parts = text.Split(':');
        if (parts.Length is < 3 or > 4 || parts.Any(p => p.Trim().Length == 0))
            throw new ArgumentException($"task '{text}': expected name:label:kind[:given], kind binary or regression[min..max]");
        var kind = parts[2].Trim();
        var task = new TaskDefinition { Name = parts[0].Trim(), Label = parts[1].Trim(), Given = parts.Length == 4 ? parts[3].Trim() : null };
        if (kind.Equals("binary", StringComparison.OrdinalIgnoreCase)) return task;
        if (!kind.StartsWith("regression", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"task '{text}': kind '{kind}' is not binary or regression");
        var range = kind["regression".Length..];
        if (range.Length == 0) return task with { Kind = TaskKind.Regression };
        var bounds = range.TrimStart('[').TrimEnd(']').Split("..");
        if (!range.StartsWith('[') || !range.EndsWith(']') || bounds.Length != 2
            || !float.TryParse(bounds[0], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out float min)
            || !float.TryParse(bounds[1], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out float max))
            throw new ArgumentException($"task '{text}': a regression range is written regression[min..max], e.g. regression[1..5]");
        return task with { Kind = TaskKind.Regression, Min = min, Max = max };
    }
}
