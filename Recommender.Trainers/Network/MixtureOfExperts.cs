using Recommender.Trainers.Graph;

namespace Recommender.Trainers.Network;

/// <summary>A gated mixture: expert outputs weighted by a softmax gate computed from the gate input.</summary>
internal static class MixtureOfExperts
{
    /// <summary>Declares a gate over <paramref name="experts"/> experts reading an input of width <paramref name="input"/>.</summary>
    public static void DeclareGate(ParameterInit init, string name, int input, int experts)
    {
        init.Weight($"{name}.w", input, experts);
        init.Bias($"{name}.b", experts);
    }

    /// <summary>sum_k softmax(x W + b)_k * expert_k: experts are [B, d] each, the result [B, d].</summary>
    public static Value Mix(GraphBuilder g, string gate, Value gateInput, IReadOnlyList<Value> experts, IReadOnlyDictionary<string, Value> p)
    {
        var weights = g.Softmax(g.Gemm(gateInput, p[$"{gate}.w"], p[$"{gate}.b"]));        // [B, n]
        var stacked = g.Concat(1, experts.Select(e => g.Unsqueeze(e, 1)).ToArray());        // [B, n, d]
        return g.ReduceSum(g.Mul(stacked, g.Unsqueeze(weights, 2)), [1]);                   // [B, d]
    }
}
