using Recommender.Pipeline.Lifecycle;
using Recommender.Pipeline.Simulation;

namespace Recommender.Tests.Pipeline;

[TestClass]
public sealed class SimulationTests
{
    [TestMethod]
    public void TheClosedLoopServesLearnsNightlyAndIsMeasuredAgainstTheOracle()
    {
        using var files = new TestFiles();
        var options = new SimulationOptions { Days = 2, VisitsPerDay = 300, InitialVisits = 2000, Candidates = 30, Slots = 3, Users = 3000, Items = 800, Threads = 1, Seed = 4 };
        var run = ClosedLoop.Run(options, files.Root, _ => { });
        var cumulative = run["cumulative"]!.AsObject();
        CollectionAssert.AreEquivalent(new[] { "a_loop_epsilon", "b_loop_greedy", "c_static", "d_popularity", "e_oracle" }, cumulative.Select(p => p.Key).ToArray());
        foreach (var (name, figures) in cumulative)
        {
            Assert.AreEqual(2 * 300 * 3, figures!["impressions"]!.GetValue<double>(), name);
            // The oracle shows the truly best items, so no policy expects more clicks.
            Assert.IsTrue(figures["regret_clicks"]!.GetValue<double>() >= 0, $"{name} regret {figures["regret_clicks"]}");
            Assert.AreEqual(2, run["per_day"]![name]!.AsArray().Count);
        }
        Assert.AreEqual(0.0, cumulative["e_oracle"]!["regret_clicks"]!.GetValue<double>());
        // The loops published one version a night over the first model; the static one did not move.
        foreach (var loop in new[] { "a_loop_epsilon", "b_loop_greedy" })
        {
            var registry = new ModelRegistry(Path.Combine(files.Root, loop));
            CollectionAssert.AreEqual(new[] { "v1", "v2", "v3" }, registry.Versions().ToArray(), loop);
            Assert.AreEqual("v3", registry.Current);
        }
        CollectionAssert.AreEqual(new[] { "v1" }, new ModelRegistry(Path.Combine(files.Root, "initial")).Versions().ToArray());
        // Every policy saw the same visits: the day logs of the two loops hold the same users in the same order.
        var users = (string loop) => File.ReadLines(Path.Combine(files.Root, $"{loop}-day1", "train.csv")).Skip(1).Select(l => l.Split(',')[0]).Where((_, i) => i % 3 == 0).ToArray();
        CollectionAssert.AreEqual(users("a_loop_epsilon"), users("b_loop_greedy"));
        // The nightly training data came through the impression log's export, with the shown positions written back.
        var header = File.ReadLines(Path.Combine(files.Root, "a_loop_epsilon-day1", "train.csv")).First().Split(',');
        var positions = File.ReadLines(Path.Combine(files.Root, "a_loop_epsilon-day1", "train.csv")).Skip(1).Take(3).Select(l => l.Split(',')[Array.IndexOf(header, "position")]).ToArray();
        CollectionAssert.AreEqual(new[] { "1", "2", "3" }, positions);
        string page = Recommender.Pipeline.Evaluation.SimulationReport.Write(files.Path_("report"), run);
        StringAssert.Contains(File.ReadAllText(page), "<td>e_oracle</td>");
        Assert.IsTrue(new FileInfo(files.Path_("report/simulation-regret.png")).Length > 1000);
    }
}

[TestClass]
public sealed class SimulatedOffPolicyTests
{
    [TestMethod]
    public void OffPolicyEstimatesOfGreedyFromTheExploringLoopsLogsMatchTheSimulatorsTruth()
    {
        // 7,500 top-slot decisions of the epsilon-greedy loop; the target is greedy on the same models and visits, its
        // truth the world's click probability of what greedy would have shown. The tolerance, 10%, is about twice the
        // estimates' standard error at this size (their bootstrap intervals are asserted to be narrower than ±10%).
        using var files = new TestFiles();
        var options = new SimulationOptions { Days = 5, VisitsPerDay = 1500, InitialVisits = 4000, Candidates = 30, Slots = 3, Users = 5000, Items = 1500, Threads = 1, Seed = 6 };
        var run = ClosedLoop.Run(options, files.Root, _ => { });
        var ope = run["off_policy_greedy_top_slot_ctr"]!;
        double truth = ope["truth"]!.GetValue<double>();
        Assert.AreEqual(7500, ope["decisions"]!.GetValue<int>());
        foreach (var name in new[] { "ips", "snips", "dr" })
        {
            double value = ope[name]!["value"]!.GetValue<double>();
            var ci = ope[name]!["ci95"]!.AsArray().Select(x => x!.GetValue<double>()).ToArray();
            Assert.IsTrue(Math.Abs(value - truth) <= 0.1 * truth, $"{name} {value:F4} vs truth {truth:F4}");
            Assert.IsTrue(ci[0] <= truth && truth <= ci[1], $"{name} interval [{ci[0]:F4}, {ci[1]:F4}] vs truth {truth:F4}");
            Assert.IsTrue(ci[1] - ci[0] < 0.2 * truth, $"{name} interval [{ci[0]:F4}, {ci[1]:F4}] is wider than ±10%");
        }
    }
}
