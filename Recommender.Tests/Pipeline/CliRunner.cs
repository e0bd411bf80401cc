using Recommender.Pipeline.Cli;

namespace Recommender.Tests.Pipeline;

/// <summary>Runs the CLI in process with the console captured; classes that use it are [DoNotParallelize], since the console is process-wide.</summary>
internal static class CliRunner
{
    public static (int Code, string Out, string Error) Run(params string[] args)
    {
        var outWriter = new StringWriter();
        var errorWriter = new StringWriter();
        var (oldOut, oldError) = (Console.Out, Console.Error);
        Console.SetOut(outWriter);
        Console.SetError(errorWriter);
        try { return (CliApp.Run(args), outWriter.ToString(), errorWriter.ToString()); }
        finally { Console.SetOut(oldOut); Console.SetError(oldError); }
    }
}
