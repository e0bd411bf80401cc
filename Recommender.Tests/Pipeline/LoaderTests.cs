using Microsoft.ML;
using Parquet;
using Parquet.Schema;
using Recommender.Pipeline.Data;

namespace Recommender.Tests.Pipeline;

[TestClass]
public sealed class LoaderTests
{
    private static DatasetSchema Wide() => new()
    {
        User = "user", Item = "item", Categorical = ["cat"], Dense = ["price", "score"],
        Click = "click", Conversion = "buy", Rating = "rating", RatingMin = 1, RatingMax = 5,
    };

    private const string Header = "user,item,cat,price,score,click,buy,rating\n";

    [TestMethod]
    public void CsvWithQuotesCrlfBlankLinesAndMissingValues()
    {
        using var files = new TestFiles();
        string path = files.Write("a.csv", "\uFEFF" + Header.Replace("\n", "\r\n")
            + "u1,i1,\"a, \"\"quoted\"\" cat\",1.5,,1,1,4\r\n"
            + "\r\n"
            + "u2,i2,b,NA,2,0,0,\r\n"
            + "u1,i3,\"multi\nline\",3,4,1,0,\r\n");
        var schema = Wide();
        schema.MultilineFields = true;
        var t = DataLoader.Load(schema, path);
        Assert.AreEqual(3, t.RowCount);
        CollectionAssert.AreEqual(new[] { "a, \"quoted\" cat", "b", "multi\nline" }, t.GetText("cat"));
        var price = t.GetNumbers("price");
        Assert.AreEqual(1.5f, price[0]);
        Assert.IsTrue(float.IsNaN(price[1]));
        Assert.IsTrue(float.IsNaN(t.GetNumbers("score")[0]));
        CollectionAssert.AreEqual(new[] { 1f, 0f, 1f }, t.GetNumbers("Click"));
        var rating = t.GetNumbers("Rating");
        Assert.AreEqual(4f, rating[0]);
        Assert.IsTrue(float.IsNaN(rating[1]));
    }

    [TestMethod]
    public void AStrayQuoteIsThatLinesErrorAndCannotSwallowTheRowsAfterIt()
    {
        using var files = new TestFiles();
        // Two stray quotes 500 lines apart: once, these merged the 500 rows between them into one, silently.
        var rows = Enumerable.Range(0, 2000).Select(i => i == 10 ? "u1,i1,\"bad,1,2,0,0," : i == 510 ? "u2,i2,c\"x,1,2,0,0," : $"u{i % 7},i{i % 5},c,1,2,0,0,").ToList();
        string path = files.Write("stray.csv", Header + string.Join("\n", rows) + "\n");
        var e = Assert.ThrowsExactly<DataFormatException>(() => DataLoader.Load(Wide(), path));
        StringAssert.StartsWith(e.Message, $"{path}:12:7: unterminated quoted field");
        var schema = Wide();
        schema.SkipBadRows = true;
        var t = DataLoader.Load(schema, path);
        Assert.AreEqual(2000, t.Report.RowsRead);
        Assert.AreEqual(1998, t.RowCount);
        Assert.AreEqual(2, t.Report.BadRowsSkipped);
        StringAssert.Contains(t.Report.Examples[1], ":512:");
    }

    [TestMethod]
    public void QuoteTrackingIsLinearInTheLine()
    {
        // One stray quote at the top of 200,000 lines with multi-line fields allowed: the record runs to the end of the
        // file and fails there, as one malformed record. The old reader recounted the whole record's quotes after each
        // line (quadratic): on this input it would not finish within the test run's limit.
        using var files = new TestFiles();
        var text = new System.Text.StringBuilder(Header).Append("u1,i1,\"open,1,2,0,0,\n");
        for (int i = 0; i < 200_000; i++) text.Append("u1,i1,c,1,2,0,0,\n");
        string path = files.Write("open.csv", text.ToString());
        using var reader = new DelimitedReader(path, ',', multilineFields: true);
        Assert.IsTrue(reader.Read()); // header
        Assert.IsTrue(reader.Read());
        Assert.IsNotNull(reader.Malformed);
        StringAssert.Contains(reader.Malformed!.Message, "unterminated quoted field");
        Assert.IsFalse(reader.Read());
    }

    [TestMethod]
    public void NonFiniteDenseValuesAreRejectedLikeAnyBadNumber()
    {
        using var files = new TestFiles();
        foreach (var bad in new[] { "Infinity", "-Infinity", "1e400", "inf" })
        {
            string path = files.Write("inf.csv", Header + "u1,i1,c,1,2,0,0,\n" + $"u1,i1,c,{bad},2,0,0,\n");
            var e = Assert.ThrowsExactly<DataFormatException>(() => DataLoader.Load(Wide(), path), bad);
            StringAssert.StartsWith(e.Message, $"{path}:3:9: dense column 'price': '{bad}' is not a", bad);
        }
    }

    [TestMethod]
    public void InvalidUtf8IsAnErrorOrCountedNeverReplaced()
    {
        using var files = new TestFiles();
        string path = files.Path_("latin1.csv");
        var bytes = new List<byte>(System.Text.Encoding.UTF8.GetBytes(Header + "u1,i1,c,1,2,0,0,\nu2,i1,caf"));
        bytes.Add(0xE9); // Latin-1 'é': not UTF-8
        bytes.AddRange(System.Text.Encoding.UTF8.GetBytes(",1,2,0,0,\nu3,i1,c,1,2,0,0,\n"));
        File.WriteAllBytes(path, bytes.ToArray());
        var e = Assert.ThrowsExactly<DataFormatException>(() => DataLoader.Load(Wide(), path));
        StringAssert.StartsWith(e.Message, $"{path}:3:10: bytes that are not valid UTF-8");
        var schema = Wide();
        schema.SkipBadRows = true;
        var t = DataLoader.Load(schema, path);
        Assert.AreEqual(2, t.RowCount);
        Assert.AreEqual(1, t.Report.BadRowsSkipped);
        CollectionAssert.AreEqual(new[] { "u1", "u3" }, t.GetText("UserId"));
    }

    [TestMethod]
    public void BadLabelIsLocatedByFileLineAndColumn()
    {
        using var files = new TestFiles();
        string path = files.Write("a.csv", Header + "u1,i1,c,1,2,0,0,\nu2,i2,c,1,2,2,0,\n");
        var e = Assert.Throws<DataFormatException>(() => DataLoader.Load(Wide(), path));
        Assert.AreEqual(3, e.Line);
        Assert.AreEqual(13, e.Column); // "u2,i2,c,1,2," is 12 characters: the click field starts at 13
        StringAssert.Contains(e.Message, "click label must be 0 or 1, got '2'");
    }

    [TestMethod]
    public void RatingOutsideRangeAndNonNumericDenseAreErrors()
    {
        using var files = new TestFiles();
        string rating = files.Write("r.csv", Header + "u1,i1,c,1,2,1,1,7\n");
        StringAssert.Contains(Assert.Throws<DataFormatException>(() => DataLoader.Load(Wide(), rating)).Message, "r.csv:2:17: rating 7 is outside the declared range [1, 5]");
        string dense = files.Write("d.csv", Header + "u1,i1,c,abc,2,1,1,\n");
        StringAssert.Contains(Assert.Throws<DataFormatException>(() => DataLoader.Load(Wide(), dense)).Message, "d.csv:2:9: dense column 'price': 'abc' is not a number");
    }

    [TestMethod]
    public void WrongFieldCountIsAnError()
    {
        using var files = new TestFiles();
        string path = files.Write("a.csv", Header + "u1,i1,c,1,2,1\n");
        var e = Assert.Throws<DataFormatException>(() => DataLoader.Load(Wide(), path));
        StringAssert.Contains(e.Message, "expected 8 fields, found 6");
        Assert.AreEqual(2, e.Line);
    }

    [TestMethod]
    public void SkipBadRowsCountsAndReportsThem()
    {
        using var files = new TestFiles();
        string path = files.Write("a.csv", Header + "u1,i1,c,1,2,1,0,\nu2,i2,c,x,2,1,0,\nu3,i3,c,1,2,5,0,\nu4,i4,c,1,2,0,0,\n");
        var schema = Wide();
        schema.SkipBadRows = true;
        var t = DataLoader.Load(schema, path);
        Assert.AreEqual(2, t.RowCount);
        Assert.AreEqual(4, t.Report.RowsRead);
        Assert.AreEqual(2, t.Report.BadRowsSkipped);
        CollectionAssert.AreEqual(new[] { "u1", "u4" }, t.GetText("UserId"));
        StringAssert.Contains(t.Report.Examples[0], "a.csv:3:");
        StringAssert.Contains(t.Report.Examples[1], "a.csv:4:");
    }

    [TestMethod]
    public void ConversionWithoutClickIsDroppedAndCountedOrFails()
    {
        using var files = new TestFiles();
        string path = files.Write("a.csv", Header + "u1,i1,c,1,2,0,1,\nu2,i2,c,1,2,1,1,3\n");
        var t = DataLoader.Load(Wide(), path);
        Assert.AreEqual(1, t.RowCount);
        Assert.AreEqual(1, t.Report.InconsistentDropped);
        StringAssert.Contains(t.Report.Examples[0], "a.csv:2:15: conversion is 1 where click is 0");
        var strict = Wide();
        strict.OnInconsistent = InconsistentRowPolicy.Fail;
        Assert.Throws<DataFormatException>(() => DataLoader.Load(strict, path));
    }

    [TestMethod]
    public void HeaderlessTsvWithNamedColumns()
    {
        using var files = new TestFiles();
        string path = files.Write("a.tsv", "u1\ti1\t1\nu2\ti2\t0\n");
        var schema = new DatasetSchema { Format = DataFormat.Tsv, HasHeader = false, ColumnNames = ["u", "i", "y"], User = "u", Item = "i", Click = "y" };
        var t = DataLoader.Load(schema, path);
        CollectionAssert.AreEqual(new[] { "i1", "i2" }, t.GetText("ItemId"));
        CollectionAssert.AreEqual(new[] { 1f, 0f }, t.GetNumbers("Click"));
    }

    [TestMethod]
    public void MovieLensRatingsCsvAndUData()
    {
        using var files = new TestFiles();
        string csv = files.Write("ratings.csv", "userId,movieId,rating,timestamp\n1,31,2.5,1260759144\n1,1029,3.0,1260759179\n");
        var t = DataLoader.Load(new DatasetSchema { Format = DataFormat.MovieLens }, csv);
        CollectionAssert.AreEqual(new[] { "31", "1029" }, t.GetText("ItemId"));
        CollectionAssert.AreEqual(new[] { 2.5f, 3f }, t.GetNumbers("Rating"));
        CollectionAssert.AreEqual(new[] { "timestamp" }, t.Schema.DenseFeatures);
        // The timestamp as the event time instead: no longer a dense feature.
        var timed = DataLoader.Load(new DatasetSchema { Format = DataFormat.MovieLens, Time = "timestamp" }, csv);
        Assert.AreEqual(0, timed.Schema.DenseFeatures.Length);
        CollectionAssert.AreEqual(new[] { "1260759144", "1260759179" }, timed.GetText(DatasetSchema.TimeColumn));

        string udata = files.Write("u.data", "196\t242\t3\t881250949\n186\t302\t3\t891717742\n");
        var u = DataLoader.Load(new DatasetSchema { Format = DataFormat.MovieLens }, udata);
        CollectionAssert.AreEqual(new[] { "196", "186" }, u.GetText("UserId"));
        // u.data ratings are 1..5: a 0.5 is out of range there.
        string bad = files.Write("u2.data", "196\t242\t0.5\t881250949\n");
        StringAssert.Contains(Assert.Throws<DataFormatException>(() => DataLoader.Load(new DatasetSchema { Format = DataFormat.MovieLens }, bad)).Message, "outside the declared range [1, 5]");
    }

    [TestMethod]
    public void AliCcpRawJoinsSkeletonWithCommonFeatures()
    {
        using var files = new TestFiles();
        static string F(string field, string id, string value) => $"{field}\x02{id}\x03{value}";
        string common = files.Write("common_features_train.csv",
            $"k1,2,{F("101", "11", "1.0")}\x01{F("121", "5", "1.0")}\x01{F("109_14", "77", "0.25")}\n" +
            $"k2,1,{F("101", "12", "1.0")}\n");
        string skeleton = files.Write("sample_skeleton_train.csv",
            $"1,0,0,k1,2,{F("205", "900", "1.0")}\x01{F("206", "31", "1.0")}\n" +
            $"2,1,1,k2,1,{F("205", "901", "1.0")}\n" +
            $"3,1,0,k1,1,{F("205", "902", "1.0")}\x01{F("205", "903", "1.0")}\n");
        var schema = new DatasetSchema
        {
            Format = DataFormat.AliCcpRaw, User = "101", Item = "205", Categorical = ["121", "206", "109_14"], Dense = ["D109_14"],
            Click = "click", Conversion = "conversion",
            AliCcpCategoricalFields = ["101", "121", "205", "206", "109_14"], AliCcpDenseFields = ["109_14"],
        };
        var t = DataLoader.Load(schema, skeleton); // common features found beside the skeleton by name
        CollectionAssert.AreEqual(new[] { "101:11", "101:12", "101:11" }, t.GetText("UserId"));
        CollectionAssert.AreEqual(new[] { "205:900", "205:901", "205:902" }, t.GetText("ItemId")); // first feature of a field wins
        CollectionAssert.AreEqual(new[] { "121:5", "", "121:5" }, t.GetText("121"));
        CollectionAssert.AreEqual(new[] { "206:31", "", "" }, t.GetText("206"));
        var d = t.GetNumbers("D109_14");
        Assert.AreEqual(0.25f, d[0]);
        Assert.IsTrue(float.IsNaN(d[1]));
        CollectionAssert.AreEqual(new[] { 0f, 1f, 1f }, t.GetNumbers("Click"));
        CollectionAssert.AreEqual(new[] { 0f, 1f, 0f }, t.GetNumbers("Conversion"));
    }

    [TestMethod]
    public void AliCcpRawMissingCommonKeyIsLocatedOrCounted()
    {
        using var files = new TestFiles();
        string common = files.Write("common_features_x.csv", "k1,1,101\x0211\x031.0\n");
        string skeleton = files.Write("sample_skeleton_x.csv", "1,0,0,k1,1,205\x02900\x031.0\n2,0,0,nope,1,205\x02901\x031.0\n");
        var schema = new DatasetSchema { Format = DataFormat.AliCcpRaw, User = "101", Item = "205", Click = "click", AliCcpCategoricalFields = ["101", "205"], AliCcpDenseFields = [] };
        var e = Assert.Throws<DataFormatException>(() => DataLoader.Load(schema, skeleton, common));
        StringAssert.Contains(e.Message, "sample_skeleton_x.csv:2:7: common_feature_index 'nope' is not in");
        schema.SkipBadRows = true;
        var t = DataLoader.Load(schema, skeleton, common);
        Assert.AreEqual(1, t.RowCount);
        Assert.AreEqual(1, t.Report.BadRowsSkipped);
    }

    [TestMethod]
    public void ParquetLoadsTypedColumnsWithNulls()
    {
        using var files = new TestFiles();
        string path = files.Path_("a.parquet");
        var user = new DataField<string>("user");
        var price = new DataField<double?>("price");
        var click = new DataField<int>("click");
        using (var stream = File.Create(path))
        {
            var writer = ParquetWriter.CreateAsync(new ParquetSchema(user, price, click), stream).GetAwaiter().GetResult();
            using (var group = writer.CreateRowGroup())
            {
                group.WriteAsync(user, new[] { "a", "b", "c" }).GetAwaiter().GetResult();
                group.WriteAsync<double>(price, new double?[] { 1.25, null, 3 }.AsMemory()).GetAwaiter().GetResult();
                group.WriteAsync<int>(click, new[] { 1, 0, 1 }.AsMemory()).GetAwaiter().GetResult();
            }
            writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        var schema = new DatasetSchema { Format = DataFormat.Parquet, User = "user", Dense = ["price"], Click = "click" };
        var t = DataLoader.Load(schema, path);
        CollectionAssert.AreEqual(new[] { "a", "b", "c" }, t.GetText("UserId"));
        var p = t.GetNumbers("price");
        Assert.AreEqual(1.25f, p[0]);
        Assert.IsTrue(float.IsNaN(p[1]));
        CollectionAssert.AreEqual(new[] { 1f, 0f, 1f }, t.GetNumbers("Click"));
    }

    [TestMethod]
    public void DataViewStreamsTheSameRowsAsTheInMemoryTable()
    {
        using var files = new TestFiles();
        var lines = Enumerable.Range(0, 150_000).Select(i => $"u{i % 97},i{i % 13},c{i % 5},{i * 0.5},{i % 7},{i % 2},0,");
        string path = files.Write("big.csv", Header + string.Join('\n', lines) + "\n");
        var ml = new MLContext(seed: 1);
        var memory = DataLoader.Load(Wide(), path);
        var streamed = DataLoader.Stream(Wide(), path, out var report);
        Assert.IsNull(streamed.GetRowCount());
        var a = ml.Data.CreateEnumerable<Row>(memory.ToDataView(), reuseRowObject: false).ToList();
        var b = ml.Data.CreateEnumerable<Row>(streamed, reuseRowObject: false).ToList();
        Assert.AreEqual(150_000, a.Count);
        Assert.AreEqual(150_000, report.RowsKept);
        for (int i = 0; i < a.Count; i += 997)
        {
            Assert.AreEqual(a[i].UserId, b[i].UserId);
            Assert.AreEqual(a[i].price, b[i].price);
        }
        Assert.AreEqual("u90", a[100_000].UserId); // 100000 mod 97
        Assert.AreEqual(50_000f, a[100_000].price);
    }

    private sealed class Row
    {
        public string UserId { get; set; } = "";
        public float price { get; set; }
    }
}
