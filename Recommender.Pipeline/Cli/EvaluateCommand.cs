using Recommender.Trainers.Evaluation;
using System.CommandLine;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Evaluation;
using Recommender.Trainers.Network;

namespace Recommender.Pipeline.Cli;

/// <summary><c>evaluate</c>: scores a predictions file against a labels file, row by row.</summary>
internal static class EvaluateCommand
{
    public static Command Create()
    {
        var predictions = new Option<FileInfo?>("--predictions") { Description = "CSV with a header holding any of the tasks' prediction columns (PCtr, PCvr, PCtcvr, PredictedRating for the default chain)" };
        var model = new Option<DirectoryInfo?>("--model") { Description = "A bundle folder to score the labels file with (instead of --predictions)" };
        var labels = new Option<FileInfo>("--labels") { Description = "The labelled data, row-aligned with the predictions", Required = true };
        var device = new Option<Recommender.Trainers.Runtime.ExecutionDevice>("--device") { Description = "With --model: Auto, Cpu or Cuda for the network", DefaultValueFactory = _ => Recommender.Trainers.Runtime.ExecutionDevice.Auto };
        var threshold = new Option<float>("--threshold") { Description = "Decision threshold for precision / recall / F1 of each independent binary task", DefaultValueFactory = _ => 0.5f }.Finite(0);
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table" };
        var topK = new Option<int?>("--top-k") { Description = "With --model: ranking metrics instead (HitRate, NDCG, Recall, MRR at K) of the bundle's recommendations for the labels file's users, next to popularity" }.AtLeast(1);
        var candidates = new Option<int>("--candidates") { Description = "With --top-k: candidates retrieved per user", DefaultValueFactory = _ => 100 }.AtLeast(1);
        var relevance = new Option<float?>("--relevance-threshold") { Description = "With --top-k: a row is relevant when its label is at least this (default: 1 for a binary task, the range's maximum minus 1 for ratings)" }.Finite();
        var rank = new Option<string?>("--rank") { Description = "With --top-k: the ranking formula (see score --help)" };
        var schemaArgs = new SchemaArguments();
        var command = new Command("evaluate", "Evaluate predictions against labels, per task: binary AUC / GAUC / LogLoss / calibration on the rows where the task is defined (and the entire-space AUC of a chained task), regression RMSE / MAE. Without --schema, schema.json beside the labels is used.")
        {
            predictions, model, labels, threshold, json, device, topK, candidates, relevance, rank,
        };
        schemaArgs.AddTo(command);
        command.SetAction(result =>
        {
            string labelPath = result.GetValue(labels)!.FullName;
            DatasetSchema schema;
            Lifecycle.ModelBundle? bundle = null;
            if (result.GetValue(model) is { } bundleDirectory)
            {
                bundle = Lifecycle.ModelBundle.Open(bundleDirectory.FullName);
                schema = bundle.Metadata.Schema;
            }
            else if (result.GetValue(predictions) is null) throw new SchemaException("give --predictions FILE or --model BUNDLE");
            else if (result.GetValue(schemaArgs.Schema) is null && result.GetValue(schemaArgs.Experiment) is null)
            {
                string beside = Path.Combine(Path.GetDirectoryName(labelPath)!, "schema.json");
                if (!File.Exists(beside)) throw new SchemaException($"no --schema given and no schema.json beside {labelPath}");
                schema = DatasetSchema.Load(beside);
            }
            else schema = schemaArgs.Build(result, out _);
            var table = DataLoader.Load(schema, labelPath);
            if (table.Report.RowsKept != table.Report.RowsRead)
                throw new SchemaException($"{labelPath}: {table.Report}; predictions can only be aligned with every row kept");

            if (result.GetValue(topK) is { } k)
            {
                if (bundle is null) throw new SchemaException("--top-k needs --model: it ranks the bundle's recommendations");
                var (ranked, popular, task) = LabelledEvaluation.Ranking(bundle, table, k, result.GetValue(candidates), result.GetValue(relevance), result.GetValue(rank), result.GetValue(device));
                var ranking = new System.Text.Json.Nodes.JsonObject
                {
                    ["users"] = ranked.Users, ["k"] = k, ["relevance"] = task.Label,
                    ["model"] = TopK(ranked), ["popularity"] = TopK(popular),
                };
                if (result.GetValue(json)) Console.WriteLine(MetricsReport.Format(ranking));
                else
                {
                    Console.WriteLine($"{ranked.Users:N0} users with a relevant '{task.Label}' row, top {k}");
                    var table2 = new TextTable("metric", "model", "popularity");
                    foreach (var (name, a, b) in new[] { ("hit_rate", ranked.HitRate, popular.HitRate), ("ndcg", ranked.Ndcg, popular.Ndcg), ("recall", ranked.Recall, popular.Recall), ("mrr", ranked.Mrr, popular.Mrr) })
                        table2.Add($"{name}@{k}", a.ToString(), b.ToString());
                    Console.Write(table2.ToString());
                }
                return 0;
            }
            var tasks = bundle?.Metadata.ResolveTasks() ?? schema.ResolveTasks();
            var p = bundle is null ? LabelledEvaluation.ReadPredictions(result.GetValue(predictions)!.FullName, TaskList.Predictions(tasks))
                : LabelledEvaluation.Score(bundle, table, result.GetValue(device));
            if (p.Values.First().Length != table.RowCount)
                throw new SchemaException($"predictions have {p.Values.First().Length:N0} rows but labels have {table.RowCount:N0}");
            var (metrics, atThreshold) = LabelledEvaluation.Run(table, tasks, p, result.GetValue(threshold));
            var node = MetricsReport.Json(metrics);
            var m = node["metrics"]!.AsObject();
            foreach (var (name, value) in atThreshold) m[name] = value.IsDefined ? Math.Round(value.Value, 6) : null;
            if (result.GetValue(json)) Console.WriteLine(MetricsReport.Format(node));
            else
            {
                Console.WriteLine($"{metrics.Rows:N0} rows");
                Console.Write(MetricsReport.Table(metrics));
            }
            return 0;
        });
        return command;
    }

    private static System.Text.Json.Nodes.JsonObject TopK(TopKMetrics m) => new()
    {
        ["hit_rate"] = Math.Round(m.HitRate.Value, 6), ["ndcg"] = Math.Round(m.Ndcg.Value, 6), ["recall"] = Math.Round(m.Recall.Value, 6), ["mrr"] = Math.Round(m.Mrr.Value, 6),
    };
}
