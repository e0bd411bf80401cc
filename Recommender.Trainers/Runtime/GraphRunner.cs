using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Recommender.Trainers.Runtime;

/// <summary>
/// Runs a graph with host arrays in and out: simple and allocating, for evaluation, gradient checks and
/// tools. The training loop binds pre-allocated buffers instead.
/// </summary>
public sealed class GraphRunner : IDisposable
{
    private readonly InferenceSession _session;

    /// <summary>Creates a session for the model.</summary>
    public GraphRunner(byte[] model, RuntimeOptions? options = null)
    {
        _session = SessionFactory.Create(model, options ?? new RuntimeOptions { Device = ExecutionDevice.Cpu }, out var device);
        Device = device;
    }

    /// <summary>The device the session runs on.</summary>
    public ExecutionDevice Device { get; }

    /// <summary>The underlying session.</summary>
    public InferenceSession Session => _session;

    /// <summary>Runs the graph; inputs and outputs are flat arrays (float, double, long or bool) with shapes.</summary>
    public Dictionary<string, (Array Data, long[] Shape)> Run(IReadOnlyDictionary<string, (Array Data, long[] Shape)> inputs, params string[] outputs)
    {
        var names = inputs.Keys.ToArray();
        var values = names.Select(n => Create(inputs[n].Data, inputs[n].Shape)).ToArray();
        try
        {
            var outputNames = outputs.Length > 0 ? outputs : _session.OutputNames.ToArray();
            using var runOptions = new RunOptions();
            using var results = _session.Run(runOptions, names, values, outputNames);
            var map = new Dictionary<string, (Array, long[])>();
            for (int i = 0; i < outputNames.Length; i++) map[outputNames[i]] = Read(results[i]);
            return map;
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }

    private static OrtValue Create(Array data, long[] shape) => data switch
    {
        float[] f => OrtValue.CreateTensorValueFromMemory(f, shape),
        double[] d => OrtValue.CreateTensorValueFromMemory(d, shape),
        long[] l => OrtValue.CreateTensorValueFromMemory(l, shape),
        bool[] b => OrtValue.CreateTensorValueFromMemory(b, shape),
        _ => throw new ArgumentException($"unsupported input array {data.GetType().Name}"),
    };

    private static (Array, long[]) Read(OrtValue value)
    {
        var info = value.GetTensorTypeAndShape();
        var shape = info.Shape;
        Array data = info.ElementDataType switch
        {
            TensorElementType.Float => value.GetTensorDataAsSpan<float>().ToArray(),
            TensorElementType.Double => value.GetTensorDataAsSpan<double>().ToArray(),
            TensorElementType.Int64 => value.GetTensorDataAsSpan<long>().ToArray(),
            TensorElementType.Bool => value.GetTensorDataAsSpan<bool>().ToArray(),
            var t => throw new NotSupportedException($"output type {t}"),
        };
        return (data, shape);
    }

    /// <inheritdoc/>
    public void Dispose() => _session.Dispose();
}
