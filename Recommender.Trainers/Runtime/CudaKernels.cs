namespace Recommender.Trainers.Runtime;

/// <summary>
/// The ONNX ops (default domain, opset 18) that ONNX Runtime 1.31's CUDA execution provider has kernels
/// for, among those this project's graph builder can emit. Every graph the product builds must stay inside
/// this list (a test enforces it), because CUDA sessions run with <c>session.disable_cpu_ep_fallback=1</c>.
/// Deliberately absent: BatchNormalization in training mode, Dropout (masks are inputs instead), Softplus
/// in float64 (no CPU kernel either).
/// </summary>
public static class CudaKernels
{
    /// <summary>Op types with CUDA kernels.</summary>
    public static readonly IReadOnlySet<string> Supported = new HashSet<string>(StringComparer.Ordinal)
    {
        "Abs", "Add", "Cast", "Concat", "Constant", "Div", "Exp", "Expand", "Gather", "Gemm", "Greater", "GreaterOrEqual",
        "Identity", "Less", "LessOrEqual", "Log", "MatMul", "Max", "Min", "Mul", "Neg", "Pad", "Pow", "ReduceMean", "ReduceSum",
        "Relu", "Reshape", "ScatterND", "Shape", "Sigmoid", "Sign", "Size", "Slice", "Softmax", "Split", "Sqrt", "Squeeze",
        "Sub", "Tanh", "Transpose", "Unsqueeze", "Where",
    };
}
