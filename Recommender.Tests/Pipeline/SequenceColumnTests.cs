using Microsoft.ML;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Featurization;

namespace Recommender.Tests.Pipeline;

[TestClass]
public sealed class SequenceColumnTests
{
    [TestMethod]
    public void RecentTakesTheLastItemsMostRecentFirstTrimmedAndSkipsEmptyOnes()
    {
        var ranges = new Range[3];
        const string cell = "a|b| c ||d ";
        int n = SequenceColumn.Recent(cell, '|', ranges);
        CollectionAssert.AreEqual(new[] { "d", "c", "b" }, ranges[..n].Select(r => cell[r]).ToArray());
        Assert.AreEqual(0, SequenceColumn.Recent("", '|', ranges));
        Assert.AreEqual(1, SequenceColumn.Recent("x", '|', ranges));
        Assert.AreEqual(0, SequenceColumn.Recent(" | ", '|', ranges));
    }

    [TestMethod]
    public void PositionsMapThroughTheirFieldsVocabularyAndPaddingAndUnknownItemsAreKeyZero()
    {
        using var files = new TestFiles();
        string path = files.Write("a.csv", "user,item,cat,recent,click\n"
            + "u1,i1,x,,0\n"
            + "u1,i2,y,i1,1\n"
            + "u2,i1,x,i1|i2|i9,0\n"
            + "u2,i3,x,i2 | i1,1\n");
        var schema = new DatasetSchema
        {
            User = "user", Item = "item", Categorical = ["cat"], Click = "click",
            Sequences = [new() { Column = "recent", Field = "item", Length = 2 }],
        };
        var table = DataLoader.Load(schema, path);
        CollectionAssert.AreEqual(new[] { "", "i1", "i9", "i1" }, table.GetText("recent#0"));
        CollectionAssert.AreEqual(new[] { "", "", "i2", "i2" }, table.GetText("recent#1"));
        var featurized = FeaturizedTables.Build(new MLContext(seed: 1), table);
        CollectionAssert.AreEqual(new[] { "UserId", "ItemId", "cat", "recent#0", "recent#1" }, featurized.FieldNames);
        Assert.AreEqual(3, featurized.PlainFields);
        var rows = featurized.FieldRows;
        Assert.AreEqual(rows[1], rows[3], "a position has its field's vocabulary");
        Assert.AreEqual(rows[1], rows[4]);
        var m = featurized.Train;
        for (int r = 0; r < 4; r++)
        {
            var ids = m.Ids(r);
            int Key(string item) => item switch { "" or "i9" => 0, _ => m.Ids(new[] { "i1", "i2", "i1", "i3" }.ToList().IndexOf(item))[1] };
            Assert.AreEqual(Key(table.GetText("recent#0")[r]), ids[3], $"row {r} position 0");
            Assert.AreEqual(Key(table.GetText("recent#1")[r]), ids[4], $"row {r} position 1");
        }
        Assert.AreNotEqual(0, m.Ids(1)[3], "a known item has its own key");
        Assert.AreEqual("recent", featurized.Sequences.Single().Name);
        Assert.AreEqual("ItemId", featurized.Sequences.Single().Target);
    }

    [TestMethod]
    public void AParquetListColumnLoadsAsItsSequenceAndAnUndeclaredListIsRefused()
    {
        using var files = new TestFiles();
        string path = files.Path_("h.parquet");
        var schema = new Parquet.Schema.ParquetSchema(new Parquet.Schema.DataField<string>("user"), new Parquet.Schema.DataField<string>("item"),
            new Parquet.Schema.ListField("recent", new Parquet.Schema.DataField<string>("element")), new Parquet.Schema.DataField<int>("click"));
        static ReadOnlyMemory<char>?[] Items(params string[] s) => s.Select(x => (ReadOnlyMemory<char>?)x.AsMemory()).ToArray();
        var rows = new List<IDictionary<string, object?>>
        {
            new Dictionary<string, object?> { ["user"] = "u1".AsMemory(), ["item"] = "i1".AsMemory(), ["recent"] = Items("i7", "i3", "i9"), ["click"] = 1 },
            new Dictionary<string, object?> { ["user"] = "u2".AsMemory(), ["item"] = "i2".AsMemory(), ["recent"] = Items(), ["click"] = 0 },
            new Dictionary<string, object?> { ["user"] = "u3".AsMemory(), ["item"] = "i3".AsMemory(), ["recent"] = Items("i1"), ["click"] = 0 },
        };
        using (var stream = File.Create(path)) Parquet.Serialization.ParquetSerializer.SerializeUntypedAsync(rows, schema, stream).GetAwaiter().GetResult();
        var declared = new DatasetSchema
        {
            Format = DataFormat.Parquet, User = "user", Item = "item", Click = "click", Sequences = [new() { Column = "recent", Field = "item", Length = 2 }],
        };
        var table = DataLoader.Load(declared, path);
        CollectionAssert.AreEqual(new[] { "i9", "", "i1" }, table.GetText("recent#0"), "the list's last item is the most recent");
        CollectionAssert.AreEqual(new[] { "i3", "", "" }, table.GetText("recent#1"));
        CollectionAssert.AreEqual(new[] { "u1", "u2", "u3" }, table.GetText("UserId"));
        declared.Sequences = null;
        StringAssert.Contains(Assert.Throws<SchemaException>(() => DataLoader.Load(declared, path)).Message, "column 'recent' is a list; a list column is read only as a behaviour sequence");
    }

    [TestMethod]
    public void TheCandidateCatalogKeepsEachUsersLatestHistoryNotACommonDefault()
    {
        using var files = new TestFiles();
        string path = files.Write("a.csv", "user,item,recent,click\n"
            + "u1,i1,,0\n"
            + "u2,i2,i1,1\n"
            + "u1,i3,i1|i2,1\n"
            + "u2,i1,i2,0\n"
            + "u3,i2,i2,0\n");
        var schema = new DatasetSchema { User = "user", Item = "item", Click = "click", Sequences = [new() { Column = "recent", Field = "item", Length = 2 }] };
        var table = DataLoader.Load(schema, path);
        var catalog = Recommender.Pipeline.Lifecycle.CandidateCatalog.Build(table, Recommender.Pipeline.Lifecycle.CandidateCatalog.RetrievalOptions(1));
        Assert.AreEqual("user-latest", catalog.TextSource["recent#0"]);
        var chunk = new TableChunk(table.Schema.TextColumns.Length, table.Schema.NumberColumns.Length, 4);
        var users = catalog.Users;
        catalog.Fill(chunk, table.Schema.TextColumns, [], [("u1", users.IndexOf("u1"), "i2", 1), ("u2", users.IndexOf("u2"), "i3", 2), ("u3", users.IndexOf("u3"), "i1", 0), ("new", -1, "i1", 0)]);
        int p0 = Array.IndexOf(table.Schema.TextColumns, "recent#0"), p1 = Array.IndexOf(table.Schema.TextColumns, "recent#1");
        // u1's last row listed i1|i2 (most recent i2), u2's listed i2, u3's i2; an unknown user has none.
        CollectionAssert.AreEqual(new[] { "i2", "i2", "i2", "" }, chunk.Text[p0]);
        CollectionAssert.AreEqual(new[] { "i1", "", "", "" }, chunk.Text[p1]);
    }

    [TestMethod]
    public void ASequenceMustListAKnownColumnWithItsOwnSeparator()
    {
        using var files = new TestFiles();
        string path = files.Write("a.csv", "user,item,recent,click\nu1,i1,i2,1\n");
        var schema = new DatasetSchema { User = "user", Item = "item", Click = "click", Sequences = [new() { Column = "recent", Field = "shop" }] };
        StringAssert.Contains(Assert.Throws<SchemaException>(() => DataLoader.Load(schema, path)).Message, "not the user, the item or a categorical column");
        schema.Sequences = [new() { Column = "recent", Field = "item", Separator = "," }];
        StringAssert.Contains(Assert.Throws<SchemaException>(() => DataLoader.Load(schema, path)).Message, "the file's own");
        schema.Sequences = [new() { Column = "recent", Field = "item", Length = 0 }];
        StringAssert.Contains(Assert.Throws<SchemaException>(() => DataLoader.Load(schema, path)).Message, "length must be in 1..1000");
    }
}
