using Recommender.Trainers.Graph;

namespace Recommender.Trainers.Training;

/// <summary>Loss functions as graph fragments, in numerically stable forms.</summary>
public static class Losses
{
    /// <summary>
    /// Element-wise binary cross-entropy on logits in the stable form
    /// <c>relu(z) - y z + log(1 + exp(-|z|))</c>: no overflow for any z, exact for large |z|.
    /// </summary>
    public static Value BceWithLogits(Value logits, Value labels)
    {
        var g = logits.Graph;
        var softplusOfNegAbs = g.Log(g.Add(g.Scalar(1), g.Exp(g.Neg(g.Abs(logits)))));
        return g.Add(g.Sub(g.Relu(logits), g.Mul(labels, logits)), softplusOfNegAbs);
    }

    /// <summary>
    /// Mean of <paramref name="elementLoss"/> over rows whose mask is 1: <c>sum(l m) / max(sum(m), 1)</c>.
    /// A batch with no row masked in contributes exactly zero (and a zero gradient), never NaN.
    /// Labels on masked-out rows must still be finite (the batch filler writes 0 there).
    /// </summary>
    public static Value MaskedMean(Value elementLoss, Value mask)
    {
        var g = elementLoss.Graph;
        var total = g.Sum(g.Mul(elementLoss, mask));
        var count = g.Max(g.Sum(mask), g.Scalar(1));
        return g.Div(total, count);
    }

    /// <summary>Masked mean BCE on logits.</summary>
    public static Value MaskedBce(Value logits, Value labels, Value mask) => MaskedMean(BceWithLogits(logits, labels), mask);

    /// <summary>Masked mean squared error.</summary>
    public static Value MaskedMse(Value predictions, Value labels, Value mask)
    {
        var g = predictions.Graph;
        var diff = g.Sub(predictions, labels);
        return MaskedMean(g.Mul(diff, diff), mask);
    }

    /// <summary>Σ weight_i loss_i (weights are constants).</summary>
    public static Value WeightedSum(IReadOnlyList<(Value Loss, double Weight)> terms)
    {
        if (terms.Count == 0) throw new ArgumentException("no loss terms");
        var g = terms[0].Loss.Graph;
        Value? total = null;
        foreach (var (loss, weight) in terms)
        {
            var term = weight == 1 ? loss : g.Mul(loss, g.Scalar(weight));
            total = total is null ? term : g.Add(total, term);
        }
        return total!;
    }
}
