using DataType = Onnx.TensorProto.Types.DataType;

namespace Recommender.Trainers.Graph;

// Element-wise arithmetic with NumPy broadcasting; gradients are summed back to each input's shape.
public sealed partial class GraphBuilder
{
    /// <summary>a + b.</summary>
    public Value Add(Value a, Value b) => Binary("Add", a, b, (g, n, d) =>
        [Unbroadcast(d[0]!, n.Inputs[0]), Unbroadcast(d[0]!, n.Inputs[1])]);

    /// <summary>a - b.</summary>
    public Value Sub(Value a, Value b) => Binary("Sub", a, b, (g, n, d) =>
        [Unbroadcast(d[0]!, n.Inputs[0]), Unbroadcast(g.Neg(d[0]!), n.Inputs[1])]);

    /// <summary>a * b.</summary>
    public Value Mul(Value a, Value b) => Binary("Mul", a, b, (g, n, d) =>
        [Unbroadcast(g.Mul(d[0]!, n.Inputs[1]), n.Inputs[0]), Unbroadcast(g.Mul(d[0]!, n.Inputs[0]), n.Inputs[1])]);

    /// <summary>a / b.</summary>
    public Value Div(Value a, Value b) => Binary("Div", a, b, (g, n, d) =>
    {
        var ga = g.Div(d[0]!, n.Inputs[1]);
        // d(a/b)/db = -(a/b)/b = -y/b: reuses the forward output.
        var gb = g.Neg(g.Div(g.Mul(d[0]!, n.Output), n.Inputs[1]));
        return [Unbroadcast(ga, n.Inputs[0]), Unbroadcast(gb, n.Inputs[1])];
    });

    /// <summary>Element-wise maximum; the gradient goes to the larger input (to a on ties).</summary>
    public Value Max(Value a, Value b) => Binary("Max", a, b, (g, n, d) =>
    {
        var aWins = g.GreaterOrEqual(n.Inputs[0], n.Inputs[1]);
        var zero = g.Scalar(0, d[0]!.Type);
        return [Unbroadcast(g.Where(aWins, d[0]!, zero), n.Inputs[0]), Unbroadcast(g.Where(aWins, zero, d[0]!), n.Inputs[1])];
    });

    /// <summary>Element-wise minimum; the gradient goes to the smaller input (to a on ties).</summary>
    public Value Min(Value a, Value b) => Binary("Min", a, b, (g, n, d) =>
    {
        var aWins = g.LessOrEqual(n.Inputs[0], n.Inputs[1]);
        var zero = g.Scalar(0, d[0]!.Type);
        return [Unbroadcast(g.Where(aWins, d[0]!, zero), n.Inputs[0]), Unbroadcast(g.Where(aWins, zero, d[0]!), n.Inputs[1])];
    });

    /// <summary>a ^ b for a non-negative base; differentiable in a only (b is an exponent such as a step count).</summary>
    public Value Pow(Value a, Value b) => Binary("Pow", a, b, (g, n, d) =>
        [Unbroadcast(g.Mul(d[0]!, g.Mul(n.Inputs[1], g.Pow(n.Inputs[0], g.Sub(n.Inputs[1], g.Scalar(1, n.Inputs[1].Type))))), n.Inputs[0]), null]);

    /// <summary>-a.</summary>
    public Value Neg(Value a) => Unary("Neg", a, (g, n, d) => [g.Neg(d[0]!)]);

    /// <summary>A copy (used to name outputs).</summary>
    public Value Identity(Value a, string? name = null)
    {
        var node = new Node("Identity", [a], (g, n, d) => [d[0]]);
        return Emit(node, "identity", a.Type, a.Shape, name);
    }

    private Value Binary(string op, Value a, Value b, GradientRule rule)
    {
        if (a.Type != b.Type) throw new ArgumentException($"{op}: element types differ ({a.Type} vs {b.Type}) for {a} and {b}");
        (a, b) = (MatchRank(a, b.Rank), MatchRank(b, a.Rank));
        var node = new Node(op, [a, b], rule);
        return Emit(node, op.ToLowerInvariant(), a.Type, BroadcastShape(op, a.Shape, b.Shape));
    }

    private Value Unary(string op, Value a, GradientRule? rule)
    {
        var node = new Node(op, [a], rule);
        return Emit(node, op.ToLowerInvariant(), a.Type, a.Shape);
    }

    internal static long[] BroadcastShape(string op, long[] a, long[] b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var result = new long[rank];
        for (int i = 0; i < rank; i++)
        {
            long x = i - (rank - a.Length) >= 0 ? a[i - (rank - a.Length)] : 1;
            long y = i - (rank - b.Length) >= 0 ? b[i - (rank - b.Length)] : 1;
            if (x == y || y == 1) result[i] = x;
            else if (x == 1) result[i] = y;
            else if (x < 0) result[i] = y;
            else if (y < 0) result[i] = x;
            else throw new ArgumentException($"{op}: shapes [{string.Join(",", a)}] and [{string.Join(",", b)}] do not broadcast");
        }
        return result;
    }

    /// <summary>Sums a gradient over the axes along which <paramref name="target"/> was broadcast, back to its shape.</summary>
    public Value Unbroadcast(Value gradient, Value target)
    {
        if (SameShape(gradient.Shape, target.Shape)) return gradient;
        int extra = gradient.Rank - target.Rank;
        var axes = new List<long>();
        for (int i = 0; i < gradient.Rank; i++)
        {
            if (i < extra) { axes.Add(i); continue; }
            long t = target.Shape[i - extra], s = gradient.Shape[i];
            if (t == 1 && s != 1) axes.Add(i);
        }
        var reduced = axes.Count > 0 ? ReduceSum(gradient, axes.ToArray(), keepDims: true) : gradient;
        return SameShape(reduced.Shape, target.Shape) ? reduced : Reshape(reduced, target.Shape.Any(d => d < 0) ? Shape(target) : Int64s(target.Shape), target.Shape);
    }

    private static bool SameShape(long[] a, long[] b) => a.Length == b.Length && a.AsSpan().SequenceEqual(b);
}
