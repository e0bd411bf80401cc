using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Jobs;
using Recommender.Pipeline.Scoring;
using Recommender.Pipeline.Serving;
using Recommender.Trainers.Runtime;
using Recommender.Trainers.Training;

namespace Recommender.Pipeline.Simulation;

/// <summary>Options of <see cref="ClosedLoop"/>.</summary>
public sealed class SimulationOptions
{
    /// <summary>Days after day 0.</summary>
    public int Days { get; init; } = 14;
    /// <summary>Visits per day.</summary>
    public int VisitsPerDay { get; init; } = 1500;
    /// <summary>Visits of day 0, served at random: the first model's training log.</summary>
    public int InitialVisits { get; init; } = 6000;
    /// <summary>Candidates per visit.</summary>
    public int Candidates { get; init; } = 50;
    /// <summary>Items shown per visit (slots 1..K).</summary>
    public int Slots { get; init; } = 5;
    /// <summary>Exploration of the exploring loop (epsilon-greedy).</summary>
    public double Epsilon { get; init; } = 0.1;
    /// <summary>Users of the world.</summary>
    public int Users { get; init; } = 20_000;
    /// <summary>Items of the world.</summary>
    public int Items { get; init; } = 4_000;
    /// <summary>Share of items that arrive after day 0.</summary>
    public double LateItems { get; init; } = 0.3;
    /// <summary>Seed of the world and of the visits.</summary>
    public ulong Seed { get; init; } = 1;
    /// <summary>CPU threads of training and scoring.</summary>
    public int Threads { get; init; } = 2;
}

/// <summary>
/// The feedback loop in one process, against <see cref="SimulatedWorld"/> as the users: day 0 is served at random and
/// trains the first model; then each day every policy serves the same visits through the serving code path (a
/// served model version, its micro-batcher, the exploration policy), the world answers with clicks and purchases
/// drawn from its true probabilities, and at night the adaptive loops warm-start a new version on that day's log.
/// Policies: (a) the loop with epsilon-greedy exploration, (b) the loop greedy, (c) the day-0 model never updated,
/// (d) popularity (clicks counted in its own log so far), (e) the oracle (the true click probability). Regret is
/// the oracle's expected clicks minus a policy's, from the true probabilities of what each showed.
/// </summary>
public static class ClosedLoop
{
    private sealed class Policy(string name)
    {
        public readonly string Name = name;
        public readonly List<JsonObject> Days = [];
        public double Clicks, Conversions, Value, ExpectedClicks, Impressions;
        public string? Registry;
        public ServedModel? Model;
        public readonly Dictionary<int, int> ClickCounts = new();
        public StringBuilder Log = new();
    }

    /// <summary>Runs it in <paramref name="work"/>; <paramref name="log"/> gets progress lines.</summary>
    public static JsonObject Run(SimulationOptions o, string work, Action<string> log)
    {
        Directory.CreateDirectory(work);
        var world = new SimulatedWorld(o.Users, o.Items, o.Days, o.LateItems, o.Seed);
        var trainer = new MultiTaskTrainerOptions
        {
            Epochs = 1, BatchSize = 256, EmbeddingDim = 8, Bottom = [64], Tower = [32], Threads = o.Threads, Device = ExecutionDevice.Cpu, Seed = (int)(o.Seed % 100_000),
        };
        ServingOptions Serving(string model) => new() { Model = model, Threads = o.Threads, Device = ExecutionDevice.Cpu, MicroBatching = false };

        // Day 0: shown at random, the log every model starts from.
        var random = new Policy("random");
        Serve(world, o, 0, o.InitialVisits, random, (_, _) => ExplorationPolicy.Parse("epsilon:1"), null, (_, _) => 0);
        string day0 = WriteLog(work, "day0", random.Log);
        string initial = Path.Combine(work, "initial");
        if (Directory.Exists(initial)) Directory.Delete(initial, true);
        var first = TrainingJob.Run(new TrainingData(SimulatedWorld.Schema(), day0, null, null), trainer, initial, log);
        log($"day 0: {random.Impressions:N0} impressions at random, CTR {random.Clicks / random.Impressions:P2}; first model {first.Bundle}");

        var exploring = new Policy("a_loop_epsilon");
        var greedy = new Policy("b_loop_greedy");
        var stale = new Policy("c_static");
        var popularity = new Policy("d_popularity");
        var oracle = new Policy("e_oracle");
        foreach (var p in new[] { exploring, greedy })
        {
            p.Registry = Path.Combine(work, p.Name);
            if (Directory.Exists(p.Registry)) Directory.Delete(p.Registry, true);
            CopyVersion(first.Bundle, p.Registry);
        }
        stale.Model = ServedModel.Load(first.Bundle, Serving(first.Bundle));
        // Popularity starts from day 0's clicks.
        foreach (var line in File.ReadLines(day0).Skip(1))
        {
            var f = line.Split(',');
            if (f[24] == "1") popularity.ClickCounts[int.Parse(f[6], CultureInfo.InvariantCulture)] = popularity.ClickCounts.GetValueOrDefault(int.Parse(f[6], CultureInfo.InvariantCulture)) + 1;
        }
        var greedyPolicy = ExplorationPolicy.Greedy;
        var epsilon = ExplorationPolicy.Parse($"epsilon:{o.Epsilon.ToString("R", CultureInfo.InvariantCulture)}");
        for (int day = 1; day <= o.Days; day++)
        {
            foreach (var p in new[] { exploring, greedy })
            {
                p.Model?.Release();
                p.Model = ServedModel.Load(new Lifecycle.ModelRegistry(p.Registry!).PathOf(), Serving(p.Registry!));
                p.Log.Clear();
            }
            Serve(world, o, day, o.VisitsPerDay, exploring, (_, _) => epsilon, exploring.Model);
            Serve(world, o, day, o.VisitsPerDay, greedy, (_, _) => greedyPolicy, greedy.Model);
            Serve(world, o, day, o.VisitsPerDay, stale, (_, _) => greedyPolicy, stale.Model);
            Serve(world, o, day, o.VisitsPerDay, popularity, (_, _) => greedyPolicy, null, (v, item) => popularity.ClickCounts.GetValueOrDefault(item));
            Serve(world, o, day, o.VisitsPerDay, oracle, (_, _) => greedyPolicy, null, (v, item) => world.Truth(v, item, 1).Click);
            // At night the loops learn the day.
            foreach (var p in new[] { exploring, greedy })
            {
                string dayLog = WriteLog(work, $"{p.Name}-day{day}", p.Log);
                TrainingJob.Run(new TrainingData(SimulatedWorld.Schema(), dayLog, null, null), trainer, p.Registry!, _ => { }, warmStart: p.Registry);
            }
            log($"day {day}: " + string.Join(", ", new[] { exploring, greedy, stale, popularity, oracle }.Select(p => $"{p.Name} CTR {p.Days[^1]["ctr"]}")));
        }
        foreach (var p in new[] { exploring, greedy, stale }) p.Model?.Release();

        var policies = new[] { exploring, greedy, stale, popularity, oracle };
        var result = new JsonObject
        {
            ["simulation"] = new JsonObject
            {
                ["days"] = o.Days, ["visits_per_day"] = o.VisitsPerDay, ["initial_visits"] = o.InitialVisits, ["candidates"] = o.Candidates, ["slots"] = o.Slots,
                ["epsilon"] = o.Epsilon, ["users"] = o.Users, ["items"] = o.Items, ["late_items"] = o.LateItems, ["seed"] = o.Seed,
            },
        };
        var cumulative = new JsonObject();
        foreach (var p in policies)
        {
            cumulative[p.Name] = new JsonObject
            {
                ["impressions"] = p.Impressions, ["clicks"] = p.Clicks, ["conversions"] = p.Conversions, ["ctr"] = Math.Round(p.Clicks / p.Impressions, 5),
                ["cvr"] = Math.Round(p.Conversions / Math.Max(1, p.Clicks), 5), ["value"] = Math.Round(p.Value, 2),
                ["expected_clicks"] = Math.Round(p.ExpectedClicks, 2), ["regret_clicks"] = Math.Round(oracle.ExpectedClicks - p.ExpectedClicks, 2),
            };
        }
        result["cumulative"] = cumulative;
        result["per_day"] = new JsonObject(policies.Select(p => KeyValuePair.Create(p.Name, (JsonNode?)new JsonArray(p.Days.Select(d => (JsonNode)d).ToArray()))));
        return result;
    }

    // Serves one day's visits with a policy over a model's scores (or over a given score function), and records.
    private static void Serve(SimulatedWorld world, SimulationOptions o, int day, int visits, Policy p, Func<Visit, double[], ExplorationPolicy> choose,
        ServedModel? model, Func<Visit, int, double>? score = null)
    {
        double clicks = 0, conversions = 0, value = 0, expected = 0, impressions = 0;
        var rng = new Random(unchecked((int)o.Seed * 7919 + day * 31 + p.Name.Length));
        for (int n = 0; n < visits; n++)
        {
            var v = world.Sample(day, n, o.Candidates, o.Slots, o.Seed);
            if (v.Candidates.Length == 0) continue;
            double[] scores;
            if (model is not null)
            {
                // The position-free prediction: every candidate at the reference position 1; the log keeps the real one.
                var rows = new TableChunk(model.Columns.TextColumns.Length, model.Columns.NumberColumns.Length, v.Candidates.Length);
                var header = SimulatedWorld.Header.Split(',');
                for (int r = 0; r < v.Candidates.Length; r++)
                {
                    var fields = world.Row(v, v.Candidates[r], 1, 0, 0).Split(',');
                    for (int c = 0; c < model.Columns.TextColumns.Length; c++) rows.Text[c][r] = fields[Array.IndexOf(header, model.Columns.RequestNames[c])];
                    for (int c = 0; c < model.Columns.NumberColumns.Length; c++)
                    {
                        string raw = fields[Array.IndexOf(header, model.Columns.NumberColumns[c])];
                        rows.Numbers[c][r] = raw.Length == 0 ? float.NaN : float.Parse(raw, CultureInfo.InvariantCulture);
                    }
                }
                rows.Count = v.Candidates.Length;
                var predictions = model.Batcher.ScoreAsync(rows).GetAwaiter().GetResult();
                scores = Enumerable.Range(0, v.Candidates.Length).Select(r => (double)predictions[r * 4]).ToArray();
            }
            else scores = v.Candidates.Select(item => score!(v, item)).ToArray();
            var ids = v.Candidates.Select(i => i.ToString("D9", CultureInfo.InvariantCulture)).ToArray();
            var shown = choose(v, scores).Choose(scores, ids, o.Slots, rng);
            for (int slot = 0; slot < shown.Length; slot++)
            {
                int item = v.Candidates[shown[slot].Index];
                var (pClick, pConversion) = world.Truth(v, item, slot + 1);
                int click = v.ClickDraws[slot] < pClick ? 1 : 0;
                int conversion = click == 1 && v.ConversionDraws[slot] < pConversion ? 1 : 0;
                impressions++;
                clicks += click;
                conversions += conversion;
                value += conversion * world.Price(item);
                expected += pClick;
                p.Log.Append(world.Row(v, item, slot + 1, click, conversion)).Append('\n');
                if (click == 1) p.ClickCounts[item] = p.ClickCounts.GetValueOrDefault(item) + 1;
            }
        }
        p.Impressions += impressions; p.Clicks += clicks; p.Conversions += conversions; p.Value += value; p.ExpectedClicks += expected;
        p.Days.Add(new JsonObject
        {
            ["day"] = day, ["impressions"] = impressions, ["clicks"] = clicks, ["conversions"] = conversions, ["ctr"] = Math.Round(clicks / Math.Max(1, impressions), 5),
            ["cvr"] = Math.Round(conversions / Math.Max(1, clicks), 5), ["value"] = Math.Round(value, 2), ["expected_clicks"] = Math.Round(expected, 2),
        });
    }

    private static string WriteLog(string work, string name, StringBuilder rows)
    {
        string path = Path.Combine(work, name + ".csv");
        AtomicFile.WriteAllText(path, SimulatedWorld.Header + "\n" + rows);
        return path;
    }

    // A registry of its own for a loop, starting from the first model (a new publication of the same files).
    private static void CopyVersion(string version, string registry)
    {
        using var publisher = Lifecycle.BundlePublisher.Begin(registry);
        foreach (var f in Directory.EnumerateFiles(version).Where(f => Path.GetFileName(f) != Lifecycle.BundleManifest.FileName))
            File.Copy(f, Path.Combine(publisher.Staging, Path.GetFileName(f)));
        var manifest = Lifecycle.ModelBundle.Open(version).Manifest;
        publisher.Publish(manifest.Options, manifest.Data);
    }
}
