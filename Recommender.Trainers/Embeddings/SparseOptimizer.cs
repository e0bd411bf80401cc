using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Recommender.Trainers.Embeddings;

/// <summary>
/// Updates only the embedding rows a batch touched. Gradients of duplicate ids in a batch are summed
/// first (the gradient of a gathered row is the sum over its occurrences), then each touched row gets
/// one update, with L2 applied to touched rows only.
/// </summary>
public abstract class SparseOptimizer
{
    /// <summary>L2 regularization on touched rows (added to the gradient as <c>l2 * w</c>, with the row's own <see cref="EmbeddingTable.RowL2"/>).</summary>
    public float L2 { get; init; }

    /// <summary>
    /// Applies the gradients of one field: row <c>b</c> has id <c>ids[idOffset + b * idStride]</c> and gradient
    /// <c>grads[gradOffset + b * gradStride ..][..Dim]</c>. <paramref name="step"/> is the 1-based global step.
    /// </summary>
    public void Update(EmbeddingTable table, int[] ids, int idOffset, int idStride, float[] grads, int gradOffset, int gradStride, int count, float learningRate, long step) =>
        Update(table, ids, [idOffset], idStride, grads, [gradOffset], gradStride, count, learningRate, step, skipZeroFrom: 1);

    /// <summary>
    /// Applies the gradients of several fields that share <paramref name="table"/> (an id field and the positions of a
    /// behaviour sequence over its vocabulary) as one update: field i's row <c>b</c> has id
    /// <c>ids[idOffsets[i] + b * idStride]</c> and gradient <c>grads[gradOffsets[i] + b * gradStride ..][..Dim]</c>, and every
    /// touched row gets one update with the sum of its gradients over all fields. Id 0 of the fields from
    /// <paramref name="skipZeroFrom"/> on is skipped: there it is padding, not the out-of-vocabulary row.
    /// </summary>
    public void Update(EmbeddingTable table, int[] ids, ReadOnlySpan<int> idOffsets, int idStride, float[] grads, ReadOnlySpan<int> gradOffsets, int gradStride,
        int count, float learningRate, long step, int skipZeroFrom)
    {
        int dim = table.Dim;
        if (table.Stamp is null)
        {
            table.Stamp = new int[table.Rows];
            table.Slot = new int[table.Rows];
        }
        Initialize(table);
        long capacity = (long)count * idOffsets.Length;
        if (table.Unique.Length < capacity)
        {
            table.Unique = new int[capacity];
            table.Accumulated = new float[capacity * dim];
        }
        int pass = ++table.Pass;
        int unique = 0;
        var acc = table.Accumulated;
        for (int f = 0; f < idOffsets.Length; f++)
        {
            int idOffset = idOffsets[f], gradOffset = gradOffsets[f];
            bool skipZero = f >= skipZeroFrom;
            for (int b = 0; b < count; b++)
            {
                int id = ids[idOffset + b * idStride];
                if (skipZero && id == 0) continue;
                var g = grads.AsSpan(gradOffset + b * gradStride, dim);
                if (table.Stamp[id] != pass)
                {
                    table.Stamp[id] = pass;
                    table.Slot![id] = unique;
                    table.Unique[unique] = id;
                    g.CopyTo(acc.AsSpan(unique * dim, dim));
                    unique++;
                }
                else
                {
                    System.Numerics.Tensors.TensorPrimitives.Add(acc.AsSpan(table.Slot![id] * dim, dim), g, acc.AsSpan(table.Slot[id] * dim, dim));
                }
            }
        }
        for (int u = 0; u < unique; u++)
        {
            if (u + 4 < unique) Prefetch(table, table.Unique[u + 4]);
            int id = table.Unique[u];
            var g = acc.AsSpan(u * dim, dim);
            var w = table.Row(id);
            float l2 = L2 + (table.RowL2 is { } rowL2 ? rowL2[id] : 0f);
            if (l2 > 0) for (int d = 0; d < dim; d++) g[d] += l2 * w[d];
            UpdateRow(table, id, w, g, learningRate, step);
        }
    }

    private static unsafe void Prefetch(EmbeddingTable table, int id)
    {
        if (!System.Runtime.Intrinsics.X86.Sse.IsSupported) return;
        long offset = (long)id * table.Dim;
        fixed (float* w = table.Weights) System.Runtime.Intrinsics.X86.Sse.Prefetch0(w + offset);
        if (table.State1 is { } s1) fixed (float* p = s1) System.Runtime.Intrinsics.X86.Sse.Prefetch0(p + offset);
        if (table.State2 is { } s2) fixed (float* p = s2) System.Runtime.Intrinsics.X86.Sse.Prefetch0(p + offset);
    }

    /// <summary>Allocates the per-row state unless it exists (a checkpoint may have restored it).</summary>
    protected abstract void Initialize(EmbeddingTable table);

    /// <summary>Updates one row with its summed gradient.</summary>
    protected abstract void UpdateRow(EmbeddingTable table, int id, Span<float> weights, Span<float> gradient, float learningRate, long step);

    /// <summary>Bytes of optimizer state per table element.</summary>
    public abstract int StateBytesPerElement { get; }
}

/// <summary>Sparse Adagrad (PyTorch semantics): <c>acc += g^2; w -= lr * g / (sqrt(acc) + eps)</c>.</summary>
public sealed class SparseAdagrad : SparseOptimizer
{
    /// <summary>Added to the root of the accumulator.</summary>
    public float Epsilon { get; init; } = 1e-10f;

    /// <summary>The accumulator's starting value.</summary>
    public float InitialAccumulator { get; init; }

    /// <inheritdoc/>
    public override int StateBytesPerElement => 4;

    /// <inheritdoc/>
    protected override void Initialize(EmbeddingTable table)
    {
        if (table.State1 is not null) return;
        table.State1 = new float[table.Weights.LongLength];
        if (InitialAccumulator != 0) Array.Fill(table.State1, InitialAccumulator);
    }

    /// <inheritdoc/>
    protected override void UpdateRow(EmbeddingTable table, int id, Span<float> w, Span<float> g, float lr, long step)
    {
        var acc = table.State1.AsSpan(id * table.Dim, table.Dim);
        ref float wr = ref MemoryMarshal.GetReference(w), gr = ref MemoryMarshal.GetReference(g), ar = ref MemoryMarshal.GetReference(acc);
        int d = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var lrV = Vector256.Create(lr);
            var epsV = Vector256.Create(Epsilon);
            for (; d + 8 <= w.Length; d += 8)
            {
                var gv = Vector256.LoadUnsafe(ref gr, (nuint)d);
                var av = Vector256.LoadUnsafe(ref ar, (nuint)d) + gv * gv;
                av.StoreUnsafe(ref ar, (nuint)d);
                (Vector256.LoadUnsafe(ref wr, (nuint)d) - lrV * gv / (Vector256.Sqrt(av) + epsV)).StoreUnsafe(ref wr, (nuint)d);
            }
        }
        for (; d < w.Length; d++)
        {
            Unsafe.Add(ref ar, d) += Unsafe.Add(ref gr, d) * Unsafe.Add(ref gr, d);
            Unsafe.Add(ref wr, d) -= lr * Unsafe.Add(ref gr, d) / (MathF.Sqrt(Unsafe.Add(ref ar, d)) + Epsilon);
        }
    }
}

/// <summary>
/// Lazy Adam: Adam moments kept per row and updated only for touched rows, bias-corrected with the
/// global step (TensorFlow's LazyAdam semantics).
/// </summary>
public sealed class LazyAdam : SparseOptimizer
{
    /// <summary>First-moment decay.</summary>
    public float Beta1 { get; init; } = 0.9f;
    /// <summary>Second-moment decay.</summary>
    public float Beta2 { get; init; } = 0.999f;
    /// <summary>Added to the root of the corrected second moment.</summary>
    public float Epsilon { get; init; } = 1e-8f;

    /// <inheritdoc/>
    public override int StateBytesPerElement => 8;

    /// <inheritdoc/>
    protected override void Initialize(EmbeddingTable table)
    {
        table.State1 ??= new float[table.Weights.LongLength];
        table.State2 ??= new float[table.Weights.LongLength];
    }

    /// <inheritdoc/>
    protected override void UpdateRow(EmbeddingTable table, int id, Span<float> w, Span<float> g, float lr, long step)
    {
        var m = table.State1.AsSpan(id * table.Dim, table.Dim);
        var v = table.State2.AsSpan(id * table.Dim, table.Dim);
        float c1 = 1 - MathF.Pow(Beta1, step), c2 = 1 - MathF.Pow(Beta2, step);
        int d = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref float wr = ref MemoryMarshal.GetReference(w), gr = ref MemoryMarshal.GetReference(g);
            ref float mr = ref MemoryMarshal.GetReference(m), vr = ref MemoryMarshal.GetReference(v);
            Vector256<float> b1 = Vector256.Create(Beta1), b2 = Vector256.Create(Beta2), ob1 = Vector256.Create(1 - Beta1), ob2 = Vector256.Create(1 - Beta2);
            Vector256<float> lrV = Vector256.Create(lr), c1V = Vector256.Create(c1), c2V = Vector256.Create(c2), epsV = Vector256.Create(Epsilon);
            for (; d + 8 <= w.Length; d += 8)
            {
                var gv = Vector256.LoadUnsafe(ref gr, (nuint)d);
                var mv = b1 * Vector256.LoadUnsafe(ref mr, (nuint)d) + ob1 * gv;
                var vv = b2 * Vector256.LoadUnsafe(ref vr, (nuint)d) + ob2 * gv * gv;
                mv.StoreUnsafe(ref mr, (nuint)d);
                vv.StoreUnsafe(ref vr, (nuint)d);
                (Vector256.LoadUnsafe(ref wr, (nuint)d) - lrV * (mv / c1V) / (Vector256.Sqrt(vv / c2V) + epsV)).StoreUnsafe(ref wr, (nuint)d);
            }
        }
        for (; d < w.Length; d++)
        {
            m[d] = Beta1 * m[d] + (1 - Beta1) * g[d];
            v[d] = Beta2 * v[d] + (1 - Beta2) * g[d] * g[d];
            w[d] -= lr * (m[d] / c1) / (MathF.Sqrt(v[d] / c2) + Epsilon);
        }
    }
}
