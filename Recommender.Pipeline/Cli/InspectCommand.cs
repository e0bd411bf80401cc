using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Featurization;

namespace Recommender.Pipeline.Cli;

/// <summary><c>inspect</c>: loads data under a schema, validates it, and summarises every column and the load.</summary>
internal static class InspectCommand
{
    public static Command Create()
    {
        var data = new Option<FileInfo[]>("--data") { Description = "Data file(s); with --experiment, defaults to its train/valid/test", AllowMultipleArgumentsPerToken = true };
        var json = new Option<bool>("--json") { Description = "Print JSON" };
        var schemaArgs = new SchemaArguments();
        var command = new Command("inspect", "Load data under a schema (file, experiment or flags), validate labels and roles, and print a per-column summary with the counts of skipped and dropped rows")
        {
            data, json,
        };
        schemaArgs.AddTo(command);
        command.SetAction(result =>
        {
            var schema = schemaArgs.Build(result, out var experiment);
            var files = (result.GetValue(data) ?? []).Select(f => f.FullName).ToList();
            if (files.Count == 0 && experiment is not null)
                files = new[] { experiment.Data.Train, experiment.Data.Valid, experiment.Data.Test }.Where(f => f is not null).Select(f => experiment.Resolve(f)!).ToList();
            if (files.Count == 0) throw new SchemaException("give --data FILE (or --experiment with data files)");
            var output = new JsonArray();
            foreach (var file in files)
            {
                Table table;
                using (var bar = new ProgressBar($"load {Path.GetFileName(file)}"))
                    table = DataLoader.Load(schema, file, schemaArgs.CommonFeaturesPath(result, experiment), n => bar.Report(n));
                var summary = Summarize(file, table);
                if (result.GetValue(json)) output.Add(summary);
                else Print(file, table, summary);
            }
            if (result.GetValue(json)) Console.WriteLine(MetricsReport.Format(output));
            return 0;
        });
        return command;
    }

    private static JsonObject Summarize(string file, Table table)
    {
        var s = table.Schema;
        var columns = new JsonArray();
        foreach (var name in s.TextColumns)
        {
            var values = table.GetText(name);
            var counts = values.GroupBy(v => v).Select(g => (g.Key, Count: g.Count())).OrderByDescending(g => g.Count).ToList();
            columns.Add(new JsonObject
            {
                ["name"] = name, ["kind"] = name == DatasetSchema.TimeColumn ? "time" : "categorical", ["distinct"] = counts.Count,
                ["top"] = counts.Count > 0 ? counts[0].Key : null, ["top_share"] = counts.Count > 0 ? Math.Round(counts[0].Count / (double)values.Length, 4) : null,
            });
        }
        for (int c = 0; c < s.NumberColumns.Length; c++)
        {
            var values = table.GetNumbers(s.NumberColumns[c]);
            var present = values.Where(v => !float.IsNaN(v)).ToArray();
            string kind = c < s.DenseCount ? "dense" : "label";
            columns.Add(new JsonObject
            {
                ["name"] = s.NumberColumns[c], ["kind"] = kind, ["missing"] = values.Length - present.Length,
                ["mean"] = present.Length > 0 ? Math.Round(present.Average(v => (double)v), 6) : null,
                ["min"] = present.Length > 0 ? present.Min() : null, ["max"] = present.Length > 0 ? present.Max() : null,
            });
        }
        var r = table.Report;
        return new JsonObject
        {
            ["file"] = file, ["rows_read"] = r.RowsRead, ["rows_kept"] = r.RowsKept,
            ["bad_rows_skipped"] = r.BadRowsSkipped, ["inconsistent_dropped"] = r.InconsistentDropped,
            ["examples"] = new JsonArray(r.Examples.Select(e => (JsonNode)JsonValue.Create(e)!).ToArray()),
            ["columns"] = columns,
        };
    }

    private static void Print(string file, Table table, JsonObject summary)
    {
        Console.WriteLine($"{file}: {table.Report}");
        foreach (var e in table.Report.Examples) Console.WriteLine($"  {e}");
        var t = new TextTable("column", "kind", "distinct", "missing", "mean", "min", "max", "top value");
        foreach (var node in summary["columns"]!.AsArray())
        {
            string Cell(string key) => node![key] is { } v ? Convert.ToString(v.GetValue<object>(), CultureInfo.InvariantCulture) ?? "" : "";
            t.Add(Cell("name"), Cell("kind"), Cell("distinct"), Cell("missing"), Cell("mean"), Cell("min"), Cell("max"), Cell("top"));
        }
        Console.Write(t.ToString());
        Console.WriteLine($"roles: user={table.Schema.Schema.User ?? "-"} item={table.Schema.Schema.Item ?? "-"} group={table.Schema.GroupOutput ?? "-"} " +
            $"time={(table.Schema.TimeOutput is null ? "-" : table.Schema.Schema.Time)}; {table.Schema.CategoricalFeatures.Length} categorical, {table.Schema.DenseFeatures.Length} dense features");
        if (table.Schema.TimeOutput is { } time)
            foreach (var field in CalendarFields.Find(table.ToDataView(), time, table.Schema.Schema.Time!, CalendarFields.Candidates(table.Schema)))
                Console.WriteLine($"calendar field: {field.Column} (one value a day from {field.OffsetMinutes / 60:00}:{field.OffsetMinutes % 60:00} UTC; " +
                    $"each value held on {field.Days.Values.Min()}-{field.Days.Values.Max()} days)");
    }
}
