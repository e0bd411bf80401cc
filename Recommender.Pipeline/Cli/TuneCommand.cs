using System.CommandLine;
using System.Globalization;
using Recommender.Pipeline.Jobs;

namespace Recommender.Pipeline.Cli;

/// <summary><c>tune</c>: choose alpha, beta, gamma (and the learning rate) on the validation set.</summary>
internal static class TuneCommand
{
    public static Command Create()
    {
        var data = new Option<DirectoryInfo>("--data") { Description = "A folder as generate writes it (schema.json, train.csv, valid.csv)", Required = true };
        var alphas = new Option<float[]>("--ctr-weights") { Description = "alpha values (CTR loss weight)", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => [1f] }.AllFinite(0);
        var betas = new Option<float[]>("--cvr-weights") { Description = "beta values (CVR loss weight)", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => [0.5f, 1f, 2f] }.AllFinite(0);
        var gammas = new Option<float[]>("--rating-weights") { Description = "gamma values (rating loss weight)", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => [0.1f, 1f] }.AllFinite(0);
        var rates = new Option<float[]>("--learning-rates") { Description = "Adam learning rates", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => [1e-3f] }.AllFinite(1e-12);
        var trials = new Option<int>("--trials") { Description = "Random search: this many grid points (seeded); 0 = the whole grid", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var metric = new Option<string>("--metric") { Description = "Validation metric to optimize: ctr_auc, ctr_logloss, cvr_auc, ctcvr_auc, rating_rmse", DefaultValueFactory = _ => "cvr_auc" };
        var seed = new Option<int>("--search-seed") { Description = "Seed of the random search", DefaultValueFactory = _ => 1 };
        var trainerArgs = new TrainerArguments();
        var command = new Command("tune", "Search task weights (alpha, beta, gamma) and learning rates on the validation set (grid or seeded random) for a chosen metric; prints every trial and the best")
        {
            data, alphas, betas, gammas, rates, trials, metric, seed,
        };
        trainerArgs.AddTo(command);
        command.SetAction(result =>
        {
            var options = trainerArgs.Build(result, null);
            if (result.GetValue(trainerArgs.Epochs) is null) options.Epochs = 1;
            string m = result.GetValue(metric)!;
            Console.WriteLine($"{"alpha",6} {"beta",6} {"gamma",6} {"lr",8} {m,12}");
            var (best, all) = TuningJob.Run(TrainingData.FromDirectory(result.GetValue(data)!.FullName), options,
                result.GetValue(alphas)!, result.GetValue(betas)!, result.GetValue(gammas)!, result.GetValue(rates)!, result.GetValue(trials), m, result.GetValue(seed),
                t => Console.WriteLine($"{t.CtrWeight,6:G3} {t.CvrWeight,6:G3} {t.RatingWeight,6:G3} {t.LearningRate,8:G3} {t.Metric.ToString("F4", CultureInfo.InvariantCulture),12}"),
                s => Console.Error.WriteLine(s));
            Console.WriteLine($"best of {all.Count}: --ctr-weight {best.CtrWeight} --cvr-weight {best.CvrWeight} --rating-weight {best.RatingWeight} --learning-rate {best.LearningRate} ({m} {best.Metric:F4})");
            return 0;
        });
        return command;
    }
}
