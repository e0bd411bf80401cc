using System.CommandLine;
using System.Globalization;
using Recommender.Pipeline.Data.Synthetic;
using Recommender.Pipeline.Evaluation;
using Recommender.Pipeline.Jobs;
using Recommender.Trainers.Evaluation;
using Recommender.Trainers.Network;
using Recommender.Trainers.Runtime;
using Recommender.Trainers.Training;

namespace Recommender.Pipeline.Cli;

/// <summary><c>demo</c>: the main job on the embedded default data, end to end.</summary>
internal static class DemoCommand
{
    public static Command Create(CancellationToken cancel)
    {
        var rows = new Option<long>("--rows") { Description = "Rows to generate", DefaultValueFactory = _ => 1_000_000 }.AtLeast(1000);
        var output = new Option<DirectoryInfo>("--out") { Description = "Where the data and the models go", DefaultValueFactory = _ => new DirectoryInfo("models/demo") };
        var epochs = new Option<int>("--epochs") { Description = $"Epochs per model (default {MultiTaskTrainerOptions.Defaults.Epochs})", DefaultValueFactory = _ => MultiTaskTrainerOptions.Defaults.Epochs }.AtLeast(1);
        var threads = new Option<int>("--threads") { Description = "CPU threads (default: one per core)" }.AtLeast(0).AtMost(RuntimeOptions.MaxThreads);
        var command = new Command("demo", "Generate the default e-commerce data, train matrix factorization, SharedBottom and ESMM, evaluate each against the oracle (the true probabilities) side by side, and save the multi-task models")
        {
            rows, output, epochs, threads,
        };
        command.SetAction(result =>
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            string root = result.GetValue(output)!.FullName;
            string dataDir = Path.Combine(root, "data");
            GenerationResult generated;
            using (var bar = new ProgressBar("generate"))
                generated = SyntheticGenerator.Generate(new SyntheticOptions { Rows = result.GetValue(rows), Seed = 42 }, dataDir, (d, t) => bar.Report(d, t));
            Console.WriteLine($"data: {generated.TrainRows:N0} train, {generated.ValidRows:N0} valid, {generated.TestRows:N0} test rows; CTR {generated.Ctr:P2}, CVR given click {generated.CvrGivenClick:P2} ({generated.Seconds:F1} s)");

            var columns = new List<(string Name, MultiTaskMetrics Metrics)> { ("oracle", generated.Oracle) };
            var data = TrainingData.FromDirectory(dataDir);
            var (trainTable, testTable) = (Data.DataLoader.Load(data.Schema, data.Train), Data.DataLoader.Load(data.Schema, data.Test!));
            var (mf, mfSeconds) = MatrixFactorizationBaseline.Run(trainTable, testTable,
                new Recommender.Trainers.MatrixFactorization.MatrixFactorizationOptions { NumberOfThreads = result.GetValue(threads) is > 0 and var t ? t : null });
            Console.WriteLine($"matrix factorization (users x items clicks, rank 8): {mfSeconds:F1} s");
            columns.Add(("MatrixFactorization", mf));
            // What ML.NET already gives a .NET shop, on the same rows: the table says whether the networks are worth it.
            ComparedModel? ffm = null;
            foreach (var baseline in ComparisonJob.Baselines(trainTable, testTable, result.GetValue(threads), m => Console.Error.WriteLine(m)))
            {
                bool isFfm = baseline.Name == ComparisonJob.FieldAwareFactorizationMachine;
                if (isFfm) ffm = baseline;
                Console.WriteLine($"ML.NET {baseline.Name}: {baseline.Seconds:F1} s");
                columns.Add((isFfm ? "ML.NET FFM" : "ML.NET LightGbm", baseline.Metrics));
            }
            var reported = new List<HtmlReport.ModelResult>();
            var paired = new List<string>();
            foreach (var architecture in new[] { MultiTaskArchitecture.SharedBottom, MultiTaskArchitecture.Esmm })
            {
                // The trainer's defaults: the data's click law has attribute crosses and behaviour, which the default
                // interaction blocks and the attention over the histories are for (README, "The default data").
                var options = new MultiTaskTrainerOptions { Architecture = architecture, Epochs = result.GetValue(epochs), Threads = result.GetValue(threads) };
                new EpochTable().Attach(options, architecture.ToString());
                var lossCurve = new List<(double Epoch, double Loss)>();
                var bar = options.Progress;
                (int Step, double Mean) mark = (0, 0);
                options.Progress = (epoch, step, steps, mean) =>
                {
                    bar?.Invoke(epoch, step, steps, mean);
                    if (step < mark.Step) mark = (0, 0); // a new epoch restarts the trainer's running mean
                    if (step % 10 != 0 && step != steps) return;
                    // The trainer reports the mean since the epoch began; the curve shows the mean of the last steps.
                    lossCurve.Add((epoch + step / (double)steps, (mean * step - mark.Mean * mark.Step) / (step - mark.Step)));
                    mark = (step, mean);
                };
                var r = TrainingJob.Run(data, options, Path.Combine(root, architecture.ToString().ToLowerInvariant()), m => Console.Error.WriteLine(m), control: new PublishControl(Cancel: cancel));
                columns.Add((architecture.ToString(), r.Test!));
                // The paired difference from FFM on the same test rows (DeLong), which the AUCs' own standard errors overstate.
                if (ffm?.Predictions is { } f && r.TestPredictions is { } own && r.TestLabels is { } labels && own.Rows == f.Values.First().Length)
                    paired.AddRange(MultiTaskMetrics.AucDifferences(r.Model.Spec.Tasks, own.Columns, f, labels).Where(d => d.Name is "ctr.auc" or "cvr.auc")
                        .Select(d => $"{architecture} {d.Name} {MetricsReport.Difference(d.Difference, d.StandardError)}"));
                reported.Add(new HtmlReport.ModelResult(architecture.ToString(), r.Model.History, lossCurve, r.TestPredictions![TaskList.PCtr], r.TestLabels!["ctr"]));
            }

            Console.WriteLine();
            Console.WriteLine("test split (the latest 10% of days), every model next to the oracle:");
            var table = new TextTable(["metric", .. columns.Select(c => c.Name)]);
            foreach (var (name, _) in generated.Oracle.Items())
                table.Add([name, .. columns.Select(c => c.Metrics.Items().Where(i => i.Name == name).Select(i => i.Value).FirstOrDefault(Metric.Undefined("not predicted")) is { IsDefined: true } m
                    ? m.Value.ToString("F4", CultureInfo.InvariantCulture) : "-")]);
            Console.Write(table.ToString());
            if (paired.Count > 0) Console.WriteLine($"against ML.NET FFM on the same rows (paired, DeLong's standard error): {string.Join("; ", paired)}");
            Console.WriteLine($"report: {HtmlReport.Write(root, columns, reported)}");
            Console.WriteLine($"models published as new versions of the registries under {root} (each version's model.zip loads with ScalarPredictions.Register(mlContext).Model.Load); {clock.Elapsed.TotalSeconds:F0} s in all");
            return 0;
        });
        return command;
    }
}
