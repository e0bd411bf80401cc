using Recommender.Trainers.Graph;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Recommender.Trainers.Compilation;

/// <summary>A dense parameter: its name, shape and initial values.</summary>
public sealed record ParameterSpec(string Name, long[] Shape, float[] Initial)
{
    /// <summary>Number of elements.</summary>
    public long Size => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>A per-row input of the batch: its name and the shape of one row.</summary>
/// <param name="Name">Input name.</param>
/// <param name="RowShape">Shape of one row (the batch axis is added in front).</param>
/// <param name="Kind">What the input is for.</param>
public sealed record BatchInputSpec(string Name, long[] RowShape, BatchInputKind Kind)
{
    /// <summary>Elements per row.</summary>
    public long RowSize => RowShape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>The role of a batch input.</summary>
public enum BatchInputKind
{
    /// <summary>A feature input used by inference too (dense features, ids).</summary>
    Feature,
    /// <summary>Gathered embedding rows: a feature whose gradient the train step returns, for the host's sparse optimizer.</summary>
    Embedding,
    /// <summary>A label or mask: training only.</summary>
    Label,
}

/// <summary>What a model's forward function returns.</summary>
/// <param name="Predictions">Named outputs of inference (for example PCtr, PCvr, PCtcvr, PredictedRating).</param>
/// <param name="Loss">The scalar training loss (null when built for inference).</param>
/// <param name="LossTerms">Named parts of the loss, reported per step.</param>
public sealed record ModelOutputs(IReadOnlyDictionary<string, Value> Predictions, Value? Loss, IReadOnlyDictionary<string, Value> LossTerms);

/// <summary>Builds a model's forward graph from its batch inputs and parameters; <c>training</c> is false for inference (no label inputs).</summary>
public delegate ModelOutputs ForwardFunction(GraphBuilder g, IReadOnlyDictionary<string, Value> inputs, IReadOnlyDictionary<string, Value> parameters, bool training);

/// <summary>Everything the train-step compiler needs to know about a model.</summary>
public sealed class ModelDefinition
{
    /// <summary>Dense parameters.</summary>
    public required IReadOnlyList<ParameterSpec> Parameters { get; init; }

    /// <summary>Batch inputs.</summary>
    public required IReadOnlyList<BatchInputSpec> Inputs { get; init; }

    /// <summary>The forward function.</summary>
    public required ForwardFunction Forward { get; init; }

    /// <summary>Element type the graphs are built in (float32 to train; float64 for gradient checks).</summary>
    public DataType FloatType { get; init; } = DataType.Float;
}
