using Recommender.Trainers.Graph;

namespace Recommender.Trainers.Network;

/// <summary>A multi-layer perceptron: Gemm + ReLU per hidden layer, optionally a linear output layer.</summary>
public sealed class Mlp
{
    private readonly string _name;
    private readonly int[] _sizes;
    private readonly bool _linearLast;

    /// <summary>Declares the layers <paramref name="input"/> -> hidden... (-> <paramref name="output"/> linear, when given).</summary>
    public Mlp(ParameterInit init, string name, int input, IReadOnlyList<int> hidden, int? output = null)
    {
        _name = name;
        _sizes = [input, .. hidden, .. (output is { } o ? new[] { o } : [])];
        _linearLast = output is not null;
        for (int l = 0; l + 1 < _sizes.Length; l++)
        {
            init.Weight($"{name}.{l}.w", _sizes[l], _sizes[l + 1]);
            init.Bias($"{name}.{l}.b", _sizes[l + 1]);
        }
    }

    /// <summary>Width of the output.</summary>
    public int OutputSize => _sizes[^1];

    /// <summary>x[B, input] -> [B, output].</summary>
    public Value Forward(GraphBuilder g, Value x, IReadOnlyDictionary<string, Value> p)
    {
        for (int l = 0; l + 1 < _sizes.Length; l++)
        {
            x = g.Gemm(x, p[$"{_name}.{l}.w"], p[$"{_name}.{l}.b"]);
            bool last = l + 2 == _sizes.Length;
            if (!(last && _linearLast)) x = g.Relu(x);
        }
        return x;
    }
}
