using Recommender.Trainers.Compilation;

namespace Recommender.Trainers.Network;

/// <summary>
/// Shared-bottom multi-task network (Caruana, 1997): one bottom MLP shared by all tasks, one tower MLP
/// per task on top of it.
/// <code>
///   [embeddings | dense] -> bottom -> h -> tower_t1 -> logit of task 1
///                                      -> ...
///                                      -> tower_tn -> logit of task n
/// </code>
/// </summary>
public static class SharedBottom
{
    /// <summary>The model: parameters, inputs and the forward function.</summary>
    public static ModelDefinition Create(MultiTaskSpec spec, IReadOnlyList<int> bottom, IReadOnlyList<int> tower)
    {
        var init = new ParameterInit(spec.Seed);
        var input = new InputBlock(init, spec);
        var shared = new Mlp(init, "bottom", spec.InputSize, bottom);
        var towers = spec.Tasks.Select(t => new Mlp(init, $"tower_{t.Name}", shared.OutputSize, tower, output: 1)).ToArray();
        return spec.Define(init, (g, inputs, p, training) =>
        {
            var h = shared.Forward(g, input.Forward(g, inputs, p, out var wide), p);
            var taskTowers = towers.Select(t => new TaskTower(at => t.Forward(g, TaskTower.Rows(h, at), p))).ToArray();
            return TaskHeads.Build(g, spec, inputs, p, taskTowers, training, wide: wide);
        });
    }
}
