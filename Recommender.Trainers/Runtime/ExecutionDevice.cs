namespace Recommender.Trainers.Runtime;

/// <summary>Where ONNX Runtime runs a graph.</summary>
public enum ExecutionDevice
{
    /// <summary>CUDA when it can be started, else the CPU (the fallback is logged once).</summary>
    Auto,
    /// <summary>The CPU.</summary>
    Cpu,
    /// <summary>CUDA, or a clear error; no node may silently fall back to the CPU.</summary>
    Cuda,
}
