using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.ML;
using Recommender.Pipeline.Cli;
using Recommender.Trainers;

namespace Recommender.Tests.Pipeline;

/// <summary>Matrix factorization as a model of its own from the command line: ratings, cross-validation, evaluation, ranking, ML.NET loading.</summary>
[TestClass]
[DoNotParallelize] // redirects the process-wide console
public sealed class MatrixFactorizationCliTests
{
    private static (int Code, string Out, string Error) Run(params string[] args) => CliRunner.Run(args);

    // Ratings of a planted rank-2 taste model: 80 users x 50 items, 60% observed, 1-5 stars with a little noise.
    private static (string Train, string Test, double GlobalMeanRmse) Ratings(TestFiles files)
    {
        var rng = new Random(5);
        double[][] U = Enumerable.Range(0, 80).Select(_ => new[] { rng.NextDouble() * 2 - 1, rng.NextDouble() * 2 - 1 }).ToArray();
        double[][] V = Enumerable.Range(0, 50).Select(_ => new[] { rng.NextDouble() * 2 - 1, rng.NextDouble() * 2 - 1 }).ToArray();
        var train = new List<string> { "user,movie,stars" };
        var test = new List<string> { "user,movie,stars" };
        var testStars = new List<double>();
        for (int u = 0; u < U.Length; u++)
            for (int i = 0; i < V.Length; i++)
            {
                if (rng.NextDouble() > 0.6) continue;
                double stars = Math.Clamp(Math.Round(3 + 1.6 * (U[u][0] * V[i][0] + U[u][1] * V[i][1]) * 2 + 0.3 * (rng.NextDouble() - 0.5)), 1, 5);
                string line = $"u{u},m{i},{stars.ToString(CultureInfo.InvariantCulture)}";
                if (rng.NextDouble() < 0.15) { test.Add(line); testStars.Add(stars); } else train.Add(line);
            }
        double mean = train.Skip(1).Average(l => double.Parse(l.Split(',')[2], CultureInfo.InvariantCulture));
        return (files.Write("train.csv", string.Join('\n', train) + "\n"), files.Write("test.csv", string.Join('\n', test) + "\n"),
            Math.Sqrt(testStars.Average(s => (s - mean) * (s - mean))));
    }

    [TestMethod]
    public void RatingsTrainCrossValidateEvaluateAndLoadInMlNet()
    {
        using var files = new TestFiles();
        var (train, test, meanRmse) = Ratings(files);
        string registry = files.Path_("mf");
        var (code, output, error) = Run("train", "--trainer", "MatrixFactorization", "--train", train, "--test", test, "--user", "user", "--item", "movie", "--rating", "stars",
            "--mf-rank", "4", "--mf-iterations", "200", "--mf-lambda", "0.05", "--mf-learning-rate", "0.1", "--folds", "3", "--threads", "1", "--out", registry);
        Assert.AreEqual(0, code, error);
        StringAssert.Contains(output, "3-fold cross-validation");
        double Value(string text, string metric, int column = 1) =>
            double.Parse(text.Split('\n').First(l => l.StartsWith(metric + " ")).Split(' ', StringSplitOptions.RemoveEmptyEntries)[column], CultureInfo.InvariantCulture);
        double cvRmse = Value(output, "rating.rmse"), testRmse = Value(output[output.IndexOf("test split:")..], "rating.rmse");
        Assert.IsTrue(testRmse < 0.5 * meanRmse, $"the factorization learns the planted tastes: test RMSE {testRmse:F3} against the global mean's {meanRmse:F3}");
        Assert.IsTrue(cvRmse < 0.6 * meanRmse, $"cross-validated RMSE {cvRmse:F3}");
        var model = JsonNode.Parse(File.ReadAllText(Path.Combine(registry, "v1", "model.json")))!;
        Assert.AreEqual("MatrixFactorization", model["architecture"]!.GetValue<string>());
        Assert.AreEqual("Score", model["onnxOutputs"]![0]!.GetValue<string>());

        // evaluate scores the labels file through the bundle and reports the same RMSE as training's test split.
        var (evalCode, evalOut, evalError) = Run("evaluate", "--model", registry, "--labels", test, "--json");
        Assert.AreEqual(0, evalCode, evalError);
        Assert.AreEqual(testRmse, JsonNode.Parse(evalOut)!["metrics"]!["rating.rmse"]!.GetValue<double>(), 1e-4);

        // The tutorial idiom: a prediction engine with a float Score on the bundle's model.zip in a fresh context.
        var ml = ScalarPredictions.Register(new MLContext());
        var loaded = ml.Model.Load(Path.Combine(registry, "v1", "model.zip"), out _);
        var engine = ml.Model.CreatePredictionEngine<Rated, Predicted>(loaded);
        var first = File.ReadLines(test).Skip(1).First().Split(',');
        float score = engine.Predict(new Rated { UserId = first[0], ItemId = first[1] }).Score;
        Assert.IsTrue(score is > 0 and < 6, $"a rating-like score {score}");
        Assert.IsTrue(float.IsNaN(engine.Predict(new Rated { UserId = "nobody", ItemId = first[1] }).Score), "an unknown user scores NaN, as ML.NET's factorization does");

        // Ranking metrics of the bundle's recommendations next to popularity.
        var (rankCode, rankOut, rankError) = Run("evaluate", "--model", registry, "--labels", test, "--top-k", "5", "--relevance-threshold", "4", "--json");
        Assert.AreEqual(0, rankCode, rankError);
        var ranking = JsonNode.Parse(rankOut)!;
        Assert.IsTrue(ranking["users"]!.GetValue<int>() > 20);
        Assert.IsTrue(ranking["model"]!["ndcg"]!.GetValue<double>() > ranking["popularity"]!["ndcg"]!.GetValue<double>(),
            $"personal tastes rank better than popularity: {ranking["model"]} against {ranking["popularity"]}");
    }

    [TestMethod]
    public void MatrixFactorizationNeedsItsRolesAndSaysSoInOneLine()
    {
        using var files = new TestFiles();
        string data = files.Write("d.csv", "user,movie,stars\nu1,m1,4\nu2,m1,3\n");
        var (code, _, error) = Run("train", "--trainer", "MatrixFactorization", "--train", data, "--user", "user", "--rating", "stars", "--out", files.Path_("m"));
        Assert.AreEqual(2, code);
        StringAssert.StartsWith(error.Trim().Split('\n')[^1], "error: matrix factorization needs the user and item roles");
        (code, _, error) = Run("train", "--trainer", "MatrixFactorization", "--train", data, "--user", "user", "--item", "movie", "--rating", "stars", "--folds", "1", "--out", files.Path_("m"));
        Assert.AreEqual(2, code);
        StringAssert.Contains(error, "--folds");
    }

#pragma warning disable IDE1006 // the properties carry the table's column names
    private sealed class Rated
    {
        public string UserId { get; set; } = "";
        public string ItemId { get; set; } = "";
    }

    private sealed class Predicted
    {
        public float Score { get; set; }
    }
#pragma warning restore IDE1006
}
