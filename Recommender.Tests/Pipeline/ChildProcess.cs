using System.Diagnostics;
using Recommender.Pipeline.Cli;

namespace Recommender.Tests.Pipeline;

/// <summary>The CLI run as a separate process (for kills, signals and locks held by another process), bounded in time.</summary>
internal static class ChildProcess
{
    public static Process Start(IEnumerable<string> args, string? fault = null, string? delay = null)
    {
        var start = new ProcessStartInfo("dotnet", ["exec", typeof(CliApp).Assembly.Location, .. args])
        {
            RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false,
        };
        if (fault is not null) start.Environment["RECOMMENDER_FAULT"] = fault;
        if (delay is not null) start.Environment["RECOMMENDER_DELAY"] = delay;
        return Process.Start(start)!;
    }

    /// <summary>Runs to the end (at most two minutes); returns the exit code and standard error.</summary>
    public static (int Code, string Error) Run(IEnumerable<string> args, string? fault = null)
    {
        using var process = Start(args, fault);
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"the command did not finish: {string.Join(' ', args)}");
        }
        return (process.ExitCode, error.GetAwaiter().GetResult());
    }
}
