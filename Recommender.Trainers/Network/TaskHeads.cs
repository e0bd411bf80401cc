using Recommender.Trainers.Compilation;
using Recommender.Trainers.Graph;

namespace Recommender.Trainers.Network;

/// <summary>
/// The heads and the joint loss every architecture ends with, one per declared task. A binary task's head is the
/// sigmoid of its logit; in a <c>given</c> chain that is the probability given the task before, and the task's
/// entire-space probability is the product along the chain (click x cart x purchase). A regression head is the
/// sigmoid squashed into the task's range. The loss is <c>sum_t w_t L_t</c>: binary cross-entropy or squared error
/// on the rows where the task's label is defined (its chain's labels 1, its own label there), or, for chained
/// binary tasks of an entire-space model (ESMM, and ESM2 for longer chains), binary cross-entropy of the
/// entire-space probability over every row; optionally with learned uncertainty weights.
/// </summary>
public static class TaskHeads
{
    /// <summary>Declares the heads' own parameters (the learned log-variances, DeepFM's weights, when asked for).</summary>
    public static void Declare(ParameterInit init, MultiTaskSpec spec)
    {
        if (spec.Interactions.HasFlag(FeatureInteractions.DeepFm))
            foreach (var task in spec.Tasks) init.Bias($"deepfm.{task.Name}", 1, value: 0);
        if (spec.FieldAwareLinear)
        {
            int pairs = spec.PlainFields * (spec.PlainFields - 1) / 2;
            foreach (var task in spec.Tasks) init.Zeros($"fieldaware_linear.{task.Name}", pairs, 1);
        }
        if (!spec.LearnTaskWeights) return;
        foreach (var task in spec.Tasks) init.Bias($"task_log_var.{task.Name}", 1);
    }

    /// <summary>
    /// Predictions and losses from the towers (one per task in declaration order); the input block's <paramref name="wide"/>
    /// terms join every logit with the task's own learned weights (DeepFM's pairwise sum [B, 1], the field-aware pair products
    /// [B, P]).
    /// </summary>
    /// <remarks>
    /// In training, a task whose loss reads only the rows where it is defined (a <c>given</c> task outside an entire-space
    /// model: conversions on clicked rows; a regression: ratings on rated rows) runs its own part of the network (its tower;
    /// MMoE's gate; PLE's top-layer experts and gate) on those rows alone, a few in a batch, where the rating tower over
    /// every row was a third of ESMM's step. The other tasks' losses, and every prediction, read the towers over all rows.
    /// The loss is the same function: the masked mean over the defined rows.
    /// </remarks>
    public static ModelOutputs Build(GraphBuilder g, MultiTaskSpec spec, IReadOnlyDictionary<string, Value> inputs, IReadOnlyDictionary<string, Value> p,
        IReadOnlyList<TaskTower> towers, bool training, bool entireSpace = false, WideTerms? wide = null)
    {
        var tasks = spec.Tasks;
        var index = tasks.Select((t, i) => (t.Name, i)).ToDictionary(x => x.Name, x => x.i);
        var terms = new Value?[tasks.Count];
        // defined[i]: 1 where task i's label is there and its chain holds; entireLabel / entireDefined: the chained
        // label over the whole space (0 where the chain broke before the task, whatever the task's own column says).
        var defined = new Value[tasks.Count];
        var entireLabel = new Value[tasks.Count];
        var entireDefined = new Value[tasks.Count];
        var onRows = new bool[tasks.Count];
        if (training)
        {
            for (int i = 0; i < tasks.Count; i++)
            {
                var t = tasks[i];
                var y = inputs[MultiTaskInputs.Label(t)];
                var m = inputs[MultiTaskInputs.LabelMask(t)];
                if (t.Given is { } given)
                {
                    int gi = index[given];
                    var parent = inputs[MultiTaskInputs.Label(tasks[gi])];
                    defined[i] = g.Mul(m, g.Mul(defined[gi], parent));
                    // Only an entire-space loss reads these: other models' train steps are not given the nodes.
                    if (entireSpace && t.Kind == TaskKind.Binary)
                    {
                        entireLabel[i] = g.Mul(y, entireLabel[gi]);
                        entireDefined[i] = g.Mul(entireDefined[gi], g.Add(g.Sub(g.Scalar(1), entireLabel[gi]), g.Mul(entireLabel[gi], m)));
                    }
                }
                else
                {
                    defined[i] = m;
                    entireLabel[i] = y;
                    entireDefined[i] = m;
                }
            }
            // Before the towers over all rows, so that backward reaches these last and scatters their rows into the others' sum.
            var rows = inputs[MultiTaskInputs.RowMask];
            for (int i = 0; i < tasks.Count; i++)
                if (onRows[i] = spec.TowersOnDefinedRows && RunsOnDefinedRows(tasks[i], entireSpace))
                    terms[i] = DefinedRowsLoss(g, spec, p, i, towers[i], inputs[MultiTaskInputs.Label(tasks[i])], g.Mul(rows, defined[i]), wide);
        }

        var logits = towers.Select((tower, i) => Logits(g, spec, p, i, tower.Logits(null), wide, at: null)).ToArray();
        var predictions = new Dictionary<string, Value>();
        var heads = new Value[tasks.Count];
        var entire = new Value[tasks.Count];
        for (int i = 0; i < tasks.Count; i++)
        {
            var t = tasks[i];
            heads[i] = Head(g, spec, t, logits[i]);
            if (t.Kind == TaskKind.Regression)
            {
                predictions[t.PredictionName] = heads[i];
                continue;
            }
            entire[i] = t.Given is { } given ? g.Mul(entire[index[given]], heads[i]) : heads[i];
            if (t.ConditionalPredictionName is { } conditional) predictions[conditional] = heads[i];
            predictions[t.PredictionName] = entire[i];
        }
        if (!training) return new ModelOutputs(predictions, null, new Dictionary<string, Value>());

        for (int i = 0; i < tasks.Count; i++)
        {
            var t = tasks[i];
            if (t.Weight <= 0 || onRows[i]) continue;
            var y = inputs[MultiTaskInputs.Label(t)];
            var rows = inputs[MultiTaskInputs.RowMask];
            if (t.Kind == TaskKind.Regression)
                terms[i] = Losses.MaskedMse(heads[i], y, g.Mul(rows, defined[i]));
            else if (entireSpace && t.Given is not null)
            {
                // ESMM / ESM2: learned through the entire-space product, never on the chain's rows alone (no sample-selection bias).
                var chain = TaskList.Ancestors(tasks, t).Select(a => logits[index[a.Name]]).Append(logits[i]).ToArray();
                terms[i] = Losses.MaskedMean(ProductBce(chain, entireLabel[i]), g.Mul(rows, entireDefined[i]));
            }
            else terms[i] = Losses.MaskedBce(logits[i], y, g.Mul(rows, defined[i]));
        }

        var named = tasks.Select((t, i) => (t.Name, Loss: terms[i])).Where(x => x.Loss is not null).ToDictionary(x => x.Name, x => x.Loss!);
        var weights = tasks.ToDictionary(t => t.Name, t => (double)t.Weight);
        if (!spec.LearnTaskWeights) return new ModelOutputs(predictions, Losses.WeightedSum(named.Select(t => (t.Value, weights[t.Key])).ToList()), named);
        Value? total = null;
        foreach (var (task, loss) in named)
        {
            var s = p[$"task_log_var.{task}"];
            var term = g.Add(g.Mul(g.Exp(g.Neg(s)), g.Mul(loss, g.Scalar(weights[task]))), s);
            total = total is null ? term : g.Add(total, term);
        }
        return new ModelOutputs(predictions, g.Sum(total!), named);
    }

    /// <summary>
    /// Whether a task's tower runs on the rows where the task is defined in training: a task with a loss that reads only those,
    /// a <c>given</c> task outside an entire-space model or a regression.
    /// </summary>
    public static bool RunsOnDefinedRows(TaskDefinition task, bool entireSpace) =>
        task.Weight > 0 && (task.Kind == TaskKind.Regression || task.Given is not null && !entireSpace);

    // Task i's logits from its tower's output, with the wide terms of the same rows (all of them, or those at `at`).
    private static Value Logits(GraphBuilder g, MultiTaskSpec spec, IReadOnlyDictionary<string, Value> p, int i, Value logits, WideTerms? wide, Value? at)
    {
        var name = spec.Tasks[i].Name;
        if (wide?.PairwiseSum is { } sum) logits = g.Add(logits, g.Mul(TaskTower.Rows(sum, at), p[$"deepfm.{name}"]));
        if (wide?.FieldAwarePairs is { } pairs) logits = g.Gemm(TaskTower.Rows(pairs, at), p[$"fieldaware_linear.{name}"], logits);
        return logits;
    }

    // The prediction of one task from its logits: the sigmoid squashed into a regression's range, or a binary task's probability,
    // calibrated where the spec says (calibration acts on the predictions only: the losses take the raw logits).
    private static Value Head(GraphBuilder g, MultiTaskSpec spec, TaskDefinition t, Value logits)
    {
        if (t.Kind == TaskKind.Regression) return g.Add(g.Mul(g.Sigmoid(logits), g.Scalar(t.Max - t.Min)), g.Scalar(t.Min));
        var head = g.Sigmoid(spec.Calibration?.TryGetValue(t.Name, out var c) == true && c != PlattCalibration.Identity
            ? g.Add(g.Mul(logits, g.Scalar(c.Scale)), g.Scalar(c.Shift)) : logits);
        return spec.Isotonic?.TryGetValue(t.Name, out var isotonic) == true ? isotonic.Apply(g, head, $"isotonic.{t.Name}") : head;
    }

    /// <summary>
    /// Task i's loss, the masked mean over the rows where <paramref name="mask"/> [B, 1] is 1, with its tower run on those rows
    /// only. Row 0 leads them with weight 0, so the set is never empty (a batch without a rating is common) and the loss of a
    /// batch without any is exactly 0, as over all rows; the scatter of the gradient adds, so row 0 taken twice is no matter.
    /// </summary>
    private static Value DefinedRowsLoss(GraphBuilder g, MultiTaskSpec spec, IReadOnlyDictionary<string, Value> p, int i, TaskTower tower, Value labels, Value mask, WideTerms? wide)
    {
        var t = spec.Tasks[i];
        var defined = g.Reshape(g.NonZero(g.Greater(g.Reshape(mask, -1), g.Scalar(0, mask.Type))), -1);
        var at = g.Concat(0, g.Int64s(0), defined);
        var weight = g.Concat(0, g.Reshape(g.Scalar(0, mask.Type), 1, 1), g.Gather(mask, defined));
        var logits = Logits(g, spec, p, i, tower.Logits(at), wide, at);
        var y = g.Gather(labels, at);
        return t.Kind == TaskKind.Regression ? Losses.MaskedMse(Head(g, spec, t, logits), y, weight) : Losses.MaskedBce(logits, y, weight);
    }

    /// <summary>
    /// Element-wise BCE of p = sigmoid(a_1) ... sigmoid(a_k) against y, with log p = -(softplus(-a_1) + ... + softplus(-a_k))
    /// exact for any logits and log(1 - p) clipped at 1e-7.
    /// </summary>
    public static Value ProductBce(IReadOnlyList<Value> logits, Value y)
    {
        var g = logits[0].Graph;
        var logP = g.Neg(logits.Skip(1).Aggregate(Losses.Softplus(g.Neg(logits[0])), (sum, a) => g.Add(sum, Losses.Softplus(g.Neg(a)))));
        var p = logits.Skip(1).Aggregate(g.Sigmoid(logits[0]), (product, a) => g.Mul(product, g.Sigmoid(a)));
        var logNotP = g.Log(g.Max(g.Sub(g.Scalar(1), p), g.Scalar(1e-7)));
        return g.Neg(g.Add(g.Mul(y, logP), g.Mul(g.Sub(g.Scalar(1), y), logNotP)));
    }

}
