using DataType = Onnx.TensorProto.Types.DataType;

namespace Recommender.Trainers.Graph;

// Comparisons, selection and indexing.
public sealed partial class GraphBuilder
{
    /// <summary>a &gt; b (bool; not differentiable).</summary>
    public Value Greater(Value a, Value b) => Compare("Greater", a, b);

    /// <summary>a &gt;= b.</summary>
    public Value GreaterOrEqual(Value a, Value b) => Compare("GreaterOrEqual", a, b);

    /// <summary>a &lt; b.</summary>
    public Value Less(Value a, Value b) => Compare("Less", a, b);

    /// <summary>a &lt;= b.</summary>
    public Value LessOrEqual(Value a, Value b) => Compare("LessOrEqual", a, b);

    private Value Compare(string op, Value a, Value b)
    {
        (a, b) = (MatchRank(a, b.Rank), MatchRank(b, a.Rank));
        return Emit(new Node(op, [a, b], null), op.ToLowerInvariant(), DataType.Bool, BroadcastShape(op, a.Shape, b.Shape));
    }

    /// <summary>cond ? a : b element-wise; each branch gets the gradient where it was chosen.</summary>
    public Value Where(Value condition, Value a, Value b)
    {
        int rank = Math.Max(condition.Rank, Math.Max(a.Rank, b.Rank));
        (condition, a, b) = (MatchRank(condition, rank), MatchRank(a, rank), MatchRank(b, rank));
        var node = new Node("Where", [condition, a, b], (g, n, d) =>
        {
            var zero = g.Scalar(0, d[0]!.Type);
            return [null, g.Unbroadcast(g.Where(n.Inputs[0], d[0]!, zero), n.Inputs[1]), g.Unbroadcast(g.Where(n.Inputs[0], zero, d[0]!), n.Inputs[2])];
        });
        var shape = BroadcastShape("Where", BroadcastShape("Where", condition.Shape, a.Shape), b.Shape);
        return Emit(node, "where", a.Type, shape);
    }

    /// <summary>Rows of <paramref name="data"/>[V, D] at int64 <paramref name="indices"/>[N]; the gradient scatter-adds (duplicates summed).</summary>
    public Value Gather(Value data, Value indices)
    {
        if (indices.Type != DataType.Int64) throw new ArgumentException("Gather indices must be int64");
        var node = new Node("Gather", [data, indices], (g, n, d) =>
        {
            var zeros = g.ZerosLike(n.Inputs[0]);
            return [g.ScatterNDAdd(zeros, g.Unsqueeze(n.Inputs[1], -1), d[0]!), null];
        });
        node.Attributes.Add(IntAttribute("axis", 0));
        return Emit(node, "gather", data.Type, indices.Shape.Concat(data.Shape.Skip(1)).ToArray());
    }

    /// <summary>
    /// The slices of <paramref name="data"/> at <paramref name="indices"/> along <paramref name="axis"/> (constant, distinct,
    /// and without a transpose to bring the axis first). The gradient is a gather too: the incoming gradient with one zero
    /// slice appended, read at each position's place among the indices or at the zero slice, where a scatter into zeros
    /// would write the whole tensor twice (the field-aware products' pairs: about 4 ms of the default ESMM's step).
    /// </summary>
    public Value GatherDistinct(Value data, int axis, long[] indices)
    {
        long n = data.Shape[axis];
        if (n < 0) throw new ArgumentException($"GatherDistinct needs a static size on axis {axis} of {data}");
        var place = new long[n];
        Array.Fill(place, indices.Length);
        for (int i = 0; i < indices.Length; i++)
        {
            if (indices[i] < 0 || indices[i] >= n || place[indices[i]] != indices.Length) throw new ArgumentException($"GatherDistinct: index {indices[i]} out of 0..{n - 1} or repeated");
            place[indices[i]] = i;
        }
        // The gradient's own gather reads the zero slice more than once, so it is not differentiated again.
        return GatherAlong(data, axis, indices, (g, nd, d) => [g.GatherAlong(g.Pad(d[0]!, axis, 0, 1), axis, place, null), null]);
    }

    // A gather along an axis at constant indices, with the given gradient rule.
    private Value GatherAlong(Value data, int axis, long[] indices, GradientRule? gradient)
    {
        var node = new Node("Gather", [data, Int64s(indices)], gradient);
        node.Attributes.Add(IntAttribute("axis", axis));
        var shape = (long[])data.Shape.Clone();
        shape[axis] = indices.Length;
        return Emit(node, "gather", data.Type, shape);
    }

    /// <summary>The positions of the non-zero elements of <paramref name="x"/>, [rank, count] int64 (not differentiable).</summary>
    public Value NonZero(Value x) => Emit(new Node("NonZero", [x], null), "nonzero", DataType.Int64, [x.Rank, -1]);

    /// <summary>data with updates added at indices (duplicates accumulate); the gradient for data passes through, for updates it gathers.</summary>
    public Value ScatterNDAdd(Value data, Value indices, Value updates)
    {
        var node = new Node("ScatterND", [data, indices, updates], (g, n, d) =>
            [d[0], null, g.Gather(d[0]!, g.Squeeze(n.Inputs[1], -1))]);
        node.Attributes.Add(StringAttribute("reduction", "add"));
        return Emit(node, "scatternd", data.Type, data.Shape);
    }
}
