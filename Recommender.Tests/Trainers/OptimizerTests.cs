using Recommender.Trainers.Compilation;
using Recommender.Trainers.Graph;
using Recommender.Trainers.Runtime;

namespace Recommender.Tests.Trainers;

[TestClass]
public sealed class OptimizerTests
{
    // loss = sum(x * w) over the batch: the gradient of w is the column sum of x.
    private static ModelDefinition Linear(float[] w0) => new()
    {
        Parameters = [new ParameterSpec("w", [w0.Length], w0)],
        Inputs = [new BatchInputSpec("x", [w0.Length], BatchInputKind.Feature)],
        Forward = (g, inputs, p, training) =>
        {
            var y = g.Mul(inputs["x"], p["w"]);
            return new ModelOutputs(new Dictionary<string, Value> { ["y"] = y }, training ? g.Sum(y) : null, new Dictionary<string, Value>());
        },
    };

    private static readonly float[] W0 = [0.5f, -1.0f, 2.0f];
    private static readonly float[][] Grads = [[0.1f, -0.3f, 2.0f], [0.4f, 0.0f, -1.0f], [-0.2f, 0.5f, 0.3f]];
    private static readonly float[] Rates = [0.1f, 0.05f, 0.02f];

    // Every closed form is checked twice: against the host's fused update (the CPU runner) and against the update compiled into
    // the graph (the CUDA runner, run on the CPU through its copy sessions).
    private static float[] Run(DenseOptimizerOptions options, bool inGraph)
    {
        using var runner = new TrainStepRunner(TrainStepCompiler.Compile(Linear(W0), options), batchSize: 1, new RuntimeOptions { Device = ExecutionDevice.Cpu }, stageThroughSessions: inGraph);
        for (int s = 0; s < Grads.Length; s++)
        {
            Grads[s].CopyTo(runner.Input("x"), 0);
            runner.Step(Rates[s]);
        }
        return runner.GetParameter("w");
    }

    // torch.optim.Adam (L2 added to the gradient) or AdamW (decoupled: p *= 1 - lr * wd first), in double.
    private static double ExpectedAdam(int i, double wd, bool decoupled)
    {
        const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
        double w = W0[i], m = 0, v = 0;
        for (int t = 1; t <= Grads.Length; t++)
        {
            double lr = Rates[t - 1], g = Grads[t - 1][i];
            if (decoupled) w *= 1 - lr * wd; else g += wd * w;
            m = b1 * m + (1 - b1) * g;
            v = b2 * v + (1 - b2) * g * g;
            w -= lr * (m / (1 - Math.Pow(b1, t))) / (Math.Sqrt(v / (1 - Math.Pow(b2, t))) + eps);
        }
        return w;
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public void AdamMatchesItsClosedForm(bool inGraph)
    {
        var actual = Run(new DenseOptimizerOptions { Kind = DenseOptimizerKind.Adam, WeightDecay = 0.01 }, inGraph);
        for (int i = 0; i < W0.Length; i++) Assert.AreEqual(ExpectedAdam(i, 0.01, decoupled: false), actual[i], 2e-6, $"w[{i}]");
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public void AdamWDecaysDecoupled(bool inGraph)
    {
        var actual = Run(new DenseOptimizerOptions { Kind = DenseOptimizerKind.AdamW, WeightDecay = 0.1 }, inGraph);
        for (int i = 0; i < W0.Length; i++) Assert.AreEqual(ExpectedAdam(i, 0.1, decoupled: true), actual[i], 2e-6, $"w[{i}]");
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public void SgdWithMomentumMatchesItsClosedForm(bool inGraph)
    {
        var actual = Run(new DenseOptimizerOptions { Kind = DenseOptimizerKind.Sgd, Momentum = 0.9 }, inGraph);
        for (int i = 0; i < W0.Length; i++)
        {
            double w = W0[i], buf = 0;
            for (int t = 0; t < Grads.Length; t++)
            {
                buf = 0.9 * buf + Grads[t][i];
                w -= Rates[t] * buf;
            }
            Assert.AreEqual(w, actual[i], 1e-6, $"w[{i}]");
        }
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public void ClippingScalesToTheGlobalNorm(bool inGraph)
    {
        // One SGD step without momentum: w1 = w0 - lr * g * min(1, c / |g|).
        var options = new DenseOptimizerOptions { Kind = DenseOptimizerKind.Sgd, Momentum = 0, ClipNorm = 0.5 };
        using var runner = new TrainStepRunner(TrainStepCompiler.Compile(Linear(W0), options), 1, new RuntimeOptions { Device = ExecutionDevice.Cpu }, stageThroughSessions: inGraph);
        float[] g = [3, 0, 4]; // norm 5
        g.CopyTo(runner.Input("x"), 0);
        runner.Step(1f);
        var w = runner.GetParameter("w");
        for (int i = 0; i < 3; i++) Assert.AreEqual(W0[i] - g[i] * 0.5 / (5 + 1e-6), w[i], 1e-6);
    }
}
