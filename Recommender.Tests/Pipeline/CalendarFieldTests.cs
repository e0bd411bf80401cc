using System.Text;
using Microsoft.ML;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Featurization;

namespace Recommender.Tests.Pipeline;

[TestClass]
public sealed class CalendarFieldTests
{
    // A UTC midnight; the log's days are local days of UTC+8, which start at 16:00 UTC.
    private const long UtcMidnight = 1_699_920_000;
    private const int LocalOffsetHours = 8;

    private static DatasetSchema Schema() => new() { User = "user", Item = "item", Time = "ts", Categorical = ["weekday", "hour", "color"], Click = "click" };

    // Twelve local days, two rows in every local hour (at minute 0 and minute 59). weekday = day % 7, so the values 0-4 hold
    // two days each and 5 and 6 one; hour is constant within each hour only; color alternates within the day. The first
    // hour of day 4 still reads the day before's weekday, as a log does where a daylight-saving change moved midnight.
    private static string Log(int days = 12, bool everyHour = true, bool oneUserADay = false)
    {
        var text = new StringBuilder("user,item,weekday,hour,color,click,ts\n");
        for (int d = 0; d < days; d++)
            for (int h = 0; h < (everyHour ? 24 : 1); h++)
                foreach (int minute in everyHour ? new[] { 0, 59 } : [30])
                {
                    long ts = UtcMidnight + d * 86_400L - LocalOffsetHours * 3600 + h * 3600 + minute * 60;
                    int weekday = d == 4 && h == 0 ? 3 : d % 7;
                    string user = oneUserADay ? $"u{d}" : $"u{h % 5}", item = oneUserADay ? $"i{d}" : $"i{(h + minute) % 3}";
                    text.Append($"{user},{item},{weekday},{h},{(minute == 0 ? "red" : "blue")},{(h + d) % 2},{ts}\n");
                }
        return text.ToString();
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public void AWeekdayIsFoundWithItsLocalMidnightAndCountedInDaysWhileHourAndColorAreNot(bool milliseconds)
    {
        using var files = new TestFiles();
        // The log opens in the last hour of the day before (weekday 6): a part of a day, which is no day of its value's.
        long opening = UtcMidnight - LocalOffsetHours * 3600;
        string log = Log().Insert(Log().IndexOf('\n') + 1, $"u0,i0,6,23,red,0,{opening - 3600}\nu1,i1,6,23,blue,1,{opening - 60}\n");
        // The same log with its times in milliseconds, as logs often write them, reads the same.
        if (milliseconds) log = string.Join('\n', log.Split('\n').Select((l, i) => i == 0 || l.Length == 0 ? l : l + "000"));
        var train = DataLoader.Load(Schema(), files.Write("train.csv", log));
        var found = CalendarFields.Find(train.ToDataView(), DatasetSchema.TimeColumn, "ts", ["weekday", "hour", "color", DatasetSchema.UserColumn, DatasetSchema.ItemColumn]);

        var weekday = found.Single();
        Assert.AreEqual("weekday", weekday.Column);
        Assert.AreEqual((24 - LocalOffsetHours) * 60, weekday.OffsetMinutes); // local midnight, 16:00 UTC
        // Days 0-11: values 0-4 on days d and d + 7, 5 and 6 on one day; day 4's first hour (2 of 48 rows) is day 3's value.
        var expected = new Dictionary<string, int> { ["0"] = 2, ["1"] = 2, ["2"] = 2, ["3"] = 2, ["4"] = 2, ["5"] = 1, ["6"] = 1 };
        CollectionAssert.AreEquivalent(expected.ToList(), weekday.Days.ToList());
    }

    [TestMethod]
    public void OneRowADayIsNoEvidenceOfACalendarField()
    {
        using var files = new TestFiles();
        // Every column is trivially constant within each day, but a column drawn independently of the day would show a
        // second value on no day either.
        var train = DataLoader.Load(Schema(), files.Write("train.csv", Log(days: 30, everyHour: false)));
        Assert.AreEqual(0, CalendarFields.Find(train.ToDataView(), DatasetSchema.TimeColumn, "ts", ["weekday", "hour", "color"]).Count);
    }

    [TestMethod]
    public void MinDaysPoolsValuesHeldOnTooFewDaysAndLeavesOutAFieldWithNoneForGood()
    {
        using var files = new TestFiles();
        var ml = new MLContext(seed: 1);
        var train = DataLoader.Load(Schema(), files.Write("train.csv", Log()));
        int Weekdays(int minDays) => SchemaFeaturizer.Create(ml, train.Schema, train.ToDataView(), new FeaturizerOptions { MinDays = minDays })
            .Output.Categorical.SingleOrDefault(c => c.Name == "weekday")?.Cardinality ?? 0;
        Assert.AreEqual(7, Weekdays(1)); // rows alone
        Assert.AreEqual(5, Weekdays(2)); // 5 and 6 held one day each
        var (estimator, output) = SchemaFeaturizer.Create(ml, train.Schema, train.ToDataView(), new FeaturizerOptions { MinDays = 3 });
        CollectionAssert.AreEqual(new[] { "weekday" }, output.LeftOut.ToArray());
        CollectionAssert.AreEqual(new[] { "UserId", "ItemId", "hour", "color" }, output.Categorical.Select(c => c.Name).ToArray());

        // The model scores rows without the time column; training data must have it.
        var model = estimator.Fit(train.ToDataView());
        string noTime = string.Join('\n', Log(days: 1).Split('\n').Select(l => l.Length == 0 ? l : l[..l.LastIndexOf(',')]));
        var scoring = DataLoader.Load(Schema().WithoutLabels(), files.Write("score.csv", noTime));
        Assert.AreEqual(48, ml.Data.CreateEnumerable<HourKey>(model.Transform(scoring.ToDataView()), false).Count(r => r.hour > 0));
        var missing = Assert.ThrowsExactly<SchemaException>(() => DataLoader.Load(Schema(), files.Path_("score.csv")));
        StringAssert.Contains(missing.Message, "the time column 'ts' is not in the data");

        // A warm start keeps the model's inputs: the field stays out, even where the new data holds its values on many days.
        var (_, grown) = SchemaFeaturizer.Grow(ml, train.Schema, DataLoader.Load(Schema(), files.Write("more.csv", Log(days: 40))).ToDataView(),
            model, train.ToDataView().Schema, new FeaturizerOptions { MinDays = 3 });
        CollectionAssert.AreEqual(new[] { "weekday" }, grown.LeftOut.ToArray());
        Assert.IsFalse(grown.Categorical.Any(c => c.Name == "weekday"));
    }

    [TestMethod]
    public void TheUserAndItemIdsAreNeverCalendarFieldsEvenInALogOfOneUserADay()
    {
        using var files = new TestFiles();
        var train = DataLoader.Load(Schema(), files.Write("train.csv", Log(oneUserADay: true)));
        var ids = new[] { DatasetSchema.UserColumn, DatasetSchema.ItemColumn };
        // Read by their rows alone they would be: each holds one value a day.
        CollectionAssert.IsSubsetOf(ids, CalendarFields.Find(train.ToDataView(), DatasetSchema.TimeColumn, "ts", ids).Select(f => f.Column).ToArray());
        CollectionAssert.AreEqual(new[] { "weekday" }, CalendarFields.Candidates(train.Schema).Intersect(["weekday", .. ids]).ToArray());
        var (_, output) = SchemaFeaturizer.Create(new MLContext(seed: 1), train.Schema, train.ToDataView(), new FeaturizerOptions { MinDays = 3 });
        CollectionAssert.AreEqual(new[] { "weekday" }, output.LeftOut.ToArray());
        Assert.AreEqual(12, output.Categorical.Single(c => c.Name == DatasetSchema.UserColumn).Cardinality);
        Assert.AreEqual(12, output.Categorical.Single(c => c.Name == DatasetSchema.ItemColumn).Cardinality);
    }

    [TestMethod]
    public void ATimeThatIsNotUnixSecondsIsRefusedNamingTheColumnAndValue()
    {
        using var files = new TestFiles();
        var train = DataLoader.Load(Schema(), files.Write("train.csv", Log(days: 2).Replace($",{UtcMidnight - LocalOffsetHours * 3600}\n", ",yesterday\n")));
        var error = Assert.ThrowsExactly<SchemaException>(() => SchemaFeaturizer.Create(new MLContext(seed: 1), train.Schema, train.ToDataView()));
        Assert.AreEqual("time column 'ts': 'yesterday' is not a time in Unix seconds", error.Message);
    }

    private sealed class HourKey
    {
#pragma warning disable IDE1006 // the column's own name
        public uint hour { get; set; }
#pragma warning restore IDE1006
    }
}
