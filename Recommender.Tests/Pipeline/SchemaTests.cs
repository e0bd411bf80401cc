using Recommender.Pipeline.Data;

namespace Recommender.Tests.Pipeline;

[TestClass]
public sealed class SchemaTests
{
    private static readonly string[] Header = ["click", "purchase", "101", "121", "205", "206", "D508", "D509", "score"];

    private static DatasetSchema AliCcp() => new()
    {
        User = "101", Item = "205", Categorical = ["1*", "2*"], Dense = ["D*"], Click = "click", Conversion = "purchase",
    };

    [TestMethod]
    public void GlobsClaimOnlyColumnsWithoutARole()
    {
        var r = AliCcp().Resolve(Header, "f.csv");
        CollectionAssert.AreEqual(new[] { "UserId", "ItemId", "121", "206" }, r.TextColumns);
        CollectionAssert.AreEqual(new[] { 2, 4, 3, 5 }, r.TextSources);
        CollectionAssert.AreEqual(new[] { "D508", "D509", "Click", "Conversion" }, r.NumberColumns);
        Assert.AreEqual(2, r.DenseCount);
        Assert.AreEqual("UserId", r.GroupOutput);
        CollectionAssert.AreEqual(new[] { "UserId", "ItemId", "121", "206" }, r.CategoricalFeatures);
    }

    [TestMethod]
    public void MissingColumnNamesTheRoleAndListsTheColumns()
    {
        var s = AliCcp();
        s.Click = "clicked";
        var e = Assert.Throws<SchemaException>(() => s.Resolve(Header, "f.csv"));
        StringAssert.Contains(e.Message, "the click column 'clicked' is not in the data");
        StringAssert.Contains(e.Message, "columns are: click, purchase");
    }

    [TestMethod]
    public void AColumnCannotHoldTwoRoles()
    {
        var s = AliCcp();
        s.Dense = ["purchase"];
        var e = Assert.Throws<SchemaException>(() => s.Resolve(Header, "f.csv"));
        StringAssert.Contains(e.Message, "given two roles");
    }

    [TestMethod]
    public void AGlobThatMatchesNothingIsAnError()
    {
        var s = AliCcp();
        s.Dense = ["X*"];
        StringAssert.Contains(Assert.Throws<SchemaException>(() => s.Resolve(Header, "f.csv")).Message, "pattern 'X*' matches no unclaimed column");
    }

    [TestMethod]
    public void RulesThatNeedNoData()
    {
        StringAssert.Contains(Assert.Throws<SchemaException>(() => new DatasetSchema().Validate()).Message, "no label");
        StringAssert.Contains(Assert.Throws<SchemaException>(() => new DatasetSchema { Conversion = "c" }.Validate()).Message, "without a click label");
        StringAssert.Contains(Assert.Throws<SchemaException>(() => new DatasetSchema { Rating = "r", RatingMin = 5, RatingMax = 1 }.Validate()).Message, "must be below");
    }

    [TestMethod]
    public void FeatureNamedLikeARoleOutputIsRejected()
    {
        var s = new DatasetSchema { Click = "click", Categorical = ["Rating"] };
        StringAssert.Contains(Assert.Throws<SchemaException>(() => s.Resolve(["click", "Rating"], "f")).Message, "collides");
    }

    [TestMethod]
    public void SchemaFileRoundTripsAndTyposAreLocated()
    {
        using var files = new TestFiles();
        var schema = AliCcp();
        string path = files.Path_("schema.json");
        schema.Save(path);
        var loaded = DatasetSchema.Load(path);
        CollectionAssert.AreEqual(schema.Dense, loaded.Dense);
        Assert.AreEqual("purchase", loaded.Conversion);

        string bad = files.Write("bad.json", "{\n  \"click\": \"click\",\n  \"clik\": \"x\"\n}");
        var e = Assert.Throws<DataFormatException>(() => DatasetSchema.Load(bad));
        Assert.AreEqual(3, e.Line);
        StringAssert.StartsWith(e.Message, bad + ":3:");
    }

    [TestMethod]
    public void ExperimentFileResolvesPathsAgainstItsFolder()
    {
        using var files = new TestFiles();
        string path = files.Write("exp.json", """
        {
          // one file: data, roles, tasks, trainer options
          "data": { "train": "train.csv", "valid": "valid.csv" },
          "schema": { "user": "u", "click": "click" },
          "tasks": { "ctr": 1, "cvr": 0.5, "rating": 0 },
          "trainer": { "epochs": 3 }
        }
        """);
        var e = ExperimentFile.Load(path);
        Assert.AreEqual(Path.Combine(files.Root, "train.csv"), e.Resolve(e.Data.Train));
        Assert.AreEqual(0.5f, e.Tasks.Cvr);
        Assert.AreEqual(3, e.Trainer!["epochs"].GetInt32());
        Assert.AreEqual("u", e.ResolveSchema().User);
    }

    [TestMethod]
    public void GlobMatching()
    {
        Assert.IsTrue(DatasetSchema.Glob("D*", "D508"));
        Assert.IsTrue(DatasetSchema.Glob("*_14", "109_14"));
        Assert.IsTrue(DatasetSchema.Glob("a*b*c", "aXXbYc"));
        Assert.IsFalse(DatasetSchema.Glob("D*", "508"));
        Assert.IsFalse(DatasetSchema.Glob("a*b", "ab_"));
    }
}
