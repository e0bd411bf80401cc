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
        foreach (var t in tasks.Where(t => t.Kind == TaskKind.Binary && labelValues.ContainsKey(t.Name)))
            foreach (var odd in labelValues[t.Name].Where(v => v is not (0f or 1f) && !float.IsNaN(v)).Take(1))
                throw new SchemaException($"task '{t.Name}': its label column '{t.Label}' holds {odd}, not 0 or 1; a model of interactions is measured by ranking: evaluate --top-k");
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

    /// <summary>
    /// Ranking quality of the bundle's two-stage recommendations against a labelled table: for every user of the table
    /// the catalog knows and who has a relevant row (the task's binary label 1, or a regression label at or above
    /// <paramref name="threshold"/>, default the range's maximum minus 1), the top <paramref name="k"/> of
    /// <paramref name="candidates"/> retrieved items the user had not seen in training, ranked as <c>recommend</c> ranks
    /// them, against the relevant items (an item the model never saw stays relevant and can only be missed). Beside
    /// it, the same users' top K most popular unseen items.
    /// </summary>
    public static (TopKMetrics Model, TopKMetrics Popularity, TaskDefinition Task) Ranking(ModelBundle bundle, Table labels, int k, int candidates, float? threshold,
        string? ranking, ExecutionDevice device)
    {
        var tasks = bundle.Metadata.ResolveTasks();
        var task = tasks.FirstOrDefault(t => t.Kind == TaskKind.Binary && t.Given is null && t.Weight > 0) ?? tasks.First(t => t.Weight > 0);
        if (Array.IndexOf(labels.Schema.NumberColumns, task.Label) < 0) throw new SchemaException($"the labels file has no '{task.Label}' column (the label of task '{task.Name}')");
        float cut = threshold ?? (task.Kind == TaskKind.Binary ? 1 : task.Max - 1);
        var catalog = Scoring.RecommendJob.Catalog(bundle);
        var userIndex = catalog.Users.Select((u, i) => (u, i)).ToDictionary(x => x.u, x => x.i);
        var users = labels.GetText(DatasetSchema.UserColumn);
        var items = labels.GetText(DatasetSchema.ItemColumn);
        var y = labels.GetNumbers(task.Label);
        var relevant = new Dictionary<int, HashSet<string>>();
        for (int r = 0; r < y.Length; r++)
            if (y[r] >= cut && userIndex.TryGetValue(users[r], out int u)) (relevant.TryGetValue(u, out var set) ? set : relevant[u] = []).Add(items[r]);
        var evaluated = relevant.Keys.Order().ToArray();
        if (evaluated.Length == 0) throw new SchemaException($"no user of the labels file has a relevant row ({task.Label} >= {cut}) and is known to the model");
        var ranked = Scoring.RecommendJob.Recommend(bundle, catalog, evaluated, k, Math.Max(k, candidates), excludeSeen: true, ranking, device)
            .Select(r => (IReadOnlyList<string>)r.Items.Select(i => catalog.Items[i]).ToArray()).ToList();
        var relevantSets = evaluated.Select(u => (IReadOnlySet<string>)relevant[u]).ToList();
        var interactions = new int[catalog.Items.Count];
        foreach (var seen in catalog.Seen) foreach (int i in seen) interactions[i]++;
        var popularity = Enumerable.Range(0, catalog.Items.Count).OrderByDescending(i => interactions[i]).ThenBy(i => i).ToArray();
        var popular = evaluated.Select(u => (IReadOnlyList<string>)popularity.Where(i => Array.BinarySearch(catalog.Seen[u], i) < 0).Take(k).Select(i => catalog.Items[i]).ToArray()).ToList();
        return (TopKMetrics.Compute(ranked, relevantSets, k), TopKMetrics.Compute(popular, relevantSets, k), task);
    }

    /// <summary>Scores every row of <paramref name="table"/> with the bundle's featurization and network (the scoring job's path).</summary>
    public static Dictionary<string, float[]> Score(ModelBundle bundle, Table table, ExecutionDevice device)
    {
        using var scorer = BundleScorer.Open(bundle, BatchedInference.DefaultBatchSize, new RuntimeOptions { Device = device });
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
