using Microsoft.ML;
using Recommender.Trainers.Evaluation;
using Recommender.Trainers.Network;
using Recommender.Trainers.Training;

namespace Recommender.Trainers;

/// <summary>Entry point: <c>mlContext.MultiTask().Trainers.SharedBottom(options)</c>.</summary>
public static class MultiTaskCatalogExtensions
{
    /// <summary>The multi-task catalog of this context.</summary>
    public static MultiTaskCatalog MultiTask(this MLContext mlContext) => new(mlContext);
}

/// <summary>Multi-task (CTR / CVR / rating) components.</summary>
public sealed class MultiTaskCatalog(MLContext mlContext)
{
    /// <summary>The trainers.</summary>
    public MultiTaskTrainers Trainers { get; } = new(mlContext);

    /// <summary>
    /// Every task's metrics of a scored data view of the default chain, as ML.NET's catalogs evaluate: <c>ctr.auc</c>,
    /// <c>ctr.gauc</c> (with <paramref name="groupColumnName"/>), <c>ctr.logloss</c> and <c>ctr.calibration</c>; the same of CVR on
    /// clicked rows, and <c>cvr.entire_auc</c> (click and convert) over all rows; <c>rating.rmse</c> and <c>rating.mae</c> on
    /// rated rows (see <see cref="MultiTaskMetrics"/>). Prediction columns are <c>PCtr</c>, <c>PCvr</c>, <c>PCtcvr</c>,
    /// <c>PredictedRating</c>; a label column that is absent leaves its task's metrics out.
    /// </summary>
    public MultiTaskMetrics Evaluate(IDataView data, string clickColumnName = "Click", string conversionColumnName = "Conversion",
        string ratingColumnName = "Rating", string? groupColumnName = null) =>
        Evaluate(data, TaskList.DefaultChain(clickColumnName, conversionColumnName, ratingColumnName, 1, 1, 1, 0, 1), groupColumnName);

    /// <summary>
    /// Every declared task's metrics of a scored data view (for example <c>transformer.Model.Spec.Tasks</c>): labels from
    /// each task's label column, predictions from its prediction columns; a task whose label column is absent is left out.
    /// </summary>
    public MultiTaskMetrics Evaluate(IDataView data, IReadOnlyList<TaskDefinition> tasks, string? groupColumnName = null)
    {
        float[]? Read(string column) => data.Schema.GetColumnOrNull(column) is null ? null : ScoredColumns.Read(data, column);
        string[]? groups = null;
        if (groupColumnName is not null)
        {
            // The group may be text, or a key once featurized (its key then identifies the group; unseen ones share key 0).
            var column = data.Schema[groupColumnName];
            var values = new List<string>();
            using var cursor = data.GetRowCursor([column]);
            if (column.Type is Microsoft.ML.Data.KeyDataViewType)
            {
                var getter = cursor.GetGetter<uint>(column);
                uint key = 0;
                while (cursor.MoveNext()) { getter(ref key); values.Add(key.ToString(System.Globalization.CultureInfo.InvariantCulture)); }
            }
            else
            {
                var getter = cursor.GetGetter<ReadOnlyMemory<char>>(column);
                ReadOnlyMemory<char> value = default;
                while (cursor.MoveNext()) { getter(ref value); values.Add(value.ToString()); }
            }
            groups = values.ToArray();
        }
        var predictions = new Dictionary<string, float[]>();
        foreach (var name in TaskList.Predictions(tasks)) if (Read(name) is { } values) predictions[name] = values;
        var labels = new Dictionary<string, float[]>();
        foreach (var task in tasks) if (Read(task.Label) is { } values) labels[task.Name] = values;
        return MultiTaskMetrics.Compute(tasks, predictions, labels, groups);
    }
}

/// <summary>The multi-task trainers; each returns an estimator that adds a prediction column per task.</summary>
public sealed class MultiTaskTrainers(MLContext mlContext)
{
    /// <summary>Shared-bottom network (the design card's default).</summary>
    public MultiTaskEstimator SharedBottom(MultiTaskTrainerOptions options) => Create(MultiTaskArchitecture.SharedBottom, options);
    /// <summary>ESMM: CVR learned through CTCVR over the entire impression space.</summary>
    public MultiTaskEstimator Esmm(MultiTaskTrainerOptions options) => Create(MultiTaskArchitecture.Esmm, options);
    /// <summary>Multi-gate Mixture-of-Experts.</summary>
    public MultiTaskEstimator Mmoe(MultiTaskTrainerOptions options) => Create(MultiTaskArchitecture.Mmoe, options);
    /// <summary>Progressive Layered Extraction.</summary>
    public MultiTaskEstimator Ple(MultiTaskTrainerOptions options) => Create(MultiTaskArchitecture.Ple, options);

    /// <summary>Shared-bottom network with the most used settings as arguments (the rest at their defaults).</summary>
    public MultiTaskEstimator SharedBottom(string clickColumnName = "Click", string conversionColumnName = "Conversion", string ratingColumnName = "Rating",
        int epochs = MultiTaskTrainerOptions.Defaults.Epochs, int batchSize = MultiTaskTrainerOptions.Defaults.BatchSize, float learningRate = MultiTaskTrainerOptions.Defaults.LearningRate) =>
        Create(MultiTaskArchitecture.SharedBottom, Simple(clickColumnName, conversionColumnName, ratingColumnName, epochs, batchSize, learningRate));
    /// <summary>ESMM with the most used settings as arguments.</summary>
    public MultiTaskEstimator Esmm(string clickColumnName = "Click", string conversionColumnName = "Conversion", string ratingColumnName = "Rating",
        int epochs = MultiTaskTrainerOptions.Defaults.Epochs, int batchSize = MultiTaskTrainerOptions.Defaults.BatchSize, float learningRate = MultiTaskTrainerOptions.Defaults.LearningRate) =>
        Create(MultiTaskArchitecture.Esmm, Simple(clickColumnName, conversionColumnName, ratingColumnName, epochs, batchSize, learningRate));
    /// <summary>MMoE with the most used settings as arguments.</summary>
    public MultiTaskEstimator Mmoe(string clickColumnName = "Click", string conversionColumnName = "Conversion", string ratingColumnName = "Rating",
        int epochs = MultiTaskTrainerOptions.Defaults.Epochs, int batchSize = MultiTaskTrainerOptions.Defaults.BatchSize, float learningRate = MultiTaskTrainerOptions.Defaults.LearningRate) =>
        Create(MultiTaskArchitecture.Mmoe, Simple(clickColumnName, conversionColumnName, ratingColumnName, epochs, batchSize, learningRate));
    /// <summary>PLE with the most used settings as arguments.</summary>
    public MultiTaskEstimator Ple(string clickColumnName = "Click", string conversionColumnName = "Conversion", string ratingColumnName = "Rating",
        int epochs = MultiTaskTrainerOptions.Defaults.Epochs, int batchSize = MultiTaskTrainerOptions.Defaults.BatchSize, float learningRate = MultiTaskTrainerOptions.Defaults.LearningRate) =>
        Create(MultiTaskArchitecture.Ple, Simple(clickColumnName, conversionColumnName, ratingColumnName, epochs, batchSize, learningRate));

    private static MultiTaskTrainerOptions Simple(string click, string conversion, string rating, int epochs, int batchSize, float learningRate) => new()
    {
        ClickColumn = click, ConversionColumn = conversion, RatingColumn = rating, Epochs = epochs, BatchSize = batchSize, LearningRate = learningRate,
    };

    /// <summary>The architecture named in <see cref="MultiTaskTrainerOptions.Architecture"/> (for experiment files and CLIs).</summary>
    public MultiTaskEstimator FromOptions(MultiTaskTrainerOptions options) => new(mlContext, options);

    // The caller's options are copied, never changed: one options object can make a SharedBottom and then an ESMM.
    private MultiTaskEstimator Create(MultiTaskArchitecture architecture, MultiTaskTrainerOptions? options)
    {
        var copy = (options ?? new MultiTaskTrainerOptions()).Clone();
        copy.Architecture = architecture;
        return new MultiTaskEstimator(mlContext, copy);
    }
}
