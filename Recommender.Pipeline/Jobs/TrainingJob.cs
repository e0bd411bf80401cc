using Microsoft.ML;
using Microsoft.ML.Data;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Evaluation;
using Recommender.Pipeline.Featurization;
using Recommender.Trainers;
using Recommender.Trainers.Training;

namespace Recommender.Pipeline.Jobs;

/// <summary>The data of a training job.</summary>
public sealed record TrainingData(DatasetSchema Schema, string Train, string? Valid, string? Test, string? CommonFeatures = null)
{
    /// <summary>A folder laid out as <c>generate</c> writes it: schema.json, train.csv, valid.csv, test.csv.</summary>
    public static TrainingData FromDirectory(string directory) => new(
        DatasetSchema.Load(Path.Combine(directory, "schema.json")), Path.Combine(directory, "train.csv"),
        Existing(Path.Combine(directory, "valid.csv")), Existing(Path.Combine(directory, "test.csv")));

    private static string? Existing(string path) => File.Exists(path) ? path : null;
}

/// <summary>What a training job produced.</summary>
public sealed record TrainingResult(string Bundle, TrainedMultiTaskModel Model, MultiTaskMetrics? Test, double Seconds, LoadReport TrainReport);

/// <summary>Load, featurize, train the multi-task model, save the bundle, evaluate on the test split.</summary>
public static class TrainingJob
{
    /// <summary>Runs the job; <paramref name="log"/> receives progress lines.</summary>
    public static TrainingResult Run(TrainingData data, MultiTaskTrainerOptions options, string bundle, Action<string> log, FeaturizerOptions? featurizer = null)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var ml = new MLContext(seed: options.Seed);
        Table Load(string path)
        {
            var t = DataLoader.Load(data.Schema, path, data.CommonFeatures);
            log($"loaded {Path.GetFileName(path)}: {t.Report}");
            return t;
        }
        var train = Load(data.Train);
        var valid = data.Valid is null ? null : Load(data.Valid);
        var test = data.Test is null ? null : Load(data.Test);

        var (featurizerEstimator, features) = SchemaFeaturizer.Create(ml, train.Schema, train.ToDataView(), featurizer);
        var featurization = featurizerEstimator.Fit(train.ToDataView());
        log($"featurized: {features.Categorical.Count} categorical fields ({features.Categorical.Sum(c => (long)c.Cardinality):N0} keys), {features.DenseSize} dense");

        var estimator = ml.MultiTask().Trainers.FromOptions(options);
        var multiTask = estimator.Fit(featurization.Transform(train.ToDataView()), valid is null ? null : featurization.Transform(valid.ToDataView()));
        var pipeline = new TransformerChain<ITransformer>(featurization, multiTask);
        var model = estimator.LastModel!;

        MultiTaskMetrics? metrics = null;
        if (test is not null)
        {
            var matrix = FeatureMatrix.From(featurization.Transform(test.ToDataView()), estimator.LastCategoricalColumns, features.DenseColumn, features.DenseSize);
            var p = model.Predict(matrix);
            var s = test.Schema;
            float[]? Labels(string name) => Array.IndexOf(s.NumberColumns, name) >= 0 ? test.GetNumbers(name) : null;
            metrics = MultiTaskMetrics.Compute(p.PCtr, p.PCvr, p.PCtcvr, p.PredictedRating,
                Labels(DatasetSchema.ClickColumn), Labels(DatasetSchema.ConversionColumn), Labels(DatasetSchema.RatingColumn),
                s.GroupOutput is null ? null : test.GetText(s.GroupOutput));
        }

        var metadata = new ModelBundle.Metadata
        {
            Schema = data.Schema,
            Architecture = options.Architecture.ToString(),
            OnnxIdInputs = estimator.LastCategoricalColumns.ToList(),
            OnnxDenseInput = features.DenseColumn,
            DenseSize = features.DenseSize,
            Options = typeof(MultiTaskTrainerOptions).GetFields().Where(f => f.FieldType.IsPrimitive || f.FieldType.IsEnum || f.FieldType == typeof(string) || f.FieldType == typeof(int[]))
                .ToDictionary(f => f.Name, f => f.GetValue(options) is { } v && v.GetType().IsEnum ? v.ToString() : f.GetValue(options)),
            History = model.History.Cast<object>().ToList(),
            TestMetrics = metrics?.Items().ToDictionary(i => i.Name, i => i.Value.IsDefined ? (double?)i.Value.Value : null) ?? new(),
        };
        var onnx = model.Export(estimator.LastCategoricalColumns, $"Recommender multi-task model ({options.Architecture}); inputs: see model.json", features.DenseColumn);
        ModelBundle.Save(bundle, ml, pipeline, train.ToDataView().Schema, onnx, metadata);
        log($"saved {bundle}");
        return new TrainingResult(bundle, model, metrics, clock.Elapsed.TotalSeconds, train.Report);
    }
}
