using Onnx;

namespace Recommender.Trainers.Graph;

/// <summary>
/// A named tensor in a graph under construction, with its element type and static shape
/// (-1 marks a dimension known only at run time, such as the batch).
/// </summary>
public sealed class Value
{
    internal Value(GraphBuilder graph, string name, TensorProto.Types.DataType type, long[] shape, Node? producer)
    {
        Graph = graph;
        Name = name;
        Type = type;
        Shape = shape;
        Producer = producer;
    }

    /// <summary>The graph this value belongs to.</summary>
    public GraphBuilder Graph { get; }

    /// <summary>The tensor's name in the ONNX graph.</summary>
    public string Name { get; }

    /// <summary>Element type.</summary>
    public TensorProto.Types.DataType Type { get; }

    /// <summary>Static shape; -1 for a dimension known only at run time.</summary>
    public long[] Shape { get; }

    /// <summary>Rank.</summary>
    public int Rank => Shape.Length;

    internal Node? Producer { get; }

    /// <summary>Whether the value is a floating-point tensor (and so can carry a gradient).</summary>
    public bool IsFloating => Type is TensorProto.Types.DataType.Float or TensorProto.Types.DataType.Double;

    /// <summary>Shape as text, for errors.</summary>
    public string ShapeText => "[" + string.Join(",", Shape.Select(d => d < 0 ? "?" : d.ToString())) + "]";

    /// <inheritdoc/>
    public override string ToString() => $"{Name}{ShapeText}";

    /// <summary>a + b.</summary>
    public static Value operator +(Value a, Value b) => a.Graph.Add(a, b);
    /// <summary>a - b.</summary>
    public static Value operator -(Value a, Value b) => a.Graph.Sub(a, b);
    /// <summary>a * b (element-wise).</summary>
    public static Value operator *(Value a, Value b) => a.Graph.Mul(a, b);
    /// <summary>a / b (element-wise).</summary>
    public static Value operator /(Value a, Value b) => a.Graph.Div(a, b);
    /// <summary>-a.</summary>
    public static Value operator -(Value a) => a.Graph.Neg(a);
    /// <summary>a * constant.</summary>
    public static Value operator *(Value a, double c) => a.Graph.Mul(a, a.Graph.Scalar(c));
    /// <summary>a + constant.</summary>
    public static Value operator +(Value a, double c) => a.Graph.Add(a, a.Graph.Scalar(c));
}

/// <summary>
/// The gradient rule of an op: given the node and the gradients of its outputs (null where an output
/// does not reach the loss), returns the gradients of its inputs (null where none is needed or defined).
/// </summary>
public delegate Value?[] GradientRule(GraphBuilder g, Node node, Value?[] outputGradients);

/// <summary>One op in the graph.</summary>
public sealed class Node
{
    internal Node(string opType, Value[] inputs, GradientRule? gradient)
    {
        OpType = opType;
        Inputs = inputs;
        Gradient = gradient;
    }

    /// <summary>ONNX op type.</summary>
    public string OpType { get; }

    /// <summary>Inputs (an empty name stands for an omitted optional input).</summary>
    public Value[] Inputs { get; internal set; }

    /// <summary>Outputs.</summary>
    public Value[] Outputs { get; internal set; } = [];

    /// <summary>The gradient rule; null for ops that are not differentiable (comparisons, casts, shapes).</summary>
    public GradientRule? Gradient { get; }

    internal List<AttributeProto> Attributes { get; } = new();

    /// <summary>The output (for single-output ops).</summary>
    public Value Output => Outputs[0];
}
