using Recommender.Trainers.Embeddings;
using Recommender.Trainers.Network;
using Recommender.Trainers.Runtime;

namespace Recommender.Trainers.Training;

/// <summary>Predictions of the four heads, one value per row.</summary>
public sealed record MultiTaskPredictions(float[] PCtr, float[] PCvr, float[] PCtcvr, float[] PredictedRating);

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
    /// <summary>Per-epoch reports.</summary>
    public IReadOnlyList<EpochReport> History { get; }
    /// <summary>The state to continue training from (a warm start), when this model was trained here.</summary>
    public TrainingState? State { get; internal init; }
    /// <summary>The device training ran on (what the options' device resolved to).</summary>
    public ExecutionDevice Device { get; }

    /// <summary>Scores every row of <paramref name="data"/> in batches.</summary>
    public MultiTaskPredictions Predict(FeatureMatrix data, RuntimeOptions? runtime = null, int batchSize = 8192) =>
        Predict(Compiled, Parameters, Tables, Spec, data, runtime, batchSize);

    internal static MultiTaskPredictions Predict(CompiledModel compiled, IReadOnlyDictionary<string, float[]> parameters, IReadOnlyList<float[]> tables,
        MultiTaskSpec spec, FeatureMatrix data, RuntimeOptions? runtime, int batchSize)
    {
        var result = new MultiTaskPredictions(new float[data.Rows], new float[data.Rows], new float[data.Rows], new float[data.Rows]);
        if (data.Rows == 0) return result;
        batchSize = Math.Min(batchSize, data.Rows);
        using var inference = new BatchedInference(compiled.Inference(parameters), batchSize, runtime ?? new RuntimeOptions { Device = ExecutionDevice.Cpu });
        using var embeddings = new FieldEmbeddings(tables, spec.EmbeddingDim);
        var ids = new int[batchSize * data.Fields];
        var dense = spec.DenseSize > 0 ? inference.Input(MultiTaskInputs.Dense) : null;
        var outputs = new[] { (MultiTaskInputs.PCtr, result.PCtr), (MultiTaskInputs.PCvr, result.PCvr), (MultiTaskInputs.PCtcvr, result.PCtcvr), (MultiTaskInputs.PredictedRating, result.PredictedRating) };
        for (int start = 0; start < data.Rows; start += batchSize)
        {
            int count = Math.Min(batchSize, data.Rows - start);
            Array.Clear(ids);
            for (int b = 0; b < count; b++)
            {
                data.Ids(start + b).CopyTo(ids.AsSpan(b * data.Fields, data.Fields));
                if (dense is not null) data.Dense(start + b).CopyTo(dense.AsSpan(b * data.DenseSize, data.DenseSize));
            }
            embeddings.Gather(ids, batchSize, inference.Input(MultiTaskInputs.Embeddings));
            inference.Run();
            foreach (var (name, target) in outputs) Array.Copy(inference.Output(name), 0, target, start, count);
        }
        return result;
    }

    /// <summary>The standalone ONNX model (see <see cref="CompiledModel.Export"/>).</summary>
    public byte[] Export(IReadOnlyList<string> fieldInputs, string? docString = null, string? denseInputName = null,
        Onnx.TensorProto.Types.DataType idType = Onnx.TensorProto.Types.DataType.Int64) =>
        Compiled.Export(Parameters, Tables, fieldInputs, Spec.EmbeddingDim, docString, denseInputName, idType);
}
