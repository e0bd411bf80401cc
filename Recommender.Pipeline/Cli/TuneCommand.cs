using System.CommandLine;
using System.Globalization;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Jobs;

namespace Recommender.Pipeline.Cli;

/// <summary><c>tune</c>: choose task weights (and the learning rate) on the validation set, with intervals.</summary>
internal static class TuneCommand
{
    public static Command Create()
    {
        var data = new Option<DirectoryInfo>("--data") { Description = "A folder as generate writes it (schema.json, train.csv, valid.csv)", Required = true };
        var weights = new Option<string[]>("--weights") { Description = "Candidate weights of a task, repeatable: task=w1,w2,... (any declared task; the default chain's are ctr, cvr, rating)", AllowMultipleArgumentsPerToken = true };
        var alphas = new Option<float[]>("--ctr-weights") { Description = "The default chain: alpha values (same as --weights ctr=...)", AllowMultipleArgumentsPerToken = true }.AllFinite(0);
        var betas = new Option<float[]>("--cvr-weights") { Description = "The default chain: beta values", AllowMultipleArgumentsPerToken = true }.AllFinite(0);
        var gammas = new Option<float[]>("--rating-weights") { Description = "The default chain: gamma values", AllowMultipleArgumentsPerToken = true }.AllFinite(0);
        var rates = new Option<float[]>("--learning-rates") { Description = "Adam learning rates", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => [1e-3f] }.AllFinite(1e-12);
        var trials = new Option<int>("--trials") { Description = "Random search: this many grid points (seeded) besides the default; 0 = the whole grid", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var metric = new Option<string?>("--metric") { Description = "Validation metric to optimize, task.metric (default: the first binary task's auc)" };
        var resamples = new Option<int>("--resamples") { Description = "Bootstrap resamples of the validation rows for the intervals", DefaultValueFactory = _ => 200 }.AtLeast(20);
        var seed = new Option<int>("--search-seed") { Description = "Seed of the random search and the resamples", DefaultValueFactory = _ => 1 };
        var trainerArgs = new TrainerArguments();
        var command = new Command("tune", "Search task weights and learning rates on the validation set (grid or seeded random): every trial's metric with a 95% bootstrap interval and its paired difference from the default; a trial wins only if its interval does not overlap the default's")
        {
            data, weights, alphas, betas, gammas, rates, trials, metric, resamples, seed,
        };
        trainerArgs.AddTo(command);
        command.SetAction(result =>
        {
            var options = trainerArgs.Build(result, null);
            if (result.GetValue(trainerArgs.Epochs) is null) options.Epochs = 1;
            var grid = new Dictionary<string, float[]>();
            foreach (var (task, values) in new[] { ("ctr", result.GetValue(alphas)), ("cvr", result.GetValue(betas)), ("rating", result.GetValue(gammas)) })
                if (values is { Length: > 0 }) grid[task] = values;
            foreach (var spec in result.GetValue(weights) ?? [])
            {
                var parts = spec.Split('=', 2);
                var values = parts.Length == 2 ? parts[1].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) : [];
                if (parts.Length != 2 || parts[0].Length == 0 || values.Length == 0) throw new SchemaException($"--weights '{spec}': expected task=w1,w2,...");
                grid[parts[0]] = values.Select(v => float.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out float w) && float.IsFinite(w) && w >= 0 ? w
                    : throw new SchemaException($"--weights '{spec}': '{v}' is not a finite number >= 0")).ToArray();
            }
            var training = TrainingData.FromDirectory(result.GetValue(data)!.FullName);
            if (grid.Count == 0 && result.GetValue(rates)!.Length < 2)
            {
                if (training.Schema.Tasks is not null) throw new SchemaException("nothing to search: give --weights task=w1,w2,... or several --learning-rates");
                (grid["cvr"], grid["rating"]) = ([0.5f, 1f, 2f], [0.1f, 1f]); // the default chain's usual grid
            }
            var columns = grid.Keys.ToArray();
            bool header = false;
            var r = TuningJob.Run(training, options, grid, result.GetValue(rates)!, result.GetValue(trials), result.GetValue(metric), result.GetValue(seed), result.GetValue(resamples),
                t =>
                {
                    if (!header)
                    {
                        Console.WriteLine(string.Join(" ", columns.Select(c => c.PadLeft(8))) + $" {"lr",8} {"metric",8} {"95% interval",17} {"vs default",17}");
                        header = true;
                    }
                    string F(double v) => v.ToString("F4", CultureInfo.InvariantCulture);
                    Console.WriteLine(string.Join(" ", columns.Select(c => t.Weights[c].ToString("G3", CultureInfo.InvariantCulture).PadLeft(8)))
                        + $" {t.LearningRate,8:G3} {F(t.Metric),8} {$"[{F(t.Low)}, {F(t.High)}]",17} {(t.IsDefault ? "default" : $"[{(t.DifferenceLow >= 0 ? "+" : "")}{F(t.DifferenceLow)}, {(t.DifferenceHigh >= 0 ? "+" : "")}{F(t.DifferenceHigh)}]"),17}");
                },
                s => Console.Error.WriteLine(s));
            string Flags(Trial t) => string.Join(" ", columns.Select(c => $"{c}={t.Weights[c].ToString(CultureInfo.InvariantCulture)}")) + $", learning rate {t.LearningRate.ToString(CultureInfo.InvariantCulture)}";
            Console.WriteLine(r.Best.IsDefault
                ? $"no trial of {r.All.Count - 1} beats the default beyond the noise ({r.Metric} {r.Default.Metric:F4}, 95% interval [{r.Default.Low:F4}, {r.Default.High:F4}]): keep the default"
                : $"best of {r.All.Count - 1}: {Flags(r.Best)} ({r.Metric} {r.Best.Metric:F4}, {(r.Best.DifferenceLow >= 0 ? "+" : "")}{r.Best.DifferenceLow:F4} to {(r.Best.DifferenceHigh >= 0 ? "+" : "")}{r.Best.DifferenceHigh:F4} over the default)");
            return 0;
        });
        return command;
    }
}
