using System.CommandLine;
using System.Text.Json.Nodes;
using Recommender.Pipeline.Simulation;
using Recommender.Trainers.Runtime;

namespace Recommender.Pipeline.Cli;

/// <summary><c>simulate</c>: the feedback loop against the synthetic world, every policy on the same visits.</summary>
internal static class SimulateCommand
{
    public static Command Create()
    {
        var days = new Option<int>("--days") { Description = "Days after day 0", DefaultValueFactory = _ => 14 }.AtLeast(1);
        var visits = new Option<int>("--visits") { Description = "Visits per day", DefaultValueFactory = _ => 1500 }.AtLeast(1);
        var initial = new Option<int>("--initial-visits") { Description = "Visits of day 0 (shown at random; the first model's log)", DefaultValueFactory = _ => 6000 }.AtLeast(100);
        var candidates = new Option<int>("--candidates") { Description = "Candidates per visit", DefaultValueFactory = _ => 50 }.AtLeast(1);
        var slots = new Option<int>("--slots") { Description = "Items shown per visit", DefaultValueFactory = _ => 5 }.AtLeast(1);
        var epsilon = new Option<double>("--epsilon") { Description = "Exploration of loop (a)", DefaultValueFactory = _ => 0.1 }.Finite(0);
        var lateItems = new Option<double>("--late-items") { Description = "Share of items that arrive after day 0", DefaultValueFactory = _ => 0.3 }.Finite(0);
        var seed = new Option<int>("--seed") { Description = "Seed of the world and the visits (repeats use seed, seed+1, ...)", DefaultValueFactory = _ => 1 }.AtLeast(0);
        var repeats = new Option<int>("--repeats") { Description = "Independent runs (worlds), for the spread of the differences", DefaultValueFactory = _ => 1 }.AtLeast(1);
        var threads = new Option<int>("--threads") { Description = "CPU threads", DefaultValueFactory = _ => 2 }.AtLeast(1).AtMost(RuntimeOptions.MaxThreads);
        var work = new Option<DirectoryInfo>("--work") { Description = "Folder for the day logs and the registries", DefaultValueFactory = _ => new DirectoryInfo(Path.Combine(Path.GetTempPath(), "rec-simulate")) };
        var command = new Command("simulate", "The feedback loop for D days against the synthetic world: (a) warm-started nightly with epsilon-greedy exploration, (b) the same greedy, (c) the day-0 model never updated, (d) popularity, (e) the oracle; per day and cumulative clicks, conversions, value and regret, as JSON")
        {
            days, visits, initial, candidates, slots, epsilon, lateItems, seed, repeats, threads, work,
        };
        command.SetAction(result =>
        {
            if (result.GetValue(epsilon) > 1 || result.GetValue(lateItems) > 1) throw new ArgumentException("--epsilon and --late-items are shares between 0 and 1");
            var runs = new JsonArray();
            var gains = new List<(double Clicks, double Conversions, double ExploreClicks, double ExploreConversions)>();
            for (int r = 0; r < result.GetValue(repeats); r++)
            {
                var options = new SimulationOptions
                {
                    Days = result.GetValue(days), VisitsPerDay = result.GetValue(visits), InitialVisits = result.GetValue(initial), Candidates = result.GetValue(candidates),
                    Slots = result.GetValue(slots), Epsilon = result.GetValue(epsilon), LateItems = result.GetValue(lateItems), Seed = (ulong)(result.GetValue(seed) + r),
                    Threads = result.GetValue(threads),
                };
                var run = ClosedLoop.Run(options, Path.Combine(result.GetValue(work)!.FullName, $"seed{options.Seed}"), m => Console.Error.WriteLine(m));
                var c = run["cumulative"]!;
                double Get(string policy, string figure) => c[policy]![figure]!.GetValue<double>();
                gains.Add((Get("a_loop_epsilon", "clicks") - Get("c_static", "clicks"), Get("a_loop_epsilon", "conversions") - Get("c_static", "conversions"),
                    Get("a_loop_epsilon", "clicks") - Get("b_loop_greedy", "clicks"), Get("a_loop_epsilon", "conversions") - Get("b_loop_greedy", "conversions")));
                if (r == 0) Console.Error.WriteLine($"report: {Evaluation.SimulationReport.Write(result.GetValue(work)!.FullName, run)}");
                runs.Add(run);
            }
            static JsonObject Spread(IReadOnlyList<double> xs)
            {
                double mean = xs.Average();
                double se = xs.Count > 1 ? Math.Sqrt(xs.Sum(x => (x - mean) * (x - mean)) / (xs.Count - 1) / xs.Count) : double.NaN;
                return new JsonObject { ["mean"] = Math.Round(mean, 2), ["standard_error"] = double.IsNaN(se) ? null : Math.Round(se, 2), ["runs"] = new JsonArray(xs.Select(x => (JsonNode)Math.Round(x, 2)).ToArray()) };
            }
            var node = new JsonObject
            {
                ["runs"] = runs,
                ["a_minus_c_clicks"] = Spread(gains.Select(g => g.Clicks).ToList()), ["a_minus_c_conversions"] = Spread(gains.Select(g => g.Conversions).ToList()),
                ["a_minus_b_clicks"] = Spread(gains.Select(g => g.ExploreClicks).ToList()), ["a_minus_b_conversions"] = Spread(gains.Select(g => g.ExploreConversions).ToList()),
            };
            Console.WriteLine(MetricsReport.Format(node));
            return 0;
        });
        return command;
    }
}
