using Recommender.Trainers.Graph;

namespace Recommender.Trainers.Network;

/// <summary>Explicit feature-interaction blocks of the network input; combinable.</summary>
[Flags]
public enum FeatureInteractions
{
    /// <summary>The concatenated embeddings and dense features only: the MLPs must learn every interaction.</summary>
    None = 0,
    /// <summary>
    /// Factorization-machine bi-interaction pooling (NFM, He and Chua, SIGIR 2017): the sum over field pairs of the
    /// element-wise products of their embeddings, <c>0.5 ((sum_f e_f)^2 - sum_f e_f^2)</c>, one embedding wide, appended.
    /// </summary>
    FactorizationMachine = 1,
    /// <summary>DCN-v2's cross network (Wang et al., WWW 2021), stacked under the MLPs: <c>x_{l+1} = x_0 * (x_l W_l + b_l) + x_l</c>.</summary>
    Cross = 2,
    /// <summary>
    /// DLRM's interaction (Naumov et al., 2019): the dot product of every pair of field embeddings, F(F-1)/2 values,
    /// appended, so each attribute pair keeps its own term (bi-interaction pooling sums them into one vector).
    /// </summary>
    PairwiseDot = 4,
    /// <summary>
    /// DeepFM's wide part (Guo et al., IJCAI 2017): the factorization machine's pairwise term
    /// <c>sum_{i&lt;j} &lt;e_i, e_j&gt;</c> added to every task's logit with a learned weight per task, beside the deep part
    /// instead of as one more input of it, so a pairwise interaction needs no MLP to be learned.
    /// </summary>
    DeepFm = 8,
    /// <summary>
    /// Field-aware pairwise products (FFM, Juan et al., RecSys 2016, as a block): every plain field also has one small
    /// embedding per field (<see cref="MultiTaskSpec.FieldAwareDim"/> wide), and each pair of fields (i, j) gives
    /// <c>&lt;v_i,j, v_j,i&gt;</c>, its own vectors for its own pair, F(F-1)/2 values appended to the input.
    /// </summary>
    FieldAware = 16,
    /// <summary>
    /// With <see cref="FieldAware"/>: its pair products also go straight to every task's logit, each pair with the task's
    /// own learned weight (starting at 0), as a field-weighted FFM's read-out beside the MLP, so the field-aware model an
    /// FFM is stays one linear layer away instead of having to pass through the MLP's ReLUs.
    /// </summary>
    FieldAwareLinear = 32,
    /// <summary>
    /// Crossed embeddings (the cross-product features of Wide &amp; Deep, Cheng et al. 2016, learned as embeddings): every
    /// pair of plain fields whose values make at most <see cref="MultiTaskSpec.CrossedRowLimit"/> combinations gets a table
    /// with a row per combination, so age x category learns its own vector for each (age, category) instead of a product of
    /// two per-field vectors; the pairs' embeddings join the input. The ids are computed from the fields' ids, on the host
    /// in training and inside the exported model, whose inputs do not change.
    /// </summary>
    CrossedEmbeddings = 64,
}

/// <summary>
/// The network input every architecture starts from: the gathered field embeddings (each behaviour sequence pooled
/// into one, see <see cref="BehaviourPooling"/>) concatenated with the dense features and the sequences' matches, then the spec's interaction blocks (<see cref="FeatureInteractions"/>); <see cref="MultiTaskSpec.InputSize"/>
/// is its width. With no interactions it declares no parameter, so such models are what they were without the block.
/// </summary>
public sealed class InputBlock
{
    private readonly MultiTaskSpec _spec;
    private readonly BehaviourPooling _pooling;

    /// <summary>Declares the behaviour pooling's and the cross layers' parameters, when there are any.</summary>
    public InputBlock(ParameterInit init, MultiTaskSpec spec)
    {
        _spec = spec;
        spec.ValidateSequences();
        _pooling = new BehaviourPooling(init, spec);
        if (!spec.Interactions.HasFlag(FeatureInteractions.Cross)) return;
        int width = spec.ConcatenatedSize;
        for (int l = 0; l < spec.CrossLayers; l++)
        {
            init.Weight($"cross.{l}.w", width, width);
            init.Bias($"cross.{l}.b", width);
        }
    }

    /// <summary>
    /// The input [B, <see cref="MultiTaskSpec.InputSize"/>] from the batch inputs, and the terms for the logits
    /// (<see cref="WideTerms"/>; null when there are none).
    /// </summary>
    public Value Forward(GraphBuilder g, IReadOnlyDictionary<string, Value> inputs, IReadOnlyDictionary<string, Value> p, out WideTerms? wide)
    {
        var spec = _spec;
        var embeddings = _pooling.Fields(g, inputs[MultiTaskInputs.Embeddings], inputs.GetValueOrDefault(MultiTaskInputs.SequenceMask), p, out var matches);
        var pairwiseSum = spec.Interactions.HasFlag(FeatureInteractions.DeepFm) ? g.ReduceSum(BiInteraction(g, embeddings), [1], keepDims: true) : null;
        Value? fieldAwarePairs = null;
        var parts = new List<Value> { embeddings };
        if (spec.DenseSize > 0) parts.Add(inputs[MultiTaskInputs.Dense]);
        if (matches is not null) parts.Add(matches);
        if (spec.Interactions.HasFlag(FeatureInteractions.Cross))
        {
            var x0 = parts.Count == 1 ? parts[0] : g.Concat(1, [.. parts]);
            var x = x0;
            for (int l = 0; l < spec.CrossLayers; l++) x = g.Add(g.Mul(x0, g.Gemm(x, p[$"cross.{l}.w"], p[$"cross.{l}.b"])), x);
            parts = [x];
        }
        if (spec.Interactions.HasFlag(FeatureInteractions.PairwiseDot))
        {
            // DLRM's form: each row's Gram matrix E E^T [B, F, F] of its field embeddings E [F, k], then the pairs i < j picked
            // by a 0/1 matrix [F*F, P]. Gathering the pairs' embeddings instead moved [P, B, k] tensors, eight times E, in
            // every direction: 9 of the default ESMM's 43 ms a step, against about 1 ms this way.
            int f = spec.InteractionFields;
            var fields = g.Reshape(embeddings, -1, f, spec.EmbeddingDim);                                     // [B, F, k]
            parts.Add(g.MatMul(g.Reshape(g.Gram(fields), -1, (long)f * f), PairSelection(g, f)));
        }
        if (spec.Interactions.HasFlag(FeatureInteractions.FactorizationMachine)) parts.Add(BiInteraction(g, embeddings));
        if (spec.Interactions.HasFlag(FeatureInteractions.FieldAware))
        {
            // [B, F*F, k]: row i*F+j is field i's vector for field j; pair (i, j) multiplies rows i*F+j and j*F+i.
            int f = spec.PlainFields, k = spec.FieldAwareDim;
            var vectors = g.Reshape(inputs[MultiTaskInputs.FieldAwareEmbeddings], -1, f * f, k);
            var pairs = Pairs(f);
            // One gather of both sides (the rows i*F+j, i < j, and j*F+i are all distinct), so its gradient is one gather too.
            var sides = g.Split(g.GatherDistinct(vectors, 1, [.. pairs.Select(q => (long)(q.i * f + q.j)), .. pairs.Select(q => (long)(q.j * f + q.i))]),
                1, [pairs.Length, pairs.Length]);
            var (left, right) = (sides[0], sides[1]);
            // Summed over k as a product with a column of ones: its gradient is a product too, where ReduceSum's broadcast of
            // [B, P, 1] to [B, P, k] ran at a few GB/s (1.9 ms a step).
            var ones = g.Initializer("field_aware.ones", [k, 1], Enumerable.Repeat(1f, k).ToArray());
            var products = g.Reshape(g.MatMul(g.Reshape(g.Mul(left, right), -1, k), ones), -1, pairs.Length);    // [B, P]
            parts.Add(products);
            if (spec.Interactions.HasFlag(FeatureInteractions.FieldAwareLinear)) fieldAwarePairs = products;
        }
        if (spec.Crossed) parts.Add(inputs[MultiTaskInputs.CrossedEmbeddings]);
        wide = pairwiseSum is null && fieldAwarePairs is null ? null : new WideTerms(pairwiseSum, fieldAwarePairs);
        // One concatenation of all the blocks (one after each block copied the growing input again, and split its gradient).
        return parts.Count == 1 ? parts[0] : g.Concat(1, [.. parts]);
    }

    // [f * f, P]: column p is 1 at row i * f + j of pair p = (i, j) (a Gram matrix's entry, flattened), 0 elsewhere.
    private static Value PairSelection(GraphBuilder g, int f)
    {
        var pairs = Pairs(f);
        var selection = new float[f * f * pairs.Length];
        for (int p = 0; p < pairs.Length; p++) selection[(pairs[p].i * f + pairs[p].j) * pairs.Length + p] = 1;
        return g.Initializer("pairwise_dot.selection", [f * f, pairs.Length], selection);
    }

    // Every pair of f fields, i < j, in row order.
    private static (int i, int j)[] Pairs(int f) => Enumerable.Range(0, f).SelectMany(i => Enumerable.Range(i + 1, f - i - 1).Select(j => (i, j))).ToArray();

    // 0.5 ((sum_f e_f)^2 - sum_f e_f^2) [B, k]: the pairwise products of the field embeddings, summed over the pairs.
    private Value BiInteraction(GraphBuilder g, Value embeddings)
    {
        var fields = g.Reshape(embeddings, -1, _spec.InteractionFields, _spec.EmbeddingDim);                  // [B, F, k]
        var sum = g.ReduceSum(fields, [1]);                                                                 // [B, k]
        var squares = g.ReduceSum(g.Mul(fields, fields), [1]);                                              // [B, k]
        return g.Mul(g.Sub(g.Mul(sum, sum), squares), g.Scalar(0.5));
    }
}
