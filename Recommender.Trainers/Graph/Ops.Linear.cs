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
            return nd.Inputs.Length == 3 ? [gA, gB, g.Unbroadcast(G, nd.Inputs[2])] : [gA, gB];
        });
        if (transA) node.Attributes.Add(IntAttribute("transA", 1));
        if (transB) node.Attributes.Add(IntAttribute("transB", 1));
        return Emit(node, "gemm", a.Type, [m, n]);
    }

    private static void CheckInner(string op, long k1, long k2, Value a, Value b)
    {
        if (k1 >= 0 && k2 >= 0 && k1 != k2) throw new ArgumentException($"{op}: inner dimensions differ for {a} and {b}");
    }
}
