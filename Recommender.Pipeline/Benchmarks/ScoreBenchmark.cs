using Recommender.Pipeline.Lifecycle;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Recommender.Pipeline.Data.Synthetic;
using Recommender.Pipeline.Jobs;
using Recommender.Pipeline.Scoring;
using Recommender.Trainers.Network;
using Recommender.Trainers.Runtime;
using Recommender.Trainers.Training;

namespace Recommender.Pipeline.Benchmarks;

/// <summary>
/// <c>bench score</c>: the scoring job end to end, CSV in and CSV out, on 1,000,000 generated rows (the
/// training split of <c>generate --rows 1250000</c>) with a SharedBottom bundle trained for one epoch; and
/// the same network alone on in-memory batches.
/// </summary>
public static class ScoreBenchmark
{
    /// <summary>Runs the benchmark (data and bundle are made in <paramref name="workDirectory"/> when missing).</summary>
    public static JsonObject Run(string workDirectory, int threads, Action<string> log)
    {
        string data = Path.Combine(workDirectory, "data");
        if (!File.Exists(Path.Combine(data, "train.csv")))
        {
            log("generating 1,250,000 rows (1,000,000 in the training split)");
            SyntheticGenerator.Generate(SyntheticOptions.Plain(1_250_000), data);
        }
        string bundle = Path.Combine(workDirectory, "bundle");
        if (!ModelRegistry.IsRegistry(bundle) || new ModelRegistry(bundle).Current is null)
        {
            log("training the bundle (SharedBottom, one epoch)");
            TrainingJob.Run(TrainingData.FromDirectory(data), new MultiTaskTrainerOptions { Epochs = 1, Threads = threads, Device = ExecutionDevice.Cpu, Interactions = FeatureInteractions.None }, bundle, log);
        }
        string input = Path.Combine(data, "train.csv");
        string output = Path.Combine(workDirectory, "scored.csv");
        ScoringSummary Score(bool compiled) => BatchScoringJob.Run(new ScoringOptions
        {
            Model = bundle, Input = input, Output = output, Threads = threads, Device = ExecutionDevice.Cpu, Ranking = "pctr * pcvr * item_price", CompiledFeaturization = compiled,
        });
        var summary = Score(true);
        long peak = Process.GetCurrentProcess().PeakWorkingSet64;
        // The same job with the featurization on ML.NET's engine: the same-run reference of the compiled path.
        var reference = Score(false);

        // The network alone: full batches already in memory.
        double inferenceRows = InferenceThroughput.Measure(ModelBundle.Open(bundle).ReadOnnx(), new RuntimeOptions { Device = ExecutionDevice.Cpu, Threads = threads });
        File.Delete(output);
        if (summary.Quarantine.Length > 0) File.Delete(summary.Quarantine);
        return new JsonObject
        {
            ["benchmark"] = "score", ["threads"] = threads, ["rows"] = summary.RowsIn,
            ["cpu"] = MachineInfo.CpuModel(),
            ["rows_per_s"] = Math.Round(summary.RowsPerSecond), ["seconds"] = Math.Round(summary.Seconds, 2),
            ["rows_per_s_ml_net_featurization"] = Math.Round(reference.RowsPerSecond),
            ["compiled_over_ml_net"] = Math.Round(summary.RowsPerSecond / reference.RowsPerSecond, 2),
            ["inference_rows_per_s"] = Math.Round(inferenceRows),
            ["job_over_inference"] = Math.Round(summary.RowsPerSecond / inferenceRows, 3),
            ["peak_rss_mb"] = Math.Round(peak / 1048576.0),
            ["note"] = "peak_rss_mb is this process's peak, which includes generating and training when they ran here; run score alone for the job's own figure",
        };
    }
}
