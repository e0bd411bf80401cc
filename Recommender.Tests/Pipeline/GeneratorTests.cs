using System.Globalization;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Data.Synthetic;

namespace Recommender.Tests.Pipeline;

[TestClass]
public sealed class GeneratorTests
{
    private static GenerationResult Generate(TestFiles files, string name, long rows, ulong seed) =>
        SyntheticGenerator.Generate(new SyntheticOptions { Rows = rows, Seed = seed }, Path.Combine(files.Root, name));

    [TestMethod]
    public void SameSeedGivesIdenticalBytesAndAnotherSeedDoesNot()
    {
        using var files = new TestFiles();
        Generate(files, "a", 30_000, 5);
        Generate(files, "b", 30_000, 5);
        Generate(files, "c", 30_000, 6);
        foreach (var f in new[] { "train.csv", "valid.csv", "test.csv", "test_truth.csv", "schema.json" })
            CollectionAssert.AreEqual(File.ReadAllBytes(Path.Combine(files.Root, "a", f)), File.ReadAllBytes(Path.Combine(files.Root, "b", f)), f);
        CollectionAssert.AreNotEqual(File.ReadAllBytes(Path.Combine(files.Root, "a", "train.csv")), File.ReadAllBytes(Path.Combine(files.Root, "c", "train.csv")));
        Assert.IsFalse(Directory.EnumerateFiles(Path.Combine(files.Root, "a"), "*.tmp").Any(), "temporary files left behind");
    }

    [TestMethod]
    public void CrossesAreSignalTheOracleGainsFromAndTheBaseRatesHold()
    {
        using var files = new TestFiles();
        var plain = SyntheticGenerator.Generate(SyntheticOptions.Plain(60_000, 7), Path.Combine(files.Root, "plain"));
        var crossed = SyntheticGenerator.Generate(new SyntheticOptions { Rows = 60_000, Seed = 7, History = 0 }, Path.Combine(files.Root, "crossed"));
        CollectionAssert.AreEqual(File.ReadAllBytes(Path.Combine(plain.Directory, "schema.json")), File.ReadAllBytes(Path.Combine(crossed.Directory, "schema.json")), "the same columns and roles");
        Assert.IsTrue(crossed.Oracle["ctr.auc"]!.Value.Value > plain.Oracle["ctr.auc"]!.Value.Value + 0.01,
            $"the crosses are signal: oracle CTR AUC {crossed.Oracle["ctr.auc"]} against {plain.Oracle["ctr.auc"]}");
        Assert.AreEqual(plain.Ctr, crossed.Ctr, 0.005, "the intercepts still hit the target base rate");
    }

    [TestMethod]
    [DataRow(30, DisplayName = "warmed up")]
    [DataRow(0, DisplayName = "from an empty start")]
    public void HistoriesHoldExactlyTheUsersLatestClicksStrictlyBeforeEachImpression(int warmUpDays)
    {
        using var files = new TestFiles();
        var r = SyntheticGenerator.Generate(new SyntheticOptions { Rows = 40_000, Seed = 3, History = 5, WarmUpDays = warmUpDays }, Path.Combine(files.Root, "h"));
        Assert.AreEqual(0.04, r.Ctr, 0.004, "the click intercept, solved over the whole log, hits the target rate");
        var schema = DatasetSchema.Load(Path.Combine(r.Directory, "schema.json"));
        CollectionAssert.AreEqual(new[] { "recent_items:item_id:5", "recent_categories:category:5" }, schema.Sequences!.Select(q => $"{q.Column}:{q.Field}:{q.Length}").ToArray());

        // Rebuilt from the log, in file order (train, valid, test: time order): every user's clicks so far, after the clicks
        // of the unwritten warm-up, which a user's first row shows (none of their logged clicks can be before it).
        var clicks = new Dictionary<string, List<(long Time, string Item)>>();
        var categoryOf = new Dictionary<string, string>();
        long previous = 0, withHistory = 0, rows = 0, warmedUsers = 0;
        foreach (var file in new[] { "train.csv", "valid.csv", "test.csv" })
        {
            var lines = File.ReadAllLines(Path.Combine(r.Directory, file));
            var header = lines[0].Split(',');
            int user = Array.IndexOf(header, "user_id"), item = Array.IndexOf(header, "item_id"), category = Array.IndexOf(header, "category"),
                click = Array.IndexOf(header, "click"), time = Array.IndexOf(header, "timestamp"), items = Array.IndexOf(header, "recent_items"),
                categories = Array.IndexOf(header, "recent_categories");
            foreach (var line in lines.Skip(1))
            {
                var f = line.Split(',');
                long t = long.Parse(f[time], CultureInfo.InvariantCulture);
                Assert.IsTrue(t >= previous, $"{file}: time goes back at '{line}'");
                Assert.IsTrue(t >= SyntheticGenerator.TimeOrigin, $"{file}: a warm-up row was written: '{line}'");
                previous = t;
                categoryOf[f[item]] = f[category];
                if (!clicks.TryGetValue(f[user], out var mine))
                {
                    // The warm-up's clicks: only these can be in a user's first history; with no warm-up there are none.
                    var before = f[items].Length == 0 ? [] : f[items].Split('|');
                    if (warmUpDays == 0) Assert.AreEqual(0, before.Length, $"{file}: a history before any click at '{line}'");
                    if (before.Length > 0) warmedUsers++;
                    clicks[f[user]] = mine = [.. before.Select(i => (SyntheticGenerator.TimeOrigin - 1, i))];
                    var beforeCategories = f[categories].Length == 0 ? [] : f[categories].Split('|');
                    for (int i = 0; i < before.Length; i++) categoryOf.TryAdd(before[i], beforeCategories[i]);
                }
                // Expected: the user's latest 5 clicks with a time strictly before this row's, written oldest first.
                var expected = mine.Where(e => e.Time < t).TakeLast(5).Select(e => e.Item).ToArray();
                Assert.AreEqual(string.Join('|', expected), f[items], $"{file}: history of '{line}'");
                Assert.AreEqual(string.Join('|', expected.Select(i => categoryOf[i])), f[categories], $"{file}: categories of '{line}'");
                if (expected.Length > 0) withHistory++;
                if (f[click] == "1") mine.Add((t, f[item]));
                rows++;
            }
        }
        Assert.AreEqual(40_000, rows);
        Assert.IsTrue(withHistory > rows / 4, $"only {withHistory} of {rows} rows have a history");
        if (warmUpDays > 0) Assert.IsTrue(warmedUsers > 100, $"warmed up, users come to the log with histories: {warmedUsers}");
    }

    [TestMethod]
    public void LogsFollowTheFunnelTheBaseRatesAndTheTimeSplit()
    {
        using var files = new TestFiles();
        var r = Generate(files, "d", 200_000, 11);
        Assert.AreEqual(160_000, r.TrainRows);
        Assert.AreEqual(20_000, r.TestRows);
        Assert.IsTrue(r.Ctr is > 0.03 and < 0.05, $"CTR {r.Ctr}");
        Assert.IsTrue(r.CvrGivenClick is > 0.02 and < 0.10, $"CVR {r.CvrGivenClick}");

        var schema = DatasetSchema.Load(Path.Combine(r.Directory, "schema.json"));
        schema.OnInconsistent = InconsistentRowPolicy.Fail; // a conversion without a click would throw
        var train = DataLoader.Load(schema, Path.Combine(r.Directory, "train.csv"));
        var test = DataLoader.Load(schema, Path.Combine(r.Directory, "test.csv"));
        var click = train.GetNumbers("Click");
        var conversion = train.GetNumbers("Conversion");
        var rating = train.GetNumbers("Rating");
        for (int i = 0; i < click.Length; i++)
        {
            Assert.AreEqual(conversion[i] == 1, !float.IsNaN(rating[i]), "a rating exactly when there is a purchase");
            if (!float.IsNaN(rating[i])) Assert.IsTrue(rating[i] is >= 1 and <= 5 && rating[i] == MathF.Round(rating[i]));
        }
        // Split by time: every training row is no later than any test row (timestamps by day).
        int timestamp = Array.IndexOf(File.ReadLines(Path.Combine(r.Directory, "train.csv")).First().Split(','), "timestamp");
        long Day(string line) => long.Parse(line.Split(',')[timestamp], CultureInfo.InvariantCulture) / 86_400;
        long lastTrainDay = File.ReadLines(Path.Combine(r.Directory, "train.csv")).Skip(1).Max(Day);
        long firstTestDay = File.ReadLines(Path.Combine(r.Directory, "test.csv")).Skip(1).Min(Day);
        Assert.IsTrue(lastTrainDay <= firstTestDay);
        Assert.AreEqual(r.TestRows, File.ReadLines(Path.Combine(r.Directory, "test_truth.csv")).Count() - 1);

        // A long tail: the top 1% of items take a large share of impressions, and most items are rare.
        var items = train.GetText("ItemId").GroupBy(x => x).Select(g => g.Count()).OrderByDescending(c => c).ToArray();
        double top = items.Take(Math.Max(1, items.Length / 100)).Sum() / (double)click.Length;
        Assert.IsTrue(top > 0.15, $"top 1% of items hold {top:P1}");
        double median = items[items.Length / 2], mean = items.Average();
        Assert.IsTrue(median < mean / 3, $"a long tail: median item impressions {median}, mean {mean:F1}");
    }

    [TestMethod]
    public void OracleBeatsChanceAndTheCollaborativeSignalMatters()
    {
        using var files = new TestFiles();
        var r = SyntheticGenerator.Generate(SyntheticOptions.Plain(200_000, 3), Path.Combine(files.Root, "o"));
        Assert.IsTrue(r.Oracle["ctr.auc"]!.Value.Value is > 0.7 and < 0.9, $"oracle CTR AUC {r.Oracle["ctr.auc"]}");
        Assert.IsTrue(r.Oracle["cvr.auc"]!.Value.Value > 0.65, $"oracle CVR AUC {r.Oracle["cvr.auc"]}");
        Assert.AreEqual(1.0, r.Oracle["ctr.calibration"]!.Value.Value, 0.1);
    }
}
