using Recommender.Trainers.Embeddings;

namespace Recommender.Tests.Trainers;

[TestClass]
public sealed class EmbeddingTests
{
    [TestMethod]
    public void GatherLaysOutFieldsSideBySide()
    {
        using var e = new FieldEmbeddings([3, 4], dim: 2, seed: 1, threads: 2);
        int[] ids = [2, 0, 1, 3]; // row 0: field0 id2, field1 id0; row 1: field0 id1, field1 id3
        var output = new float[2 * 2 * 2];
        e.Gather(ids, 2, output);
        CollectionAssert.AreEqual(e.Tables[0].Row(2).ToArray(), output[0..2]);
        CollectionAssert.AreEqual(e.Tables[1].Row(0).ToArray(), output[2..4]);
        CollectionAssert.AreEqual(e.Tables[0].Row(1).ToArray(), output[4..6]);
        CollectionAssert.AreEqual(e.Tables[1].Row(3).ToArray(), output[6..8]);
        Assert.Throws<ArgumentOutOfRangeException>(() => e.Gather([5, 0], 1, new float[4]));
        Assert.Throws<ArgumentOutOfRangeException>(() => e.Gather([0, 9], 1, new float[4])); // the other worker's field
    }

    [TestMethod]
    public void SeededInitIsReproducibleAndScaled()
    {
        var a = new EmbeddingTable(1000, 16, seed: 9, initStd: 0.01f);
        var b = new EmbeddingTable(1000, 16, seed: 9, initStd: 0.01f);
        CollectionAssert.AreEqual(a.Weights, b.Weights);
        double std = Math.Sqrt(a.Weights.Average(w => (double)w * w));
        Assert.AreEqual(0.01, std, 0.0005);
    }

    [TestMethod]
    public void AdagradSumsDuplicateIdsAndLeavesUntouchedRowsAlone()
    {
        var table = new EmbeddingTable(4, 2, seed: 3);
        var before = (float[])table.Weights.Clone();
        int[] ids = [1, 3, 1];
        float[] grads = [0.1f, -0.2f, 0.5f, 0.5f, 0.3f, 0.1f];
        new SparseAdagrad { L2 = 0.01f }.Update(table, ids, 0, 1, grads, 0, 2, 3, learningRate: 0.1f, step: 1);
        // Row 1 appears twice: its gradient is (0.4, -0.1) before L2; one update with acc = g^2.
        for (int d = 0; d < 2; d++)
        {
            double g = new[] { 0.4, -0.1 }[d] + 0.01 * before[1 * 2 + d];
            double expected = before[2 + d] - 0.1 * g / (Math.Sqrt(g * g) + 1e-10);
            Assert.AreEqual(expected, table.Weights[2 + d], 1e-6);
        }
        CollectionAssert.AreEqual(before[0..2], table.Weights[0..2]);
        CollectionAssert.AreEqual(before[4..6], table.Weights[4..6]);
        // The accumulator carries over: a second identical step moves less (sqrt(2) larger denominator).
        float after1 = table.Weights[6];
        new SparseAdagrad().Update(table, [3], 0, 1, [0.5f, 0.5f], 0, 2, 1, 0.1f, 2);
        Assert.AreNotEqual(after1, table.Weights[6]);
    }

    [TestMethod]
    public void AdaptiveL2DividesByTheIdsTrainingCountSummedOverFieldsThatShareATable()
    {
        // Field 0 owns a table that field 1 (a sequence position) shares; field 2 has its own. Id 1 of the shared table is
        // seen 3 + 1 times, id 2 once; field 2's id 1 five times. One update of the accumulator: acc = (g + lambda / n * w)^2.
        using var e = new FieldEmbeddings([3, 3, 2], dim: 1, seed: 5, threads: 1, tableOf: [0, 0, 2]);
        e.SetAdaptiveL2(0.5f, [[0, 3, 0], [0, 1, 1], [0, 5]]);
        var (shared, own) = (e.Tables[0], e.Tables[2]);
        Assert.AreSame(shared, e.Tables[1]);
        float[] before = [shared.Weights[1], shared.Weights[2], own.Weights[1]];
        // One row of the batch: field 0 takes id 1, field 1 id 2, field 2 id 1; each gradient 0.1.
        e.Update([1, 2, 1], 1, [0.1f, 0.1f, 0.1f], new SparseAdagrad(), 0.05f, 1);
        double[] expected = [0.1 + 0.5 / 4 * before[0], 0.1 + 0.5 / 1 * before[1], 0.1 + 0.5 / 5 * before[2]];
        float[] accumulators = [shared.State1![1], shared.State1[2], own.State1![1]];
        for (int i = 0; i < 3; i++) Assert.AreEqual(expected[i] * expected[i], accumulators[i], 1e-9, $"row {i}");
        e.SetAdaptiveL2(0, [[0, 3, 0], [0, 1, 1], [0, 5]]);
        Assert.IsNull(shared.RowL2, "lambda 0 removes it");
        Assert.Throws<ArgumentOutOfRangeException>(() => e.SetAdaptiveL2(float.NaN, [[0, 0, 0], [0, 0, 0], [0, 0]]));
        Assert.Throws<ArgumentException>(() => e.SetAdaptiveL2(0.1f, [[0, 0, 0], [0, 0, 0], [0, 0, 0]]));
    }

    [TestMethod]
    public void LazyAdamMatchesAdamOnTouchedRowsWithGlobalStep()
    {
        var table = new EmbeddingTable(3, 1, seed: 4);
        float w0 = table.Weights[2], other = table.Weights[1];
        var adam = new LazyAdam();
        adam.Update(table, [2], 0, 1, [0.5f], 0, 1, 1, 0.01f, step: 1);
        adam.Update(table, [0], 0, 1, [1f], 0, 1, 1, 0.01f, step: 2); // row 2 untouched at step 2
        adam.Update(table, [2], 0, 1, [-0.25f], 0, 1, 1, 0.01f, step: 3);
        double m = 0, v = 0, w = w0;
        foreach (var (g, t) in new[] { (0.5, 1), (-0.25, 3) })
        {
            m = 0.9 * m + 0.1 * g;
            v = 0.999 * v + 0.001 * g * g;
            w -= 0.01 * (m / (1 - Math.Pow(0.9, t))) / (Math.Sqrt(v / (1 - Math.Pow(0.999, t))) + 1e-8);
        }
        Assert.AreEqual(w, table.Weights[2], 1e-6);
        Assert.AreEqual(other, table.Weights[1]);
    }

    [TestMethod]
    public void FieldUpdateRoutesGradientsToEachFieldsTable()
    {
        using var e = new FieldEmbeddings([2, 2], dim: 1, seed: 2, threads: 2);
        var before0 = (float[])e.Tables[0].Weights.Clone();
        var before1 = (float[])e.Tables[1].Weights.Clone();
        int[] ids = [1, 0]; // one row: field0 id1, field1 id0
        e.Update(ids, 1, [1f, -1f], new SparseAdagrad(), 0.5f, 1);
        Assert.AreEqual(before0[1] - 0.5f, e.Tables[0].Weights[1], 1e-6);
        Assert.AreEqual(before1[0] + 0.5f, e.Tables[1].Weights[0], 1e-6);
        Assert.AreEqual(before0[0], e.Tables[0].Weights[0]);
        Assert.AreEqual(before1[1], e.Tables[1].Weights[1]);
    }
}
