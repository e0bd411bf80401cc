using System.CommandLine;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Recommender.Pipeline.Data;

namespace Recommender.Pipeline.Cli;

/// <summary>
/// The command line: every command, and the mapping of every failure to one <c>error:</c> line with exit code 2, or
/// 130 / 143 after Ctrl-C / SIGTERM (the jobs stop between chunks or steps and leave their resumable state).
/// </summary>
public static class CliApp
{
    /// <summary>Seconds a job has after Ctrl-C or SIGTERM to stop at its next chunk or step before the process ends anyway.</summary>
    public const int SignalGraceSeconds = 60;

    /// <summary>Runs a command line; returns the process exit code.</summary>
    public static int Run(string[] args)
    {
        using var interrupt = new CancellationTokenSource();
        int signalCode = 0;
        string signalName = "";
        Timer? grace = null;
        bool stopsCleanly = false;
        void OnSignal(PosixSignalContext context, int code, string name)
        {
            // The first signal asks a job that takes the token to stop cleanly; the default action (immediate termination) is
            // kept for a second one.
            if (interrupt.IsCancellationRequested) return;
            context.Cancel = true;
            if (!stopsCleanly)
            {
                // Commands with nothing to keep (generate, compare, tune: their outputs are renamed into place whole) end now,
                // through Environment.Exit so that ProcessExit deletes their temporary files (the kernel's default action would not).
                Console.Error.WriteLine($"error: stopped by {name}; nothing was published");
                Environment.Exit(code);
            }
            (signalCode, signalName) = (code, name);
            interrupt.Cancel();
            // A job stops at its next chunk or step. One inside a long call that takes no cancellation (an ML.NET fit) would keep
            // a single SIGTERM waiting for minutes: after the grace period the process ends there, as a second signal ends it.
            // Every final name is written by a rename, so what is left is the finished parts, the last checkpoint and temp files.
            grace = new Timer(_ =>
            {
                Console.Error.WriteLine($"error: stopped by {name}; the job reached no point to stop at within {SignalGraceSeconds} s and was ended there: " +
                    "finished parts and the last checkpoint were kept, nothing partial was published");
                Environment.Exit(code);
            }, null, SignalGraceSeconds * 1000, Timeout.Infinite);
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => OnSignal(c, 130, "SIGINT (Ctrl-C)"));
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => OnSignal(c, 143, "SIGTERM"));
        var token = interrupt.Token;
        Command demo = DemoCommand.Create(token), train = TrainCommand.Create(token), score = ScoreCommand.Create(token), serve = ServeCommand.Create(token);
        var root = new RootCommand("ML.NET recommender: synthetic data, loaders, featurization, matrix factorization and multi-task CTR/CVR/rating models")
        {
            GenerateCommand.Create(),
            ImportTaobaoCommand.Create(),
            InspectCommand.Create(),
            EvaluateCommand.Create(),
            demo,
            train,
            TuneCommand.Create(),
            CompareCommand.Create(),
            PredictCommand.Create(),
            score,
            RecommendCommand.Create(),
            ExportOnnxCommand.Create(),
            ModelsCommand.Create(),
            serve,
            ExportLogCommand.Create(),
            EvaluatePolicyCommand.Create(),
            SimulateCommand.Create(),
            BenchCommand.Create(),
        };
        try
        {
            var parsed = root.Parse(args);
            if (parsed.Errors.Count > 0)
            {
                Console.Error.WriteLine($"error: {string.Join("; ", parsed.Errors.Select(e => Readable(OneLine(e.Message)).TrimEnd('.')))} (see --help)");
                return 2;
            }
            stopsCleanly = parsed.CommandResult.Command is var command && (command == demo || command == train || command == score || command == serve);
            return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (OperationCanceledException) when (interrupt.IsCancellationRequested)
        {
            Console.Error.WriteLine($"error: stopped by {signalName}; finished work was kept (score --resume, train --checkpoint resume it), nothing partial was published");
            return signalCode;
        }
        // Input, configuration and environment errors (a bad file, a bad schema, a full disk, a model that fails its
        // manifest, CUDA asked for where it cannot start) are one line. Anything else is a defect, but still one line:
        // RECOMMENDER_DEBUG=1 shows its stack trace.
        catch (Exception e)
        {
            bool expected = e is DataFormatException or SchemaException or IOException or InvalidDataException or UnauthorizedAccessException
                or ArgumentException or InvalidOperationException or NotSupportedException or FormatException or OperationCanceledException;
            Console.Error.WriteLine(expected ? $"error: {Readable(OneLine(e.Message))}" : $"error: internal error ({e.GetType().Name}): {OneLine(e.Message)}");
            if (!expected && Environment.GetEnvironmentVariable("RECOMMENDER_DEBUG") == "1") Console.Error.WriteLine(e);
            return 2;
        }
        finally
        {
            grace?.Dispose();
        }
    }

    // System.CommandLine names the option's .NET type ("as expected type 'System.Nullable`1[System.Int32]'"): say what to type.
    private static string Readable(string message) => Regex.Replace(message, @"as expected type '([^']*)'", m => "as " +
        Regex.Replace(m.Groups[1].Value, @"^System\.Nullable`1\[(.*)\]$", "$1") switch
        {
            "System.Int32" => "a whole number (at most 2,147,483,647)",
            "System.Int64" => "a whole number",
            "System.Double" or "System.Single" => "a number",
            "System.Boolean" => "true or false",
            var type when type.StartsWith("Recommender.", StringComparison.Ordinal) => "one of the option's values",
            var type => type,
        });

    private static string OneLine(string message) => string.Join(' ', message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
