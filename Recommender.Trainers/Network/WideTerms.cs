using Recommender.Trainers.Graph;

namespace Recommender.Trainers.Network;

/// <summary>
/// The input block's terms that join the logits directly rather than the MLPs' input: DeepFM's pairwise sum [B, 1] and
/// the field-aware pair products [B, P] (<see cref="FeatureInteractions.FieldAwareLinear"/>); null where not asked for.
/// </summary>
public sealed record WideTerms(Value? PairwiseSum, Value? FieldAwarePairs);
