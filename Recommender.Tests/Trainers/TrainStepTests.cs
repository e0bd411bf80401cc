using Recommender.Trainers.Compilation;
using Recommender.Trainers.Network;
using Recommender.Trainers.Runtime;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Recommender.Tests.Trainers;

[TestClass]
public sealed class TrainStepTests
{
    private static MultiTaskSpec Spec() => new()
    {
        FieldRows = [4, 5, 3], EmbeddingDim = 2, DenseSize = 2, Seed = 3,
        Tasks = TaskList.DefaultChain("Click", "Conversion", "Rating", 1, 0.7f, 0.3f, 1, 5),
    };

    // A declared 3-step chain, an independent binary task and a regression given the chain's end.
    private static MultiTaskSpec ChainSpec(MultiTaskSpec spec) => spec with
    {
        Tasks =
        [
            new() { Name = "click", Label = "click" },
            new() { Name = "cart", Label = "cart", Given = "click", Weight = 0.8f },
            new() { Name = "purchase", Label = "purchase", Given = "cart", Weight = 0.6f },
            new() { Name = "favourite", Label = "favourite", Weight = 0.5f },
            new() { Name = "satisfaction", Label = "satisfaction", Kind = TaskKind.Regression, Min = 0, Max = 10, Given = "purchase", Weight = 0.2f },
        ],
    };

    // Per task: labels and masks of the 4 rows (row 3 is padding); a missing label has mask 0.
    private static readonly Dictionary<string, (double[] Label, double[] Mask)> Labels = new()
    {
        ["ctr"] = ([1, 0, 1, 1], [1, 1, 1, 1]), ["cvr"] = ([1, 0, 0, 1], [1, 1, 1, 1]), ["rating"] = ([4, 0, 0, 2], [1, 0, 0, 1]),
        ["click"] = ([1, 0, 1, 1], [1, 1, 1, 1]), ["cart"] = ([1, 0, 1, 0], [1, 0, 1, 1]), ["purchase"] = ([1, 0, 0, 0], [1, 1, 1, 1]),
        ["favourite"] = ([0, 1, 0, 1], [1, 1, 0, 1]), ["satisfaction"] = ([7, 0, 0, 0], [1, 0, 0, 0]),
    };

    public static ModelDefinition Architecture(string name, MultiTaskSpec spec) => name switch
    {
        "SharedBottom" => SharedBottom.Create(spec, [5], [3]),
        "SharedBottomLearnedWeights" => SharedBottom.Create(spec with { LearnTaskWeights = true }, [5], [3]),
        "Esmm" => Esmm.Create(spec, [4]),
        "Mmoe" => Mmoe.Create(spec, experts: 3, expert: [4], tower: [3]),
        "Ple" => Ple.Create(spec, layers: 2, sharedExperts: 1, taskExperts: 1, expert: [4], tower: [3]),
        "Esm2Chain" => Esmm.Create(ChainSpec(spec), [4]),
        "MmoeChain" => Mmoe.Create(ChainSpec(spec) with { LearnTaskWeights = true }, experts: 2, expert: [4], tower: [3]),
        "PleChain" => Ple.Create(ChainSpec(spec), layers: 2, sharedExperts: 1, taskExperts: 1, expert: [4], tower: [3]),
        "SharedBottomFm" => SharedBottom.Create(spec with { Interactions = FeatureInteractions.FactorizationMachine }, [5], [3]),
        "MmoeCross" => Mmoe.Create(spec with { Interactions = FeatureInteractions.Cross, CrossLayers = 2 }, experts: 2, expert: [4], tower: [3]),
        "SharedBottomDot" => SharedBottom.Create(spec with { Interactions = FeatureInteractions.PairwiseDot }, [5], [3]),
        "SharedBottomHistoryMean" => SharedBottom.Create(HistorySpec(spec, SequencePooling.Mean), [5], [3]),
        "MmoeHistoryAttention" => Mmoe.Create(HistorySpec(spec, SequencePooling.Attention), experts: 2, expert: [4], tower: [3]),
        "Esm2HistoryAttentionFmDot" => Esmm.Create(ChainSpec(HistorySpec(spec, SequencePooling.Attention)) with { Interactions = FeatureInteractions.FactorizationMachine | FeatureInteractions.PairwiseDot }, [4]),
        "SharedBottomFieldAware" => SharedBottom.Create(spec with { Interactions = FeatureInteractions.FieldAware, FieldAwareDim = 2 }, [5], [3]),
        "MmoeHistoryFieldAwareDot" => Mmoe.Create(HistorySpec(spec, SequencePooling.Mean) with { Interactions = FeatureInteractions.FieldAware | FeatureInteractions.PairwiseDot, FieldAwareDim = 3 }, experts: 2, expert: [4], tower: [3]),
        "SharedBottomDeepFm" => SharedBottom.Create(spec with { Interactions = FeatureInteractions.DeepFm }, [5], [3]),
        "EsmmFieldAwareLinear" => Esmm.Create(spec with { Interactions = FeatureInteractions.FieldAware | FeatureInteractions.FieldAwareLinear, FieldAwareDim = 2 }, [4]),
        "PleHistoryDeepFm" => Ple.Create(HistorySpec(spec, SequencePooling.Attention) with { Interactions = FeatureInteractions.DeepFm }, layers: 1, sharedExperts: 1, taskExperts: 1, expert: [4], tower: [3]),
        "EsmmFmCross" => Esmm.Create(ChainSpec(spec) with { Interactions = FeatureInteractions.FactorizationMachine | FeatureInteractions.Cross, CrossLayers = 1 }, [4]),
        "EsmmCrossedFieldAware" => Esmm.Create(spec with { Interactions = FeatureInteractions.CrossedEmbeddings | FeatureInteractions.FieldAware, FieldAwareDim = 2, CrossedRowLimit = CrossedRowLimit }, [4]),
        _ => throw new ArgumentException(name),
    };

    // The spec's fields, then a 3-long behaviour sequence over field 1's vocabulary (fields 3..5).
    private static MultiTaskSpec HistorySpec(MultiTaskSpec spec, SequencePooling pooling) => spec with
    {
        FieldRows = [.. spec.FieldRows, spec.FieldRows[1], spec.FieldRows[1], spec.FieldRows[1]],
        Sequences = [new SequenceSpec("recent", TargetField: 1, FirstField: spec.FieldRows.Count, Length: 3)], Pooling = pooling, AttentionHidden = 3,
    };

    // Rows' sequence masks: two present, one, none (a user without history), and the padding row's three.
    private static readonly double[] SequenceMask = [1, 1, 0, 1, 0, 0, 0, 0, 0, 1, 1, 1];

    /// <summary>The crossed architecture's row limit (the CUDA replay derives the same pairs from it).</summary>
    public const int CrossedRowLimit = 100;

    public static readonly string[] Architectures = ["SharedBottom", "SharedBottomLearnedWeights", "Esmm", "Mmoe", "Ple", "Esm2Chain", "MmoeChain", "PleChain", "SharedBottomFm", "MmoeCross", "EsmmFmCross", "SharedBottomDot",
        "SharedBottomHistoryMean", "MmoeHistoryAttention", "Esm2HistoryAttentionFmDot", "SharedBottomDeepFm", "PleHistoryDeepFm", "SharedBottomFieldAware", "MmoeHistoryFieldAwareDot",
        "EsmmFieldAwareLinear", "EsmmCrossedFieldAware"];

    [TestMethod]
    [DataRow("SharedBottom")]
    [DataRow("SharedBottomLearnedWeights")]
    [DataRow("Esmm")]
    [DataRow("Mmoe")]
    [DataRow("Ple")]
    [DataRow("Esm2Chain")]
    [DataRow("MmoeChain")]
    [DataRow("PleChain")]
    [DataRow("SharedBottomFm")]
    [DataRow("MmoeCross")]
    [DataRow("EsmmFmCross")]
    [DataRow("SharedBottomDot")]
    [DataRow("SharedBottomHistoryMean")]
    [DataRow("MmoeHistoryAttention")]
    [DataRow("Esm2HistoryAttentionFmDot")]
    [DataRow("SharedBottomDeepFm")]
    [DataRow("PleHistoryDeepFm")]
    [DataRow("SharedBottomFieldAware")]
    [DataRow("MmoeHistoryFieldAwareDot")]
    [DataRow("EsmmFieldAwareLinear")]
    public void WholeTrainStepGradientsMatchFiniteDifferences(string architecture)
    {
        // SGD without momentum at lr = 1 makes p.next = p - grad, so the step's own outputs reveal the gradient.
        var model = Architecture(architecture, Spec());
        var f64 = new ModelDefinition { Parameters = model.Parameters, Inputs = model.Inputs, Forward = model.Forward, FloatType = DataType.Double };
        var compiled = TrainStepCompiler.Compile(f64, new DenseOptimizerOptions { Kind = DenseOptimizerKind.Sgd, Momentum = 0 });
        using var runner = new GraphRunner(compiled.TrainStep, new RuntimeOptions { Device = ExecutionDevice.Cpu, Threads = 1 });

        const int batch = 4;
        var feed = Feed(model);
        int width = (int)model.Inputs.Single(i => i.Name == MultiTaskInputs.Embeddings).RowSize;
        bool history = model.Inputs.Any(i => i.Name == MultiTaskInputs.SequenceMask);
        var fieldAware = model.Inputs.SingleOrDefault(i => i.Name == MultiTaskInputs.FieldAwareEmbeddings);
        var result = runner.Run(feed);
        double Loss() => ((double[])runner.Run(feed, GraphNames.Loss)[GraphNames.Loss].Data)[0];

        double worst = 0;
        void Compare(string input, double[] analytic)
        {
            var values = (double[])feed[input].Item1;
            for (int j = 0; j < values.Length; j++)
            {
                double saved = values[j];
                values[j] = saved + 1e-6; double up = Loss();
                values[j] = saved - 1e-6; double down = Loss();
                values[j] = saved;
                double numeric = (up - down) / 2e-6;
                double error = Math.Abs(numeric - analytic[j]) / Math.Max(Math.Max(Math.Abs(numeric), Math.Abs(analytic[j])), 1e-3);
                worst = Math.Max(worst, error);
                Assert.IsTrue(error < 1e-5, $"{input}[{j}]: analytic {analytic[j]:G8} numeric {numeric:G8}");
            }
        }
        foreach (var p in model.Parameters)
        {
            var before = (double[])feed[p.Name].Item1;
            var after = (double[])result[GraphNames.NextParameter(p.Name)].Data;
            Compare(p.Name, before.Zip(after, (b, a) => b - a).ToArray());
        }
        var embeddingGrad = (double[])result[GraphNames.EmbeddingGradient(MultiTaskInputs.Embeddings)].Data;
        Compare(MultiTaskInputs.Embeddings, embeddingGrad);
        if (fieldAware is not null)
        {
            var fieldAwareGrad = (double[])result[GraphNames.EmbeddingGradient(fieldAware.Name)].Data;
            Compare(fieldAware.Name, fieldAwareGrad);
            for (long j = 3 * fieldAware.RowSize; j < 4 * fieldAware.RowSize; j++) Assert.AreEqual(0.0, fieldAwareGrad[j], 1e-15, "the padding row's field-aware vectors");
        }
        // Padding row 3 contributes nothing, and neither does a masked sequence position: exactly.
        for (int j = 3 * width; j < 4 * width; j++) Assert.AreEqual(0.0, embeddingGrad[j], 1e-15);
        if (history)
            for (int b = 0; b < batch; b++)
                for (int i = 0; i < 3; i++)
                    if (SequenceMask[b * 3 + i] == 0)
                        for (int d = 0; d < 2; d++) Assert.AreEqual(0.0, embeddingGrad[b * width + (3 + i) * 2 + d], $"row {b} position {i}");
        Console.WriteLine($"train step: largest relative gradient error {worst:E2}");
        lock (typeof(GradientCheck)) GradientCheck.LargestRelativeError = Math.Max(GradientCheck.LargestRelativeError, worst);
    }

    // A float64 batch of 4 rows for the model (row 3 is padding), its labels from Labels, its parameters at their initial values.
    private static Dictionary<string, (Array, long[])> Feed(ModelDefinition model, Func<string, (double[] Label, double[] Mask)>? labels = null)
    {
        const int batch = 4;
        labels ??= task => Labels[task];
        var rng = new Random(5);
        double[] Rand(int n, double scale = 1) => Enumerable.Range(0, n).Select(_ => (rng.NextDouble() * 2 - 1) * scale).ToArray();
        int width = (int)model.Inputs.Single(i => i.Name == MultiTaskInputs.Embeddings).RowSize;
        var feed = new Dictionary<string, (Array, long[])>
        {
            [MultiTaskInputs.Embeddings] = (Rand(batch * width, 0.5), [batch, width]),
            [MultiTaskInputs.Dense] = (Rand(batch * 2), [batch, 2]),
            [MultiTaskInputs.RowMask] = (new double[] { 1, 1, 1, 0 }, [batch, 1]), // last row is padding
            [GraphNames.LearningRate] = (new double[] { 1 }, []),
            [GraphNames.Step] = (new double[] { 1 }, []),
        };
        bool history = model.Inputs.Any(i => i.Name == MultiTaskInputs.SequenceMask);
        var fieldAware = model.Inputs.SingleOrDefault(i => i.Name == MultiTaskInputs.FieldAwareEmbeddings);
        if (fieldAware is not null) feed[fieldAware.Name] = (Rand(batch * (int)fieldAware.RowSize, 0.5), [batch, fieldAware.RowSize]);
        if (history) feed[MultiTaskInputs.SequenceMask] = (SequenceMask, [batch, 3]);
        foreach (var input in model.Inputs.Where(i => i.Kind == BatchInputKind.Label && i.Name != MultiTaskInputs.RowMask))
        {
            var task = input.Name[(input.Name.IndexOf('.') + 1)..];
            feed[input.Name] = (input.Name.StartsWith("label_mask.") ? labels(task).Mask : labels(task).Label, [batch, 1]);
        }
        // DeepFM's and the field-aware read-out's weights start at 0 (the plain network); at 0 the wide terms' paths to the
        // embeddings would go unchecked.
        foreach (var p in model.Parameters)
            feed[p.Name] = (p.Name.StartsWith("deepfm.") ? [0.7] : p.Name.StartsWith("fieldaware_linear.") ? Rand((int)p.Size) : p.Initial.Select(v => (double)v).ToArray(), p.Shape);
        return feed;
    }

    [TestMethod]
    [DataRow("SharedBottomDeepFm", false)]
    [DataRow("EsmmFieldAwareLinear", false)]
    [DataRow("EsmmFieldAwareLinear", true)]
    [DataRow("MmoeChain", false)]
    [DataRow("PleChain", true)]
    [DataRow("Esm2Chain", false)]
    public void TowersOnTheirDefinedRowsTakeTheStepOfTowersOverEveryRow(string architecture, bool noRatings)
    {
        // Conversion (outside an entire-space model) and rating towers run on their defined rows only; the step must be the
        // one of the towers over every row, in float64 to rounding. Row 0 is rated (it is also the guard row, so taken twice);
        // noRatings: a batch without any rated row, common in real batches.
        (double[], double[]) Label(string task) => noRatings && task is "rating" or "satisfaction" ? ([0, 0, 0, 0], [0, 0, 0, 0]) : Labels[task];
        Dictionary<string, double[]> Step(bool onRows)
        {
            var spec = Spec() with { TowersOnDefinedRows = onRows };
            var model = Architecture(architecture, spec);
            var f64 = new ModelDefinition { Parameters = model.Parameters, Inputs = model.Inputs, Forward = model.Forward, FloatType = DataType.Double };
            var compiled = TrainStepCompiler.Compile(f64, new DenseOptimizerOptions { Kind = DenseOptimizerKind.Sgd, Momentum = 0 });
            Assert.AreEqual(onRows, compiled.OpTypes.Contains("NonZero"), "the towers on defined rows are built exactly when asked for");
            using var runner = new GraphRunner(compiled.TrainStep, new RuntimeOptions { Device = ExecutionDevice.Cpu, Threads = 1 });
            return runner.Run(Feed(model, Label)).ToDictionary(o => o.Key, o => ((double[])o.Value.Data).ToArray());
        }
        var everyRow = Step(false);
        var definedRows = Step(true);
        CollectionAssert.AreEquivalent(everyRow.Keys.ToArray(), definedRows.Keys.ToArray());
        foreach (var (name, expected) in everyRow)
            for (int j = 0; j < expected.Length; j++)
                Assert.AreEqual(expected[j], definedRows[name][j], 1e-12 * Math.Max(1, Math.Abs(expected[j])), $"{name}[{j}]");
        Assert.IsTrue(everyRow.Keys.Any(k => k.Contains("rating") || k.Contains("satisfaction")), "a rating loss term is compared");
    }

    [TestMethod]
    public void BatchWithNoMaskedInRowsContributesZeroNotNaN()
    {
        var model = SharedBottom.Create(Spec() with { DenseSize = 0 }, [4], [2]);
        using var runner = new TrainStepRunner(TrainStepCompiler.Compile(model), 3, new RuntimeOptions { Device = ExecutionDevice.Cpu });
        // Row mask 1 and clicks 0 but no rating: CVR and rating losses have no rows.
        Array.Fill(runner.Input(MultiTaskInputs.RowMask), 1f);
        Array.Fill(runner.Input(MultiTaskInputs.LabelMask(Spec().Tasks[0])), 1f);
        Array.Fill(runner.Input(MultiTaskInputs.LabelMask(Spec().Tasks[1])), 1f);
        runner.Step(0.01f);
        Assert.AreEqual(0f, runner.LossTerm("cvr"));
        Assert.AreEqual(0f, runner.LossTerm("rating"));
        Assert.IsTrue(float.IsFinite(runner.Loss) && runner.Loss > 0);
        Assert.IsTrue(runner.Parameters().Values.All(p => p.All(float.IsFinite)));
    }

    [TestMethod]
    public void TheStandaloneModelGathersEachFieldsRowsAndMapsIdsOutsideTheTableToTheUnknownRow()
    {
        // The exported model stacks the tables into one and gathers every field with one shifted Gather. Its predictions
        // must be the inference graph's on the rows gathered here by hand, and an id outside its field's rows (too large
        // for the field but inside the stack, or negative) must read the field's row 0, never another field's rows.
        var spec = Spec();
        var model = SharedBottom.Create(spec, [5], [3]);
        var compiled = TrainStepCompiler.Compile(model);
        var rng = new Random(4);
        var parameters = model.Parameters.ToDictionary(p => p.Name, p => p.Initial.Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray());
        var tables = spec.FieldRows.Select(r => Enumerable.Range(0, r * spec.EmbeddingDim).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray()).ToArray();
        string[] names = ["a", "b", "c"];
        long[][] ids = [[1, 4, 2], [3, 0, 1], [7, 5, -1], [0, 0, 0], [-4, 12, 3]];
        long[][] expectedIds = [[1, 4, 2], [3, 0, 1], [0, 0, 0], [0, 0, 0], [0, 0, 0]];
        var dense = Enumerable.Range(0, ids.Length * spec.DenseSize).Select(_ => (float)rng.NextDouble()).ToArray();
        using var exported = new GraphRunner(compiled.Export(parameters, tables, names, spec.EmbeddingDim));
        var feed = new Dictionary<string, (Array, long[])> { [MultiTaskInputs.Dense] = (dense, [ids.Length, spec.DenseSize]) };
        for (int f = 0; f < names.Length; f++) feed[names[f]] = (ids.Select(row => row[f]).ToArray(), [ids.Length, 1]);
        var actual = exported.Run(feed);

        var gathered = expectedIds.SelectMany(row => row.SelectMany((id, f) => tables[f].AsSpan((int)id * spec.EmbeddingDim, spec.EmbeddingDim).ToArray())).ToArray();
        using var inference = new GraphRunner(compiled.Inference(parameters));
        var expected = inference.Run(new Dictionary<string, (Array, long[])>
        {
            [MultiTaskInputs.Embeddings] = (gathered, [ids.Length, names.Length * spec.EmbeddingDim]),
            [MultiTaskInputs.Dense] = (dense, [ids.Length, spec.DenseSize]),
        });
        foreach (var output in compiled.Predictions)
            CollectionAssert.AreEqual((float[])expected[output].Data, (float[])actual[output].Data, output);
    }

    [TestMethod]
    public void InferenceGraphSharesParameterNamesWithTheTrainStep()
    {
        var model = SharedBottom.Create(Spec(), [5], [3]);
        var compiled = TrainStepCompiler.Compile(model);
        using var runner = new TrainStepRunner(compiled, 4, new RuntimeOptions { Device = ExecutionDevice.Cpu });
        var rng = new Random(1);
        foreach (var name in new[] { MultiTaskInputs.Embeddings, MultiTaskInputs.Dense })
            for (int i = 0; i < runner.Input(name).Length; i++) runner.Input(name)[i] = (float)rng.NextDouble();
        Array.Fill(runner.Input(MultiTaskInputs.RowMask), 1f);
        Array.Fill(runner.Input(MultiTaskInputs.LabelMask(Spec().Tasks[0])), 1f);
        runner.Input(MultiTaskInputs.Label(Spec().Tasks[0]))[0] = 1;
        for (int s = 0; s < 3; s++) runner.Step(0.05f);

        var parameters = runner.Parameters();
        var feed = new Dictionary<string, (Array, long[])>
        {
            [MultiTaskInputs.Embeddings] = (runner.Input(MultiTaskInputs.Embeddings), [4, 6]),
            [MultiTaskInputs.Dense] = (runner.Input(MultiTaskInputs.Dense), [4, 2]),
        };
        using var exported = new GraphRunner(compiled.Inference(parameters));
        var a = exported.Run(feed);
        foreach (var (name, values) in parameters) feed[name] = (values, model.Parameters.Single(p => p.Name == name).Shape);
        using var withInputs = new GraphRunner(compiled.Inference());
        var b = withInputs.Run(feed);
        foreach (var output in compiled.Predictions)
            CollectionAssert.AreEqual((float[])a[output].Data, (float[])b[output].Data, output);
        var pctr = (float[])a[TaskList.PCtr].Data;
        var pcvr = (float[])a[TaskList.PCvr].Data;
        var pctcvr = (float[])a[TaskList.PCtcvr].Data;
        for (int i = 0; i < 4; i++) Assert.AreEqual(pctr[i] * pcvr[i], pctcvr[i], 1e-7);
        Assert.IsTrue(((float[])a[TaskList.PredictedRating].Data).All(r => r is >= 1 and <= 5));
    }
}
