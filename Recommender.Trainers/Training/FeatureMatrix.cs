using System.Runtime.InteropServices;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Recommender.Trainers.Training;

/// <summary>
/// A featurized data set in the layout the trainers consume. Each row is packed contiguously — key ids
/// (0 = out of vocabulary), normalized dense features, then click, conversion, rating and rating mask — so
/// filling a shuffled batch touches two cache lines per row instead of one per column. A rating of NaN
/// (not rated) is stored as 0 with mask 0, so the graph never sees a NaN.
/// </summary>
public sealed class FeatureMatrix
{
    private const int Labels = 4;
    private readonly int[] _packed;

    private FeatureMatrix(int rows, int fields, int dense, int[] packed, string[]? groups, bool click, bool conversion, bool rating)
    {
        Rows = rows; Fields = fields; DenseSize = dense; Stride = fields + dense + Labels;
        _packed = packed; Groups = groups; HasClick = click; HasConversion = conversion; HasRating = rating;
    }

    /// <summary>Rows.</summary>
    public int Rows { get; }
    /// <summary>Categorical fields, in the order of the key columns given.</summary>
    public int Fields { get; }
    /// <summary>Dense features per row.</summary>
    public int DenseSize { get; }
    /// <summary>Ints per packed row.</summary>
    public int Stride { get; }
    /// <summary>The GAUC group of each row, or null.</summary>
    public string[]? Groups { get; }
    /// <summary>Whether the data has a click label.</summary>
    public bool HasClick { get; }
    /// <summary>Whether the data has a conversion label.</summary>
    public bool HasConversion { get; }
    /// <summary>Whether the data has a rating label.</summary>
    public bool HasRating { get; }

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

    /// <summary>Click, conversion, rating (0 when not rated) and rating mask of row <paramref name="row"/>.</summary>
    public ReadOnlySpan<float> LabelsOf(int row) => MemoryMarshal.Cast<int, float>(_packed.AsSpan(row * Stride + Fields + DenseSize, Labels));

    /// <summary>One label over all rows: 0 click, 1 conversion, 2 rating, 3 rating mask.</summary>
    public float[] LabelColumn(int label)
    {
        var result = new float[Rows];
        for (int r = 0; r < Rows; r++) result[r] = LabelsOf(r)[label];
        return result;
    }

    /// <summary>
    /// Packs already-featurized arrays (for callers with their own featurization): <paramref name="ids"/> is
    /// row-major [rows, fields] of keys (0 = out of vocabulary), <paramref name="dense"/> [rows, denseSize];
    /// each label array has one value per row or is null when the data has no such label; a NaN rating means
    /// not rated.
    /// </summary>
    public static FeatureMatrix FromArrays(int rows, int fields, int denseSize, ReadOnlySpan<int> ids, ReadOnlySpan<float> dense,
        float[]? click, float[]? conversion, float[]? rating)
    {
        if (rows < 0 || fields < 1 || denseSize < 0) throw new ArgumentException($"rows {rows}, fields {fields}, dense {denseSize}: need rows >= 0, fields >= 1, dense >= 0");
        if (ids.Length != (long)rows * fields) throw new ArgumentException($"ids has {ids.Length} values, expected rows x fields = {(long)rows * fields}", nameof(ids));
        if (dense.Length != (long)rows * denseSize) throw new ArgumentException($"dense has {dense.Length} values, expected rows x denseSize = {(long)rows * denseSize}", nameof(dense));
        foreach (var (name, labels) in new[] { ("click", click), ("conversion", conversion), ("rating", rating) })
            if (labels is not null && labels.Length != rows) throw new ArgumentException($"{name} has {labels.Length} values, expected one per row ({rows})");
        int stride = fields + denseSize + Labels;
        var packed = new int[rows * stride];
        for (int r = 0; r < rows; r++)
        {
            var row = packed.AsSpan(r * stride, stride);
            ids.Slice(r * fields, fields).CopyTo(row);
            var floats = MemoryMarshal.Cast<int, float>(row[fields..]);
            dense.Slice(r * denseSize, denseSize).CopyTo(floats);
            var labels = floats[denseSize..];
            if (click is not null) labels[0] = click[r];
            if (conversion is not null) labels[1] = conversion[r];
            if (rating is not null) SetRating(labels, rating[r]);
        }
        return new FeatureMatrix(rows, fields, denseSize, packed, null, click is not null, conversion is not null, rating is not null);
    }

    /// <summary>
    /// Materializes a featurized view: <paramref name="keyColumns"/> are key-typed (uint) columns,
    /// <paramref name="denseColumn"/> a float vector of <paramref name="denseSize"/>, the labels float columns
    /// (any may be absent), <paramref name="groupColumn"/> a text column.
    /// </summary>
    public static FeatureMatrix From(IDataView featurized, IReadOnlyList<string> keyColumns, string? denseColumn, int denseSize,
        string? clickColumnName = "Click", string? conversionColumnName = "Conversion", string? ratingColumnName = "Rating", string? groupColumn = null)
    {
        int fields = keyColumns.Count, dense = denseColumn is null ? 0 : denseSize, stride = fields + dense + Labels;
        var s = featurized.Schema;
        var keys = keyColumns.Select(c => s[c]).ToArray();
        var needed = keys.ToList();
        DataViewSchema.Column? denseCol = denseColumn is null ? null : s[denseColumn];
        if (denseCol is { } dc) needed.Add(dc);
        DataViewSchema.Column? Optional(string? name) => name is null ? null : s.GetColumnOrNull(name);
        var clickColumn = Optional(clickColumnName);
        var conversionColumn = Optional(conversionColumnName);
        var ratingColumn = Optional(ratingColumnName);
        var groupCol = Optional(groupColumn);
        foreach (var c in new[] { clickColumn, conversionColumn, ratingColumn, groupCol }) if (c is { } col) needed.Add(col);

        long capacity = featurized.GetRowCount() ?? 1024;
        var packed = new int[Math.Max(1, capacity) * stride];
        var groups = groupCol is null ? null : new List<string>();
        using var cursor = featurized.GetRowCursor(needed);
        var keyGetters = keys.Select(c => cursor.GetGetter<uint>(c)).ToArray();
        var denseGetter = denseCol is { } d ? cursor.GetGetter<VBuffer<float>>(d) : null;
        var clickGetter = clickColumn is { } cc ? cursor.GetGetter<float>(cc) : null;
        var conversionGetter = conversionColumn is { } cv ? cursor.GetGetter<float>(cv) : null;
        var ratingGetter = ratingColumn is { } rc ? cursor.GetGetter<float>(rc) : null;
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
            var labels = floats[dense..];
            if (clickGetter is not null) { clickGetter(ref value); labels[0] = value; }
            if (conversionGetter is not null) { conversionGetter(ref value); labels[1] = value; }
            if (ratingGetter is not null)
            {
                ratingGetter(ref value);
                SetRating(labels, value);
            }
            if (groupGetter is not null) { groupGetter(ref text); groups!.Add(text.ToString()); }
            rows++;
        }
        if ((long)rows * stride != packed.Length) Array.Resize(ref packed, rows * stride);
        return new FeatureMatrix(rows, fields, dense, packed, groups?.ToArray(), clickColumn is not null, conversionColumn is not null, ratingColumn is not null);
    }

    // A NaN rating (not rated) is stored as 0 with mask 0, so the graph never sees a NaN.
    private static void SetRating(Span<float> labels, float rating)
    {
        if (float.IsNaN(rating)) return;
        labels[2] = rating;
        labels[3] = 1;
    }
}
