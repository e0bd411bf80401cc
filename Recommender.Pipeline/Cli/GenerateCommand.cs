using System.CommandLine;
using System.Text.Json.Nodes;
using Recommender.Pipeline.Data.Synthetic;

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
        var command = new Command("generate", "Generate the synthetic e-commerce logs (train/valid/test by time, true probabilities beside valid and test) and print the oracle metrics")
        {
            rows, output, seed, users, items, json,
        };
        command.SetAction(result =>
        {
            var options = new SyntheticOptions
            {
                Rows = result.GetValue(rows), Seed = result.GetValue(seed),
                Users = result.GetValue(users), Items = result.GetValue(items),
            };
            string dir = result.GetValue(output)!.FullName;
            if (File.Exists(dir)) throw new IOException($"{dir}: a file; --out is the folder to write the data set into");
            GenerationResult r;
            using (var bar = new ProgressBar("generate"))
                r = SyntheticGenerator.Generate(options, dir, (done, total) => bar.Report(done, total));
            if (result.GetValue(json))
            {
                var node = new JsonObject
                {
                    ["out"] = r.Directory, ["train_rows"] = r.TrainRows, ["valid_rows"] = r.ValidRows, ["test_rows"] = r.TestRows,
                    ["ctr"] = Math.Round(r.Ctr, 5), ["cvr_given_click"] = Math.Round(r.CvrGivenClick, 5), ["ratings"] = r.Ratings,
                    ["seconds"] = Math.Round(r.Seconds, 2), ["oracle"] = MetricsReport.Json(r.Oracle),
                };
                Console.WriteLine(MetricsReport.Format(node));
                return 0;
            }
            Console.WriteLine($"wrote {r.Directory}: train {r.TrainRows:N0}, valid {r.ValidRows:N0}, test {r.TestRows:N0} rows in {r.Seconds:F1} s");
            Console.WriteLine($"base rates: CTR {r.Ctr:P2}, CVR given click {r.CvrGivenClick:P2}, {r.Ratings:N0} ratings");
            Console.WriteLine("oracle (true probabilities) on the test split: the best any model can do");
            Console.Write(MetricsReport.Table(r.Oracle));
            return 0;
        });
        return command;
    }
}
