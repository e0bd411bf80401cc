using Recommender.Trainers.Compilation;

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
        var input = new InputBlock(init, spec);
        var expertNets = Enumerable.Range(0, experts).Select(k => new Mlp(init, $"expert_{k}", spec.InputSize, expert)).ToArray();
        var gates = spec.Tasks.Select(t => new Gate(init, $"gate_{t.Name}", spec.InputSize, experts)).ToArray();
        var towers = spec.Tasks.Select(t => new Mlp(init, $"tower_{t.Name}", expertNets[0].OutputSize, tower, output: 1)).ToArray();
        return spec.Define(init, (g, inputs, p, training) =>
        {
            var x = input.Forward(g, inputs, p, out var wide);
            var outs = expertNets.Select(e => e.Forward(g, x, p)).ToArray();
            var taskTowers = towers.Select((tower, i) => new TaskTower(at =>
                tower.Forward(g, gates[i].Mix(g, TaskTower.Rows(x, at), outs.Select(o => TaskTower.Rows(o, at)).ToArray(), p), p))).ToArray();
            return TaskHeads.Build(g, spec, inputs, p, taskTowers, training, wide: wide);
        });
    }
}
