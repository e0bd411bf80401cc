using Recommender.Trainers.Training;
using System.CommandLine;
using Recommender.Pipeline.Benchmarks;
using Recommender.Trainers.Runtime;
using Recommender.Trainers.Network;

namespace Recommender.Pipeline.Cli;

/// <summary><c>bench</c>: reproducible performance figures, printed as JSON.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var command = new Command("bench", "Benchmarks that print JSON (engine, train, mf, score, serve, tasks)");
        command.Subcommands.Add(Engine());
        command.Subcommands.Add(Train());
        command.Subcommands.Add(MatrixFactorization());
        command.Subcommands.Add(Score());
        command.Subcommands.Add(Serve());
        command.Subcommands.Add(Tasks());
        return command;
    }

    private static Command Tasks()
    {
        var work = new Option<DirectoryInfo>("--work") { Description = "Folder for the generated data", DefaultValueFactory = _ => new DirectoryInfo(Path.Combine(Path.GetTempPath(), "rec-bench-tasks")) };
        var rows = new Option<long>("--rows") { Description = "Generated funnel rows (all splits)", DefaultValueFactory = _ => 1_000_000 }.AtLeast(10_000);
        var seeds = new Option<int>("--seeds") { Description = "Training seeds per case", DefaultValueFactory = _ => 3 }.AtLeast(2);
        var threads = new Option<int>("--threads") { Description = "Threads", DefaultValueFactory = _ => 2 }.AtLeast(1).AtMost(RuntimeOptions.MaxThreads);
        var command = new Command("tasks", "ESM2 over the chain click -> cart -> purchase against independent towers and SharedBottom on generated funnel data: every task's test AUC per seed, mean and standard error, the paired difference with a bootstrap standard error")
        {
            work, rows, seeds, threads,
        };
        command.SetAction(result =>
        {
            Console.WriteLine(MetricsReport.Format(TasksBenchmark.Run(result.GetValue(work)!.FullName, result.GetValue(rows), result.GetValue(seeds), result.GetValue(threads), m => Console.Error.WriteLine(m))));
            return 0;
        });
        return command;
    }

    private static Command Serve()
    {
        var work = new Option<DirectoryInfo>("--work") { Description = "Folder for the generated data and the bundle (kept between runs)", DefaultValueFactory = _ => new DirectoryInfo(Path.Combine(Path.GetTempPath(), "rec-bench-serve")) };
        var clients = new Option<int>("--clients") { Description = "Concurrent closed-loop clients", DefaultValueFactory = _ => 32 }.AtLeast(1);
        var seconds = new Option<double>("--seconds") { Description = "Measured seconds per case (after a warm-up)", DefaultValueFactory = _ => 10 }.Positive();
        var threads = new Option<int>("--threads") { Description = "ONNX Runtime threads of the service", DefaultValueFactory = _ => 1 }.AtLeast(1).AtMost(RuntimeOptions.MaxThreads);
        var noLog = new Option<bool>("--no-log") { Description = "Run the service without its impression log" };
        var mlNet = new Option<bool>("--ml-net-featurization") { Description = "Featurize through ML.NET's engine instead of the compiled lookups (as bundles whose featurization does not compile do)" };
        var command = new Command("serve", "The HTTP service on loopback under closed-loop load: req/s and latency percentiles for score (1 and 100 rows) and recommend (k=10 of 500), micro-batching on and off, each next to the in-process floor")
        {
            work, clients, seconds, threads, noLog, mlNet,
        };
        command.SetAction(result =>
        {
            Console.WriteLine(MetricsReport.Format(ServeBenchmark.Run(result.GetValue(work)!.FullName, result.GetValue(clients), result.GetValue(seconds), result.GetValue(threads), !result.GetValue(noLog), !result.GetValue(mlNet), m => Console.Error.WriteLine(m))));
            return 0;
        });
        return command;
    }

    private static Command Score()
    {
        var work = new Option<DirectoryInfo>("--work") { Description = "Folder for the generated data and the bundle (kept between runs)", DefaultValueFactory = _ => new DirectoryInfo(Path.Combine(Path.GetTempPath(), "rec-bench-score")) };
        var threads = new Option<int>("--threads") { Description = "Threads", DefaultValueFactory = _ => 2 }.AtLeast(1).AtMost(RuntimeOptions.MaxThreads);
        var command = new Command("score", "The scoring job end to end (CSV in, CSV out) on 1,000,000 generated rows, the network alone on in-memory batches, and the peak memory")
        {
            work, threads,
        };
        command.SetAction(result =>
        {
            Console.WriteLine(MetricsReport.Format(ScoreBenchmark.Run(result.GetValue(work)!.FullName, result.GetValue(threads), m => Console.Error.WriteLine(m))));
            return 0;
        });
        return command;
    }

    private static Command MatrixFactorization()
    {
        var data = new Option<FileInfo>("--data") { Description = "MovieLens ratings.csv", DefaultValueFactory = _ => new FileInfo("../shared/data/ml-latest-small/ratings.csv") };
        var threads = new Option<int>("--threads") { Description = "Threads", DefaultValueFactory = _ => 2 }.AtLeast(1).AtMost(RuntimeOptions.MaxThreads);
        var command = new Command("mf", "Matrix factorization on MovieLens: train seconds and test RMSE (seeded 80/20 split) for ML.NET's default settings and a tuned one, top-100 retrieval users/s, leave-last-out HitRate@10 and NDCG@10")
        {
            data, threads,
        };
        command.SetAction(result =>
        {
            Console.WriteLine(MetricsReport.Format(MatrixFactorizationBenchmark.Run(result.GetValue(data)!.FullName, result.GetValue(threads))));
            return 0;
        });
        return command;
    }

    private static Command Train()
    {
        var data = new Option<DirectoryInfo?>("--data") { Description = "Folder with generated data; default: generate 1,000,000 rows (seed 42) into a temp folder" };
        var threads = new Option<int>("--threads") { Description = "CPU threads", DefaultValueFactory = _ => 2 }.AtLeast(1).AtMost(RuntimeOptions.MaxThreads);
        var device = new Option<ExecutionDevice>("--device") { Description = "Auto, Cpu or Cuda", DefaultValueFactory = _ => ExecutionDevice.Cpu };
        var architecture = new Option<MultiTaskArchitecture>("--architecture")
        {
            Description = "SharedBottom (bottom 256-128), Esmm (two nets of 256-128-64) or Mmoe (4 experts of 256-128); towers of 64", DefaultValueFactory = _ => MultiTaskArchitecture.SharedBottom,
        };
        var interactions = new Option<FeatureInteractions>("--interactions")
        {
            Description = "The input's interaction blocks (default None: the plain network, the shapes of tools/torch-reference); the trainer's default is FieldAware,PairwiseDot,CrossedEmbeddings",
            DefaultValueFactory = _ => FeatureInteractions.None,
        };
        var command = new Command("train", "One epoch of the reference network over the featurized default training split (data already loaded): end-to-end samples/s and the validation CTR AUC")
        {
            data, threads, device, architecture, interactions,
        };
        command.SetAction(result =>
        {
            var (train, valid, features, seconds) = EngineBenchmark.PrepareDefaultSplits(result.GetValue(data)?.FullName, 1_000_000, m => Console.Error.WriteLine(m), withValidation: true);
            Console.Error.WriteLine($"data ready: {train.Rows:N0} training rows featurized in {seconds:F1} s");
            Console.WriteLine(MetricsReport.Format(TrainBenchmark.Run(train, valid!, features, result.GetValue(threads), result.GetValue(device), result.GetValue(architecture),
                result.GetValue(interactions))));
            return 0;
        });
        return command;
    }

    private static Command Engine()
    {
        var data = new Option<DirectoryInfo?>("--data") { Description = "Folder with generated data (train.csv, schema.json); default: generate 1,000,000 rows (seed 42) into a temp folder" };
        var batch = new Option<int>("--batch") { Description = "Rows per train step", DefaultValueFactory = _ => MultiTaskTrainerOptions.Defaults.BatchSize }.AtLeast(1).AtMost(RuntimeOptions.MaxBatchRows);
        var threads = new Option<int>("--threads") { Description = "ONNX Runtime intra-op threads and host worker threads", DefaultValueFactory = _ => 2 }.AtLeast(1).AtMost(RuntimeOptions.MaxThreads);
        var steps = new Option<int>("--steps") { Description = "Measured steps (after 5 warm-up steps), in 5 windows; the median window is reported", DefaultValueFactory = _ => 100 }.AtLeast(1);
        var hostThreads = new Option<int>("--host-threads") { Description = "Host worker threads for fill, gather and sparse update (default: --threads)" }.AtLeast(0);
        var device = new Option<ExecutionDevice>("--device") { Description = "Auto, Cpu or Cuda", DefaultValueFactory = _ => ExecutionDevice.Cpu };
        var profile = new Option<bool>("--profile") { Description = "Then 20 steps under ONNX Runtime's profiler: ms per step by op type, each matrix product's GFLOP/s against the SGEMM reference" };
        var architecture = new Option<MultiTaskArchitecture>("--architecture") { Description = "SharedBottom (default), Esmm or Mmoe, in bench train's shapes", DefaultValueFactory = _ => MultiTaskArchitecture.SharedBottom };
        var command = new Command("engine", "Train steps of the reference network on featurized default data: samples/s, ORT and host ms per step, host share, managed bytes per step")
        {
            data, batch, threads, hostThreads, steps, device, profile, architecture,
        };
        command.SetAction(result =>
        {
            var (matrix, _, features, seconds) = EngineBenchmark.PrepareDefaultSplits(result.GetValue(data)?.FullName, 1_000_000, m => Console.Error.WriteLine(m), withValidation: false);
            Console.Error.WriteLine($"data ready: {matrix.Rows:N0} training rows featurized in {seconds:F1} s");
            var figures = EngineBenchmark.Run(matrix, features, result.GetValue(batch), result.GetValue(threads), result.GetValue(steps), result.GetValue(device), result.GetValue(hostThreads), result.GetValue(profile), result.GetValue(architecture));
            Console.WriteLine(MetricsReport.Format(figures));
            return 0;
        });
        return command;
    }
}
