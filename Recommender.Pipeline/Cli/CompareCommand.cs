using System.CommandLine;
using System.Globalization;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Evaluation;
using Recommender.Pipeline.Jobs;
using Recommender.Trainers.Evaluation;
using Recommender.Trainers.Network;
using Recommender.Trainers.Training;

namespace Recommender.Pipeline.Cli;

/// <summary><c>compare</c>: ML.NET's own trainers and the multi-task architectures on the same data, in one table next to the oracle.</summary>
internal static class CompareCommand
{
    public static Command Create()
    {
        var data = new Option<DirectoryInfo>("--data") { Description = "A folder as generate writes it (schema.json, train.csv, valid.csv, test.csv; test_truth.csv adds the oracle)", Required = true };
        var architectures = new Option<MultiTaskArchitecture[]>("--architectures") { Description = "The architectures to train", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => [MultiTaskArchitecture.SharedBottom, MultiTaskArchitecture.Esmm, MultiTaskArchitecture.Mmoe, MultiTaskArchitecture.Ple] };
        var noBaselines = new Option<bool>("--no-baselines") { Description = "Leave out ML.NET's field-aware factorization machine and LightGBM" };
        var featurizerArgs = new FeaturizerArguments();
        var trainerArgs = new TrainerArguments();
        var command = new Command("compare", "ML.NET's field-aware factorization machine and LightGBM (click on all rows, conversion on clicked rows) and the multi-task architectures on the same data: test metrics in one table next to the oracle, each AUC with its standard error (Hanley-McNeil)")
        {
            data, architectures, noBaselines,
        };
        trainerArgs.AddTo(command);
        featurizerArgs.AddTo(command);
        command.SetAction(result =>
        {
            string dir = result.GetValue(data)!.FullName;
            var training = TrainingData.FromDirectory(dir);
            var options = trainerArgs.Build(result, null);
            var models = ComparisonJob.Run(training, result.GetValue(architectures)!, options, !result.GetValue(noBaselines), m => Console.Error.WriteLine(m),
                featurizerArgs.Build(result)).ToList();
            var test = DataLoader.Load(training.Schema, training.Test!);
            var tasks = training.Schema.ResolveTasks();
            var labels = tasks.Where(t => Array.IndexOf(test.Schema.NumberColumns, t.Label) >= 0).ToDictionary(t => t.Name, t => test.GetNumbers(t.Label));
            string truth = Path.Combine(dir, "test_truth.csv");
            if (File.Exists(truth))
            {
                var oracle = LabelledEvaluation.ReadPredictions(truth, TaskList.Predictions(tasks));
                models.Insert(0, new ComparedModel("oracle", MultiTaskMetrics.Compute(tasks, oracle, labels, test.Schema.GroupOutput is { } g ? test.GetText(g) : null), 0, oracle));
            }
            // Class counts of each AUC's rows, for its standard error: once per metric, not per cell.
            var (defined, entire) = MultiTaskMetrics.Domains(tasks, labels);
            (long Positives, long Negatives)? Counts(string metric)
            {
                var parts = metric.Split('.');
                if (!defined.ContainsKey(parts[0])) return null;
                var rows = parts[1] switch
                {
                    "auc" => labels[parts[0]].Where((_, i) => defined[parts[0]][i]).ToList(),
                    "entire_auc" => entire[parts[0]].Where(v => !float.IsNaN(v)).ToList(),
                    _ => null,
                };
                if (rows is null) return null;
                long positives = rows.Count(v => v == 1f);
                return (positives, rows.Count - positives);
            }
            var names = models.SelectMany(m => m.Metrics.Items().Select(i => i.Name)).Distinct().Where(n => !n.EndsWith("unscored_rows")).ToList();
            var counts = names.ToDictionary(n => n, Counts);
            // Each AUC also as a paired difference from each of ML.NET's trainers where they ran (else from the first model): on one
            // test set two models err on the same hard rows, so DeLong's standard error of the difference is what says whether
            // one beats the other.
            var references = models.Where(m => m.Name is ComparisonJob.FieldAwareFactorizationMachine or ComparisonJob.LightGbm).ToList();
            if (references.Count == 0 && models.FirstOrDefault(m => m.Name != "oracle") is { } first) references.Add(first);
            var differences = references.Select(reference => models.ToDictionary(m => m.Name, m => reference.Predictions is { } r && m.Predictions is { } own && m != reference
                ? MultiTaskMetrics.AucDifferences(tasks, own, r, labels).ToDictionary(d => d.Name, d => (d.Difference, d.StandardError)) : [])).ToList();
            var table = new TextTable(["metric", .. models.Select(m => m.Name)]);
            foreach (var name in names)
            {
                table.Add([name, .. models.Select(m => m.Metrics[name] is { IsDefined: true } v
                    ? v.Value.ToString("F4", CultureInfo.InvariantCulture) + (counts[name] is var (p, n) && m.Name != "oracle" ? $" ± {BinaryMetrics.AucStandardError(v.Value, p, n):F4}" : "")
                    : "-")]);
                for (int k = 0; k < references.Count; k++)
                    if (differences[k].Values.Any(d => d.ContainsKey(name)))
                        table.Add([$"  vs {references[k].Name}, paired", .. models.Select(m => differences[k][m.Name].TryGetValue(name, out var d)
                            ? MetricsReport.Difference(d.Difference, d.StandardError) : "-")]);
            }
            table.Add(["seconds", .. models.Select(m => m.Name == "oracle" ? "-" : m.Seconds.ToString("F1", CultureInfo.InvariantCulture))]);
            Console.WriteLine("test split:");
            Console.Write(table.ToString());
            return 0;
        });
        return command;
    }
}
