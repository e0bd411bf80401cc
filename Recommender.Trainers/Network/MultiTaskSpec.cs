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
    /// <summary>
    /// Whether, in training, a task whose loss reads only its defined rows runs its tower on those rows alone (see
    /// <see cref="TaskHeads.Build"/>); off only in the tests that check it against the towers over every row.
    /// </summary>
    internal bool TowersOnDefinedRows { get; init; } = true;
    /// <summary>Seed of the dense parameters' initialization.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Platt scaling of binary heads by task name (fitted after training, applied in inference); null or absent = none.</summary>
    public IReadOnlyDictionary<string, PlattCalibration>? Calibration { get; init; }
    /// <summary>Isotonic calibration of binary heads by task name (instead of Platt scaling for those tasks); null or absent = none.</summary>
    public IReadOnlyDictionary<string, IsotonicCalibration>? Isotonic { get; init; }
    /// <summary>Explicit interaction blocks of the input (see <see cref="InputBlock"/>).</summary>
    public FeatureInteractions Interactions { get; init; }
    /// <summary>Cross layers, with <see cref="FeatureInteractions.Cross"/>.</summary>
    public int CrossLayers { get; init; } = 2;
    /// <summary>Width of each field-aware vector, with <see cref="FeatureInteractions.FieldAware"/>.</summary>
    public int FieldAwareDim { get; init; } = 4;
    /// <summary>Whether the field-aware block is on (its embeddings are a second embedding input).</summary>
    public bool FieldAware => Interactions.HasFlag(FeatureInteractions.FieldAware);
    /// <summary>Whether the field-aware pair products also join the logits (<see cref="FeatureInteractions.FieldAwareLinear"/>).</summary>
    public bool FieldAwareLinear => FieldAware && Interactions.HasFlag(FeatureInteractions.FieldAwareLinear);

    /// <summary>With <see cref="FeatureInteractions.CrossedEmbeddings"/>: the most rows (value combinations) a crossed pair's table may have.</summary>
    public int CrossedRowLimit { get; init; } = 10_000;
    /// <summary>Width of each crossed pair's embedding, with <see cref="FeatureInteractions.CrossedEmbeddings"/>.</summary>
    public int CrossedDim { get; init; } = 8;
    /// <summary>
    /// Whether the model has crossed embeddings (a third embedding input, one table per crossed pair): the block is on and
    /// some pair is within the limit. Where none is, the block adds nothing, so it can be on by default for any schema.
    /// </summary>
    public bool Crossed => CrossedPairs().Count > 0;

    /// <summary>
    /// The crossed pairs (plain fields a &lt; b, in row order) with their tables' rows, rows_a x rows_b; the pair's row for ids
    /// (i, j) is i x rows_b + j. Empty without <see cref="FeatureInteractions.CrossedEmbeddings"/>.
    /// </summary>
    public IReadOnlyList<CrossedPair> CrossedPairs() => !Interactions.HasFlag(FeatureInteractions.CrossedEmbeddings) ? []
        : CrossedFieldPairs is { } kept ? [.. kept.Select(p => new CrossedPair(p.A, p.B, FieldRows[p.A], FieldRows[p.B]))]
        : [.. Enumerable.Range(0, PlainFields).SelectMany(a => Enumerable.Range(a + 1, PlainFields - a - 1).Select(b => new CrossedPair(a, b, FieldRows[a], FieldRows[b])))
            .Where(p => p.Rows <= CrossedRowLimit)];

    /// <summary>
    /// The crossed pairs when they are fixed (a warm start keeps its model's, whatever the vocabularies have grown to, so the
    /// network keeps its shape); null to choose them by <see cref="CrossedRowLimit"/>.
    /// </summary>
    public IReadOnlyList<(int A, int B)>? CrossedFieldPairs { get; init; }

    /// <summary>
    /// Behaviour sequences (see <see cref="SequenceSpec"/>): their positions are the last fields, in order, each sequence's
    /// contiguous; empty for none.
    /// </summary>
    public IReadOnlyList<SequenceSpec> Sequences { get; init; } = [];
    /// <summary>How each sequence is pooled into one embedding (see <see cref="BehaviourPooling"/>).</summary>
    public SequencePooling Pooling { get; init; } = SequencePooling.Attention;
    /// <summary>Hidden width of the attention MLP, with <see cref="SequencePooling.Attention"/>.</summary>
    public int AttentionHidden { get; init; } = 32;

    /// <summary>The sequences' positions, all of them: the width of the sequence mask.</summary>
    public int SequencePositions => Sequences.Sum(s => s.Length);

    /// <summary>The fields that are sequence positions, in mask order.</summary>
    public int[] SequencePositionFields => [.. Sequences.SelectMany(s => Enumerable.Range(s.FirstField, s.Length))];

    /// <summary>Fields that are not sequence positions (they come first).</summary>
    public int PlainFields => FieldRows.Count - SequencePositions;

    /// <summary>Fields the network sees after pooling: the plain fields and one per sequence.</summary>
    public int InteractionFields => PlainFields + Sequences.Count;

    /// <summary>The field whose table each field reads: itself, or for a sequence position the sequence's target field.</summary>
    public int[] TableOwners()
    {
        var owners = Enumerable.Range(0, FieldRows.Count).ToArray();
        foreach (var s in Sequences)
            for (int i = 0; i < s.Length; i++) owners[s.FirstField + i] = s.TargetField;
        return owners;
    }

    /// <summary>With behaviour sequences: each position's match with its target joins the input (see <see cref="BehaviourPooling"/>).</summary>
    public bool SequenceMatches { get; init; }

    /// <summary>Width of the concatenated (pooled) field embeddings, dense features and sequence matches.</summary>
    public int ConcatenatedSize => InteractionFields * EmbeddingDim + DenseSize + (SequenceMatches ? SequencePositions : 0);

    /// <summary>Width of the network input: the concatenation (crossed, with the cross network), plus one embedding width with the bi-interaction, plus F(F-1)/2 pairwise dot products.</summary>
    public int InputSize => ConcatenatedSize + (Interactions.HasFlag(FeatureInteractions.FactorizationMachine) ? EmbeddingDim : 0)
        + (Interactions.HasFlag(FeatureInteractions.PairwiseDot) ? InteractionFields * (InteractionFields - 1) / 2 : 0)
        + (FieldAware ? PlainFields * (PlainFields - 1) / 2 : 0) + CrossedPairs().Count * CrossedDim;

    /// <summary>Checks that the sequences' positions are the last fields, contiguous and in order, over plain target fields of the right size.</summary>
    public void ValidateSequences()
    {
        int next = PlainFields;
        if (next < 1 && Sequences.Count > 0) throw new ArgumentException("a model with behaviour sequences needs at least one plain field");
        foreach (var s in Sequences)
        {
            if (s.Length < 1) throw new ArgumentException($"sequence '{s.Name}': length must be at least 1, got {s.Length}");
            if (s.FirstField != next) throw new ArgumentException($"sequence '{s.Name}': its positions must follow the plain fields and the sequences before it (field {next}), not start at {s.FirstField}");
            if (s.TargetField < 0 || s.TargetField >= PlainFields) throw new ArgumentException($"sequence '{s.Name}': its target field {s.TargetField} is not a plain field");
            for (int i = 0; i < s.Length; i++)
                if (FieldRows[s.FirstField + i] != FieldRows[s.TargetField])
                    throw new ArgumentException($"sequence '{s.Name}': position {i} has {FieldRows[s.FirstField + i]} rows, its target field {FieldRows[s.TargetField]}");
            next += s.Length;
        }
        if (Sequences.Select(s => s.Name).Distinct().Count() != Sequences.Count) throw new ArgumentException("two sequences have the same name");
        if (AttentionHidden < 1) throw new ArgumentException($"AttentionHidden must be at least 1, got {AttentionHidden}");
        if (FieldAware && (FieldAwareDim < 1 || PlainFields < 2)) throw new ArgumentException($"the field-aware block needs FieldAwareDim >= 1 (got {FieldAwareDim}) and two plain fields (got {PlainFields})");
        if (Crossed && CrossedDim < 1) throw new ArgumentException($"crossed embeddings need CrossedDim >= 1, got {CrossedDim}");
        if (CrossedFieldPairs?.FirstOrDefault(p => p.A < 0 || p.A >= p.B || p.B >= PlainFields) is { } bad && CrossedFieldPairs.Contains(bad))
            throw new ArgumentException($"crossed pair ({bad.A}, {bad.B}) is not two plain fields in order");
    }

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
        if (FieldAware) inputs.Add(new(MultiTaskInputs.FieldAwareEmbeddings, [PlainFields * PlainFields * FieldAwareDim], BatchInputKind.Embedding));
        if (Crossed) inputs.Add(new(MultiTaskInputs.CrossedEmbeddings, [CrossedPairs().Count * CrossedDim], BatchInputKind.Embedding));
        if (DenseSize > 0) inputs.Add(new(MultiTaskInputs.Dense, [DenseSize], BatchInputKind.Feature));
        if (Sequences.Count > 0) inputs.Add(new(MultiTaskInputs.SequenceMask, [SequencePositions], BatchInputKind.Feature));
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
    /// <summary>The plain fields' field-aware vectors [B, fields * fields * k]: field f's vector for field j at (f * fields + j) * k.</summary>
    public const string FieldAwareEmbeddings = "field_aware_embeddings";
    /// <summary>The crossed pairs' embeddings [B, pairs * dim], in <see cref="MultiTaskSpec.CrossedPairs"/> order.</summary>
    public const string CrossedEmbeddings = "crossed_embeddings";
    /// <summary>Normalized dense features [B, dense].</summary>
    public const string Dense = "dense";
    /// <summary>1 where a sequence position holds a known id, 0 for padding and unknown ids [B, positions]; filled from the ids (<see cref="SequenceMask"/>).</summary>
    public const string SequenceMask = "sequence_mask";
    /// <summary>1 for real rows, 0 for padding [B, 1].</summary>
    public const string RowMask = "row_mask";
    /// <summary>A task's label [B, 1] (0 where there is none).</summary>
    public static string Label(TaskDefinition task) => "label." + task.Name;
    /// <summary>1 where the task's label is there [B, 1].</summary>
    public static string LabelMask(TaskDefinition task) => "label_mask." + task.Name;
}
