using Recommender.Trainers.Graph;
using Recommender.Trainers.Training;

namespace Recommender.Trainers.Network;

/// <summary>
/// The heads and the joint loss every architecture ends with: CTR and CVR as sigmoids of their logits,
/// CTCVR = CTR x CVR, the rating squashed into its range; loss
/// <c>alpha * BCE(CTR) + beta * BCE(CVR on clicked rows) + gamma * MSE(rating on rated rows)</c>.
/// </summary>
public static class TaskHeads
{
    /// <summary>Predictions and losses from the three tower logits (each [B, 1]).</summary>
    public static ModelOutputs Standard(GraphBuilder g, MultiTaskSpec spec, IReadOnlyDictionary<string, Value> inputs,
        Value ctrLogit, Value cvrLogit, Value ratingLogit, bool training)
    {
        var pCtr = g.Sigmoid(ctrLogit);
        var pCvr = g.Sigmoid(cvrLogit);
        var rating = g.Add(g.Mul(g.Sigmoid(ratingLogit), g.Scalar(spec.RatingMax - spec.RatingMin)), g.Scalar(spec.RatingMin));
        var predictions = new Dictionary<string, Value>
        {
            [MultiTaskInputs.PCtr] = pCtr, [MultiTaskInputs.PCvr] = pCvr,
            [MultiTaskInputs.PCtcvr] = g.Mul(pCtr, pCvr), [MultiTaskInputs.PredictedRating] = rating,
        };
        if (!training) return new ModelOutputs(predictions, null, new Dictionary<string, Value>());

        var rows = inputs[MultiTaskInputs.RowMask];
        var click = inputs[MultiTaskInputs.Click];
        var terms = new Dictionary<string, Value>();
        var weighted = new List<(Value, double)>();
        if (spec.CtrWeight > 0)
        {
            terms["ctr"] = Losses.MaskedBce(ctrLogit, click, rows);
            weighted.Add((terms["ctr"], spec.CtrWeight));
        }
        if (spec.CvrWeight > 0)
        {
            // CVR is only observed on clicked rows.
            terms["cvr"] = Losses.MaskedBce(cvrLogit, inputs[MultiTaskInputs.Conversion], g.Mul(rows, click));
            weighted.Add((terms["cvr"], spec.CvrWeight));
        }
        if (spec.RatingWeight > 0)
        {
            terms["rating"] = Losses.MaskedMse(rating, inputs[MultiTaskInputs.Rating], g.Mul(rows, inputs[MultiTaskInputs.RatingMask]));
            weighted.Add((terms["rating"], spec.RatingWeight));
        }
        if (weighted.Count == 0) throw new ArgumentException("every task is switched off: give at least one task a positive weight");
        return new ModelOutputs(predictions, Losses.WeightedSum(weighted), terms);
    }

    /// <summary>The network input: embeddings concatenated with the dense features.</summary>
    public static Value Input(GraphBuilder g, MultiTaskSpec spec, IReadOnlyDictionary<string, Value> inputs) =>
        spec.DenseSize > 0 ? g.Concat(1, inputs[MultiTaskInputs.Embeddings], inputs[MultiTaskInputs.Dense]) : inputs[MultiTaskInputs.Embeddings];
}
