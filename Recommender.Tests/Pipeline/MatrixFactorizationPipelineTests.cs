using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Recommender.Pipeline.Cli;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Scoring;
using Recommender.Trainers;
using Recommender.Trainers.MatrixFactorization;

namespace Recommender.Tests.Pipeline;

[TestClass]
public sealed class MatrixFactorizationPipelineTests
{
    [TestMethod]
    public void MapValueToKeyThenMatrixFactorizationSavesLoadsAndScoresIdenticallyInANewProcess()
    {
        using var files = new TestFiles();
        var rng = new Random(6);
        var lines = new List<string> { "userId,movieId,rating,timestamp" };
        for (int n = 0; n < 3000; n++)
        {
            int u = rng.Next(60), m = rng.Next(80);
            double r = Math.Clamp(Math.Round((3 + (u % 3) - (m % 4) * 0.5 + rng.NextDouble()) * 2) / 2, 0.5, 5);
            lines.Add($"{u},{m},{r.ToString(CultureInfo.InvariantCulture)},{1000 + n}");
        }
        string train = files.Write("ratings.csv", string.Join('\n', lines) + "\n");
        string test = files.Write("test.csv", "userId,movieId,rating,timestamp\n1,2,3,5\n999,2,3,5\n4,9999,2,5\n7,7,4.5,5\n");
        var schema = new DatasetSchema { Format = DataFormat.MovieLens };
        string schemaPath = files.Path_("schema.json");
        schema.Save(schemaPath);

        var ml = new MLContext(seed: 1);
        var data = DataLoader.Load(schema, train).ToDataView();
        var pipeline = ml.Transforms.Conversion.MapValueToKey("UserId")
            .Append(ml.Transforms.Conversion.MapValueToKey("ItemId"))
            .Append(ml.Recommendation().Trainers.MatrixFactorization(new MatrixFactorizationOptions
            {
                LabelColumnName = "Rating", MatrixRowIndexColumnName = "UserId", MatrixColumnIndexColumnName = "ItemId", NumberOfThreads = 1,
            }));
        var model = pipeline.Fit(data);
        string zip = files.Path_("mf.zip");
        ml.Model.Save(model, data.Schema, zip);

        var testData = DataLoader.Load(schema, test).ToDataView();
        var expected = ScoredColumns.Read(model.Transform(testData), "Score");
        Assert.IsTrue(float.IsFinite(expected[0]) && float.IsFinite(expected[3]));
        Assert.IsTrue(float.IsNaN(expected[1]), "an unknown user scores NaN");
        Assert.IsTrue(float.IsNaN(expected[2]), "an unknown item scores NaN");

        string predictions = files.Path_("scores.csv");
        var start = new ProcessStartInfo("dotnet", ["exec", typeof(CliApp).Assembly.Location, "predict", "--model", zip, "--schema", schemaPath,
            "--data", test, "--out", predictions, "--columns", "Score"]) { RedirectStandardError = true, RedirectStandardOutput = true };
        using var process = Process.Start(start)!;
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.AreEqual(0, process.ExitCode, error);
        var actual = File.ReadAllLines(predictions).Skip(1).Select(l => float.Parse(l, CultureInfo.InvariantCulture)).ToArray();
        Assert.AreEqual(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.IsTrue(float.IsNaN(expected[i]) ? float.IsNaN(actual[i]) : Math.Abs(expected[i] - actual[i]) <= 1e-6f, $"row {i}: {expected[i]} vs {actual[i]}");

        // The tutorial idiom: a prediction engine with a float Score property, on a model loaded by a fresh context.
        var fresh = ScalarPredictions.Register(new MLContext());
        var loaded = fresh.Model.Load(zip, out _);
        Assert.AreEqual(Microsoft.ML.Data.NumberDataViewType.Single, loaded.GetOutputSchema(data.Schema)["Score"].Type);
        var engine = fresh.Model.CreatePredictionEngine<MovieRating, MovieScore>(loaded);
        Assert.AreEqual(expected[3], engine.Predict(new MovieRating { UserId = "7", ItemId = "7" }).Score, 1e-6f);
    }

    private sealed class MovieRating
    {
        public string UserId { get; set; } = "";
        public string ItemId { get; set; } = "";
        public float Rating { get; set; }
    }

    private sealed class MovieScore
    {
        public float Score { get; set; }
    }
}
