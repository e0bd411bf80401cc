using Microsoft.ML.OnnxRuntime;

namespace Recommender.Trainers.Runtime;

/// <summary>
/// Runs an inference graph over fixed-size batches with pre-bound host buffers: fill the inputs, call
/// <see cref="Run()"/>, read the outputs. No managed allocation per batch. A partial batch runs through
/// <see cref="Run(int)"/> on the smallest power of two of rows that holds it: bindings of that many rows over the
/// front of the same buffers (row-major, so the first rows are contiguous), made once per size. A one-row request
/// of the serving layer then costs a one-row run, not a run of the whole batch.
/// </summary>
public sealed class BatchedInference : IDisposable
{
    /// <summary>Rows per inference batch where nobody says otherwise (scoring, evaluation, validation): large enough to amortize a run, small enough for the cache.</summary>
    public const int DefaultBatchSize = 8192;

    private readonly InferenceSession _session;
    private readonly OrtIoBinding _binding;
    private readonly RunOptions _runOptions = new();
    private readonly List<OrtValue> _values = new();
    private readonly Dictionary<string, float[]> _inputs = new(), _outputs = new();
    private readonly Dictionary<string, long[]> _idInputs = new();
    private readonly Dictionary<int, OrtIoBinding> _partial = new();

    /// <summary>Creates the session and binds a buffer of <paramref name="batchSize"/> rows to every float input and output.</summary>
    public BatchedInference(byte[] model, int batchSize, RuntimeOptions? options = null)
    {
        if (batchSize < 1 || batchSize > RuntimeOptions.MaxBatchRows)
            throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, $"the batch size must be 1 to {RuntimeOptions.MaxBatchRows:N0} rows");
        _session = SessionFactory.Create(model, options ?? new RuntimeOptions(), out var device);
        Device = device;
        BatchSize = batchSize;
        _binding = _session.CreateIoBinding();
        foreach (var (name, meta) in _session.InputMetadata)
        {
            if (meta.ElementDataType == Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Int64) _idInputs[name] = BindIds(name, meta, batchSize);
            else _inputs[name] = Bind(name, meta, batchSize, input: true);
        }
        foreach (var (name, meta) in _session.OutputMetadata) _outputs[name] = Bind(name, meta, batchSize, input: false);
    }

    /// <summary>Rows per batch.</summary>
    public int BatchSize { get; }

    /// <summary>Where the session runs.</summary>
    public ExecutionDevice Device { get; }

    /// <summary>Names of the inputs.</summary>
    public IEnumerable<string> InputNames => _inputs.Keys;

    /// <summary>Names of the outputs.</summary>
    public IEnumerable<string> OutputNames => _outputs.Keys;

    /// <summary>An input buffer, row-major [batch, ...].</summary>
    public float[] Input(string name) => _inputs[name];

    /// <summary>An int64 input buffer (ids), row-major [batch, ...].</summary>
    public long[] IdInput(string name) => _idInputs[name];

    /// <summary>Names of the int64 inputs.</summary>
    public IEnumerable<string> IdInputNames => _idInputs.Keys;

    /// <summary>An output buffer, row-major [batch, ...], valid after <see cref="Run()"/>.</summary>
    public float[] Output(string name) => _outputs[name];

    /// <summary>Runs the batch in the input buffers.</summary>
    public void Run() => _session.RunWithBinding(_runOptions, _binding);

    /// <summary>Runs only the first <paramref name="rows"/> rows of the input buffers (rounded up to a power of two); their outputs land at the front of the output buffers.</summary>
    public void Run(int rows)
    {
        if (rows < 1 || rows > BatchSize) throw new ArgumentOutOfRangeException(nameof(rows), rows, $"1..{BatchSize} rows");
        int size = (int)Math.Min(BatchSize, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)rows));
        if (size == BatchSize) { Run(); return; }
        if (!_partial.TryGetValue(size, out var binding))
        {
            binding = _session.CreateIoBinding();
            foreach (var (name, meta) in _session.InputMetadata)
            {
                if (_idInputs.TryGetValue(name, out var ids)) binding.BindInput(name, Front(ids, meta, size));
                else binding.BindInput(name, Front(_inputs[name], meta, size));
            }
            foreach (var (name, meta) in _session.OutputMetadata) binding.BindOutput(name, Front(_outputs[name], meta, size));
            _partial[size] = binding;
        }
        _session.RunWithBinding(_runOptions, binding);
    }

    // A tensor over the first rows of a bound buffer.
    private OrtValue Front<T>(T[] buffer, NodeMetadata meta, int rows) where T : unmanaged
    {
        var shape = meta.Dimensions.Select((d, i) => i == 0 ? rows : Math.Max(d, 1L)).Select(d => (long)d).ToArray();
        var value = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, buffer.AsMemory(0, checked((int)shape.Aggregate(1L, (a, b) => a * b))), shape);
        _values.Add(value);
        return value;
    }

    private float[] Bind(string name, NodeMetadata meta, int batch, bool input)
    {
        if (meta.ElementDataType != Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float)
            throw new NotSupportedException($"'{name}' is {meta.ElementDataType}; batched inference binds float tensors");
        var shape = meta.Dimensions.Select((d, i) => i == 0 ? batch : d < 0 ? throw new NotSupportedException($"'{name}' has a dynamic dimension {i}") : (long)d).ToArray();
        var buffer = new float[shape.Aggregate(1L, (a, b) => a * b)];
        var value = OrtValue.CreateTensorValueFromMemory(buffer, shape);
        _values.Add(value);
        if (input) _binding.BindInput(name, value); else _binding.BindOutput(name, value);
        return buffer;
    }

    private long[] BindIds(string name, NodeMetadata meta, int batch)
    {
        var shape = meta.Dimensions.Select((d, i) => i == 0 ? batch : Math.Max(d, 1L)).Select(d => (long)d).ToArray();
        var buffer = new long[shape.Aggregate(1L, (a, b) => a * b)];
        var value = OrtValue.CreateTensorValueFromMemory(buffer, shape);
        _values.Add(value);
        _binding.BindInput(name, value);
        return buffer;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _binding.Dispose();
        foreach (var b in _partial.Values) b.Dispose();
        foreach (var v in _values) v.Dispose();
        _runOptions.Dispose();
        _session.Dispose();
    }
}
