using Recommender.Trainers.Graph;

namespace Recommender.Trainers.Compilation;

/// <summary>Loss functions as graph fragments, in numerically stable forms.</summary>
public static class Losses
{
    /// <summary>
    /// Element-wise binary cross-entropy on logits: <c>softplus(z) - y z</c>, the same function as the stable
    /// <c>relu(z) - y z + log(1 + exp(-|z|))</c>, with a gradient of exactly <c>sigmoid(z) - y</c> everywhere.
    /// </summary>
    public static Value BceWithLogits(Value logits, Value labels)
    {
        var g = logits.Graph;
        return g.Sub(Softplus(logits), g.Mul(labels, logits));
    }

    /// <summary>
    /// log(1 + exp(z)) without overflow: <c>z + log(1 + exp(-z))</c> for z &gt; 0, <c>log(1 + exp(z))</c> otherwise.
    /// </summary>
    /// <remarks>
    /// Written branch-wise rather than as <c>relu(z) + log(1 + exp(-|z|))</c>: at z = 0 exactly (a dead ReLU layer
    /// with a zero bias gives that) the piecewise derivatives relu'(0) = sign(0) = 0 would sum to 0 instead of
    /// sigmoid(0) = 1/2. Each branch sees its input clamped to its own side of 0, so the branch that is not
    /// selected stays finite and cannot turn a zero gradient into NaN.
    /// </remarks>
    public static Value Softplus(Value z)
    {
        var g = z.Graph;
        var positive = g.Greater(z, g.Scalar(0, z.Type));
        var zero = g.Scalar(0, z.Type);
        var one = g.Scalar(1, z.Type);
        var zp = g.Where(positive, z, zero);
        var zn = g.Where(positive, zero, z);
        var upper = g.Add(zp, g.Log(g.Add(one, g.Exp(g.Neg(zp)))));
        var lower = g.Log(g.Add(one, g.Exp(zn)));
        return g.Where(positive, upper, lower);
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
