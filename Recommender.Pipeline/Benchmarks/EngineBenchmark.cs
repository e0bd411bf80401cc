using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.ML;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Data.Synthetic;
using Recommender.Pipeline.Featurization;
using Recommender.Trainers.Compilation;
using Recommender.Trainers.Embeddings;
using Recommender.Trainers.Network;
using Recommender.Trainers.Runtime;
using Recommender.Trainers.Training;

namespace Recommender.Pipeline.Benchmarks;

/// <summary>
/// <c>bench engine</c>: train steps of the reference network (16 fields x 16-wide embeddings with the
/// vocabularies of the default generated data, 8 dense, bottom 256-128, three towers of 64) on real
/// featurized batches, timing the ONNX Runtime part and the host part (batch fill, gather, sparse update)
/// separately, and counting managed allocations.
/// </summary>
public static class EngineBenchmark
{
    /// <summary>Loads (or generates) the data and featurizes the training split, and the validation split when asked.</summary>
    public static (FeatureMatrix Train, FeatureMatrix? Valid, FeaturizedSchema Features, double Seconds) PrepareDefaultSplits(string? dataDirectory, long rows, Action<string> log, bool withValidation)
    {
        var clock = Stopwatch.StartNew();
        string dir = dataDirectory ?? Path.Combine(Path.GetTempPath(), $"rec-bench-{rows}-42");
        if (!File.Exists(Path.Combine(dir, "train.csv")))
        {
            log($"generating {rows:N0} rows into {dir}");
            SyntheticGenerator.Generate(SyntheticOptions.Plain(rows), dir);
        }
        var schema = DatasetSchema.Load(Path.Combine(dir, "schema.json"));
        Table[] others = withValidation ? [DataLoader.Load(schema, Path.Combine(dir, "valid.csv"))] : [];
        var data = FeaturizedTables.Build(new MLContext(seed: 1), DataLoader.Load(schema, Path.Combine(dir, "train.csv")), others);
        return (data.Train, withValidation ? data.Others[0] : null, data.Features, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Runs the benchmark and returns its figures.</summary>
    public static JsonObject Run(FeatureMatrix data, FeaturizedSchema features, int batch, int threads, int steps, ExecutionDevice device, int hostThreads = 0, bool profile = false,
        MultiTaskArchitecture architecture = MultiTaskArchitecture.SharedBottom)
    {
        var spec = new MultiTaskSpec
        {
            FieldRows = features.Categorical.Select(c => c.Cardinality + 1).ToArray(),
            EmbeddingDim = 16, DenseSize = features.DenseSize, Seed = 1,
            Tasks = TaskList.DefaultChain("Click", "Conversion", "Rating", 1, 1, MultiTaskTrainerOptions.Defaults.RatingWeight, 1, 5),
        };
        // The shapes of bench train and tools/torch-reference: ESMM's nets are the bottom and the tower stacked, MMoE's experts the bottom's shape.
        var compiled = TrainStepCompiler.Compile(MultiTaskTrainer.Define(new MultiTaskTrainerOptions
        {
            Architecture = architecture, Bottom = [256, 128], Tower = [64], Expert = [256, 128], Experts = 4,
        }, spec));
        if (batch > data.Rows) throw new ArgumentException($"--batch must be at most the data's {data.Rows:N0} rows, got {batch:N0}");
        using var runner = new TrainStepRunner(compiled, batch, new RuntimeOptions { Device = device, Threads = threads });
        using var embeddings = new FieldEmbeddings(spec.FieldRows, spec.EmbeddingDim, seed: 1, threads: hostThreads > 0 ? hostThreads : threads);
        var optimizer = new SparseAdagrad();
        var filler = new BatchFiller(data, spec.Tasks, batch, embeddings.Workers);
        var order = new int[data.Rows];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        new Random(1).Shuffle(order);

        int cursor = 0;
        long hostTicks = 0, ortTicks = 0, fillTicks = 0, gatherTicks = 0, updateTicks = 0;
        void Step() => StepOf(runner);
        void StepOf(TrainStepRunner runner)
        {
            if (cursor + batch > order.Length) cursor = 0;
            long t0 = Stopwatch.GetTimestamp();
            filler.Fill(runner, order, cursor);
            long tf = Stopwatch.GetTimestamp();
            embeddings.Gather(filler.Ids, batch, runner.Input(MultiTaskInputs.Embeddings));
            long t1 = Stopwatch.GetTimestamp();
            runner.Step(0.001f);
            long t2 = Stopwatch.GetTimestamp();
            embeddings.Update(filler.Ids, batch, runner.EmbeddingGradient(MultiTaskInputs.Embeddings), optimizer, 0.05f, runner.Steps);
            long t3 = Stopwatch.GetTimestamp();
            hostTicks += (t1 - t0) + (t3 - t2);
            ortTicks += t2 - t1;
            fillTicks += tf - t0; gatherTicks += t1 - tf; updateTicks += t3 - t2;
            cursor += batch;
        }
        for (int i = 0; i < 5; i++) Step();
        // The machine is shared: measure in windows and report the median window, not one noisy run.
        const int windows = 5;
        int perWindow = Math.Max(1, steps / windows);
        var results = new List<(double SamplesPerS, double OrtMs, double HostMs, double Fill, double Gather, double Update, double Optimizer)>();
        long bytes = 0;
        for (int w = 0; w < windows; w++)
        {
            hostTicks = ortTicks = fillTicks = gatherTicks = updateTicks = 0;
            long allocated = GC.GetTotalAllocatedBytes(precise: true), optimizerTicks = runner.OptimizerTicks;
            var wall = Stopwatch.StartNew();
            for (int i = 0; i < perWindow; i++) Step();
            wall.Stop();
            bytes += GC.GetTotalAllocatedBytes(precise: true) - allocated;
            double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency / perWindow;
            results.Add((perWindow * (double)batch / wall.Elapsed.TotalSeconds, Ms(ortTicks), Ms(hostTicks), Ms(fillTicks), Ms(gatherTicks), Ms(updateTicks), Ms(runner.OptimizerTicks - optimizerTicks)));
        }
        var median = results.OrderBy(r => r.SamplesPerS).ElementAt(windows / 2);
        double ortMs = median.OrtMs, hostMs = median.HostMs;
        // The same-run reference: the machine's own SGEMM on the same threads; the ratio is what compares across CPUs.
        double sgemm = MachineInfo.SgemmGflops(threads);
        var shares = MachineInfo.DefinedRowShares(spec.Tasks, architecture == MultiTaskArchitecture.Esmm, data);
        double achieved = median.SamplesPerS * MachineInfo.TrainFlopsPerSample(compiled.Definition, shares) / 1e9;
        steps = perWindow * windows;
        var result = new JsonObject
        {
            ["benchmark"] = "engine",
            ["device"] = runner.Device.ToString(),
            ["batch"] = batch, ["threads"] = threads, ["host_threads"] = embeddings.Workers.Workers, ["steps"] = steps,
            ["fields"] = spec.FieldRows.Count, ["embedding_dim"] = spec.EmbeddingDim, ["dense"] = spec.DenseSize,
            ["embedding_rows"] = spec.FieldRows.Sum(),
            ["field_rows"] = new JsonArray(spec.FieldRows.Select(r => (JsonNode)r).ToArray()), ["network"] = $"{architecture}: 256-128 (ESMM: 256-128-64 per task; MMoE: 4 experts), towers 64 x3",
            ["samples_per_s"] = Math.Round(median.SamplesPerS),
            ["samples_per_s_windows"] = new JsonArray(results.Select(r => (JsonNode)Math.Round(r.SamplesPerS)).ToArray()),
            // The train step: ONNX Runtime's forward and backward, then (on the CPU) the host's dense optimizer pass.
            ["ort_ms_per_step"] = Math.Round(ortMs - median.Optimizer, 3),
            ["dense_optimizer_ms_per_step"] = Math.Round(median.Optimizer, 3),
            ["host_ms_per_step"] = Math.Round(hostMs, 3),
            ["host_share"] = Math.Round((hostMs + median.Optimizer) / (hostMs + ortMs), 4),
            ["managed_bytes_per_step"] = bytes / steps,
            ["host_ms_breakdown"] = new JsonObject
            {
                ["fill"] = Math.Round(median.Fill, 3),
                ["gather"] = Math.Round(median.Gather, 3),
                ["sparse_update"] = Math.Round(median.Update, 3),
            },
            ["final_loss"] = Math.Round(runner.Loss, 5),
            ["cpu"] = MachineInfo.CpuModel(),
            ["sgemm_gflops"] = Math.Round(sgemm, 1),
            ["step_dense_gflops"] = Math.Round(achieved, 1),
            ["step_over_sgemm"] = Math.Round(achieved / sgemm, 3),
            // The tasks whose towers (and MMoE gates) run on their defined rows in training, with the share of rows they run on.
            ["towers_on_defined_rows"] = new JsonObject(shares.Select(s => KeyValuePair.Create(s.Key, (JsonNode?)Math.Round(s.Value, 5)))),
        };
        if (profile)
        {
            // A second session of the same graph with ONNX Runtime's profiler on, after the measurement (profiling slows it).
            const int profiled = 20;
            using var traced = new TrainStepRunner(compiled, batch, new RuntimeOptions { Device = device, Threads = threads, ProfilePrefix = Path.Combine(Path.GetTempPath(), $"rec-step-profile-{Environment.ProcessId}") });
            for (int i = 0; i < profiled; i++) StepOf(traced);
            string file = traced.EndProfiling();
            try { result["profile"] = StepProfile.Summarize(file, profiled, sgemm); }
            finally { File.Delete(file); }
        }
        return result;
    }
}
