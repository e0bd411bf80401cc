using Microsoft.ML;
using Microsoft.ML.Data;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Featurization;
using Recommender.Pipeline.Lifecycle;
using Recommender.Trainers.Runtime;

namespace Recommender.Pipeline.Scoring;

/// <summary>
/// A model bundle opened for batched scoring: its metadata, its ML.NET featurization (fast built-in
/// transforms) and its ONNX network in a batched session, never row at a time. Used by <c>score</c>,
/// <c>recommend</c> and <c>evaluate --model</c>. One thread at a time: the per-chunk arrays are reused,
/// since fresh multi-megabyte arrays per chunk would pile up on the large-object heap between collections
/// and grow the process with the input.
/// </summary>
public sealed class BundleScorer : IDisposable
{
    private uint[][] _ids = [];
    private float[] _dense = [], _predictions = [];

    private BundleScorer(ModelBundle bundle, ITransformer featurization, BatchedInference inference)
    {
        Bundle = bundle;
        Metadata = bundle.Metadata;
        Featurization = featurization;
        Inference = inference;
    }

    /// <summary>The verified bundle.</summary>
    public ModelBundle Bundle { get; }
    /// <summary>The bundle's metadata.</summary>
    public BundleMetadata Metadata { get; }
    /// <summary>The bundle's featurization.</summary>
    public ITransformer Featurization { get; }
    /// <summary>The columns the featurization was trained on (raw table columns, labels included).</summary>
    public DataViewSchema InputSchema { get; private init; } = null!;
    /// <summary>The featurization compiled to lookups (checked bit for bit against ML.NET), or null where it does not compile.</summary>
    public CompiledFeaturization? Compiled { get; private init; }
    /// <summary>Why the featurization runs on ML.NET's engine, when it does.</summary>
    public string? NotCompiledBecause { get; private init; }
    /// <summary>The network's batched session.</summary>
    public BatchedInference Inference { get; }
    /// <summary>The prediction columns, in the order <see cref="Predict"/> gives them per row.</summary>
    public IReadOnlyList<string> Outputs => Metadata.OnnxOutputs;

    /// <summary>The position of prediction <paramref name="name"/> in each row of <see cref="Predict"/>'s result, or -1.</summary>
    public int OutputIndex(string name) => Metadata.OnnxOutputs.IndexOf(name);

    /// <summary>Opens (and verifies, see <see cref="ModelBundle.Open"/>) a bundle with inference batches of <paramref name="batchSize"/> rows.</summary>
    public static BundleScorer Open(string bundle, int batchSize, RuntimeOptions runtime, bool verifyHashes = true) => Open(ModelBundle.Open(bundle, verifyHashes), batchSize, runtime);

    /// <summary>
    /// Opens an already verified bundle with inference batches of <paramref name="batchSize"/> rows; with
    /// <paramref name="compileFeaturization"/> false the featurization always runs on ML.NET's engine (for comparison).
    /// </summary>
    public static BundleScorer Open(ModelBundle bundle, int batchSize, RuntimeOptions runtime, bool compileFeaturization = true)
    {
        if (batchSize < 1) throw new ArgumentException($"the batch size must be at least 1, got {batchSize}");
        var featurization = bundle.LoadFeaturization(new MLContext(), out var inputSchema);
        BatchedInference inference;
        try { inference = new BatchedInference(bundle.ReadOnnx(), batchSize, runtime); }
        catch (Microsoft.ML.OnnxRuntime.OnnxRuntimeException e)
        {
            throw new InvalidDataException($"{bundle.PathOf(ModelBundle.OnnxFile)}: ONNX Runtime cannot load it ({e.Message.Split('\n')[0]})");
        }
        string reason = "switched off";
        var compiled = compileFeaturization
            ? CompiledFeaturization.TryCompile(featurization, inputSchema, bundle.Metadata.OnnxIdInputs, bundle.Metadata.OnnxDenseInput, bundle.Metadata.DenseSize, out reason)
            : null;
        return new BundleScorer(bundle, featurization, inference) { InputSchema = inputSchema, Compiled = compiled, NotCompiledBecause = compiled is null ? reason : null };
    }

    /// <summary>
    /// Featurizes a chunk of rows (columns <paramref name="textColumns"/>, <paramref name="numberColumns"/>) with the
    /// bundle's featurization and runs the network in batches: <see cref="Outputs"/>.Count predictions per row, in the
    /// order of <see cref="Outputs"/>, valid until the next call.
    /// </summary>
    public float[] Predict(TableChunk rows, IReadOnlyList<string> textColumns, IReadOnlyList<string> numberColumns)
    {
        int n = rows.Count, fields = Metadata.OnnxIdInputs.Count, outputs = Outputs.Count;
        if (_ids.Length != fields || _ids.Length > 0 && _ids[0].Length < n || _predictions.Length < outputs * n)
        {
            _ids = Enumerable.Range(0, fields).Select(_ => new uint[n]).ToArray();
            _dense = new float[n * Math.Max(1, Metadata.DenseSize)];
            _predictions = new float[outputs * n];
        }
        var ids = _ids;
        var dense = _dense;
        if (Compiled is not null) Compiled.Featurize(rows, textColumns, numberColumns, ids, dense);
        else FeaturizeWithMlNet(rows, textColumns, numberColumns);
        return RunNetwork(n);
    }

    // ML.NET's own transforms over the chunk, read back through a cursor.
    private void FeaturizeWithMlNet(TableChunk rows, IReadOnlyList<string> textColumns, IReadOnlyList<string> numberColumns)
    {
        var view = new TableDataView(textColumns, numberColumns, () => [rows], rows.Count);
        var featurized = Featurization.Transform(view);
        int fields = Metadata.OnnxIdInputs.Count, width = Metadata.DenseSize;
        var ids = _ids;
        var dense = _dense;
        var s = featurized.Schema;
        var keyColumns = Metadata.OnnxIdInputs.Select(c => s[c]).ToArray();
        var denseColumn = Metadata.OnnxDenseInput is { } d ? s[d] : (DataViewSchema.Column?)null;
        using (var cursor = featurized.GetRowCursor(denseColumn is { } dc ? [.. keyColumns, dc] : keyColumns))
        {
            var getters = keyColumns.Select(c => cursor.GetGetter<uint>(c)).ToArray();
            var denseGetter = denseColumn is { } dc2 ? cursor.GetGetter<VBuffer<float>>(dc2) : null;
            VBuffer<float> vector = default;
            int r = 0;
            while (cursor.MoveNext())
            {
                for (int f = 0; f < fields; f++) getters[f](ref ids[f][r]);
                if (denseGetter is not null)
                {
                    denseGetter(ref vector);
                    // A vector with zeros may come back sparse: place its values by index.
                    var target = dense.AsSpan(r * width, width);
                    if (vector.IsDense) vector.GetValues().CopyTo(target);
                    else
                    {
                        target.Clear();
                        var values = vector.GetValues();
                        var indices = vector.GetIndices();
                        for (int i = 0; i < values.Length; i++) target[indices[i]] = values[i];
                    }
                }
                r++;
            }
        }
    }

    // The network over the featurized rows, in batches.
    private float[] RunNetwork(int n)
    {
        int batch = Inference.BatchSize, fields = Metadata.OnnxIdInputs.Count, outputs = Outputs.Count;
        var ids = _ids;
        var dense = _dense;
        var predictions = _predictions;
        var inputNames = Metadata.OnnxIdInputs;
        for (int start = 0; start < n; start += batch)
        {
            int count = Math.Min(batch, n - start);
            for (int f = 0; f < fields; f++)
            {
                var buffer = Inference.IdInput(inputNames[f]);
                for (int b = 0; b < count; b++) buffer[b] = ids[f][start + b];
            }
            if (Metadata.OnnxDenseInput is { } denseName)
            {
                var buffer = Inference.Input(denseName);
                Array.Copy(dense, start * Metadata.DenseSize, buffer, 0, count * Metadata.DenseSize);
            }
            Inference.Run(count);
            for (int c = 0; c < outputs; c++)
            {
                var output = Inference.Output(Outputs[c]);
                for (int b = 0; b < count; b++) predictions[(start + b) * outputs + c] = output[b];
            }
        }
        return predictions;
    }

    /// <inheritdoc/>
    public void Dispose() => Inference.Dispose();
}
