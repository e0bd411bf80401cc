using Microsoft.ML;
using Microsoft.ML.Data;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Evaluation;
using Recommender.Pipeline.Featurization;
using Recommender.Pipeline.Lifecycle;
using Microsoft.ML.Transforms;
using Recommender.Trainers;
using Recommender.Trainers.Evaluation;
using Recommender.Trainers.MatrixFactorization;
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

    /// <summary>The files' identities (path, size, modification time, content hash), for the manifest's record of what was trained on.</summary>
    public JobFingerprint Identity()
    {
        var identity = new JobFingerprint();
        foreach (var (role, path) in new[] { ("train", Train), ("valid", Valid), ("test", Test), ("common_features", CommonFeatures) })
            if (path is not null) FileIdentity.Add(identity, role, path);
        return identity;
    }

    /// <summary>The train, valid and test tables (the last two null when absent), each load reported to <paramref name="log"/>.</summary>
    public (Table Train, Table? Valid, Table? Test) Load(Action<string> log)
    {
        Table Load(string path)
        {
            var t = DataLoader.Load(Schema, path, CommonFeatures);
            log($"loaded {Path.GetFileName(path)}: {t.Report}");
            return t;
        }
        return (Load(Train), Valid is null ? null : Load(Valid), Test is null ? null : Load(Test));
    }
}

/// <summary>How a training job publishes: wait for another writer of the registry instead of failing; stop on <paramref name="Cancel"/>.</summary>
public sealed record PublishControl(bool WaitForLock = false, CancellationToken Cancel = default);

/// <summary>What a training job produced (<paramref name="Bundle"/>: the published version's folder); <paramref name="MatrixFactorizationTest"/> scores the MF model alone as a CTR predictor.</summary>
public sealed record TrainingResult(string Bundle, TrainedMultiTaskModel Model, MultiTaskMetrics? Test, double Seconds, LoadReport TrainReport,
    MultiTaskMetrics? MatrixFactorizationTest = null, MultiTaskPredictions? TestPredictions = null, IReadOnlyDictionary<string, float[]>? TestLabels = null);

/// <summary>Load, featurize, train the multi-task model, evaluate on the test split, publish the bundle as a new version of a registry.</summary>
public static class TrainingJob
{
    /// <summary>Runs the job; <paramref name="log"/> receives progress lines.</summary>
    /// <remarks>
    /// With <paramref name="matrixFactorization"/>, a matrix factorization of the click matrix (users x items)
    /// is trained after featurization; its score and the user and item factors join the dense features of
    /// the multi-task model, inside the same saved pipeline.
    /// </remarks>
    /// <remarks>
    /// With <paramref name="warmStart"/> (a registry or version), training goes on from that model on the new data:
    /// its featurization grown for new ids (known ids keep their keys; the dense normalization is kept), its network
    /// and optimizer state and embedding rows as they were (see <see cref="MultiTaskTrainer.Train"/>). The
    /// architecture and layer sizes must be the warm start's.
    /// </remarks>
    public static TrainingResult Run(TrainingData data, MultiTaskTrainerOptions options, string registry, Action<string> log, FeaturizerOptions? featurizer = null,
        MatrixFactorizationOptions? matrixFactorization = null, PublishControl? control = null, string? warmStart = null)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        control ??= new PublishControl();
        // The registry is locked before any work, so a second job on it fails now, not after the training.
        using var publisher = BundlePublisher.Begin(registry, control.WaitForLock, control.Cancel, log);
        var dataIdentity = data.Identity();
        var ml = new MLContext(seed: options.Seed);
        var (train, valid, test) = data.Load(log);

        ITransformer featurization;
        FeaturizedSchema features;
        TrainingState? initial = null;
        ModelBundle? warmStartFrom = null;
        if (warmStart is not null)
        {
            if (matrixFactorization is not null) throw new NotSupportedException("a warm start with --mf is not supported");
            var from = warmStartFrom = ModelBundle.Open(warmStart);
            if (!from.Manifest.Files.Any(f => f.Name == StateFile)) throw new InvalidDataException($"{from.Directory}: no {StateFile} to continue from (trained by an older version)");
            initial = TrainingState.Load(from.PathOf(StateFile));
            var trained = from.LoadFeaturization(ml, out var trainedInput);
            (featurization, features) = SchemaFeaturizer.Grow(ml, train.Schema, train.ToDataView(), trained, trainedInput, featurizer);
            log($"warm start from {from.Directory} (step {initial.Steps:N0})");
        }
        else
        {
            var (featurizerEstimator, created) = SchemaFeaturizer.Create(ml, train.Schema, train.ToDataView(), featurizer);
            featurization = featurizerEstimator.Fit(train.ToDataView());
            features = created;
        }
        log($"featurized: {features.Categorical.Count} categorical fields ({features.Categorical.Sum(c => (long)c.Cardinality):N0} keys), {features.DenseSize} dense");
        if (features.LeftOut.Count > 0) log(FeaturizedSchema.LeftOutLine(features.LeftOut, (featurizer ?? new()).MinDays));
        if (options.Interactions.HasFlag(Recommender.Trainers.Network.FeatureInteractions.FieldAware))
        {
            // The field-aware tables grow with the plain fields squared: say what they take before training does.
            var plain = features.Categorical.Take(features.Categorical.Count - train.Schema.BehaviourSequences.Sum(q => q.Positions.Length)).ToArray();
            long bytes = plain.Sum(c => (long)c.Cardinality + 1) * plain.Length * options.FieldAwareDim * sizeof(float);
            log($"field-aware tables: {plain.Length} fields x {plain.Length} x {options.FieldAwareDim} floats per id, {bytes / 1048576.0:F0} MB (and as much again for their optimizer state; --interactions PairwiseDot or None for less)");
        }
        string? denseColumn = features.DenseColumn;
        int denseSize = features.DenseSize;
        MultiTaskMetrics? mfTest = null;
        if (matrixFactorization is not null)
        {
            (featurization, denseColumn, denseSize, mfTest) = AddMatrixFactorization(ml, featurization, denseColumn, denseSize, matrixFactorization, train, valid, test, log);
        }

        // The estimator's copy of the options takes what the job decides; the caller's stay as given. The tasks are the
        // schema's: declared, or the default chain of its roles (with their rating range and the options' weights).
        var estimator = ml.MultiTask().Trainers.FromOptions(options);
        var tasks = options.Tasks ?? data.Schema.ResolveTasks(options.CtrWeight, options.CvrWeight, options.RatingWeight);
        estimator.Options.Tasks = tasks;
        estimator.Options.DenseColumn = denseColumn;
        if (train.Schema.BehaviourSequences.Count > 0) estimator.Options.Sequences = [.. train.Schema.BehaviourSequences];
        estimator.Options.Cancellation = control.Cancel;
        var multiTask = estimator.Fit(featurization.Transform(train.ToDataView()), valid is null ? null : featurization.Transform(valid.ToDataView()), initial);
        var pipeline = new TransformerChain<ITransformer>(featurization, multiTask);
        var model = multiTask.Model;

        MultiTaskMetrics? metrics = null;
        MultiTaskPredictions? testPredictions = null;
        Dictionary<string, float[]>? testLabels = null;
        if (test is not null)
        {
            var matrix = FeatureMatrix.From(featurization.Transform(test.ToDataView()), multiTask.CategoricalColumns, denseColumn, denseSize, []);
            var p = model.Predict(matrix);
            testPredictions = p;
            var s = test.Schema;
            testLabels = tasks.Where(t => Array.IndexOf(s.NumberColumns, t.Label) >= 0).ToDictionary(t => t.Name, t => test.GetNumbers(t.Label));
            metrics = MultiTaskMetrics.Compute(tasks, p.Columns, testLabels, s.GroupOutput is null ? null : test.GetText(s.GroupOutput));
        }

        var metadata = new BundleMetadata
        {
            Schema = data.Schema,
            Architecture = options.Architecture.ToString(),
            OnnxIdInputs = multiTask.CategoricalColumns.ToList(),
            OnnxDenseInput = denseColumn,
            DenseSize = denseSize,
            OnnxOutputs = [.. model.Compiled.Predictions],
            Tasks = [.. tasks],
            Calibration = model.Spec.Calibration?.ToDictionary(),
            Isotonic = model.Spec.Isotonic?.ToDictionary(),
            Options = typeof(MultiTaskTrainerOptions).GetFields().Where(f => f.FieldType.IsPrimitive || f.FieldType.IsEnum || f.FieldType == typeof(string) || f.FieldType == typeof(int[]))
                .ToDictionary(f => f.Name, f => f.GetValue(estimator.Options) is { } v && v.GetType().IsEnum ? v.ToString() : f.GetValue(estimator.Options)),
            History = model.History.Cast<object>().ToList(),
            TestMetrics = metrics?.Items().ToDictionary(i => i.Name, i => i.Value.IsDefined ? (double?)i.Value.Value : null) ?? new(),
        };
        var onnx = model.Export(multiTask.CategoricalColumns, $"Recommender multi-task model ({options.Architecture}); inputs: see model.json", denseColumn);
        string staging = publisher.Staging;
        ModelBundle.Save(staging, ml, pipeline, featurization, train.ToDataView().Schema, onnx, metadata);
        model.State?.Save(Path.Combine(staging, StateFile));
        if (warmStartFrom is { } previous && previous.Manifest.Files.Any(f => f.Name == CandidateCatalog.FileName))
        {
            // The retrieval stage stays the warm start's: rebuilt from the new data alone it would forget the users and
            // items of all the data before. Items first seen since are scored when given as candidates, and retrieved
            // after the next full training.
            File.Copy(previous.PathOf(CandidateCatalog.FileName), Path.Combine(staging, CandidateCatalog.FileName));
        }
        else if (data.Schema.User is not null && data.Schema.Item is not null)
        {
            // For two-stage recommendation: retrieval factors, attributes, seen items, context defaults.
            CandidateCatalog.Build(train, CandidateCatalog.RetrievalOptions(options.Threads)).Save(Path.Combine(staging, CandidateCatalog.FileName));
            FaultInjection.Point("bundle.catalog-written");
        }
        control.Cancel.ThrowIfCancellationRequested();
        string bundle = publisher.Publish(metadata.Options, dataIdentity.Values);
        log($"published {bundle}");
        return new TrainingResult(bundle, model, metrics, clock.Elapsed.TotalSeconds, train.Report, mfTest, testPredictions, testLabels);
    }

    /// <summary>The bundle file a warm start continues from.</summary>
    public const string StateFile = "training-state.bin";

    /// <summary>Name of the dense column once the matrix-factorization features are appended.</summary>
    public const string DenseWithMatrixFactorization = "DenseWithMf";

    private static (ITransformer, string, int, MultiTaskMetrics?) AddMatrixFactorization(MLContext ml, ITransformer featurization, string? dense, int denseSize,
        MatrixFactorizationOptions options, Table train, Table? valid, Table? test, Action<string> log)
    {
        if (train.Schema.Schema.User is null || train.Schema.Schema.Item is null || train.Schema.Click < 0)
            throw new SchemaException("matrix factorization needs the user and item roles and a click label");
        options.MatrixRowIndexColumnName = DatasetSchema.UserColumn;
        options.MatrixColumnIndexColumnName = DatasetSchema.ItemColumn;
        options.LabelColumnName = DatasetSchema.ClickColumn;
        var mf = new MatrixFactorizationEstimator(ml, options) { OutputFactors = true };
        var featurizedTrain = featurization.Transform(train.ToDataView());
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var mfModel = mf.Fit(featurizedTrain, valid is null ? null : featurization.Transform(valid.ToDataView()));
        log($"matrix factorization: rank {options.ApproximationRank}, {mf.Model!.NumberOfRows:N0} users x {mf.Model.NumberOfColumns:N0} items in {clock.Elapsed.TotalSeconds:F1} s ({mf.SkippedRows:N0} rows without a known user or item skipped)");
        // Unknown users or items score NaN: the feature gets the training mean instead.
        string[] inputs = dense is null ? ["MfFeatures"] : [dense, "MfFeatures"];
        var combine = ml.Transforms.Concatenate("MfFeatures", "Score", "UserFactors", "ItemFactors")
            .Append(ml.Transforms.ReplaceMissingValues("MfFeatures", replacementMode: MissingValueReplacingEstimator.ReplacementMode.Mean))
            .Append(ml.Transforms.Concatenate(DenseWithMatrixFactorization, inputs))
            .Append(ml.Transforms.DropColumns("Score", "UserFactors", "ItemFactors", "MfFeatures"));
        var scoredTrain = mfModel.Transform(featurizedTrain);
        var chain = new TransformerChain<ITransformer>(featurization, mfModel, combine.Fit(scoredTrain));

        MultiTaskMetrics? alone = null;
        if (test is not null)
        {
            // Matrix factorization alone as a CTR model: its score, unknown pairs at the training click rate.
            var score = ScoredColumns.Read(mfModel.Transform(featurization.Transform(test.ToDataView())), "Score");
            double baseRate = train.GetNumbers(DatasetSchema.ClickColumn).Average(v => (double)v);
            var pCtr = score.Select(s => float.IsNaN(s) ? (float)baseRate : Math.Clamp(s, 1e-6f, 1 - 1e-6f)).ToArray();
            var s = test.Schema;
            alone = MultiTaskMetrics.Compute(pCtr, null, null, null, test.GetNumbers(DatasetSchema.ClickColumn), null, null,
                s.GroupOutput is null ? null : test.GetText(s.GroupOutput));
        }
        return (chain, DenseWithMatrixFactorization, denseSize + 1 + 2 * options.ApproximationRank, alone);
    }
}
