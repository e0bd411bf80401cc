using Recommender.Pipeline.Data;

namespace Recommender.Tests.Pipeline;

[TestClass]
public sealed class TaobaoUserBehaviorTests
{
    [TestMethod]
    public void ViewsBecomeImpressionsLabelledByLaterEngagementWithHistoriesStrictlyBefore()
    {
        using var files = new TestFiles();
        string log = files.Write("UserBehavior.csv", string.Join('\n',
            "1,10,100,pv,1000",
            "1,11,101,pv,1010",
            "1,10,100,cart,1020",   // the view at 1000 is clicked
            "2,11,101,pv,1000",
            "2,14,103,pv,1000",     // the same second as user 2's other view: not its history
            "2,13,102,fav,1005",    // no view of item 13 before: left out
            "1,12,100,pv,1030",
            "1,10,100,pv,1040",
            "1,10,100,buy,1050",    // the latest view (1040) is clicked and converted, not the one at 1000
            "3,10,100,pv,1060") + "\n");
        var r = TaobaoUserBehavior.Convert(log, Path.Combine(files.Root, "out"), history: 2);
        Assert.AreEqual((10L, 7L, 2L, 1L, 1L), (r.Events, r.Impressions, r.Clicks, r.Conversions, r.EngagementsWithoutView));
        Assert.AreEqual((5L, 1L, 1L), (r.TrainRows, r.ValidRows, r.TestRows));
        var rows = new[] { "train.csv", "valid.csv", "test.csv" }.SelectMany(f => File.ReadAllLines(Path.Combine(r.Directory, f)).Skip(1))
            .Select(l => l.Split(',')).Select(f => $"{f[0]},{f[1]},{f[5]},{f[6]},{f[7]},{f[8]},{f[9]}").ToArray();
        CollectionAssert.AreEqual(new[]
        {
            "1,10,1,0,1000,,",
            "2,11,0,0,1000,,",
            "2,14,0,0,1000,,",
            "1,11,0,0,1010,10,100",
            "1,12,0,0,1030,10|11,100|101",
            "1,10,1,1,1040,11|12,101|100",
            "3,10,0,0,1060,,",
        }, rows);
        var table = DataLoader.Load(DatasetSchema.Load(Path.Combine(r.Directory, "schema.json")), Path.Combine(r.Directory, "train.csv"));
        CollectionAssert.AreEqual(new[] { "", "", "", "10", "11" }, table.GetText("recent_items#0"));
        CollectionAssert.AreEqual(new[] { "", "", "", "", "10" }, table.GetText("recent_items#1"));
    }

    [TestMethod]
    public void AMalformedEventIsLocated()
    {
        using var files = new TestFiles();
        string log = files.Write("UserBehavior.csv", "1,10,100,pv,1000\n1,10,100,click,1001\n");
        var e = Assert.Throws<DataFormatException>(() => TaobaoUserBehavior.Convert(log, Path.Combine(files.Root, "out")));
        StringAssert.Contains(e.Message, "UserBehavior.csv:2:4: behavior must be pv, cart, fav or buy, got 'click'");
        Assert.IsFalse(Directory.Exists(Path.Combine(files.Root, "out")) && Directory.EnumerateFiles(Path.Combine(files.Root, "out")).Any(), "nothing written");
    }
}
