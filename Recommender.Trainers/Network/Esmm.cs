using Recommender.Trainers.Compilation;

namespace Recommender.Trainers.Network;

/// <summary>
/// Entire Space Multi-task Model (Ma et al., SIGIR 2018), and its generalization to longer chains, ESM2 (Wen et
/// al., SIGIR 2020): a tower per task over the shared embeddings, every tower seeing every impression. A chained
/// task's entire-space probability is the product along its chain (pCTCVR = pCTR x pCVR; click x cart x purchase),
/// and its loss is taken on that product over all impressions, so no task is fit on its chain's rows alone (no
/// sample-selection bias).
/// <code>
///   [embeddings | dense] -> tower_click    -> p(click) ----------x----------------x--> p(purchase), loss: purchase, all rows
///                        -> tower_cart     -> p(cart | click) --/                 |
///                        -> tower_purchase -> p(purchase | cart) ----------------/
/// </code>
/// </summary>
public static class Esmm
{
    /// <summary>The model: parameters, inputs and the forward function.</summary>
    public static ModelDefinition Create(MultiTaskSpec spec, IReadOnlyList<int> tower)
    {
        var init = new ParameterInit(spec.Seed);
        var input = new InputBlock(init, spec);
        var towers = spec.Tasks.Select(t => new Mlp(init, $"tower_{t.Name}", spec.InputSize, tower, output: 1)).ToArray();
        return spec.Define(init, (g, inputs, p, training) =>
        {
            var x = input.Forward(g, inputs, p, out var wide);
            var taskTowers = towers.Select(t => new TaskTower(at => t.Forward(g, TaskTower.Rows(x, at), p))).ToArray();
            return TaskHeads.Build(g, spec, inputs, p, taskTowers, training, entireSpace: true, wide: wide);
        });
    }
}
