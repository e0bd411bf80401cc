using Recommender.Trainers.Training;

namespace Recommender.Trainers.Network;

/// <summary>
/// Multi-gate Mixture-of-Experts (Ma et al., KDD 2018): n expert MLPs shared by all tasks; each task mixes
/// them with its own softmax gate, then runs its tower.
/// <code>
///   x -> expert_1..n -> gate_t1 (softmax over experts) -> tower_t1
///                    -> ...
///                    -> gate_tn -> tower_tn
/// </code>
/// </summary>
public static class Mmoe
{
    /// <summary>The model: parameters, inputs and the forward function.</summary>
    public static ModelDefinition Create(MultiTaskSpec spec, int experts, IReadOnlyList<int> expert, IReadOnlyList<int> tower)
    {
        var init = new ParameterInit(spec.Seed);
        var expertNets = Enumerable.Range(0, experts).Select(k => new Mlp(init, $"expert_{k}", spec.InputSize, expert)).ToArray();
        var tasks = spec.Tasks.Select(t => t.Name).ToArray();
        foreach (var t in tasks) MixtureOfExperts.DeclareGate(init, $"gate_{t}", spec.InputSize, experts);
        var towers = tasks.Select(t => new Mlp(init, $"tower_{t}", expertNets[0].OutputSize, tower, output: 1)).ToArray();
        return spec.Define(init, (g, inputs, p, training) =>
        {
            var x = TaskHeads.Input(g, spec, inputs);
            var outs = expertNets.Select(e => e.Forward(g, x, p)).ToArray();
            var logits = tasks.Select((t, i) => towers[i].Forward(g, MixtureOfExperts.Mix(g, $"gate_{t}", x, outs, p), p)).ToArray();
            return TaskHeads.Build(g, spec, inputs, p, logits, training);
        });
    }
}
