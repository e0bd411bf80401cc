using System.CommandLine;
using Recommender.Pipeline.Scoring;
using Recommender.Trainers.Runtime;

namespace Recommender.Pipeline.Cli;

/// <summary><c>score</c>: the batch scoring job.</summary>
internal static class ScoreCommand
{
    public static Command Create(CancellationToken cancel)
    {
        var model = new Option<DirectoryInfo>("--model") { Description = "Bundle folder written by train", Required = true };
        var input = new Option<FileInfo>("--input") { Description = "CSV/TSV to score, with the columns of the bundle's schema (labels not needed)", Required = true };
        var output = new Option<FileInfo>("--output") { Description = "Output CSV: id columns, the model's predictions (PCtr, PCvr, PCtcvr, PredictedRating for the default chain; P_task, Pred_task for declared tasks), RankScore", Required = true };
        var rank = new Option<string?>("--rank") { Description = "Ranking formula: a product of the model's predictions (P_task, Pred_task; pctr, pcvr, pctcvr, rating for the default chain), dense columns and numbers, each with an optional ^exponent (default: the first prediction)" };
        var partition = new Option<string>("--partition") { Description = "i/n: score the chunks k with k mod n = i (run the n parts anywhere)", DefaultValueFactory = _ => "0/1" };
        var resume = new Option<bool>("--resume") { Description = "Keep the chunks an interrupted run finished" };
        var chunkRows = new Option<int>("--chunk-rows") { Description = "Rows per chunk (the unit of streaming, partitioning and resuming)", DefaultValueFactory = _ => Recommender.Trainers.Runtime.BatchedInference.DefaultBatchSize }.AtLeast(1).AtMost(RuntimeOptions.MaxBatchRows);
        var batch = new Option<int>("--batch-size") { Description = "Rows per inference batch", DefaultValueFactory = _ => Recommender.Trainers.Runtime.BatchedInference.DefaultBatchSize }.AtLeast(1).AtMost(RuntimeOptions.MaxBatchRows);
        var device = new Option<ExecutionDevice>("--device") { Description = "Auto, Cpu or Cuda", DefaultValueFactory = _ => ExecutionDevice.Auto };
        var threads = new Option<int>("--threads") { Description = "Inference threads (default: one per core)" }.AtLeast(0).AtMost(RuntimeOptions.MaxThreads);
        var noSpinning = SpinningOption.Create();
        var wait = new Option<bool>("--wait") { Description = "If another job is writing the same output, wait for it instead of failing" };
        var skipHashes = new Option<bool>("--skip-hash-check") { Description = "Check the bundle's file sizes against its manifest but not their SHA-256 (faster start for large bundles)" };
        var command = new Command("score", "Score a file of any size with a model bundle: streamed in chunks, batched inference, atomic per-chunk parts (resumable), partitionable, bad rows quarantined")
        {
            model, input, output, rank, partition, resume, chunkRows, batch, device, threads, noSpinning, wait, skipHashes,
        };
        command.SetAction(result =>
        {
            var p = result.GetValue(partition)!.Split('/');
            if (p.Length != 2 || !int.TryParse(p[0], out int index) || !int.TryParse(p[1], out int count))
                throw new Data.SchemaException($"--partition must be i/n, got '{result.GetValue(partition)}'");
            var options = new ScoringOptions
            {
                Model = result.GetValue(model)!.FullName, Input = result.GetValue(input)!.FullName, Output = result.GetValue(output)!.FullName,
                Ranking = result.GetValue(rank), PartitionIndex = index, PartitionCount = count, Resume = result.GetValue(resume),
                ChunkRows = result.GetValue(chunkRows), BatchSize = result.GetValue(batch), Device = result.GetValue(device), Threads = result.GetValue(threads),
                AllowSpinning = !result.GetValue(noSpinning), WaitForLock = result.GetValue(wait), VerifyHashes = !result.GetValue(skipHashes),
            };
            long estimate = EstimateRows(options.Input);
            ScoringSummary summary;
            using (var bar = new ProgressBar("score"))
                summary = BatchScoringJob.Run(options, rows => bar.Report(rows, Math.Max(estimate, rows)), cancel);
            Console.WriteLine($"rows in {summary.RowsIn:N0}, rows out {summary.RowsOut:N0}, quarantined {summary.Quarantined:N0}{(summary.Quarantine.Length > 0 ? $" ({summary.Quarantine})" : "")}, " +
                $"{summary.Chunks:N0} chunks ({summary.ChunksResumed:N0} kept from an earlier run), {summary.Seconds:F1} s, {summary.RowsPerSecond:N0} rows/s, " +
                $"peak memory {System.Diagnostics.Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0:N0} MB");
            if (Environment.GetEnvironmentVariable("RECOMMENDER_MEMORY_DIAGNOSTICS") == "1")
            {
                var info = GC.GetGCMemoryInfo();
                var process = System.Diagnostics.Process.GetCurrentProcess();
                Console.Error.WriteLine($"memory: peak {process.PeakWorkingSet64 >> 20} MB, now {process.WorkingSet64 >> 20} MB, managed heap {info.HeapSizeBytes >> 20} MB, committed {info.TotalCommittedBytes >> 20} MB, gen2 collections {GC.CollectionCount(2)}");
            }
            return 0;
        });
        return command;
    }

    // The total for the progress bar's ETA: file size over the mean length of the first lines (text input).
    private static long EstimateRows(string path)
    {
        if (path.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase) || !File.Exists(path)) return 0;
        long size = new FileInfo(path).Length, bytes = 0;
        int lines = 0;
        using (var reader = new StreamReader(path))
            for (string? line = reader.ReadLine(); line is not null && lines < 1000 && bytes < 1 << 22; line = reader.ReadLine()) { bytes += line.Length + 1; lines++; }
        return lines == 0 ? 0 : size * lines / bytes;
    }
}
