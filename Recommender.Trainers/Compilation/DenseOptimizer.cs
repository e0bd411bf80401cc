using Recommender.Trainers.Graph;

namespace Recommender.Trainers.Compilation;

/// <summary>The in-graph optimizer applied to dense parameters.</summary>
public enum DenseOptimizerKind
{
    /// <summary>Adam with bias correction (PyTorch semantics); L2 weight decay added to the gradient.</summary>
    Adam,
    /// <summary>AdamW: decoupled weight decay, <c>p -= lr * wd * p</c> before the Adam step (PyTorch semantics).</summary>
    AdamW,
    /// <summary>SGD with momentum (PyTorch semantics: <c>buf = momentum * buf + g; p -= lr * buf</c>).</summary>
    Sgd,
}

/// <summary>Options of the dense optimizer compiled into the train step.</summary>
public sealed class DenseOptimizerOptions
{
    /// <summary>Which optimizer.</summary>
    public DenseOptimizerKind Kind = DenseOptimizerKind.Adam;
    /// <summary>Adam's first-moment decay.</summary>
    public double Beta1 = 0.9;
    /// <summary>Adam's second-moment decay.</summary>
    public double Beta2 = 0.999;
    /// <summary>Adam's epsilon, added to sqrt of the corrected second moment.</summary>
    public double Epsilon = 1e-8;
    /// <summary>Weight decay (L2 for Adam and SGD, decoupled for AdamW); 0 = off.</summary>
    public double WeightDecay;
    /// <summary>SGD momentum; 0 = plain SGD.</summary>
    public double Momentum = 0.9;
    /// <summary>Clip the dense gradients to this global L2 norm; 0 = off.</summary>
    public double ClipNorm;

    /// <summary>Names of the state tensors kept per parameter.</summary>
    public string[] StateNames => Kind == DenseOptimizerKind.Sgd ? (Momentum > 0 ? ["buf"] : []) : ["m", "v"];

    /// <summary>
    /// Emits the update of one parameter. <paramref name="step"/> is the 1-based step count (a float scalar
    /// input) used for Adam's bias correction; <paramref name="lr"/> the learning rate (a scalar input).
    /// Returns the new parameter and the new state, in <see cref="StateNames"/> order.
    /// </summary>
    public (Value Parameter, Value[] State) Apply(GraphBuilder g, Value p, Value grad, Value[] state, Value lr, Value step)
    {
        switch (Kind)
        {
            case DenseOptimizerKind.Sgd:
            {
                if (WeightDecay > 0) grad = g.Add(grad, g.Mul(p, g.Scalar(WeightDecay)));
                if (Momentum <= 0) return (g.Sub(p, g.Mul(lr, grad)), []);
                var buf = g.Add(g.Mul(state[0], g.Scalar(Momentum)), grad);
                return (g.Sub(p, g.Mul(lr, buf)), [buf]);
            }
            default:
            {
                if (Kind == DenseOptimizerKind.Adam && WeightDecay > 0) grad = g.Add(grad, g.Mul(p, g.Scalar(WeightDecay)));
                if (Kind == DenseOptimizerKind.AdamW && WeightDecay > 0) p = g.Mul(p, g.Sub(g.Scalar(1), g.Mul(lr, g.Scalar(WeightDecay))));
                var m = g.Add(g.Mul(state[0], g.Scalar(Beta1)), g.Mul(grad, g.Scalar(1 - Beta1)));
                var v = g.Add(g.Mul(state[1], g.Scalar(Beta2)), g.Mul(g.Mul(grad, grad), g.Scalar(1 - Beta2)));
                var correction1 = g.Sub(g.Scalar(1), g.Pow(g.Scalar(Beta1), step));
                var correction2 = g.Sub(g.Scalar(1), g.Pow(g.Scalar(Beta2), step));
                // PyTorch: p -= lr * (m / c1) / (sqrt(v / c2) + eps)
                var denominator = g.Add(g.Sqrt(g.Div(v, correction2)), g.Scalar(Epsilon));
                var update = g.Div(g.Div(m, correction1), denominator);
                return (g.Sub(p, g.Mul(lr, update)), [m, v]);
            }
        }
    }

    /// <summary>Scales gradients so their global L2 norm is at most <see cref="ClipNorm"/> (no-op when off).</summary>
    public Value[] Clip(GraphBuilder g, Value[] grads)
    {
        if (ClipNorm <= 0 || grads.Length == 0) return grads;
        Value? total = null;
        foreach (var gr in grads)
        {
            var s = g.Sum(g.Mul(gr, gr));
            total = total is null ? s : g.Add(total, s);
        }
        var norm = g.Sqrt(total!);
        var scale = g.Min(g.Scalar(1), g.Div(g.Scalar(ClipNorm), g.Add(norm, g.Scalar(1e-6))));
        return grads.Select(gr => g.Mul(gr, scale)).ToArray();
    }
}
