using Recommender.Trainers.Compilation;
using Recommender.Trainers.Embeddings;
using Recommender.Trainers.Graph;
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
        Assert.IsFalse(messages[0].Contains("onnxruntime_src"), messages[0]);
    }

    [TestMethod]
    public void TheProvidersFailureIsTheLoadersOwnWords()
    {
        // ONNX Runtime 1.31's message where libcublasLt is missing, as it reads on this machine.
        const string ort = "[ErrorCode:Fail] /onnxruntime_src/onnxruntime/core/session/provider_bridge_ort.cc:2043 onnxruntime::Provider& " +
            "onnxruntime::ProviderLibrary::Get() [ONNXRuntimeError] : 1 : FAIL : Failed to load library /app/runtimes/linux-x64/native/" +
            "libonnxruntime_providers_cuda.so with error: libcublasLt.so.13: cannot open shared object file: No such file or directory\nsecond line";
        Assert.AreEqual("libcublasLt.so.13: cannot open shared object file: No such file or directory", SessionFactory.Reason(ort));
        Assert.AreEqual("CUDA device 3 not found", SessionFactory.Reason("CUDA device 3 not found\nmore"));
        Assert.AreEqual("ends with error:", SessionFactory.Reason("ends with error: "));
    }

    [TestMethod]
    [DataRow(DenseOptimizerKind.Adam, 0.0, 1.0)]
    [DataRow(DenseOptimizerKind.AdamW, 0.05, 0.0)]
    [DataRow(DenseOptimizerKind.Sgd, 0.01, 0.5)]
    public void TheDeviceMemoryPathMatchesTheHostPath(DenseOptimizerKind kind, double weightDecay, double clipNorm)
    {
        // On CUDA the optimizer is compiled into the graph and the runner reads and writes parameters and optimizer state
        // through copy sessions, never through spans; on the CPU the gradient step runs and the host's fused pass updates
        // flat buffers. The staged mode runs the CUDA code on the CPU: both must agree after odd and even step counts (the
        // ping-pong sets swap), through SetParameter, SetState and a reset. Two implementations of one update, so to float
        // rounding (the clipping norm is summed in double on the host, in float in the graph), not bit for bit.
        var spec = new MultiTaskSpec { FieldRows = [30, 40], EmbeddingDim = 4, DenseSize = 3 };
        var compiled = TrainStepCompiler.Compile(SharedBottom.Create(spec, [8], [4]), new DenseOptimizerOptions { Kind = kind, WeightDecay = weightDecay, ClipNorm = clipNorm });
        var options = new RuntimeOptions { Device = ExecutionDevice.Cpu, Threads = 2 };
        using var host = new TrainStepRunner(compiled, 32, options);
        using var staged = new TrainStepRunner(compiled, 32, options, stageThroughSessions: true);
        var parameters = compiled.Definition.Parameters;
        var states = compiled.Optimizer.StateNames;
        static void Close(float[] expected, float[] actual, string what)
        {
            Assert.AreEqual(expected.Length, actual.Length, what);
            for (int i = 0; i < expected.Length; i++) Assert.AreEqual(expected[i], actual[i], 1e-5 + 1e-4 * Math.Abs(expected[i]), $"{what}[{i}]");
        }
        void AssertSame(string when)
        {
            foreach (var p in parameters)
            {
                Close(staged.GetParameter(p.Name), host.GetParameter(p.Name), $"{p.Name} {when}");
                foreach (var state in states) Close(staged.GetState(p.Name, state), host.GetState(p.Name, state), $"{p.Name}.{state} {when}");
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
            Assert.AreEqual(staged.Loss, host.Loss, 1e-5, $"loss at step {step}");
            Close(staged.EmbeddingGradient(MultiTaskInputs.Embeddings), host.EmbeddingGradient(MultiTaskInputs.Embeddings), $"embedding gradient at step {step}");
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
        CollectionAssert.AreEqual(values, host.GetParameter(parameters[0].Name));
        if (states.Length > 0)
        {
            var state = values.Select(v => v * v).ToArray();
            host.SetState(parameters[0].Name, states[0], state);
            staged.SetState(parameters[0].Name, states[0], state);
            CollectionAssert.AreEqual(state, host.GetState(parameters[0].Name, states[0]));
        }
        Step(6);
        AssertSame("after SetParameter, SetState and a step");

        foreach (var runner in new[] { host, staged })
        {
            runner.ResetParameters();
            foreach (var p in parameters)
            {
                CollectionAssert.AreEqual(p.Initial, runner.GetParameter(p.Name), p.Name);
                foreach (var state in states) Assert.IsTrue(runner.GetState(p.Name, state).All(v => v == 0), $"{p.Name}.{state} cleared");
            }
        }
    }

    [TestMethod]
    public void TheHostOptimizerGivesTheSameBitsWithAnyNumberOfWorkers()
    {
        // Split by element range, with the clipping norm summed per fixed chunk: 1 worker and 3 workers agree to the bit,
        // over more values than two norm chunks.
        const int size = 40_000;
        var rng = new Random(7);
        var start = Enumerable.Range(0, size).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var grads = Enumerable.Range(0, 3).Select(_ => Enumerable.Range(0, size).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray()).ToArray();
        (float[] Parameters, float[][] State) Run(int workers)
        {
            var options = new DenseOptimizerOptions { Kind = DenseOptimizerKind.AdamW, WeightDecay = 0.01, ClipNorm = 3 };
            var (p, g, state) = ((float[])start.Clone(), new float[size], new[] { new float[size], new float[size] });
            using var pool = new WorkerPool(workers);
            var optimizer = new HostDenseOptimizer(options, p, g, state, pool);
            for (int step = 1; step <= grads.Length; step++)
            {
                grads[step - 1].CopyTo(g, 0);
                optimizer.Step(0.01f, step);
            }
            return (p, state);
        }
        var (one, oneState) = Run(1);
        var (three, threeState) = Run(3);
        CollectionAssert.AreEqual(one, three);
        CollectionAssert.AreEqual(oneState[0], threeState[0]);
        CollectionAssert.AreEqual(oneState[1], threeState[1]);
        Assert.AreNotEqual(start[size - 1], one[size - 1], "the last vector was updated");
        using var single = new WorkerPool(1);
        Assert.Throws<ArgumentException>(() => new HostDenseOptimizer(new DenseOptimizerOptions(), new float[17], new float[17], [new float[17], new float[17]], single));
    }

    [TestMethod]
    public void AScalarMeetingAColumnTakesItsRankAndTheUnreadRankZeroConstantIsNotWritten()
    {
        // ONNX Runtime broadcasts a lower-rank operand against [N, 1] one element at a time; the builder gives the scalar the
        // column's rank: a [1, 1] constant for a declared scalar, a Reshape for a computed one. A scalar meeting a scalar stays rank 0.
        var g = new GraphBuilder();
        var x = g.Input("x", -1, 1);
        var three = g.Scalar(3);
        var total = g.Sum(x);
        g.Output(g.Sub(g.Mul(x, three), total), "y");
        g.Output(g.Add(total, g.Scalar(1)), "t");
        var model = g.ToModel();
        var constants = model.Graph.Node
            .Where(n => n.OpType == "Constant" && n.Attribute.Single().T.DataType == (int)Onnx.TensorProto.Types.DataType.Float)
            .ToDictionary(n => n.Attribute.Single().T.FloatData.Single(), n => n.Attribute.Single().T.Dims.ToArray());
        CollectionAssert.AreEqual(new long[] { 1, 1 }, constants[3f]);
        CollectionAssert.AreEqual(Array.Empty<long>(), constants[1f]);
        Assert.AreEqual(2, constants.Count, "the rank-0 3 is read by no node and must not be written");
        Assert.AreEqual(1, model.Graph.Node.Count(n => n.OpType == "Reshape"));
        using var runner = new GraphRunner(Google.Protobuf.MessageExtensions.ToByteArray(model));
        var outputs = runner.Run(new Dictionary<string, (Array, long[])> { ["x"] = (new float[] { 1, -2, 4 }, [3, 1]) });
        CollectionAssert.AreEqual(new float[] { 3 - 3, -6 - 3, 12 - 3 }, (float[])outputs["y"].Data);
        CollectionAssert.AreEqual(new long[] { 3, 1 }, outputs["y"].Shape);
        CollectionAssert.AreEqual(new float[] { 4 }, (float[])outputs["t"].Data);
        CollectionAssert.AreEqual(Array.Empty<long>(), outputs["t"].Shape);
    }

    [TestMethod]
    public void AGradientSumOfMatrixProductsAccumulatesInTheirCNotInAdds()
    {
        // x feeds two products; d/dx = G1 W1^T + G2 W2^T: the second product takes the first as its C, with no Add kernel.
        var g = new GraphBuilder();
        var x = g.Input("x", -1, 3);
        var w1 = g.Initializer("w1", [3, 2], new float[] { 1, 2, 3, 4, 5, 6 });
        var w2 = g.Initializer("w2", [3, 2], new float[] { -1, 0, 2, 1, 0, 3 });
        var loss = g.Sum(g.Mul(g.Gemm(x, w1, null), g.Gemm(x, w2, null)));
        var forward = g.Nodes.Count;
        var dx = Autodiff.Gradients(loss, x)[0];
        g.Output(dx, "dx");
        var backward = g.Nodes.Skip(forward).ToArray();
        Assert.AreEqual(0, backward.Count(n => n.OpType == "Add"));
        Assert.AreEqual(3, dx.Producer!.Inputs.Length, "the input gradient is a Gemm with a C");
        using var runner = new GraphRunner(g.ToBytes());
        var xs = new float[] { 1, -1, 2, 0.5f, 3, -2 };
        var got = (float[])runner.Run(new Dictionary<string, (Array, long[])> { ["x"] = (xs, [2, 3]) })["dx"].Data;
        // By hand: y1 = x w1, y2 = x w2, L = sum(y1 * y2); dL/dx = y2 w1^T + y1 w2^T.
        float[] W1 = [1, 2, 3, 4, 5, 6], W2 = [-1, 0, 2, 1, 0, 3];
        var expected = new float[6];
        for (int r = 0; r < 2; r++)
            for (int c = 0; c < 2; c++)
            {
                float y1 = 0, y2 = 0;
                for (int k = 0; k < 3; k++) { y1 += xs[r * 3 + k] * W1[k * 2 + c]; y2 += xs[r * 3 + k] * W2[k * 2 + c]; }
                for (int k = 0; k < 3; k++) expected[r * 3 + k] += y2 * W1[k * 2 + c] + y1 * W2[k * 2 + c];
            }
        for (int i = 0; i < 6; i++) Assert.AreEqual(expected[i], got[i], 1e-5f);
    }

    [TestMethod]
    public void GraphOutputsAreRenamedNodeResultsNotCopies()
    {
        // A node's result leaves the graph under the output's name with no Identity kernel (and copy) per step; a graph
        // input, and a value already output under another name, still need one.
        var g = new GraphBuilder();
        var x = g.Input("x", 2);
        var square = g.Mul(x, x);
        g.Output(square, "square");
        g.Output(g.Add(square, x), "sum");
        g.Output(square, "again");
        g.Output(x, "echo");
        var model = g.ToModel();
        Assert.AreEqual(2, model.Graph.Node.Count(n => n.OpType == "Identity"));
        Assert.AreEqual("square", model.Graph.Node.Single(n => n.OpType == "Mul").Output.Single());
        CollectionAssert.Contains(model.Graph.Node.Single(n => n.OpType == "Add").Input.ToArray(), "square");
        using var runner = new GraphRunner(Google.Protobuf.MessageExtensions.ToByteArray(model));
        var outputs = runner.Run(new Dictionary<string, (Array, long[])> { ["x"] = (new float[] { 3, -2 }, [2]) });
        CollectionAssert.AreEqual(new float[] { 9, 4 }, (float[])outputs["square"].Data);
        CollectionAssert.AreEqual(new float[] { 12, 2 }, (float[])outputs["sum"].Data);
        CollectionAssert.AreEqual(new float[] { 9, 4 }, (float[])outputs["again"].Data);
        CollectionAssert.AreEqual(new float[] { 3, -2 }, (float[])outputs["echo"].Data);
    }

    [TestMethod]
    public void TheProfileIsWrittenUnderTheGivenPrefix()
    {
        // ONNX Runtime takes the prefix when profiling is switched on: set afterwards, it was ignored and the profile landed
        // in the working directory under the default name.
        string folder = Directory.CreateTempSubdirectory("rec-profile-").FullName;
        try
        {
            var compiled = TrainStepCompiler.Compile(SharedBottom.Create(new MultiTaskSpec { FieldRows = [3], EmbeddingDim = 2 }, [4], [2]));
            string file;
            using (var runner = new TrainStepRunner(compiled, 4, new RuntimeOptions { Device = ExecutionDevice.Cpu, Threads = 1, ProfilePrefix = Path.Combine(folder, "step") }))
            {
                runner.Step(0.01f);
                file = Path.GetFullPath(runner.EndProfiling());
            }
            StringAssert.StartsWith(file, Path.Combine(folder, "step"));
            StringAssert.Contains(File.ReadAllText(file), "_kernel_time");
        }
        finally { Directory.Delete(folder, recursive: true); }
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

    [TestMethod]
    public void SpinningChangesHowThreadsWaitNotWhatTheyComputeAndAResumeMayChangeIt()
    {
        // Two ONNX Runtime threads, spinning or blocking between kernels: the same model to the bit.
        var (train, test) = PairwiseClicks.Make(6, 9, _ => (a, b) => a == b ? 1 : -1);
        int[] rows = [7, 7, 7];
        static MultiTaskTrainerOptions Options(bool spinning)
        {
            var o = PairwiseClicks.Options(FeatureInteractions.None);
            (o.Threads, o.AllowSpinning) = (2, spinning);
            return o;
        }
        var spinning = MultiTaskTrainer.Train(train, test, rows, Options(true));
        var blocking = MultiTaskTrainer.Train(train, test, rows, Options(false));
        CollectionAssert.AreEqual(spinning.Predict(test)["PCtr"], blocking.Predict(test)["PCtr"]);
        // So it is not part of what makes the job the job: a run checkpointed spinning may resume with --no-spinning.
        Assert.AreEqual(MultiTaskTrainer.Fingerprint(Options(true), train, test, rows).ToJson(),
            MultiTaskTrainer.Fingerprint(Options(false), train, test, rows).ToJson());
    }
}
