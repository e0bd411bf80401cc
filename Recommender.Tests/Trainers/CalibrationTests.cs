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

    [TestMethod]
    public void CalibrationIsCompiledIntoTheHeadsAndKeepsTheOrder()
    {
        // Clicks at a rate the raw head misses: a validation set whose labels are shifted by +1 logit.
        var rng = new Random(9);
        int rows = 3000;
        var ids = Enumerable.Range(0, rows * 2).Select(_ => 1 + rng.Next(20)).ToArray();
        float[] Clicks(double shift) => Enumerable.Range(0, rows).Select(r => rng.NextDouble() < 1 / (1 + Math.Exp(-((ids[2 * r] % 5) - 3 + shift))) ? 1f : 0f).ToArray();
        var train = FeatureMatrix.FromArrays(rows, 2, 0, ids, [], [Clicks(0), null, null]);
        var valid = FeatureMatrix.FromArrays(rows, 2, 0, ids, [], [Clicks(1), null, null]);
        MultiTaskTrainerOptions Options(CalibrationKind calibration) => new()
        {
            Epochs = 2, BatchSize = 128, EmbeddingDim = 4, Bottom = [8], Tower = [4], CvrWeight = 0, RatingWeight = 0, Device = ExecutionDevice.Cpu, Threads = 1,
            Calibration = calibration, Patience = 0,
        };
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
}
