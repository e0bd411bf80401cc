using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Jobs;
using Recommender.Pipeline.Scoring;
using Recommender.Pipeline.Serving;
using Recommender.Trainers.Evaluation;
using Recommender.Trainers.Network;
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
        public ImpressionLog? Log;
        public string Version = "";
        // Off-policy evaluation of greedy on this policy's own model, from its first slots.
        public readonly List<LoggedDecision> Decisions = [];
        public double GreedyTruth;
    }

    /// <summary>Runs it in <paramref name="work"/>; <paramref name="log"/> gets progress lines.</summary>
    public static JsonObject Run(SimulationOptions o, string work, Action<string> log)
    {
        if (o.Candidates < 1 || o.Candidates > o.Items) throw new ArgumentException($"--candidates must be 1 to the world's {o.Items:N0} items, got {o.Candidates:N0}");
        if (o.Slots < 1 || o.Slots > o.Candidates) throw new ArgumentException($"--slots must be 1 to --candidates ({o.Candidates}), got {o.Slots:N0}");
        Directory.CreateDirectory(work);
        var world = new SimulatedWorld(o.Users, o.Items, o.Days, o.LateItems, o.Seed);
        var trainer = new MultiTaskTrainerOptions
        {
            Epochs = 1, BatchSize = 256, EmbeddingDim = 8, Bottom = [64], Tower = [32], Threads = o.Threads, Device = ExecutionDevice.Cpu, Seed = (int)(o.Seed % 100_000),
            // The simulated world's click law has no attribute crosses: the plain MLP, as its figures were measured.
            Interactions = FeatureInteractions.None,
        };
        ServingOptions Serving(string model) => new() { Model = model, Threads = o.Threads, Device = ExecutionDevice.Cpu, MicroBatching = false };

        // Day 0: shown at random, the log every model starts from.
        var random = new Policy("random") { Version = "none" };
        using (random.Log = OpenLog(work, "day0"))
            Serve(world, o, 0, o.InitialVisits, random, (_, _) => ExplorationPolicy.Parse("epsilon:1"), null, (_, _) => 0);
        string day0 = Export(work, "day0", 0);
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
        foreach (var (item, count) in random.ClickCounts) popularity.ClickCounts[item] = count;
        var greedyPolicy = ExplorationPolicy.Greedy;
        var epsilon = ExplorationPolicy.Parse($"epsilon:{o.Epsilon.ToString("R", CultureInfo.InvariantCulture)}");
        for (int day = 1; day <= o.Days; day++)
        {
            foreach (var p in new[] { exploring, greedy })
            {
                p.Model?.Release();
                p.Model = ServedModel.Load(new Lifecycle.ModelRegistry(p.Registry!).PathOf(), Serving(p.Registry!));
                p.Version = p.Model.Version;
                p.Log = OpenLog(work, $"{p.Name}-day{day}");
            }
            Serve(world, o, day, o.VisitsPerDay, exploring, (_, _) => epsilon, exploring.Model);
            Serve(world, o, day, o.VisitsPerDay, greedy, (_, _) => greedyPolicy, greedy.Model);
            Serve(world, o, day, o.VisitsPerDay, stale, (_, _) => greedyPolicy, stale.Model);
            Serve(world, o, day, o.VisitsPerDay, popularity, (_, _) => greedyPolicy, null, (v, item) => popularity.ClickCounts.GetValueOrDefault(item));
            Serve(world, o, day, o.VisitsPerDay, oracle, (_, _) => greedyPolicy, null, (v, item) => world.Truth(v, item, 1).Click);
            // At night the loops learn the day.
            foreach (var p in new[] { exploring, greedy })
            {
                p.Log!.Dispose();
                string dayLog = Export(work, $"{p.Name}-day{day}", day);
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
        // Off-policy: greedy's top-slot click rate on the exploring loop's own models, estimated from its logs, next to
        // the truth (greedy's choice on the same visits, valued by the world's true probability).
        var ope = OffPolicyEstimates.Compute(exploring.Decisions, bootstrap: 500, seed: 1);
        double truth = exploring.GreedyTruth / exploring.Decisions.Count;
        static JsonObject E(Estimate e) => new() { ["value"] = Math.Round(e.Value, 5), ["ci95"] = new JsonArray(Math.Round(e.Low, 5), Math.Round(e.High, 5)) };
        result["off_policy_greedy_top_slot_ctr"] = new JsonObject
        {
            ["truth"] = Math.Round(truth, 5), ["logged"] = Math.Round(ope.LoggedMean, 5), ["ips"] = E(ope.Ips), ["snips"] = E(ope.SelfNormalizedIps), ["dr"] = E(ope.DoublyRobust),
            ["effective_sample_size"] = Math.Round(ope.EffectiveSampleSize, 1), ["decisions"] = ope.Decisions,
        };
        result["per_day"] = new JsonObject(policies.Select(p => KeyValuePair.Create(p.Name, (JsonNode?)new JsonArray(p.Days.Select(d => (JsonNode)d).ToArray()))));
        return result;
    }

    // Serves one day's visits with a policy over a model's scores (or over a given score function), and records.
    private static void Serve(SimulatedWorld world, SimulationOptions o, int day, int visits, Policy p, Func<Visit, double[], ExplorationPolicy> choose,
        ServedModel? model, Func<Visit, int, double>? score = null)
    {
        double clicks = 0, conversions = 0, value = 0, expected = 0, impressions = 0;
        var rng = new Random(unchecked((int)o.Seed * 7919 + day * 31 + p.Name.Length));
        // Where each of the model's columns sits in a world row, looked up once for the day.
        var textSource = model?.Columns.RequestNames.Select(c => Array.IndexOf(Columns, c)).ToArray();
        var numberSource = model?.Columns.NumberColumns.Select(c => Array.IndexOf(Columns, c)).ToArray();
        for (int n = 0; n < visits; n++)
        {
            var v = world.Sample(day, n, o.Candidates, o.Slots, o.Seed);
            if (v.Candidates.Length == 0) continue;
            double[] scores;
            if (model is not null)
            {
                // The position-free prediction: every candidate at the reference position 1; the log keeps the real one.
                var rows = new TableChunk(textSource!.Length, numberSource!.Length, v.Candidates.Length);
                for (int r = 0; r < v.Candidates.Length; r++)
                {
                    var fields = world.Row(v, v.Candidates[r], 1, 0, 0).Split(',');
                    for (int c = 0; c < textSource.Length; c++) rows.Text[c][r] = fields[textSource[c]];
                    for (int c = 0; c < numberSource.Length; c++)
                    {
                        string raw = fields[numberSource[c]];
                        rows.Numbers[c][r] = raw.Length == 0 ? float.NaN : float.Parse(raw, CultureInfo.InvariantCulture);
                    }
                }
                rows.Count = v.Candidates.Length;
                var predictions = model.Batcher.ScoreAsync(rows).GetAwaiter().GetResult();
                scores = Enumerable.Range(0, v.Candidates.Length).Select(r => (double)predictions[r * 4]).ToArray();
            }
            else scores = v.Candidates.Select(item => score!(v, item)).ToArray();
            var ids = v.Candidates.Select(i => i.ToString("D9", CultureInfo.InvariantCulture)).ToArray();
            var policy = choose(v, scores);
            var shown = policy.Choose(scores, ids, o.Slots, rng);
            long ts = DayStartMs(day) + n * 1000L;
            string requestId = $"req_{day}_{n}";
            var logged = new List<Impression>();
            var feedback = new List<FeedbackEvent>();
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
                if (click == 1) p.ClickCounts[item] = p.ClickCounts.GetValueOrDefault(item) + 1;
                if (p.Log is null) continue;
                // The features as scored (at the reference position); the export writes the shown position back.
                string id = $"imp_{day}_{n}_{slot}";
                logged.Add(new Impression(id, requestId, ts, "recommend", v.User.ToString(CultureInfo.InvariantCulture), item.ToString(CultureInfo.InvariantCulture), slot + 1,
                    p.Version, (float)scores[shown[slot].Index], float.NaN, float.NaN, float.NaN, scores[shown[slot].Index], shown[slot].Propensity, policy.Name,
                    Features(world.Row(v, item, 1, 0, 0))));
                if (click == 1) feedback.Add(new FeedbackEvent(id, "click", null, ts + 1000));
                if (conversion == 1) feedback.Add(new FeedbackEvent(id, "conversion", null, ts + 2000));
            }
            if (p.Log is { } impressionLog)
            {
                impressionLog.AppendAsync(logged, new RecommendationRequest(requestId, ts, v.User.ToString(CultureInfo.InvariantCulture), p.Version, policy.Name, o.Slots,
                    System.Text.Json.JsonSerializer.Serialize(v.Candidates.Select(c => c.ToString(CultureInfo.InvariantCulture))), "{}")).GetAwaiter().GetResult();
                foreach (var e in feedback) impressionLog.FeedbackAsync(e).GetAwaiter().GetResult();
            }
            if (model is not null && shown.Length > 0 && policy.Kind != "greedy")
            {
                // Greedy on the same scores would show the best candidate at the top: its propensity there is 1 or 0.
                var target = new double[scores.Length];
                ExplorationPolicy.Greedy.NextSlot(scores, ids, new bool[scores.Length], target);
                int best = Array.IndexOf(target, 1.0), top = shown[0].Index;
                double reward = v.ClickDraws[0] < world.Truth(v, v.Candidates[top], 1).Click ? 1 : 0;
                p.Decisions.Add(new LoggedDecision(reward, shown[0].Propensity, target[top], scores[top], scores[best]));
                p.GreedyTruth += world.Truth(v, v.Candidates[best], 1).Click;
            }
        }
        p.Impressions += impressions; p.Clicks += clicks; p.Conversions += conversions; p.Value += value; p.ExpectedClicks += expected;
        p.Days.Add(new JsonObject
        {
            ["day"] = day, ["impressions"] = impressions, ["clicks"] = clicks, ["conversions"] = conversions, ["ctr"] = Math.Round(clicks / Math.Max(1, impressions), 5),
            ["cvr"] = Math.Round(conversions / Math.Max(1, clicks), 5), ["value"] = Math.Round(value, 2), ["expected_clicks"] = Math.Round(expected, 2),
        });
    }

    private static long DayStartMs(int day) => (1_700_000_000L + day * 86_400L) * 1000;

    private static ImpressionLog OpenLog(string work, string name)
    {
        string path = Path.Combine(work, name + ".sqlite");
        foreach (var f in new[] { path, path + "-wal", path + "-shm" }) File.Delete(f);
        return new ImpressionLog(path);
    }

    // The day's log as training rows, through the product's export (labels from feedback, shown positions written back).
    private static string Export(string work, string name, int day)
    {
        var summary = LogExport.Run(Path.Combine(work, name + ".sqlite"), SimulatedWorld.Schema(), DateTimeOffset.FromUnixTimeMilliseconds(DayStartMs(day)),
            DateTimeOffset.FromUnixTimeMilliseconds(DayStartMs(day + 1)), TimeSpan.FromDays(1), Path.Combine(work, name), positionColumn: "position");
        return Path.Combine(summary.Directory, "train.csv");
    }

    // A world row as the feature object the service logs: categorical values as text, dense values as numbers.
    private static readonly string[] Columns = SimulatedWorld.Header.Split(',');
    private static readonly HashSet<string> Dense = SimulatedWorld.Schema().Dense.ToHashSet();

    private static string Features(string row)
    {
        var fields = row.Split(',');
        var features = new Dictionary<string, object?>();
        for (int c = 0; c < Columns.Length; c++)
        {
            if (Columns[c] is "click" or "conversion" or "rating" or "timestamp") continue;
            features[Columns[c]] = Dense.Contains(Columns[c]) ? fields[c].Length == 0 ? null : double.Parse(fields[c], CultureInfo.InvariantCulture) : fields[c];
        }
        return System.Text.Json.JsonSerializer.Serialize(features);
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
