namespace Recommender.Trainers.Runtime;

/// <summary>How sessions are created.</summary>
public sealed class RuntimeOptions
{
    /// <summary>Device choice; default <see cref="ExecutionDevice.Auto"/>.</summary>
    public ExecutionDevice Device = ExecutionDevice.Auto;

    /// <summary>CUDA device ordinal.</summary>
    public int DeviceId;

    /// <summary>Intra-op threads on the CPU; 0 lets ONNX Runtime choose (one per core).</summary>
    public int Threads;

    /// <summary>TF32 matrix math on CUDA (faster, about 1e-3 relative error); off for parity checks.</summary>
    public bool AllowTf32 = true;

    /// <summary>
    /// Let ONNX Runtime's CPU threads spin-wait after a run. Off by default: between train steps the host
    /// runs the gather and the sparse update on the same cores, and spinning threads would steal them.
    /// </summary>
    public bool AllowSpinning;

    /// <summary>
    /// Where ONNX Runtime writes its per-node profile (a Chrome-trace JSON file named from this prefix), or null for no
    /// profiling; the session's owner ends it (<see cref="TrainStepRunner.EndProfiling"/>) to get the file.
    /// </summary>
    public string? ProfilePrefix;

    /// <summary>Graph optimization level; full optimization by default.</summary>
    public Microsoft.ML.OnnxRuntime.GraphOptimizationLevel Optimization = Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_ALL;
}
