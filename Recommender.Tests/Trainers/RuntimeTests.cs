using Recommender.Trainers.Embeddings;
using Recommender.Trainers.Network;
using Recommender.Trainers.Runtime;
using Recommender.Trainers.Training;

namespace Recommender.Tests.Trainers;

[TestClass]
[DoNotParallelize]
public sealed class RuntimeTests
{
    private static byte[] TinyModel() => TrainStepCompiler.Compile(SharedBottom.Create(new MultiTaskSpec { FieldRows = [3] , EmbeddingDim = 2 }, [4], [2])).TrainStep;

    [TestMethod]
    public void CudaChoiceFailsClearlyWithoutAGpu()
    {
        if (Environment.GetEnvironmentVariable("RECOMMENDER_HAS_GPU") == "1") Assert.Inconclusive("a GPU is present");
        var e = Assert.Throws<InvalidOperationException>(() => SessionFactory.Create(TinyModel(), new RuntimeOptions { Device = ExecutionDevice.Cuda }, out _));
        StringAssert.Contains(e.Message, "CUDA was requested");
        StringAssert.Contains(e.Message, "libcudart.so.13");
    }

    [TestMethod]
    public void AutoFallsBackToCpuAndSaysSoOnce()
    {
        if (Environment.GetEnvironmentVariable("RECOMMENDER_HAS_GPU") == "1") Assert.Inconclusive("a GPU is present");
        var messages = new List<string>();
        var saved = SessionFactory.Log;
        SessionFactory.Log = messages.Add;
        try
        {
            typeof(SessionFactory).GetField("_fallbackLogged", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!.SetValue(null, 0);
            using (SessionFactory.Create(TinyModel(), new RuntimeOptions { Device = ExecutionDevice.Auto }, out var first)) Assert.AreEqual(ExecutionDevice.Cpu, first);
            using (SessionFactory.Create(TinyModel(), new RuntimeOptions { Device = ExecutionDevice.Auto }, out var second)) Assert.AreEqual(ExecutionDevice.Cpu, second);
        }
        finally { SessionFactory.Log = saved; }
        Assert.AreEqual(1, messages.Count);
        StringAssert.Contains(messages[0], "running on the CPU");
    }

    [TestMethod]
    public void SteadyStateStepsAllocateNoManagedMemory()
    {
        var spec = new MultiTaskSpec { FieldRows = [50, 80, 30], EmbeddingDim = 8, DenseSize = 3 };
        using var runner = new TrainStepRunner(TrainStepCompiler.Compile(SharedBottom.Create(spec, [32, 16], [8])), 256, new RuntimeOptions { Device = ExecutionDevice.Cpu, Threads = 2 });
        using var embeddings = new FieldEmbeddings(spec.FieldRows, spec.EmbeddingDim, seed: 1, threads: 2);
        var optimizer = new SparseAdagrad();
        var ids = new int[256 * 3];
        var rng = new Random(3);
        for (int i = 0; i < ids.Length; i++) ids[i] = rng.Next(30);
        Array.Fill(runner.Input(MultiTaskInputs.RowMask), 1f);
        void Step()
        {
            embeddings.Gather(ids, 256, runner.Input(MultiTaskInputs.Embeddings));
            runner.Step(0.01f);
            embeddings.Update(ids, 256, runner.EmbeddingGradient(MultiTaskInputs.Embeddings), optimizer, 0.05f, runner.Steps);
        }
        for (int i = 0; i < 5; i++) Step();
        long before = GC.GetTotalAllocatedBytes(precise: true);
        const int steps = 50;
        for (int i = 0; i < steps; i++) Step();
        long perStep = (GC.GetTotalAllocatedBytes(precise: true) - before) / steps;
        Console.WriteLine($"managed bytes per step: {perStep}");
        Assert.IsTrue(perStep < 256, $"{perStep} managed bytes per step");
    }

    [TestMethod]
    public void LossFallsOnALearnableTask()
    {
        // Clicks depend on the ids of two fields: the network has to learn both embeddings and the MLP.
        var spec = new MultiTaskSpec { FieldRows = [20, 20], EmbeddingDim = 4, CvrWeight = 0, RatingWeight = 0, Seed = 7 };
        const int batch = 128;
        using var runner = new TrainStepRunner(TrainStepCompiler.Compile(SharedBottom.Create(spec, [16], [8])), batch, new RuntimeOptions { Device = ExecutionDevice.Cpu, Threads = 1 });
        using var embeddings = new FieldEmbeddings(spec.FieldRows, spec.EmbeddingDim, seed: 1, initStd: 0.1f, threads: 1);
        var optimizer = new SparseAdagrad();
        var rng = new Random(11);
        var ids = new int[batch * 2];
        var losses = new List<float>();
        Array.Fill(runner.Input(MultiTaskInputs.RowMask), 1f);
        for (int step = 0; step < 300; step++)
        {
            var click = runner.Input(MultiTaskInputs.Click);
            for (int b = 0; b < batch; b++)
            {
                int a = rng.Next(1, 20), c = rng.Next(1, 20);
                ids[2 * b] = a; ids[2 * b + 1] = c;
                double p = 1 / (1 + Math.Exp(-((a % 4) - 1.5 + (c % 3) - 1)));
                click[b] = rng.NextDouble() < p ? 1 : 0;
            }
            embeddings.Gather(ids, batch, runner.Input(MultiTaskInputs.Embeddings));
            runner.Step(0.01f);
            embeddings.Update(ids, batch, runner.EmbeddingGradient(MultiTaskInputs.Embeddings), optimizer, 0.1f, runner.Steps);
            losses.Add(runner.Loss);
        }
        double first = losses.Take(20).Average(), last = losses.Skip(280).Average();
        Console.WriteLine($"loss {first:F4} -> {last:F4}");
        Assert.IsTrue(last < first * 0.9, $"loss {first:F4} -> {last:F4}");
    }
}
