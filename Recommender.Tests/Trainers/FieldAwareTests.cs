using Recommender.Trainers.Evaluation;
using Recommender.Trainers.Network;
using Recommender.Trainers.Runtime;
using Recommender.Trainers.Training;

namespace Recommender.Tests.Trainers;

[TestClass]
public sealed class FieldAwareTests
{
    // Clicks from a rank-2 cross of fields 0 and 1 (u_a . v_b) and nothing else; field 2 is noise.
    private static (FeatureMatrix Train, FeatureMatrix Test) Crossed() => PairwiseClicks.Make(30, 21, rng =>
    {
        var u = Enumerable.Range(0, 60).Select(_ => rng.NextDouble() * 4 - 2).ToArray();
        var v = Enumerable.Range(0, 60).Select(_ => rng.NextDouble() * 4 - 2).ToArray();
        return (a, b) => u[a * 2] * v[b * 2] + u[a * 2 + 1] * v[b * 2 + 1] - 1;
    });

    private static MultiTaskTrainerOptions Options(FeatureInteractions interactions)
    {
        var o = PairwiseClicks.Options(interactions);
        o.FieldAwareDim = 2;
        return o;
    }

    [TestMethod]
    public void FieldAwareProductsLearnAPairwiseCrossAndTheExportAgrees()
    {
        var (train, test) = Crossed();
        int[] rows = [31, 31, 31];
        var fieldAware = PairwiseClicks.BeatsThePlainMlp(train, test, rows, Options, FeatureInteractions.FieldAware, "field-aware products");
        Assert.AreEqual(3, fieldAware.FieldAwareTables!.Count);
        Assert.AreEqual(31 * 3 * 2, fieldAware.FieldAwareTables[0].Length, "31 rows of 3 fields x 2");
        Assert.AreEqual(3, fieldAware.State!.FieldAwareTables!.Length, "the state to continue from holds them");

        // The standalone model holds both sets of tables and gathers both from the same ids.
        using var runner = PairwiseClicks.ExportAgrees(fieldAware, test);
    }

    [TestMethod]
    public void AResumedFieldAwareRunIsTheUninterruptedOneAndAWarmStartAtRateZeroScoresTheSame()
    {
        var (train, test) = Crossed();
        int[] rows = [31, 31, 31];
        var (straight, resumed) = PairwiseClicks.StraightAndResumed(train, test, rows, () => Options(FeatureInteractions.FieldAware));
        for (int f = 0; f < 3; f++) CollectionAssert.AreEqual(straight.FieldAwareTables![f], resumed.FieldAwareTables![f], $"field-aware table {f}");

        // The state carries the field-aware tables and their optimizer state: at rate zero a warm start changes nothing.
        var frozen = Options(FeatureInteractions.FieldAware);
        (frozen.LearningRate, frozen.EmbeddingLearningRate, frozen.Epochs) = (0, 0, 1);
        var warm = MultiTaskTrainer.Train(train, null, rows, frozen, straight.State);
        CollectionAssert.AreEqual(straight.Predict(test)["PCtr"], warm.Predict(test)["PCtr"]);
        // A model without the block cannot go on from one with it (its input, and so its first layer, differs).
        Assert.Throws<ArgumentException>(() => MultiTaskTrainer.Train(train, null, rows, Options(FeatureInteractions.None), straight.State));
    }
}
