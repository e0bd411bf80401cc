using Recommender.Trainers.Compilation;
using Microsoft.ML;
using Recommender.Pipeline.Cli;
using Recommender.Pipeline.Data.Synthetic;
using Recommender.Pipeline.Jobs;
using Recommender.Trainers;
using Recommender.Trainers.Runtime;
using Recommender.Trainers.Training;

namespace Recommender.Tests.Pipeline;

[TestClass]
[DoNotParallelize] // the CLI case redirects the process-wide console
public sealed class OptionsTests
{
    [TestMethod]
    public void CatalogEstimatorsAndTheTrainingJobCopyTheCallersOptions()
    {
        var ml = new MLContext();
        var options = new MultiTaskTrainerOptions { Bottom = [32] };
        var sharedBottom = ml.MultiTask().Trainers.SharedBottom(options);
        var esmm = ml.MultiTask().Trainers.Esmm(options);
        Assert.AreEqual(MultiTaskArchitecture.SharedBottom, sharedBottom.Options.Architecture, "the first estimator keeps its architecture");
        Assert.AreEqual(MultiTaskArchitecture.Esmm, esmm.Options.Architecture);
        Assert.AreEqual(MultiTaskArchitecture.SharedBottom, options.Architecture, "the caller's options are untouched");
        options.Bottom[0] = 64;
        Assert.AreEqual(32, sharedBottom.Options.Bottom[0], "arrays are copied too");

        using var files = new TestFiles();
        SyntheticGenerator.Generate(new SyntheticOptions { Rows = 3_000, Seed = 41 }, files.Path_("sim"));
        var job = new MultiTaskTrainerOptions { Epochs = 1, BatchSize = 256, EmbeddingDim = 4, Bottom = [8], Tower = [4], Device = ExecutionDevice.Cpu, Threads = 1, DenseColumn = "Untouched" };
        using var cancel = new CancellationTokenSource();
        TrainingJob.Run(TrainingData.FromDirectory(files.Path_("sim")) with { Test = null }, job, files.Path_("reg"), _ => { }, control: new PublishControl(Cancel: cancel.Token));
        Assert.AreEqual("Untouched", job.DenseColumn, "the job sets the dense column on its own copy");
        Assert.IsNull(job.Tasks, "the job resolves the schema's tasks into its own copy");
        Assert.IsFalse(job.Cancellation.CanBeCanceled, "the job's cancellation stays in its own copy");
    }

    [TestMethod]
    public void TheDenseOptimizerSettingsReachTheTrainStep()
    {
        var rng = new Random(2);
        int rows = 256;
        var ids = Enumerable.Range(0, rows * 2).Select(i => 1 + rng.Next(9)).ToArray();
        var click = Enumerable.Range(0, rows).Select(r => (float)((ids[2 * r] + ids[2 * r + 1]) % 2)).ToArray();
        var data = FeatureMatrix.FromArrays(rows, 2, 0, ids, [], [click, null, null]);
        TrainedMultiTaskModel Train(Action<MultiTaskTrainerOptions> set)
        {
            var o = new MultiTaskTrainerOptions { Epochs = 1, BatchSize = 64, EmbeddingDim = 2, Bottom = [4], Tower = [2], CvrWeight = 0, RatingWeight = 0, WarmupSteps = 0,
                EmbeddingLearningRate = 0, Device = ExecutionDevice.Cpu, Threads = 1, LearningRate = 0.1f };
            set(o);
            return MultiTaskTrainer.Train(data, null, [10, 10], o);
        }
        var initial = Train(o => o.LearningRate = 0).Parameters;
        double Moved(TrainedMultiTaskModel m) => m.Parameters.Sum(p => p.Value.Zip(initial[p.Key], (a, b) => Math.Abs(a - b)).Sum());
        var adam = Train(_ => { });
        Assert.AreEqual(2, adam.State!.OptimizerState["bottom.0.w"].Length, "Adam keeps two moments");
        var sgd = Train(o => { o.Optimizer = DenseOptimizerKind.Sgd; o.Momentum = 0; });
        Assert.AreEqual(0, sgd.State!.OptimizerState["bottom.0.w"].Length, "plain SGD keeps no state");
        Assert.AreEqual(1, Train(o => o.Optimizer = DenseOptimizerKind.Sgd).State!.OptimizerState["bottom.0.w"].Length, "SGD with momentum keeps its buffer");
        var clipped = Train(o => { o.Optimizer = DenseOptimizerKind.Sgd; o.Momentum = 0; o.GradientClipNorm = 1e-6f; });
        Assert.IsTrue(Moved(clipped) < 4 * 0.1 * 1e-6 * 20, $"4 steps of at most lr x 1e-6 each, summed over ~20 parameter tensors: moved {Moved(clipped):E2}");
        Assert.IsTrue(Moved(sgd) > 100 * Moved(clipped), "unclipped SGD moves far more");
        // AdamW's decoupled decay shrinks every weight by lr x wd per step on top of Adam's update.
        var decayed = Train(o => { o.Optimizer = DenseOptimizerKind.AdamW; o.WeightDecay = 0.5f; });
        Assert.IsTrue(decayed.Parameters["bottom.0.w"].Sum(Math.Abs) < adam.Parameters["bottom.0.w"].Sum(Math.Abs), "decay pulls the weights toward 0");
        Assert.Throws<ArgumentException>(() => Train(o => o.Momentum = 1));
        Assert.Throws<ArgumentException>(() => Train(o => o.WeightDecay = float.NaN));
    }

    [TestMethod]
    public void ExperimentFilesNameEnumOptionsAndABadValueIsOneLine()
    {
        using var files = new TestFiles();
        SyntheticGenerator.Generate(new SyntheticOptions { Rows = 3_000, Seed = 42 }, files.Path_("sim"));
        string Experiment(string architecture) => files.Write($"exp-{architecture}.json",
            "{\"data\": {\"train\": \"sim/train.csv\"}, \"schemaFile\": \"sim/schema.json\", \"trainer\": {\"architecture\": \"" + architecture
            + "\", \"epochs\": 1, \"batchSize\": 256, \"embeddingDim\": 4, \"bottom\": [8], \"tower\": [4], \"expert\": [8], \"experts\": 2, \"threads\": 1, \"device\": \"Cpu\"}}");
        var (oldOut, oldError) = (Console.Out, Console.Error);
        var error = new StringWriter();
        Console.SetOut(new StringWriter());
        Console.SetError(error);
        try
        {
            Assert.AreEqual(0, CliApp.Run(["train", "--experiment", Experiment("Mmoe"), "--out", files.Path_("mmoe")]), error.ToString());
            Assert.AreEqual(2, CliApp.Run(["train", "--experiment", Experiment("Transformer"), "--out", files.Path_("bad")]));
            StringAssert.Contains(error.ToString(), "error: experiment trainer option 'architecture': \"Transformer\" is not a MultiTaskArchitecture");
        }
        finally { Console.SetOut(oldOut); Console.SetError(oldError); }
        StringAssert.Contains(File.ReadAllText(Path.Combine(files.Path_("mmoe"), "v1", "model.json")), "\"architecture\": \"Mmoe\"");
    }

    [TestMethod]
    public void RoleOptionsChangeTheSchemaOfADataFolder()
    {
        // With --data DIR the role options were once ignored without a word: --skip-bad-rows did not skip and a rating range
        // did not apply. They change the folder's schema.json as they change a --schema file.
        using var files = new TestFiles();
        string sim = files.Path_("sim");
        SyntheticGenerator.Generate(new SyntheticOptions { Rows = 3_000, Seed = 43 }, sim);
        var trainLines = File.ReadAllLines(Path.Combine(sim, "train.csv"));
        int lines = trainLines.Length, rating = Array.IndexOf(trainLines[0].Split(','), "rating");
        // Under --rating-max 4.5 a rating of 5 is a bad row too.
        int fives = trainLines.Skip(1).Count(l => l.Split(',')[rating] == "5");
        File.AppendAllText(Path.Combine(sim, "train.csv"), "1,2,3\n");
        string[] common = ["train", "--data", sim, "--epochs", "1", "--batch-size", "256", "--embedding-dim", "4", "--interactions", "None", "--threads", "1", "--device", "Cpu"];
        var (code, _, error) = CliRunner.Run([.. common, "--out", files.Path_("strict")]);
        Assert.AreEqual(2, code, error);
        StringAssert.Contains(error, $"train.csv:{lines + 1}:");
        (code, _, error) = CliRunner.Run([.. common, "--out", files.Path_("lenient"), "--skip-bad-rows", "--rating-max", "4.5"]);
        Assert.AreEqual(0, code, error);
        StringAssert.Contains(error, $"{1 + fives} malformed skipped");
        var schema = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(files.Path_("lenient"), "v1", "model.json"))).RootElement.GetProperty("schema");
        Assert.IsTrue(schema.GetProperty("skipBadRows").GetBoolean());
        Assert.AreEqual(4.5, schema.GetProperty("ratingMax").GetDouble());
        (code, _, error) = CliRunner.Run([.. common, "--out", files.Path_("both"), "--schema", Path.Combine(sim, "schema.json")]);
        Assert.AreEqual(2, code, error);
        StringAssert.Contains(error, "--data DIR brings its own schema.json");
    }
}

[TestClass]
public sealed class CatalogShapeTests
{
    [TestMethod]
    public void SimpleArgumentOverloadsSetTheirOptionsAndLeaveTheRestAtDefaults()
    {
        var ml = new MLContext();
        var estimator = ml.MultiTask().Trainers.Esmm(clickColumnName: "Clicked", epochs: 3, learningRate: 0.01f);
        Assert.AreEqual(MultiTaskArchitecture.Esmm, estimator.Options.Architecture);
        Assert.AreEqual("Clicked", estimator.Options.ClickColumn);
        Assert.AreEqual(3, estimator.Options.Epochs);
        Assert.AreEqual(0.01f, estimator.Options.LearningRate);
        Assert.AreEqual(MultiTaskTrainerOptions.Defaults.BatchSize, estimator.Options.BatchSize);
        Assert.AreEqual(MultiTaskArchitecture.SharedBottom, ml.MultiTask().Trainers.SharedBottom().Options.Architecture);
    }
}
