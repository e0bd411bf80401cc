namespace Recommender.Trainers.Graph;

// Matrix products. Gradients are themselves Gemm / MatMul nodes with the transposes folded in.
public sealed partial class GraphBuilder
{
    /// <summary>a[M,K] @ b[K,N].</summary>
    public Value MatMul(Value a, Value b)
    {
        if (a.Rank != 2 || b.Rank != 2) throw new ArgumentException($"MatMul takes 2-D operands, got {a} and {b}");
        CheckInner("MatMul", a.Shape[1], b.Shape[0], a, b);
        var node = new Node("MatMul", [a, b], (g, n, d) =>
            [g.Gemm(d[0]!, n.Inputs[1], null, transB: true), g.Gemm(n.Inputs[0], d[0]!, null, transA: true)]);
        return Emit(node, "matmul", a.Type, [a.Shape[0], b.Shape[1]]);
    }

    /// <summary>
    /// a[B, M, K] @ b[B, K, N], one product per batch row (DLRM's Gram matrices of the field embeddings); the gradients are
    /// the same products with the other operand's last two axes swapped.
    /// </summary>
    public Value BatchMatMul(Value a, Value b)
    {
        if (a.Rank != 3 || b.Rank != 3) throw new ArgumentException($"BatchMatMul takes 3-D operands, got {a} and {b}");
        CheckInner("BatchMatMul", a.Shape[2], b.Shape[1], a, b);
        var node = new Node("MatMul", [a, b], (g, n, d) =>
            [g.BatchMatMul(d[0]!, g.Transpose(n.Inputs[1], 0, 2, 1)), g.BatchMatMul(g.Transpose(n.Inputs[0], 0, 2, 1), d[0]!)]);
        return Emit(node, "matmul", a.Type, [a.Shape[0] >= 0 ? a.Shape[0] : b.Shape[0], a.Shape[1], b.Shape[2]]);
    }

    /// <summary>
    /// x[B, F, k] @ x^T: each batch row's Gram matrix [B, F, F] (DLRM's pairwise dot products). Its own node, so that the
    /// gradient, dG x + dG^T x, transposes only dG on the way into a product, where ONNX Runtime folds it into the product
    /// (the rule through a Transpose node transposed a product's output instead: 1.2 ms a step for a [2048, 16, 16] copy).
    /// </summary>
    public Value Gram(Value x)
    {
        if (x.Rank != 3) throw new ArgumentException($"Gram takes a 3-D operand, got {x}");
        var node = new Node("MatMul", [x, Transpose(x, 0, 2, 1)], (g, n, d) =>
            [g.Accumulate(g.BatchMatMul(d[0]!, n.Inputs[0]), g.BatchMatMul(g.Transpose(d[0]!, 0, 2, 1), n.Inputs[0])), null]);
        return Emit(node, "gram", x.Type, [x.Shape[0], x.Shape[1], x.Shape[1]]);
    }

    /// <summary>op(a) @ op(b) + c, where op transposes when asked; c broadcasts (a bias [N] or none).</summary>
    public Value Gemm(Value a, Value b, Value? c, bool transA = false, bool transB = false)
    {
        if (a.Rank != 2 || b.Rank != 2) throw new ArgumentException($"Gemm takes 2-D operands, got {a} and {b}");
        long m = transA ? a.Shape[1] : a.Shape[0], k = transA ? a.Shape[0] : a.Shape[1];
        long k2 = transB ? b.Shape[1] : b.Shape[0], n = transB ? b.Shape[0] : b.Shape[1];
        CheckInner("Gemm", k, k2, a, b);
        var inputs = c is null ? new[] { a, b } : [a, b, c];
        var node = new Node("Gemm", inputs, (g, nd, d) =>
        {
            Value A = nd.Inputs[0], B = nd.Inputs[1], G = d[0]!;
            Value gA, gB;
            switch (transA, transB)
            {
                case (false, false): gA = g.Gemm(G, B, null, transB: true); gB = g.Gemm(A, G, null, transA: true); break;
                case (false, true): gA = g.Gemm(G, B, null); gB = g.Gemm(G, A, null, transA: true); break;
                case (true, false): gA = g.Gemm(B, G, null, transB: true); gB = g.Gemm(A, G, null); break;
                default: gA = g.Gemm(B, G, null, transA: true, transB: true); gB = g.Gemm(G, A, null, transA: true, transB: true); break;
            }
            return nd.Inputs.Length == 3 ? [gA, gB, g.BiasGradient(G, nd.Inputs[2])] : [gA, gB];
        });
        if (transA) node.Attributes.Add(IntAttribute("transA", 1));
        if (transB) node.Attributes.Add(IntAttribute("transB", 1));
        return Emit(node, "gemm", a.Type, [m, n]);
    }

    // A bias [N]'s gradient, the column sums of G [B, N], as the product G^T 1 where N >= 128: MLAS's matrix-vector kernel
    // reads G at memory speed, where ONNX Runtime's ReduceSum over the batch axis ran the four 2048 x 256 sums of MMoE's
    // experts at 0.19 ms each (bench engine --profile); paired runs gave MMoE 2-5% more samples/s. Narrower biases (towers,
    // heads) reduce as broadcasts do: there the ones column's three small kernels cost what they save.
    private const long MinimumProductBias = 128;

    private Value BiasGradient(Value G, Value bias)
    {
        if (bias.Rank != 1 || G.Rank != 2 || bias.Shape[0] != G.Shape[1] || bias.Shape[0] < MinimumProductBias) return Unbroadcast(G, bias);
        // A column of ones shaped from one column of G: no shape arithmetic, which CUDA sessions would place on the CPU.
        var column = Slice(G, 1, 0, 1);
        var ones = Expand(Scalar(1, G.Type), Shape(column), column.Shape);
        return Reshape(Gemm(G, ones, null, transA: true), bias.Shape);
    }

    /// <summary>
    /// <paramref name="sum"/> + <paramref name="term"/>, for summing gradients. Where the term is the result of a Gemm with no C
    /// that nothing reads yet (a matrix product's gradient just built), the sum becomes that Gemm's C: the product accumulates
    /// into it instead of an Add kernel reading and writing the whole tensor again. MMoE's input gradient is seven products of
    /// [B, 264] (four experts, three gates), ESMM's three.
    /// </summary>
    internal Value Accumulate(Value sum, Value term)
    {
        if (term.Producer is { OpType: "Gemm", Inputs.Length: 2 } gemm && sum.Type == term.Type && SameShape(sum.Shape, term.Shape)
            && !_outputNames.ContainsKey(term) && !_nodes.Any(n => Array.IndexOf(n.Inputs, term) >= 0))
        {
            gemm.Inputs = [.. gemm.Inputs, sum];
            return term;
        }
        // A row scatter into fresh zeros (the gradient of a Gather of rows: a task's tower run on its labelled rows only) adds
        // its rows into the sum instead; the zeros go unread and are not written (GraphBuilder.LiveNodes).
        if (term.Producer is { OpType: "ScatterND" } scatter && _zeros.Contains(scatter.Inputs[0]) && sum.Type == term.Type && SameShape(sum.Shape, term.Shape)
            && !_outputNames.ContainsKey(term) && !_nodes.Any(n => n != scatter && (Array.IndexOf(n.Inputs, term) >= 0 || Array.IndexOf(n.Inputs, scatter.Inputs[0]) >= 0)))
        {
            scatter.Inputs = [sum, .. scatter.Inputs[1..]];
            return term;
        }
        return Add(sum, term);
    }

    private static void CheckInner(string op, long k1, long k2, Value a, Value b)
    {
        if (k1 >= 0 && k2 >= 0 && k1 != k2) throw new ArgumentException($"{op}: inner dimensions differ for {a} and {b}");
    }
}
