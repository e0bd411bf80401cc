// The GPU check (tools/gpu-check/README.md): CUDA vs CPU parity of 20 train steps with TF32 off,
// train-step throughput of the reference network at batch 2048 / 8192 / 32768, and scoring rows/s.
// Prints one JSON document (again after each stage); exits 3 when CUDA cannot start, 1 when a stage failed.
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Recommender.Trainers.Compilation;
using Recommender.Trainers.Embeddings;
using Recommender.Trainers.Network;
using Recommender.Trainers.Runtime;
using Recommender.Trainers.Training;

// Rows per field of the reference network: the featurized vocabularies (+1 out-of-vocabulary row) of the
// plain-law generated data (generate --rows 1000000 --seed 42 --crosses false --history 0), as `bench engine` prints them
// in field_rows.
int[] fieldRows = [49675, 19835, 8, 4, 401, 21, 6, 301, 1528, 2363, 11, 21, 25, 8, 5, 6];
const int Dense = 8, Dim = 16, PoolRows = 65536;
int cores = Environment.ProcessorCount;
var report = new JsonObject { ["machine_cores"] = cores, ["ort_version"] = typeof(Microsoft.ML.OnnxRuntime.InferenceSession).Assembly.GetName().Version?.ToString() };
int outIndex = Array.IndexOf(args, "--out");
string? outPath = outIndex >= 0 && outIndex + 1 < args.Length ? args[outIndex + 1] : null;
// --dry-run: every "cuda" stage runs on the CPU, with small sizes, to test the check without a GPU.
bool dryRun = args.Contains("--dry-run");
var Gpu = dryRun ? ExecutionDevice.Cpu : ExecutionDevice.Cuda;
void Emit()
{
    string json = report.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    Console.WriteLine(json);
    if (outPath is not null) Recommender.Trainers.AtomicFile.WriteAllText(outPath, json);
}

var spec = new MultiTaskSpec { FieldRows = fieldRows, EmbeddingDim = Dim, DenseSize = Dense, Seed = 1 };
var model = SharedBottom.Create(spec, [256, 128], [64]);
var compiled = TrainStepCompiler.Compile(model);
report["train_graph_ops"] = new JsonArray(compiled.OpTypes.Order().Select(o => (JsonNode)o).ToArray());

// A pool of synthetic rows: Zipf ids per field, uniform dense features, and labels drawn from a logistic
// model of both (per-id effects, strongest for the first two fields), so a trained model has something to
// find: CTR about 4%, CVR about 6% of clicks.
var rng = new Random(7);
var ids = new int[PoolRows * fieldRows.Length];
var dense = new float[PoolRows * Dense];
var labels = new float[PoolRows * 5];
var cdfs = fieldRows.Select(rows => { var c = new double[rows - 1]; double s = 0; for (int i = 0; i < c.Length; i++) c[i] = s += 1 / Math.Pow(i + 1, 1.05); return c; }).ToArray();
double Normal() => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
var effects = fieldRows.Select((rows, f) => Enumerable.Range(0, rows).Select(_ => Normal() * (f < 2 ? 0.8 : 0.2)).ToArray()).ToArray();
var denseWeights = Enumerable.Range(0, Dense).Select(_ => Normal() * 0.5).ToArray();
static double Sigmoid(double z) => 1 / (1 + Math.Exp(-z));
for (int r = 0; r < PoolRows; r++)
{
    double logit = -5.0;
    for (int f = 0; f < fieldRows.Length; f++)
    {
        var c = cdfs[f];
        int k = Array.BinarySearch(c, rng.NextDouble() * c[^1]);
        int id = 1 + Math.Min(k < 0 ? ~k : k, c.Length - 1);
        ids[r * fieldRows.Length + f] = id;
        logit += effects[f][id];
    }
    for (int d = 0; d < Dense; d++) { dense[r * Dense + d] = (float)(rng.NextDouble() * 2 - 1); logit += denseWeights[d] * dense[r * Dense + d]; }
    float click = rng.NextDouble() < Sigmoid(logit) ? 1 : 0;
    float conversion = click == 1 && rng.NextDouble() < Sigmoid(-3 + effects[1][ids[r * fieldRows.Length + 1]]) ? 1 : 0;
    labels[r * 5 + 0] = click; labels[r * 5 + 1] = conversion;
    labels[r * 5 + 2] = conversion == 1 ? rng.Next(1, 6) : 0; labels[r * 5 + 3] = 1; labels[r * 5 + 4] = conversion;
}
report["pool"] = new JsonObject { ["rows"] = PoolRows, ["ctr"] = Math.Round(Enumerable.Range(0, PoolRows).Average(r => labels[r * 5]), 4) };

void Fill(TrainStepRunner runner, int[] batchIds, int start)
{
    int b = runner.BatchSize, f = fieldRows.Length;
    for (int i = 0; i < b; i++)
    {
        int r = (start + i) % PoolRows;
        Array.Copy(ids, r * f, batchIds, i * f, f);
        Array.Copy(dense, r * Dense, runner.Input(MultiTaskInputs.Dense), i * Dense, Dense);
        // The default chain's labels: click and conversion always there, the rating where rated.
        var (ctr, cvr, rating) = (spec.Tasks[0], spec.Tasks[1], spec.Tasks[2]);
        runner.Input(MultiTaskInputs.Label(ctr))[i] = labels[r * 5];
        runner.Input(MultiTaskInputs.LabelMask(ctr))[i] = 1;
        runner.Input(MultiTaskInputs.Label(cvr))[i] = labels[r * 5 + 1];
        runner.Input(MultiTaskInputs.LabelMask(cvr))[i] = 1;
        runner.Input(MultiTaskInputs.Label(rating))[i] = labels[r * 5 + 2];
        runner.Input(MultiTaskInputs.LabelMask(rating))[i] = labels[r * 5 + 4];
        runner.Input(MultiTaskInputs.RowMask)[i] = labels[r * 5 + 3];
    }
}

(List<float> Losses, Dictionary<string, float[]> Parameters, float[] Table0, double SamplesPerS, double OrtMs, double HostMs) Train(ExecutionDevice device, int batch, int steps, bool tf32, int warmup)
{
    using var runner = new TrainStepRunner(compiled, batch, new RuntimeOptions { Device = device, Threads = device == ExecutionDevice.Cpu ? cores : 1, AllowTf32 = tf32 });
    if (runner.Device != device) throw new InvalidOperationException($"asked for {device}, got {runner.Device}");
    using var embeddings = new FieldEmbeddings(fieldRows, Dim, seed: 1, threads: Math.Min(cores, fieldRows.Length));
    var optimizer = new SparseAdagrad();
    var batchIds = new int[batch * fieldRows.Length];
    var losses = new List<float>();
    long host = 0, ort = 0;
    var wall = new Stopwatch();
    for (int s = 0; s < warmup + steps; s++)
    {
        if (s == warmup) { host = ort = 0; wall.Restart(); }
        long t0 = Stopwatch.GetTimestamp();
        Fill(runner, batchIds, s * batch);
        embeddings.Gather(batchIds, batch, runner.Input(MultiTaskInputs.Embeddings));
        long t1 = Stopwatch.GetTimestamp();
        runner.Step(0.001f);
        long t2 = Stopwatch.GetTimestamp();
        embeddings.Update(batchIds, batch, runner.EmbeddingGradient(MultiTaskInputs.Embeddings), optimizer, 0.05f, runner.Steps);
        long t3 = Stopwatch.GetTimestamp();
        host += (t1 - t0) + (t3 - t2); ort += t2 - t1;
        if (s >= warmup) losses.Add(runner.Loss);
    }
    wall.Stop();
    double ms(long t) => t * 1000.0 / Stopwatch.Frequency / steps;
    return (losses, runner.Parameters(), embeddings.Tables[0].Weights, steps * (double)batch / wall.Elapsed.TotalSeconds, ms(ort), ms(host));
}

if (dryRun) report["cuda"] = "dry run: CUDA stages ran on the CPU";
else try
{
    using var probe = SessionFactory.Create(compiled.TrainStep, new RuntimeOptions { Device = ExecutionDevice.Cuda }, out _);
    report["cuda"] = "started; session.disable_cpu_ep_fallback=1, so every node of the train step has a CUDA kernel";
}
catch (Exception e)
{
    report["cuda"] = "failed: " + e.Message;
    Emit();
    return 3;
}

// Each stage is independent: one that throws records its error and the run goes on, so a single device
// call reports everything. Exit code: 0 all passed, 1 some stage failed or missed its tolerance.
int failures = 0;
void Stage(string name, Func<JsonObject> run)
{
    var clock = Stopwatch.StartNew();
    JsonObject result;
    try { result = run(); }
    catch (Exception e)
    {
        result = new JsonObject { ["error"] = $"{e.GetType().Name}: {e.Message}", ["at"] = string.Join(" | ", (e.StackTrace ?? "").Split('\n').Take(4).Select(l => l.Trim())) };
    }
    if (result.ContainsKey("error") || result["pass"]?.GetValue<bool>() == false) failures++;
    result["stage_seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1);
    report[name] = result;
    Console.Error.WriteLine($"{name}: {(result.ContainsKey("error") ? "error" : "done")} in {clock.Elapsed.TotalSeconds:F1} s");
    Emit();
}

// 1. Parity: the same 20 steps (same batches, same host embedding updates) on the CPU and on CUDA, TF32 off.
Dictionary<string, float[]> trainedParameters = model.Parameters.ToDictionary(p => p.Name, p => p.Initial);
Stage("parity", () =>
{
    const int parityBatch = 2048, paritySteps = 20;
    var cpu = Train(ExecutionDevice.Cpu, parityBatch, paritySteps, tf32: false, warmup: 0);
    var gpu = Train(Gpu, parityBatch, paritySteps, tf32: false, warmup: 0);
    trainedParameters = gpu.Parameters;
    double lossRel = cpu.Losses.Zip(gpu.Losses, (a, b) => Math.Abs(a - b) / Math.Max(Math.Abs(a), 1e-6)).Max();
    double paramAbs = cpu.Parameters.Keys.Max(k => cpu.Parameters[k].Zip(gpu.Parameters[k], (a, b) => Math.Abs(a - b)).Max());
    double tableAbs = cpu.Table0.Zip(gpu.Table0, (a, b) => Math.Abs(a - b)).Max();
    const double lossTolerance = 1e-3, paramTolerance = 1e-3;
    return new JsonObject
    {
        ["steps"] = paritySteps, ["batch"] = parityBatch, ["tf32"] = false,
        ["cpu_losses"] = new JsonArray(cpu.Losses.Select(l => (JsonNode)Math.Round(l, 6)).ToArray()),
        ["cuda_losses"] = new JsonArray(gpu.Losses.Select(l => (JsonNode)Math.Round(l, 6)).ToArray()),
        ["max_loss_relative_diff"] = lossRel, ["max_dense_parameter_abs_diff"] = paramAbs, ["max_user_embedding_abs_diff"] = tableAbs,
        ["tolerance"] = $"loss relative {lossTolerance}, parameters absolute {paramTolerance}",
        ["pass"] = lossRel <= lossTolerance && paramAbs <= paramTolerance && tableAbs <= paramTolerance,
    };
});

// 2. Throughput of the reference network.
Stage("train_throughput", () =>
{
    var throughput = new JsonArray();
    foreach (int batch in dryRun ? new[] { 2048 } : new[] { 2048, 8192, 32768 })
    {
        var r = Train(Gpu, batch, steps: batch >= 32768 ? 20 : 40, tf32: true, warmup: 5);
        throughput.Add(new JsonObject { ["device"] = Gpu.ToString().ToLowerInvariant(), ["batch"] = batch, ["samples_per_s"] = Math.Round(r.SamplesPerS), ["ort_ms_per_step"] = Math.Round(r.OrtMs, 3), ["host_ms_per_step"] = Math.Round(r.HostMs, 3) });
    }
    var cpuBaseline = Train(ExecutionDevice.Cpu, 2048, steps: dryRun ? 5 : 20, tf32: false, warmup: 3);
    throughput.Add(new JsonObject { ["device"] = $"cpu ({cores} threads, same machine)", ["batch"] = 2048, ["samples_per_s"] = Math.Round(cpuBaseline.SamplesPerS), ["ort_ms_per_step"] = Math.Round(cpuBaseline.OrtMs, 3), ["host_ms_per_step"] = Math.Round(cpuBaseline.HostMs, 3) });
    return new JsonObject { ["runs"] = throughput };
});

// 3. Scoring: the exported inference graph, batched, with the host gather, on CUDA and on the CPU.
Stage("scoring", () =>
{
    var scoring = new JsonArray();
    foreach (var device in new[] { Gpu, ExecutionDevice.Cpu })
    {
        const int batch = 32768;
        using var inference = new BatchedInference(compiled.Inference(trainedParameters), batch, new RuntimeOptions { Device = device, Threads = device == ExecutionDevice.Cpu ? cores : 1 });
        using var embeddings = new FieldEmbeddings(fieldRows, Dim, seed: 1, threads: Math.Min(cores, fieldRows.Length));
        var batchIds = new int[batch * fieldRows.Length];
        int batches = device == ExecutionDevice.Cuda ? 30 : dryRun ? 2 : 5;
        var wall = new Stopwatch();
        for (int k = -2; k < batches; k++)
        {
            if (k == 0) wall.Restart();
            for (int i = 0; i < batch; i++)
            {
                int r = (k * batch + i + 10 * PoolRows) % PoolRows;
                Array.Copy(ids, r * fieldRows.Length, batchIds, i * fieldRows.Length, fieldRows.Length);
                Array.Copy(dense, r * Dense, inference.Input(MultiTaskInputs.Dense), i * Dense, Dense);
            }
            embeddings.Gather(batchIds, batch, inference.Input(MultiTaskInputs.Embeddings));
            inference.Run();
        }
        scoring.Add(new JsonObject { ["device"] = device.ToString().ToLowerInvariant(), ["batch"] = batch, ["rows_per_s"] = Math.Round(batches * (double)batch / wall.Elapsed.TotalSeconds) });
    }
    return new JsonObject { ["runs"] = scoring };
});

// 4. The product's training loop end to end on CUDA (shuffle, batch fill, gather, step, sparse update,
// per-epoch validation through batched inference, checkpoints read back through device copies), next to the
// same run on the CPU: the validation AUCs must agree (TF32 on, so not bitwise).
Stage("training_loop", () =>
{
    int validRows = PoolRows / 4, trainRows = PoolRows - validRows;
    FeatureMatrix Rows(int start, int count)
    {
        int f = fieldRows.Length;
        float[] Label(int k, bool rated) => Enumerable.Range(start, count).Select(r => rated && labels[r * 5 + 4] == 0 ? float.NaN : labels[r * 5 + k]).ToArray();
        return FeatureMatrix.FromArrays(count, f, Dense, ids.AsSpan(start * f, count * f), dense.AsSpan(start * Dense, count * Dense), [Label(0, false), Label(1, false), Label(2, true)]);
    }
    var trainSet = Rows(0, trainRows);
    var validSet = Rows(trainRows, validRows);
    var loop = new JsonArray();
    var lastAuc = new Dictionary<ExecutionDevice, double>();
    foreach (var device in new[] { Gpu, ExecutionDevice.Cpu })
    {
        string checkpoint = Path.Combine(Path.GetTempPath(), $"gpu-check-{device}-{Environment.ProcessId}.ckpt");
        var options = new MultiTaskTrainerOptions
        {
            Epochs = 2, BatchSize = 2048, EmbeddingDim = Dim, Bottom = [256, 128], Tower = [64], Patience = 0, WarmupSteps = 10,
            Device = device, Threads = device == ExecutionDevice.Cpu ? cores : 1, CheckpointPath = checkpoint, Resume = false,
        };
        var clock = Stopwatch.StartNew();
        var trained = MultiTaskTrainer.Train(trainSet, validSet, fieldRows, options);
        clock.Stop();
        lastAuc[device] = trained.History[^1].Validation["ctr.auc"];
        loop.Add(new JsonObject
        {
            ["device"] = device.ToString().ToLowerInvariant(), ["train_rows"] = trainRows, ["valid_rows"] = validRows, ["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 2),
            ["checkpoint_bytes"] = new FileInfo(checkpoint).Length,
            ["epochs"] = new JsonArray(trained.History.Select(h => (JsonNode)new JsonObject
            {
                ["epoch"] = h.Epoch, ["train_loss"] = Math.Round(h.TrainLoss, 5), ["validation_ctr_auc"] = Math.Round(h.Validation["ctr.auc"], 4),
                ["samples_per_s"] = Math.Round(h.SamplesPerSecond),
            }).ToArray()),
        });
        File.Delete(checkpoint);
    }
    double aucDiff = Math.Abs(lastAuc[Gpu] - lastAuc[ExecutionDevice.Cpu]);
    return new JsonObject { ["runs"] = loop, ["validation_ctr_auc_abs_diff"] = Math.Round(aucDiff, 5), ["tolerance"] = 0.005, ["pass"] = aucDiff <= 0.005 };
});
return failures == 0 ? 0 : 1;
