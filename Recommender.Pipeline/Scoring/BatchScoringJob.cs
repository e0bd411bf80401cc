using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Threading.Channels;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Jobs;
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
    public int ChunkRows { get; init; } = 8192;
    /// <summary>Rows per inference batch.</summary>
    public int BatchSize { get; init; } = 8192;
    /// <summary>This job's part of the input: chunk k belongs to partition k mod Count.</summary>
    public int PartitionIndex { get; init; }
    /// <summary>Number of partitions.</summary>
    public int PartitionCount { get; init; } = 1;
    /// <summary>Keep the finished chunks of an earlier, interrupted run.</summary>
    public bool Resume { get; init; }
    /// <summary>The ranking formula (see <see cref="RankingFormula"/>).</summary>
    public string Ranking { get; init; } = "pctr";
    /// <summary>Where the network runs.</summary>
    public ExecutionDevice Device { get; init; } = ExecutionDevice.Auto;
    /// <summary>CPU threads of the inference session; 0 = one per core.</summary>
    public int Threads { get; init; }
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

    /// <summary>Runs the job; <paramref name="progress"/> gets (rows read so far, input bytes read, input size).</summary>
    public static ScoringSummary Run(ScoringOptions o, Action<long>? progress = null)
    {
        if (o.PartitionCount < 1 || o.PartitionIndex < 0 || o.PartitionIndex >= o.PartitionCount)
            throw new ArgumentException($"partition {o.PartitionIndex}/{o.PartitionCount} is not valid: use i/n with 0 <= i < n");
        var clock = Stopwatch.StartNew();
        using var scorer = BundleScorer.Open(o.Model, o.BatchSize, new RuntimeOptions { Device = o.Device, Threads = o.Threads });
        var schema = scorer.Metadata.Schema.WithoutLabels();
        schema.SkipBadRows = true;
        if (o.Input.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase)) schema.Format = DataFormat.Parquet;
        var reader = DataLoader.Open(schema, o.Input);
        var resolved = reader.Resolved;
        var formula = RankingFormula.Parse(o.Ranking, resolved.DenseFeatures);

        string parts = o.Output + ".parts";
        if (!o.Resume && Directory.Exists(parts)) Directory.Delete(parts, recursive: true);
        Directory.CreateDirectory(parts);
        string Part(int k) => Path.Combine(parts, $"part-{k:D6}.csv");
        string QuarantinePart(int k) => Path.Combine(parts, $"quarantine-{k:D6}.csv");

        var toScore = Channel.CreateBounded<ReadChunk>(2);
        var toWrite = Channel.CreateBounded<ScoredChunk>(2);
        long rowsIn = 0, quarantined = 0;
        int chunks = 0, resumed = 0;
        var scratch = new CsvBuffers();
        var idColumns = resolved.TextColumns.Where(c => c is DatasetSchema.UserColumn or DatasetSchema.ItemColumn or DatasetSchema.GroupColumn).ToArray();

        var readTask = Task.Run(async () =>
        {
            try
            {
                var pending = new List<string>();
                int index = 0;
                foreach (var chunk in ReadChunks(reader, o.ChunkRows, pending))
                {
                    rowsIn += chunk.Count + pending.Count;
                    quarantined += pending.Count;
                    progress?.Invoke(rowsIn);
                    int k = index++;
                    chunks = index;
                    var q = new List<string>(pending);
                    pending.Clear();
                    if (k % o.PartitionCount != o.PartitionIndex) continue;
                    if (File.Exists(Part(k))) { resumed++; continue; }
                    await toScore.Writer.WriteAsync(new ReadChunk(k, chunk, q));
                }
            }
            finally { toScore.Writer.Complete(); }
        });
        var writeTask = Task.Run(async () =>
        {
            await foreach (var scored in toWrite.Reader.ReadAllAsync())
            {
                // Quarantine first: a chunk counts as done once its output part exists.
                AtomicFile.Write(QuarantinePart(scored.Index), s => s.Write(scored.Quarantine));
                AtomicFile.Write(Part(scored.Index), s => s.Write(scored.Csv, 0, scored.CsvLength));
                lock (scratch.FreeBuffers) scratch.FreeBuffers.Enqueue(scored.Csv);
            }
        });
        try
        {
            int scoredChunks = 0;
            foreach (var chunk in toScore.Reader.ReadAllAsync().ToBlockingEnumerable())
            {
                // Every chunk allocates multi-megabyte column arrays (parsing, ML.NET's transforms) on the
                // large-object heap, which is only compacted on request: without this the process would grow
                // with the length of the input instead of staying at a few chunks' worth.
                if (++scoredChunks % 16 == 0)
                {
                    System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
                    GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
                }
                toWrite.Writer.WriteAsync(Score(chunk, scorer, resolved, idColumns, formula, scratch)).AsTask().GetAwaiter().GetResult();
            }
        }
        finally { toWrite.Writer.Complete(); }
        readTask.GetAwaiter().GetResult();
        writeTask.GetAwaiter().GetResult();

        // Join this partition's parts in order into the output, and check the row count.
        string quarantine = o.Output + ".quarantine.csv";
        long rowsOut = 0, quarantineRows = 0;
        var copyBuffer = new byte[1 << 20];
        AtomicFile.Write(o.Output, s =>
        {
            var header = Encoding.UTF8.GetBytes(string.Join(',', idColumns.Concat(ScoredColumns.MultiTask).Append("RankScore")) + "\n");
            s.Write(header);
            for (int k = o.PartitionIndex; k < chunks; k += o.PartitionCount) rowsOut += Append(Part(k), s, copyBuffer);
        });
        AtomicFile.Write(quarantine, s =>
        {
            s.Write(Encoding.UTF8.GetBytes("line,reason\n"));
            for (int k = o.PartitionIndex; k < chunks; k += o.PartitionCount) quarantineRows += Append(QuarantinePart(k), s, copyBuffer);
        });
        long partitionRowsIn = rowsOut + quarantineRows;
        if (o.PartitionCount == 1 && partitionRowsIn != rowsIn)
            throw new InvalidOperationException($"row count check failed: {rowsIn:N0} rows in, {rowsOut:N0} out + {quarantineRows:N0} quarantined");
        Directory.Delete(parts, recursive: true);
        return new ScoringSummary(o.PartitionCount == 1 ? rowsIn : partitionRowsIn, rowsOut, quarantineRows, chunks, resumed, clock.Elapsed.TotalSeconds, o.Output, quarantine);
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
            var p = predictions.AsSpan(r * 4, 4);
            for (int c = 0; c < 4; c++) csv.Append(inv, $"{p[c]:R},");
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
