using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Recommender.Pipeline.Data.Synthetic;
using Recommender.Pipeline.Jobs;
using Recommender.Pipeline.Lifecycle;
using Recommender.Pipeline.Scoring;
using Recommender.Pipeline.Serving;
using Recommender.Trainers.Network;
using Recommender.Trainers.Runtime;
using Recommender.Trainers.Training;

namespace Recommender.Pipeline.Benchmarks;

/// <summary>
/// <c>bench serve</c>: the service on loopback (Kestrel, impression log on), driven from the same process by
/// closed-loop clients for a bounded time per case: (a) /v1/score with 1 row, (b) with 100 rows, (c) /v1/recommend
/// k=10 over 500 given candidates, and (a) again with micro-batching off. The floor of each case is the same work
/// scored in process on one thread (featurization and network, no HTTP), so a figure read on another CPU still
/// says how close the service gets to what the model itself allows.
/// </summary>
public static class ServeBenchmark
{
    /// <summary>Runs it; the data and a SharedBottom bundle (defaults, one epoch) are made in <paramref name="work"/> when missing.</summary>
    public static JsonObject Run(string work, int clients, double seconds, int threads, bool impressionLog, bool compiled, Action<string> log)
    {
        string data = Path.Combine(work, "data"), registry = Path.Combine(work, "registry");
        if (!File.Exists(Path.Combine(data, "train.csv")))
        {
            log("generating 250,000 rows");
            SyntheticGenerator.Generate(SyntheticOptions.Plain(250_000), data);
        }
        if (!ModelRegistry.IsRegistry(registry))
        {
            log("training the bundle (SharedBottom, defaults, one epoch)");
            TrainingJob.Run(TrainingData.FromDirectory(data), new MultiTaskTrainerOptions { Threads = threads, Device = ExecutionDevice.Cpu, Interactions = FeatureInteractions.None }, registry, log);
        }
        var bundle = ModelBundle.Open(registry);
        var catalog = CandidateCatalog.Load(bundle.PathOf(CandidateCatalog.FileName));
        var lines = File.ReadLines(Path.Combine(data, "test.csv")).Take(1001).ToArray();
        var header = lines[0].Split(',');
        var dense = bundle.Metadata.Schema.Dense.ToHashSet();
        var labels = new[] { bundle.Metadata.Schema.Click, bundle.Metadata.Schema.Conversion, bundle.Metadata.Schema.Rating, "timestamp" };
        string Row(string line)
        {
            var v = line.Split(',');
            return "{" + string.Join(',', header.Select((h, i) => (h, x: v[i])).Where(p => !labels.Contains(p.h))
                .Select(p => dense.Contains(p.h) ? $"\"{p.h}\":{(p.x.Length == 0 ? "null" : p.x)}" : $"\"{p.h}\":\"{p.x}\"")) + "}";
        }
        var rows = lines.Skip(1).Select(Row).ToArray();
        string Score(int n, int at) => "{\"rows\":[" + string.Join(',', Enumerable.Range(at, n).Select(i => rows[i % rows.Length])) + "]}";
        var single = Enumerable.Range(0, 64).Select(i => Score(1, i)).ToArray();
        var hundred = Enumerable.Range(0, 8).Select(i => Score(100, i * 100)).ToArray();
        var rng = new Random(5);
        var recommend = Enumerable.Range(0, 16).Select(i => JsonSerializer.Serialize(new
        {
            user = catalog.Users[rng.Next(catalog.Users.Count)], k = 10, candidates = Enumerable.Range(0, 500).Select(_ => catalog.Items[rng.Next(catalog.Items.Count)]).Distinct().ToArray(),
        })).ToArray();

        var result = new JsonObject
        {
            ["benchmark"] = "serve", ["cpu"] = MachineInfo.CpuModel(), ["cores"] = Environment.ProcessorCount, ["clients"] = clients, ["seconds_per_case"] = seconds,
            ["onnx_threads"] = threads, ["impression_log"] = impressionLog, ["featurization"] = compiled ? "compiled" : "ML.NET engine", ["model"] = $"{bundle.Metadata.Architecture}, {bundle.Metadata.OnnxIdInputs.Count} fields, dense {bundle.Metadata.DenseSize}",
        };
        var floor = Floors(bundle, catalog, rows, recommend, compiled);
        var cases = new[]
        {
            ("score_1_row", "/v1/score", single, true), ("score_100_rows", "/v1/score", hundred, true),
            ("recommend_k10_500_candidates", "/v1/recommend", recommend, true), ("score_1_row_batching_off", "/v1/score", single, false),
        };
        // One unmeasured pass first, so that no case is measured while the process is still compiling what all share;
        // then three rounds through all cases, their requests pooled per case, so that no case owes its figure to its
        // place in the order (measured: the first case after another ran up to 1.5 times slower).
        log("warm-up pass");
        foreach (var (name, path, bodies, batching) in cases)
            Drive(registry, impressionLog ? Path.Combine(work, $"events-{name}.sqlite") : null, path, bodies, batching, clients, 1, threads, compiled);
        const int rounds = 3;
        var measured = cases.ToDictionary(c => c.Item1, _ => (Latencies: new List<double>(), Errors: 0L, RowsSum: 0.0, Runs: 0.0));
        for (int round = 0; round < rounds; round++)
        {
            foreach (var (name, path, bodies, batching) in cases)
            {
                log($"{name}: round {round + 1} of {rounds}, {clients} clients, {seconds / rounds:F1} s");
                var (latencies, errors, rowsSum, runs) = Drive(registry, impressionLog ? Path.Combine(work, $"events-{name}.sqlite") : null, path, bodies, batching, clients, seconds / rounds, threads, compiled);
                var m = measured[name];
                m.Latencies.AddRange(latencies);
                measured[name] = (m.Latencies, m.Errors + errors, m.RowsSum + rowsSum, m.Runs + runs);
            }
        }
        foreach (var (name, _, _, _) in cases)
        {
            var (latencies, errors, rowsSum, runs) = measured[name];
            var all = latencies.Order().ToArray();
            double At(double q) => all.Length == 0 ? double.NaN : all[Math.Min(all.Length - 1, (int)Math.Ceiling(q * all.Length) - 1)];
            string floorKey = name.StartsWith("score_100") ? "score_100_rows" : name.StartsWith("recommend") ? "recommend_500" : "score_1_row";
            double qps = all.Length / seconds;
            result[name] = new JsonObject
            {
                ["requests"] = all.Length, ["qps"] = Math.Round(qps, 1), ["p50_ms"] = Math.Round(At(0.5), 3), ["p95_ms"] = Math.Round(At(0.95), 3),
                ["p99_ms"] = Math.Round(At(0.99), 3), ["errors"] = errors, ["mean_rows_per_onnx_run"] = Math.Round(rowsSum / Math.Max(1, runs), 1),
                ["floor_requests_per_s"] = Math.Round(floor[floorKey]), ["ratio_to_floor"] = Math.Round(qps / floor[floorKey], 3),
            };
        }
        result["batching_speedup_score_1_row"] = Math.Round(result["score_1_row"]!["qps"]!.GetValue<double>() / result["score_1_row_batching_off"]!["qps"]!.GetValue<double>(), 2);
        return result;
    }

    // The same work in process on one thread: requests per second the model itself allows.
    private static Dictionary<string, double> Floors(ModelBundle bundle, CandidateCatalog catalog, string[] rows, string[] recommend, bool compiled)
    {
        var options = new ServingOptions { Model = bundle.Directory, Threads = 1, Device = ExecutionDevice.Cpu, MicroBatching = false };
        using var model = ServedModel.Load(bundle.Directory, options);
        using var scorer = BundleScorer.Open(bundle, 1024, new RuntimeOptions { Device = ExecutionDevice.Cpu, Threads = 1 }, compiled);
        double Rate(Func<Data.TableChunk> make)
        {
            var chunks = Enumerable.Range(0, 8).Select(_ => make()).ToArray();
            for (int i = 0; i < 20; i++) scorer.Predict(chunks[i % 8], model.Columns.TextColumns, model.Columns.NumberColumns);
            var clock = Stopwatch.StartNew();
            int n = 0;
            while (clock.Elapsed.TotalSeconds < 2) { scorer.Predict(chunks[n % 8], model.Columns.TextColumns, model.Columns.NumberColumns); n++; }
            return n / clock.Elapsed.TotalSeconds;
        }
        int at = 0;
        Data.TableChunk Parse(int count)
        {
            using var doc = JsonDocument.Parse("[" + string.Join(',', Enumerable.Range(at, count).Select(i => rows[i % rows.Length])) + "]");
            at += count;
            return model.Columns.Parse(doc.RootElement, "rows");
        }
        int r = 0;
        return new Dictionary<string, double>
        {
            ["score_1_row"] = Rate(() => Parse(1)),
            ["score_100_rows"] = Rate(() => Parse(100)),
            ["recommend_500"] = Rate(() =>
            {
                using var doc = JsonDocument.Parse(recommend[r++ % recommend.Length]);
                var items = doc.RootElement.GetProperty("candidates").EnumerateArray().Select(x => x.GetString()!).ToList();
                return model.CandidateRows(doc.RootElement.GetProperty("user").GetString()!, items, null);
            }),
        };
    }

    private static (List<double> Latencies, long Errors, double RowsSum, double Runs) Drive(string registry, string? logPath, string path, string[] bodies, bool batching, int clients, double seconds, int threads, bool compiled)
    {
        if (logPath is not null) foreach (var f in new[] { logPath, logPath + "-wal", logPath + "-shm" }) File.Delete(f);
        var options = new ServingOptions { Model = registry, LogPath = logPath, Threads = threads, Device = ExecutionDevice.Cpu, MicroBatching = batching, MaxConcurrentRequests = 4096, CompiledFeaturization = compiled };
        using var host = ServingApp.CreateHostBuilder(options, "http://127.0.0.1:0").ConfigureLogging(l => l.SetMinimumLevel(LogLevel.Warning)).Build();
        host.Start();
        try
        {
            string address = ServingApp.Addresses(host).Single();
            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = clients * 2, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
            { BaseAddress = new Uri(address), Timeout = TimeSpan.FromSeconds(30) };
            var contents = bodies.Select(b => Encoding.UTF8.GetBytes(b)).ToArray();
            var latencies = new List<double>[clients];
            long errors = 0;
            var stopAt = Stopwatch.StartNew();
            double warmup = Math.Min(2, seconds / 4);
            var tasks = Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
            {
                var mine = latencies[c] = new List<double>(100_000);
                int i = c;
                while (stopAt.Elapsed.TotalSeconds < warmup + seconds)
                {
                    var content = new ByteArrayContent(contents[i++ % contents.Length]);
                    content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
                    long start = Stopwatch.GetTimestamp();
                    bool ok;
                    try
                    {
                        using var response = await http.PostAsync(path, content);
                        await response.Content.ReadAsByteArrayAsync();
                        ok = response.IsSuccessStatusCode;
                    }
                    catch (HttpRequestException) { ok = false; }
                    double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                    if (stopAt.Elapsed.TotalSeconds < warmup) continue;
                    if (!ok) Interlocked.Increment(ref errors);
                    mine.Add(ms);
                }
            })).ToArray();
            Task.WaitAll(tasks);
            var batchRows = host.Services.GetRequiredService<ServingMetrics>().BatchRows;
            return (latencies.SelectMany(l => l).ToList(), errors, batchRows.Sum, batchRows.Count);
        }
        finally { host.StopAsync().GetAwaiter().GetResult(); }
    }
}
