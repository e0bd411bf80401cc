using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Threading.Channels;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Lifecycle;
using Recommender.Trainers.Runtime;

namespace Recommender.Pipeline.Scoring;

/// <summary>Options of <see cref="BatchScoringJob"/>.</summary>
public sealed class ScoringOptions
{
    /// <summary>Bundle folder.</summary>
    public required string Model { get; init; }
    /// <summary>Input file: CSV/TSV, or Parquet when it ends in .parquet (labels are not needed).</summary>
    public required string Input { get; init; }
    /// <summary>Output CSV.</summary>
    public required string Output { get; init; }
    /// <summary>Rows per chunk: the unit of streaming, partitioning and resuming.</summary>
    /// <remarks>8192 rows keep every per-chunk column array under the large-object-heap threshold, so the garbage
    /// collector reclaims chunks like any short-lived object and peak memory does not grow with the input.</remarks>
    public int ChunkRows { get; init; } = BatchedInference.DefaultBatchSize;
    /// <summary>Rows per inference batch.</summary>
    public int BatchSize { get; init; } = BatchedInference.DefaultBatchSize;
    /// <summary>This job's part of the input: chunk k belongs to partition k mod Count.</summary>
    public int PartitionIndex { get; init; }
    /// <summary>Number of partitions.</summary>
    public int PartitionCount { get; init; } = 1;
    /// <summary>Keep the finished chunks of an earlier, interrupted run.</summary>
    public bool Resume { get; init; }
    /// <summary>The ranking formula (see <see cref="RankingFormula"/>); null = the model's first prediction (PCtr for the default chain).</summary>
    public string? Ranking { get; init; }
    /// <summary>Where the network runs.</summary>
    public ExecutionDevice Device { get; init; } = ExecutionDevice.Auto;
    /// <summary>CPU threads of the inference session; 0 = one per core.</summary>
    public int Threads { get; init; }
    /// <summary>ONNX Runtime's threads spin between a batch's kernels; false where other work shares the cores.</summary>
    public bool AllowSpinning { get; init; } = true;
    /// <summary>Check the bundle's files against the manifest's SHA-256 (sizes are always checked).</summary>
    public bool VerifyHashes { get; init; } = true;
    /// <summary>Featurize through the compiled lookups where the featurization compiles (false: ML.NET's engine, for comparison).</summary>
    public bool CompiledFeaturization { get; init; } = true;
    /// <summary>Wait for another writer of the same output instead of failing.</summary>
    public bool WaitForLock { get; init; }
}

/// <summary>What a scoring run did.</summary>
public sealed record ScoringSummary(long RowsIn, long RowsOut, long Quarantined, int Chunks, int ChunksResumed, double Seconds, string Output, string Quarantine)
{
    /// <summary>Rows per second over the run.</summary>
    public double RowsPerSecond => RowsIn / Math.Max(Seconds, 1e-9);
}

/// <summary>
/// The nightly scoring job: streams the input in chunks through three stages on their own threads — read and
/// parse, featurize (ML.NET's transforms from the bundle) and infer (the bundle's ONNX network in batches),
/// write — joined by bounded queues, so memory stays bounded by a few chunks whatever the input's size. Each
/// chunk's output lands atomically as its own part file, so a resumed run skips what is done; the parts are
/// then joined, in order, into the output (atomically). Malformed rows go to a quarantine file with their reason.
/// </summary>
public static class BatchScoringJob
{
    private sealed record ReadChunk(int Index, TableChunk Rows, List<string> Quarantine);
    private sealed record ScoredChunk(int Index, byte[] Csv, int CsvLength, byte[] Quarantine, int Rows);

    // Text buffers reused from chunk to chunk (see BundleScorer for why reuse matters here).
    private sealed class CsvBuffers
    {
        public readonly StringBuilder Csv = new();
        public readonly Queue<byte[]> FreeBuffers = new();
    }

    /// <summary>The file in the parts folder that records which job the parts belong to.</summary>
    public const string JobFile = "job.json";

    /// <summary>Runs the job; <paramref name="progress"/> gets the rows read so far; <paramref name="cancel"/> stops it between chunks, leaving the finished parts for <c>--resume</c>.</summary>
    public static ScoringSummary Run(ScoringOptions o, Action<long>? progress = null, CancellationToken cancel = default)
    {
        if (o.PartitionCount < 1 || o.PartitionIndex < 0 || o.PartitionIndex >= o.PartitionCount)
            throw new ArgumentException($"partition {o.PartitionIndex}/{o.PartitionCount} is not valid: use i/n with 0 <= i < n");
        if (o.ChunkRows < 1 || o.ChunkRows > RuntimeOptions.MaxBatchRows) throw new ArgumentException($"--chunk-rows must be 1 to {RuntimeOptions.MaxBatchRows}, got {o.ChunkRows}");
        if (o.BatchSize < 1 || o.BatchSize > RuntimeOptions.MaxBatchRows) throw new ArgumentException($"--batch-size must be 1 to {RuntimeOptions.MaxBatchRows}, got {o.BatchSize}");
        if (o.Threads < 0 || o.Threads > RuntimeOptions.MaxThreads) throw new ArgumentException($"--threads must be 0 (one per core) to {RuntimeOptions.MaxThreads}, got {o.Threads}");
        string output = Path.GetFullPath(o.Output), input = Path.GetFullPath(o.Input);
        if (Directory.Exists(output)) throw new IOException($"{o.Output}: a folder; --output is the file to write");
        if (output == input) throw new IOException($"{o.Output}: the output is the input; choose another output file");
        if (!File.Exists(input)) throw new FileNotFoundException($"{o.Input}: file not found", o.Input);
        var clock = Stopwatch.StartNew();
        using var outputLock = WriterLock.Acquire(output, o.WaitForLock, cancel);
        // Under the lock, temp files beside the output can only be a killed run's.
        foreach (var stale in Directory.EnumerateFiles(Path.GetDirectoryName(output)!, Path.GetFileName(output) + ".*.tmp")) File.Delete(stale);
        var bundle = ModelBundle.Open(o.Model, o.VerifyHashes);
        if (output.StartsWith(bundle.Directory + Path.DirectorySeparatorChar, StringComparison.Ordinal)) throw new IOException($"{o.Output}: inside the model bundle, which is immutable");
        using var scorer = BundleScorer.Open(bundle, o.BatchSize, new RuntimeOptions { Device = o.Device, Threads = o.Threads, AllowSpinning = o.AllowSpinning }, o.CompiledFeaturization);
        var schema = scorer.Metadata.Schema.WithoutLabels();
        schema.SkipBadRows = true;
        if (input.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase)) schema.Format = DataFormat.Parquet;
        var reader = DataLoader.Open(schema, input);
        var resolved = reader.Resolved;
        string ranking = o.Ranking ?? scorer.Outputs[0];
        var formula = RankingFormula.Parse(ranking, scorer.Outputs, resolved.DenseFeatures);

        // The parts of a resumed run must be this job's: same input, model, chunking, partition, formula and device.
        var job = FileIdentity.Add(new JobFingerprint(), "input", input).With("model.manifest_sha256", bundle.ManifestSha256).With("chunk_rows", o.ChunkRows)
            .With("partition", $"{o.PartitionIndex}/{o.PartitionCount}").With("ranking", formula.Canonical).With("device", o.Device).With("output_format", 1);
        string parts = output + ".parts";
        string jobFile = Path.Combine(parts, JobFile);
        if (o.Resume && Directory.Exists(parts))
        {
            if (!File.Exists(jobFile)) throw new InvalidDataException($"{parts}: no {JobFile}, so nothing proves these parts are this job's; score again without --resume");
            job.RequireSameAs(JobFingerprint.FromJson(File.ReadAllText(jobFile)), $"{parts}");
        }
        else
        {
            if (Directory.Exists(parts)) Directory.Delete(parts, recursive: true);
            Directory.CreateDirectory(parts);
            AtomicFile.WriteAllText(jobFile, job.ToJson());
        }
        foreach (var stale in Directory.EnumerateFiles(parts, "*.tmp")) File.Delete(stale);
        string Part(int k) => Path.Combine(parts, $"part-{k:D6}.csv");
        string QuarantinePart(int k) => Path.Combine(parts, $"quarantine-{k:D6}.csv");

        var toScore = Channel.CreateBounded<ReadChunk>(2);
        var toWrite = Channel.CreateBounded<ScoredChunk>(2);
        long rowsIn = 0, quarantined = 0;
        int chunks = 0, resumed = 0;
        var scratch = new CsvBuffers();
        var idColumns = resolved.TextColumns.Where(c => c is DatasetSchema.UserColumn or DatasetSchema.ItemColumn or DatasetSchema.GroupColumn).ToArray();
        // One stage failing (a full disk in the writer, a bad file in the reader) cancels the others, which would
        // otherwise wait forever on a queue that no one drains or fills.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var token = stop.Token;

        var readTask = Task.Run(async () =>
        {
            try
            {
                var pending = new List<string>();
                int index = 0;
                foreach (var chunk in ReadChunks(reader, o.ChunkRows, pending))
                {
                    token.ThrowIfCancellationRequested();
                    rowsIn += chunk.Count + pending.Count;
                    quarantined += pending.Count;
                    progress?.Invoke(rowsIn);
                    int k = index++;
                    chunks = index;
                    var q = new List<string>(pending);
                    pending.Clear();
                    if (k % o.PartitionCount != o.PartitionIndex) continue;
                    if (File.Exists(Part(k))) { resumed++; continue; }
                    await toScore.Writer.WriteAsync(new ReadChunk(k, chunk, q), token);
                }
            }
            catch { stop.Cancel(); throw; }
            finally { toScore.Writer.Complete(); }
        });
        var writeTask = Task.Run(async () =>
        {
            try
            {
                await foreach (var scored in toWrite.Reader.ReadAllAsync(token))
                {
                    // Quarantine first: a chunk counts as done once its output part exists.
                    AtomicFile.Write(QuarantinePart(scored.Index), s => s.Write(scored.Quarantine));
                    AtomicFile.Write(Part(scored.Index), s => s.Write(scored.Csv, 0, scored.CsvLength));
                    FaultInjection.Point("score.part-written");
                    lock (scratch.FreeBuffers) scratch.FreeBuffers.Enqueue(scored.Csv);
                }
            }
            catch { stop.Cancel(); throw; }
        });
        Exception? inferFailure = null;
        try
        {
            int scoredChunks = 0;
            foreach (var chunk in toScore.Reader.ReadAllAsync(token).ToBlockingEnumerable(token))
            {
                // Every chunk allocates multi-megabyte column arrays (parsing, ML.NET's transforms) on the
                // large-object heap, which is only compacted on request: without this the process would grow
                // with the length of the input instead of staying at a few chunks' worth.
                if (++scoredChunks % 16 == 0)
                {
                    System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
                    GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
                }
                toWrite.Writer.WriteAsync(Score(chunk, scorer, resolved, idColumns, formula, scratch), token).AsTask().GetAwaiter().GetResult();
            }
        }
        catch (Exception e) { inferFailure = e; stop.Cancel(); }
        finally { toWrite.Writer.Complete(); }
        // The root cause wins over the cancellations it caused in the other stages.
        var failures = new[] { Outcome(readTask), Outcome(writeTask), inferFailure }.Where(e => e is not null).ToList();
        if (failures.FirstOrDefault(e => e is not OperationCanceledException) is { } cause) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(cause);
        if (failures.Count > 0) throw new OperationCanceledException(cancel.IsCancellationRequested ? cancel : token);

        // Join this partition's parts in order into the output, and check the row count before anything is published.
        FaultInjection.Point("score.before-join");
        string quarantine = output + ".quarantine.csv";
        long rowsOut = 0, quarantineRows = 0;
        var copyBuffer = new byte[1 << 20];
        using var quarantineStream = AtomicFile.CreateTemp(quarantine, out var quarantineTemp);
        using var outputStream = AtomicFile.CreateTemp(output, out var outputTemp);
        try
        {
            quarantineStream.Write(Encoding.UTF8.GetBytes("line,reason\n"));
            for (int k = o.PartitionIndex; k < chunks; k += o.PartitionCount) quarantineRows += Append(QuarantinePart(k), quarantineStream, copyBuffer);
            outputStream.Write(Encoding.UTF8.GetBytes(string.Join(',', idColumns.Concat(scorer.Outputs).Append("RankScore")) + "\n"));
            for (int k = o.PartitionIndex; k < chunks; k += o.PartitionCount) rowsOut += Append(Part(k), outputStream, copyBuffer);
            long partitionRowsIn = rowsOut + quarantineRows;
            if (o.PartitionCount == 1 && partitionRowsIn != rowsIn)
                throw new InvalidDataException($"row count check failed: {rowsIn:N0} rows in, {rowsOut:N0} out + {quarantineRows:N0} quarantined; nothing was published");
            cancel.ThrowIfCancellationRequested();
            // The quarantine file exists only when rows were quarantined; one left by an earlier run of this output goes.
            if (quarantineRows > 0) AtomicFile.Commit(quarantineStream, quarantineTemp, quarantine);
            else
            {
                AtomicFile.Abandon(quarantineStream, quarantineTemp);
                File.Delete(quarantine);
            }
            FaultInjection.Point("score.before-output");
            AtomicFile.Commit(outputStream, outputTemp, output);
        }
        catch
        {
            AtomicFile.Abandon(quarantineStream, quarantineTemp);
            AtomicFile.Abandon(outputStream, outputTemp);
            throw;
        }
        FaultInjection.Point("score.after-output");
        Directory.Delete(parts, recursive: true);
        return new ScoringSummary(o.PartitionCount == 1 ? rowsIn : rowsOut + quarantineRows, rowsOut, quarantineRows, chunks, resumed, clock.Elapsed.TotalSeconds, output,
            quarantineRows > 0 ? quarantine : "");
    }

    private static Exception? Outcome(Task task)
    {
        try { task.GetAwaiter().GetResult(); return null; }
        catch (Exception e) { return e; }
    }

    // Copies a part into the output through one buffer and counts its lines.
    private static long Append(string path, Stream output, byte[] buffer)
    {
        long lines = 0;
        using var input = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
        int read;
        while ((read = input.Read(buffer, 0, buffer.Length)) > 0)
        {
            output.Write(buffer, 0, read);
            lines += buffer.AsSpan(0, read).Count((byte)'\n');
        }
        return lines;
    }

    // Fixed-size chunks of kept rows; the rejected rows met while filling a chunk belong to it.
    private static IEnumerable<TableChunk> ReadChunks(ITableReader reader, int chunkRows, List<string> rejected)
    {
        return reader.ReadChunks(new LoadReport(), chunkRows, (record, error) =>
            rejected.Add($"{error.Line},\"{error.Reason.Replace("\"", "\"\"")}\""));
    }

    private static ScoredChunk Score(ReadChunk chunk, BundleScorer scorer, ResolvedSchema resolved, string[] idColumns, RankingFormula formula, CsvBuffers scratch)
    {
        var rows = chunk.Rows;
        int n = rows.Count;
        var predictions = scorer.Predict(rows, resolved.TextColumns, resolved.NumberColumns);
        var idIndex = idColumns.Select(c => Array.IndexOf(resolved.TextColumns, c)).ToArray();
        var csv = scratch.Csv.Clear();
        var inv = CultureInfo.InvariantCulture;
        for (int r = 0; r < n; r++)
        {
            foreach (int c in idIndex) csv.Append(Csv(rows.Text[c][r])).Append(',');
            int outputs = scorer.Outputs.Count;
            var p = predictions.AsSpan(r * outputs, outputs);
            for (int c = 0; c < outputs; c++) csv.Append(inv, $"{p[c]:R},");
            csv.Append(inv, $"{formula.Evaluate(p, rows.Numbers, r):R}\n");
        }
        var quarantine = string.Concat(chunk.Quarantine.Select(q => q + "\n"));
        byte[]? text = null;
        lock (scratch.FreeBuffers) if (scratch.FreeBuffers.Count > 0) text = scratch.FreeBuffers.Dequeue();
        int length = 0;
        foreach (var piece in csv.GetChunks()) length += Encoding.UTF8.GetByteCount(piece.Span);
        if (text is null || text.Length < length) text = new byte[length + length / 4];
        int at = 0;
        foreach (var piece in csv.GetChunks()) at += Encoding.UTF8.GetBytes(piece.Span, text.AsSpan(at));
        return new ScoredChunk(chunk.Index, text, length, Encoding.UTF8.GetBytes(quarantine), n);
    }

    private static string Csv(string value) => value.AsSpan().IndexOfAny(",\"\n") < 0 ? value : "\"" + value.Replace("\"", "\"\"") + "\"";
}
