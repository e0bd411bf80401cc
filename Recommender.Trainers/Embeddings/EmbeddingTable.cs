namespace Recommender.Trainers.Embeddings;

/// <summary>
/// One embedding table in host memory: <c>Rows x Dim</c> float32, row 0 the out-of-vocabulary row.
/// Memory: <c>Rows * Dim * 4</c> bytes, plus the sparse optimizer's state and 8 bytes per row of
/// bookkeeping for merging duplicate ids.
/// </summary>
public sealed class EmbeddingTable
{
    /// <summary>Creates a table initialized from N(0, <paramref name="initStd"/>^2), seeded.</summary>
    public EmbeddingTable(int rows, int dim, int seed, float initStd = 0.01f)
    {
        if (rows < 1 || dim < 1) throw new ArgumentOutOfRangeException(nameof(rows), "a table needs at least one row and one column");
        Rows = rows;
        Dim = dim;
        Weights = new float[(long)rows * dim];
        var random = new Random(seed);
        for (long i = 0; i < Weights.LongLength; i += 2)
        {
            // Box-Muller: two normals per pair of uniforms.
            double u1 = 1 - random.NextDouble(), u2 = random.NextDouble();
            double r = Math.Sqrt(-2 * Math.Log(u1));
            Weights[i] = (float)(initStd * r * Math.Cos(2 * Math.PI * u2));
            if (i + 1 < Weights.LongLength) Weights[i + 1] = (float)(initStd * r * Math.Sin(2 * Math.PI * u2));
        }
    }

    /// <summary>Wraps existing weights (a trained or checkpointed table).</summary>
    public EmbeddingTable(int dim, float[] weights)
    {
        if (dim < 1 || weights.Length % dim != 0) throw new ArgumentException("weights are not a whole number of rows");
        Dim = dim;
        Rows = weights.Length / dim;
        Weights = weights;
    }

    /// <summary>Number of rows (vocabulary size + 1 for the out-of-vocabulary row 0).</summary>
    public int Rows { get; }

    /// <summary>Embedding width.</summary>
    public int Dim { get; }

    /// <summary>The weights, row-major.</summary>
    public float[] Weights { get; }

    /// <summary>One row.</summary>
    public Span<float> Row(int id) => Weights.AsSpan(id * Dim, Dim);

    /// <summary>
    /// Each row's own L2 coefficient, added to the optimizer's uniform one when the row is updated (frequency-adaptive
    /// regularization, <see cref="FieldEmbeddings.SetAdaptiveL2"/>); null: none.
    /// </summary>
    public float[]? RowL2 { get; set; }

    // Sparse-update bookkeeping: stamp[id] == current pass marks a row already seen in this batch.
    internal int[]? Stamp;
    internal int[]? Slot;
    internal int Pass;
    internal int[] Unique = [];
    internal float[] Accumulated = [];
    internal float[]? State1, State2;
}
