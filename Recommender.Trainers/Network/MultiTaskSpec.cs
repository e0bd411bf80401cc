using Recommender.Trainers.Training;

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
    /// <summary>Weight of the CTR loss (alpha); 0 switches the task off.</summary>
    public float CtrWeight { get; init; } = 1;
    /// <summary>Weight of the CVR loss (beta); 0 switches the task off.</summary>
    public float CvrWeight { get; init; } = 1;
    /// <summary>Weight of the rating loss (gamma); 0 switches the task off.</summary>
    public float RatingWeight { get; init; } = 1;
    /// <summary>Smallest rating: the rating head maps into [RatingMin, RatingMax].</summary>
    public float RatingMin { get; init; } = 1;
    /// <summary>Largest rating.</summary>
    public float RatingMax { get; init; } = 5;
    /// <summary>
    /// Learn the task weights by homoscedastic uncertainty (Kendall et al., 2018): the loss becomes
    /// <c>sum_t exp(-s_t) w_t L_t + s_t</c> with a learned log-variance s_t per enabled task.
    /// </summary>
    public bool LearnTaskWeights { get; init; }
    /// <summary>Seed of the dense parameters' initialization.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Width of the concatenated input: fields x embedding + dense.</summary>
    public int InputSize => FieldRows.Count * EmbeddingDim + DenseSize;

    /// <summary>A model of this spec: the parameters declared in <paramref name="init"/> (plus the heads'), the standard inputs, and <paramref name="forward"/>.</summary>
    public ModelDefinition Define(ParameterInit init, ForwardFunction forward)
    {
        TaskHeads.Declare(init, this);
        return new ModelDefinition { Parameters = init.Parameters, Inputs = Inputs(), Forward = forward };
    }

    /// <summary>The batch inputs: gathered embeddings, dense features, labels and masks (all [B, 1] per-row scalars).</summary>
    public IReadOnlyList<BatchInputSpec> Inputs()
    {
        var inputs = new List<BatchInputSpec> { new(MultiTaskInputs.Embeddings, [FieldRows.Count * EmbeddingDim], BatchInputKind.Embedding) };
        if (DenseSize > 0) inputs.Add(new(MultiTaskInputs.Dense, [DenseSize], BatchInputKind.Feature));
        foreach (var label in MultiTaskInputs.Labels) inputs.Add(new(label, [1], BatchInputKind.Label));
        return inputs;
    }
}

/// <summary>Names of the multi-task models' batch inputs and prediction outputs.</summary>
public static class MultiTaskInputs
{
    /// <summary>Gathered embeddings [B, fields * dim].</summary>
    public const string Embeddings = "embeddings";
    /// <summary>Normalized dense features [B, dense].</summary>
    public const string Dense = "dense";
    /// <summary>Click label [B, 1].</summary>
    public const string Click = "click";
    /// <summary>Conversion label [B, 1].</summary>
    public const string Conversion = "conversion";
    /// <summary>Rating label [B, 1] (0 where not rated).</summary>
    public const string Rating = "rating";
    /// <summary>1 for real rows, 0 for padding [B, 1].</summary>
    public const string RowMask = "row_mask";
    /// <summary>1 where the row is rated [B, 1].</summary>
    public const string RatingMask = "rating_mask";
    /// <summary>The label and mask inputs.</summary>
    public static readonly string[] Labels = [Click, Conversion, Rating, RowMask, RatingMask];

    /// <summary>Predicted CTR.</summary>
    public const string PCtr = "PCtr";
    /// <summary>Predicted CVR given a click.</summary>
    public const string PCvr = "PCvr";
    /// <summary>Predicted click-and-convert: PCtr x PCvr.</summary>
    public const string PCtcvr = "PCtcvr";
    /// <summary>Predicted rating.</summary>
    public const string PredictedRating = "PredictedRating";
}
