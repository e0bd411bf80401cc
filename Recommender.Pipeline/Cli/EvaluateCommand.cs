using Recommender.Trainers.Evaluation;
using System.CommandLine;
using System.Globalization;
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
        var schemaArgs = new SchemaArguments();
        var command = new Command("evaluate", "Evaluate predictions against labels, per task: binary AUC / GAUC / LogLoss / calibration on the rows where the task is defined (and the entire-space AUC of a chained task), regression RMSE / MAE. Without --schema, schema.json beside the labels is used.")
        {
            predictions, model, labels, threshold, json, device,
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
}
