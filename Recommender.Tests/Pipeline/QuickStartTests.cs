using Microsoft.ML;
using Microsoft.ML.Data;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Data.Synthetic;
using Recommender.Pipeline.Featurization;
using Recommender.Trainers;
using Recommender.Trainers.Evaluation;
using Recommender.Trainers.Training;

namespace Recommender.Tests.Pipeline;

[TestClass]
public sealed class QuickStartTests
{
    [TestMethod]
    public void QuickStart()
    {
        using var files = new TestFiles();
        string dir = Path.Combine(files.Root, "sim");
        string modelPath = Path.Combine(files.Root, "model.zip");
        // The plain columns: ImpressionRow below carries no behaviour sequences (a model with histories takes their positions too).
        SyntheticGenerator.Generate(SyntheticOptions.Plain(40_000, 3), dir);

        // README quick start, from here
        var ml = new MLContext(seed: 1);
        var schema = DatasetSchema.Load(Path.Combine(dir, "schema.json"));
        var train = DataLoader.Load(schema, Path.Combine(dir, "train.csv")).ToDataView();
        var valid = DataLoader.Load(schema, Path.Combine(dir, "valid.csv")).ToDataView();
        var test = DataLoader.Load(schema, Path.Combine(dir, "test.csv"));

        var (featurizer, _) = SchemaFeaturizer.Create(ml, test.Schema, train);
        var featurization = featurizer.Fit(train);
        var trainer = ml.MultiTask().Trainers.SharedBottom(new MultiTaskTrainerOptions
        {
            Epochs = 2, BatchSize = 512, EmbeddingDim = 8, Bottom = [64, 32], Tower = [16],
        });
        var multiTask = trainer.Fit(featurization.Transform(train), featurization.Transform(valid));
        var model = new TransformerChain<ITransformer>(featurization, multiTask);

        var scored = model.Transform(test.ToDataView());
        var pCtr = ScoredColumns.Read(scored, "PCtr");
        var auc = BinaryMetrics.Auc(pCtr, test.GetNumbers("Click"));
        var metrics = ml.MultiTask().Evaluate(scored, groupColumnName: "UserId");   // every task, as ML.NET's catalogs evaluate

        ml.Model.Save(model, train.Schema, modelPath);
        var loaded = ml.Model.Load(modelPath, out _);
        var again = ScoredColumns.Read(loaded.Transform(test.ToDataView()), "PCtr");
        // to here

        Assert.AreEqual(test.RowCount, pCtr.Length);
        // The tutorial idiom on the loaded model: a prediction engine whose outputs are float properties.
        var fresh = ScalarPredictions.Register(new MLContext());
        var reloaded = fresh.Model.Load(modelPath, out _);
        var engine = fresh.Model.CreatePredictionEngine<ImpressionRow, MultiTaskPrediction>(reloaded);
        var predicted = engine.Predict(ImpressionRow.FromCsv(File.ReadLines(Path.Combine(dir, "test.csv")).Skip(1).First()));
        Assert.AreEqual(pCtr[0], predicted.PCtr, 1e-6f);
        Assert.IsTrue(predicted.PCtcvr > 0 && predicted.PCtcvr <= predicted.PCtr);
        Assert.IsTrue(auc.Value > 0.6, $"CTR AUC {auc}");
        Assert.AreEqual(auc.Value, metrics["ctr.auc"]!.Value.Value, 1e-12, "the catalog's Evaluate computes the same AUC");
        Assert.AreEqual(auc.Value, metrics["ctr_auc"]!.Value.Value, 1e-12, "the old name reads the same metric");
        Assert.IsTrue(metrics["cvr.auc"] is { IsDefined: true } && metrics["rating.rmse"] is { IsDefined: true } && metrics["ctr.gauc"] is { IsDefined: true });
        Assert.AreEqual(2, multiTask.Model.History.Count);
        Assert.IsTrue(multiTask.Model.History[0].Validation["ctr.auc"] > 0.55);
        for (int i = 0; i < pCtr.Length; i++) Assert.AreEqual(pCtr[i], again[i], 1e-6f);
        // The ML.NET pipeline (key conversion + ONNX with embedded tables) scores what the trainer's own
        // batched inference scores on the same featurized rows.
        var featurized = featurization.Transform(test.ToDataView());
        var matrix = FeatureMatrix.From(featurized, multiTask.CategoricalColumns, "DenseFeatures", 8, []);
        var direct = multiTask.Model.Predict(matrix);
        for (int i = 0; i < pCtr.Length; i++) Assert.AreEqual(direct["PCtr"][i], pCtr[i], 1e-6f);
        var pRating = ScoredColumns.Read(scored, "PredictedRating");
        for (int i = 0; i < pRating.Length; i++) Assert.AreEqual(direct["PredictedRating"][i], pRating[i], 1e-5f);
        Console.WriteLine($"quick start: CTR AUC {auc}");
    }

    // The generated files' columns as the loader names them (user and item under their roles' names).
#pragma warning disable IDE1006 // the properties carry the files' column names
    internal sealed class ImpressionRow
    {
        public string UserId = "", ItemId = "", age = "", gender = "", city = "", occupation = "", consumption = "";
        public string category = "", brand = "", shop = "", price_bucket = "", position = "", hour = "", weekday = "", device = "", channel = "";
        public float user_hist_ctr, user_orders, item_hist_ctr, item_price, item_review_score, item_sales, user_category_affinity, recency_days;

        /// <summary>The features of a line of a generated file (its first 24 fields).</summary>
        public static ImpressionRow FromCsv(string line)
        {
            var f = line.Split(',');
            float F(int i) => f[i].Length == 0 ? float.NaN : float.Parse(f[i], System.Globalization.CultureInfo.InvariantCulture);
            return new ImpressionRow
            {
                UserId = f[0], age = f[1], gender = f[2], city = f[3], occupation = f[4], consumption = f[5], ItemId = f[6], category = f[7],
                brand = f[8], shop = f[9], price_bucket = f[10], position = f[11], hour = f[12], weekday = f[13], device = f[14], channel = f[15],
                user_hist_ctr = F(16), user_orders = F(17), item_hist_ctr = F(18), item_price = F(19), item_review_score = F(20), item_sales = F(21), user_category_affinity = F(22), recency_days = F(23),
            };
        }
    }
#pragma warning restore IDE1006

    private sealed class MultiTaskPrediction
    {
        public float PCtr { get; set; }
        public float PCvr { get; set; }
        public float PCtcvr { get; set; }
        public float PredictedRating { get; set; }
    }
}
