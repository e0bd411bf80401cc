using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Recommender.Pipeline.Data;

namespace Recommender.Pipeline.Featurization;

/// <summary>
/// A saved featurization compiled into plain lookups, for the hot path of serving and batch scoring: ML.NET's
/// transform engine costs about two milliseconds per call whatever the rows, which bounds a one-row request
/// to a few hundred per second. Compiled: each categorical column's vocabulary as a dictionary (its key values,
/// read from the transformer's own output schema; unseen values are key 0), and the dense vector as ML.NET
/// computes it, <c>(x - offset) * scale</c> per slot with the normalizer's own parameters, and a missing value as
/// ML.NET's output for it (the training mean, normalized), read by running ML.NET once. Only the chain the
/// featurizer builds (value-to-key, concatenation, missing-value replacement, affine normalization) compiles;
/// anything else (hashing, log-normal or binned normalizers, matrix-factorization features) stays on ML.NET.
/// A compiled featurization is checked against ML.NET on probe rows before it is used, bit for bit.
/// </summary>
public sealed class CompiledFeaturization
{
    private readonly string[] _idColumns;
    private readonly Dictionary<string, uint>[] _vocabularies;
    private readonly Dictionary<string, uint>.AlternateLookup<ReadOnlySpan<char>>[] _lookups;
    private readonly string[] _denseColumns;
    private readonly float[] _scale, _offset, _missing;

    private CompiledFeaturization(string[] idColumns, Dictionary<string, uint>[] vocabularies, string[] denseColumns, float[] scale, float[] offset, float[] missing)
    {
        _idColumns = idColumns;
        _vocabularies = vocabularies;
        _lookups = vocabularies.Select(v => v.GetAlternateLookup<ReadOnlySpan<char>>()).ToArray();
        _denseColumns = denseColumns;
        _scale = scale;
        _offset = offset;
        _missing = missing;
    }

    /// <summary>Compiles <paramref name="featurization"/>, or returns null with the reason it cannot be.</summary>
    public static CompiledFeaturization? TryCompile(ITransformer featurization, DataViewSchema inputSchema, IReadOnlyList<string> idInputs,
        string? denseOutput, int denseSize, out string reason)
    {
        var parts = SchemaFeaturizer.Flatten(featurization).ToList();
        if (parts.FirstOrDefault(p => p is not (ValueToKeyMappingTransformer or ColumnConcatenatingTransformer or MissingValueReplacingTransformer or NormalizingTransformer)) is { } other)
        {
            reason = $"the featurization holds a {other.GetType().Name}";
            return null;
        }
        var output = featurization.GetOutputSchema(inputSchema);
        var vocabularies = new Dictionary<string, uint>[idInputs.Count];
        // Columns with the same key values (a behaviour sequence's positions and their item column) share one lookup.
        var built = new List<(string[] Keys, Dictionary<string, uint> Map)>();
        for (int f = 0; f < idInputs.Count; f++)
        {
            var column = output[idInputs[f]];
            if (column.Type is not KeyDataViewType || !column.HasKeyValues() || inputSchema.GetColumnOrNull(idInputs[f])?.Type is not TextDataViewType)
            {
                reason = $"'{idInputs[f]}' is not a vocabulary lookup of a text column (hashed?)";
                return null;
            }
            VBuffer<ReadOnlyMemory<char>> keys = default;
            column.GetKeyValues(ref keys);
            var values = keys.DenseValues().Select(v => v.ToString()).ToArray();
            if (built.FirstOrDefault(b => b.Keys.AsSpan().SequenceEqual(values)) is { Map: { } same }) { vocabularies[f] = same; continue; }
            var map = new Dictionary<string, uint>(StringComparer.Ordinal);
            uint key = 1;
            foreach (var value in values) map.TryAdd(value, key++);
            built.Add((values, map));
            vocabularies[f] = map;
        }
        string[] denseColumns = [];
        float[] scale = [], offset = [];
        if (denseOutput is not null)
        {
            // The concatenation of scalar columns names its slots after them.
            var slots = output.GetColumnOrNull(denseOutput);
            if (slots is not { } dense || !dense.HasSlotNames()) { reason = $"'{denseOutput}' has no slot names"; return null; }
            VBuffer<ReadOnlyMemory<char>> names = default;
            dense.GetSlotNames(ref names);
            denseColumns = names.DenseValues().Select(n => n.ToString()).ToArray();
            if (denseColumns.Length != denseSize || denseColumns.Any(c => inputSchema.GetColumnOrNull(c)?.Type != NumberDataViewType.Single))
            {
                reason = $"'{denseOutput}' is not {denseSize} float columns";
                return null;
            }
            scale = Enumerable.Repeat(1f, denseSize).ToArray();
            offset = new float[denseSize];
            foreach (var normalizer in parts.OfType<NormalizingTransformer>())
            {
                var p = normalizer.GetNormalizerModelParameters(0);
                if (p is not NormalizingTransformer.AffineNormalizerModelParameters<System.Collections.Immutable.ImmutableArray<float>> affine || affine.Scale.Length != denseSize)
                {
                    reason = $"the normalizer is not affine per slot ({p.GetType().Name})";
                    return null;
                }
                scale = affine.Scale.ToArray();
                offset = affine.Offset.IsDefaultOrEmpty ? new float[denseSize] : affine.Offset.ToArray();
            }
        }
        // The value of a missing number, as ML.NET makes it (imputed, then normalized): one probe row of NaNs.
        var missing = new float[denseSize];
        if (denseOutput is not null)
        {
            var probe = Probe(inputSchema, 1, (_, _) => "", (_, _) => float.NaN).View;
            var view = featurization.Transform(probe);
            using var cursor = view.GetRowCursor([view.Schema[denseOutput]]);
            var getter = cursor.GetGetter<VBuffer<float>>(view.Schema[denseOutput]);
            cursor.MoveNext();
            VBuffer<float> v = default;
            getter(ref v);
            int i = 0;
            foreach (var x in v.DenseValues()) missing[i++] = x;
        }
        var compiled = new CompiledFeaturization(idInputs.ToArray(), vocabularies, denseColumns, scale, offset, missing);
        reason = compiled.Verify(featurization, inputSchema, denseOutput) ?? "";
        return reason.Length == 0 ? compiled : null;
    }

    // A probe of the input schema's shape: every column, filled by the given functions.
    private static (IDataView View, TableChunk Rows, string[] Texts, string[] Numbers) Probe(DataViewSchema inputSchema, int rows, Func<string, int, string> text, Func<string, int, float> number)
    {
        var texts = inputSchema.Where(c => c.Type is TextDataViewType).Select(c => c.Name).ToArray();
        var numbers = inputSchema.Where(c => c.Type == NumberDataViewType.Single).Select(c => c.Name).ToArray();
        var chunk = new TableChunk(texts.Length, numbers.Length, rows);
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < texts.Length; c++) chunk.Text[c][r] = text(texts[c], r);
            for (int c = 0; c < numbers.Length; c++) chunk.Numbers[c][r] = number(numbers[c], r);
        }
        chunk.Count = rows;
        return (new TableDataView(texts, numbers, () => [chunk], rows), chunk, texts, numbers);
    }

    // Runs both on probe rows (known, unknown and empty values; ordinary, zero, negative, huge and missing numbers)
    // and returns the first difference, or null when they agree bit for bit.
    private string? Verify(ITransformer featurization, DataViewSchema inputSchema, string? denseOutput)
    {
        const int rows = 64;
        var known = _vocabularies.Select(v => v.Keys.ToArray()).ToArray();
        var random = new Random(7);
        float[] specials = [0f, -1f, 1f, float.NaN, 1e30f, -1e-30f, 3.25f];
        string Text(string column, int r)
        {
            int f = Array.IndexOf(_idColumns, column);
            if (f < 0 || r % 9 == 0) return r % 2 == 0 ? "" : "\u0001never-seen";
            return known[f].Length == 0 ? "" : known[f][random.Next(known[f].Length)];
        }
        float Number(string column, int r) => r < specials.Length ? specials[r] : (float)(random.NextDouble() * 200 - 50);
        var (probe, table, texts, numbers) = Probe(inputSchema, rows, Text, Number);
        var expectedIds = new uint[_idColumns.Length][];
        var expectedDense = new float[rows * _scale.Length];
        var view = featurization.Transform(probe);
        var keyColumns = _idColumns.Select(c => view.Schema[c]).ToArray();
        var columns = denseOutput is null ? keyColumns : [.. keyColumns, view.Schema[denseOutput]];
        using (var cursor = view.GetRowCursor(columns))
        {
            var getters = keyColumns.Select(c => cursor.GetGetter<uint>(c)).ToArray();
            var denseGetter = denseOutput is null ? null : cursor.GetGetter<VBuffer<float>>(view.Schema[denseOutput]);
            for (int f = 0; f < expectedIds.Length; f++) expectedIds[f] = new uint[rows];
            VBuffer<float> v = default;
            for (int r = 0; cursor.MoveNext(); r++)
            {
                for (int f = 0; f < getters.Length; f++) getters[f](ref expectedIds[f][r]);
                if (denseGetter is null) continue;
                denseGetter(ref v);
                int i = 0;
                foreach (var x in v.DenseValues()) expectedDense[r * _scale.Length + i++] = x;
            }
        }
        var ids = _idColumns.Select(_ => new uint[rows]).ToArray();
        var dense = new float[rows * _scale.Length];
        Featurize(table, texts, numbers, ids, dense);
        for (int f = 0; f < ids.Length; f++)
            for (int r = 0; r < rows; r++)
                if (ids[f][r] != expectedIds[f][r]) return $"'{_idColumns[f]}' row {r}: key {ids[f][r]}, ML.NET {expectedIds[f][r]}";
        for (int i = 0; i < dense.Length; i++)
            if (BitConverter.SingleToInt32Bits(dense[i]) != BitConverter.SingleToInt32Bits(expectedDense[i]))
                return $"dense slot {i % _scale.Length} row {i / _scale.Length}: {dense[i]:R}, ML.NET {expectedDense[i]:R}";
        return null;
    }

    /// <summary>
    /// Featurizes <paramref name="rows"/> (columns named <paramref name="textColumns"/>, <paramref name="numberColumns"/>)
    /// into keys per id input and the dense matrix, row-major.
    /// </summary>
    public void Featurize(TableChunk rows, IReadOnlyList<string> textColumns, IReadOnlyList<string> numberColumns, uint[][] ids, float[] dense)
    {
        int n = rows.Count, width = _scale.Length;
        for (int f = 0; f < _idColumns.Length; f++)
        {
            int c = IndexOf(textColumns, _idColumns[f]);
            var source = rows.Text[c];
            var lookup = _lookups[f];
            var target = ids[f];
            for (int r = 0; r < n; r++) target[r] = lookup.TryGetValue(source[r], out uint key) ? key : 0;
        }
        for (int d = 0; d < width; d++)
        {
            var source = rows.Numbers[IndexOf(numberColumns, _denseColumns[d])];
            float scale = _scale[d], offset = _offset[d], missing = _missing[d];
            for (int r = 0; r < n; r++)
            {
                float x = source[r];
                dense[r * width + d] = float.IsNaN(x) ? missing : (x - offset) * scale;
            }
        }
    }

    private static int IndexOf(IReadOnlyList<string> names, string name)
    {
        for (int i = 0; i < names.Count; i++) if (names[i] == name) return i;
        throw new ArgumentException($"the rows lack the column '{name}' the featurization reads");
    }
}
