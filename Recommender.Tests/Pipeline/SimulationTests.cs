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
        var users = (string loop) => File.ReadLines(Path.Combine(files.Root, $"{loop}-day1.csv")).Skip(1).Select(l => l.Split(',')[0]).Where((_, i) => i % 3 == 0).ToArray();
        CollectionAssert.AreEqual(users("a_loop_epsilon"), users("b_loop_greedy"));
    }
}
