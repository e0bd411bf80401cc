using Recommender.Trainers.Evaluation;
using Recommender.Trainers.Network;
using Recommender.Trainers.Runtime;
using Recommender.Trainers.Training;

namespace Recommender.Tests.Trainers;

[TestClass]
public sealed class CrossedEmbeddingTests
{
    // Clicks from an arbitrary table over the pairs of fields 0 and 1 (no low-rank structure for products of per-field
    // vectors to find); field 2 is noise. 12 values each: 13 rows per field with the unknown id.
    private static (FeatureMatrix Train, FeatureMatrix Test) Crossed() => PairwiseClicks.Make(12, 5, rng =>
    {
        var effect = Enumerable.Range(0, 144).Select(_ => rng.NextDouble() * 4 - 2).ToArray();
        return (a, b) => effect[a * 12 + b] - 1;
    });

    private static MultiTaskTrainerOptions Options(FeatureInteractions interactions)
    {
        var o = PairwiseClicks.Options(interactions);
        o.CrossedRowLimit = 169;
        o.CrossedDim = 3; // not the field embeddings' 4: every path must take the crossed width from the crossed tables
        return o;
    }

    [TestMethod]
    public void PairsAreThePlainFieldPairsWithinTheLimitAndTheirRowsCombineTheIds()
    {
        // Tables of 3, 4, 100 and 2 rows, limit 12: (0,1) 12, (0,3) 6 and (1,3) 8 are crossed; pairs with field 2 are not.
        var spec = new MultiTaskSpec { FieldRows = [3, 4, 100, 2], Interactions = FeatureInteractions.CrossedEmbeddings, CrossedRowLimit = 12, CrossedDim = 5 };
        CollectionAssert.AreEqual(new[] { (0, 1), (0, 3), (1, 3) }, spec.CrossedPairs().Select(p => (p.A, p.B)).ToArray());
        Assert.AreEqual(4 * 16 + 3 * 5, spec.InputSize, "three pairs' 5-wide embeddings beside the four fields' 16-wide ones");
        Assert.AreEqual(3 * 5, spec.Inputs().Single(i => i.Name == MultiTaskInputs.CrossedEmbeddings).RowSize);
        Assert.AreEqual(4 * 16 + 3 * 8, (spec with { CrossedDim = 8 }).InputSize, "8 by default");
        Assert.AreEqual(8, new MultiTaskSpec { FieldRows = [2] }.CrossedDim);
        StringAssert.Contains(Assert.Throws<ArgumentException>(() => (spec with { CrossedDim = 0 }).ValidateSequences()).Message, "CrossedDim");
        var pair = spec.CrossedPairs()[0];
        Assert.AreEqual(2 * 4 + 3, pair.Row(2, 3));
        Assert.AreEqual(0 * 4 + 3, pair.Row(7, 3), "an id outside field 0's rows is its unknown id 0");
        Assert.AreEqual(2 * 4 + 0, pair.Row(2, -1));
        // A batch of two rows, four ids each.
        int[] ids = [2, 3, 50, 1, /**/ 1, 0, 99, 0];
        var rows = new int[6];
        CrossedPair.Fill([.. spec.CrossedPairs()], ids, 4, 2, rows);
        CollectionAssert.AreEqual(new[] { 2 * 4 + 3, 2 * 2 + 1, 3 * 2 + 1, /**/ 1 * 4 + 0, 1 * 2 + 0, 0 }, rows);
        Assert.AreEqual(0, new MultiTaskSpec { FieldRows = [3, 4], CrossedRowLimit = 12 }.CrossedPairs().Count, "off without the flag");
        // With no pair within the limit the block adds nothing (so it can be on by default whatever the schema).
        var none = new MultiTaskSpec { FieldRows = [30, 40], Interactions = FeatureInteractions.CrossedEmbeddings, CrossedRowLimit = 12 };
        Assert.IsFalse(none.Crossed);
        Assert.AreEqual(2 * 16, none.InputSize);
        Assert.IsFalse(none.Inputs().Any(i => i.Name == MultiTaskInputs.CrossedEmbeddings));
    }

    [TestMethod]
    public void CrossedEmbeddingsLearnAnArbitraryPairTableAndTheExportAgreesOutOfRangeIdsIncluded()
    {
        var (train, test) = Crossed();
        int[] rows = [13, 13, 13];
        var crossed = PairwiseClicks.BeatsThePlainMlp(train, test, rows, Options, FeatureInteractions.CrossedEmbeddings, "crossed embeddings");
        Assert.AreEqual(3, crossed.CrossedTables!.Count, "pairs (0,1), (0,2), (1,2): 169 rows each");
        Assert.AreEqual(169 * 3, crossed.CrossedTables[0].Length);

        // The standalone model computes each pair's row from the field ids; an id past its field's rows, or negative,
        // reads the unknown id's row, as the host does.
        using var runner = PairwiseClicks.ExportAgrees(crossed, test);

        int[] outOfRange = [5, 40, 3, /**/ -2, 7, 99];
        int[] asUnknown = [5, 0, 3, /**/ 0, 7, 0];
        var unknown = FeatureMatrix.FromArrays(2, 3, 0, asUnknown, [], [new float[2], null, null]);
        var expected = crossed.Predict(unknown)["PCtr"];
        var got = PairwiseClicks.Exported(runner, 2, (r, f) => outOfRange[r * 3 + f]);
        for (int r = 0; r < 2; r++) Assert.AreEqual(expected[r], got[r], 1e-6f, $"out-of-range row {r}");
    }

    [TestMethod]
    public void AResumedCrossedRunIsTheUninterruptedOneAndWarmStartsKeepThePairsAsTheVocabulariesGrow()
    {
        var (train, test) = Crossed();
        int[] rows = [13, 13, 13];
        var (straight, resumed) = PairwiseClicks.StraightAndResumed(train, test, rows, () => Options(FeatureInteractions.CrossedEmbeddings));
        for (int p = 0; p < 3; p++) CollectionAssert.AreEqual(straight.CrossedTables![p], resumed.CrossedTables![p], $"crossed table {p}");

        // The state carries the pairs, their tables and optimizer state: at rate zero a warm start changes nothing, also
        // when the vocabularies have grown past the row limit (the pairs are kept; each old row moves to its new place).
        var frozen = Options(FeatureInteractions.CrossedEmbeddings);
        (frozen.LearningRate, frozen.EmbeddingLearningRate, frozen.Epochs) = (0, 0, 1);
        var state = straight.State!;
        Assert.AreEqual(3, state.CrossedPairs!.Length);
        var reloaded = Path.Combine(Path.GetTempPath(), $"crossed-state-{Guid.NewGuid():N}.bin");
        try { state.Save(reloaded); state = TrainingState.Load(reloaded); }
        finally { File.Delete(reloaded); }
        var warm = MultiTaskTrainer.Train(train, null, rows, frozen, state);
        CollectionAssert.AreEqual(straight.Predict(test)["PCtr"], warm.Predict(test)["PCtr"]);
        var grown = MultiTaskTrainer.Train(train, null, [15, 14, 13], frozen, state);
        Assert.AreEqual(15 * 14 * 3, grown.CrossedTables![0].Length, "pair (0, 1) now 15 x 14 rows, though past the limit of 169");
        // The crossed width is part of the network: a warm start cannot change it.
        var wider = Options(FeatureInteractions.CrossedEmbeddings);
        (wider.CrossedDim, wider.Epochs) = (5, 1);
        StringAssert.Contains(Assert.Throws<ArgumentException>(() => MultiTaskTrainer.Train(train, null, rows, wider, state)).Message,
            "crossed embeddings of width 3, the options say 5");
        CollectionAssert.AreEqual(straight.Predict(test)["PCtr"], grown.Predict(test)["PCtr"]);
        // A model without the block cannot go on from one with it; one with the block on goes on from one without as
        // that model was, with no crossed pairs (the network keeps its shape), and scores as it did at rate zero.
        StringAssert.Contains(Assert.Throws<ArgumentException>(() => MultiTaskTrainer.Train(train, null, rows, Options(FeatureInteractions.None), state)).Message,
            "crossed embeddings");
        var plainOptions = Options(FeatureInteractions.None);
        plainOptions.Epochs = 1;
        var plain = MultiTaskTrainer.Train(train, null, rows, plainOptions);
        var stillPlain = MultiTaskTrainer.Train(train, null, rows, frozen, plain.State);
        Assert.IsNull(stillPlain.CrossedTables);
        CollectionAssert.AreEqual(plain.Predict(test)["PCtr"], stillPlain.Predict(test)["PCtr"]);
    }

    [TestMethod]
    public void AdaptiveL2CountsEachCrossedRowAndReachesTheCrossedTables()
    {
        // Pair (0, 1) of 3 x 3 rows sees (1, 2) twice, row 1 * 3 + 2 = 5, and (2, 0) once, row 6; pair (0, 2) of 3 x 7 rows
        // sees (1, 5), (1, 6) and (2, 5), rows 12, 13 and 19.
        var data = FeatureMatrix.FromArrays(3, 3, 0, [1, 2, 5, /**/ 1, 2, 6, /**/ 2, 0, 5], [], [new float[3], null, null]);
        var counts = MultiTaskTrainer.CrossedCounts(data, [new CrossedPair(0, 1, 3, 3), new CrossedPair(0, 2, 3, 7)]);
        CollectionAssert.AreEqual(new long[] { 0, 0, 0, 0, 0, 2, 1, 0, 0 }, counts[0]);
        CollectionAssert.AreEqual(Enumerable.Range(0, 21).Select(r => r is 12 or 13 or 19 ? 1L : 0L).ToArray(), counts[1]);

        // A strong adaptive L2 holds every table it reaches near zero; the crossed tables are among them.
        var (train, _) = Crossed();
        int[] rows = [13, 13, 13];
        var free = MultiTaskTrainer.Train(train, null, rows, Options(FeatureInteractions.CrossedEmbeddings));
        var held = Options(FeatureInteractions.CrossedEmbeddings);
        held.AdaptiveEmbeddingL2 = 100;
        var shrunk = MultiTaskTrainer.Train(train, null, rows, held);
        static double Norm(IEnumerable<float[]> tables) => Math.Sqrt(tables.Sum(t => t.Sum(v => (double)v * v)));
        Console.WriteLine($"crossed tables' norm {Norm(free.CrossedTables!):F3} without, {Norm(shrunk.CrossedTables!):F3} with; field tables {Norm(free.Tables):F3}, {Norm(shrunk.Tables):F3}");
        Assert.IsTrue(Norm(shrunk.CrossedTables!) < 0.3 * Norm(free.CrossedTables!));
    }

    [TestMethod]
    public void TablesTooLargeForTheProcessAreRefusedBeforeAnyAllocation()
    {
        // Fields of 3, 4 and 100 rows, 16 wide: 1,712 floats; field-aware vectors 3 fields x 4 wide: 107 x 12 = 1,284;
        // pairs within 12 rows, (0, 1) only, 8 wide: 96. With two optimizer states each, 3,092 x 4 x 3 = 37,104 bytes.
        var spec = new MultiTaskSpec
        {
            FieldRows = [3, 4, 100], Interactions = FeatureInteractions.FieldAware | FeatureInteractions.CrossedEmbeddings, CrossedRowLimit = 12, FieldAwareDim = 4,
        };
        MultiTaskTrainer.CheckTableMemory(spec, 37_104);
        StringAssert.Contains(Assert.Throws<ArgumentException>(() => MultiTaskTrainer.CheckTableMemory(spec, 37_103)).Message, "lower EmbeddingDim");
        // One table past .NET's largest array is refused whatever the memory.
        Assert.Throws<ArgumentException>(() => MultiTaskTrainer.CheckTableMemory(spec with { CrossedDim = int.MaxValue / 4 }, long.MaxValue));
        // Through the trainer: a crossed width no machine holds is one clear error, not an allocation failure.
        var (train, _) = Crossed();
        var huge = Options(FeatureInteractions.CrossedEmbeddings);
        huge.CrossedDim = int.MaxValue;
        StringAssert.Contains(Assert.Throws<ArgumentException>(() => MultiTaskTrainer.Train(train, null, [13, 13, 13], huge)).Message, "GiB");
    }
}
