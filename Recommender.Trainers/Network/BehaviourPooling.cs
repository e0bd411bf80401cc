using Recommender.Trainers.Graph;

namespace Recommender.Trainers.Network;

/// <summary>How a behaviour sequence is pooled into one embedding.</summary>
public enum SequencePooling
{
    /// <summary>The mean of the present positions' embeddings (0 for an empty history).</summary>
    Mean,
    /// <summary>
    /// DIN's target attention (Zhou et al., KDD 2018): an MLP scores each position from the position's embedding h, the
    /// target's t and their product h*t (the paper's h - t is in the span of h and t for a linear first layer), plus a
    /// learned bias per position (so recent events may count more); the history is the sum of the present positions'
    /// embeddings, each weighted by the sigmoid of its score. Not softmaxed: as the paper argues, the weights' sum keeps
    /// the intensity of an interest (three recent clicks in the target's category weigh more than one); measured here,
    /// softmax weights lost that and gained nothing over the plain fields.
    /// </summary>
    Attention,
}

/// <summary>
/// Turns the gathered embeddings of the plain fields and of each behaviour sequence into the field embeddings the
/// network starts from: the plain fields as they are, then one pooled embedding per sequence, so interaction blocks
/// treat a user's history as one more field. Padded positions (mask 0) contribute exactly nothing: their weight is
/// multiplied by the mask. With <see cref="MultiTaskSpec.SequenceMatches"/>, each position's match with the target (1 where
/// the event is the candidate's own id: the same item, the same category; 0 otherwise and for padding) joins the input
/// too, position by position so that recency counts: SIM's hard search (Pi et al., CIKM 2020) as features. Pooling sees
/// how similar the events are to the candidate, but a count of exact matches is a length along the target's embedding in
/// the pooled sum, which the MLPs' ReLUs read poorly (measured: without the matches the model put an item in a category
/// none of the last three clicks shared at twice its true probability). A position reads its target's table, so equal
/// ids are bit-equal rows: the match is read from the embeddings, needs no input of its own, and every path computes it
/// alike, the exported model included; it is a constant of the step (no gradient).
/// </summary>
public sealed class BehaviourPooling
{
    private readonly MultiTaskSpec _spec;

    /// <summary>Declares the attention MLPs' parameters (one per sequence), when attention is asked for.</summary>
    public BehaviourPooling(ParameterInit init, MultiTaskSpec spec)
    {
        _spec = spec;
        if (spec.Pooling != SequencePooling.Attention) return;
        int k = spec.EmbeddingDim, h = spec.AttentionHidden;
        foreach (var s in spec.Sequences)
        {
            init.Weight($"attention.{s.Name}.history", k, h);
            init.Weight($"attention.{s.Name}.target", k, h);
            init.Weight($"attention.{s.Name}.product", k, h);
            init.Bias($"attention.{s.Name}.b", h);
            init.Weight($"attention.{s.Name}.score", h, 1);
            init.Bias($"attention.{s.Name}.score_b", 1);
            init.Bias($"attention.{s.Name}.position", s.Length);
        }
    }

    /// <summary>
    /// [B, <see cref="MultiTaskSpec.InteractionFields"/> * k] from the embeddings input [B, fields * k] and the sequence mask
    /// [B, positions]; <paramref name="matches"/> [B, positions] with <see cref="MultiTaskSpec.SequenceMatches"/>, else null.
    /// </summary>
    public Value Fields(GraphBuilder g, Value embeddings, Value? mask, IReadOnlyDictionary<string, Value> p, out Value? matches)
    {
        var spec = _spec;
        matches = null;
        if (spec.Sequences.Count == 0) return embeddings;
        int k = spec.EmbeddingDim;
        var parts = new List<Value>();
        var matched = new List<Value>();
        if (spec.PlainFields > 0) parts.Add(g.Slice(embeddings, 1, 0, spec.PlainFields * k));
        int offset = 0;
        foreach (var s in spec.Sequences)
        {
            int length = s.Length;
            var history = g.Reshape(g.Slice(embeddings, 1, (long)s.FirstField * k, (long)(s.FirstField + length) * k), -1, length, k);   // [B, L, k]
            var present = g.Slice(mask!, 1, offset, offset + length);                                                                       // [B, L]
            offset += length;
            var target = g.Slice(embeddings, 1, (long)s.TargetField * k, (long)(s.TargetField + 1) * k);                              // [B, k]
            if (spec.SequenceMatches)
            {
                var difference = g.Sub(history, g.Unsqueeze(target, 1));
                var distance = g.ReduceSum(g.Mul(difference, difference), [2]);                                                         // [B, L]
                matched.Add(g.Mul(g.Cast(g.LessOrEqual(distance, g.Scalar(0, distance.Type)), distance.Type), present));
            }
            var weights = spec.Pooling == SequencePooling.Mean
                ? g.Div(present, g.Max(g.ReduceSum(present, [1], keepDims: true), g.Scalar(1)))
                : g.Mul(g.Sigmoid(g.Add(Scores(g, s, history, target, p),
                    p[$"attention.{s.Name}.position"])), present);
            parts.Add(g.ReduceSum(g.Mul(history, g.Unsqueeze(weights, 2)), [1]));                                                          // [B, k]
        }
        if (matched.Count > 0) matches = matched.Count == 1 ? matched[0] : g.Concat(1, [.. matched]);
        return parts.Count == 1 ? parts[0] : g.Concat(1, parts.ToArray());
    }

    // The attention logits [B, L] before the position bias: relu(h Wh + t Wt + (h*t) Wp + b) Ws + bs per position.
    private Value Scores(GraphBuilder g, SequenceSpec s, Value history, Value target, IReadOnlyDictionary<string, Value> p)
    {
        int k = _spec.EmbeddingDim, h = _spec.AttentionHidden, length = s.Length;
        string name = $"attention.{s.Name}";
        var flat = g.Reshape(history, -1, k);                                                                      // [B L, k]
        var product = g.Reshape(g.Mul(history, g.Unsqueeze(target, 1)), -1, k);                                  // [B L, k]
        var positions = g.Add(g.MatMul(flat, p[$"{name}.history"]), g.MatMul(product, p[$"{name}.product"]));    // [B L, h]
        var fromTarget = g.Unsqueeze(g.Gemm(target, p[$"{name}.target"], p[$"{name}.b"]), 1);                      // [B, 1, h]
        var hidden = g.Relu(g.Reshape(g.Add(g.Reshape(positions, -1, length, h), fromTarget), -1, h));           // [B L, h]
        return g.Reshape(g.Gemm(hidden, p[$"{name}.score"], p[$"{name}.score_b"]), -1, length);                    // [B, L]
    }
}
