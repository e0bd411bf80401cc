namespace Recommender.Trainers.Embeddings;

/// <summary>
/// One embedding table per categorical field, gathered into and updated from a batch laid out as
/// <c>[batch, fields * dim]</c> (field f of row b at <c>b * fields * dim + f * dim</c>): the layout of the
/// train step's embedding input. Work is split across fields, so no two threads touch the same table.
/// </summary>
public sealed class FieldEmbeddings : IDisposable
{
    private readonly WorkerPool _pool;
    private readonly Action<int, int> _gatherWork, _updateWork;
    private int[] _ids = [];
    private float[] _buffer = [];
    private int _batch;
    private SparseOptimizer? _optimizer;
    private float _learningRate;
    private long _step;

    /// <summary>Creates the tables: <paramref name="rows"/>[f] rows (vocabulary + 1) of width <paramref name="dim"/> for field f.</summary>
    public FieldEmbeddings(IReadOnlyList<int> rows, int dim, int seed, float initStd = 0.01f, int threads = 0)
        : this(rows.Select((r, f) => new EmbeddingTable(r, dim, seed + 7919 * f, initStd)).ToArray(), dim, threads)
    {
    }

    /// <summary>Wraps existing tables (a trained model's), all of width <paramref name="dim"/>.</summary>
    public FieldEmbeddings(IReadOnlyList<float[]> tables, int dim, int threads = 0)
        : this(tables.Select(t => new EmbeddingTable(dim, t)).ToArray(), dim, threads)
    {
    }

    private FieldEmbeddings(EmbeddingTable[] tables, int dim, int threads)
    {
        Dim = dim;
        Tables = tables;
        _pool = new WorkerPool(threads > 0 ? threads : Math.Min(Environment.ProcessorCount, Math.Max(1, tables.Length)));
        _gatherWork = GatherPart;
        _updateWork = UpdatePart;
    }

    /// <summary>The host worker threads, shared with other per-step host work (the batch fill).</summary>
    public WorkerPool Workers => _pool;

    /// <summary>Number of fields.</summary>
    public int Fields => Tables.Length;

    /// <summary>Embedding width.</summary>
    public int Dim { get; }

    /// <summary>The tables, one per field.</summary>
    public EmbeddingTable[] Tables { get; }

    /// <summary>Bytes of weights (excluding optimizer state).</summary>
    public long WeightBytes => Tables.Sum(t => t.Weights.LongLength * 4);

    /// <summary>Copies the rows of <paramref name="ids"/>[batch * fields] into <paramref name="output"/>[batch * fields * dim].</summary>
    public void Gather(int[] ids, int batch, float[] output)
    {
        if (ids.Length < batch * Fields || output.Length < batch * Fields * Dim) throw new ArgumentException("buffers too small for the batch");
        _ids = ids; _buffer = output; _batch = batch;
        _pool.Run(_gatherWork);
    }

    /// <summary>Applies the gradient of the gathered batch (same layout as <see cref="Gather"/>'s output) with a sparse optimizer.</summary>
    public void Update(int[] ids, int batch, float[] gradient, SparseOptimizer optimizer, float learningRate, long step)
    {
        _ids = ids; _buffer = gradient; _batch = batch; _optimizer = optimizer; _learningRate = learningRate; _step = step;
        _pool.Run(_updateWork);
    }

    private unsafe void GatherPart(int worker, int workers)
    {
        int fields = Fields, dim = Dim, stride = fields * dim;
        for (int f = worker; f < fields; f += workers)
        {
            var table = Tables[f];
            var weights = table.Weights;
            int rows = table.Rows;
            fixed (float* w = weights)
            {
                for (int b = 0; b < _batch; b++)
                {
                    int id = _ids[b * fields + f];
                    if ((uint)id >= (uint)rows) throw new ArgumentOutOfRangeException(nameof(_ids), $"field {f}: id {id} outside 0..{rows - 1}");
                    // Rows are scattered over the table: ask for a later row's cache line early.
                    if (System.Runtime.Intrinsics.X86.Sse.IsSupported && b + 4 < _batch)
                    {
                        int ahead = _ids[(b + 4) * fields + f];
                        if ((uint)ahead < (uint)rows) System.Runtime.Intrinsics.X86.Sse.Prefetch0(w + (long)ahead * dim);
                    }
                    new ReadOnlySpan<float>(w + (long)id * dim, dim).CopyTo(_buffer.AsSpan(b * stride + f * dim, dim));
                }
            }
        }
    }

    private void UpdatePart(int worker, int workers)
    {
        int fields = Fields, dim = Dim;
        for (int f = worker; f < fields; f += workers)
            _optimizer!.Update(Tables[f], _ids, f, fields, _buffer, f * dim, fields * dim, _batch, _learningRate, _step);
    }

    /// <inheritdoc/>
    public void Dispose() => _pool.Dispose();
}
