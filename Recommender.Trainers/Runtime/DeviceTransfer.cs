using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Recommender.Trainers.Graph;

namespace Recommender.Trainers.Runtime;

/// <summary>
/// Copies tensors between host arrays and device-resident <see cref="OrtValue"/>s. The managed API has no
/// memcpy for device memory, so each copy runs a one-node Identity graph on the device with one side bound
/// to host memory: ONNX Runtime moves the data. One small session per distinct shape, created on first use;
/// copies happen at start, at checkpoints and at export, never per step.
/// </summary>
internal sealed class DeviceTransfer : IDisposable
{
    private readonly RuntimeOptions _options;
    private readonly ExecutionDevice _device;
    private readonly Dictionary<string, InferenceSession> _sessions = new();
    private readonly RunOptions _run = new();

    /// <summary>Copies to and from tensors of <paramref name="device"/> (CUDA in the product; the CPU in tests of this path).</summary>
    public DeviceTransfer(RuntimeOptions options, ExecutionDevice device)
    {
        _options = options;
        _device = device;
    }

    private InferenceSession SessionFor(long[] shape)
    {
        string key = string.Join("x", shape);
        if (_sessions.TryGetValue(key, out var s)) return s;
        var g = new GraphBuilder();
        g.Output(g.Identity(g.Input("x", shape)), "y");
        s = SessionFactory.Create(g.ToBytes("copy"), new RuntimeOptions { Device = _device, DeviceId = _options.DeviceId, Threads = 1, Optimization = GraphOptimizationLevel.ORT_DISABLE_ALL }, out _);
        _sessions[key] = s;
        return s;
    }

    /// <summary>Host -> device.</summary>
    public void Upload(ReadOnlySpan<float> host, OrtValue device, long[] shape)
    {
        using var input = OrtValue.CreateTensorValueFromMemory(host.ToArray(), shape);
        Copy(input, device, shape);
    }

    /// <summary>Device -> host.</summary>
    public float[] Download(OrtValue device, long[] shape)
    {
        var buffer = new float[shape.Aggregate(1L, (a, b) => a * b)];
        using var output = OrtValue.CreateTensorValueFromMemory(buffer, shape);
        Copy(device, output, shape);
        return buffer;
    }

    private void Copy(OrtValue from, OrtValue to, long[] shape)
    {
        var session = SessionFor(shape);
        using var binding = session.CreateIoBinding();
        binding.BindInput("x", from);
        binding.BindOutput("y", to);
        session.RunWithBinding(_run, binding);
        binding.SynchronizeBoundOutputs();
    }

    /// <summary>The session's CUDA allocator; it must outlive every tensor allocated from it.</summary>
    public static OrtAllocator CudaAllocator(InferenceSession session, int deviceId)
    {
        using var info = new OrtMemoryInfo("Cuda", OrtAllocatorType.DeviceAllocator, deviceId, OrtMemType.Default);
        return new OrtAllocator(session, info);
    }

    public void Dispose()
    {
        foreach (var s in _sessions.Values) s.Dispose();
        _run.Dispose();
    }
}
