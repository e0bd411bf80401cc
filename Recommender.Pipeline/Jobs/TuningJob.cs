using Microsoft.ML;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Featurization;
using Recommender.Trainers.Evaluation;
using Recommender.Trainers.Training;

namespace Recommender.Pipeline.Jobs;

/// <summary>One trial of a search: the values tried and the validation metric reached.</summary>
public sealed record Trial(float CtrWeight, float CvrWeight, float RatingWeight, float LearningRate, double Metric, IReadOnlyDictionary<string, double> Validation);

/// <summary>
/// Task-weight and learning-rate search on the validation set: the data is loaded and featurized once,
/// then each candidate (a full grid, or a seeded random sample of it) trains a model and is scored on the
/// chosen validation metric; the best wins.
/// </summary>
public static class TuningJob
{
    /// <summary>Runs the search; <paramref name="trials"/> 0 = the whole grid.</summary>
    public static (Trial Best, List<Trial> All) Run(TrainingData data, MultiTaskTrainerOptions baseOptions, float[] ctrWeights, float[] cvrWeights, float[] ratingWeights,
        float[] learningRates, int trials, string metric, int seed, Action<Trial> onTrial, Action<string> log)
    {
        if (data.Valid is null) throw new SchemaException("the search needs a validation split");
        var featurized = FeaturizedTables.Build(new MLContext(seed: 1), DataLoader.Load(data.Schema, data.Train, data.CommonFeatures),
            DataLoader.Load(data.Schema, data.Valid, data.CommonFeatures));
        var (trainMatrix, validMatrix, rows) = (featurized.Train, featurized.Others[0], featurized.FieldRows);
        metric = MultiTaskTrainer.StoppingMetric(new MultiTaskTrainerOptions { EarlyStoppingMetric = metric }, featurized.Tasks);
        bool higher = MultiTaskMetrics.HigherIsBetter(metric);
        log($"search data ready: {trainMatrix.Rows:N0} training, {validMatrix.Rows:N0} validation rows");

        var grid = (from a in ctrWeights from b in cvrWeights from c in ratingWeights from lr in learningRates
                    where a > 0 || b > 0 || c > 0 select (a, b, c, lr)).ToList();
        if (trials > 0 && trials < grid.Count)
        {
            new Random(seed).Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(grid));
            grid = grid.Take(trials).ToList();
        }
        var all = new List<Trial>();
        foreach (var (a, b, c, lr) in grid)
        {
            var o = Copy(baseOptions);
            o.CtrWeight = a; o.CvrWeight = b; o.RatingWeight = c; o.LearningRate = lr;
            o.EarlyStoppingMetric = metric;
            var model = MultiTaskTrainer.Train(trainMatrix, validMatrix, rows, o);
            var best = model.History.Where(h => h.Validation.ContainsKey(metric)).Select(h => h.Validation)
                .OrderBy(v => higher ? -v[metric] : v[metric]).FirstOrDefault() ?? new Dictionary<string, double>();
            var trial = new Trial(a, b, c, lr, best.GetValueOrDefault(metric, double.NaN), best);
            all.Add(trial);
            onTrial(trial);
        }
        var winner = all.Where(t => !double.IsNaN(t.Metric)).OrderBy(t => higher ? -t.Metric : t.Metric).First();
        return (winner, all);
    }

    private static MultiTaskTrainerOptions Copy(MultiTaskTrainerOptions o)
    {
        var copy = new MultiTaskTrainerOptions();
        foreach (var f in typeof(MultiTaskTrainerOptions).GetFields()) f.SetValue(copy, f.GetValue(o));
        copy.Progress = null;
        copy.EpochCompleted = null;
        copy.CheckpointPath = null;
        return copy;
    }
}
