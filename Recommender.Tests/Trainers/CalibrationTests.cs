using Recommender.Trainers.Network;
using Recommender.Trainers.Runtime;
using Recommender.Trainers.Training;

namespace Recommender.Tests.Trainers;

[TestClass]
public sealed class CalibrationTests
{
    [TestMethod]
    public void PlattScalingRecoversAKnownScaleAndShift()
    {
        // Labels drawn from sigmoid(2 z - 1) of a head whose logit is z: the fit must find 2 and -1.
        var rng = new Random(4);
        int n = 40_000;
        var p = new float[n];
        var y = new float[n];
        for (int i = 0; i < n; i++)
        {
            double z = rng.NextDouble() * 6 - 3;
            p[i] = (float)(1 / (1 + Math.Exp(-z)));
            y[i] = rng.NextDouble() < 1 / (1 + Math.Exp(-(2 * z - 1))) ? 1 : 0;
        }
        var c = PlattCalibration.Fit(p, y);
        Assert.AreEqual(2, c.Scale, 0.08);
        Assert.AreEqual(-1, c.Shift, 0.05);
        Assert.AreEqual(PlattCalibration.Identity, PlattCalibration.Fit(p, new float[n]), "one class only: nothing to fit");
        // A head that is already calibrated stays (nearly) as it is.
        for (int i = 0; i < n; i++) y[i] = rng.NextDouble() < p[i] ? 1 : 0;
        c = PlattCalibration.Fit(p, y);
        Assert.AreEqual(1, c.Scale, 0.05);
        Assert.AreEqual(0, c.Shift, 0.05);
    }

    // Clicks at a rate the raw head misses: a validation set whose labels are shifted by +1 logit.
    private static (FeatureMatrix Train, FeatureMatrix Valid) Shifted()
    {
        var rng = new Random(9);
        int rows = 3000;
        var ids = Enumerable.Range(0, rows * 2).Select(_ => 1 + rng.Next(20)).ToArray();
        float[] Clicks(double shift) => Enumerable.Range(0, rows).Select(r => rng.NextDouble() < 1 / (1 + Math.Exp(-((ids[2 * r] % 5) - 3 + shift))) ? 1f : 0f).ToArray();
        return (FeatureMatrix.FromArrays(rows, 2, 0, ids, [], [Clicks(0), null, null]), FeatureMatrix.FromArrays(rows, 2, 0, ids, [], [Clicks(1), null, null]));
    }

    private static MultiTaskTrainerOptions Options(CalibrationKind calibration) => new()
    {
        Epochs = 2, BatchSize = 128, EmbeddingDim = 4, Bottom = [8], Tower = [4], CvrWeight = 0, RatingWeight = 0, Device = ExecutionDevice.Cpu, Threads = 1,
        Calibration = calibration, Patience = 0,
    };

    [TestMethod]
    public void CalibrationIsCompiledIntoTheHeadsAndKeepsTheOrder()
    {
        var (train, valid) = Shifted();
        int rows = train.Rows;
        var raw = MultiTaskTrainer.Train(train, valid, [21, 21], Options(CalibrationKind.None));
        var calibrated = MultiTaskTrainer.Train(train, valid, [21, 21], Options(CalibrationKind.Platt));
        var c = calibrated.Spec.Calibration!["ctr"];
        Assert.IsTrue(c.Shift > 0.5, $"the validation clicks are more frequent: shift {c.Shift:F3}");
        var p0 = raw.Predict(valid)["PCtr"];
        var p1 = calibrated.Predict(valid)["PCtr"];
        for (int i = 0; i < rows; i++)
        {
            double z = Math.Log(p0[i] / (1 - p0[i]));
            Assert.AreEqual(1 / (1 + Math.Exp(-(c.Scale * z + c.Shift))), p1[i], 2e-5, "sigmoid(scale z + shift) of the same parameters' logit");
        }
        Assert.AreEqual(Recommender.Trainers.Evaluation.BinaryMetrics.Auc(p0, valid.LabelColumn(0)).Value, Recommender.Trainers.Evaluation.BinaryMetrics.Auc(p1, valid.LabelColumn(0)).Value, 1e-9,
            "a monotone map keeps the AUC");
        Assert.AreEqual(1.0, p1.Average(v => (double)v) / valid.LabelColumn(0).Average(v => (double)v), 0.02, "calibrated to the validation rate");
        var again = Options(CalibrationKind.Platt);
        (again.LearningRate, again.EmbeddingLearningRate) = (0, 0);
        var warm = MultiTaskTrainer.Train(train, null, [21, 21], again, calibrated.State);
        Assert.AreEqual(c, warm.Spec.Calibration!["ctr"], "a warm start without validation data keeps the calibration");
        CollectionAssert.AreEqual(p1, warm.Predict(valid)["PCtr"], "and, at rate zero, the predictions");
    }

    [TestMethod]
    public void IsotonicFitPoolsAdjacentViolatorsAndItsGraphIsTheSameStep()
    {
        // Sorted: 0.1 (0), 0.2 (1), 0.3 (0), 0.4 (1): 0.2 and 0.3 violate the order and pool to 0.5.
        var c = IsotonicCalibration.Fit([0.3f, 0.1f, 0.4f, 0.2f], [0, 0, 1, 1]);
        CollectionAssert.AreEqual(new[] { 0.1, 0.3, 0.4 }, c.Upper.Select(v => Math.Round(v, 6)).ToArray());
        CollectionAssert.AreEqual(new[] { 0.0, 0.5, 1.0 }, c.Values);
        Assert.AreEqual(0.0, c.Apply(0.05));
        Assert.AreEqual(0.5, c.Apply(0.25));
        Assert.AreEqual(1.0, c.Apply(0.9));
        // Equal probabilities share a block: one step per value.
        Assert.AreEqual(1, IsotonicCalibration.Fit([0.5f, 0.5f, 0.5f], [0, 1, 1]).Values.Length);

        // A large fit keeps the means in order within the block limit, and its sums: on its own rows the mean prediction is the rate.
        var rng = new Random(3);
        var p = Enumerable.Range(0, 20_000).Select(_ => (float)rng.NextDouble()).ToArray();
        var y = p.Select(v => rng.NextDouble() < v * v ? 1f : 0f).ToArray();
        var big = IsotonicCalibration.Fit(p, y);
        Assert.IsTrue(big.Values.Length <= IsotonicCalibration.MaxBlocks && big.Values.Length > 20, $"{big.Values.Length} blocks");
        for (int k = 1; k < big.Values.Length; k++) Assert.IsTrue(big.Values[k] > big.Values[k - 1] && big.Upper[k] > big.Upper[k - 1]);
        Assert.AreEqual(y.Average(v => (double)v), p.Average(v => big.Apply(v)), 1e-9);

        // Compiled: the same step for every probability, the bounds themselves included.
        var g = new Recommender.Trainers.Graph.GraphBuilder();
        g.Output(big.Apply(g, g.Input("p", -1, 1), "isotonic.t"), "q");
        using var runner = new Recommender.Trainers.Runtime.GraphRunner(g.ToBytes(), new RuntimeOptions { Device = ExecutionDevice.Cpu, Threads = 1 });
        var probes = p.Take(500).Concat(big.Upper.Select(u => (float)u)).Concat([0f, 1f]).ToArray();
        var q = (float[])runner.Run(new Dictionary<string, (Array, long[])> { ["p"] = (probes, [probes.Length, 1]) })["q"].Data;
        for (int i = 0; i < probes.Length; i++) Assert.AreEqual(big.Apply((float)probes[i]), q[i], 1e-6, $"p = {probes[i]}");
    }

    [TestMethod]
    public void IsotonicCalibrationIsCompiledIntoTheHeadsAndKeptByAWarmStart()
    {
        var (train, valid) = Shifted();
        var o = Options(CalibrationKind.Isotonic);
        var model = MultiTaskTrainer.Train(train, valid, [21, 21], o);
        Assert.IsNull(model.Spec.Calibration);
        var c = model.Spec.Isotonic!["ctr"];
        var p = model.Predict(valid)["PCtr"];
        // On the rows it was fitted on, the mean calibrated prediction is the rate exactly (pool-adjacent-violators keeps sums).
        Assert.AreEqual(valid.LabelColumn(0).Average(v => (double)v), p.Average(v => (double)v), 1e-5);
        Assert.IsTrue(p.All(v => c.Values.Any(x => Math.Abs(x - v) < 1e-6)), "every prediction is one of the step's values");
        var again = o.Clone();
        (again.LearningRate, again.EmbeddingLearningRate, again.Epochs) = (0, 0, 1);
        var state = Path.Combine(Path.GetTempPath(), $"iso-{Environment.ProcessId}-{Guid.NewGuid():N}.state");
        try
        {
            model.State!.Save(state);
            var warm = MultiTaskTrainer.Train(train, null, [21, 21], again, TrainingState.Load(state));
            CollectionAssert.AreEqual(c.Upper, warm.Spec.Isotonic!["ctr"].Upper, "a warm start without validation data keeps the calibration");
            CollectionAssert.AreEqual(p, warm.Predict(valid)["PCtr"]);
        }
        finally { File.Delete(state); }
    }
}
