using Recommender.Trainers.Evaluation;
using Recommender.Trainers.Network;
using Recommender.Trainers.Runtime;
using Recommender.Trainers.Training;

namespace Recommender.Tests.Trainers;

/// <summary>
/// Three-field click data whose click law reads fields 0 and 1 only (field 2 is noise), for the pairwise interaction
/// blocks: 12,000 rows, the first 10,000 to train and the rest to test; ids are 1..values (0 stays the unknown id).
/// </summary>
internal static class PairwiseClicks
{
    /// <summary>The data of the click logit <paramref name="law"/> builds (drawing its parameters from the generator first).</summary>
    public static (FeatureMatrix Train, FeatureMatrix Test) Make(int values, int seed, Func<Random, Func<int, int, double>> law)
    {
        const int rows = 12_000;
        var rng = new Random(seed);
        var logit = law(rng);
        var ids = new int[rows * 3];
        var clicks = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            int a = rng.Next(values), b = rng.Next(values);
            ids[r * 3] = a + 1; ids[r * 3 + 1] = b + 1; ids[r * 3 + 2] = 1 + rng.Next(values);
            clicks[r] = rng.NextDouble() < 1 / (1 + Math.Exp(-logit(a, b))) ? 1f : 0f;
        }
        FeatureMatrix Part(int from, int count) => FeatureMatrix.FromArrays(count, 3, 0, ids.AsSpan(from * 3, count * 3), [], [clicks[from..(from + count)], null, null]);
        return (Part(0, 10_000), Part(10_000, 2_000));
    }

    /// <summary>A small network for this data: 3 epochs of 256 rows, CTR only, no calibration, on one CPU thread.</summary>
    public static MultiTaskTrainerOptions Options(FeatureInteractions interactions) => new()
    {
        Epochs = 3, BatchSize = 256, EmbeddingDim = 4, Bottom = [16], Tower = [8], CvrWeight = 0, RatingWeight = 0, Device = ExecutionDevice.Cpu, Threads = 1,
        Calibration = CalibrationKind.None, Patience = 0, Interactions = interactions,
    };

    /// <summary>
    /// The model trained straight through (validated on <paramref name="test"/>), and the same run crashed after its second
    /// epoch and resumed from its checkpoint; the checkpoint file is removed.
    /// </summary>
    public static (TrainedMultiTaskModel Straight, TrainedMultiTaskModel Resumed) StraightAndResumed(FeatureMatrix train, FeatureMatrix test, int[] rows,
        Func<MultiTaskTrainerOptions> options)
    {
        string checkpoint = Path.Combine(Path.GetTempPath(), $"pairwise-{Environment.ProcessId}-{Guid.NewGuid():N}.ckpt");
        try
        {
            var straight = MultiTaskTrainer.Train(train, test, rows, options());
            var first = options();
            first.CheckpointPath = checkpoint;
            first.EpochCompleted = r => { if (r.Epoch == 2) throw new OperationCanceledException("simulated crash"); };
            Assert.Throws<OperationCanceledException>(() => MultiTaskTrainer.Train(train, test, rows, first));
            var again = options();
            again.CheckpointPath = checkpoint;
            var resumed = MultiTaskTrainer.Train(train, test, rows, again);
            Assert.AreEqual(first.Epochs, resumed.History.Count);
            CollectionAssert.AreEqual(straight.Predict(test)["PCtr"], resumed.Predict(test)["PCtr"]);
            return (straight, resumed);
        }
        finally { File.Delete(checkpoint); }
    }

    /// <summary>
    /// The model with an interaction block, after checking that it beats the plain MLP's test AUC by more than 0.02 on the
    /// same data (<paramref name="what"/> names the block in the messages).
    /// </summary>
    public static TrainedMultiTaskModel BeatsThePlainMlp(FeatureMatrix train, FeatureMatrix test, int[] rows, Func<FeatureInteractions, MultiTaskTrainerOptions> options,
        FeatureInteractions block, string what)
    {
        var plain = MultiTaskTrainer.Train(train, null, rows, options(FeatureInteractions.None));
        var model = MultiTaskTrainer.Train(train, null, rows, options(block));
        double aucPlain = BinaryMetrics.Auc(plain.Predict(test)["PCtr"], test.LabelColumn(0)).Value;
        double auc = BinaryMetrics.Auc(model.Predict(test)["PCtr"], test.LabelColumn(0)).Value;
        Console.WriteLine($"test AUC: MLP over the embeddings {aucPlain:F4}, with {what} {auc:F4}");
        Assert.IsTrue(auc > aucPlain + 0.02, $"{what} {auc:F4} against {aucPlain:F4}");
        return model;
    }

    /// <summary>The model's standalone export, after checking that it scores every test row as the model does; the caller disposes it.</summary>
    public static GraphRunner ExportAgrees(TrainedMultiTaskModel model, FeatureMatrix test)
    {
        var runner = new GraphRunner(model.Export(["a", "b", "c"]), new RuntimeOptions { Device = ExecutionDevice.Cpu, Threads = 1 });
        var exported = Exported(runner, test.Rows, (r, f) => test.Ids(r)[f]);
        var predicted = model.Predict(test)["PCtr"];
        for (int r = 0; r < test.Rows; r++) Assert.AreEqual(predicted[r], exported[r], 1e-6f, $"row {r}");
        return runner;
    }

    /// <summary>The standalone model's PCtr for rows of three ids (its inputs "a", "b", "c"): <paramref name="id"/>(row, field).</summary>
    public static float[] Exported(GraphRunner runner, int rows, Func<int, int, long> id)
    {
        string[] names = ["a", "b", "c"];
        var feed = new Dictionary<string, (Array, long[])>();
        for (int f = 0; f < 3; f++) feed[names[f]] = (Enumerable.Range(0, rows).Select(r => id(r, f)).ToArray(), [rows, 1]);
        return (float[])runner.Run(feed)["PCtr"].Data;
    }
}
