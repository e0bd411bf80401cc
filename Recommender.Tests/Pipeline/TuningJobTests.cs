using Recommender.Pipeline.Data.Synthetic;
using Recommender.Pipeline.Jobs;
using Recommender.Pipeline.Lifecycle;
using Recommender.Trainers.Runtime;
using Recommender.Trainers.Training;

namespace Recommender.Tests.Pipeline;

[TestClass]
public sealed class TuningJobTests
{
    [TestMethod]
    public void SearchTriesTheGridAndPicksTheBestValidationMetric()
    {
        using var files = new TestFiles();
        string dir = Path.Combine(files.Root, "sim");
        SyntheticGenerator.Generate(new SyntheticOptions { Rows = 12_000, Seed = 4 }, dir);
        var options = new MultiTaskTrainerOptions { Epochs = 1, BatchSize = 256, EmbeddingDim = 4, Bottom = [8], Tower = [4], Device = ExecutionDevice.Cpu, Threads = 1 };
        var seen = new List<Trial>();
        var (best, all) = TuningJob.Run(TrainingData.FromDirectory(dir), options, [1f], [0.5f, 2f], [0f, 1f], [1e-3f, 3e-3f], trials: 5,
            metric: "ctr_logloss", seed: 2, seen.Add, _ => { });
        Assert.AreEqual(5, all.Count);
        CollectionAssert.AreEqual(all, seen);
        Assert.AreEqual(all.Min(t => t.Metric), best.Metric); // lower log loss is better
        Assert.AreEqual(5, all.Select(t => (t.CvrWeight, t.RatingWeight, t.LearningRate)).Distinct().Count());
        Assert.Throws<ArgumentException>(() => TuningJob.Run(TrainingData.FromDirectory(dir), options, [1f], [1f], [1f], [1e-3f], 0, "accuracy", 1, _ => { }, _ => { }));
    }
}
