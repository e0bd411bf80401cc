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
        // Each expert scaled by its column of weights and summed: no [B, n, d] stack to build, broadcast back and split
        // in the backward pass (four times the bytes of one expert's output, per gate).
        var columns = g.Split(weights, 1, Enumerable.Repeat(1L, experts.Count).ToArray());   // n x [B, 1]
        var mix = g.Mul(experts[0], columns[0]);
        for (int k = 1; k < experts.Count; k++) mix = g.Add(mix, g.Mul(experts[k], columns[k]));
        return mix;                                                                          // [B, d]
    }
}
