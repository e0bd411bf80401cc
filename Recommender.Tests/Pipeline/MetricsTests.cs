using Recommender.Trainers.Evaluation;
using Recommender.Pipeline.Evaluation;
using Recommender.Trainers.Network;

namespace Recommender.Tests.Pipeline;

[TestClass]
public sealed class MetricsTests
{
    [TestMethod]
    public void AucMatchesHandComputedValue()
    {
        // Positives 0.35, 0.8; negatives 0.1, 0.4: pairs won 1 + 0 + 1 + 1 = 3 of 4.
        var auc = BinaryMetrics.Auc([0.1f, 0.4f, 0.35f, 0.8f], [0, 0, 1, 1]);
        Assert.AreEqual(0.75, auc.Value, 1e-12);
    }

    [TestMethod]
    public void AucCountsTiesHalf()
    {
        // Positives 0.5, 0.9; negatives 0.2, 0.5: 1 + 0.5 + 1 + 1 = 3.5 of 4.
        Assert.AreEqual(0.875, BinaryMetrics.Auc([0.2f, 0.5f, 0.5f, 0.9f], [0, 1, 0, 1]).Value, 1e-12);
        Assert.AreEqual(0.5, BinaryMetrics.Auc([0.5f, 0.5f, 0.5f, 0.5f], [0, 1, 0, 1]).Value, 1e-12);
    }

    [TestMethod]
    public void AucAgreesWithPairwiseCountingOnRandomTiedData()
    {
        var random = new Random(7);
        int n = 600;
        var scores = new float[n];
        var labels = new float[n];
        for (int i = 0; i < n; i++)
        {
            scores[i] = random.Next(20) / 20f; // many ties
            labels[i] = random.NextDouble() < 0.3 + 0.4 * scores[i] ? 1 : 0;
        }
        double wins = 0, pairs = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                if (labels[i] != 1 || labels[j] != 0) continue;
                pairs++;
                wins += scores[i] > scores[j] ? 1 : scores[i] == scores[j] ? 0.5 : 0;
            }
        Assert.AreEqual(wins / pairs, BinaryMetrics.Auc(scores, labels).Value, 1e-12);
    }

    [TestMethod]
    public void AucOfOneClassIsUndefinedWithAReason()
    {
        var auc = BinaryMetrics.Auc([0.1f, 0.2f], [1, 1]);
        Assert.IsTrue(double.IsNaN(auc.Value));
        Assert.AreEqual("no negative labels", auc.Reason);
        Assert.AreEqual("no rows", BinaryMetrics.Auc([], []).Reason);
    }

    [TestMethod]
    public void GaucWeightsGroupsByImpressionsAndSkipsOneClassGroups()
    {
        // a: AUC 1 over 2 rows; b: AUC 0 over 3 rows; c: one class only, left out. (1*2 + 0*3) / 5.
        float[] scores = [0.1f, 0.9f, 0.8f, 0.2f, 0.5f, 0.3f, 0.6f];
        float[] labels = [0, 1, 0, 1, 0, 1, 1];
        string[] groups = ["a", "a", "b", "b", "b", "c", "c"];
        Assert.AreEqual(0.4, BinaryMetrics.Gauc(scores, labels, groups).Value, 1e-12);
        Assert.AreEqual("no group has both classes", BinaryMetrics.Gauc([0.1f, 0.2f], [1, 0], ["x", "y"]).Reason);
    }

    [TestMethod]
    public void LogLossIsMeanCrossEntropyWithClipping()
    {
        Assert.AreEqual(-(Math.Log(0.9) + Math.Log(0.8)) / 2, BinaryMetrics.LogLoss([0.9f, 0.2f], [1, 0]).Value, 1e-7);
        Assert.AreEqual(-Math.Log(1e-7), BinaryMetrics.LogLoss([0f], [1]).Value, 1e-6);
        Assert.AreEqual(-Math.Log(1e-7), BinaryMetrics.LogLoss([1f], [0]).Value, 1e-3);
    }

    [TestMethod]
    public void CalibrationIsMeanPredictionOverMeanLabel()
    {
        Assert.AreEqual((0.2 + 0.4 + 0.3) / 1.0, BinaryMetrics.Calibration([0.2f, 0.4f, 0.3f], [0, 1, 0]).Value, 1e-6);
        Assert.AreEqual("no positive labels", BinaryMetrics.Calibration([0.2f], [0]).Reason);
    }

    [TestMethod]
    public void PrecisionRecallF1AtThreshold()
    {
        // >= 0.5 predicted positive: rows 0,1,3. tp = rows 0,3; fp = row 1; fn = row 2.
        var (p, r, f1) = BinaryMetrics.AtThreshold([0.9f, 0.6f, 0.4f, 0.5f, 0.1f], [1, 0, 1, 1, 0], 0.5f);
        Assert.AreEqual(2 / 3.0, p.Value, 1e-12);
        Assert.AreEqual(2 / 3.0, r.Value, 1e-12);
        Assert.AreEqual(2 / 3.0, f1.Value, 1e-12);
        var none = BinaryMetrics.AtThreshold([0.1f], [1], 0.5f);
        Assert.AreEqual("no positive predictions", none.Precision.Reason);
        Assert.AreEqual(0, none.Recall.Value);
    }

    [TestMethod]
    public void RegressionMetricsSkipUnratedRows()
    {
        Assert.AreEqual(Math.Sqrt(2), RegressionMetrics.Rmse([1, 2, 3], [1, float.NaN, 5]).Value, 1e-12);
        Assert.AreEqual(1, RegressionMetrics.Mae([1, 2, 3], [1, float.NaN, 5]).Value, 1e-12);
        Assert.AreEqual("no labelled rows", RegressionMetrics.Rmse([1], [float.NaN]).Reason);
    }

    [TestMethod]
    public void TopKMetricsMatchHandComputedValues()
    {
        // ranked a,b,c,d; relevant {b,d}; K=3: one hit at rank 2.
        IReadOnlyList<IReadOnlyList<string>> ranked = [new[] { "a", "b", "c", "d" }, new[] { "x" }, new[] { "q", "r" }];
        IReadOnlyList<IReadOnlySet<string>> relevant = [new HashSet<string> { "b", "d" }, new HashSet<string>(), new HashSet<string> { "q" }];
        var m = TopKMetrics.Compute(ranked, relevant, 3);
        double user1Ndcg = (1 / Math.Log2(3)) / (1 + 1 / Math.Log2(3));
        Assert.AreEqual((user1Ndcg + 1) / 2, m.Ndcg.Value, 1e-12);
        Assert.AreEqual(1.0, m.HitRate.Value, 1e-12);
        Assert.AreEqual((0.5 + 1) / 2, m.Recall.Value, 1e-12);
        Assert.AreEqual((0.5 + 1) / 2, m.Mrr.Value, 1e-12);
        Assert.AreEqual(2, m.Users);
        Assert.AreEqual(1, m.UsersWithoutRelevant);
        // K=1 cuts user 1's hit at rank 2.
        var top1 = TopKMetrics.Compute(ranked, relevant, 1);
        Assert.AreEqual(0.5, top1.HitRate.Value, 1e-12);
        Assert.AreEqual(0.5, top1.Mrr.Value, 1e-12);
    }

    [TestMethod]
    public void AucStandardErrorIsHanleyAndMcNeils()
    {
        Assert.AreEqual(0.5, BinaryMetrics.AucStandardError(0.5, 1, 1), 1e-12);
        // A = 0.8, 10 positives, 20 negatives: Q1 = 2/3, Q2 = 1.28/1.8; (0.16 + 9 (Q1 - 0.64) + 19 (Q2 - 0.64)) / 200.
        Assert.AreEqual(Math.Sqrt((0.16 + 9 * (2 / 3.0 - 0.64) + 19 * (1.28 / 1.8 - 0.64)) / 200), BinaryMetrics.AucStandardError(0.8, 10, 20), 1e-12);
        Assert.AreEqual(0.0936, BinaryMetrics.AucStandardError(0.8, 10, 20), 1e-4);
        Assert.IsTrue(double.IsNaN(BinaryMetrics.AucStandardError(0.8, 0, 20)));
    }

    [TestMethod]
    public void PairedAucDifferenceIsDeLongs()
    {
        // By hand: positives P1, P2 and negatives N1, N2. a: P1 0.9, P2 0.3, N1 0.8, N2 0.2 -> positives' placements 1, 0.5, negatives'
        // 0.5, 1 (AUC 0.75). b: P1 0.6, P2 0.6, N1 0.6, N2 0.1 -> 0.75, 0.75 (ties half) and 0.5, 1 (AUC 0.75). S10: var(a) 0.125,
        // var(b) 0, cov 0; S01: 0.125, 0.125, 0.125. Variance 0.125 / 2 + 0 / 2.
        float[] labels = [1, 0, 1, 0];
        var (difference, error) = BinaryMetrics.PairedAucDifference([0.9f, 0.8f, 0.3f, 0.2f], [0.6f, 0.6f, 0.6f, 0.1f], labels);
        Assert.AreEqual(0, difference, 1e-15);
        Assert.AreEqual(0.25, error, 1e-15);
        // Ties at infinity count half too: a's placements 0.75 and 0.25 (AUC 0.5) against 0.75 above.
        Assert.AreEqual(-0.25, BinaryMetrics.PairedAucDifference([float.PositiveInfinity, float.PositiveInfinity, 0.1f, 0.1f], [0.9f, 0.8f, 0.3f, 0.2f], labels).Difference, 1e-15);

        // Against a direct O(P N) count on random scores with many ties, and the AUCs against BinaryMetrics.Auc.
        var rng = new Random(3);
        int n = 700;
        var y = Enumerable.Range(0, n).Select(_ => rng.NextDouble() < 0.3 ? 1f : 0f).ToArray();
        var a = y.Select(v => (float)Math.Round(v + 1.5 * rng.NextDouble(), 1)).ToArray();
        var b = a.Select((v, i) => (float)Math.Round(0.5 * v + 0.8 * rng.NextDouble() + 0.2 * y[i], 2)).ToArray();
        var pos = Enumerable.Range(0, n).Where(i => y[i] == 1).ToArray();
        var neg = Enumerable.Range(0, n).Where(i => y[i] == 0).ToArray();
        static double Psi(float p, float q) => p > q ? 1 : p == q ? 0.5 : 0;
        double[] V10(float[] s) => pos.Select(i => neg.Average(j => Psi(s[i], s[j]))).ToArray();
        double[] V01(float[] s) => neg.Select(j => pos.Average(i => Psi(s[i], s[j]))).ToArray();
        static double Cov(double[] x, double[] z) => x.Zip(z, (p, q) => (p - x.Average()) * (q - z.Average())).Sum() / (x.Length - 1);
        var (ta, tb, ua, ub) = (V10(a), V10(b), V01(a), V01(b));
        double variance = (Cov(ta, ta) + Cov(tb, tb) - 2 * Cov(ta, tb)) / pos.Length + (Cov(ua, ua) + Cov(ub, ub) - 2 * Cov(ua, ub)) / neg.Length;
        (difference, error) = BinaryMetrics.PairedAucDifference(a, b, y);
        Assert.AreEqual(BinaryMetrics.Auc(a, y).Value - BinaryMetrics.Auc(b, y).Value, difference, 1e-12);
        Assert.AreEqual(ta.Average() - tb.Average(), difference, 1e-12);
        Assert.AreEqual(Math.Sqrt(variance), error, 1e-12);
        // The pairing is what makes it small: far below the two AUCs' own standard errors combined.
        double unpaired = Math.Sqrt(Math.Pow(BinaryMetrics.AucStandardError(BinaryMetrics.Auc(a, y).Value, pos.Length, neg.Length), 2)
            + Math.Pow(BinaryMetrics.AucStandardError(BinaryMetrics.Auc(b, y).Value, pos.Length, neg.Length), 2));
        Assert.IsTrue(error < 0.8 * unpaired, $"paired {error}, unpaired {unpaired}");
        var (swapped, swappedError) = BinaryMetrics.PairedAucDifference(b, a, y);
        Assert.AreEqual(-difference, swapped, 1e-15);
        Assert.AreEqual(error, swappedError, 1e-15);
        Assert.AreEqual((0.0, 0.0), BinaryMetrics.PairedAucDifference(a, a, y));
    }

    [TestMethod]
    public void AucDifferencesPairTheRowsEachAucIsMeasuredOn()
    {
        // cvr.auc on clicked rows, cvr.entire_auc over every row: the differences equal those of the metrics Compute reports.
        var rng = new Random(5);
        int n = 400;
        var click = Enumerable.Range(0, n).Select(_ => rng.NextDouble() < 0.5 ? 1f : 0f).ToArray();
        var conversion = click.Select(c => c == 1 && rng.NextDouble() < 0.4 ? 1f : 0f).ToArray();
        var tasks = TaskList.DefaultChain("click", "conversion", "rating", 1, 1, 0, 1, 5).Take(2).ToList();
        Dictionary<string, float[]> Model(double noise) => new()
        {
            ["PCtr"] = click.Select(c => (float)(0.3 * c + noise * rng.NextDouble())).ToArray(),
            ["PCvr"] = conversion.Select(c => (float)(0.3 * c + noise * rng.NextDouble())).ToArray(),
            ["PCtcvr"] = conversion.Select(c => (float)(0.2 * c + noise * rng.NextDouble())).ToArray(),
        };
        var (a, b) = (Model(0.5), Model(0.9));
        var labels = new Dictionary<string, float[]> { ["ctr"] = click, ["cvr"] = conversion };
        var ma = MultiTaskMetrics.Compute(tasks, a, labels, null);
        var mb = MultiTaskMetrics.Compute(tasks, b, labels, null);
        var differences = MultiTaskMetrics.AucDifferences(tasks, a, b, labels);
        CollectionAssert.AreEqual(new[] { "ctr.auc", "cvr.auc", "cvr.entire_auc" }, differences.Select(d => d.Name).ToArray());
        foreach (var (name, difference, error) in differences)
        {
            Assert.AreEqual(ma[name]!.Value.Value - mb[name]!.Value.Value, difference, 1e-12, name);
            Assert.IsTrue(error > 0 && error < 0.1, $"{name}: {error}");
        }
    }

    [TestMethod]
    public void MultiTaskMetricsUseClickedRowsForCvrAndAllRowsForCtcvr()
    {
        float[] click = [1, 1, 1, 0, 0];
        float[] conversion = [1, 0, 0, 0, 0];
        float[] pCvr = [0.2f, 0.1f, 0.3f, 0.9f, 0.9f]; // unclicked rows would spoil the AUC if they counted
        float[] pCtcvr = [0.5f, 0.1f, 0.2f, 0.3f, 0.4f];
        var m = MultiTaskMetrics.Compute(null, pCvr, pCtcvr, null, click, conversion, null, null);
        Assert.AreEqual(0.5, m["cvr.auc"]!.Value.Value, 1e-12);
        Assert.AreEqual(1.0, m["cvr.entire_auc"]!.Value.Value, 1e-12);
        Assert.AreEqual(1.0, m["ctcvr_auc"]!.Value.Value, 1e-12, "the old name reads the entire-space AUC");
        Assert.IsNull(m["ctr.auc"]);
    }
}
