using DataType = Onnx.TensorProto.Types.DataType;

namespace Recommender.Trainers.Graph;

// Ops that move data around without arithmetic; their gradients move it back.
public sealed partial class GraphBuilder
{
    /// <summary>Joins tensors along <paramref name="axis"/>; the gradient is split back (sizes must be static on that axis).</summary>
    public Value Concat(int axis, params Value[] parts)
    {
        if (parts.Length == 0) throw new ArgumentException("Concat needs at least one input");
        int rank = parts[0].Rank;
        int ax = axis < 0 ? axis + rank : axis;
        var sizes = parts.Select(p => p.Shape[ax]).ToArray();
        var shape = (long[])parts[0].Shape.Clone();
        shape[ax] = sizes.Any(s => s < 0) ? -1 : sizes.Sum();
        var node = new Node("Concat", parts, (g, n, d) =>
        {
            if (sizes.Any(s => s < 0)) throw new InvalidOperationException("Concat gradient needs static sizes on the concatenation axis");
            return g.Split(d[0]!, ax, sizes);
        });
        node.Attributes.Add(IntAttribute("axis", ax));
        return Emit(node, "concat", parts[0].Type, shape);
    }

    /// <summary>Splits along <paramref name="axis"/> into parts of the given sizes; the gradient concatenates (zeros for parts that get none).</summary>
    public Value[] Split(Value x, int axis, long[] sizes)
    {
        int ax = axis < 0 ? axis + x.Rank : axis;
        var node = new Node("Split", [x, Int64s(sizes)], (g, n, d) =>
        {
            var parts = new Value[d.Length];
            for (int i = 0; i < d.Length; i++) parts[i] = d[i] ?? g.ZerosLike(n.Outputs[i]);
            return [g.Concat(ax, parts), null];
        });
        node.Attributes.Add(IntAttribute("axis", ax));
        var shapes = sizes.Select(s => { var sh = (long[])x.Shape.Clone(); sh[ax] = s; return sh; }).ToArray();
        return EmitMany(node, "split", x.Type, shapes);
    }

    /// <summary>x[..., start:end, ...] along one axis (static bounds); the gradient pads with zeros.</summary>
    public Value Slice(Value x, int axis, long start, long end)
    {
        int ax = axis < 0 ? axis + x.Rank : axis;
        long size = x.Shape[ax];
        if (size < 0) throw new ArgumentException("Slice needs a static size on the sliced axis");
        var node = new Node("Slice", [x, Int64s(start), Int64s(end), Int64s(ax)], (g, n, d) =>
            [g.Pad(d[0]!, ax, start, size - end), null, null, null]);
        var shape = (long[])x.Shape.Clone();
        shape[ax] = end - start;
        return Emit(node, "slice", x.Type, shape);
    }

    /// <summary>Zero-pads <paramref name="before"/> and <paramref name="after"/> entries along one axis.</summary>
    public Value Pad(Value x, int axis, long before, long after)
    {
        var node = new Node("Pad", [x, Int64s(before, after), Scalar(0, x.Type), Int64s(axis)], (g, n, d) =>
            [g.Slice(d[0]!, axis, before, before + x.Shape[axis]), null, null, null]);
        var shape = (long[])x.Shape.Clone();
        shape[axis] = x.Shape[axis] < 0 ? -1 : x.Shape[axis] + before + after;
        return Emit(node, "pad", x.Type, shape);
    }

    /// <summary>Reshapes to a static shape (one -1 allowed, inferred at run time).</summary>
    public Value Reshape(Value x, params long[] shape) => Reshape(x, Int64s(shape), shape);

    /// <summary>Reshapes to a shape given as a tensor, with the static shape it is known to have.</summary>
    public Value Reshape(Value x, Value shapeTensor, long[] staticShape)
    {
        var node = new Node("Reshape", [x, shapeTensor], (g, n, d) => [g.Reshape(d[0]!, g.Shape(n.Inputs[0]), n.Inputs[0].Shape), null]);
        return Emit(node, "reshape", x.Type, staticShape);
    }

    /// <summary>Permutes axes; the gradient applies the inverse permutation.</summary>
    public Value Transpose(Value x, params int[] perm)
    {
        var inverse = new int[perm.Length];
        for (int i = 0; i < perm.Length; i++) inverse[perm[i]] = i;
        var node = new Node("Transpose", [x], (g, n, d) => [g.Transpose(d[0]!, inverse)]);
        node.Attributes.Add(IntsAttribute("perm", perm.Select(p => (long)p)));
        return Emit(node, "transpose", x.Type, perm.Select(p => x.Shape[p]).ToArray());
    }

    /// <summary>Inserts size-1 axes.</summary>
    public Value Unsqueeze(Value x, params long[] axes)
    {
        var node = new Node("Unsqueeze", [x, Int64s(axes)], (g, n, d) => [g.Reshape(d[0]!, g.Shape(n.Inputs[0]), n.Inputs[0].Shape), null]);
        var shape = x.Shape.ToList();
        foreach (var a in axes.Select(a => a < 0 ? a + x.Rank + axes.Length : a).OrderBy(a => a)) shape.Insert((int)a, 1);
        return Emit(node, "unsqueeze", x.Type, shape.ToArray());
    }

    /// <summary>Removes size-1 axes.</summary>
    public Value Squeeze(Value x, params long[] axes)
    {
        var node = new Node("Squeeze", [x, Int64s(axes)], (g, n, d) => [g.Reshape(d[0]!, g.Shape(n.Inputs[0]), n.Inputs[0].Shape), null]);
        var drop = axes.Select(a => a < 0 ? a + x.Rank : a).ToHashSet();
        return Emit(node, "squeeze", x.Type, x.Shape.Where((_, i) => !drop.Contains(i)).ToArray());
    }

    /// <summary>The run-time shape of x (int64).</summary>
    public Value Shape(Value x) => Emit(new Node("Shape", [x], null), "shape", DataType.Int64, [x.Rank]);

    /// <summary>The run-time element count of x (int64 scalar).</summary>
    public Value Size(Value x) => Emit(new Node("Size", [x], null), "size", DataType.Int64, []);

    /// <summary>Broadcasts x to a run-time shape; the gradient sums back.</summary>
    public Value Expand(Value x, Value shapeTensor, long[] staticShape)
    {
        var node = new Node("Expand", [x, shapeTensor], (g, n, d) => [g.Unbroadcast(d[0]!, n.Inputs[0]), null]);
        return Emit(node, "expand", x.Type, staticShape);
    }

    /// <summary>Zeros of x's run-time shape and type.</summary>
    public Value ZerosLike(Value x)
    {
        var zeros = Expand(Scalar(0, x.Type), Shape(x), x.Shape);
        _zeros.Add(zeros);
        return zeros;
    }
}
