using Microsoft.ML;
using Microsoft.ML.Data;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Data.Synthetic;
using Recommender.Pipeline.Featurization;
using Recommender.Pipeline.Scoring;
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
        SyntheticGenerator.Generate(new SyntheticOptions { Rows = 40_000, Seed = 3 }, dir);

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
        Assert.IsTrue(auc.Value > 0.6, $"CTR AUC {auc}");
        Assert.AreEqual(auc.Value, metrics.CtrAuc!.Value.Value, 1e-12, "the catalog's Evaluate computes the same AUC");
        Assert.IsTrue(metrics.CvrAuc is { IsDefined: true } && metrics.RatingRmse is { IsDefined: true } && metrics.CtrGauc is { IsDefined: true });
        Assert.AreEqual(2, multiTask.Model.History.Count);
        Assert.IsTrue(multiTask.Model.History[0].Validation["ctr_auc"] > 0.55);
        for (int i = 0; i < pCtr.Length; i++) Assert.AreEqual(pCtr[i], again[i], 1e-6f);
        // The ML.NET pipeline (key conversion + ONNX with embedded tables) scores what the trainer's own
        // batched inference scores on the same featurized rows.
        var featurized = featurization.Transform(test.ToDataView());
        var matrix = FeatureMatrix.From(featurized, multiTask.CategoricalColumns, "DenseFeatures", 8);
        var direct = multiTask.Model.Predict(matrix);
        for (int i = 0; i < pCtr.Length; i++) Assert.AreEqual(direct.PCtr[i], pCtr[i], 1e-6f);
        var pRating = ScoredColumns.Read(scored, "PredictedRating");
        for (int i = 0; i < pRating.Length; i++) Assert.AreEqual(direct.PredictedRating[i], pRating[i], 1e-5f);
        Console.WriteLine($"quick start: CTR AUC {auc}");
    }
}
