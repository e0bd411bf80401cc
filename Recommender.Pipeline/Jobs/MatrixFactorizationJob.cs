using Microsoft.ML;
using Microsoft.ML.Data;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Featurization;
using Recommender.Pipeline.Lifecycle;
using Recommender.Trainers;
using Recommender.Trainers.Evaluation;
using Recommender.Trainers.MatrixFactorization;
using Recommender.Trainers.Network;

namespace Recommender.Pipeline.Jobs;

/// <summary>What a matrix-factorization job produced: the bundle, its test metrics, and the cross-validation folds' metrics.</summary>
public sealed record MatrixFactorizationResult(string Bundle, TaskDefinition Task, MultiTaskMetrics? Test, IReadOnlyList<MultiTaskMetrics> Folds, double Seconds);

/// <summary>
/// Matrix factorization as a model of its own, from any schema with user and item roles and a label: explicit ratings
/// (squared loss on a regression label: the rating role or the first declared regression task) or implicit feedback
/// (one-class on a binary label: the click role or the first independent binary task). The bundle is published like
/// the multi-task model's (featurization, <c>model.zip</c>, <c>model.onnx</c> with the factors, the candidate catalog), its
/// one prediction <c>Score</c> (NaN for an unknown user or item), so <c>score</c>, <c>evaluate</c>, <c>recommend</c> and
/// <c>serve</c> take it as they take any bundle. With folds, k-fold cross-validation on the training file comes first.
/// </summary>
public static class MatrixFactorizationJob
{
    /// <summary>The task of one-class factorization of ratings: a pair is an interaction when it is rated.</summary>
    public const string Interaction = "interaction";

    private const string InteractionColumn = "__interaction";

    /// <summary>The task matrix factorization learns from <paramref name="schema"/> for <paramref name="loss"/> (null: regression when there is a regression label, else one-class).</summary>
    public static (TaskDefinition Task, LossFunctionType Loss) TaskOf(DatasetSchema schema, LossFunctionType? loss)
    {
        if (schema.User is null || schema.Item is null) throw new SchemaException("matrix factorization needs the user and item roles");
        var tasks = schema.ResolveTasks();
        var regression = schema.Tasks is null ? schema.Rating is null ? null : tasks.Single(t => t.Name == "rating") : tasks.FirstOrDefault(t => t.Kind == TaskKind.Regression);
        var binary = schema.Tasks is null ? schema.Click is null ? null : tasks[0] : tasks.FirstOrDefault(t => t.Kind == TaskKind.Binary && t.Given is null);
        loss ??= regression is not null ? LossFunctionType.SquareLossRegression : LossFunctionType.SquareLossOneClass;
        var task = loss == LossFunctionType.SquareLossRegression
            ? regression ?? throw new SchemaException("matrix factorization of ratings needs a rating label (the rating role or a regression task)")
            // Implicit feedback from ratings: every rated pair is an interaction.
            : binary ?? (regression is not null ? new TaskDefinition { Name = Interaction, Label = regression.Label } : null)
              ?? throw new SchemaException("one-class matrix factorization needs a binary label (the click role or an independent binary task) or ratings");
        return (task with { Given = null, Weight = 1, Prediction = "Score", ConditionalPrediction = null }, loss.Value);
    }

    /// <summary>
    /// Most cross-validation folds: ML.NET's split builds every fold's view before the first trains, so a million folds spent
    /// minutes there where no cancellation reaches; past a few dozen folds the estimate gains nothing.
    /// </summary>
    public const int MaxFolds = 100;

    /// <summary>Runs the job: <paramref name="folds"/> of 2 or more cross-validate on the training file first.</summary>
    public static MatrixFactorizationResult Run(TrainingData data, MatrixFactorizationOptions options, string registry, Action<string> log, int folds = 0,
        LossFunctionType? loss = null, PublishControl? control = null)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        control ??= new PublishControl();
        // The MovieLens preset's roles, resolved once, so the task and the bundle's schema are the file's.
        if (data.Schema.Format == DataFormat.MovieLens) data = data with { Schema = MovieLensReader.Preset(data.Train, data.Schema) };
        var (task, lossFunction) = TaskOf(data.Schema, loss);
        if (folds == 1 || folds < 0 || folds > MaxFolds) throw new ArgumentException($"folds must be 0 (none) or 2 to {MaxFolds}, got {folds}");
        using var publisher = BundlePublisher.Begin(registry, control.WaitForLock, control.Cancel, log);
        var dataIdentity = data.Identity();
        var ml = new MLContext(seed: options.Seed);
        var (train, valid, test) = data.Load(log);
        var o = options.Clone();
        bool ratedIsInteraction = task.Name == Interaction;
        (o.MatrixRowIndexColumnName, o.MatrixColumnIndexColumnName, o.LabelColumnName, o.LossFunction) =
            (DatasetSchema.UserColumn, DatasetSchema.ItemColumn, ratedIsInteraction ? InteractionColumn : task.Label, lossFunction);
        log($"matrix factorization of '{task.Label}' ({(lossFunction == LossFunctionType.SquareLossRegression ? "ratings, squared loss" : "implicit feedback, one-class")}), rank {o.ApproximationRank}");

        var foldMetrics = new List<MultiTaskMetrics>();
        if (folds >= 2 && ratedIsInteraction) throw new SchemaException("--folds measures RMSE or AUC, which one-class factorization of ratings has none of: evaluate it with evaluate --top-k");
        if (folds >= 2)
        {
            // Each fold featurizes its own training part, so an id seen only in the held-out part is unknown, as in use.
            var view = train.ToDataView();
            if (folds > train.RowCount) throw new ArgumentException($"--folds {folds} is more than the training file's {train.RowCount:N0} rows");
            int k = 0;
            foreach (var split in ml.Data.CrossValidationSplit(view, folds, seed: o.Seed))
            {
                control.Cancel.ThrowIfCancellationRequested();
                var (model, _) = Fit(ml, train.Schema, split.TrainSet, null, o, task);
                var m = Evaluate(model.Transform(split.TestSet), task);
                foldMetrics.Add(m);
                log($"fold {++k}/{folds}: " + string.Join(", ", m.Items().Where(i => !i.Name.EndsWith("unscored_rows")).Select(i => $"{i.Name} {i.Value}")));
            }
        }

        var (pipeline, fitted) = Fit(ml, train.Schema, train.ToDataView(), valid?.ToDataView(), o, task);
        var (featurization, estimator) = fitted;
        log($"trained: {estimator.Model!.NumberOfRows:N0} users x {estimator.Model.NumberOfColumns:N0} items ({estimator.SkippedRows:N0} rows without a label skipped)");
        // Ratings as interactions have no negatives to measure AUC with: their test is ranking (evaluate --top-k).
        var testMetrics = test is null || ratedIsInteraction ? null : Evaluate(pipeline.Transform(test.ToDataView()), task);
        var metadata = new BundleMetadata
        {
            Schema = data.Schema,
            Architecture = "MatrixFactorization",
            OnnxIdInputs = [DatasetSchema.UserColumn, DatasetSchema.ItemColumn],
            OnnxOutputs = ["Score"],
            Tasks = [task],
            Options = typeof(MatrixFactorizationOptions).GetFields().Where(f => f.FieldType.IsPrimitive || f.FieldType.IsEnum || f.FieldType == typeof(string) || Nullable.GetUnderlyingType(f.FieldType) is not null)
                .ToDictionary(f => f.Name, f => f.GetValue(o) is { } v && v.GetType().IsEnum ? v.ToString() : f.GetValue(o)),
            TestMetrics = testMetrics?.Items().ToDictionary(i => i.Name, i => i.Value.IsDefined ? (double?)i.Value.Value : null) ?? new(),
        };
        var onnx = MatrixFactorizationEstimator.Export(estimator.Model, DatasetSchema.UserColumn, DatasetSchema.ItemColumn, Onnx.TensorProto.Types.DataType.Int64);
        ModelBundle.Save(publisher.Staging, ml, pipeline, featurization, train.ToDataView().Schema, onnx, metadata);
        CandidateCatalog.Build(train, CandidateCatalog.RetrievalOptions(o.NumberOfThreads ?? 0)).Save(Path.Combine(publisher.Staging, CandidateCatalog.FileName));
        control.Cancel.ThrowIfCancellationRequested();
        string bundle = publisher.Publish(metadata.Options, dataIdentity.Values);
        log($"published {bundle}");
        return new MatrixFactorizationResult(bundle, task, testMetrics, foldMetrics, clock.Elapsed.TotalSeconds);
    }

    // The schema's featurization fitted on the training part, then the factorization of its (user key, item key, label) entries.
    private static (ITransformer Pipeline, (ITransformer Featurization, MatrixFactorizationEstimator Estimator)) Fit(MLContext ml, ResolvedSchema schema, IDataView train,
        IDataView? valid, MatrixFactorizationOptions options, TaskDefinition task)
    {
        var (featurizer, _) = SchemaFeaturizer.Create(ml, schema, train);
        var featurization = featurizer.Fit(train);
        var estimator = ml.Recommendation().Trainers.MatrixFactorization(options);
        IDataView Prepared(IDataView view)
        {
            var featurized = featurization.Transform(view);
            if (task.Name != Interaction) return featurized;
            // Training data only (the saved pipeline never sees it): a rated pair is an interaction of value 1.
            var labelled = ml.Transforms.CopyColumns("__label", task.Label).Fit(featurized).Transform(featurized);
            return ml.Transforms.CustomMapping<LabelValue, InteractionValue>((a, b) => b.Interaction = float.IsNaN(a.Label) ? float.NaN : 1f, contractName: null)
                .Fit(labelled).Transform(labelled);
        }
        var model = estimator.Fit(Prepared(train), valid is null ? null : Prepared(valid));
        return (new TransformerChain<ITransformer>(featurization, model), (featurization, estimator));
    }

    private sealed class LabelValue
    {
        [ColumnName("__label")] public float Label { get; set; }
    }

    private sealed class InteractionValue
    {
        [ColumnName(InteractionColumn)] public float Interaction { get; set; }
    }

    private static MultiTaskMetrics Evaluate(IDataView scored, TaskDefinition task) =>
        MultiTaskMetrics.Compute([task], new Dictionary<string, float[]> { ["Score"] = ScoredColumns.Read(scored, "Score") },
            new Dictionary<string, float[]> { [task.Name] = ScoredColumns.Read(scored, task.Label) }, null);

    /// <summary>Mean and standard error over the folds of each metric.</summary>
    public static IEnumerable<(string Name, double Mean, double StandardError)> Summarize(IReadOnlyList<MultiTaskMetrics> folds) =>
        folds.SelectMany(f => f.Items()).GroupBy(i => i.Name).Select(g =>
        {
            var v = g.Select(i => i.Value.Value).Where(double.IsFinite).ToArray();
            double mean = v.Length == 0 ? double.NaN : v.Average();
            double se = v.Length < 2 ? double.NaN : Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Length - 1) / v.Length);
            return (g.Key, mean, se);
        });
}
