using Microsoft.ML;
using Microsoft.ML.Data;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Featurization;

namespace Recommender.Tests.Pipeline;

[TestClass]
public sealed class FeaturizationTests
{
    private const string Header = "user,item,color,price,count,click\n";

    private static DatasetSchema Schema() => new() { User = "user", Item = "item", Categorical = ["color"], Dense = ["price", "count"], Click = "click" };

    private static Table Train(TestFiles files) => DataLoader.Load(Schema(), files.Write("train.csv", Header +
        "u1,i1,red,1,10,1\nu1,i2,red,2,,0\nu2,i1,blue,3,30,0\nu3,i1,red,,40,1\nu2,i3,green,6,50,0\n"));

    [TestMethod]
    public void KeysFollowFrequencyAndUnseenValuesMapToZero()
    {
        using var files = new TestFiles();
        var ml = new MLContext(seed: 1);
        var train = Train(files);
        var (estimator, output) = SchemaFeaturizer.Create(ml, train.Schema, train.ToDataView(), new FeaturizerOptions { MinCount = 2 });
        var model = estimator.Fit(train.ToDataView());

        // color: red x3, blue x1, green x1 -> with MinCount 2 only red gets a key.
        Assert.AreEqual(1, output.Categorical.Single(c => c.Name == "color").Cardinality);
        Assert.AreEqual(2, output.Categorical.Single(c => c.Name == "UserId").Cardinality); // u1 x2, u2 x2; u3 x1 out
        var test = DataLoader.Load(Schema(), files.Write("test.csv", Header + "u1,i1,red,1,10,1\nu9,i7,purple,1,10,0\nu3,i2,blue,1,10,0\n"));
        var scored = model.Transform(test.ToDataView());
        var colors = Keys(scored, "color");
        CollectionAssert.AreEqual(new uint[] { 1, 0, 0 }, colors);
        CollectionAssert.AreEqual(new uint[] { 1, 0, 0 }, Keys(scored, "UserId")); // u1 first by count then name; u9 unseen; u3 below min count
        var keyType = (KeyDataViewType)scored.Schema["color"].Type;
        Assert.AreEqual(1UL, keyType.Count);
    }

    [TestMethod]
    public void MaxVocabularyKeepsTheMostFrequentAndHashingCoversUnboundedColumns()
    {
        using var files = new TestFiles();
        var ml = new MLContext(seed: 1);
        var train = Train(files);
        var options = new FeaturizerOptions { MaxVocabulary = 1, HashedColumns = ["ItemId"], HashBits = 4 };
        var (estimator, output) = SchemaFeaturizer.Create(ml, train.Schema, train.ToDataView(), options);
        Assert.AreEqual(1, output.Categorical.Single(c => c.Name == "color").Cardinality);
        var item = output.Categorical.Single(c => c.Name == "ItemId");
        Assert.IsTrue(item.Hashed);
        Assert.AreEqual(16, item.Cardinality);
        var scored = estimator.Fit(train.ToDataView()).Transform(train.ToDataView());
        var items = Keys(scored, "ItemId");
        Assert.IsTrue(items.All(k => k is >= 1 and <= 16));
        Assert.AreEqual(items[0], items[2]); // i1 hashes the same everywhere
    }

    [TestMethod]
    public void DenseFeaturesAreImputedAndStandardized()
    {
        using var files = new TestFiles();
        var ml = new MLContext(seed: 1);
        var train = Train(files);
        var (estimator, output) = SchemaFeaturizer.Create(ml, train.Schema, train.ToDataView());
        Assert.AreEqual(2, output.DenseSize);
        var scored = estimator.Fit(train.ToDataView()).Transform(train.ToDataView());
        var dense = ml.Data.CreateEnumerable<DenseRow>(scored, false).Select(r => r.DenseFeatures).ToArray();
        // price: 1,2,3,NaN,6 -> NaN becomes the mean 3; then z-scored with the training statistics.
        double[] price = [1, 2, 3, 3, 6];
        double mean = price.Average();
        foreach (var v in dense.SelectMany(d => d)) Assert.IsFalse(float.IsNaN(v));
        Assert.AreEqual(0.0, dense.Average(d => d[0]), 1e-5);
        double std = Math.Sqrt(price.Sum(p => (p - mean) * (p - mean)) / (price.Length - 1));
        double stdPopulation = Math.Sqrt(price.Sum(p => (p - mean) * (p - mean)) / price.Length);
        // ML.NET's mean-variance normalizer: (x - mean) / std; accept either variance convention, checked exactly.
        double z = dense[4][0];
        Assert.IsTrue(Math.Abs(z - (6 - mean) / std) < 1e-4 || Math.Abs(z - (6 - mean) / stdPopulation) < 1e-4, $"z = {z}");
    }

    [TestMethod]
    public void FeaturizationSavesAndLoadsWithTheModel()
    {
        using var files = new TestFiles();
        var ml = new MLContext(seed: 1);
        var train = Train(files);
        var (estimator, _) = SchemaFeaturizer.Create(ml, train.Schema, train.ToDataView());
        var model = estimator.Fit(train.ToDataView());
        string path = files.Path_("model.zip");
        ml.Model.Save(model, train.ToDataView().Schema, path);
        var loaded = new MLContext().Model.Load(path, out _);
        var test = DataLoader.Load(Schema(), files.Write("test.csv", Header + "u1,i1,red,1,,1\nzz,i9,teal,,7,0\n"));
        var a = model.Transform(test.ToDataView());
        var b = loaded.Transform(test.ToDataView());
        foreach (var column in new[] { "UserId", "ItemId", "color" }) CollectionAssert.AreEqual(Keys(a, column), Keys(b, column));
        var da = ml.Data.CreateEnumerable<DenseRow>(a, false).SelectMany(r => r.DenseFeatures).ToArray();
        var db = ml.Data.CreateEnumerable<DenseRow>(b, false).SelectMany(r => r.DenseFeatures).ToArray();
        CollectionAssert.AreEqual(da, db);
        Assert.AreEqual(0u, Keys(b, "color")[1]);
    }

    private static uint[] Keys(IDataView view, string column)
    {
        var result = new List<uint>();
        using var cursor = view.GetRowCursor([view.Schema[column]]);
        var getter = cursor.GetGetter<uint>(view.Schema[column]);
        uint value = 0;
        while (cursor.MoveNext()) { getter(ref value); result.Add(value); }
        return result.ToArray();
    }

    private sealed class DenseRow
    {
        [VectorType(2)]
        public float[] DenseFeatures { get; set; } = [];
    }
}
