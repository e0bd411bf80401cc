using Recommender.Trainers.Embeddings;
using Recommender.Trainers.Evaluation;
using Recommender.Trainers.Graph;
using Recommender.Trainers.Network;
using Recommender.Trainers.Runtime;
using Recommender.Trainers.Training;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Recommender.Tests.Trainers;

[TestClass]
public sealed class BehaviourSequenceTests
{
    // Fields: two plain (k = 3), then a 3-long sequence over field 1's vocabulary.
    private static MultiTaskSpec Spec(SequencePooling pooling) => new()
    {
        FieldRows = [4, 6, 6, 6, 6], EmbeddingDim = 3, Sequences = [new SequenceSpec("recent", TargetField: 1, FirstField: 2, Length: 3)],
        Pooling = pooling, AttentionHidden = 4,
    };

    [TestMethod]
    [DataRow(SequencePooling.Mean)]
    [DataRow(SequencePooling.Attention)]
    public void MatchesMarkExactlyThePresentPositionsHoldingTheTargetsId(SequencePooling pooling)
    {
        var spec = Spec(pooling) with { SequenceMatches = true };
        Assert.AreEqual(2 * 3 + 3 + 3, spec.ConcatenatedSize, "one match per position beside the fields and the pooled history");
        var init = new ParameterInit(7);
        var block = new BehaviourPooling(init, spec);
        var g = new GraphBuilder(DataType.Double);
        var p = init.Parameters.ToDictionary(x => x.Name, x => g.Input(x.Name, x.Shape));
        block.Fields(g, g.Input("e", -1, 15), g.Input("m", -1, 3), p, out var matches);
        g.Output(matches!, "matches");
        using var runner = new GraphRunner(g.ToBytes(), new RuntimeOptions { Device = ExecutionDevice.Cpu, Threads = 1 });

        // Ids of field 0, the target field 1 and the three positions (0 = padding or unknown), gathered as the host does: a
        // position reads its target's table. Row 2's target is unknown like its padding (both read row 0: no match); row 3
        // holds the target twice and another id once.
        int[][] ids = [[1, 3, 3, 5, 0], [2, 4, 1, 2, 5], [3, 0, 0, 0, 2], [1, 5, 5, 2, 5], [2, 1, 1, 0, 1]];
        var rng = new Random(5);
        var own = Enumerable.Range(0, 4 * 3).Select(_ => rng.NextDouble()).ToArray();
        var shared = Enumerable.Range(0, 6 * 3).Select(_ => rng.NextDouble()).ToArray();
        int rows = ids.Length;
        var e = new double[rows * 15];
        var m = new double[rows * 3];
        for (int b = 0; b < rows; b++)
            for (int f = 0; f < 5; f++)
            {
                for (int d = 0; d < 3; d++) e[b * 15 + f * 3 + d] = f == 0 ? own[ids[b][f] * 3 + d] : shared[ids[b][f] * 3 + d];
                if (f >= 2) m[b * 3 + f - 2] = ids[b][f] != 0 ? 1 : 0;
            }
        var feed = new Dictionary<string, (Array, long[])> { ["e"] = (e, [rows, 15]), ["m"] = (m, [rows, 3]) };
        foreach (var x in init.Parameters) feed[x.Name] = (x.Initial.Select(v => (double)v).ToArray(), x.Shape);
        var output = (double[])runner.Run(feed)["matches"].Data;
        double[] expected = [1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 0, 1];
        CollectionAssert.AreEqual(expected, output, "1 exactly where a present position holds the target's own id");
    }

    [TestMethod]
    [DataRow(SequencePooling.Mean)]
    [DataRow(SequencePooling.Attention)]
    public void PoolingMatchesAnIndependentImplementationAndIgnoresPaddingExactly(SequencePooling pooling)
    {
        var spec = Spec(pooling);
        var init = new ParameterInit(7);
        var block = new BehaviourPooling(init, spec);
        var g = new GraphBuilder(DataType.Double);
        var p = init.Parameters.ToDictionary(x => x.Name, x => g.Input(x.Name, x.Shape));
        g.Output(block.Fields(g, g.Input("e", -1, 15), g.Input("m", -1, 3), p, out _), "out");
        using var runner = new GraphRunner(g.ToBytes(), new RuntimeOptions { Device = ExecutionDevice.Cpu, Threads = 1 });

        const int rows = 4;
        var rng = new Random(3);
        var e = Enumerable.Range(0, rows * 15).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        double[] m = [1, 1, 1, 1, 0, 1, 0, 0, 0, 1, 0, 0];   // full, a gap, empty, one
        var feed = new Dictionary<string, (Array, long[])> { ["e"] = (e, [rows, 15]), ["m"] = (m, [rows, 3]) };
        // Random parameters (the position bias starts at zero): every term of the score is exercised.
        var w = init.Parameters.ToDictionary(x => x.Name, x => x.Initial.Select(_ => rng.NextDouble() - 0.5).ToArray());
        foreach (var x in init.Parameters) feed[x.Name] = (w[x.Name], x.Shape);
        var output = (double[])runner.Run(feed)["out"].Data;
        Assert.AreEqual(rows * 9, output.Length, "two plain fields and one pooled sequence");

        for (int b = 0; b < rows; b++)
        {
            double[] H(int i) => Enumerable.Range(0, 3).Select(d => e[b * 15 + (2 + i) * 3 + d]).ToArray();
            var t = Enumerable.Range(0, 3).Select(d => e[b * 15 + 3 + d]).ToArray();
            var weights = new double[3];
            var present = Enumerable.Range(0, 3).Where(i => m[b * 3 + i] == 1).ToArray();
            if (pooling == SequencePooling.Mean)
                foreach (int i in present) weights[i] = 1.0 / present.Length;
            else if (present.Length > 0)
            {
                // DIN's activation unit by hand: sigmoid(relu(h Wh + t Wt + (h*t) Wp + b) Ws + bs + position bias) for each present position.
                double Score(int i)
                {
                    var h = H(i);
                    double s = w["attention.recent.score_b"][0];
                    for (int j = 0; j < 4; j++)
                    {
                        double a = w["attention.recent.b"][j];
                        for (int d = 0; d < 3; d++)
                            a += h[d] * w["attention.recent.history"][d * 4 + j] + t[d] * w["attention.recent.target"][d * 4 + j] + h[d] * t[d] * w["attention.recent.product"][d * 4 + j];
                        s += Math.Max(a, 0) * w["attention.recent.score"][j];
                    }
                    return s + w["attention.recent.position"][i];
                }
                foreach (int i in present) weights[i] = 1 / (1 + Math.Exp(-Score(i)));
            }
            for (int d = 0; d < 6; d++) Assert.AreEqual(e[b * 15 + d], output[b * 9 + d], 0, "plain fields pass through");
            for (int d = 0; d < 3; d++)
                Assert.AreEqual(Enumerable.Range(0, 3).Sum(i => weights[i] * H(i)[d]), output[b * 9 + 6 + d], 1e-12, $"row {b} pooled[{d}]");
        }

        // Whatever the padded positions hold, the output is the same to the bit.
        for (int b = 0; b < rows; b++)
            for (int i = 0; i < 3; i++)
                if (m[b * 3 + i] == 0)
                    for (int d = 0; d < 3; d++) e[b * 15 + (2 + i) * 3 + d] = rng.NextDouble() * 100 - 50;
        CollectionAssert.AreEqual(output, (double[])runner.Run(feed)["out"].Data);
    }

    [TestMethod]
    public void FieldsSharingATableGetOneUpdatePerRowAndPaddingIsNotTheUnknownRow()
    {
        // Field 1 is an item id; fields 2 and 3 a history over its table. Row 0: item 3, history [3, 3]; row 1: item 2, history [3, 0].
        using var embeddings = new FieldEmbeddings([5, 5, 5, 5], 2, seed: 1, threads: 2, tableOf: [0, 1, 1, 1]);
        Assert.AreSame(embeddings.Tables[1], embeddings.Tables[3]);
        int[] ids = [1, 3, 3, 3, 4, 2, 3, 0];
        var before = (float[])embeddings.Tables[1].Weights.Clone();
        var grads = Enumerable.Range(0, 16).Select(i => 0.01f * (i + 1)).ToArray();   // [2 rows, 4 fields * 2]
        embeddings.Update(ids, 2, grads, new SparseAdagrad(), 0.1f, 1);
        var after = embeddings.Tables[1].Weights;
        for (int d = 0; d < 2; d++)
        {
            // Item 3: one Adagrad step on the sum of its four occurrences' gradients: w -= 0.1 g / sqrt(g^2) = 0.1 sign(g).
            float g3 = grads[0 * 8 + 1 * 2 + d] + grads[0 * 8 + 2 * 2 + d] + grads[0 * 8 + 3 * 2 + d] + grads[1 * 8 + 2 * 2 + d];
            Assert.AreEqual(before[3 * 2 + d] - 0.1f * g3 / MathF.Sqrt(g3 * g3), after[3 * 2 + d], 1e-6f);
            Assert.AreEqual(before[2 * 2 + d] - 0.1f, after[2 * 2 + d], 1e-6f, "item 2, from the item field");
            Assert.AreEqual(before[d], after[d], "the unknown row: the history's padding id 0 is not an occurrence of it");
        }
    }

    [TestMethod]
    public void AttentionOverHistoryLearnsRepeatInterestAndTheExportAgrees()
    {
        // A user clicks an item far more often when it is one of the items in their recent history: a law no model of the
        // user and item ids alone can learn (every user sees every item), and target attention can.
        const int rows = 6000, items = 30, length = 5;
        var rng = new Random(11);
        int fields = 2 + length;
        var ids = new int[rows * fields];
        var clicks = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            int item = 1 + rng.Next(items), present = rng.Next(length + 1);
            ids[r * fields] = 1 + rng.Next(20);
            ids[r * fields + 1] = item;
            for (int i = 0; i < present; i++) ids[r * fields + 2 + i] = 1 + rng.Next(items);
            if (present > 0 && rng.Next(2) == 0) ids[r * fields + 2 + rng.Next(present)] = item;
            bool repeat = Enumerable.Range(0, present).Any(i => ids[r * fields + 2 + i] == item);
            clicks[r] = rng.NextDouble() < (repeat ? 0.7 : 0.1) ? 1f : 0f;
        }
        var all = FeatureMatrix.FromArrays(rows, fields, 0, ids, [], [clicks, null, null]);
        int train = 5000;
        FeatureMatrix Part(int from, int count, int width) => FeatureMatrix.FromArrays(count, width, 0,
            Enumerable.Range(from, count).SelectMany(r => ids.AsSpan(r * fields, width).ToArray()).ToArray(), [], [clicks[from..(from + count)], null, null]);
        string[] names = ["user", "item", .. Enumerable.Range(0, length).Select(i => $"recent{i}")];
        MultiTaskTrainerOptions Options(bool history) => new()
        {
            Epochs = 10, BatchSize = 128, EmbeddingDim = 8, Bottom = [32], Tower = [8], CvrWeight = 0, RatingWeight = 0, Device = ExecutionDevice.Cpu, Threads = 1,
            Calibration = CalibrationKind.None, Patience = 0, LearningRate = 3e-3f, EmbeddingLearningRate = 0.3f,
            Sequences = history ? [new BehaviourSequence { Name = "recent", Target = "item", Positions = names[2..] }] : null,
        };
        var test = Part(train, rows - train, fields);
        var withHistory = MultiTaskTrainer.Train(Part(0, train, fields), null, Enumerable.Repeat(items + 1, fields).Select((r, f) => f == 0 ? 21 : r).ToArray(),
            Options(true), fieldNames: names);
        var idsOnly = MultiTaskTrainer.Train(Part(0, train, 2), null, [21, items + 1], Options(false), fieldNames: names[..2]);
        double aucHistory = BinaryMetrics.Auc(withHistory.Predict(test)["PCtr"], test.LabelColumn(0)).Value;
        double aucIds = BinaryMetrics.Auc(idsOnly.Predict(Part(train, rows - train, 2))["PCtr"], test.LabelColumn(0)).Value;
        Console.WriteLine($"test AUC: ids only {aucIds:F4}, with attention over the history {aucHistory:F4}");
        Assert.IsTrue(aucHistory > aucIds + 0.1, $"attention over the history {aucHistory:F4} vs ids only {aucIds:F4}");

        // The standalone model gathers the history from the item table (stored once) and computes the mask from the ids.
        var onnx = withHistory.Export(names);
        var stacked = Onnx.ModelProto.Parser.ParseFrom(onnx).Graph.Initializer.Single(i => i.Name == "embedding");
        CollectionAssert.AreEqual(new long[] { 21 + 1 + items + 1 + 1, 8 }, stacked.Dims.ToArray(), "user and item rows (each table with its guard row), and no copy for the history");
        using var runner = new GraphRunner(onnx, new RuntimeOptions { Device = ExecutionDevice.Cpu, Threads = 1 });
        var feed = new Dictionary<string, (Array, long[])>();
        for (int f = 0; f < fields; f++) feed[names[f]] = (Enumerable.Range(0, test.Rows).Select(r => (long)test.Ids(r)[f]).ToArray(), [test.Rows, 1]);
        var exported = (float[])runner.Run(feed)["PCtr"].Data;
        var predicted = withHistory.Predict(test)["PCtr"];
        for (int r = 0; r < test.Rows; r++) Assert.AreEqual(predicted[r], exported[r], 1e-6f, $"row {r}");
    }

    [TestMethod]
    public void AResumedRunWithAHistoryIsTheUninterruptedOneAndItsFilesHoldTheSharedTableOnce()
    {
        const int rows = 3000, fields = 5;
        var rng = new Random(4);
        var ids = Enumerable.Range(0, rows * fields).Select(i => i % fields == 0 ? 1 + rng.Next(10) : rng.Next(2) == 0 ? 0 : 1 + rng.Next(20)).ToArray();
        var clicks = Enumerable.Range(0, rows).Select(_ => rng.Next(5) == 0 ? 1f : 0f).ToArray();
        var data = FeatureMatrix.FromArrays(rows, fields, 0, ids, [], [clicks, null, null]);
        string[] names = ["user", "item", "h0", "h1", "h2"];
        int[] tableRows = [11, 21, 21, 21, 21];
        MultiTaskTrainerOptions Options() => new()
        {
            Epochs = 2, BatchSize = 256, EmbeddingDim = 4, Bottom = [8], Tower = [4], CvrWeight = 0, RatingWeight = 0, Device = ExecutionDevice.Cpu, Threads = 1,
            Patience = 0, Calibration = CalibrationKind.None, Sequences = [new BehaviourSequence { Name = "recent", Target = "item", Positions = names[2..] }],
        };
        string checkpoint = Path.Combine(Path.GetTempPath(), $"seq-{Environment.ProcessId}-{Guid.NewGuid():N}.ckpt"), state = checkpoint + ".state";
        try
        {
            var straight = MultiTaskTrainer.Train(data, data, tableRows, Options(), fieldNames: names);
            var first = Options();
            first.CheckpointPath = checkpoint;
            first.EpochCompleted = r => { if (r.Epoch == 1) throw new OperationCanceledException("simulated crash"); };
            Assert.Throws<OperationCanceledException>(() => MultiTaskTrainer.Train(data, data, tableRows, first, fieldNames: names));
            var again = Options();
            again.CheckpointPath = checkpoint;
            var resumed = MultiTaskTrainer.Train(data, data, tableRows, again, fieldNames: names);
            for (int f = 0; f < fields; f++) CollectionAssert.AreEqual(straight.Tables[f], resumed.Tables[f], $"table {f}");
            CollectionAssert.AreEqual(straight.Predict(data)["PCtr"], resumed.Predict(data)["PCtr"]);

            // The item table and its Adagrad state are stored once, not once per position: against a state whose positions hold
            // copies, three positions x two arrays x 21 rows x 4 floats are saved (each copy replaced by a 4-byte reference).
            straight.State!.Save(state);
            var copies = new TrainingState
            {
                Parameters = straight.State.Parameters, OptimizerState = straight.State.OptimizerState, Steps = straight.State.Steps, Fields = straight.State.Fields,
                EmbeddingDim = 4, Tables = straight.State.Tables.Select(t => (float[])t.Clone()).ToArray(),
                TableState1 = straight.State.TableState1.Select(t => (float[]?)t?.Clone()).ToArray(), TableState2 = straight.State.TableState2,
                FieldAwareTables = straight.State.FieldAwareTables, FieldAwareState1 = straight.State.FieldAwareState1, FieldAwareState2 = straight.State.FieldAwareState2,
                CrossedPairs = straight.State.CrossedPairs, CrossedTables = straight.State.CrossedTables,
                CrossedState1 = straight.State.CrossedState1, CrossedState2 = straight.State.CrossedState2,
            };
            copies.Save(state + ".copies");
            Assert.AreEqual(3 * 2 * 21 * 4 * sizeof(float), new FileInfo(state + ".copies").Length - new FileInfo(state).Length);
            var loaded = TrainingState.Load(state);
            Assert.AreSame(loaded.Tables[1], loaded.Tables[4], "the positions read back the item field's table");
            for (int f = 0; f < fields; f++) CollectionAssert.AreEqual(straight.State.Tables[f], loaded.Tables[f]);
        }
        finally { File.Delete(checkpoint); File.Delete(state); File.Delete(state + ".copies"); }
    }
}
