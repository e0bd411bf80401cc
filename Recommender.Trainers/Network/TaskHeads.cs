using Recommender.Trainers.Graph;
using Recommender.Trainers.Training;

namespace Recommender.Trainers.Network;

/// <summary>
/// The heads and the joint loss every architecture ends with: CTR and CVR as sigmoids of their logits,
/// CTCVR = CTR x CVR, the rating squashed into its range; loss
/// <c>alpha * BCE(CTR) + beta * BCE(CVR on clicked rows) + gamma * MSE(rating on rated rows)</c>, or ESMM's
/// <c>alpha * BCE(CTR) + beta * BCE(CTCVR over all rows) + gamma * MSE(rating)</c>, optionally with learned
/// uncertainty weights.
/// </summary>
public static class TaskHeads
{
    private static readonly string[] Tasks = ["ctr", "cvr", "rating"];

    /// <summary>Declares the heads' own parameters (the learned log-variances when asked for).</summary>
    public static void Declare(ParameterInit init, MultiTaskSpec spec)
    {
        if (!spec.LearnTaskWeights) return;
        foreach (var task in Tasks) init.Bias($"task_log_var.{task}", 1);
    }

    /// <summary>Predictions and losses from the three tower logits (each [B, 1]).</summary>
    public static ModelOutputs Build(GraphBuilder g, MultiTaskSpec spec, IReadOnlyDictionary<string, Value> inputs, IReadOnlyDictionary<string, Value> p,
        Value ctrLogit, Value cvrLogit, Value ratingLogit, bool training, bool esmm = false)
    {
        var pCtr = g.Sigmoid(ctrLogit);
        var pCvr = g.Sigmoid(cvrLogit);
        var pCtcvr = g.Mul(pCtr, pCvr);
        var rating = g.Add(g.Mul(g.Sigmoid(ratingLogit), g.Scalar(spec.RatingMax - spec.RatingMin)), g.Scalar(spec.RatingMin));
        var predictions = new Dictionary<string, Value>
        {
            [MultiTaskInputs.PCtr] = pCtr, [MultiTaskInputs.PCvr] = pCvr,
            [MultiTaskInputs.PCtcvr] = pCtcvr, [MultiTaskInputs.PredictedRating] = rating,
        };
        if (!training) return new ModelOutputs(predictions, null, new Dictionary<string, Value>());

        var rows = inputs[MultiTaskInputs.RowMask];
        var click = inputs[MultiTaskInputs.Click];
        var conversion = inputs[MultiTaskInputs.Conversion];
        var terms = new Dictionary<string, Value>();
        if (spec.CtrWeight > 0) terms["ctr"] = Losses.MaskedBce(ctrLogit, click, rows);
        if (spec.CvrWeight > 0)
        {
            // ESMM: CVR is learned through CTCVR over the entire impression space, never on clicked rows alone.
            terms["cvr"] = esmm
                ? Losses.MaskedMean(ProductBce(ctrLogit, cvrLogit, conversion), rows)
                : Losses.MaskedBce(cvrLogit, conversion, g.Mul(rows, click));
        }
        if (spec.RatingWeight > 0)
            terms["rating"] = Losses.MaskedMse(rating, inputs[MultiTaskInputs.Rating], g.Mul(rows, inputs[MultiTaskInputs.RatingMask]));
        if (terms.Count == 0) throw new ArgumentException("every task is switched off: give at least one task a positive weight");

        var weights = new Dictionary<string, double> { ["ctr"] = spec.CtrWeight, ["cvr"] = spec.CvrWeight, ["rating"] = spec.RatingWeight };
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
    /// Element-wise BCE of p = sigmoid(a) sigmoid(b) against y, with log p = -(softplus(-a) + softplus(-b))
    /// exact for any logits and log(1 - p) clipped at 1e-7.
    /// </summary>
    public static Value ProductBce(Value a, Value b, Value y)
    {
        var g = a.Graph;
        var logP = g.Neg(g.Add(Losses.Softplus(g.Neg(a)), Losses.Softplus(g.Neg(b))));
        var p = g.Mul(g.Sigmoid(a), g.Sigmoid(b));
        var logNotP = g.Log(g.Max(g.Sub(g.Scalar(1), p), g.Scalar(1e-7)));
        return g.Neg(g.Add(g.Mul(y, logP), g.Mul(g.Sub(g.Scalar(1), y), logNotP)));
    }

    /// <summary>The network input: embeddings concatenated with the dense features.</summary>
    public static Value Input(GraphBuilder g, MultiTaskSpec spec, IReadOnlyDictionary<string, Value> inputs) =>
        spec.DenseSize > 0 ? g.Concat(1, inputs[MultiTaskInputs.Embeddings], inputs[MultiTaskInputs.Dense]) : inputs[MultiTaskInputs.Embeddings];
}
