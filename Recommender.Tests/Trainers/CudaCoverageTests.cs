using Recommender.Trainers.Compilation;
using Recommender.Trainers.Graph;
using Recommender.Trainers.Network;
using Recommender.Trainers.Runtime;

namespace Recommender.Tests.Trainers;

[TestClass]
public sealed class CudaCoverageTests
{
    private static IEnumerable<string> Ops(byte[] model) => Onnx.ModelProto.Parser.ParseFrom(model).Graph.Node.Select(n => n.OpType).Distinct();

    /// <summary>Every graph the product builds, train step and inference, for every architecture and optimizer.</summary>
    public static IEnumerable<(string Name, byte[] Model)> ProductGraphs()
    {
        var spec = new MultiTaskSpec { FieldRows = [10, 20, 5], EmbeddingDim = 4, DenseSize = 3 };
        var models = TrainStepTests.Architectures.ToDictionary(a => a, a => TrainStepTests.Architecture(a, spec));
        foreach (var (name, model) in models)
        {
            foreach (var kind in Enum.GetValues<DenseOptimizerKind>())
            {
                var compiled = TrainStepCompiler.Compile(model, new DenseOptimizerOptions { Kind = kind, ClipNorm = 1, WeightDecay = 0.01 });
                yield return ($"{name} train step ({kind}, clipped)", compiled.TrainStep);
                yield return ($"{name} inference", compiled.Inference());
                yield return ($"{name} exported", compiled.Inference(model.Parameters.ToDictionary(p => p.Name, p => p.Initial)));
                // A model with a behaviour sequence has three more fields, the sequence's positions over field 1's table.
                bool history = model.Inputs.Any(i => i.Name == MultiTaskInputs.SequenceMask);
                int[] owners = history ? [0, 1, 2, 1, 1, 1] : [0, 1, 2];
                // A field-aware model also has one table of field-aware vectors per plain field.
                var fieldAware = model.Inputs.SingleOrDefault(i => i.Name == MultiTaskInputs.FieldAwareEmbeddings);
                (string, IReadOnlyList<float[]>)? second = fieldAware is null ? null
                    : (fieldAware.Name, Enumerable.Range(0, 3).Select(f => new float[spec.FieldRows[f] * fieldAware.RowSize / 3]).ToArray());
                // A crossed model has a table per pair, the pairs its spec chose (TrainStepTests crosses at up to 100 rows).
                (int A, int B, int RowsA, int RowsB)[] pairs = model.Inputs.Any(i => i.Name == MultiTaskInputs.CrossedEmbeddings)
                    ? [.. (spec with { Interactions = FeatureInteractions.CrossedEmbeddings, CrossedRowLimit = TrainStepTests.CrossedRowLimit }).CrossedPairs().Select(p => (p.A, p.B, p.RowsA, p.RowsB))]
                    : [];
                (string, IReadOnlyList<(int, int, int, int)>, IReadOnlyList<float[]>)? crossed = pairs.Length == 0 ? null
                    : (MultiTaskInputs.CrossedEmbeddings, pairs, pairs.Select(p => new float[p.RowsA * p.RowsB * model.Inputs.Single(i => i.Name == MultiTaskInputs.CrossedEmbeddings).RowSize / pairs.Length]).ToArray());
                yield return ($"{name} standalone", compiled.Export(model.Parameters.ToDictionary(p => p.Name, p => p.Initial),
                    owners.Select(o => new float[spec.FieldRows[o] * spec.EmbeddingDim]).ToArray(), owners.Select((_, f) => $"f{f}").ToArray(), spec.EmbeddingDim,
                    tableOwners: owners, idMask: history ? (MultiTaskInputs.SequenceMask, [3, 4, 5]) : null, secondTables: second, crossed: crossed));
            }
        }
    }

    [TestMethod]
    public void EveryProductGraphUsesOnlyOpsWithCudaKernels()
    {
        int graphs = 0;
        foreach (var (name, model) in ProductGraphs())
        {
            var missing = Ops(model).Where(op => !CudaKernels.Supported.Contains(op)).ToList();
            Assert.AreEqual(0, missing.Count, $"{name} uses ops without CUDA kernels: {string.Join(", ", missing)}");
            graphs++;
        }
        Assert.IsTrue(graphs >= 60);
    }

    [TestMethod]
    public void TheCoverageCheckCatchesAnOpWithoutACudaKernel()
    {
        // A graph with an op outside the list must be reported: the check is not vacuous.
        var g = new GraphBuilder();
        var x = g.Input("x", 2);
        var node = typeof(GraphBuilder).GetMethod("Emit", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!;
        var fake = (Value)node.Invoke(g, [Activator.CreateInstance(typeof(Node), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance, null, ["BatchNormalization", new[] { x }, null], null)!, "bn", x.Type, x.Shape, null])!;
        g.Output(fake, "y");
        CollectionAssert.Contains(Ops(g.ToBytes()).Where(op => !CudaKernels.Supported.Contains(op)).ToList(), "BatchNormalization");
    }

    [TestMethod]
    public void EveryProductGraphRunsWhollyOnCudaWithItsElementTypes()
    {
        // Beyond op names: the element type of each node has a CUDA kernel, and no shape arithmetic would be
        // moved to the CPU by ONNX Runtime's partitioner (a CUDA session refuses both at creation).
        int graphs = 0;
        foreach (var (name, model) in ProductGraphs())
        {
            var report = CudaPlacement.Check(model);
            Assert.AreEqual(0, report.Unsupported.Count, $"{name}: no CUDA kernel for {string.Join(", ", report.Unsupported)}");
            Assert.AreEqual(0, report.CpuPreferred.Count, $"{name}: ONNX Runtime would run {string.Join(", ", report.CpuPreferred)} on the CPU");
            graphs++;
        }
        Assert.IsTrue(graphs >= 60);
    }

    [TestMethod]
    public void ThePlacementReplayFlagsHostShapeArithmeticAndUnsupportedTypes()
    {
        // x * float(size(x)) over a run-time batch: Size writes host memory, so ONNX Runtime runs the Cast on the
        // CPU, and the Reshape that gives the scalar x's rank (GraphBuilder.MatchRank) and the Mul too (its other
        // input is a graph input, which may be read on either side); Relu has no int64 kernel. These must be
        // reported, and the Shape->Reshape pattern must not be.
        var g = new GraphBuilder();
        var x = g.Input("x", -1, 3);
        var scaled = g.Mul(x, g.Cast(g.Size(x), Onnx.TensorProto.Types.DataType.Float));
        g.Output(g.Reshape(scaled, g.Shape(x), [-1, 3]), "y");
        var ids = g.Input("ids", [-1], Onnx.TensorProto.Types.DataType.Int64);
        g.Output(g.Relu(ids), "r");
        var report = CudaPlacement.Check(g.ToBytes());
        CollectionAssert.AreEqual(new[] { "Cast", "Reshape", "Mul" }, report.CpuPreferred.Select(n => n.Split(' ')[0]).ToArray(), string.Join(", ", report.CpuPreferred));
        Assert.AreEqual(1, report.Unsupported.Count, string.Join(", ", report.Unsupported));
        StringAssert.StartsWith(report.Unsupported[0], "Relu(Int64)");
    }

    [TestMethod]
    public void MeanGradientOverARunTimeBatchStaysOnTheDevice()
    {
        // The mean's gradient divides by the number of reduced elements; over the batch axis that count is only
        // known at run time and must be computed without host shape arithmetic.
        var g = new GraphBuilder();
        var x = g.Input("x", -1, 4);
        var w = g.Initializer("w", [4, 2], new float[8]);
        var loss = g.Output(g.Mean(g.MatMul(x, w)), "loss");
        g.Output(Autodiff.Gradients(loss, [w])[0], "dw");
        var report = CudaPlacement.Check(g.ToBytes());
        Assert.AreEqual(0, report.CpuPreferred.Count, string.Join(", ", report.CpuPreferred));
        Assert.AreEqual(0, report.Unsupported.Count, string.Join(", ", report.Unsupported));
    }

    [TestMethod]
    public void BatchedInferenceMatchesThePerCallRunner()
    {
        var spec = new MultiTaskSpec { FieldRows = [10, 20], EmbeddingDim = 4, DenseSize = 3 };
        var model = SharedBottom.Create(spec, [8], [4]);
        var exported = TrainStepCompiler.Compile(model).Inference(model.Parameters.ToDictionary(p => p.Name, p => p.Initial));
        using var batched = new BatchedInference(exported, 16, new RuntimeOptions { Device = ExecutionDevice.Cpu });
        var rng = new Random(2);
        var embeddings = batched.Input(MultiTaskInputs.Embeddings);
        var dense = batched.Input(MultiTaskInputs.Dense);
        for (int i = 0; i < embeddings.Length; i++) embeddings[i] = (float)rng.NextDouble();
        for (int i = 0; i < dense.Length; i++) dense[i] = (float)rng.NextDouble();
        batched.Run();
        using var runner = new GraphRunner(exported);
        var expected = runner.Run(new Dictionary<string, (Array, long[])>
        {
            [MultiTaskInputs.Embeddings] = (embeddings, [16, 8]), [MultiTaskInputs.Dense] = (dense, [16, 3]),
        });
        foreach (var output in batched.OutputNames)
            CollectionAssert.AreEqual((float[])expected[output].Data, batched.Output(output), output);
    }
}
