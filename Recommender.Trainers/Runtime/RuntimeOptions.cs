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

    /// <summary>Most threads any option takes: past this a typo (100000) would spend minutes starting threads instead of failing.</summary>
    public const int MaxThreads = 1024;

    /// <summary>
    /// Most rows one batch takes (a train step, an inference run, a scoring chunk): throughput stops growing a few thousand rows
    /// in, while the buffers of a wide model grow to gigabytes, so past this a number is a typo to refuse, not a wish to allocate.
    /// </summary>
    public const int MaxBatchRows = 1 << 20;

    /// <summary>TF32 matrix math on CUDA (faster, about 1e-3 relative error); off for parity checks.</summary>
    public bool AllowTf32 = true;

    /// <summary>
    /// Let ONNX Runtime's CPU threads spin-wait between the kernels of a run, so that each parallel kernel starts without
    /// waking sleeping threads (a train step runs 200-500 kernels). They stop spinning when the run ends, so the host's
    /// gather and sparse update between train steps keep the cores. On by default: in paired <c>bench engine</c> runs on a
    /// 2-core EPYC, ONNX Runtime's part of a step dropped 5-12% (MMoE 95-100k to 105-106k samples/s in four pairs out of
    /// four, SharedBottom +1-8%, ESMM +3%). Where another process takes a core, spinning threads wait on descheduled ones:
    /// with one core of two busy, training ran 30-45% slower with it and inference 15-45%, so turn it off on shared machines.
    /// </summary>
    public bool AllowSpinning = true;

    /// <summary>
    /// Where ONNX Runtime writes its per-node profile (a Chrome-trace JSON file named from this prefix), or null for no
    /// profiling; the session's owner ends it (<see cref="TrainStepRunner.EndProfiling"/>) to get the file.
    /// </summary>
    public string? ProfilePrefix;

    /// <summary>Graph optimization level; full optimization by default.</summary>
    public Microsoft.ML.OnnxRuntime.GraphOptimizationLevel Optimization = Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_ALL;
}
