using System.Globalization;
using Recommender.Pipeline.Data.Synthetic;
using Recommender.Pipeline.Jobs;
using Recommender.Pipeline.Lifecycle;
using Recommender.Pipeline.Scoring;
using Recommender.Trainers.Runtime;
using Recommender.Trainers.Training;

namespace Recommender.Tests.Pipeline;

[TestClass]
public sealed class RecommendTests
{
    [TestMethod]
    public void TwoStageRecommendationsAreRankedUnseenAndComplete()
    {
        using var files = new TestFiles();
        var (_, bundle, _) = TinyBundle.Train(files.Root, 30_000, 21);
        var catalog = CandidateCatalog.Load(Path.Combine(bundle, CandidateCatalog.FileName));
        Assert.AreEqual("user-attribute", catalog.TextSource["age"]);
        Assert.AreEqual("item-attribute", catalog.TextSource["category"]);
        Assert.AreEqual("context", catalog.TextSource["position"]);
        Assert.AreEqual("item-attribute", catalog.DenseSource["item_price"]);

        string[] users = [catalog.Users[0], catalog.Users[5], catalog.Users[17], "no-such-user"];
        string output = files.Path_("recs.csv");
        var summary = RecommendJob.Run(bundle, users, k: 7, candidates: 40, excludeSeen: true, ranking: "pctr * pcvr", output, ExecutionDevice.Cpu, 1);
        Assert.AreEqual(3, summary.Users);
        Assert.AreEqual(1, summary.UnknownUsers);
        var rows = File.ReadAllLines(output).Skip(1).Select(l => l.Split(',')).ToList();
        Assert.AreEqual(21, rows.Count);
        foreach (var group in rows.GroupBy(r => r[0]))
        {
            var list = group.ToList();
            CollectionAssert.AreEqual(Enumerable.Range(1, 7).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray(), list.Select(r => r[1]).ToArray());
            Assert.AreEqual(7, list.Select(r => r[2]).Distinct().Count());
            int user = catalog.Users.IndexOf(group.Key);
            foreach (var r in list) Assert.IsFalse(catalog.Seen[user].Contains(catalog.Items.IndexOf(r[2])), $"{r[2]} was seen by {group.Key}");
            var scores = list.Select(r => double.Parse(r[7], CultureInfo.InvariantCulture)).ToArray();
            for (int i = 1; i < scores.Length; i++) Assert.IsTrue(scores[i] <= scores[i - 1]);
            foreach (var r in list)
                Assert.AreEqual((double)float.Parse(r[3], CultureInfo.InvariantCulture) * float.Parse(r[4], CultureInfo.InvariantCulture), double.Parse(r[7], CultureInfo.InvariantCulture), 1e-15); // the formula multiplies in double
        }
    }

    [TestMethod]
    public void MoreCandidatesThanItemsAreAllTheItems()
    {
        // int.MaxValue candidates once overflowed the batch size (64 users x candidates); past the catalog's size every item is a
        // candidate, so the answer is the one for exactly that many.
        using var files = new TestFiles();
        var (_, bundle, _) = TinyBundle.Train(files.Root, 8_000, 5);
        var catalog = CandidateCatalog.Load(Path.Combine(bundle, CandidateCatalog.FileName));
        string[] users = [catalog.Users[0], catalog.Users[3]];
        string all = files.Path_("all.csv"), huge = files.Path_("huge.csv");
        RecommendJob.Run(bundle, users, k: 5, candidates: catalog.Items.Count, excludeSeen: true, ranking: null, all, ExecutionDevice.Cpu, 1);
        RecommendJob.Run(bundle, users, k: 5, candidates: int.MaxValue, excludeSeen: true, ranking: null, huge, ExecutionDevice.Cpu, 1);
        Assert.AreEqual(11, File.ReadAllLines(all).Length);
        CollectionAssert.AreEqual(File.ReadAllBytes(all), File.ReadAllBytes(huge));
    }
}
