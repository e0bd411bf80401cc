using System.CommandLine;
using Recommender.Pipeline.Data;

namespace Recommender.Pipeline.Cli;

/// <summary>The command line: every command, and the mapping of input errors to a one-line message and exit code 2.</summary>
public static class CliApp
{
    /// <summary>Runs a command line; returns the process exit code.</summary>
    public static int Run(string[] args)
    {
        var root = new RootCommand("ML.NET recommender: synthetic data, loaders, featurization, matrix factorization and multi-task CTR/CVR/rating models")
        {
            GenerateCommand.Create(),
            InspectCommand.Create(),
            EvaluateCommand.Create(),
            DemoCommand.Create(),
            TrainCommand.Create(),
            TuneCommand.Create(),
            PredictCommand.Create(),
            ScoreCommand.Create(),
            RecommendCommand.Create(),
            ExportOnnxCommand.Create(),
            BenchCommand.Create(),
        };
        try
        {
            return root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        // Input and configuration errors get one line, not a stack trace: a bad file, a bad schema, a task without
        // its label (ArgumentException from the trainers), CUDA asked for where it cannot start (InvalidOperationException).
        catch (Exception e) when (e is DataFormatException or SchemaException or FileNotFoundException or DirectoryNotFoundException or InvalidDataException
            or ArgumentException or InvalidOperationException or NotSupportedException or FormatException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }
    }
}
