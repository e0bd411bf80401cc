using Recommender.Pipeline.Data.Synthetic;
using Recommender.Pipeline.Jobs;
using Recommender.Trainers.Runtime;
using Recommender.Trainers.Training;

namespace Recommender.Tests.Pipeline;

[TestClass]
public sealed class TuningJobTests
{
    [TestMethod]
    public void SearchMeasuresEveryTrialAgainstTheDefaultAndPicksOnlyBeyondTheNoise()
    {
        using var files = new TestFiles();
        string dir = Path.Combine(files.Root, "sim");
        SyntheticGenerator.Generate(new SyntheticOptions { Rows = 12_000, Seed = 4, Funnel = true, Favourite = true }, dir);
        var options = new MultiTaskTrainerOptions { Epochs = 1, BatchSize = 256, EmbeddingDim = 4, Bottom = [8], Tower = [4], Device = ExecutionDevice.Cpu, Threads = 1 };
        var seen = new List<Trial>();
        // Any declared task's weight; a learning rate of 1e-7 cannot learn in one epoch, so it must lose to the default.
        var r = TuningJob.Run(TrainingData.FromDirectory(dir), options, new Dictionary<string, float[]> { ["favourite"] = [0.5f, 2f], ["cart"] = [0f] },
            [1e-3f, 1e-7f], trials: 3, metric: "click.logloss", seed: 2, resamples: 50, seen.Add, _ => { });
        Assert.AreEqual(4, r.All.Count, "the default and 3 sampled grid points");
        CollectionAssert.AreEqual(r.All.ToList(), seen);
        Assert.IsTrue(r.All[0].IsDefault && r.All[0].LearningRate == 1e-3f && r.All[0].Weights["favourite"] == 1f && r.All[0].Weights["cart"] == 1f);
        Assert.AreEqual("click.logloss", r.Metric);
        foreach (var t in r.All)
        {
            Assert.IsTrue(t.Low <= t.Metric && t.Metric <= t.High, $"the point estimate {t.Metric} lies in its interval [{t.Low}, {t.High}]");
            Assert.AreEqual(1f, t.Weights["click"], "tasks not searched keep their weight");
        }
        Assert.AreEqual(0.0, r.All[0].DifferenceLow, 1e-12, "the default differs from itself by nothing");
        // Lower log loss is better: a winner's interval lies wholly below the default's; otherwise the default stays.
        Assert.IsTrue(r.Best.IsDefault || r.Best.High < r.Default.Low);
        foreach (var slow in r.All.Where(t => t.LearningRate == 1e-7f)) Assert.AreNotSame(slow, r.Best);
        Assert.Throws<ArgumentException>(() => TuningJob.Run(TrainingData.FromDirectory(dir), options, new Dictionary<string, float[]>(), [1e-3f], 0, "click.accuracy", 1, 50, _ => { }, _ => { }));
        StringAssert.Contains(Assert.Throws<ArgumentException>(() => TuningJob.Run(TrainingData.FromDirectory(dir), options,
            new Dictionary<string, float[]> { ["ctr"] = [1f] }, [1e-3f], 0, null, 1, 50, _ => { }, _ => { })).Message, "the tasks are click, cart, purchase, rating, favourite");
    }
}
