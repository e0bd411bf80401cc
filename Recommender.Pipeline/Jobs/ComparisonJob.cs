using Microsoft.ML.Transforms;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;
using Microsoft.ML.Trainers.LightGbm;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Featurization;
using Recommender.Trainers;
using Recommender.Trainers.Evaluation;
using Recommender.Trainers.Network;
using Recommender.Trainers.Training;

namespace Recommender.Pipeline.Jobs;

/// <summary>A model's test metrics, its training time, and its test predictions by name (for paired comparisons).</summary>
public sealed record ComparedModel(string Name, MultiTaskMetrics Metrics, double Seconds, IReadOnlyDictionary<string, float[]>? Predictions = null);

/// <summary>
/// What ML.NET already gives a .NET shop, beside the multi-task networks, on the same data: ML.NET's field-aware
/// factorization machine and LightGBM, one binary model for the click (all rows) and one for the conversion (clicked
/// rows), on the same features (each categorical one-hot as its own field, the dense features normalized as one more),
/// and every architecture asked for (trained as <c>train</c> trains them: featurized keys and embeddings). All are
/// measured on the test split with the same metric code, the oracle's truth beside them when the data has it.
/// </summary>
public static class ComparisonJob
{
    /// <summary>Runs the comparison on data with the click (and optionally conversion) roles.</summary>
    public static IReadOnlyList<ComparedModel> Run(TrainingData data, IReadOnlyList<MultiTaskArchitecture> architectures, MultiTaskTrainerOptions options,
        bool baselines, Action<string> log, FeaturizerOptions? featurizer = null)
    {
        if (data.Schema.Tasks is not null || data.Schema.Click is null) throw new SchemaException("compare measures the default chain: the data needs the click role (and optionally conversion)");
        if (data.Test is null) throw new SchemaException("compare needs a test split");
        var (train, valid, test) = data.Load(log);
        var tasks = data.Schema.ResolveTasks();
        var labels = tasks.Where(t => Array.IndexOf(test!.Schema.NumberColumns, t.Label) >= 0).ToDictionary(t => t.Name, t => test!.GetNumbers(t.Label));
        var groups = test!.Schema.GroupOutput is { } g ? test.GetText(g) : null;
        var results = new List<ComparedModel>();
        if (baselines) results.AddRange(Baselines(train, test, options.Threads, log));
        var featurized = FeaturizedTables.Build(new MLContext(seed: 1), train, featurizer, valid is null ? [test] : [valid, test]);
        if (featurized.Features.LeftOut.Count > 0) log(FeaturizedSchema.LeftOutLine(featurized.Features.LeftOut, (featurizer ?? new()).MinDays));
        var testMatrix = featurized.Others[^1];
        // With behaviour sequences in the data, each architecture once without them (the plain fields only) and once with.
        bool[] variants = featurized.Sequences.Length > 0 ? [false, true] : [false];
        int plain = featurized.PlainFields;
        // The matrices without the positions, copied once for every architecture.
        var withoutHistory = new Dictionary<FeatureMatrix, FeatureMatrix>(ReferenceEqualityComparer.Instance);
        foreach (var architecture in architectures)
            foreach (bool history in variants)
            {
                var clock = System.Diagnostics.Stopwatch.StartNew();
                var o = featurized.OptionsFor(options, history);
                o.Architecture = architecture;
                o.Tasks = [.. tasks];
                FeatureMatrix Fields(FeatureMatrix m) => history ? m : withoutHistory.TryGetValue(m, out var copy) ? copy : withoutHistory[m] = m.FirstFields(plain);
                var model = MultiTaskTrainer.Train(Fields(featurized.Train), valid is null ? null : Fields(featurized.Others[0]), featurized.FieldRows[..(history ? featurized.FieldRows.Length : plain)],
                    o, fieldNames: featurized.FieldNames[..(history ? featurized.FieldRows.Length : plain)]);
                var predictions = model.Predict(Fields(testMatrix)).Columns;
                var metrics = MultiTaskMetrics.Compute(model.Spec.Tasks, predictions, labels, groups);
                string name = history ? $"{architecture}+{o.Pooling.ToString().ToLowerInvariant()} history" : architecture.ToString();
                results.Add(new ComparedModel(name, metrics, clock.Elapsed.TotalSeconds, predictions));
                log($"{name}: ctr.auc {metrics["ctr.auc"]} in {clock.Elapsed.TotalSeconds:F1} s");
            }
        return results;
    }

    /// <summary>The name of ML.NET's field-aware factorization machine among the <see cref="Baselines"/>, the reference paired differences are taken from.</summary>
    public const string FieldAwareFactorizationMachine = "FieldAwareFactorizationMachine";

    /// <summary>The name of ML.NET's LightGBM among the <see cref="Baselines"/>.</summary>
    public const string LightGbm = "LightGbm";

    /// <summary>
    /// ML.NET's field-aware factorization machine and LightGBM on <paramref name="train"/>, measured on <paramref name="test"/>
    /// (the default chain's click, and the conversion on clicked rows where the data has it).
    /// </summary>
    public static IReadOnlyList<ComparedModel> Baselines(Table train, Table test, int threads, Action<string> log)
    {
        var tasks = train.Schema.Schema.ResolveTasks();
        var labels = tasks.Where(t => Array.IndexOf(test.Schema.NumberColumns, t.Label) >= 0).ToDictionary(t => t.Name, t => test.GetNumbers(t.Label));
        var groups = test.Schema.GroupOutput is { } g ? test.GetText(g) : null;
        var ml = new MLContext(seed: 1);
        return
        [
            Baseline(ml, FieldAwareFactorizationMachine, train, test, tasks, labels, groups, log,
                (features, label) => ml.BinaryClassification.Trainers.FieldAwareFactorizationMachine(new FieldAwareFactorizationMachineTrainer.Options
                {
                    FeatureColumnName = features[0], ExtraFeatureColumns = features[1..], LabelColumnName = label,
                })),
            Baseline(ml, LightGbm, train, test, tasks, labels, groups, log,
                (features, label) => ml.Transforms.Concatenate("Features", features).Append(ml.BinaryClassification.Trainers.LightGbm(new LightGbmBinaryTrainer.Options
                {
                    FeatureColumnName = "Features", LabelColumnName = label, Seed = 1, NumberOfThreads = threads > 0 ? threads : null,
                }))),
        ];
    }

    // One ML.NET binary trainer for the click on all rows and, where there is a conversion, one for it on clicked rows.
    private static ComparedModel Baseline(MLContext ml, string name, Table train, Table test, IReadOnlyList<TaskDefinition> tasks, Dictionary<string, float[]> labels,
        IReadOnlyList<string>? groups, Action<string> log, Func<string[], string, IEstimator<ITransformer>> trainer)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var s = train.Schema;
        // Each categorical column one-hot as its own field; the dense features, missing values imputed and normalized, as one more.
        IEstimator<ITransformer> features = new EstimatorChain<ITransformer>();
        var fields = new List<string>();
        foreach (var column in s.CategoricalFeatures.Where(c => s.VocabularyOf(c) == c))
        {
            features = features.Append(ml.Transforms.Categorical.OneHotEncoding("__field_" + column, column));
            fields.Add("__field_" + column);
        }
        // A behaviour sequence as one more field: the bag of its items (a one-hot per position would give LightGBM empty
        // categorical values, which ML.NET's LightGBM fails on: dotnet/machinelearning#1625).
        foreach (var sequence in s.BehaviourSequences)
        {
            features = features.Append(ml.Transforms.Concatenate("__items_" + sequence.Name, sequence.Positions))
                .Append(ml.Transforms.Categorical.OneHotEncoding("__field_" + sequence.Name, "__items_" + sequence.Name, OneHotEncodingEstimator.OutputKind.Bag));
            fields.Add("__field_" + sequence.Name);
        }
        if (s.DenseFeatures.Length > 0)
        {
            features = features.Append(ml.Transforms.Concatenate("__dense", s.DenseFeatures))
                .Append(ml.Transforms.ReplaceMissingValues("__dense", replacementMode: Microsoft.ML.Transforms.MissingValueReplacingEstimator.ReplacementMode.Mean))
                .Append(ml.Transforms.NormalizeMeanVariance("__dense"));
            fields.Add("__dense");
        }
        var featurization = features.Fit(train.ToDataView());
        // The label as the Boolean ML.NET's binary trainers take, then the features.
        IDataView Labelled(Table t, string column)
        {
            var view = ml.Transforms.CopyColumns("__value", column).Fit(t.ToDataView()).Transform(t.ToDataView());
            var mapped = ml.Transforms.CustomMapping<LabelIn, LabelOut>((a, b) => b.Label = a.Value == 1f, contractName: null).Fit(view).Transform(view);
            return featurization.Transform(mapped);
        }
        float[] Probabilities(ITransformer model, IDataView data) => ScoredColumns.Read(model.Transform(data), "Probability");

        var predictions = new Dictionary<string, float[]>();
        var click = tasks[0];
        var clickModel = trainer([.. fields], "__label").Fit(Labelled(train, click.Label));
        predictions[click.PredictionName] = Probabilities(clickModel, Labelled(test, click.Label));
        var conversion = tasks.FirstOrDefault(t => t.Given == click.Name);
        if (conversion is not null && Array.IndexOf(s.NumberColumns, conversion.Label) >= 0)
        {
            // Conversion on clicked rows only, as CVR models are trained outside the entire space.
            var conversionModel = trainer([.. fields], "__label").Fit(ml.Data.FilterRowsByColumn(Labelled(train, conversion.Label), click.Label, 0.5, 1.5));
            var pConversion = Probabilities(conversionModel, Labelled(test, conversion.Label));
            predictions[conversion.ConditionalPredictionName!] = pConversion;
            predictions[conversion.PredictionName] = pConversion.Select((p, i) => p * predictions[click.PredictionName][i]).ToArray();
        }
        var metrics = MultiTaskMetrics.Compute(tasks, predictions, labels, groups);
        log($"{name}: ctr.auc {metrics["ctr.auc"]} in {clock.Elapsed.TotalSeconds:F1} s");
        return new ComparedModel(name, metrics, clock.Elapsed.TotalSeconds, predictions);
    }

    private sealed class LabelIn
    {
        [ColumnName("__value")] public float Value { get; set; }
    }

    private sealed class LabelOut
    {
        [ColumnName("__label")] public bool Label { get; set; }
    }
}
