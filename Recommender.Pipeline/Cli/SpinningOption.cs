using System.CommandLine;

namespace Recommender.Pipeline.Cli;

/// <summary>
/// The <c>--no-spinning</c> flag of the commands that run ONNX Runtime (<see cref="Recommender.Trainers.Runtime.RuntimeOptions.AllowSpinning"/>).
/// Spinning is the default because it wins on an idle machine; where another process takes one of the cores, threads
/// spinning on a descheduled partner lose far more than that.
/// </summary>
internal static class SpinningOption
{
    /// <summary>A new instance of the flag (each command owns its options).</summary>
    public static Option<bool> Create() => new("--no-spinning")
    {
        Description = "ONNX Runtime's threads block between kernels instead of spinning: much faster where other processes share the cores, a few percent slower on an idle machine",
    };
}
