using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Recommender.Trainers.Compilation;
using Recommender.Trainers.Embeddings;

namespace Recommender.Trainers.Runtime;

/// <summary>
/// Runs a compiled train step over and over with no managed allocation per step. The batch is read from host buffers the
/// caller fills in place; the losses and the embedding gradients are written to host buffers.
/// On the CPU, parameters, gradients and optimizer state are flat host arrays: ONNX Runtime runs the gradient step
/// (<see cref="CompiledModel.GradientStep"/>) reading each parameter from, and writing each gradient to, its slice, and
/// <see cref="HostDenseOptimizer"/> then updates everything in one pass.
/// On CUDA the optimizer is in the graph (<see cref="CompiledModel.TrainStep"/>) and parameters and state live in two
/// pre-allocated sets of device memory; two IOBindings ping-pong between them (step k reads set A and writes set B, step
/// k+1 the reverse): per step only the batch goes in and the losses and embedding gradients come out.
/// </summary>
public sealed class TrainStepRunner : IDisposable
{
    // Each parameter's slice of the flat buffers starts on a 64-byte boundary, and the buffers are whole vectors.
    private static readonly int SliceAlignment = Math.Max(16, System.Numerics.Vector<float>.Count);
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly OrtIoBinding[] _bindings;
    private readonly Dictionary<string, OrtValue>[] _sets = [new(), new()];
    private readonly List<OrtValue> _hostValues = new();
    private readonly Dictionary<string, float[]> _inputs = new();
    private readonly Dictionary<string, float[]> _embeddingGradients = new();
    private readonly Dictionary<string, float[]> _lossTerms = new();
    private readonly float[] _learningRate = new float[1], _step = new float[1], _loss = new float[1];
    private readonly DeviceTransfer? _transfer;
    private readonly OrtAllocator? _deviceAllocator;
    private readonly Dictionary<string, long[]> _shapes = new();
    private readonly RuntimeOptions _options;
    // The host optimizer's flat buffers: where each parameter (and its gradient and state) sits in them.
    private readonly Dictionary<string, (int Offset, int Size)> _slices = new();
    private readonly float[] _parameters = [], _gradients = [];
    private readonly float[][] _state = [];
    private readonly HostDenseOptimizer? _optimizer;
    private readonly WorkerPool? _workers;
    private int _current;

    /// <summary>Creates the session and the buffers for batches of <paramref name="batchSize"/> rows, with parameters at their initial values.</summary>
    public TrainStepRunner(CompiledModel model, int batchSize, RuntimeOptions? options = null) : this(model, batchSize, options, stageThroughSessions: false)
    {
    }

    /// <param name="model">The compiled model.</param>
    /// <param name="batchSize">Rows per batch.</param>
    /// <param name="options">Session options.</param>
    /// <param name="stageThroughSessions">
    /// Run the CUDA path on the CPU: the optimizer in the graph, parameters read and written through copy sessions, so the
    /// tests can drive the device-memory code where no GPU is at hand.
    /// </param>
    internal TrainStepRunner(CompiledModel model, int batchSize, RuntimeOptions? options, bool stageThroughSessions)
    {
        if (model.Definition.FloatType != Onnx.TensorProto.Types.DataType.Float) throw new ArgumentException("the train step runner runs float32 models");
        Model = model;
        BatchSize = batchSize;
        _options = options ?? new RuntimeOptions();
        var sessionOptions = SessionFactory.CreateOptions(_options, out var device);
        bool onHost = device == ExecutionDevice.Cpu && !stageThroughSessions;
        try { _session = new InferenceSession(onHost ? model.GradientStep : model.TrainStep, sessionOptions); }
        finally { sessionOptions.Dispose(); }
        Device = device;
        var optimizer = model.Optimizer;
        foreach (var p in model.Definition.Parameters)
        {
            _shapes[p.Name] = p.Shape;
            foreach (var state in optimizer.StateNames) _shapes[GraphNames.State(p.Name, state)] = p.Shape;
        }

        if (onHost)
        {
            int total = 0;
            foreach (var p in model.Definition.Parameters)
            {
                _slices[p.Name] = (total, checked((int)p.Size));
                total = checked(total + ((int)p.Size + SliceAlignment - 1) / SliceAlignment * SliceAlignment);
            }
            _parameters = new float[total];
            _gradients = new float[total];
            _state = optimizer.StateNames.Select(_ => new float[total]).ToArray();
            _workers = new WorkerPool(_options.Threads > 0 ? _options.Threads : Environment.ProcessorCount);
            _optimizer = new HostDenseOptimizer(optimizer, _parameters, _gradients, _state, _workers);
            _bindings = [_session.CreateIoBinding()];
            foreach (var p in model.Definition.Parameters)
            {
                var (offset, size) = _slices[p.Name];
                BindHostInput(GraphNames.Parameter(p.Name), _parameters.AsMemory(offset, size), p.Shape);
                BindHostOutput(GraphNames.ParameterGradient(p.Name), _gradients.AsMemory(offset, size), p.Shape);
            }
        }
        else
        {
            if (device == ExecutionDevice.Cuda) _deviceAllocator = DeviceTransfer.CudaAllocator(_session, _options.DeviceId);
            _transfer = new DeviceTransfer(_options, device);
            foreach (var p in model.Definition.Parameters)
                for (int s = 0; s < 2; s++)
                {
                    _sets[s][p.Name] = Allocate(p.Shape);
                    foreach (var state in optimizer.StateNames) _sets[s][GraphNames.State(p.Name, state)] = Allocate(p.Shape);
                }
            _bindings = new OrtIoBinding[2];
            for (int b = 0; b < 2; b++)
            {
                var binding = _session.CreateIoBinding();
                var from = _sets[b];
                var to = _sets[1 - b];
                foreach (var p in model.Definition.Parameters)
                {
                    binding.BindInput(GraphNames.Parameter(p.Name), from[p.Name]);
                    binding.BindOutput(GraphNames.NextParameter(p.Name), to[p.Name]);
                    foreach (var state in optimizer.StateNames)
                    {
                        binding.BindInput(GraphNames.State(p.Name, state), from[GraphNames.State(p.Name, state)]);
                        binding.BindOutput(GraphNames.NextState(p.Name, state), to[GraphNames.State(p.Name, state)]);
                    }
                }
                _bindings[b] = binding;
            }
            BindHostInput(GraphNames.LearningRate, _learningRate, []);
            BindHostInput(GraphNames.Step, _step, []);
        }
        ResetParameters();

        foreach (var input in model.Definition.Inputs)
        {
            var buffer = new float[batchSize * input.RowSize];
            _inputs[input.Name] = buffer;
            BindHostInput(input.Name, buffer, [batchSize, .. input.RowShape]);
            if (input.Kind == BatchInputKind.Embedding)
            {
                var grad = new float[buffer.Length];
                _embeddingGradients[input.Name] = grad;
                BindHostOutput(GraphNames.EmbeddingGradient(input.Name), grad, [batchSize, .. input.RowShape]);
            }
        }
        BindHostOutput(GraphNames.Loss, _loss, []);
        foreach (var term in model.LossTerms)
        {
            var value = new float[1];
            _lossTerms[term] = value;
            BindHostOutput(GraphNames.LossTerm(term), value, []);
        }
    }

    /// <summary>The compiled model.</summary>
    public CompiledModel Model { get; }

    /// <summary>Rows per batch.</summary>
    public int BatchSize { get; }

    /// <summary>Where the step runs.</summary>
    public ExecutionDevice Device { get; }

    /// <summary>Steps taken (the next step's bias-correction count is this plus one).</summary>
    public long Steps { get; private set; }

    /// <summary>The total loss of the last step.</summary>
    public float Loss => _loss[0];

    /// <summary>A loss term of the last step.</summary>
    public float LossTerm(string name) => _lossTerms[name][0];

    /// <summary>The host buffer of a batch input, row-major [batch, row...]: fill it before <see cref="Step"/>.</summary>
    public float[] Input(string name) => _inputs[name];

    /// <summary>The gradient of an embedding input after the last step, row-major like the input.</summary>
    public float[] EmbeddingGradient(string name) => _embeddingGradients[name];

    /// <summary>Runs one train step on the batch in the input buffers.</summary>
    public void Step(float learningRate)
    {
        if (_optimizer is not null)
        {
            _session.RunWithBinding(_runOptions, _bindings[0]);
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            _optimizer.Step(learningRate, Steps + 1);
            OptimizerTicks += System.Diagnostics.Stopwatch.GetTimestamp() - start;
        }
        else
        {
            _learningRate[0] = learningRate;
            _step[0] = Steps + 1;
            _session.RunWithBinding(_runOptions, _bindings[_current]);
            _current = 1 - _current;
        }
        Steps++;
    }

    /// <summary>Stopwatch ticks spent in the host optimizer's update so far (0 where the optimizer runs in the graph).</summary>
    public long OptimizerTicks { get; private set; }

    /// <summary>Copies a parameter's current value out.</summary>
    public float[] GetParameter(string name) => Get(name, 0);

    /// <summary>Overwrites a parameter's current value.</summary>
    public void SetParameter(string name, ReadOnlySpan<float> values) => Set(name, 0, values);

    /// <summary>Copies an optimizer state tensor out (for checkpoints).</summary>
    public float[] GetState(string parameter, string state) => Get(parameter, StateIndex(state));

    /// <summary>Overwrites an optimizer state tensor (resuming from a checkpoint).</summary>
    public void SetState(string parameter, string state, ReadOnlySpan<float> values) => Set(parameter, StateIndex(state), values);

    private int StateIndex(string state)
    {
        int index = Array.IndexOf(Model.Optimizer.StateNames, state);
        return index >= 0 ? index + 1 : throw new ArgumentException($"the optimizer keeps no state '{state}'");
    }

    // What 0 is the parameter, 1.. its optimizer state in StateNames order.
    private float[] Get(string parameter, int what)
    {
        if (_transfer is null)
        {
            var (offset, size) = _slices[parameter];
            return (what == 0 ? _parameters : _state[what - 1]).AsSpan(offset, size).ToArray();
        }
        string name = what == 0 ? parameter : GraphNames.State(parameter, Model.Optimizer.StateNames[what - 1]);
        return _transfer.Download(_sets[_current][name], _shapes[name]);
    }

    private void Set(string parameter, int what, ReadOnlySpan<float> values)
    {
        if (values.Length != _shapes[parameter].Aggregate(1L, (a, b) => a * b)) throw new ArgumentException($"'{parameter}' takes {string.Join("x", _shapes[parameter])} values, got {values.Length}");
        if (_transfer is null)
        {
            var (offset, size) = _slices[parameter];
            values.CopyTo((what == 0 ? _parameters : _state[what - 1]).AsSpan(offset, size));
            return;
        }
        string name = what == 0 ? parameter : GraphNames.State(parameter, Model.Optimizer.StateNames[what - 1]);
        _transfer.Upload(values, _sets[_current][name], _shapes[name]);
    }

    /// <summary>Ends ONNX Runtime's profiling (with <see cref="RuntimeOptions.ProfilePrefix"/>) and returns the profile's path.</summary>
    public string EndProfiling() => _session.EndProfiling();

    /// <summary>Sets the step counter (resuming from a checkpoint).</summary>
    public void SetSteps(long steps) => Steps = steps;

    /// <summary>All current parameter values by name.</summary>
    public Dictionary<string, float[]> Parameters() => Model.Definition.Parameters.ToDictionary(p => p.Name, p => GetParameter(p.Name));

    /// <summary>Puts parameters back to their initial values and clears the optimizer state.</summary>
    public void ResetParameters()
    {
        foreach (var p in Model.Definition.Parameters)
        {
            SetParameter(p.Name, p.Initial);
            foreach (var state in Model.Optimizer.StateNames) SetState(p.Name, state, new float[p.Size]);
        }
        Steps = 0;
    }

    private OrtValue Allocate(long[] shape) =>
        OrtValue.CreateAllocatedTensorValue(_deviceAllocator ?? OrtAllocator.DefaultInstance, TensorElementType.Float, shape);

    private void BindHostInput(string name, Memory<float> buffer, long[] shape)
    {
        var value = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, buffer, shape);
        _hostValues.Add(value);
        foreach (var b in _bindings) b.BindInput(name, value);
    }

    private void BindHostOutput(string name, Memory<float> buffer, long[] shape)
    {
        var value = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, buffer, shape);
        _hostValues.Add(value);
        foreach (var b in _bindings) b.BindOutput(name, value);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var b in _bindings) b?.Dispose();
        foreach (var set in _sets) foreach (var v in set.Values) v.Dispose();
        _deviceAllocator?.Dispose();
        foreach (var v in _hostValues) v.Dispose();
        _runOptions.Dispose();
        _transfer?.Dispose();
        _workers?.Dispose();
        _session.Dispose();
    }
}
