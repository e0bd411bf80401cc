using Recommender.Trainers.Compilation;
using Recommender.Trainers.Embeddings;
using Recommender.Trainers.Network;
using Recommender.Trainers.Runtime;

namespace Recommender.Trainers.Training;

/// <summary>The predictions of every head, one value per row, by prediction column (for example P_click, or the default chain's PCtr).</summary>
public sealed class MultiTaskPredictions(IReadOnlyList<string> names, int rows)
{
    private readonly Dictionary<string, float[]> _columns = names.ToDictionary(n => n, _ => new float[rows]);

    /// <summary>The prediction columns, in the network's output order.</summary>
    public IReadOnlyList<string> Names { get; } = names;
    /// <summary>Rows.</summary>
    public int Rows { get; } = rows;
    /// <summary>One prediction column.</summary>
    public float[] this[string name] => _columns.TryGetValue(name, out var c) ? c : throw new KeyNotFoundException($"no prediction '{name}'; the model predicts {string.Join(", ", Names)}");
    /// <summary>Every column by name.</summary>
    public IReadOnlyDictionary<string, float[]> Columns => _columns;
}

/// <summary>A trained multi-task model: the compiled graphs, the dense parameters, the embedding tables and the training history.</summary>
public sealed class TrainedMultiTaskModel
{
    internal TrainedMultiTaskModel(MultiTaskSpec spec, CompiledModel compiled, Dictionary<string, float[]> parameters, float[][] tables, List<EpochReport> history,
        ExecutionDevice device)
    {
        Spec = spec;
        Device = device;
        Compiled = compiled;
        Parameters = parameters;
        Tables = tables;
        History = history;
    }

    /// <summary>The input side and tasks.</summary>
    public MultiTaskSpec Spec { get; }
    /// <summary>The compiled graphs.</summary>
    public CompiledModel Compiled { get; }
    /// <summary>Dense parameters by name.</summary>
    public IReadOnlyDictionary<string, float[]> Parameters { get; }
    /// <summary>One embedding table per field, row-major [rows, dim].</summary>
    public IReadOnlyList<float[]> Tables { get; }
    /// <summary>With <see cref="FeatureInteractions.FieldAware"/>: each plain field's field-aware vectors, row-major [rows, fields * k]; else null.</summary>
    public IReadOnlyList<float[]>? FieldAwareTables { get; internal init; }
    /// <summary>With <see cref="FeatureInteractions.CrossedEmbeddings"/>: each crossed pair's table, row-major [rows_a * rows_b, dim]; else null.</summary>
    public IReadOnlyList<float[]>? CrossedTables { get; internal init; }
    /// <summary>Per-epoch reports.</summary>
    public IReadOnlyList<EpochReport> History { get; }
    /// <summary>The state to continue training from (a warm start), when this model was trained here.</summary>
    public TrainingState? State { get; internal init; }
    /// <summary>The device training ran on (what the options' device resolved to).</summary>
    public ExecutionDevice Device { get; }

    /// <summary>Scores every row of <paramref name="data"/> in batches.</summary>
    public MultiTaskPredictions Predict(FeatureMatrix data, RuntimeOptions? runtime = null, int batchSize = BatchedInference.DefaultBatchSize) =>
        Predict(Compiled, Parameters, Tables, Spec, data, runtime, batchSize, FieldAwareTables, CrossedTables);

    internal static MultiTaskPredictions Predict(CompiledModel compiled, IReadOnlyDictionary<string, float[]> parameters, IReadOnlyList<float[]> tables,
        MultiTaskSpec spec, FeatureMatrix data, RuntimeOptions? runtime, int batchSize, IReadOnlyList<float[]>? fieldAwareTables = null,
        IReadOnlyList<float[]>? crossedTables = null)
    {
        var result = new MultiTaskPredictions(compiled.Predictions, data.Rows);
        if (data.Rows == 0) return result;
        batchSize = Math.Min(batchSize, data.Rows);
        using var inference = new BatchedInference(compiled.Inference(parameters), batchSize, runtime ?? new RuntimeOptions { Device = ExecutionDevice.Cpu });
        using var embeddings = new FieldEmbeddings(tables, spec.EmbeddingDim, tableOf: spec.TableOwners());
        using var fieldAware = spec.FieldAware ? new FieldEmbeddings(fieldAwareTables ?? throw new ArgumentException("a field-aware model needs its field-aware tables"),
            spec.PlainFields * spec.FieldAwareDim, idStride: data.Fields) : null;
        var crossedPairs = spec.CrossedPairs().ToArray();
        using var crossed = spec.Crossed ? new FieldEmbeddings(crossedTables ?? throw new ArgumentException("a model with crossed embeddings needs their tables"),
            spec.CrossedDim, idStride: crossedPairs.Length) : null;
        var crossedRows = new int[batchSize * crossedPairs.Length];
        var ids = new int[batchSize * data.Fields];
        var dense = spec.DenseSize > 0 ? inference.Input(MultiTaskInputs.Dense) : null;
        int positions = spec.SequencePositions;
        var mask = positions > 0 ? inference.Input(MultiTaskInputs.SequenceMask) : null;
        var outputs = result.Names.Select(n => (n, result[n])).ToArray();
        for (int start = 0; start < data.Rows; start += batchSize)
        {
            int count = Math.Min(batchSize, data.Rows - start);
            Array.Clear(ids);
            for (int b = 0; b < count; b++)
            {
                data.Ids(start + b).CopyTo(ids.AsSpan(b * data.Fields, data.Fields));
                if (dense is not null) data.Dense(start + b).CopyTo(dense.AsSpan(b * data.DenseSize, data.DenseSize));
            }
            if (mask is not null)
                for (int b = 0; b < batchSize; b++) SequenceSpec.FillMask(spec.Sequences, ids.AsSpan(b * data.Fields, data.Fields), mask.AsSpan(b * positions, positions));
            embeddings.Gather(ids, batchSize, inference.Input(MultiTaskInputs.Embeddings));
            fieldAware?.Gather(ids, batchSize, inference.Input(MultiTaskInputs.FieldAwareEmbeddings));
            if (crossed is not null)
            {
                CrossedPair.Fill(crossedPairs, ids, data.Fields, batchSize, crossedRows);
                crossed.Gather(crossedRows, batchSize, inference.Input(MultiTaskInputs.CrossedEmbeddings));
            }
            inference.Run();
            foreach (var (name, target) in outputs) Array.Copy(inference.Output(name), 0, target, start, count);
        }
        return result;
    }

    /// <summary>The standalone ONNX model (see <see cref="CompiledModel.Export"/>).</summary>
    public byte[] Export(IReadOnlyList<string> fieldInputs, string? docString = null, string? denseInputName = null,
        Onnx.TensorProto.Types.DataType idType = Onnx.TensorProto.Types.DataType.Int64) =>
        Compiled.Export(Parameters, Tables, fieldInputs, Spec.EmbeddingDim, docString,
            denseInputName is null ? null : new Dictionary<string, string> { [MultiTaskInputs.Dense] = denseInputName }, idType, Spec.TableOwners(),
            Spec.Sequences.Count == 0 ? null : (MultiTaskInputs.SequenceMask, Spec.SequencePositionFields),
            FieldAwareTables is { } fieldAware ? (MultiTaskInputs.FieldAwareEmbeddings, fieldAware) : null,
            CrossedTables is { } crossed ? (MultiTaskInputs.CrossedEmbeddings, Spec.CrossedPairs().Select(p => (p.A, p.B, p.RowsA, p.RowsB)).ToArray(), crossed) : null);
}
