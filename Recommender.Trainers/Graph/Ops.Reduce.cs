using DataType = Onnx.TensorProto.Types.DataType;

namespace Recommender.Trainers.Graph;

// Reductions; their gradients broadcast the output gradient back over the reduced axes.
public sealed partial class GraphBuilder
{
    /// <summary>Sum over <paramref name="axes"/> (all axes when empty).</summary>
    public Value ReduceSum(Value x, long[] axes, bool keepDims = false) => Reduce("ReduceSum", x, axes, keepDims, (g, n, d) =>
        [g.Expand(g.KeepDims(d[0]!, x, axes, keepDims), g.Shape(n.Inputs[0]), n.Inputs[0].Shape), null]);

    /// <summary>Sum of all elements, as a scalar.</summary>
    public Value Sum(Value x) => ReduceSum(x, [], keepDims: false);

    /// <summary>Mean over <paramref name="axes"/> (all axes when empty).</summary>
    public Value ReduceMean(Value x, long[] axes, bool keepDims = false) => Reduce("ReduceMean", x, axes, keepDims, (g, n, d) =>
    {
        var spread = g.Expand(g.KeepDims(d[0]!, x, axes, keepDims), g.Shape(n.Inputs[0]), n.Inputs[0].Shape);
        var reduced = ReducedAxes(axes, x.Rank).Select(a => x.Shape[a]).ToArray();
        if (reduced.All(s => s >= 0)) return [g.Div(spread, g.Scalar(reduced.Aggregate(1.0, (a, b) => a * b), x.Type)), null];
        // A run-time axis (the batch) is reduced: count on the device by summing ones. Size-based integer
        // arithmetic would be shape math that ONNX Runtime moves to the CPU, which CUDA sessions refuse.
        var count = g.ReduceSum(g.Expand(g.Scalar(1, x.Type), g.Shape(n.Inputs[0]), x.Shape), axes, keepDims: true);
        return [g.Div(spread, count), null];
    });

    /// <summary>Mean of all elements, as a scalar.</summary>
    public Value Mean(Value x) => ReduceMean(x, [], keepDims: false);

    private Value Reduce(string op, Value x, long[] axes, bool keepDims, GradientRule rule)
    {
        var all = ReducedAxes(axes, x.Rank);
        var node = new Node(op, [x, Int64s(all)], rule);
        node.Attributes.Add(IntAttribute("keepdims", keepDims ? 1 : 0));
        var shape = new List<long>();
        for (int i = 0; i < x.Rank; i++)
        {
            if (!all.Contains(i)) shape.Add(x.Shape[i]);
            else if (keepDims) shape.Add(1);
        }
        return Emit(node, op.ToLowerInvariant(), x.Type, shape.ToArray());
    }

    // The axes a reduction covers, non-negative: all of them when none are named.
    private static long[] ReducedAxes(long[] axes, int rank) =>
        axes.Length == 0 ? Enumerable.Range(0, rank).Select(i => (long)i).ToArray() : axes.Select(a => a < 0 ? a + rank : a).ToArray();

    // Restores reduced axes as size 1 so the gradient can broadcast.
    private Value KeepDims(Value gradient, Value input, long[] axes, bool keptDims)
    {
        if (keptDims) return gradient;
        var all = ReducedAxes(axes, input.Rank);
        return all.Length == input.Rank ? Reshape(gradient, Enumerable.Repeat(1L, input.Rank).ToArray()) : Unsqueeze(gradient, all);
    }

    /// <summary>Converts element type; the gradient converts back (floating types only).</summary>
    public Value Cast(Value x, DataType to)
    {
        GradientRule? rule = x.IsFloating && to is DataType.Float or DataType.Double ? (g, n, d) => [g.Cast(d[0]!, x.Type)] : null;
        var node = new Node("Cast", [x], rule);
        node.Attributes.Add(IntAttribute("to", (int)to));
        return Emit(node, "cast", to, x.Shape);
    }
}
