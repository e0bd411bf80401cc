using Recommender.Trainers.Graph;
using Recommender.Trainers.Network;
using Recommender.Trainers.Runtime;
using Recommender.Trainers.Training;

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
                yield return ($"{name} standalone", compiled.Export(model.Parameters.ToDictionary(p => p.Name, p => p.Initial),
                    spec.FieldRows.Select(r => new float[r * spec.EmbeddingDim]).ToArray(), ["a", "b", "c"], spec.EmbeddingDim));
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
