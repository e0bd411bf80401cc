using System.Diagnostics;
using System.Text.Json.Nodes;
using Recommender.Pipeline.Featurization;
using Recommender.Trainers.Network;
using Recommender.Trainers.Runtime;
using Recommender.Trainers.Training;

namespace Recommender.Pipeline.Benchmarks;

/// <summary>
/// <c>bench train</c>: one epoch of the reference network over the featurized default training split (data
/// already loaded), end to end through the training loop: shuffle, batch fill, gather, train step, sparse
/// update; then the validation CTR AUC of that model.
/// </summary>
public static class TrainBenchmark
{
    /// <summary>Runs the benchmark.</summary>
    public static JsonObject Run(FeatureMatrix train, FeatureMatrix valid, FeaturizedSchema features, int threads, ExecutionDevice device,
        MultiTaskArchitecture architecture = MultiTaskArchitecture.SharedBottom, FeatureInteractions interactions = FeatureInteractions.None)
    {
        // The reference shapes (and tools/torch-reference's): ESMM's nets are the bottom and the tower stacked, MMoE's experts the bottom's shape;
        // by default the plain MLP over the embeddings (no interaction blocks), as the reference implements it.
        var options = new MultiTaskTrainerOptions
        {
            Architecture = architecture, Epochs = 1, BatchSize = MultiTaskTrainerOptions.Defaults.BatchSize, EmbeddingDim = 16, Bottom = [256, 128], Tower = [64],
            Expert = [256, 128], Experts = 4, Threads = threads, Device = device, Patience = 0, Interactions = interactions,
        };
        var clock = Stopwatch.StartNew();
        var model = MultiTaskTrainer.Train(train, valid, features.Categorical.Select(c => c.Cardinality + 1).ToArray(), options);
        clock.Stop();
        var epoch = model.History[0];
        // The same-run reference: the machine's own SGEMM on the same threads.
        double sgemm = MachineInfo.SgemmGflops(threads);
        var shares = MachineInfo.DefinedRowShares(model.Spec.Tasks, architecture == MultiTaskArchitecture.Esmm, train);
        double achieved = epoch.SamplesPerSecond * MachineInfo.TrainFlopsPerSample(model.Compiled.Definition, shares) / 1e9;
        // Inference as bench score measures it: the exported network (tables inside) on in-memory batches of 8192.
        double inferenceRows = InferenceThroughput.Measure(model.Export(features.Categorical.Select(c => c.Name).ToArray()), new RuntimeOptions { Device = device, Threads = threads });
        return new JsonObject
        {
            ["benchmark"] = "train",
            ["inference_rows_per_s"] = Math.Round(inferenceRows),
            ["device"] = device.ToString(),
            ["threads"] = threads, ["batch"] = options.BatchSize, ["rows"] = train.Rows,
            ["network"] = architecture switch
            {
                MultiTaskArchitecture.Esmm => "ESMM, nets 256-128-64 x3, 16 fields x 16",
                MultiTaskArchitecture.Mmoe => "MMoE, 4 experts 256-128, towers 64 x3, 16 fields x 16",
                _ => $"{architecture} bottom 256-128, towers 64 x3, 16 fields x 16",
            } + (interactions == FeatureInteractions.None ? "" : $", interactions {interactions}"),
            ["samples_per_s"] = Math.Round(epoch.SamplesPerSecond),
            ["dense_parameters"] = model.Compiled.Definition.Parameters.Sum(p => p.Size),
            ["epoch_seconds"] = Math.Round(epoch.Seconds, 2),
            ["validation_ctr_auc"] = Math.Round(epoch.Validation["ctr.auc"], 4),
            ["validation_cvr_auc"] = Math.Round(epoch.Validation.GetValueOrDefault("cvr.auc", double.NaN), 4),
            ["seconds_with_validation"] = Math.Round(clock.Elapsed.TotalSeconds, 2),
            ["cpu"] = MachineInfo.CpuModel(),
            ["sgemm_gflops"] = Math.Round(sgemm, 1),
            ["epoch_dense_gflops"] = Math.Round(achieved, 1),
            ["epoch_over_sgemm"] = Math.Round(achieved / sgemm, 3),
            // The tasks whose towers (and MMoE gates) run on their defined rows in training, with the share of rows they run on.
            ["towers_on_defined_rows"] = new JsonObject(shares.Select(s => KeyValuePair.Create(s.Key, (JsonNode?)Math.Round(s.Value, 5)))),
        };
    }
}
