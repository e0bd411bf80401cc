using Recommender.Trainers.Compilation;
using Recommender.Trainers.Embeddings;
using Recommender.Trainers.Network;
using Recommender.Trainers.Runtime;

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
    public void TheDeviceMemoryPathMatchesTheHostPathBitForBit()
    {
        // On CUDA the runner reads and writes parameters and optimizer state through copy sessions, never
        // through spans. The staged mode runs that code on the CPU: it must agree with the span path exactly,
        // after odd and even step counts (the ping-pong sets swap), through SetParameter and a reset.
        var spec = new MultiTaskSpec { FieldRows = [30, 40], EmbeddingDim = 4, DenseSize = 3 };
        var compiled = TrainStepCompiler.Compile(SharedBottom.Create(spec, [8], [4]), new DenseOptimizerOptions { Kind = DenseOptimizerKind.Adam, ClipNorm = 1 });
        var options = new RuntimeOptions { Device = ExecutionDevice.Cpu, Threads = 1 };
        using var host = new TrainStepRunner(compiled, 32, options);
        using var staged = new TrainStepRunner(compiled, 32, options, stageThroughSessions: true);
        var parameters = compiled.Definition.Parameters;
        var states = compiled.Optimizer.StateNames;
        void AssertSame(string when)
        {
            foreach (var p in parameters)
            {
                CollectionAssert.AreEqual(host.GetParameter(p.Name), staged.GetParameter(p.Name), $"{p.Name} {when}");
                foreach (var state in states) CollectionAssert.AreEqual(host.GetState(p.Name, state), staged.GetState(p.Name, state), $"{p.Name}.{state} {when}");
            }
        }
        var rng = new Random(5);
        void Step(int step)
        {
            foreach (var input in compiled.Definition.Inputs)
            {
                var (a, b) = (host.Input(input.Name), staged.Input(input.Name));
                for (int i = 0; i < a.Length; i++) a[i] = b[i] = input.Kind == BatchInputKind.Label ? rng.Next(2) : (float)(rng.NextDouble() * 2 - 1);
            }
            host.Step(0.01f);
            staged.Step(0.01f);
            Assert.AreEqual(host.Loss, staged.Loss, $"loss at step {step}");
            CollectionAssert.AreEqual(host.EmbeddingGradient(MultiTaskInputs.Embeddings), staged.EmbeddingGradient(MultiTaskInputs.Embeddings));
        }
        AssertSame("at the start");
        for (int step = 1; step <= 5; step++)
        {
            Step(step);
            if (step is 2 or 5) AssertSame($"after {step} steps");
        }
        Assert.AreNotEqual(parameters[0].Initial[0], staged.GetParameter(parameters[0].Name)[0], "the steps moved the parameters");

        var values = Enumerable.Range(0, (int)parameters[0].Size).Select(i => i / 100f).ToArray();
        host.SetParameter(parameters[0].Name, values);
        staged.SetParameter(parameters[0].Name, values);
        CollectionAssert.AreEqual(values, staged.GetParameter(parameters[0].Name));
        Step(6);
        AssertSame("after SetParameter and a step");

        staged.ResetParameters();
        foreach (var p in parameters)
        {
            CollectionAssert.AreEqual(p.Initial, staged.GetParameter(p.Name), p.Name);
            foreach (var state in states) Assert.IsTrue(staged.GetState(p.Name, state).All(v => v == 0), $"{p.Name}.{state} cleared");
        }
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
        var spec = new MultiTaskSpec { FieldRows = [20, 20], EmbeddingDim = 4, Seed = 7, Tasks = [new() { Name = "click", Label = "click" }] };
        const int batch = 128;
        using var runner = new TrainStepRunner(TrainStepCompiler.Compile(SharedBottom.Create(spec, [16], [8])), batch, new RuntimeOptions { Device = ExecutionDevice.Cpu, Threads = 1 });
        using var embeddings = new FieldEmbeddings(spec.FieldRows, spec.EmbeddingDim, seed: 1, initStd: 0.1f, threads: 1);
        var optimizer = new SparseAdagrad();
        var rng = new Random(11);
        var ids = new int[batch * 2];
        var losses = new List<float>();
        Array.Fill(runner.Input(MultiTaskInputs.RowMask), 1f);
        Array.Fill(runner.Input(MultiTaskInputs.LabelMask(spec.Tasks[0])), 1f);
        for (int step = 0; step < 300; step++)
        {
            var click = runner.Input(MultiTaskInputs.Label(spec.Tasks[0]));
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
