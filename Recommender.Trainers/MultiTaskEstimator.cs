using Microsoft.ML;
using Microsoft.ML.Data;
using Recommender.Trainers.Compilation;
using Recommender.Trainers.Network;
using Recommender.Trainers.Runtime;
using Recommender.Trainers.Training;

namespace Recommender.Trainers;

/// <summary>
/// Trains a multi-task network on key-typed categorical columns, a dense feature vector and a label column per
/// task, and returns a transformer that adds each task's prediction as a <c>Single</c> column: <c>P_task</c> (a
/// chained binary task also <c>P_task_given_parent</c>) and <c>Pred_task</c>, or for the default chain <c>PCtr</c>,
/// <c>PCvr</c>, <c>PCtcvr</c> and <c>PredictedRating</c>.
/// </summary>
/// <remarks>
/// The returned transformer is made of ML.NET's own transformers — key-to-Int64 conversions, then
/// <c>ApplyOnnxModel</c> over the trained network exported with its embedding tables, then a column drop — so
/// <c>mlContext.Model.Save</c> and <c>Load</c> round-trip it with public APIs only (DESIGN section 5). Unseen
/// categorical values arrive as key 0 and score with the out-of-vocabulary row.
/// </remarks>
public sealed class MultiTaskEstimator : IEstimator<MultiTaskTransformer>
{
    private readonly MLContext _ml;

    internal MultiTaskEstimator(MLContext mlContext, MultiTaskTrainerOptions options)
    {
        _ml = mlContext;
        Options = options.Clone();
    }

    /// <summary>The estimator's own copy of the options given (the catalog sets the architecture on it).</summary>
    public MultiTaskTrainerOptions Options { get; }



    /// <summary>Trains without a validation set.</summary>
    public MultiTaskTransformer Fit(IDataView input) => Fit(input, null);

    /// <summary>Trains with per-epoch validation, early stopping and the best epoch kept.</summary>
    public MultiTaskTransformer Fit(IDataView train, IDataView? validation) => Fit(train, validation, null);

    /// <summary>
    /// Goes on training from <paramref name="initialState"/> (a trained model's <see cref="TrainedMultiTaskModel.State"/>)
    /// on new data (a warm start), as ML.NET's trainers accept initial model parameters: its dense parameters,
    /// optimizer state and embedding rows are kept; the key columns may have grown (rows of new keys start as a
    /// fresh model's).
    /// </summary>
    public MultiTaskTransformer Fit(IDataView train, IDataView? validation, TrainingState? initialState)
    {
        var keys = KeyColumns(train.Schema);
        var fieldRows = keys.Select(k => checked((int)((KeyDataViewType)train.Schema[k].Type).Count + 1)).ToArray();
        var (dense, denseSize) = DenseColumn(train.Schema);
        var labels = Options.ResolveTasks().Select(t => t.Label).ToArray();
        FeatureMatrix Matrix(IDataView data) => FeatureMatrix.From(data, keys, dense, denseSize, labels);
        var model = MultiTaskTrainer.Train(Matrix(train), validation is null ? null : Matrix(validation), fieldRows, Options, initialState, keys);
        var onnx = model.Export(IdColumns(keys), $"Recommender multi-task model ({Options.Architecture})", dense, Onnx.TensorProto.Types.DataType.Uint32);
        return new MultiTaskTransformer(Chain(keys, dense, onnx, model.Device == ExecutionDevice.Cuda ? 0 : null).Fit(train), model, keys);
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        // Propagate through the same chain over a stand-in model with the trained model's inputs and outputs.
        var keys = Options.CategoricalColumns ?? inputSchema.Where(c => c.IsKey).Select(c => c.Name).ToArray();
        if (keys.Length == 0) throw new ArgumentException("no key-typed categorical column in the input: featurize the categoricals into keys first (MapValueToKey or Hash)");
        var columns = inputSchema.ToDictionary(c => c.Name);
        foreach (var k in keys)
            if (!columns.TryGetValue(k, out var c) || !c.IsKey) throw new ArgumentException($"categorical column '{k}' is missing or not key-typed");
        string? dense = Options.DenseColumn is { } d && columns.TryGetValue(d, out var dc) && dc.ItemType == NumberDataViewType.Single ? d : null;
        var spec = new MultiTaskSpec { FieldRows = keys.Select(_ => 2).ToArray(), EmbeddingDim = 1, DenseSize = dense is null ? 0 : 1, Tasks = Options.ResolveTasks() };
        var standIn = SharedBottom.Create(spec, [1], [1]);
        var onnx = TrainStepCompiler.Compile(standIn).Export(standIn.Parameters.ToDictionary(p => p.Name, p => p.Initial),
            keys.Select(_ => new float[2]).ToArray(), IdColumns(keys), 1, null, dense is null ? null : new Dictionary<string, string> { [MultiTaskInputs.Dense] = dense },
            Onnx.TensorProto.Types.DataType.Uint32);
        return Chain(keys, dense, onnx, null).GetOutputSchema(inputSchema);
    }

    // gpuDeviceId: where the fitted transformer scores (the device training resolved to). ML.NET does not
    // save it with the model: a loaded model scores where the loading MLContext says.
    private IEstimator<ITransformer> Chain(IReadOnlyList<string> keys, string? dense, byte[] onnx, int? gpuDeviceId)
    {
        var ids = IdColumns(keys);
        IEstimator<ITransformer> chain = new EstimatorChain<ITransformer>();
        for (int i = 0; i < keys.Count; i++) chain = chain.Append(_ml.Transforms.Conversion.ConvertType(ids[i], keys[i], DataKind.UInt32));
        var inputs = dense is null ? ids : [.. ids, dense];
        var outputs = TaskList.Predictions(Options.ResolveTasks()).ToArray();
        chain = chain.Append(_ml.Transforms.ApplyOnnxModel(outputs, inputs, new MemoryStream(onnx), gpuDeviceId, fallbackToCpu: false))
            .Append(_ml.Transforms.DropColumns(ids));
        return ScalarPredictions.Append(chain, _ml, outputs);
    }

    private string[] KeyColumns(DataViewSchema schema)
    {
        var keys = Options.CategoricalColumns ?? schema.Where(c => !c.IsHidden && c.Type is KeyDataViewType).Select(c => c.Name).ToArray();
        if (keys.Length == 0) throw new ArgumentException("no key-typed categorical column in the input: featurize the categoricals into keys first (MapValueToKey or Hash)");
        foreach (var k in keys)
        {
            var column = schema.GetColumnOrNull(k) ?? throw new ArgumentException($"categorical column '{k}' is not in the input");
            if (column.Type is not KeyDataViewType) throw new ArgumentException($"categorical column '{k}' is {column.Type}, not key-typed: map it to keys first");
        }
        // A behaviour sequence's positions come after the plain fields, each sequence's together and in order.
        var positions = (Options.Sequences ?? []).SelectMany(q => q.Positions).ToArray();
        foreach (var position in positions)
            if (!keys.Contains(position)) throw new ArgumentException($"sequence position '{position}' is not one of the key columns");
        return [.. keys.Where(k => !positions.Contains(k)), .. positions];
    }

    private (string? Name, int Size) DenseColumn(DataViewSchema schema)
    {
        if (Options.DenseColumn is not { } name || schema.GetColumnOrNull(name) is not { } column) return (null, 0);
        if (column.Type is not VectorDataViewType { ItemType: NumberDataViewType n, Size: > 0 } v || n != NumberDataViewType.Single)
            throw new ArgumentException($"dense column '{name}' must be a known-size vector of Single, got {column.Type}");
        return (name, v.Size);
    }

    private static string[] IdColumns(IReadOnlyList<string> keys) => keys.Select((k, i) => $"__id{i}").ToArray();
}
