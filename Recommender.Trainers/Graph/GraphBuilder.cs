using Google.Protobuf;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Recommender.Trainers.Graph;

/// <summary>
/// Builds an ONNX graph from C#: graph inputs, initializers and constants, then ops (in the <c>Ops.*</c>
/// files, each op beside its gradient rule), then outputs. <see cref="Autodiff"/> derives backward graphs
/// from the recorded nodes. <see cref="FloatType"/> makes the same model build in float32 for training
/// and in float64 for gradient checks.
/// </summary>
public sealed partial class GraphBuilder
{
    /// <summary>ONNX opset used: 18 (ScatterND with reduction on CUDA, Pad with axes, ReduceSum axes as input).</summary>
    public const int Opset = 18;

    private readonly List<Node> _nodes = new();
    // Values made by ZerosLike: a scatter into one can scatter into another term instead (Accumulate).
    private readonly HashSet<Value> _zeros = new();
    private readonly List<ValueInfoProto> _inputs = new();
    private readonly List<ValueInfoProto> _outputs = new();
    private readonly List<TensorProto> _initializers = new();
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<(double, DataType, int), Value> _scalars = new();
    private readonly Dictionary<Value, (double Value, DataType Type)> _scalarOf = new();
    private readonly Dictionary<Value, string> _outputNames = new();
    private int _counter;

    /// <summary>Creates a builder whose floating-point values are of <paramref name="floatType"/>.</summary>
    public GraphBuilder(DataType floatType = DataType.Float)
    {
        if (floatType is not (DataType.Float or DataType.Double)) throw new ArgumentException("float type must be Float or Double");
        FloatType = floatType;
    }

    /// <summary>The element type of parameters, activations and constants.</summary>
    public DataType FloatType { get; }

    /// <summary>The nodes recorded so far, in topological (creation) order.</summary>
    public IReadOnlyList<Node> Nodes => _nodes;

    /// <summary>Names of the graph inputs, in order.</summary>
    public IEnumerable<string> InputNames => _inputs.Select(i => i.Name);

    /// <summary>Names of the graph outputs, in order.</summary>
    public IEnumerable<string> OutputNames => _outputs.Select(o => o.Name);

    internal string Unique(string hint)
    {
        string name = hint;
        while (!_names.Add(name)) name = $"{hint}_{++_counter}";
        return name;
    }

    /// <summary>Declares a graph input.</summary>
    public Value Input(string name, long[] shape, DataType? type = null)
    {
        if (!_names.Add(name)) throw new ArgumentException($"name '{name}' is already used", nameof(name));
        var value = new Value(this, name, type ?? FloatType, shape, null);
        _inputs.Add(ValueInfo(value));
        return value;
    }

    /// <summary>Declares a float input of the builder's float type.</summary>
    public Value Input(string name, params long[] shape) => Input(name, shape, null);

    /// <summary>Adds an initializer (a tensor stored in the model).</summary>
    public Value Initializer(string name, long[] shape, ReadOnlySpan<float> data)
    {
        if (!_names.Add(name)) throw new ArgumentException($"name '{name}' is already used", nameof(name));
        var tensor = new TensorProto { Name = name, DataType = (int)FloatType };
        tensor.Dims.AddRange(shape);
        if (FloatType == DataType.Float) tensor.RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data));
        else foreach (var v in data) tensor.DoubleData.Add(v);
        _initializers.Add(tensor);
        return new Value(this, name, FloatType, shape, null);
    }

    /// <summary>A scalar constant of the float type (shared per value).</summary>
    public Value Scalar(double value) => Scalar(value, FloatType);

    /// <summary>A scalar constant of the given type (shared per value and type).</summary>
    public Value Scalar(double value, DataType type) => Scalar(value, type, 0);

    // A one-element constant of the given rank ([1, ..., 1]); see MatchRank.
    private Value Scalar(double value, DataType type, int rank)
    {
        if (_scalars.TryGetValue((value, type, rank), out var existing)) return existing;
        var tensor = new TensorProto { DataType = (int)type };
        switch (type)
        {
            case DataType.Float: tensor.FloatData.Add((float)value); break;
            case DataType.Double: tensor.DoubleData.Add(value); break;
            case DataType.Int64: tensor.Int64Data.Add((long)value); break;
            default: throw new ArgumentException($"scalar of {type} not supported");
        }
        var shape = Enumerable.Repeat(1L, rank).ToArray();
        tensor.Dims.AddRange(shape);
        var v = ConstantTensor(tensor, shape, "c");
        _scalars[(value, type, rank)] = v;
        _scalarOf[v] = (value, type);
        return v;
    }

    /// <summary>
    /// <paramref name="x"/> with the rank of its broadcast partner where x holds one element and has fewer dimensions. ONNX
    /// Runtime's CPU kernels broadcast a lower-rank operand against an [N, 1] tensor one element at a time (about 5 ns an
    /// element: 10 us for a [2048, 1] Mul, 40 us at 8192 rows, against 0.5-1 us for a same-rank [1, 1] operand), and the
    /// losses and heads are full of [B, 1] tensors meeting scalars. A constant is re-declared with the rank; a computed
    /// value is reshaped (no copy).
    /// </summary>
    private Value MatchRank(Value x, int rank)
    {
        if (x.Rank >= rank || x.Shape.Any(d => d != 1)) return x;
        if (_scalarOf.TryGetValue(x, out var constant)) return Scalar(constant.Value, constant.Type, rank);
        var shape = Enumerable.Repeat(1L, rank).ToArray();
        return Reshape(x, shape);
    }

    /// <summary>A 1-D int64 constant (shapes, axes, split sizes).</summary>
    public Value Int64s(params long[] values)
    {
        var tensor = new TensorProto { DataType = (int)DataType.Int64 };
        tensor.Dims.Add(values.Length);
        tensor.Int64Data.AddRange(values);
        return ConstantTensor(tensor, [values.Length], "i64");
    }

    private Value ConstantTensor(TensorProto tensor, long[] shape, string hint)
    {
        var node = new Node("Constant", [], null);
        node.Attributes.Add(new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = tensor });
        return Emit(node, hint, (DataType)tensor.DataType, shape);
    }

    /// <summary>
    /// Marks <paramref name="value"/> as a graph output under <paramref name="name"/>. A node's result is renamed where
    /// the graph is written, not copied: an Identity per output costs a kernel and a copy of the tensor (the embedding
    /// gradient is the batch's size) in every step. Graph inputs, and a value already output under another name, go through
    /// an Identity.
    /// </summary>
    public Value Output(Value value, string name)
    {
        var output = value;
        if (value.Name != name)
        {
            if (value.Producer is null || _outputNames.ContainsKey(value)) output = Identity(value, name);
            else _outputNames[value] = ClaimName(name);
        }
        _outputs.Add(ValueInfo(output, NameOf(output)));
        return output;
    }

    // A value's name in the written graph: its output name where it was renamed as one.
    private string NameOf(Value v) => _outputNames.TryGetValue(v, out var name) ? name : v.Name;

    // Records a node with one output.
    internal Value Emit(Node node, string hint, DataType type, long[] shape, string? outputName = null)
    {
        var output = new Value(this, outputName is null ? Unique(hint) : ClaimName(outputName), type, shape, node);
        node.Outputs = [output];
        _nodes.Add(node);
        return output;
    }

    // Records a node with several outputs.
    internal Value[] EmitMany(Node node, string hint, DataType type, long[][] shapes)
    {
        var outputs = shapes.Select(s => new Value(this, Unique(hint), type, s, node)).ToArray();
        node.Outputs = outputs;
        _nodes.Add(node);
        return outputs;
    }

    private string ClaimName(string name)
    {
        if (!_names.Add(name)) throw new ArgumentException($"name '{name}' is already used");
        return name;
    }

    internal static AttributeProto IntAttribute(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    internal static AttributeProto FloatAttribute(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    internal static AttributeProto IntsAttribute(string name, IEnumerable<long> values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    internal static AttributeProto StringAttribute(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    private static ValueInfoProto ValueInfo(Value v, string? name = null)
    {
        var shape = new TensorShapeProto();
        int i = 0;
        foreach (long d in v.Shape)
            shape.Dim.Add(d >= 0 ? new TensorShapeProto.Types.Dimension { DimValue = d } : new TensorShapeProto.Types.Dimension { DimParam = $"{v.Name}_d{i}" });
        var type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)v.Type, Shape = shape } };
        return new ValueInfoProto { Name = name ?? v.Name, Type = type };
    }

    /// <summary>The ONNX model: opset <see cref="Opset"/>, IR version 8.</summary>
    public ModelProto ToModel(string graphName = "graph", string? docString = null)
    {
        var graph = new GraphProto { Name = graphName, DocString = docString ?? "" };
        graph.Input.AddRange(_inputs);
        graph.Output.AddRange(_outputs);
        graph.Initializer.AddRange(_initializers);
        foreach (var node in LiveNodes())
        {
            var proto = new NodeProto { OpType = node.OpType, Name = node.Output.Name + "_op" };
            proto.Input.AddRange(node.Inputs.Select(NameOf));
            proto.Output.AddRange(node.Outputs.Select(NameOf));
            proto.Attribute.AddRange(node.Attributes);
            graph.Node.Add(proto);
        }
        var model = new ModelProto { IrVersion = 8, ProducerName = "Recommender.Trainers", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        return model;
    }

    /// <summary>
    /// The nodes the graph's outputs depend on, in recorded order. ONNX Runtime runs every node it is given, and a model's
    /// forward function builds its predictions in training too (the train step outputs only the losses and the new state),
    /// a task's tower over every row beside the one over its labelled rows; a gradient accumulated into another term leaves
    /// its zeros unread, and a scalar re-declared with its partner's rank (MatchRank) its rank-0 constant, which ONNX
    /// Runtime would warn of.
    /// </summary>
    private List<Node> LiveNodes()
    {
        var outputNames = _outputs.Select(o => o.Name).ToHashSet();
        var live = new HashSet<Node>();
        var stack = new Stack<Node>(_nodes.Where(n => n.Outputs.Any(o => outputNames.Contains(NameOf(o)))));
        while (stack.Count > 0)
        {
            var node = stack.Pop();
            if (!live.Add(node)) continue;
            foreach (var input in node.Inputs) if (input.Producer is { } producer && !live.Contains(producer)) stack.Push(producer);
        }
        return _nodes.Where(live.Contains).ToList();
    }

    /// <summary>The serialized model.</summary>
    public byte[] ToBytes(string graphName = "graph") => ToModel(graphName).ToByteArray();

    /// <summary>Distinct op types used, for the CUDA coverage check.</summary>
    public IEnumerable<string> OpTypes => _nodes.Select(n => n.OpType).Distinct();
}
