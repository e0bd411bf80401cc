using Microsoft.ML;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Featurization;
using Recommender.Trainers.Evaluation;
using Recommender.Trainers.Network;
using Recommender.Trainers.Training;

namespace Recommender.Pipeline.Jobs;

/// <summary>
/// One trial of a search: the task weights and learning rate tried, the validation metric reached with its 95%
/// bootstrap interval, and the interval of its difference from the default trial on the same resamples.
/// </summary>
public sealed record Trial(IReadOnlyDictionary<string, float> Weights, float LearningRate, double Metric, double Low, double High,
    double DifferenceLow, double DifferenceHigh, IReadOnlyDictionary<string, double> Validation)
{
    /// <summary>Whether this is the default trial (the weights and learning rate as declared).</summary>
    public bool IsDefault { get; init; }
}

/// <summary>What a search found: every trial, the default's, and the winner (the default unless a trial beats it beyond the noise).</summary>
public sealed record SearchResult(Trial Best, Trial Default, IReadOnlyList<Trial> All, string Metric, int Resamples);

/// <summary>
/// Task-weight and learning-rate search on the validation set. The data is loaded and featurized once; the default
/// (every task's declared weight, the options' learning rate) is trial 0; then each grid point (the whole grid, or a
/// seeded random sample of it) trains a model. Each trial's validation metric comes with a 95% interval from the same
/// bootstrap resamples of the validation rows, and so does its difference from the default. A trial wins only when its
/// interval does not overlap the default's (wholly on the better side), else the default stays: a winner inside the
/// noise is no winner.
/// </summary>
public static class TuningJob
{
    /// <summary>
    /// Runs the search: <paramref name="weights"/> gives the candidate weights of any tasks by name (the others keep
    /// theirs); <paramref name="metric"/> is a <c>task.metric</c> name (null: the first binary task's AUC).
    /// </summary>
    public static SearchResult Run(TrainingData data, MultiTaskTrainerOptions baseOptions, IReadOnlyDictionary<string, float[]> weights, float[] learningRates,
        int trials, string? metric, int seed, int resamples, Action<Trial> onTrial, Action<string> log)
    {
        if (data.Valid is null) throw new SchemaException("the search needs a validation split");
        if (resamples < 20) throw new ArgumentException($"resamples must be at least 20 for a 95% interval, got {resamples}");
        var featurized = FeaturizedTables.Build(new MLContext(seed: 1), DataLoader.Load(data.Schema, data.Train, data.CommonFeatures),
            DataLoader.Load(data.Schema, data.Valid, data.CommonFeatures));
        var (trainMatrix, validMatrix, rows) = (featurized.Train, featurized.Others[0], featurized.FieldRows);
        var tasks = baseOptions.Tasks ?? data.Schema.ResolveTasks(baseOptions.CtrWeight, baseOptions.CvrWeight, baseOptions.RatingWeight);
        metric = MultiTaskTrainer.StoppingMetric(new MultiTaskTrainerOptions { EarlyStoppingMetric = metric }, tasks);
        bool higher = MultiTaskMetrics.HigherIsBetter(metric);
        foreach (var name in weights.Keys)
            if (!tasks.Any(t => t.Name == name)) throw new ArgumentException($"--weights names task '{name}'; the tasks are {string.Join(", ", tasks.Select(t => t.Name))}");
        log($"search data ready: {trainMatrix.Rows:N0} training, {validMatrix.Rows:N0} validation rows; {metric} with {resamples} bootstrap resamples");

        // Every point of the grid: a weight per searched task, and a learning rate.
        var grid = new List<(Dictionary<string, float> Weights, float LearningRate)> { ([], 0) };
        foreach (var (task, values) in weights)
            grid = grid.SelectMany(g => values.Select(v => (new Dictionary<string, float>(g.Weights) { [task] = v }, g.LearningRate))).ToList();
        grid = grid.SelectMany(g => learningRates.Select(lr => (g.Weights, lr))).ToList();
        var declared = tasks.ToDictionary(t => t.Name, t => t.Weight);
        bool IsDefault((Dictionary<string, float> Weights, float LearningRate) g) =>
            g.LearningRate == baseOptions.LearningRate && g.Weights.All(w => declared[w.Key] == w.Value);
        grid.RemoveAll(IsDefault);
        grid.RemoveAll(g => tasks.All(t => g.Weights.GetValueOrDefault(t.Name, t.Weight) == 0));
        if (trials > 0 && trials < grid.Count)
        {
            new Random(seed).Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(grid));
            grid = grid.Take(trials).ToList();
        }
        grid.Insert(0, (new Dictionary<string, float>(), baseOptions.LearningRate));

        // The validation labels and the resamples every trial is measured on.
        var labels = tasks.Select((t, i) => (t.Name, i)).Where(x => validMatrix.HasLabel(x.i)).ToDictionary(x => x.Name, x => validMatrix.LabelColumn(x.i));
        var random = new Random(seed * 31 + 7);
        var draws = Enumerable.Range(0, resamples).Select(_ => Enumerable.Range(0, validMatrix.Rows).Select(_ => random.Next(validMatrix.Rows)).ToArray()).ToArray();
        string metricTask = metric[..metric.IndexOf('.')];
        var needed = TaskList.Ancestors(tasks, tasks.Single(t => t.Name == metricTask)).Append(tasks.Single(t => t.Name == metricTask)).ToArray();

        var all = new List<Trial>();
        double[]? defaultDraws = null;
        foreach (var (values, learningRate) in grid)
        {
            var o = featurized.OptionsFor(Copy(baseOptions));
            o.Tasks = tasks.Select(t => values.TryGetValue(t.Name, out var w) ? t with { Weight = w } : t).ToArray();
            o.LearningRate = learningRate;
            o.EarlyStoppingMetric = metric;
            var model = MultiTaskTrainer.Train(trainMatrix, validMatrix, rows, o, fieldNames: featurized.FieldNames);
            var predictions = model.Predict(validMatrix).Columns;
            double point = MetricOn(needed, metric, predictions, labels, null);
            var onDraws = draws.Select(d => MetricOn(needed, metric, predictions, labels, d)).ToArray();
            defaultDraws ??= onDraws;
            var (low, high) = Interval(onDraws);
            var (dLow, dHigh) = Interval(onDraws.Zip(defaultDraws, (a, b) => a - b).ToArray());
            var best = model.History.Where(h => h.Validation.ContainsKey(metric)).Select(h => h.Validation)
                .OrderBy(v => higher ? -v[metric] : v[metric]).FirstOrDefault() ?? new Dictionary<string, double>();
            var trial = new Trial(o.Tasks.ToDictionary(t => t.Name, t => t.Weight), learningRate, point, low, high, dLow, dHigh, best) { IsDefault = all.Count == 0 };
            all.Add(trial);
            onTrial(trial);
        }
        // A winner's interval must clear the default's (the stricter reading: the paired difference's interval excluding
        // zero would admit more); the paired interval is reported beside it.
        var baseline = all[0];
        var winner = all.Skip(1).Where(t => !double.IsNaN(t.Metric) && (higher ? t.Low > baseline.High : t.High < baseline.Low))
            .OrderBy(t => higher ? -t.Metric : t.Metric).FirstOrDefault() ?? all[0];
        return new SearchResult(winner, all[0], all, metric, resamples);
    }

    // The metric on the rows drawn (all rows when null), over the metric's task and its chain.
    private static double MetricOn(IReadOnlyList<TaskDefinition> tasks, string metric, IReadOnlyDictionary<string, float[]> predictions,
        IReadOnlyDictionary<string, float[]> labels, int[]? rows)
    {
        float[] Take(float[] values) => rows is null ? values : rows.Select(r => values[r]).ToArray();
        var p = TaskList.Predictions(tasks).Where(predictions.ContainsKey).ToDictionary(n => n, n => Take(predictions[n]));
        var l = tasks.Where(t => labels.ContainsKey(t.Name)).ToDictionary(t => t.Name, t => Take(labels[t.Name]));
        return MultiTaskMetrics.Compute(tasks, p, l, null)[metric]?.Value ?? double.NaN;
    }

    // The 2.5% and 97.5% percentiles.
    private static (double Low, double High) Interval(double[] values)
    {
        var sorted = values.Where(v => !double.IsNaN(v)).Order().ToArray();
        if (sorted.Length == 0) return (double.NaN, double.NaN);
        double At(double q) => sorted[Math.Clamp((int)Math.Floor(q * (sorted.Length - 1) + 0.5), 0, sorted.Length - 1)];
        return (At(0.025), At(0.975));
    }

    private static MultiTaskTrainerOptions Copy(MultiTaskTrainerOptions o)
    {
        var copy = o.Clone();
        copy.Progress = null;
        copy.EpochCompleted = null;
        copy.CheckpointPath = null;
        return copy;
    }
}
