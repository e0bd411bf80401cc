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
    /// Predictions and losses from the towers' logits (each [B, 1], one per task in declaration order); the input block's
    /// <paramref name="wide"/> terms join every logit with the task's own learned weights (DeepFM's pairwise sum [B, 1], the
    /// field-aware pair products [B, P]).
    /// </summary>
    public static ModelOutputs Build(GraphBuilder g, MultiTaskSpec spec, IReadOnlyDictionary<string, Value> inputs, IReadOnlyDictionary<string, Value> p,
        IReadOnlyList<Value> logits, bool training, bool entireSpace = false, WideTerms? wide = null)
    {
        if (wide?.PairwiseSum is { } sum) logits = logits.Select((l, i) => g.Add(l, g.Mul(sum, p[$"deepfm.{spec.Tasks[i].Name}"]))).ToArray();
        if (wide?.FieldAwarePairs is { } pairs) logits = logits.Select((l, i) => g.Gemm(pairs, p[$"fieldaware_linear.{spec.Tasks[i].Name}"], l)).ToArray();
        var tasks = spec.Tasks;
        var index = tasks.Select((t, i) => (t.Name, i)).ToDictionary(x => x.Name, x => x.i);
        var predictions = new Dictionary<string, Value>();
        var heads = new Value[tasks.Count];
        var entire = new Value[tasks.Count];
        for (int i = 0; i < tasks.Count; i++)
        {
            var t = tasks[i];
            if (t.Kind == TaskKind.Regression)
            {
                heads[i] = g.Add(g.Mul(g.Sigmoid(logits[i]), g.Scalar(t.Max - t.Min)), g.Scalar(t.Min));
                predictions[t.PredictionName] = heads[i];
                continue;
            }
            // Calibration acts on the predictions only: the losses below take the raw logits.
            heads[i] = g.Sigmoid(spec.Calibration?.TryGetValue(t.Name, out var c) == true && c != PlattCalibration.Identity
                ? g.Add(g.Mul(logits[i], g.Scalar(c.Scale)), g.Scalar(c.Shift)) : logits[i]);
            if (spec.Isotonic?.TryGetValue(t.Name, out var isotonic) == true) heads[i] = isotonic.Apply(g, heads[i], $"isotonic.{t.Name}");
            entire[i] = t.Given is { } given ? g.Mul(entire[index[given]], heads[i]) : heads[i];
            if (t.ConditionalPredictionName is { } conditional) predictions[conditional] = heads[i];
            predictions[t.PredictionName] = entire[i];
        }
        if (!training) return new ModelOutputs(predictions, null, new Dictionary<string, Value>());

        var rows = inputs[MultiTaskInputs.RowMask];
        // defined[i]: 1 where task i's label is there and its chain holds; entireLabel / entireDefined: the chained
        // label over the whole space (0 where the chain broke before the task, whatever the task's own column says).
        var defined = new Value[tasks.Count];
        var entireLabel = new Value[tasks.Count];
        var entireDefined = new Value[tasks.Count];
        var terms = new Dictionary<string, Value>();
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
            if (t.Weight <= 0) continue;
            if (t.Kind == TaskKind.Regression)
                terms[t.Name] = Losses.MaskedMse(heads[i], y, g.Mul(rows, defined[i]));
            else if (entireSpace && t.Given is not null)
            {
                // ESMM / ESM2: learned through the entire-space product, never on the chain's rows alone (no sample-selection bias).
                var chain = TaskList.Ancestors(tasks, t).Select(a => logits[index[a.Name]]).Append(logits[i]).ToArray();
                terms[t.Name] = Losses.MaskedMean(ProductBce(chain, entireLabel[i]), g.Mul(rows, entireDefined[i]));
            }
            else terms[t.Name] = Losses.MaskedBce(logits[i], y, g.Mul(rows, defined[i]));
        }

        var weights = tasks.ToDictionary(t => t.Name, t => (double)t.Weight);
        if (!spec.LearnTaskWeights) return new ModelOutputs(predictions, Losses.WeightedSum(terms.Select(t => (t.Value, weights[t.Key])).ToList()), terms);
        Value? total = null;
        foreach (var (task, loss) in terms)
        {
            var s = p[$"task_log_var.{task}"];
            var term = g.Add(g.Mul(g.Exp(g.Neg(s)), g.Mul(loss, g.Scalar(weights[task]))), s);
            total = total is null ? term : g.Add(total, term);
        }
        return new ModelOutputs(predictions, g.Sum(total!), terms);
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
