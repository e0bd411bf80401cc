using Microsoft.ML;
using Microsoft.ML.Data;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Data.Synthetic;
using Recommender.Pipeline.Jobs;
using Recommender.Pipeline.Lifecycle;
using Recommender.Pipeline.Scoring;
using Recommender.Trainers.Embeddings;
using Recommender.Trainers.Runtime;
using Recommender.Trainers.Training;

namespace Recommender.Tests.Pipeline;

[TestClass]
public sealed class WarmStartTests
{
    private static MultiTaskTrainerOptions Tiny(float learningRate = 1e-3f, float embeddingRate = 0.05f) => new()
    {
        Epochs = 1, BatchSize = 512, EmbeddingDim = 4, Bottom = [16], Tower = [8], Device = ExecutionDevice.Cpu, Threads = 1,
        LearningRate = learningRate, EmbeddingLearningRate = embeddingRate,
    };

    private static string[] KeyValues(ModelBundle bundle, string column)
    {
        var featurization = bundle.LoadFeaturization(new MLContext(), out var input);
        VBuffer<ReadOnlyMemory<char>> keys = default;
        featurization.GetOutputSchema(input)[column].GetKeyValues(ref keys);
        return keys.DenseValues().Select(k => k.ToString()).ToArray();
    }

    [TestMethod]
    public void VocabularyGrowthKeepsOldKeysAndRowsAndStartsNewRowsFresh()
    {
        using var files = new TestFiles();
        // Without histories, so that every field owns its table (sequence positions read their item field's; the next test).
        SyntheticGenerator.Generate(new SyntheticOptions { Rows = 8_000, Seed = 31, History = 0 }, files.Path_("a"));
        SyntheticGenerator.Generate(new SyntheticOptions { Rows = 8_000, Seed = 32, Users = 3_000, Items = 1_500, History = 0 }, files.Path_("b"));
        string registry = files.Path_("reg");
        var first = TrainingJob.Run(TrainingData.FromDirectory(files.Path_("a")), Tiny(), registry, _ => { });
        // Rate zero: the warm start's own state, untouched by training, is what the new model holds.
        var second = TrainingJob.Run(TrainingData.FromDirectory(files.Path_("b")), Tiny(0, 0), registry, _ => { }, warmStart: registry);
        var (v1, v2) = (ModelBundle.Open(first.Bundle), ModelBundle.Open(second.Bundle));
        Assert.AreEqual("v2", new ModelRegistry(registry).Current);
        var old = first.Model.State!;
        var grown = second.Model.State!;
        CollectionAssert.AreEqual(old.Fields, grown.Fields);
        int grew = 0;
        for (int f = 0; f < old.Fields.Length; f++)
        {
            var before = KeyValues(v1, old.Fields[f]);
            var after = KeyValues(v2, old.Fields[f]);
            CollectionAssert.AreEqual(before, after.Take(before.Length).ToArray(), $"{old.Fields[f]}: old values keep their keys");
            int dim = old.EmbeddingDim, oldRows = old.Tables[f].Length / dim;
            Assert.AreEqual(after.Length + 1, grown.Tables[f].Length / dim);
            CollectionAssert.AreEqual(old.Tables[f], grown.Tables[f].Take(old.Tables[f].Length).ToArray(), $"{old.Fields[f]}: old rows bit for bit");
            // New rows: a fresh table's rows (the trainer seeds field f's table with seed + 7919 f).
            var fresh = new EmbeddingTable(after.Length + 1, dim, 1 + 7919 * f);
            CollectionAssert.AreEqual(fresh.Weights.Skip(old.Tables[f].Length).ToArray(), grown.Tables[f].Skip(old.Tables[f].Length).ToArray(), $"{old.Fields[f]}: new rows fresh");
            grew += after.Length - before.Length;
        }
        Assert.IsTrue(grew > 1000, $"{grew} new keys: the second data set brings new users and items");
        foreach (var (name, values) in old.Parameters) CollectionAssert.AreEqual(values, grown.Parameters[name], name);
        Assert.IsTrue(grown.Steps > old.Steps, "steps go on");
    }

    [TestMethod]
    public void AModelWithHistoriesWarmStartsOnLaterDaysAndAtRateZeroScoresAsBefore()
    {
        using var files = new TestFiles();
        SyntheticGenerator.Generate(new SyntheticOptions { Rows = 12_000, Seed = 34, History = 4 }, files.Path_("a"));
        var data = TrainingData.FromDirectory(files.Path_("a"));
        string registry = files.Path_("reg");
        var first = TrainingJob.Run(data, Tiny(), registry, _ => { });
        // Later days as new training data: items first seen there grow the item vocabulary, and the histories' positions with it.
        var later = data with { Train = data.Valid!, Valid = null, Test = null };
        var second = TrainingJob.Run(later, Tiny(0, 0), registry, _ => { }, warmStart: first.Bundle);
        Assert.AreEqual(2, second.Model.Spec.Sequences.Count);
        var before = ModelBundle.Open(first.Bundle);
        var after = ModelBundle.Open(second.Bundle);
        var items = KeyValues(after, "ItemId");
        CollectionAssert.AreEqual(KeyValues(before, "ItemId"), items[..KeyValues(before, "ItemId").Length], "known items keep their keys");
        CollectionAssert.AreEqual(items, KeyValues(after, "recent_items#0"), "a position maps through the grown item vocabulary");
        var table = DataLoader.Load(data.Schema, data.Test!);
        float[] Score(string bundle)
        {
            using var scorer = BundleScorer.Open(bundle, 1024, new RuntimeOptions { Device = ExecutionDevice.Cpu, Threads = 1 });
            return scorer.Predict(table.Chunks.Single(), table.Schema.TextColumns, table.Schema.NumberColumns)[..(4 * (int)table.RowCount)].ToArray();
        }
        // At rate zero every known row and parameter is kept: test rows whose ids were all known score the same.
        var old = Score(first.Bundle);
        var warm = Score(second.Bundle);
        // Every field's values, not only the items': a user first seen on the later days has a fresh row there too.
        var fields = first.Model.State!.Fields;
        var known = fields.Select(f => KeyValues(before, f).ToHashSet()).ToArray();
        var texts = fields.Select(f => table.GetText(f)).ToArray();
        int compared = 0;
        for (int r = 0; r < table.RowCount; r++)
        {
            bool allKnown = Enumerable.Range(0, fields.Length).All(f => texts[f][r] is var v && (v.Length == 0 && fields[f].Contains('#') || known[f].Contains(v)));
            if (!allKnown) continue;
            compared++;
            for (int c = 0; c < 4; c++) Assert.AreEqual(old[r * 4 + c], warm[r * 4 + c], 1e-6f, $"row {r} prediction {c}");
        }
        Assert.IsTrue(compared > 100, $"{compared} rows compared");
    }

    [TestMethod]
    public void AWarmStartAtRateZeroReproducesTheOldPredictionsExactly()
    {
        using var files = new TestFiles();
        SyntheticGenerator.Generate(new SyntheticOptions { Rows = 8_000, Seed = 33 }, files.Path_("a"));
        var data = TrainingData.FromDirectory(files.Path_("a"));
        string registry = files.Path_("reg");
        var first = TrainingJob.Run(data, Tiny(), registry, _ => { });
        var second = TrainingJob.Run(data with { Valid = null, Test = null }, Tiny(0, 0), registry, _ => { }, warmStart: first.Bundle);
        var table = DataLoader.Load(data.Schema, data.Test!);
        float[] Score(string bundle)
        {
            using var scorer = BundleScorer.Open(bundle, 1024, new RuntimeOptions { Device = ExecutionDevice.Cpu, Threads = 1 });
            return scorer.Predict(table.Chunks.Single(), table.Schema.TextColumns, table.Schema.NumberColumns)[..(4 * (int)table.RowCount)].ToArray();
        }
        CollectionAssert.AreEqual(Score(first.Bundle), Score(second.Bundle));
    }

    [TestMethod]
    public void AWarmStartOfAnotherArchitectureIsRefusedInOneLine()
    {
        using var files = new TestFiles();
        SyntheticGenerator.Generate(new SyntheticOptions { Rows = 6_000, Seed = 34 }, files.Path_("a"));
        var data = TrainingData.FromDirectory(files.Path_("a"));
        var first = TrainingJob.Run(data, Tiny(), files.Path_("reg"), _ => { });
        var wider = Tiny();
        wider.Bottom = [32];
        var e = Assert.ThrowsExactly<ArgumentException>(() => TrainingJob.Run(data, wider, files.Path_("reg2"), _ => { }, warmStart: first.Bundle));
        StringAssert.Contains(e.Message, "architecture and layer sizes must match");
        Assert.IsFalse(ModelRegistry.IsRegistry(files.Path_("reg2")));
    }

    [TestMethod]
    public void AModelWithoutSequenceMatchesGoesOnOnlyWithoutThem()
    {
        // A model of histories trained before the matches were the default: its first layers are narrower by a column per
        // position, so a warm start with the matches is refused naming them, and one without goes on.
        using var files = new TestFiles();
        SyntheticGenerator.Generate(new SyntheticOptions { Rows = 6_000, Seed = 35, History = 3 }, files.Path_("a"));
        var data = TrainingData.FromDirectory(files.Path_("a"));
        var without = Tiny();
        without.SequenceMatches = false;
        var first = TrainingJob.Run(data, without, files.Path_("reg"), _ => { });
        var e = Assert.ThrowsExactly<ArgumentException>(() => TrainingJob.Run(data, Tiny(), files.Path_("reg2"), _ => { }, warmStart: first.Bundle));
        StringAssert.Contains(e.Message, "the sequence matches");
        var second = TrainingJob.Run(data with { Valid = null, Test = null }, without, files.Path_("reg3"), _ => { }, warmStart: first.Bundle);
        Assert.IsFalse(second.Model.Spec.SequenceMatches);
        Assert.AreEqual(first.Model.Spec.InputSize, second.Model.Spec.InputSize);
        Assert.AreEqual(first.Model.Spec.InputSize + 2 * 3, (first.Model.Spec with { SequenceMatches = true }).InputSize, "a match per position of the two histories");
    }
}
