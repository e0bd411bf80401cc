namespace Recommender.Trainers.Embeddings;

/// <summary>
/// A fixed set of threads for the per-step host work (gather, sparse updates): unlike
/// <see cref="Parallel.For(int, int, Action{int})"/> it allocates nothing per call, so a steady-state
/// training step stays allocation-free. The calling thread takes part as worker 0.
/// </summary>
public sealed class WorkerPool : IDisposable
{
    private readonly Thread[] _threads;
    private readonly ManualResetEventSlim[] _start;
    private readonly ManualResetEventSlim _done = new(false);
    private Action<int, int>? _work;
    private int _pending;
    private volatile bool _stopping;
    private Exception? _error;

    /// <summary>Creates a pool that runs work on <paramref name="workers"/> threads (the caller included).</summary>
    public WorkerPool(int workers)
    {
        Workers = Math.Max(1, workers);
        _threads = new Thread[Workers - 1];
        _start = new ManualResetEventSlim[Workers - 1];
        for (int i = 0; i < _threads.Length; i++)
        {
            int index = i + 1;
            _start[i] = new ManualResetEventSlim(false);
            _threads[i] = new Thread(() => Loop(index)) { IsBackground = true, Name = $"host-worker-{index}" };
            _threads[i].Start();
        }
    }

    /// <summary>Degree of parallelism.</summary>
    public int Workers { get; }

    /// <summary>Runs <paramref name="work"/>(worker, workers) on every worker and waits. Pass a cached delegate to stay allocation-free.</summary>
    public void Run(Action<int, int> work)
    {
        if (Workers == 1) { work(0, 1); return; }
        _work = work;
        _error = null;
        _done.Reset();
        Volatile.Write(ref _pending, Workers - 1);
        foreach (var s in _start) s.Set();
        try { work(0, Workers); }
        catch (Exception e) { Interlocked.CompareExchange(ref _error, e, null); }
        _done.Wait();
        // The first failure is rethrown as it was, whichever thread hit it.
        if (_error is { } error) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(error).Throw();
    }

    private void Loop(int index)
    {
        var start = _start[index - 1];
        while (true)
        {
            start.Wait();
            start.Reset();
            if (_stopping) return;
            try { _work!(index, Workers); }
            catch (Exception e) { Interlocked.CompareExchange(ref _error, e, null); }
            if (Interlocked.Decrement(ref _pending) == 0) _done.Set();
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _stopping = true;
        foreach (var s in _start) s.Set();
        foreach (var t in _threads) t.Join();
        foreach (var s in _start) s.Dispose();
        _done.Dispose();
    }
}
