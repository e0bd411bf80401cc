using Microsoft.ML;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Data.Synthetic;
using Recommender.Pipeline.Featurization;
using Recommender.Trainers;
using Recommender.Trainers.Training;

namespace Recommender.Tests.Pipeline;

[TestClass]
public sealed class MultiTaskTrainerTests
{
    private static readonly Lazy<(FeatureMatrix Train, FeatureMatrix Valid, int[] Rows, IDataView FeaturizedTrain)> Data = new(() =>
    {
        string dir = Path.Combine(Path.GetTempPath(), "rec-tests-mt-" + Environment.ProcessId);
        SyntheticGenerator.Generate(new SyntheticOptions { Rows = 30_000, Seed = 5 }, dir);
        var ml = new MLContext(seed: 1);
        var schema = DatasetSchema.Load(Path.Combine(dir, "schema.json"));
        var train = DataLoader.Load(schema, Path.Combine(dir, "train.csv"));
        var valid = DataLoader.Load(schema, Path.Combine(dir, "valid.csv"));
        var data = FeaturizedTables.Build(ml, train, valid);
        Directory.Delete(dir, true);
        return (data.Train, data.Others[0], data.FieldRows, data.Featurization.Transform(train.ToDataView()));
    });

    private static MultiTaskTrainerOptions Small(MultiTaskArchitecture a) => new()
    {
        Architecture = a, Epochs = 2, BatchSize = 256, EmbeddingDim = 4, Bottom = [16], Tower = [8], Expert = [8], Experts = 2,
        PleLayers = 1, SharedExperts = 1, TaskExperts = 1, Device = Recommender.Trainers.Runtime.ExecutionDevice.Cpu, Threads = 2, WarmupSteps = 10,
    };

    [TestMethod]
    [DataRow(MultiTaskArchitecture.SharedBottom)]
    [DataRow(MultiTaskArchitecture.Esmm)]
    [DataRow(MultiTaskArchitecture.Mmoe)]
    [DataRow(MultiTaskArchitecture.Ple)]
    public void EveryArchitectureLearnsAndPredictsInRange(MultiTaskArchitecture architecture)
    {
        var (train, valid, rows, _) = Data.Value;
        var losses = new List<double>();
        var options = Small(architecture);
        options.Progress = (_, step, _, loss) => { if (step == 5) losses.Add(loss); };
        var model = MultiTaskTrainer.Train(train, valid, rows, options);
        Assert.AreEqual(2, model.History.Count);
        Assert.IsTrue(model.History[^1].TrainLoss < losses[0], $"{architecture}: loss {losses[0]:F4} early vs {model.History[^1].TrainLoss:F4} at the end");
        // Tiny networks, 24k rows, 2 epochs: clearly above chance (0.5) is what this data allows.
        Assert.IsTrue(model.History.Max(h => h.Validation["ctr.auc"]) > 0.57, $"{architecture}: validation CTR AUC {model.History.Max(h => h.Validation["ctr.auc"])}");
        var p = model.Predict(valid);
        var (pCtr, pCvr, pCtcvr, rating) = (p["PCtr"], p["PCvr"], p["PCtcvr"], p["PredictedRating"]);
        Assert.AreEqual(valid.Rows, pCtr.Length);
        for (int i = 0; i < valid.Rows; i++)
        {
            Assert.IsTrue(pCtr[i] is > 0 and < 1 && pCvr[i] is > 0 and < 1);
            Assert.AreEqual(pCtr[i] * pCvr[i], pCtcvr[i], 1e-6);
            Assert.IsTrue(rating[i] is >= 1 and <= 5);
        }
    }

    [TestMethod]
    public void ASwitchedOffTaskIsNotTrained()
    {
        var (train, _, rows, _) = Data.Value;
        var options = Small(MultiTaskArchitecture.SharedBottom);
        options.CvrWeight = 0;
        options.RatingWeight = 0;
        options.Epochs = 1;
        var model = MultiTaskTrainer.Train(train, null, rows, options);
        CollectionAssert.AreEqual(new[] { "ctr" }, model.History[0].TrainLossTerms.Keys.ToArray());
        // The CVR tower keeps its initial weights: no loss reaches it.
        var initial = MultiTaskTrainer.Define(options, model.Spec).Parameters.Single(p => p.Name == "tower_cvr.0.w").Initial;
        CollectionAssert.AreEqual(initial, model.Parameters["tower_cvr.0.w"]);
    }

    [TestMethod]
    public void MissingLabelsFailBeforeTrainingWithAClearError()
    {
        var (_, _, _, featurized) = Data.Value;
        var ml = new MLContext();
        var noRating = ml.Transforms.DropColumns("Rating").Fit(featurized).Transform(featurized);
        var e = Assert.Throws<ArgumentException>(() => ml.MultiTask().Trainers.SharedBottom(Small(MultiTaskArchitecture.SharedBottom)).Fit(noRating));
        StringAssert.Contains(e.Message, "task 'rating' is on");
        var noClick = ml.Transforms.DropColumns("Click").Fit(featurized).Transform(featurized);
        e = Assert.Throws<ArgumentException>(() => ml.MultiTask().Trainers.Esmm(Small(MultiTaskArchitecture.Esmm)).Fit(noClick));
        StringAssert.Contains(e.Message, "no label column 'Click'");
        var options = Small(MultiTaskArchitecture.SharedBottom);
        options.RatingWeight = 0;
        options.Epochs = 1;
        ml.MultiTask().Trainers.SharedBottom(options).Fit(noRating); // with the task off it trains
    }

    [TestMethod]
    public void ResumingFromACheckpointGivesTheSameModelAsAnUninterruptedRun()
    {
        var (train, valid, rows, _) = Data.Value;
        using var files = new TestFiles();
        var straight = Small(MultiTaskArchitecture.SharedBottom);
        straight.Patience = 0;
        var a = MultiTaskTrainer.Train(train, valid, rows, straight);

        var first = Small(MultiTaskArchitecture.SharedBottom);
        first.Patience = 0;
        first.CheckpointPath = files.Path_("ckpt.bin");
        first.EpochCompleted = r => { if (r.Epoch == 1) throw new OperationCanceledException("simulated crash"); };
        Assert.Throws<OperationCanceledException>(() => MultiTaskTrainer.Train(train, valid, rows, first));
        var resumed = Small(MultiTaskArchitecture.SharedBottom);
        resumed.Patience = 0;
        resumed.CheckpointPath = first.CheckpointPath;
        var b = MultiTaskTrainer.Train(train, valid, rows, resumed);

        Assert.AreEqual(2, b.History.Count);
        foreach (var (name, values) in a.Parameters) CollectionAssert.AreEqual(values, b.Parameters[name], name);
        for (int f = 0; f < a.Tables.Count; f++) CollectionAssert.AreEqual(a.Tables[f], b.Tables[f], $"table {f}");
        Assert.IsFalse(Directory.EnumerateFiles(files.Root, "*.tmp").Any());
    }

    [TestMethod]
    public void LearningRateWarmsUpThenDecays()
    {
        var o = new MultiTaskTrainerOptions { LearningRate = 0.01f, WarmupSteps = 10, Decay = LearningRateDecay.Cosine };
        Assert.AreEqual(0.001f, MultiTaskTrainer.LearningRate(o, 0, 110), 1e-7f);
        Assert.AreEqual(0.01f, MultiTaskTrainer.LearningRate(o, 9, 110), 1e-7f);
        Assert.AreEqual(0.01f, MultiTaskTrainer.LearningRate(o, 10, 110), 1e-7f);
        Assert.AreEqual(0.0055f, MultiTaskTrainer.LearningRate(o, 60, 110), 1e-6f);
        Assert.AreEqual(0.001f, MultiTaskTrainer.LearningRate(o, 110, 110), 1e-7f);
    }
}
