using Recommender.Trainers.Graph;

namespace Recommender.Trainers.Network;

/// <summary>A softmax gate over experts: their outputs weighted by <c>softmax(x W + b)</c> of the gate's input.</summary>
public sealed class Gate
{
    private readonly string _name;

    /// <summary>Declares a gate over <paramref name="experts"/> experts reading an input of width <paramref name="input"/>.</summary>
    public Gate(ParameterInit init, string name, int input, int experts)
    {
        _name = name;
        init.Weight($"{name}.w", input, experts);
        init.Bias($"{name}.b", experts);
    }

    /// <summary>sum_k softmax(x W + b)_k * expert_k: experts are [B, d] each, the result [B, d].</summary>
    public Value Mix(GraphBuilder g, Value gateInput, IReadOnlyList<Value> experts, IReadOnlyDictionary<string, Value> p)
    {
        var weights = g.Softmax(g.Gemm(gateInput, p[$"{_name}.w"], p[$"{_name}.b"]));       // [B, n]
        var stacked = g.Concat(1, experts.Select(e => g.Unsqueeze(e, 1)).ToArray());        // [B, n, d]
        return g.ReduceSum(g.Mul(stacked, g.Unsqueeze(weights, 2)), [1]);                   // [B, d]
    }
}
