using Recommender.Trainers.Compilation;

namespace Recommender.Trainers.Network;

/// <summary>Collects a network's dense parameters with seeded initial values.</summary>
public sealed class ParameterInit(int seed)
{
    private readonly Random _random = new(seed);
    private readonly List<ParameterSpec> _parameters = new();

    /// <summary>The parameters declared so far.</summary>
    public IReadOnlyList<ParameterSpec> Parameters => _parameters;

    /// <summary>A weight matrix [fanIn, fanOut] from Glorot's uniform distribution.</summary>
    public ParameterSpec Weight(string name, int fanIn, int fanOut)
    {
        double limit = Math.Sqrt(6.0 / (fanIn + fanOut));
        var values = new float[fanIn * fanOut];
        for (int i = 0; i < values.Length; i++) values[i] = (float)((_random.NextDouble() * 2 - 1) * limit);
        return Add(new ParameterSpec(name, [fanIn, fanOut], values));
    }

    /// <summary>A bias vector [size] filled with <paramref name="value"/>.</summary>
    public ParameterSpec Bias(string name, int size, float value = 0)
    {
        var values = new float[size];
        Array.Fill(values, value);
        return Add(new ParameterSpec(name, [size], values));
    }

    /// <summary>A weight matrix [rows, cols] of zeros: a term that starts switched off and is learned from there.</summary>
    public ParameterSpec Zeros(string name, int rows, int cols) => Add(new ParameterSpec(name, [rows, cols], new float[rows * cols]));

    private ParameterSpec Add(ParameterSpec p)
    {
        if (_parameters.Any(q => q.Name == p.Name)) throw new ArgumentException($"parameter '{p.Name}' declared twice");
        _parameters.Add(p);
        return p;
    }
}
