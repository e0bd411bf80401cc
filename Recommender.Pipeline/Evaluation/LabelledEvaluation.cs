using System.Globalization;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Lifecycle;
using Recommender.Pipeline.Scoring;
using Recommender.Trainers.Evaluation;
using Recommender.Trainers.Network;
using Recommender.Trainers.Runtime;

namespace Recommender.Pipeline.Evaluation;

/// <summary>
/// Predictions of a labelled table, from a predictions file or a bundle, evaluated per task (see
/// <see cref="MultiTaskMetrics"/>), with precision, recall and F1 at a threshold for each independent binary task.
/// </summary>
public static class LabelledEvaluation
{
    /// <summary>Every task's metrics, then <c>task.precision</c>, <c>task.recall</c> and <c>task.f1</c> at <paramref name="threshold"/>.</summary>
    public static (MultiTaskMetrics Metrics, List<(string Name, Metric Value)> AtThreshold) Run(Table labels, IReadOnlyList<TaskDefinition> tasks,
        IReadOnlyDictionary<string, float[]> predictions, float threshold)
    {
        var s = labels.Schema;
        var labelValues = tasks.Where(t => Array.IndexOf(s.NumberColumns, t.Label) >= 0).ToDictionary(t => t.Name, t => labels.GetNumbers(t.Label));
        if (labelValues.Count == 0) throw new SchemaException($"the labels file has none of the tasks' label columns ({string.Join(", ", tasks.Select(t => t.Label))})");
        var metrics = MultiTaskMetrics.Compute(tasks, predictions, labelValues, s.GroupOutput is null ? null : labels.GetText(s.GroupOutput));
        var atThreshold = new List<(string, Metric)>();
        foreach (var t in tasks.Where(t => t.Kind == TaskKind.Binary && t.Given is null))
        {
            if (!predictions.TryGetValue(t.PredictionName, out var p) || !labelValues.TryGetValue(t.Name, out var y)) continue;
            var rows = Enumerable.Range(0, y.Length).Where(i => !float.IsNaN(y[i])).ToArray();
            var (precision, recall, f1) = BinaryMetrics.AtThreshold(rows.Select(i => p[i]).ToArray(), rows.Select(i => y[i]).ToArray(), threshold);
            atThreshold.AddRange([($"{t.Name}.precision", precision), ($"{t.Name}.recall", recall), ($"{t.Name}.f1", f1)]);
        }
        return (metrics, atThreshold);
    }

    /// <summary>Scores every row of <paramref name="table"/> with the bundle's featurization and network (the scoring job's path).</summary>
    public static Dictionary<string, float[]> Score(ModelBundle bundle, Table table, ExecutionDevice device)
    {
        using var scorer = BundleScorer.Open(bundle, 8192, new RuntimeOptions { Device = device });
        int outputs = scorer.Outputs.Count;
        var columns = scorer.Outputs.ToDictionary(c => c, _ => new float[table.RowCount]);
        var ordered = scorer.Outputs.Select(c => columns[c]).ToArray();
        long at = 0;
        foreach (var chunk in table.Chunks)
        {
            var values = scorer.Predict(chunk, table.Schema.TextColumns, table.Schema.NumberColumns);
            for (int r = 0; r < chunk.Count; r++, at++)
                for (int c = 0; c < outputs; c++) ordered[c][at] = values[r * outputs + c];
        }
        return columns;
    }

    /// <summary>Reads the columns of a predictions CSV (or .tsv) whose header names one of <paramref name="known"/> (case-insensitive).</summary>
    public static Dictionary<string, float[]> ReadPredictions(string path, IReadOnlyList<string> known)
    {
        using var reader = new DelimitedReader(path, path.EndsWith(".tsv", StringComparison.OrdinalIgnoreCase) ? '\t' : ',');
        if (!reader.Read()) throw new DataFormatException(path, 1, 1, "empty file: expected a header");
        if (reader.Malformed is { } header) throw header;
        var index = new List<(int Field, string Name, List<float> Values)>();
        int fields = reader.FieldCount;
        for (int i = 0; i < reader.FieldCount; i++)
        {
            string name = reader[i].Trim().ToString();
            if (known.FirstOrDefault(k => k.Equals(name, StringComparison.OrdinalIgnoreCase)) is { } match) index.Add((i, match, new List<float>()));
        }
        if (index.Count == 0) throw new DataFormatException(path, 1, 1, $"no prediction column: expected any of {string.Join(", ", known)}");
        while (reader.Read())
        {
            if (reader.Malformed is { } malformed) throw malformed;
            if (reader.FieldCount != fields) throw reader.RecordError($"expected {fields} fields, found {reader.FieldCount}");
            foreach (var (field, _, values) in index)
            {
                if (!float.TryParse(reader[field], NumberStyles.Float, CultureInfo.InvariantCulture, out float v))
                    throw reader.Error(field, $"'{reader[field]}' is not a number");
                if (!float.IsFinite(v)) throw reader.Error(field, $"'{reader[field]}' is not a finite number");
                values.Add(v);
            }
        }
        return index.ToDictionary(x => x.Name, x => x.Values.ToArray());
    }
}
