using Recommender.Trainers.Compilation;
using Recommender.Trainers.Graph;

namespace Recommender.Trainers.Network;

/// <summary>
/// Progressive Layered Extraction (Tang et al., RecSys 2020): stacked Customized Gate Control layers. In each
/// layer every task has its own experts and all tasks share some; a task's gate mixes its own and the shared
/// experts, and (below the top layer) a shared gate mixes all experts for the next layer's shared input.
/// <code>
///   layer l: task t input -> experts_t ; shared input -> experts_s
///            out_t = gate_t(input_t)[experts_t + experts_s]      out_s = gate_s(input_s)[all experts]
///   top: out_t -> tower_t
/// </code>
/// </summary>
public static class Ple
{
    /// <summary>The model: parameters, inputs and the forward function.</summary>
    public static ModelDefinition Create(MultiTaskSpec spec, int layers, int sharedExperts, int taskExperts, IReadOnlyList<int> expert, IReadOnlyList<int> tower)
    {
        var init = new ParameterInit(spec.Seed);
        var input = new InputBlock(init, spec);
        var tasks = spec.Tasks.Select(t => t.Name).ToArray();
        int width = spec.InputSize;
        var specific = new Mlp[layers][][];
        var shared = new Mlp[layers][];
        var taskGates = new Gate[layers][];
        var sharedGates = new Gate?[layers];
        for (int l = 0; l < layers; l++)
        {
            int layerInput = width;
            specific[l] = tasks.Select(t => Enumerable.Range(0, taskExperts).Select(k => new Mlp(init, $"ple{l}.{t}.expert_{k}", layerInput, expert)).ToArray()).ToArray();
            shared[l] = Enumerable.Range(0, sharedExperts).Select(k => new Mlp(init, $"ple{l}.shared.expert_{k}", layerInput, expert)).ToArray();
            taskGates[l] = tasks.Select(t => new Gate(init, $"ple{l}.gate_{t}", layerInput, taskExperts + sharedExperts)).ToArray();
            if (l + 1 < layers) sharedGates[l] = new Gate(init, $"ple{l}.gate_shared", layerInput, tasks.Length * taskExperts + sharedExperts);
            width = expert[^1];
        }
        var towers = tasks.Select(t => new Mlp(init, $"tower_{t}", width, tower, output: 1)).ToArray();
        return spec.Define(init, (g, inputs, p, training) =>
        {
            var x = input.Forward(g, inputs, p, out var wide);
            var taskInputs = tasks.Select(_ => x).ToArray();
            Value sharedInput = x;
            int top = layers - 1;
            for (int l = 0; l < top; l++)
            {
                var own = tasks.Select((_, i) => specific[l][i].Select(e => e.Forward(g, taskInputs[i], p)).ToArray()).ToArray();
                var common = shared[l].Select(e => e.Forward(g, sharedInput, p)).ToArray();
                taskInputs = taskGates[l].Select((gate, i) => gate.Mix(g, taskInputs[i], [.. own[i], .. common], p)).ToArray();
                sharedInput = sharedGates[l]!.Mix(g, sharedInput, [.. own.SelectMany(e => e), .. common], p);
            }
            // The top layer's own experts and gate read only their task's input: the task's part, run on its rows in training.
            var topShared = shared[top].Select(e => e.Forward(g, sharedInput, p)).ToArray();
            var taskTowers = tasks.Select((_, i) => new TaskTower(at =>
            {
                var rows = TaskTower.Rows(taskInputs[i], at);
                Value[] experts = [.. specific[top][i].Select(e => e.Forward(g, rows, p)), .. topShared.Select(c => TaskTower.Rows(c, at))];
                return towers[i].Forward(g, taskGates[top][i].Mix(g, rows, experts, p), p);
            })).ToArray();
            return TaskHeads.Build(g, spec, inputs, p, taskTowers, training, wide: wide);
        });
    }
}
