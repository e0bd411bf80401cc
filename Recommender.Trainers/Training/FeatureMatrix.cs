using System.Runtime.InteropServices;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Recommender.Trainers.Training;

/// <summary>
/// A featurized data set in the layout the trainers consume. Each row is packed contiguously — key ids
/// (0 = out of vocabulary), normalized dense features, then each label and each label's mask — so filling a
/// shuffled batch touches two cache lines per row instead of one per column. A missing label (NaN) is stored as 0
/// with mask 0, so the graph never sees a NaN.
/// </summary>
public sealed class FeatureMatrix
{
    private readonly int[] _packed;
    private readonly bool[] _hasLabel;

    private FeatureMatrix(int rows, int fields, int dense, int labels, int[] packed, string[]? groups, bool[] hasLabel)
    {
        Rows = rows; Fields = fields; DenseSize = dense; LabelCount = labels; Stride = fields + dense + 2 * labels;
        _packed = packed; Groups = groups; _hasLabel = hasLabel;
    }

    /// <summary>Rows.</summary>
    public int Rows { get; }
    /// <summary>Categorical fields, in the order of the key columns given.</summary>
    public int Fields { get; }
    /// <summary>Dense features per row.</summary>
    public int DenseSize { get; }
    /// <summary>Label slots per row (one per task, in the order the label columns were given).</summary>
    public int LabelCount { get; }
    /// <summary>Ints per packed row.</summary>
    public int Stride { get; }
    /// <summary>The GAUC group of each row, or null.</summary>
    public string[]? Groups { get; }
    /// <summary>Whether the data has label <paramref name="label"/> (its column was there).</summary>
    public bool HasLabel(int label) => _hasLabel[label];

    /// <summary>Asks the CPU to start loading a row (batches visit rows in shuffled order, so each is a cache and TLB miss).</summary>
    public unsafe void Prefetch(int row)
    {
        if (!System.Runtime.Intrinsics.X86.Sse.IsSupported) return;
        fixed (int* p = &_packed[row * Stride])
        {
            System.Runtime.Intrinsics.X86.Sse.Prefetch0(p);
            System.Runtime.Intrinsics.X86.Sse.Prefetch0((byte*)p + 64);
        }
    }

    /// <summary>SHA-256 of the whole matrix (ids, dense values, labels, shape): the data's identity in a checkpoint's fingerprint.</summary>
    public string ContentSha256() => JobFingerprint.Sha256(MemoryMarshal.AsBytes(_packed.AsSpan(0, Rows * Stride))) + $"/{Rows}x{Fields}+{DenseSize}";

    /// <summary>The key ids of row <paramref name="row"/>.</summary>
    public ReadOnlySpan<int> Ids(int row) => _packed.AsSpan(row * Stride, Fields);

    /// <summary>The dense features of row <paramref name="row"/>.</summary>
    public ReadOnlySpan<float> Dense(int row) => MemoryMarshal.Cast<int, float>(_packed.AsSpan(row * Stride + Fields, DenseSize));

    /// <summary>The labels of row <paramref name="row"/> (0 where missing), then their masks (1 where there).</summary>
    public ReadOnlySpan<float> LabelsOf(int row) => MemoryMarshal.Cast<int, float>(_packed.AsSpan(row * Stride + Fields + DenseSize, 2 * LabelCount));

    /// <summary>The same rows with only the first <paramref name="fields"/> fields (a model without the behaviour sequences, whose positions come last).</summary>
    public FeatureMatrix FirstFields(int fields)
    {
        if (fields < 1 || fields > Fields) throw new ArgumentOutOfRangeException(nameof(fields), fields, $"1..{Fields}");
        if (fields == Fields) return this;
        int stride = fields + DenseSize + 2 * LabelCount, rest = DenseSize + 2 * LabelCount;
        var packed = new int[(long)Rows * stride];
        for (int r = 0; r < Rows; r++)
        {
            var from = _packed.AsSpan(r * Stride, Stride);
            from[..fields].CopyTo(packed.AsSpan(r * stride, fields));
            from[Fields..].CopyTo(packed.AsSpan(r * stride + fields, rest));
        }
        return new FeatureMatrix(Rows, fields, DenseSize, LabelCount, packed, Groups, _hasLabel);
    }

    /// <summary>Label <paramref name="label"/> over all rows, NaN where missing.</summary>
    public float[] LabelColumn(int label)
    {
        var result = new float[Rows];
        for (int r = 0; r < Rows; r++)
        {
            var labels = LabelsOf(r);
            result[r] = labels[LabelCount + label] == 1f ? labels[label] : float.NaN;
        }
        return result;
    }

    /// <summary>
    /// Packs already-featurized arrays (for callers with their own featurization): <paramref name="ids"/> is
    /// row-major [rows, fields] of keys (0 = out of vocabulary), <paramref name="dense"/> [rows, denseSize];
    /// <paramref name="labels"/> has one array per task, one value per row (NaN = no label), or null where the data
    /// has no such label.
    /// </summary>
    public static FeatureMatrix FromArrays(int rows, int fields, int denseSize, ReadOnlySpan<int> ids, ReadOnlySpan<float> dense, IReadOnlyList<float[]?> labels)
    {
        if (rows < 0 || fields < 1 || denseSize < 0) throw new ArgumentException($"rows {rows}, fields {fields}, dense {denseSize}: need rows >= 0, fields >= 1, dense >= 0");
        if (ids.Length != (long)rows * fields) throw new ArgumentException($"ids has {ids.Length} values, expected rows x fields = {(long)rows * fields}", nameof(ids));
        if (dense.Length != (long)rows * denseSize) throw new ArgumentException($"dense has {dense.Length} values, expected rows x denseSize = {(long)rows * denseSize}", nameof(dense));
        for (int t = 0; t < labels.Count; t++)
            if (labels[t] is { } values && values.Length != rows) throw new ArgumentException($"label {t} has {values.Length} values, expected one per row ({rows})");
        int count = labels.Count, stride = fields + denseSize + 2 * count;
        var packed = new int[rows * stride];
        for (int r = 0; r < rows; r++)
        {
            var row = packed.AsSpan(r * stride, stride);
            ids.Slice(r * fields, fields).CopyTo(row);
            var floats = MemoryMarshal.Cast<int, float>(row[fields..]);
            dense.Slice(r * denseSize, denseSize).CopyTo(floats);
            for (int t = 0; t < count; t++)
                if (labels[t] is { } values) SetLabel(floats[denseSize..], count, t, values[r]);
        }
        return new FeatureMatrix(rows, fields, denseSize, count, packed, null, labels.Select(l => l is not null).ToArray());
    }

    /// <summary>
    /// Materializes a featurized view: <paramref name="keyColumns"/> are key-typed (uint) columns,
    /// <paramref name="denseColumn"/> a float vector of <paramref name="denseSize"/>, <paramref name="labelColumns"/> one
    /// float column per task (a name not in the view, or null, leaves that label missing; NaN = no label),
    /// <paramref name="groupColumn"/> a text column.
    /// </summary>
    public static FeatureMatrix From(IDataView featurized, IReadOnlyList<string> keyColumns, string? denseColumn, int denseSize,
        IReadOnlyList<string?> labelColumns, string? groupColumn = null)
    {
        int fields = keyColumns.Count, dense = denseColumn is null ? 0 : denseSize, count = labelColumns.Count, stride = fields + dense + 2 * count;
        var s = featurized.Schema;
        var keys = keyColumns.Select(c => s[c]).ToArray();
        var needed = keys.ToList();
        DataViewSchema.Column? denseCol = denseColumn is null ? null : s[denseColumn];
        if (denseCol is { } dc) needed.Add(dc);
        DataViewSchema.Column? Optional(string? name) => name is null ? null : s.GetColumnOrNull(name);
        var labelCols = labelColumns.Select(Optional).ToArray();
        var groupCol = Optional(groupColumn);
        foreach (var c in labelCols.Append(groupCol)) if (c is { } col) needed.Add(col);

        long capacity = featurized.GetRowCount() ?? 1024;
        var packed = new int[Math.Max(1, capacity) * stride];
        var groups = groupCol is null ? null : new List<string>();
        using var cursor = featurized.GetRowCursor(needed);
        var keyGetters = keys.Select(c => cursor.GetGetter<uint>(c)).ToArray();
        var denseGetter = denseCol is { } d ? cursor.GetGetter<VBuffer<float>>(d) : null;
        var labelGetters = labelCols.Select(c => c is { } col ? cursor.GetGetter<float>(col) : null).ToArray();
        var groupGetter = groupCol is { } gc ? cursor.GetGetter<ReadOnlyMemory<char>>(gc) : null;
        uint key = 0;
        float value = 0;
        VBuffer<float> vector = default;
        ReadOnlyMemory<char> text = default;
        int rows = 0;
        while (cursor.MoveNext())
        {
            if ((long)(rows + 1) * stride > packed.Length) Array.Resize(ref packed, packed.Length * 2);
            var row = packed.AsSpan(rows * stride, stride);
            for (int f = 0; f < fields; f++) { keyGetters[f](ref key); row[f] = (int)key; }
            var floats = MemoryMarshal.Cast<int, float>(row[fields..]);
            if (denseGetter is not null)
            {
                denseGetter(ref vector);
                if (vector.Length != dense) throw new InvalidOperationException($"dense vector has {vector.Length} values, expected {dense}");
                vector.DenseValues().Take(dense).ToArray().CopyTo(floats);
            }
            for (int t = 0; t < count; t++)
            {
                if (labelGetters[t] is not { } getter) continue;
                getter(ref value);
                SetLabel(floats[dense..], count, t, value);
            }
            if (groupGetter is not null) { groupGetter(ref text); groups!.Add(text.ToString()); }
            rows++;
        }
        if ((long)rows * stride != packed.Length) Array.Resize(ref packed, rows * stride);
        return new FeatureMatrix(rows, fields, dense, count, packed, groups?.ToArray(), labelCols.Select(c => c is not null).ToArray());
    }

    // A missing label (NaN) is stored as 0 with mask 0, so the graph never sees a NaN.
    private static void SetLabel(Span<float> labels, int count, int label, float value)
    {
        if (float.IsNaN(value)) return;
        labels[label] = value;
        labels[count + label] = 1;
    }
}
