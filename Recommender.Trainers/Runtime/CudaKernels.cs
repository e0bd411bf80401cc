using DataType = Onnx.TensorProto.Types.DataType;

namespace Recommender.Trainers.Runtime;

/// <summary>
/// What ONNX Runtime 1.31's CUDA execution provider has kernels for (default domain, opset 18), among the ops
/// this project's graph builder can emit, taken from ONNX Runtime's <c>docs/OperatorKernels.md</c>. CUDA
/// sessions run with <c>session.disable_cpu_ep_fallback=1</c>, so a graph that leaves this table, or whose
/// shape arithmetic ONNX Runtime would move to the CPU, fails at session creation on the GPU; the tests
/// check every graph the product builds against it on the CPU. Deliberately absent: BatchNormalization in
/// training mode and Dropout. The networks use neither; a dropout would take its masks as batch inputs, so
/// the train step stays deterministic and identical on both devices.
/// </summary>
public static class CudaKernels
{
    private static readonly DataType[] Floating = [DataType.Float, DataType.Double];
    private static readonly DataType[] Numeric = [DataType.Float, DataType.Double, DataType.Int32, DataType.Int64];
    private static readonly DataType[] Any = [DataType.Float, DataType.Double, DataType.Int32, DataType.Int64, DataType.Bool];

    /// <summary>Element types each op's CUDA kernel takes (of its first input; of X for Where; of the input for Cast).</summary>
    public static readonly IReadOnlyDictionary<string, DataType[]> Types = new Dictionary<string, DataType[]>(StringComparer.Ordinal)
    {
        ["Abs"] = Numeric, ["Add"] = Numeric, ["Sub"] = Numeric, ["Mul"] = Numeric, ["Div"] = Numeric, ["Neg"] = Numeric,
        ["Max"] = Numeric, ["Min"] = Numeric, ["Sign"] = Numeric, ["Pow"] = Numeric, ["ReduceSum"] = Numeric,
        ["Greater"] = Numeric, ["GreaterOrEqual"] = Numeric, ["Less"] = Numeric, ["LessOrEqual"] = Numeric, ["Where"] = Numeric,
        ["Exp"] = Floating, ["Log"] = Floating, ["Sqrt"] = Floating, ["HardSigmoid"] = Floating, ["Tanh"] = Floating, ["Sigmoid"] = Floating, ["Relu"] = Floating,
        ["Softmax"] = Floating, ["MatMul"] = Floating, ["Gemm"] = Floating, ["ReduceMean"] = Floating,
        ["Pad"] = [DataType.Float, DataType.Double, DataType.Bool],
        ["Cast"] = Any, ["Concat"] = Any, ["Expand"] = Any, ["Gather"] = Any, ["Identity"] = Any, ["NonZero"] = Any, ["Reshape"] = Any,
        ["ScatterND"] = Any, ["Shape"] = Any, ["Size"] = Any, ["Slice"] = Any, ["Split"] = Any, ["Squeeze"] = Any,
        ["Transpose"] = Any, ["Unsqueeze"] = Any,
        // ONNX Runtime turns Constant nodes into initializers when it loads a model: no kernel runs.
        ["Constant"] = Any,
    };

    /// <summary>Op types with CUDA kernels.</summary>
    public static IReadOnlySet<string> Supported { get; } = new HashSet<string>(Types.Keys, StringComparer.Ordinal);

    /// <summary>
    /// Inputs the CUDA kernels read from host memory (shapes, axes, pads, split sizes). A value computed by
    /// a node and consumed here makes ONNX Runtime prefer the CPU for that node.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, int[]> HostInputs = new Dictionary<string, int[]>(StringComparer.Ordinal)
    {
        ["Reshape"] = [1], ["Expand"] = [1], ["Slice"] = [1, 2, 3, 4], ["Pad"] = [1, 2, 3], ["Split"] = [1],
        ["Squeeze"] = [1], ["Unsqueeze"] = [1], ["ReduceSum"] = [1], ["ReduceMean"] = [1],
    };

    /// <summary>Outputs the CUDA kernels write to host memory.</summary>
    public static readonly IReadOnlyDictionary<string, int[]> HostOutputs = new Dictionary<string, int[]>(StringComparer.Ordinal)
    {
        ["Shape"] = [0], ["Size"] = [0],
    };
}
