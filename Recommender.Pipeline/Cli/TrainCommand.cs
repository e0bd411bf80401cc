using System.CommandLine;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Jobs;

namespace Recommender.Pipeline.Cli;

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
        var output = new Option<DirectoryInfo>("--out") { Description = "Model registry folder: the bundle is published as its next version (v1, v2, ...) and becomes current", DefaultValueFactory = _ => new DirectoryInfo("models/model") };
        var warmStart = new Option<string?>("--warm-start") { Description = "Go on training this registry's current version (or a version folder) on the new data: grown vocabularies, kept network, optimizer state and embedding rows; same architecture and sizes" };
        var wait = new Option<bool>("--wait") { Description = "If another job is publishing into the same registry, wait for it instead of failing" };
        var schemaArgs = new SchemaArguments();
        var trainerArgs = new TrainerArguments();
        var command = new Command("train", "Train a multi-task model (featurization + network) and save it as a bundle; prints validation metrics per epoch and test metrics at the end")
        {
            data, trainFile, validFile, testFile, output, mf, mfRank, wait, warmStart,
        };
        schemaArgs.AddTo(command);
        trainerArgs.AddTo(command);
        command.SetAction(result =>
        {
            TrainingData training;
            ExperimentFile? experiment = null;
            if (result.GetValue(data) is { } dir) training = TrainingData.FromDirectory(dir.FullName);
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
            var options = trainerArgs.Build(result, experiment);
            new EpochTable().Attach(options, options.Architecture.ToString());
            var mfOptions = result.GetValue(mf) ? new Recommender.Trainers.MatrixFactorization.MatrixFactorizationOptions { ApproximationRank = result.GetValue(mfRank) } : null;
            var r = TrainingJob.Run(training, options, result.GetValue(output)!.FullName, m => Console.Error.WriteLine(m), matrixFactorization: mfOptions,
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
