namespace Recommender.Trainers.Embeddings;

/// <summary>
/// One embedding table per categorical field, gathered into and updated from a batch laid out as
/// <c>[batch, fields * dim]</c> (field f of row b at <c>b * fields * dim + f * dim</c>): the layout of the
/// train step's embedding input. Fields may share a table (the positions of a behaviour sequence share their id
/// field's): <c>tableOf[f]</c> is the field whose table field f reads, and the update sums a shared table's gradients
/// over its fields into one update per row. Updates are split across tables, so no two threads touch the same one.
/// </summary>
public sealed class FieldEmbeddings : IDisposable
{
    private readonly WorkerPool _pool;
    private readonly Action<int, int> _gatherWork, _updateWork;
    // Per table owner: its fields (the owner first), their id offsets and gradient offsets in a batch row.
    private readonly (int Owner, int[] Fields, int[] GradOffsets)[] _groups;
    private readonly int _idStride;
    private int[] _ids = [];
    private float[] _buffer = [];
    private int _batch;
    private SparseOptimizer? _optimizer;
    private float _learningRate;
    private long _step;

    /// <summary>
    /// Creates the tables: <paramref name="rows"/>[f] rows (vocabulary + 1) of width <paramref name="dim"/> for field f, or,
    /// where <paramref name="tableOf"/>[f] names another field, that field's table.
    /// </summary>
    public FieldEmbeddings(IReadOnlyList<int> rows, int dim, int seed, float initStd = 0.01f, int threads = 0, IReadOnlyList<int>? tableOf = null, int idStride = 0)
        : this(Create(rows, dim, seed, initStd, tableOf), dim, threads, tableOf, idStride)
    {
    }

    /// <summary>Wraps existing tables (a trained model's), all of width <paramref name="dim"/>; <paramref name="tableOf"/> as above.</summary>
    public FieldEmbeddings(IReadOnlyList<float[]> tables, int dim, int threads = 0, IReadOnlyList<int>? tableOf = null, int idStride = 0)
        : this(tables.Select(t => new EmbeddingTable(dim, t)).ToArray(), dim, threads, tableOf, idStride)
    {
    }

    private static EmbeddingTable[] Create(IReadOnlyList<int> rows, int dim, int seed, float initStd, IReadOnlyList<int>? tableOf)
    {
        var tables = new EmbeddingTable[rows.Count];
        for (int f = 0; f < rows.Count; f++)
            tables[f] = tableOf is not null && tableOf[f] != f ? null! : new EmbeddingTable(rows[f], dim, seed + 7919 * f, initStd);
        return tables;
    }

    private FieldEmbeddings(EmbeddingTable[] tables, int dim, int threads, IReadOnlyList<int>? tableOf, int idStride)
    {
        Dim = dim;
        if (idStride != 0 && idStride < tables.Length) throw new ArgumentException($"an id stride of {idStride} is less than the {tables.Length} fields");
        _idStride = idStride == 0 ? tables.Length : idStride;
        if (tableOf is not null)
        {
            if (tableOf.Count != tables.Length) throw new ArgumentException($"{tableOf.Count} table owners for {tables.Length} fields");
            for (int f = 0; f < tables.Length; f++)
            {
                int owner = tableOf[f];
                if ((uint)owner >= (uint)tables.Length || tableOf[owner] != owner) throw new ArgumentException($"field {f} reads the table of field {owner}, which is not a table owner");
                tables[f] = tables[owner];
            }
        }
        Tables = tables;
        var owners = tableOf?.ToArray() ?? Enumerable.Range(0, tables.Length).ToArray();
        _groups = Enumerable.Range(0, tables.Length).Where(f => owners[f] == f)
            .Select(owner => (int[])[owner, .. Enumerable.Range(0, tables.Length).Where(f => f != owner && owners[f] == owner)])
            .Select(group => (group[0], group, group.Select(f => f * dim).ToArray())).ToArray();
        _pool = new WorkerPool(threads > 0 ? threads : Math.Min(Environment.ProcessorCount, Math.Max(1, _groups.Length)));
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
    public long WeightBytes => Tables.Distinct().Sum(t => t.Weights.LongLength * 4);

    /// <summary>
    /// Copies the rows of <paramref name="ids"/>[batch * id stride] (the first <see cref="Fields"/> of each row's ids; the
    /// stride is the field count unless given) into <paramref name="output"/>[batch * fields * dim].
    /// </summary>
    public void Gather(int[] ids, int batch, float[] output)
    {
        if (ids.Length < batch * _idStride || output.Length < batch * Fields * Dim) throw new ArgumentException("buffers too small for the batch");
        _ids = ids; _buffer = output; _batch = batch;
        _pool.Run(_gatherWork);
    }

    /// <summary>
    /// Frequency-adaptive L2 (DIN's adaptive regularization, Zhou et al., KDD 2018): a row seen n times in training gets
    /// <c>lambda / n</c> each time a batch touches it, so over an epoch a rare id is held back about as much as a frequent one,
    /// instead of a frequent one being pulled toward zero in every batch. <paramref name="counts"/>[f][id] is how often field f
    /// took id in training; fields that share a table add up (a behaviour sequence's positions count their ids, padding 0
    /// excluded). lambda 0 removes it.
    /// </summary>
    public void SetAdaptiveL2(float lambda, IReadOnlyList<long[]> counts)
    {
        if (!float.IsFinite(lambda) || lambda < 0) throw new ArgumentOutOfRangeException(nameof(lambda), "the adaptive L2 must be a finite number >= 0");
        if (counts.Count != Fields) throw new ArgumentException($"{counts.Count} count arrays for {Fields} fields");
        var totals = new Dictionary<EmbeddingTable, long[]>();
        for (int f = 0; f < Fields; f++)
        {
            var table = Tables[f];
            if (counts[f].Length != table.Rows) throw new ArgumentException($"field {f}: {counts[f].Length} counts for {table.Rows} rows");
            if (!totals.TryGetValue(table, out var total)) totals[table] = total = new long[table.Rows];
            for (int id = 0; id < total.Length; id++) total[id] += counts[f][id];
        }
        foreach (var (table, total) in totals)
            table.RowL2 = lambda == 0 ? null : total.Select(n => lambda / Math.Max(1, n)).ToArray();
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
                    int id = _ids[b * _idStride + f];
                    if ((uint)id >= (uint)rows) throw new ArgumentOutOfRangeException(nameof(_ids), $"field {f}: id {id} outside 0..{rows - 1}");
                    // Rows are scattered over the table: ask for a later row's cache line early.
                    if (System.Runtime.Intrinsics.X86.Sse.IsSupported && b + 4 < _batch)
                    {
                        int ahead = _ids[(b + 4) * _idStride + f];
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
        for (int i = worker; i < _groups.Length; i += workers)
        {
            var (owner, group, gradOffsets) = _groups[i];
            // Id 0 of a sequence position is padding (or an unknown item, masked like padding): not the owner's out-of-vocabulary row.
            _optimizer!.Update(Tables[owner], _ids, group, _idStride, _buffer, gradOffsets, fields * dim, _batch, _learningRate, _step, skipZeroFrom: 1);
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _pool.Dispose();
}
