using System.CommandLine;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Evaluation;
using Recommender.Pipeline.Jobs;
using Recommender.Trainers.MatrixFactorization;

namespace Recommender.Pipeline.Cli;

/// <summary>Which model <c>train</c> makes.</summary>
public enum TrainerKind
{
    /// <summary>The multi-task network (featurization + network).</summary>
    MultiTask,
    /// <summary>Matrix factorization alone, of the user-item matrix of one label.</summary>
    MatrixFactorization,
}

/// <summary>The matrix factorization's loss on the command line.</summary>
public enum MatrixFactorizationLoss
{
    /// <summary>Regression when the schema has a rating or regression label, else one-class.</summary>
    Auto,
    /// <summary>Squared loss on explicit ratings.</summary>
    Regression,
    /// <summary>One-class on implicit feedback (a binary label).</summary>
    OneClass,
}

/// <summary><c>train</c>: data + schema (or an experiment file) to a model bundle, with a per-epoch table.</summary>
internal static class TrainCommand
{
    public static Command Create(CancellationToken cancel)
    {
        var data = new Option<DirectoryInfo?>("--data") { Description = "A folder as generate writes it (schema.json, train.csv, valid.csv, test.csv)" };
        var trainFile = new Option<FileInfo?>("--train") { Description = "Training data file (with --schema or role flags)" };
        var validFile = new Option<FileInfo?>("--valid") { Description = "Validation data file" };
        var testFile = new Option<FileInfo?>("--test") { Description = "Test data file" };
        var mf = new Option<bool>("--mf") { Description = "Train matrix factorization on the clicks first and feed its score and factors to the network" };
        var mfRank = new Option<int>("--mf-rank") { Description = "Rank of the matrix factorization", DefaultValueFactory = _ => 8 }.AtLeast(1);
        var trainer = new Option<TrainerKind>("--trainer") { Description = "MultiTask (default) or MatrixFactorization (a model of its own from the user, item and a label)", DefaultValueFactory = _ => TrainerKind.MultiTask };
        var mfLoss = new Option<MatrixFactorizationLoss>("--mf-loss") { Description = "With --trainer MatrixFactorization: Auto (Regression when the schema has a rating or regression label, else OneClass), Regression (explicit ratings) or OneClass (implicit feedback on a binary label)", DefaultValueFactory = _ => MatrixFactorizationLoss.Auto };
        var mfIterations = new Option<int>("--mf-iterations") { Description = "Matrix factorization: passes (SGD) or sweeps (one-class ALS)", DefaultValueFactory = _ => MatrixFactorizationOptions.Defaults.NumberOfIterations }.AtLeast(1);
        var mfLambda = new Option<double>("--mf-lambda") { Description = "Matrix factorization: L2 regularization", DefaultValueFactory = _ => MatrixFactorizationOptions.Defaults.Lambda }.Finite(0);
        var mfLearningRate = new Option<double>("--mf-learning-rate") { Description = "Matrix factorization: SGD learning rate", DefaultValueFactory = _ => MatrixFactorizationOptions.Defaults.LearningRate }.Finite(1e-12);
        var mfAlpha = new Option<double>("--mf-alpha") { Description = "One-class: weight of the unobserved entries", DefaultValueFactory = _ => MatrixFactorizationOptions.Defaults.Alpha }.Finite(0);
        var mfC = new Option<double>("--mf-c") { Description = "One-class: the value the unobserved entries are pulled to", DefaultValueFactory = _ => MatrixFactorizationOptions.Defaults.C }.Finite();
        var featurizerArgs = new FeaturizerArguments();
        var folds = new Option<int>("--folds") { Description = "With --trainer MatrixFactorization: k-fold cross-validation on the training file first (0: none)", DefaultValueFactory = _ => 0 }.AtLeast(0).AtMost(MatrixFactorizationJob.MaxFolds);
        var output = new Option<DirectoryInfo>("--out") { Description = "Model registry folder: the bundle is published as its next version (v1, v2, ...) and becomes current", DefaultValueFactory = _ => new DirectoryInfo("models/model") };
        var warmStart = new Option<string?>("--warm-start") { Description = "Go on training this registry's current version (or a version folder) on the new data: grown vocabularies, kept network, optimizer state and embedding rows; same architecture and sizes" };
        var wait = new Option<bool>("--wait") { Description = "If another job is publishing into the same registry, wait for it instead of failing" };
        var schemaArgs = new SchemaArguments();
        var trainerArgs = new TrainerArguments();
        var command = new Command("train", "Train a multi-task model (featurization + network) and save it as a bundle; prints validation metrics per epoch and test metrics at the end")
        {
            data, trainFile, validFile, testFile, output, trainer, mf, mfRank, mfLoss, mfIterations, mfLambda, mfLearningRate, mfAlpha, mfC, folds, wait, warmStart,
        };
        schemaArgs.AddTo(command);
        trainerArgs.AddTo(command);
        featurizerArgs.AddTo(command);
        command.SetAction(result =>
        {
            TrainingData training;
            ExperimentFile? experiment = null;
            if (result.GetValue(data) is { } dir)
            {
                if (result.GetValue(trainFile) is not null || result.GetValue(validFile) is not null || result.GetValue(testFile) is not null)
                    throw new SchemaException("--data DIR reads its own train.csv, valid.csv and test.csv: give either --data or --train/--valid/--test");
                var folder = TrainingData.FromDirectory(dir.FullName);
                training = folder with { Schema = schemaArgs.Build(result, out _, folder.Schema) };
            }
            else
            {
                if (result.GetValue(trainFile) is null && result.GetValue(schemaArgs.Experiment) is null)
                    throw new SchemaException("no training data: give --data DIR, --train FILE with a schema, or --experiment FILE");
                var schema = schemaArgs.Build(result, out experiment);
                string? train = result.GetValue(trainFile)?.FullName ?? experiment?.Resolve(experiment.Data.Train);
                if (train is null) throw new SchemaException("give --data DIR, --train FILE with a schema, or --experiment FILE");
                training = new TrainingData(schema, train, result.GetValue(validFile)?.FullName ?? experiment?.Resolve(experiment.Data.Valid),
                    result.GetValue(testFile)?.FullName ?? experiment?.Resolve(experiment.Data.Test), schemaArgs.CommonFeaturesPath(result, experiment));
            }
            if (result.GetValue(trainer) == TrainerKind.MatrixFactorization)
            {
                if (result.GetValue(mf) || result.GetValue(warmStart) is not null) throw new SchemaException("--trainer MatrixFactorization takes neither --mf nor --warm-start");
                if (result.GetValue(folds) == 1) throw new SchemaException("--folds: give 0 (none) or at least 2");
                var factorization = new MatrixFactorizationOptions
                {
                    ApproximationRank = result.GetValue(mfRank), NumberOfIterations = result.GetValue(mfIterations), Lambda = result.GetValue(mfLambda),
                    LearningRate = result.GetValue(mfLearningRate), Alpha = result.GetValue(mfAlpha), C = result.GetValue(mfC),
                    NumberOfThreads = result.GetValue(trainerArgs.Threads) is > 0 and var t ? t : null, Seed = result.GetValue(trainerArgs.Seed) ?? 1,
                };
                var loss = result.GetValue(mfLoss) switch
                {
                    MatrixFactorizationLoss.Regression => LossFunctionType.SquareLossRegression,
                    MatrixFactorizationLoss.OneClass => LossFunctionType.SquareLossOneClass,
                    _ => (LossFunctionType?)null,
                };
                var m = MatrixFactorizationJob.Run(training, factorization, result.GetValue(output)!.FullName, line => Console.Error.WriteLine(line), result.GetValue(folds), loss,
                    new PublishControl(result.GetValue(wait), cancel));
                if (m.Folds.Count > 0)
                {
                    Console.WriteLine($"{m.Folds.Count}-fold cross-validation on the training file (mean and standard error over folds):");
                    var table = new TextTable("metric", "mean", "standard error");
                    foreach (var (name, mean, se) in MatrixFactorizationJob.Summarize(m.Folds)) table.Add(name, MetricsReport.F(mean), double.IsNaN(se) ? "-" : MetricsReport.F(se));
                    Console.Write(table.ToString());
                }
                if (m.Test is { } mfTest)
                {
                    Console.WriteLine("test split:");
                    Console.Write(MetricsReport.Table(mfTest));
                }
                Console.WriteLine($"published: {m.Bundle} ({m.Seconds:F1} s)");
                return 0;
            }
            var options = trainerArgs.Build(result, experiment);
            new EpochTable().Attach(options, options.Architecture.ToString());
            var mfOptions = result.GetValue(mf) ? new Recommender.Trainers.MatrixFactorization.MatrixFactorizationOptions { ApproximationRank = result.GetValue(mfRank) } : null;
            var featurizer = featurizerArgs.Build(result);
            var r = TrainingJob.Run(training, options, result.GetValue(output)!.FullName, m => Console.Error.WriteLine(m), featurizer, matrixFactorization: mfOptions,
                control: new PublishControl(result.GetValue(wait), cancel), warmStart: result.GetValue(warmStart));
            if (r.MatrixFactorizationTest is { } alone)
            {
                Console.WriteLine("test split, matrix factorization alone (CTR):");
                Console.Write(MetricsReport.Table(alone));
            }
            if (r.Test is { } test)
            {
                Console.WriteLine("test split:");
                Console.Write(MetricsReport.Table(test));
            }
            Console.WriteLine($"published: {r.Bundle} ({r.Seconds:F1} s)");
            return 0;
        });
        return command;
    }
}
