using Recommender.Pipeline.Scoring;
using Recommender.Trainers.Evaluation;

namespace Recommender.Tests.Pipeline;

[TestClass]
public sealed class ExplorationTests
{
    private static readonly string[] Ids = ["a", "b", "c", "d", "e"];

    [TestMethod]
    public void PropensitiesSumToOnePerSlotForEveryPolicy()
    {
        var random = new Random(3);
        foreach (var text in new[] { "greedy", "epsilon:0", "epsilon:0.2", "epsilon:1", "softmax:0.01", "softmax:2" })
        {
            var policy = ExplorationPolicy.Parse(text);
            for (int trial = 0; trial < 50; trial++)
            {
                var scores = Enumerable.Range(0, 5).Select(_ => Math.Round(random.NextDouble(), 1)).ToArray(); // ties happen
                var taken = new bool[5];
                var p = new double[5];
                for (int slot = 0; slot < 5; slot++)
                {
                    policy.NextSlot(scores, Ids, taken, p);
                    Assert.AreEqual(1.0, p.Sum(), 1e-12, $"{text} slot {slot}");
                    for (int i = 0; i < 5; i++) if (taken[i]) Assert.AreEqual(0.0, p[i]);
                    taken[Array.IndexOf(p, p.Max())] = true;
                }
            }
        }
    }

    [TestMethod]
    public void EachPolicyAgainstHandComputedProbabilities()
    {
        double[] scores = [3, 1, 2];
        string[] ids = ["x", "y", "z"];
        var p = new double[3];
        ExplorationPolicy.Parse("epsilon:0.3").NextSlot(scores, ids, new bool[3], p);
        CollectionAssert.AreEqual(new[] { 0.8, 0.1, 0.1 }, p.Select(v => Math.Round(v, 12)).ToArray());
        ExplorationPolicy.Parse("epsilon:0.3").NextSlot(scores, ids, new[] { true, false, false }, p);
        CollectionAssert.AreEqual(new[] { 0, 0.15, 0.85 }, p.Select(v => Math.Round(v, 12)).ToArray());
        ExplorationPolicy.Parse("softmax:1").NextSlot([0, Math.Log(2), 0], ids, new[] { false, false, true }, p);
        Assert.AreEqual(1.0 / 3, p[0], 1e-12);
        Assert.AreEqual(2.0 / 3, p[1], 1e-12);
        // Greedy: the best, ties to the smaller id, each with certainty.
        var shown = ExplorationPolicy.Greedy.Choose([2, 5, 5, 1], ["d", "c", "b", "a"], 3, new Random(1));
        CollectionAssert.AreEqual(new[] { (2, 1.0), (1, 1.0), (0, 1.0) }, shown);
        Assert.ThrowsExactly<FormatException>(() => ExplorationPolicy.Parse("epsilon:1.5"));
        Assert.ThrowsExactly<FormatException>(() => ExplorationPolicy.Parse("softmax:0"));
    }

    [TestMethod]
    public void SampledSlotsFollowTheirPropensities()
    {
        // 20,000 seeded draws of the first slot: each item's frequency within 4 binomial standard errors of its propensity.
        double[] scores = [0.3, 0.1, 0.2, 0.05];
        var policy = ExplorationPolicy.Parse("softmax:0.1");
        var p = new double[4];
        policy.NextSlot(scores, Ids[..4], new bool[4], p);
        var counts = new int[4];
        var random = new Random(11);
        const int draws = 20_000;
        for (int i = 0; i < draws; i++)
        {
            var shown = policy.Choose(scores, Ids[..4], 2, random);
            counts[shown[0].Index]++;
            Assert.AreEqual(p[shown[0].Index], shown[0].Propensity, 1e-12);
        }
        for (int i = 0; i < 4; i++)
            Assert.AreEqual(p[i], counts[i] / (double)draws, 4 * Math.Sqrt(p[i] * (1 - p[i]) / draws), $"item {i}");
    }

    [TestMethod]
    public void OffPolicyEstimatorsAgainstHandComputedValues()
    {
        // Four decisions: rewards 1, 0, 1, 0; logging propensities 0.5, 0.5, 0.25, 1; target 1, 0, 0.5, 0.5.
        // Weights 2, 0, 2, 0.5. IPS = (2 + 0 + 2 + 0) / 4 = 1. SNIPS = 4 / 4.5. With model rewards 0.6, 0.2, 0.4, 0.1 for
        // the logged actions and 0.7, 0.3, 0.5, 0.2 under the target: DR = mean(0.7 + 2*0.4, 0.3 + 0, 0.5 + 2*0.6, 0.2 + 0.5*(-0.1))
        // = (1.5 + 0.3 + 1.7 + 0.15) / 4 = 0.9125. ESS = 4.5^2 / (4 + 0 + 4 + 0.25) = 20.25 / 8.25.
        LoggedDecision[] log =
        [
            new(1, 0.5, 1, 0.6, 0.7), new(0, 0.5, 0, 0.2, 0.3), new(1, 0.25, 0.5, 0.4, 0.5), new(0, 1, 0.5, 0.1, 0.2),
        ];
        var r = OffPolicyEstimates.Compute(log, bootstrap: 200, seed: 3);
        Assert.AreEqual(1.0, r.Ips.Value, 1e-12);
        Assert.AreEqual(4 / 4.5, r.SelfNormalizedIps.Value, 1e-12);
        Assert.AreEqual(0.9125, r.DoublyRobust.Value, 1e-12);
        Assert.AreEqual(20.25 / 8.25, r.EffectiveSampleSize, 1e-12);
        Assert.AreEqual(2.0, r.MaxWeight);
        Assert.AreEqual(0.5, r.LoggedMean);
        Assert.IsTrue(r.Ips.Low <= r.Ips.Value && r.Ips.Value <= r.Ips.High);
        Assert.IsTrue(r.Warnings.Any(w => w.StartsWith("effective sample size")), "four decisions are not enough");
        // The same policy as the logger: every weight 1, IPS and SNIPS are the logged mean.
        var same = OffPolicyEstimates.Compute(log.Select(d => d with { TargetPropensity = d.LoggingPropensity }).ToArray(), bootstrap: 0);
        Assert.AreEqual(0.5, same.Ips.Value, 1e-12);
        Assert.AreEqual(0.5, same.SelfNormalizedIps.Value, 1e-12);
        var unsupported = OffPolicyEstimates.Compute([new(1, 0, 1)], bootstrap: 0);
        StringAssert.Contains(unsupported.Warnings[0], "never possible under the logging policy");
    }
}
