using Recommender.Trainers.Training;

namespace Recommender.Trainers.Network;

/// <summary>
/// Entire Space Multi-task Model (Ma et al., SIGIR 2018): CTR and CVR towers share the embeddings and both
/// see every impression; pCTCVR = pCTR x pCVR. The loss supervises CTR with clicks and CTCVR with
/// conversions over all impressions, so CVR is never fit on clicked rows alone (no sample-selection bias).
/// <code>
///   [embeddings | dense] -> tower_ctr -> pCTR ----x---> pCTCVR  (loss: conversion, all rows)
///                        -> tower_cvr -> pCVR ---/
///                        -> tower_rating -> rating
/// </code>
/// </summary>
public static class Esmm
{
    /// <summary>The model: parameters, inputs and the forward function.</summary>
    public static ModelDefinition Create(MultiTaskSpec spec, IReadOnlyList<int> tower)
    {
        var init = new ParameterInit(spec.Seed);
        var towers = new[] { "ctr", "cvr", "rating" }.Select(t => new Mlp(init, $"tower_{t}", spec.InputSize, tower, output: 1)).ToArray();
        return spec.Define(init, (g, inputs, p, training) =>
        {
            var x = TaskHeads.Input(g, spec, inputs);
            return TaskHeads.Build(g, spec, inputs, p, towers[0].Forward(g, x, p), towers[1].Forward(g, x, p), towers[2].Forward(g, x, p), training, esmm: true);
        });
    }
}
