using System.CommandLine;
using System.Text.Json.Nodes;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Data.Synthetic;
using Recommender.Pipeline.Lifecycle;

namespace Recommender.Pipeline.Cli;

/// <summary><c>generate</c>: writes the synthetic e-commerce data set and prints the oracle's metrics.</summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var rows = new Option<long>("--rows") { Description = "Impressions to generate (all splits)", DefaultValueFactory = _ => 1_000_000 }.AtLeast(1000);
        var output = new Option<DirectoryInfo>("--out") { Description = "Output folder", DefaultValueFactory = _ => new DirectoryInfo("data/sim") };
        var seed = new Option<ulong>("--seed") { Description = "Random seed (same seed, same bytes)", DefaultValueFactory = _ => 42 };
        var users = new Option<int?>("--users") { Description = "Number of users (default rows/20, at least 1000)" }.AtLeast(1);
        var items = new Option<int?>("--items") { Description = "Number of items (default rows/50, at least 500)" }.AtLeast(1);
        var json = new Option<bool>("--json") { Description = "Print the summary as JSON" };
        var funnel = new Option<bool>("--funnel") { Description = "A cart step between click and purchase: the schema declares the chain click -> cart -> purchase (conversion) -> rating" };
        var favourite = new Option<bool>("--favourite") { Description = "An independent favourite label on every impression, declared as its own task" };
        var crosses = new Option<bool>("--crosses") { Description = "Pairwise attribute crosses in the click and purchase laws (age x category, gender x brand, device x channel, price sensitivity by segment); default true, --crosses false for none", DefaultValueFactory = _ => true };
        var history = new Option<int>("--history") { Description = "Behaviour: drifting interests, and each impression's last N clicked items and categories before it as sequence columns (default 10; 0: none, and with --crosses false the plain law)", DefaultValueFactory = _ => 10 }.InRange(0, 1001);
        var warmUp = new Option<int>("--warm-up-days") { Description = "With --history: days of traffic simulated before the log and not written, so the log opens with histories mid-stream (default 30; 0: every history starts empty on the first day)", DefaultValueFactory = _ => 30 }.InRange(0, SyntheticGenerator.MaxWarmUpDays + 1);
        var census = new Option<bool>("--census") { Description = "Instead of e-commerce logs: a Census-Income stand-in (mixed categorical and dense columns, two independent tasks income > 50K and never married, no user, item or click)" };
        var command = new Command("generate", "Generate the synthetic e-commerce logs (train/valid/test by time, true probabilities beside valid and test) and print the oracle metrics")
        {
            rows, output, seed, users, items, json, funnel, favourite, crosses, history, warmUp, census,
        };
        command.SetAction(result =>
        {
            var options = new SyntheticOptions
            {
                Rows = result.GetValue(rows), Seed = result.GetValue(seed),
                Users = result.GetValue(users), Items = result.GetValue(items), Funnel = result.GetValue(funnel), Favourite = result.GetValue(favourite), Crosses = result.GetValue(crosses),
                History = result.GetValue(history), WarmUpDays = result.GetValue(warmUp),
            };
            string dir = result.GetValue(output)!.FullName;
            if (File.Exists(dir)) throw new IOException($"{dir}: a file; --out is the folder to write the data set into");
            using var outputLock = WriterLock.Acquire(dir, wait: false);
            bool people = result.GetValue(census);
            if (people && new Option[] { funnel, favourite, crosses, history, warmUp, users, items }.FirstOrDefault(o => result.GetResult(o) is { Implicit: false }) is { } other)
                throw new SchemaException($"--census makes people, not impressions: it takes --rows, --seed and --out only, not {other.Name}");
            GenerationResult r;
            if (people) r = CensusGenerator.Generate(options.Rows, options.Seed, dir);
            else
            {
                using var bar = new ProgressBar("generate");
                r = SyntheticGenerator.Generate(options, dir, (done, total) => bar.Report(done, total));
            }
            if (result.GetValue(json))
            {
                var node = new JsonObject
                {
                    ["out"] = r.Directory, ["train_rows"] = r.TrainRows, ["valid_rows"] = r.ValidRows, ["test_rows"] = r.TestRows,
                    ["ctr"] = Math.Round(r.Ctr, 5), ["cvr_given_click"] = Math.Round(r.CvrGivenClick, 5), ["ratings"] = r.Ratings,
                    ["seconds"] = Math.Round(r.Seconds, 2), ["oracle"] = MetricsReport.Json(r.Oracle),
                };
                if (r.Rates is { } rates)
                {
                    node.Remove("ctr"); node.Remove("cvr_given_click"); node.Remove("ratings");
                    node["rates"] = new JsonObject(rates.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)Math.Round(kv.Value, 5))));
                }
                Console.WriteLine(MetricsReport.Format(node));
                return 0;
            }
            Console.WriteLine($"wrote {r.Directory}: train {r.TrainRows:N0}, valid {r.ValidRows:N0}, test {r.TestRows:N0} rows in {r.Seconds:F1} s");
            Console.WriteLine(r.Rates is { } positive ? "base rates: " + string.Join(", ", positive.Select(kv => $"{kv.Key} {kv.Value:P2}"))
                : $"base rates: CTR {r.Ctr:P2}, CVR given click {r.CvrGivenClick:P2}, {r.Ratings:N0} ratings");
            Console.WriteLine("oracle (true probabilities) on the test split: the best any model can do");
            Console.Write(MetricsReport.Table(r.Oracle));
            return 0;
        });
        return command;
    }
}
