namespace Recommender.Trainers.Graph;

/// <summary>
/// Reverse-mode automatic differentiation over a <see cref="GraphBuilder"/>: walks the recorded nodes
/// from the loss back to the requested values, applying each op's gradient rule and summing the
/// gradients of values used more than once (into a matrix product's C where the newer term is one:
/// <see cref="GraphBuilder.Accumulate"/>). The backward ops are appended to the same graph, so the
/// forward activations they need are shared, not recomputed.
/// </summary>
public static class Autodiff
{
    /// <summary>d(loss)/d(wrt) for a scalar <paramref name="loss"/>; zeros for a value the loss does not depend on.</summary>
    public static Value[] Gradients(Value loss, params Value[] wrt)
    {
        if (loss.Rank != 0) throw new ArgumentException($"the loss must be a scalar, got {loss}");
        return VectorJacobianProducts(loss, loss.Graph.Scalar(1, loss.Type), wrt);
    }

    /// <summary>
    /// Vector-Jacobian products: the gradients of wrt given the gradient <paramref name="seed"/> of
    /// <paramref name="output"/>. (Not an overload of <see cref="Gradients"/>: <c>Gradients(loss, w)</c> would bind w as the seed.)
    /// </summary>
    public static Value[] VectorJacobianProducts(Value output, Value seed, params Value[] wrt)
    {
        var g = output.Graph;
        var nodes = g.Nodes.ToArray(); // backward nodes appended below are not revisited

        // Values that depend on a wrt value through differentiable floating-point ops.
        var live = new HashSet<Value>(wrt);
        foreach (var node in nodes)
        {
            if (node.Gradient is null || !node.Inputs.Any(live.Contains)) continue;
            foreach (var o in node.Outputs) if (o.IsFloating) live.Add(o);
        }
        // Nodes the output depends on.
        var needed = new HashSet<Node>();
        var stack = new Stack<Value>();
        stack.Push(output);
        while (stack.Count > 0)
        {
            var v = stack.Pop();
            if (v.Producer is null || !needed.Add(v.Producer)) continue;
            foreach (var i in v.Producer.Inputs) stack.Push(i);
        }

        var grads = new Dictionary<Value, Value> { [output] = seed };
        for (int k = nodes.Length - 1; k >= 0; k--)
        {
            var node = nodes[k];
            if (!needed.Contains(node) || node.Gradient is null || !node.Outputs.Any(live.Contains)) continue;
            var outputGrads = node.Outputs.Select(o => grads.GetValueOrDefault(o)).ToArray();
            if (outputGrads.All(x => x is null)) continue;
            var inputGrads = node.Gradient(g, node, outputGrads);
            for (int i = 0; i < node.Inputs.Length; i++)
            {
                var input = node.Inputs[i];
                if (i >= inputGrads.Length || inputGrads[i] is not { } gi || !live.Contains(input)) continue;
                grads[input] = grads.TryGetValue(input, out var existing) ? g.Accumulate(existing, gi) : gi;
            }
        }
        return wrt.Select(w => grads.TryGetValue(w, out var gw) ? gw : g.ZerosLike(w)).ToArray();
    }
}
