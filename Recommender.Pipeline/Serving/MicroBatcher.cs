using System.Collections.Concurrent;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Scoring;

namespace Recommender.Pipeline.Serving;

/// <summary>
/// Dynamic micro-batching: concurrent requests' rows are coalesced into one featurization and one ONNX Runtime
/// run. One worker thread owns the scorer; when it is free it takes every request queued (up to
/// <see cref="ServingOptions.MaxBatchRows"/> rows, waiting at most <see cref="ServingOptions.MaxWaitMicroseconds"/>
/// for more), so batches grow with the load and a lone request is not delayed. Results go back per request.
/// </summary>
public sealed class MicroBatcher : IDisposable
{
    private sealed record Work(TableChunk Rows, TaskCompletionSource<float[]> Done);

    // A blocking queue, not a channel: the worker is a thread of its own, and a channel's async wake-up would go
    // through the thread pool, which under load is busy with the very requests waiting for this worker.
    private readonly BlockingCollection<Work> _queue = new(new ConcurrentQueue<Work>());
    private readonly BundleScorer _scorer;
    private readonly string[] _textColumns, _numberColumns;
    private readonly int _maxRows;
    private readonly TimeSpan _maxWait;
    private readonly Thread _worker;

    /// <summary>Starts the worker over <paramref name="scorer"/>.</summary>
    public MicroBatcher(BundleScorer scorer, string[] textColumns, string[] numberColumns, int maxRows, int maxWaitMicroseconds)
    {
        _scorer = scorer;
        _textColumns = textColumns;
        _numberColumns = numberColumns;
        _maxRows = maxRows;
        _maxWait = TimeSpan.FromTicks(maxWaitMicroseconds * 10L);
        _worker = new Thread(Loop) { IsBackground = true, Name = "micro-batcher" };
        _worker.Start();
    }

    /// <summary>Gets the row count of each run (for metrics).</summary>
    public Action<int>? BatchObserved { get; set; }

    /// <summary>Requests waiting for the worker.</summary>
    public int QueueDepth => _queue.Count;

    /// <summary>Scores <paramref name="rows"/> (columns as the constructor named them): four predictions per row.</summary>
    public Task<float[]> ScoreAsync(TableChunk rows)
    {
        var work = new Work(rows, new TaskCompletionSource<float[]>(TaskCreationOptions.RunContinuationsAsynchronously));
        try { _queue.Add(work); }
        catch (InvalidOperationException) { work.Done.SetException(new ObjectDisposedException(nameof(MicroBatcher))); }
        return work.Done.Task;
    }

    private void Loop()
    {
        var batch = new List<Work>();
        while (_queue.TryTake(out var first, Timeout.Infinite))
        {
            batch.Clear();
            batch.Add(first);
            int rows = first.Rows.Count;
            var deadline = DateTime.UtcNow + _maxWait;
            while (rows < _maxRows)
            {
                if (_queue.TryTake(out var work))
                {
                    batch.Add(work);
                    rows += work.Rows.Count;
                    continue;
                }
                if (DateTime.UtcNow >= deadline) break;
                Thread.Yield(); // within the wait: look again
            }
            Run(batch, rows);
        }
    }

    private void Run(List<Work> batch, int rows)
    {
        try
        {
            var chunk = batch.Count == 1 ? batch[0].Rows : Concatenate(batch, rows);
            var predictions = _scorer.Predict(chunk, _textColumns, _numberColumns);
            BatchObserved?.Invoke(rows);
            int offset = 0;
            foreach (var work in batch)
            {
                int outputs = _scorer.Outputs.Count;
                var mine = predictions.AsSpan(offset * outputs, work.Rows.Count * outputs).ToArray();
                offset += work.Rows.Count;
                work.Done.TrySetResult(mine);
            }
        }
        catch (Exception e)
        {
            foreach (var work in batch) work.Done.TrySetException(e);
        }
    }

    private TableChunk Concatenate(List<Work> batch, int rows)
    {
        var chunk = new TableChunk(_textColumns.Length, _numberColumns.Length, rows);
        int at = 0;
        foreach (var work in batch)
        {
            int n = work.Rows.Count;
            for (int c = 0; c < _textColumns.Length; c++) Array.Copy(work.Rows.Text[c], 0, chunk.Text[c], at, n);
            for (int c = 0; c < _numberColumns.Length; c++) Array.Copy(work.Rows.Numbers[c], 0, chunk.Numbers[c], at, n);
            at += n;
        }
        chunk.Count = rows;
        return chunk;
    }

    /// <summary>Finishes the queued work, then stops the worker.</summary>
    public void Dispose()
    {
        _queue.CompleteAdding();
        _worker.Join();
        // The queue is not disposed: a metrics scrape may still read the depth of a version just swapped out.
    }
}
