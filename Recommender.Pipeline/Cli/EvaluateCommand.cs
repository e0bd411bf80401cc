using Recommender.Trainers.Evaluation;
using System.CommandLine;
using System.Globalization;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Evaluation;

namespace Recommender.Pipeline.Cli;

/// <summary><c>evaluate</c>: scores a predictions file against a labels file, row by row.</summary>
internal static class EvaluateCommand
{
    public static Command Create()
    {
        var predictions = new Option<FileInfo?>("--predictions") { Description = "CSV with a header holding any of PCtr, PCvr, PCtcvr, PredictedRating" };
        var model = new Option<DirectoryInfo?>("--model") { Description = "A bundle folder to score the labels file with (instead of --predictions)" };
        var labels = new Option<FileInfo>("--labels") { Description = "The labelled data, row-aligned with the predictions", Required = true };
        var device = new Option<Recommender.Trainers.Runtime.ExecutionDevice>("--device") { Description = "With --model: Auto, Cpu or Cuda for the network", DefaultValueFactory = _ => Recommender.Trainers.Runtime.ExecutionDevice.Auto };
        var threshold = new Option<float>("--threshold") { Description = "Decision threshold for precision / recall / F1 of CTR", DefaultValueFactory = _ => 0.5f }.Finite(0);
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table" };
        var schemaArgs = new SchemaArguments();
        var command = new Command("evaluate", "Evaluate predictions against labels: CTR AUC / GAUC / LogLoss / calibration, CVR AUC on clicked rows, CTCVR AUC, rating RMSE / MAE. Without --schema, schema.json beside the labels is used.")
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

            var p = bundle is null ? ReadPredictions(result.GetValue(predictions)!.FullName) : Score(bundle, table, result.GetValue(device));
            if (p.Rows != table.RowCount)
                throw new SchemaException($"predictions have {p.Rows:N0} rows but labels have {table.RowCount:N0}");
            var s = table.Schema;
            float[]? Labels(string name) => Array.IndexOf(s.NumberColumns, name) >= 0 ? table.GetNumbers(name) : null;
            var click = Labels(DatasetSchema.ClickColumn);
            var metrics = MultiTaskMetrics.Compute(p.Get("PCtr"), p.Get("PCvr"), p.Get("PCtcvr"), p.Get("PredictedRating"),
                click, Labels(DatasetSchema.ConversionColumn), Labels(DatasetSchema.RatingColumn),
                s.GroupOutput is null ? null : table.GetText(s.GroupOutput));
            var node = MetricsReport.Json(metrics);
            if (p.Get("PCtr") is { } ctr && click is not null)
            {
                var (precision, recall, f1) = BinaryMetrics.AtThreshold(ctr, click, result.GetValue(threshold));
                var m = node["metrics"]!.AsObject();
                m["ctr_precision"] = precision.IsDefined ? Math.Round(precision.Value, 6) : null;
                m["ctr_recall"] = recall.IsDefined ? Math.Round(recall.Value, 6) : null;
                m["ctr_f1"] = f1.IsDefined ? Math.Round(f1.Value, 6) : null;
            }
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

    private sealed class Predictions
    {
        public readonly Dictionary<string, List<float>> Columns = new(StringComparer.OrdinalIgnoreCase);
        public long Rows;
        public float[]? Get(string name) => Columns.TryGetValue(name, out var v) ? v.ToArray() : null;
    }

    // The bundle's featurization, then its network in batches on the chosen device (the scoring job's path).
    private static Predictions Score(Lifecycle.ModelBundle bundle, Table table, Recommender.Trainers.Runtime.ExecutionDevice device)
    {
        using var scorer = Scoring.BundleScorer.Open(bundle, 8192, new Recommender.Trainers.Runtime.RuntimeOptions { Device = device });
        var p = new Predictions { Rows = table.RowCount };
        var columns = ScoredColumns.MultiTask.Select(c => p.Columns[c] = new List<float>((int)table.RowCount)).ToArray();
        foreach (var chunk in table.Chunks)
        {
            var values = scorer.Predict(chunk, table.Schema.TextColumns, table.Schema.NumberColumns);
            for (int r = 0; r < chunk.Count; r++)
                for (int c = 0; c < 4; c++) columns[c].Add(values[r * 4 + c]);
        }
        return p;
    }

    private static Predictions ReadPredictions(string path)
    {
        string[] known = ["PCtr", "PCvr", "PCtcvr", "PredictedRating"];
        using var reader = new DelimitedReader(path, path.EndsWith(".tsv", StringComparison.OrdinalIgnoreCase) ? '\t' : ',');
        if (!reader.Read()) throw new DataFormatException(path, 1, 1, "empty file: expected a header");
        if (reader.Malformed is { } header) throw header;
        var p = new Predictions();
        var index = new List<(int Field, List<float> Values)>();
        int fields = reader.FieldCount;
        for (int i = 0; i < reader.FieldCount; i++)
        {
            string name = reader[i].Trim().ToString();
            var match = known.FirstOrDefault(k => k.Equals(name, StringComparison.OrdinalIgnoreCase));
            if (match is null) continue;
            var list = new List<float>();
            p.Columns[match] = list;
            index.Add((i, list));
        }
        if (index.Count == 0) throw new DataFormatException(path, 1, 1, $"no prediction column: expected any of {string.Join(", ", known)}");
        while (reader.Read())
        {
            if (reader.Malformed is { } malformed) throw malformed;
            if (reader.FieldCount != fields) throw reader.RecordError($"expected {fields} fields, found {reader.FieldCount}");
            foreach (var (field, values) in index)
            {
                if (!float.TryParse(reader[field], NumberStyles.Float, CultureInfo.InvariantCulture, out float v))
                    throw reader.Error(field, $"'{reader[field]}' is not a number");
                if (!float.IsFinite(v)) throw reader.Error(field, $"'{reader[field]}' is not a finite number");
                values.Add(v);
            }
            p.Rows++;
        }
        return p;
    }
}
