using Google.Protobuf;
using Recommender.Trainers.Graph;

namespace Recommender.Trainers.Compilation;

/// <summary>Names used by compiled graphs: parameters keep their names in the train step and the inference graph.</summary>
public static class GraphNames
{
    /// <summary>Learning-rate input (scalar).</summary>
    public const string LearningRate = "learning_rate";
    /// <summary>1-based step input (scalar float), for bias correction.</summary>
    public const string Step = "step";
    /// <summary>Total loss output.</summary>
    public const string Loss = "loss";
    /// <summary>A parameter's input name.</summary>
    public static string Parameter(string name) => name;
    /// <summary>A parameter's updated value output.</summary>
    public static string NextParameter(string name) => name + ".next";
    /// <summary>An optimizer state input.</summary>
    public static string State(string name, string state) => $"{name}.{state}";
    /// <summary>An optimizer state output.</summary>
    public static string NextState(string name, string state) => $"{name}.{state}.next";
    /// <summary>A loss-term output.</summary>
    public static string LossTerm(string term) => "loss." + term;
    /// <summary>The gradient of an embedding input.</summary>
    public static string EmbeddingGradient(string input) => "grad." + input;
    /// <summary>A dense parameter's gradient, an output of the gradient step (the optimizer runs on the host).</summary>
    public static string ParameterGradient(string name) => "grad.parameter." + name;
}

/// <summary>The compiled graphs of a model.</summary>
public sealed class CompiledModel
{
    private readonly Lazy<byte[]> _gradientStep;

    internal CompiledModel(ModelDefinition definition, DenseOptimizerOptions optimizer, byte[] trainStep, IReadOnlyList<string> lossTerms, IReadOnlyList<string> predictions, IEnumerable<string> opTypes,
        Lazy<byte[]>? gradientStep = null)
    {
        Definition = definition;
        Optimizer = optimizer;
        TrainStep = trainStep;
        _gradientStep = gradientStep ?? new Lazy<byte[]>(() => TrainStepCompiler.BuildGradientStep(definition).ToBytes("gradient_step"));
        LossTerms = lossTerms;
        Predictions = predictions;
        OpTypes = opTypes.ToArray();
    }

    /// <summary>
    /// The same train step and parameters under another forward function of the same parameters, for inference and
    /// export only (a head that calibrates its output): the training graph, compiled once, stays the one trained.
    /// </summary>
    public CompiledModel WithInferenceDefinition(ModelDefinition definition)
    {
        if (!definition.Parameters.Select(p => (p.Name, p.Size)).SequenceEqual(Definition.Parameters.Select(p => (p.Name, p.Size))))
            throw new ArgumentException("the inference definition must have the trained model's parameters");
        return new CompiledModel(definition, Optimizer, TrainStep, LossTerms, Predictions, OpTypes, _gradientStep);
    }

    /// <summary>The model.</summary>
    public ModelDefinition Definition { get; }
    /// <summary>The optimizer compiled in.</summary>
    public DenseOptimizerOptions Optimizer { get; }
    /// <summary>The train-step graph: forward, losses, backward and optimizer in one ONNX model.</summary>
    public byte[] TrainStep { get; }
    /// <summary>
    /// The train step without the optimizer: the same inputs less the optimizer state, the learning rate and the step; outputs
    /// are the losses, every dense parameter's gradient (<see cref="GraphNames.ParameterGradient"/>) and the embedding gradients.
    /// The CPU runner applies <see cref="Optimizer"/> itself, in one fused pass over all parameters (built on first use).
    /// </summary>
    public byte[] GradientStep => _gradientStep.Value;

    /// <summary>Names of the loss terms.</summary>
    public IReadOnlyList<string> LossTerms { get; }
    /// <summary>Names of the prediction outputs.</summary>
    public IReadOnlyList<string> Predictions { get; }
    /// <summary>Op types of the train-step graph.</summary>
    public IReadOnlyList<string> OpTypes { get; }

    /// <summary>
    /// The inference graph with the same parameter names: as graph inputs (to run with the training
    /// buffers) when <paramref name="parameters"/> is null, or baked in as initializers (the exported model).
    /// </summary>
    public byte[] Inference(IReadOnlyDictionary<string, float[]>? parameters = null) =>
        TrainStepCompiler.BuildInference(Definition, parameters).ToBytes("inference");

    /// <summary>
    /// The standalone model: embedding tables and parameters inside, inputs are one int64 id column
    /// <c>[N, 1]</c> per categorical field (named <paramref name="fieldInputs"/>, 0 = out of vocabulary; uint32 with
    /// <paramref name="idType"/> for ML.NET's key columns) and,
    /// the model's feature inputs (float, <c>[N, ...]</c>; <paramref name="inputNames"/> renames them in the exported graph);
    /// outputs are the predictions, each <c>[N]</c> (one value per row). Any ONNX runtime can run it. A field whose
    /// <paramref name="tableOwners"/> entry names another field (a behaviour sequence's position) reads that field's table,
    /// stored once; <paramref name="idMask"/>, when given, is a feature input computed inside from the ids of its fields (1
    /// where the id is not 0), as the host fills it in training (a behaviour sequence's mask). <paramref name="secondTables"/>
    /// fills another embedding input (the field-aware vectors) from the first fields' ids, one table per field;
    /// <paramref name="crossed"/> fills the crossed embeddings, each pair's rows computed inside from its two fields' ids.
    /// </summary>
    public byte[] Export(IReadOnlyDictionary<string, float[]> parameters, IReadOnlyList<float[]> tables, IReadOnlyList<string> fieldInputs, int embeddingDim, string? docString = null,
        IReadOnlyDictionary<string, string>? inputNames = null, Onnx.TensorProto.Types.DataType idType = Onnx.TensorProto.Types.DataType.Int64,
        IReadOnlyList<int>? tableOwners = null, (string Input, IReadOnlyList<int> Fields)? idMask = null, (string Input, IReadOnlyList<float[]> Tables)? secondTables = null,
        (string Input, IReadOnlyList<(int A, int B, int RowsA, int RowsB)> Pairs, IReadOnlyList<float[]> Tables)? crossed = null)
    {
        var embedding = Definition.Inputs.First(i => i.Kind == BatchInputKind.Embedding);
        if (tables.Count != fieldInputs.Count || tables.Count * embeddingDim != embedding.RowSize)
            throw new ArgumentException($"{tables.Count} tables of width {embeddingDim} do not make the {embedding.RowSize}-wide embedding input");
        var g = new GraphBuilder(Definition.FloatType);
        var int64 = Onnx.TensorProto.Types.DataType.Int64;
        var fieldIds = fieldInputs.Select(name => g.Input(name, [-1, 1], idType)).ToArray();
        var ids = fieldIds.Length == 1 ? fieldIds[0] : g.Concat(1, fieldIds);                                   // [N, F]
        if (idType != int64) ids = g.Cast(ids, int64);
        var owners = Enumerable.Range(0, tables.Count).Select(f => tableOwners?[f] ?? f).ToArray();
        var inputs = new Dictionary<string, Value> { [embedding.Name] = GatherFields(g, "embedding", tables, owners, embeddingDim, ids) };
        if (secondTables is { } second)
        {
            // A second embedding input over the first fields' ids (the field-aware vectors), its tables inside too.
            int count = second.Tables.Count, width = checked((int)Definition.Inputs.Single(i => i.Name == second.Input).RowSize) / count;
            var firstIds = count == tables.Count ? ids : g.Slice(ids, 1, 0, count);
            inputs[second.Input] = GatherFields(g, second.Input, second.Tables, Enumerable.Range(0, count).ToArray(), width, firstIds);
        }
        if (crossed is { } cross) inputs[cross.Input] = GatherCrossed(g, cross.Input, cross.Pairs, cross.Tables, checked((int)Definition.Inputs.Single(i => i.Name == cross.Input).RowSize) / cross.Pairs.Count, ids);
        if (idMask is { } mask)
        {
            var zero = g.Scalar(0, int64);
            var present = mask.Fields.Select(f => g.Cast(g.Greater(tables.Count == 1 ? ids : g.Slice(ids, 1, f, f + 1), zero), Definition.FloatType)).ToArray();
            inputs[mask.Input] = present.Length == 1 ? present[0] : g.Concat(1, present);
        }
        foreach (var input in Definition.Inputs.Where(i => i.Kind == BatchInputKind.Feature && !inputs.ContainsKey(i.Name)))
            inputs[input.Name] = g.Input(inputNames?.GetValueOrDefault(input.Name) ?? input.Name, [-1, .. input.RowShape]);
        var p = Definition.Parameters.ToDictionary(x => x.Name, x => g.Initializer(x.Name, x.Shape, parameters[x.Name]));
        var outputs = Definition.Forward(g, inputs, p, training: false);
        // One value per row: [N], not [N, 1], so a prediction reads as a scalar per row in any runtime.
        foreach (var (name, value) in outputs.Predictions) g.Output(g.Squeeze(value, 1), name);
        return g.ToModel("recommender", docString).ToByteArray();
    }

    /// <summary>
    /// The crossed pairs' rows for ids [N, F], as [N, pairs * width]. Each pair's table is stored with a guard row after every
    /// block of its second field's rows and a guard block after the last: (rows_a + 1) x (rows_b + 1) rows, where index rows_a
    /// or rows_b reads the unknown id 0's row. So an id outside its field's rows reads the pair's row for the unknown id, as
    /// in training (the network's CrossedPair.Row), with two clamps per id and no comparison.
    /// </summary>
    private static Value GatherCrossed(GraphBuilder g, string name, IReadOnlyList<(int A, int B, int RowsA, int RowsB)> pairs, IReadOnlyList<float[]> tables, int width, Value ids)
    {
        var int64 = Onnx.TensorProto.Types.DataType.Int64;
        // A field is in many pairs (the default data's 69 pairs read 14 fields): its id column is sliced and clamped once.
        var clamped = new Dictionary<int, Value>();
        Value Clamped(int field, int rows) => clamped.TryGetValue(field, out var c) ? c
            : clamped[field] = g.Min(g.Max(g.Slice(ids, 1, field, field + 1), g.Scalar(0, int64)), g.Scalar(rows, int64));
        var guarded = new float[pairs.Count][];
        var rows = new Value[pairs.Count];
        for (int p = 0; p < pairs.Count; p++)
        {
            var (a, b, rowsA, rowsB) = (pairs[p].A, pairs[p].B, pairs[p].RowsA, pairs[p].RowsB);
            var table = tables[p];
            var extended = new float[checked((long)(rowsA + 1) * (rowsB + 1) * width)];
            for (int i = 0; i <= rowsA; i++)
                for (int j = 0; j <= rowsB; j++)
                    Array.Copy(table, ((long)(i == rowsA ? 0 : i) * rowsB + (j == rowsB ? 0 : j)) * width, extended, ((long)i * (rowsB + 1) + j) * width, width);
            guarded[p] = extended;
            rows[p] = g.Add(g.Mul(Clamped(a, rowsA), g.Scalar(rowsB + 1, int64)), Clamped(b, rowsB));
        }
        return GatherFields(g, name, guarded, Enumerable.Range(0, pairs.Count).ToArray(), width, rows.Length == 1 ? rows[0] : g.Concat(1, rows));
    }

    /// <summary>
    /// The rows of every field's table for ids [N, F], as [N, F * width]: the tables stacked into one initializer (a shared
    /// table once) and read by one Gather of the ids shifted by their field's offset, straight into the concatenated layout
    /// (one Gather per field and a Concat of their outputs copied the batch's embeddings once more: a seventh of
    /// SharedBottom's inference time). An id outside 0..rows-1 of its field reads that field's out-of-vocabulary row 0, as
    /// an unseen value does; it cannot read another field's rows. For that each table is followed by a copy of its row 0,
    /// and ids are clamped to 0..rows (Max and Min: two fast kernels, where a Less and a Where cost 0.27 ms a batch).
    /// </summary>
    private static Value GatherFields(GraphBuilder g, string name, IReadOnlyList<float[]> tables, IReadOnlyList<int> owners, int width, Value ids)
    {
        int fields = owners.Count;
        var start = new Dictionary<int, long>();
        long rows = 0;
        foreach (int owner in owners)
            if (!start.ContainsKey(owner)) { start[owner] = rows; rows += tables[owner].Length / width + 1; }
        var stacked = new float[checked(rows * width)];
        foreach (var (owner, first) in start)
        {
            var table = tables[owner];
            table.CopyTo(stacked, first * width);
            Array.Copy(table, 0, stacked, first * width + table.Length, width);                           // the guard row: row 0 again
        }
        var clamped = g.Min(g.Max(ids, g.Scalar(0, Onnx.TensorProto.Types.DataType.Int64)), g.Int64s(owners.Select(o => (long)(tables[o].Length / width)).ToArray()));
        var gathered = g.Gather(g.Initializer(name, [rows, width], stacked), g.Add(clamped, g.Int64s(owners.Select(o => start[o]).ToArray())));
        return g.Reshape(gathered, -1, (long)fields * width);                                                   // [N, F * width]
    }
}

/// <summary>
/// Compiles a <see cref="ModelDefinition"/> into one train-step graph: inputs are the parameters, the
/// optimizer state, the batch, the learning rate and the step; outputs are the new parameters and state,
/// the losses, and the gradient of every embedding input (for the host's sparse optimizer).
/// </summary>
public static class TrainStepCompiler
{
    /// <summary>Compiles the train step.</summary>
    public static CompiledModel Compile(ModelDefinition model, DenseOptimizerOptions? optimizer = null)
    {
        optimizer ??= new DenseOptimizerOptions();
        var step = Differentiate(model);
        var g = step.Graph;
        var state = model.Parameters.ToDictionary(p => p.Name, p => optimizer.StateNames.Select(s => g.Input(GraphNames.State(p.Name, s), p.Shape)).ToArray());
        var lr = g.Input(GraphNames.LearningRate, []);
        var count = g.Input(GraphNames.Step, []);
        var denseGrads = optimizer.Clip(g, step.ParameterGradients);
        for (int i = 0; i < model.Parameters.Count; i++)
        {
            var p = model.Parameters[i];
            var (next, nextState) = optimizer.Apply(g, step.Parameters[i], denseGrads[i], state[p.Name], lr, count);
            g.Output(next, GraphNames.NextParameter(p.Name));
            for (int s = 0; s < nextState.Length; s++) g.Output(nextState[s], GraphNames.NextState(p.Name, optimizer.StateNames[s]));
        }
        step.OutputEmbeddingGradients();
        return new CompiledModel(model, optimizer, g.ToBytes("train_step"), step.LossTerms, step.Predictions, g.OpTypes);
    }

    internal static GraphBuilder BuildGradientStep(ModelDefinition model)
    {
        var step = Differentiate(model);
        for (int i = 0; i < model.Parameters.Count; i++) step.Graph.Output(step.ParameterGradients[i], GraphNames.ParameterGradient(model.Parameters[i].Name));
        step.OutputEmbeddingGradients();
        return step.Graph;
    }

    // Forward, losses and backward: the part both train steps share. Outputs the losses.
    private static Differentiated Differentiate(ModelDefinition model)
    {
        var g = new GraphBuilder(model.FloatType);
        var inputs = model.Inputs.ToDictionary(i => i.Name, i => g.Input(i.Name, [-1, .. i.RowShape]));
        var parameters = model.Parameters.ToDictionary(p => p.Name, p => g.Input(GraphNames.Parameter(p.Name), p.Shape));
        var outputs = model.Forward(g, inputs, parameters, training: true);
        var loss = outputs.Loss ?? throw new InvalidOperationException("the forward function returned no loss in training mode");
        var embeddings = model.Inputs.Where(i => i.Kind == BatchInputKind.Embedding).Select(i => inputs[i.Name]).ToArray();
        var wrt = model.Parameters.Select(p => parameters[p.Name]).Concat(embeddings).ToArray();
        var grads = Autodiff.Gradients(loss, wrt);
        g.Output(loss, GraphNames.Loss);
        foreach (var (term, value) in outputs.LossTerms) g.Output(value, GraphNames.LossTerm(term));
        int n = model.Parameters.Count;
        return new Differentiated(g, model.Parameters.Select(p => parameters[p.Name]).ToArray(), grads[..n], embeddings, grads[n..],
            outputs.LossTerms.Keys.ToArray(), outputs.Predictions.Keys.ToArray());
    }

    private sealed record Differentiated(GraphBuilder Graph, Value[] Parameters, Value[] ParameterGradients, Value[] Embeddings, Value[] EmbeddingGradients,
        string[] LossTerms, string[] Predictions)
    {
        public void OutputEmbeddingGradients()
        {
            for (int i = 0; i < Embeddings.Length; i++) Graph.Output(EmbeddingGradients[i], GraphNames.EmbeddingGradient(Embeddings[i].Name));
        }
    }

    internal static GraphBuilder BuildInference(ModelDefinition model, IReadOnlyDictionary<string, float[]>? values)
    {
        var g = new GraphBuilder(model.FloatType);
        var inputs = model.Inputs.Where(i => i.Kind != BatchInputKind.Label).ToDictionary(i => i.Name, i => g.Input(i.Name, [-1, .. i.RowShape]));
        var parameters = model.Parameters.ToDictionary(p => p.Name, p => values is null
            ? g.Input(GraphNames.Parameter(p.Name), p.Shape)
            : g.Initializer(GraphNames.Parameter(p.Name), p.Shape, values[p.Name]));
        var outputs = model.Forward(g, inputs, parameters, training: false);
        // One value per row: [N], not [N, 1], so a prediction reads as a scalar per row in any runtime.
        foreach (var (name, value) in outputs.Predictions) g.Output(g.Squeeze(value, 1), name);
        return g;
    }
}
