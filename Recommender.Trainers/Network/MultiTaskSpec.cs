using Recommender.Trainers.Compilation;

namespace Recommender.Trainers.Network;

/// <summary>The input side every multi-task architecture shares: fields, embedding width, dense features, tasks.</summary>
public sealed record MultiTaskSpec
{
    /// <summary>Rows of each field's embedding table (vocabulary + 1 for the out-of-vocabulary row).</summary>
    public required IReadOnlyList<int> FieldRows { get; init; }
    /// <summary>Embedding width.</summary>
    public int EmbeddingDim { get; init; } = 16;
    /// <summary>Number of dense features (0 for none).</summary>
    public int DenseSize { get; init; }
    /// <summary>The tasks, in declaration order (see <see cref="TaskList.Validate"/>); default: the default chain at weights 1, ratings 1-5.</summary>
    public IReadOnlyList<TaskDefinition> Tasks { get; init; } = TaskList.DefaultChain("Click", "Conversion", "Rating", 1, 1, 1, 1, 5);
    /// <summary>
    /// Learn the task weights by homoscedastic uncertainty (Kendall et al., 2018): the loss becomes
    /// <c>sum_t exp(-s_t) w_t L_t + s_t</c> with a learned log-variance s_t per enabled task.
    /// </summary>
    public bool LearnTaskWeights { get; init; }
    /// <summary>Seed of the dense parameters' initialization.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Platt scaling of binary heads by task name (fitted after training, applied in inference); null or absent = none.</summary>
    public IReadOnlyDictionary<string, PlattCalibration>? Calibration { get; init; }
    /// <summary>Explicit interaction blocks of the input (see <see cref="InputBlock"/>).</summary>
    public FeatureInteractions Interactions { get; init; }
    /// <summary>Cross layers, with <see cref="FeatureInteractions.Cross"/>.</summary>
    public int CrossLayers { get; init; } = 2;

    /// <summary>Width of the concatenated embeddings and dense features.</summary>
    public int ConcatenatedSize => FieldRows.Count * EmbeddingDim + DenseSize;

    /// <summary>Width of the network input: the concatenation (crossed, with the cross network), plus one embedding width with the bi-interaction, plus F(F-1)/2 pairwise dot products.</summary>
    public int InputSize => ConcatenatedSize + (Interactions.HasFlag(FeatureInteractions.FactorizationMachine) ? EmbeddingDim : 0)
        + (Interactions.HasFlag(FeatureInteractions.PairwiseDot) ? FieldRows.Count * (FieldRows.Count - 1) / 2 : 0);

    /// <summary>A model of this spec: the parameters declared in <paramref name="init"/> (plus the heads'), the standard inputs, and <paramref name="forward"/>.</summary>
    public ModelDefinition Define(ParameterInit init, ForwardFunction forward)
    {
        TaskHeads.Declare(init, this);
        return new ModelDefinition { Parameters = init.Parameters, Inputs = Inputs(), Forward = forward };
    }

    /// <summary>The batch inputs: gathered embeddings, dense features, the row mask, each task's label and label mask (all [B, 1] per-row scalars).</summary>
    public IReadOnlyList<BatchInputSpec> Inputs()
    {
        var inputs = new List<BatchInputSpec> { new(MultiTaskInputs.Embeddings, [FieldRows.Count * EmbeddingDim], BatchInputKind.Embedding) };
        if (DenseSize > 0) inputs.Add(new(MultiTaskInputs.Dense, [DenseSize], BatchInputKind.Feature));
        inputs.Add(new(MultiTaskInputs.RowMask, [1], BatchInputKind.Label));
        foreach (var task in Tasks)
        {
            inputs.Add(new(MultiTaskInputs.Label(task), [1], BatchInputKind.Label));
            inputs.Add(new(MultiTaskInputs.LabelMask(task), [1], BatchInputKind.Label));
        }
        return inputs;
    }
}

/// <summary>Names of the multi-task models' batch inputs.</summary>
public static class MultiTaskInputs
{
    /// <summary>Gathered embeddings [B, fields * dim].</summary>
    public const string Embeddings = "embeddings";
    /// <summary>Normalized dense features [B, dense].</summary>
    public const string Dense = "dense";
    /// <summary>1 for real rows, 0 for padding [B, 1].</summary>
    public const string RowMask = "row_mask";
    /// <summary>A task's label [B, 1] (0 where there is none).</summary>
    public static string Label(TaskDefinition task) => "label." + task.Name;
    /// <summary>1 where the task's label is there [B, 1].</summary>
    public static string LabelMask(TaskDefinition task) => "label_mask." + task.Name;
}
