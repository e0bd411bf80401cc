using Recommender.Trainers.Graph;
using Recommender.Trainers.Runtime;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Recommender.Tests.Trainers;

/// <summary>
/// Float64 finite-difference checks: the loss sum(f(x) * r) with random r, its analytic gradient from
/// <see cref="Autodiff"/>, and central differences of the same graph run by ONNX Runtime.
/// </summary>
internal static class GradientCheck
{
    public static double LargestRelativeError;

    /// <summary>A check input: a shape (use -1 for a run-time dimension, with the concrete size in <paramref name="Concrete"/>) and its values.</summary>
    public sealed record Input(long[] Shape, double[] Values, long[]? Concrete = null, bool Differentiable = true, DataType Type = DataType.Double);

    public static Input Random(Random rng, long[] shape, double low = -1, double high = 1, long[]? concrete = null)
    {
        long n = (concrete ?? shape).Aggregate(1L, (a, b) => a * b);
        return new Input(shape, Enumerable.Range(0, (int)n).Select(_ => low + (high - low) * rng.NextDouble()).ToArray(), concrete);
    }

    /// <summary>Checks the gradient of every differentiable input; returns the largest relative error.</summary>
    public static double Check(Func<GraphBuilder, Value[], Value> f, params Input[] inputs)
    {
        var g = new GraphBuilder(DataType.Double);
        var xs = inputs.Select((x, i) => g.Input($"x{i}", x.Shape, x.Type)).ToArray();
        var y = f(g, xs);
        var r = g.Input("r", y.Shape);
        var loss = g.Output(g.Sum(g.Mul(y, r)), "loss");
        var wrt = xs.Where((_, i) => inputs[i].Differentiable).ToArray();
        var grads = Autodiff.Gradients(loss, wrt);
        for (int i = 0; i < grads.Length; i++) g.Output(grads[i], $"grad{i}");
        using var runner = new GraphRunner(g.ToBytes(), new RuntimeOptions { Device = ExecutionDevice.Cpu, Threads = 1 });

        var feed = new Dictionary<string, (Array, long[])>();
        for (int i = 0; i < inputs.Length; i++)
        {
            var shape = inputs[i].Concrete ?? inputs[i].Shape;
            feed[$"x{i}"] = inputs[i].Type == DataType.Int64 ? (inputs[i].Values.Select(v => (long)v).ToArray(), shape) : ((Array)inputs[i].Values.ToArray(), shape);
        }
        // The output shape at run time: run once with r of ones? Its size follows from the forward: probe it.
        var probe = new GraphBuilder(DataType.Double);
        var pxs = inputs.Select((x, i) => probe.Input($"x{i}", x.Shape, x.Type)).ToArray();
        probe.Output(f(probe, pxs), "y");
        long[] yShape;
        using (var p = new GraphRunner(probe.ToBytes(), new RuntimeOptions { Device = ExecutionDevice.Cpu, Threads = 1 }))
            yShape = p.Run(feed)["y"].Shape;
        var rng = new Random(12345);
        var rValues = new double[yShape.Aggregate(1L, (a, b) => a * b)];
        for (int i = 0; i < rValues.Length; i++) rValues[i] = rng.NextDouble() * 2 - 1;
        feed["r"] = (rValues, yShape);

        var analytic = runner.Run(feed);
        double worst = 0;
        int gi = 0;
        for (int i = 0; i < inputs.Length; i++)
        {
            if (!inputs[i].Differentiable) continue;
            var grad = (double[])analytic[$"grad{gi++}"].Data;
            var values = (double[])feed[$"x{i}"].Item1;
            Assert.AreEqual(values.Length, grad.Length, $"gradient of x{i} has the wrong size");
            for (int j = 0; j < values.Length; j++)
            {
                double saved = values[j];
                double eps = 1e-6 * Math.Max(1, Math.Abs(saved));
                values[j] = saved + eps;
                double up = ((double[])runner.Run(feed, "loss")["loss"].Data)[0];
                values[j] = saved - eps;
                double down = ((double[])runner.Run(feed, "loss")["loss"].Data)[0];
                values[j] = saved;
                double numeric = (up - down) / (2 * eps);
                double error = Math.Abs(numeric - grad[j]) / Math.Max(Math.Max(Math.Abs(numeric), Math.Abs(grad[j])), 1e-3);
                worst = Math.Max(worst, error);
                Assert.IsTrue(error < 1e-5, $"x{i}[{j}]: analytic {grad[j]:G10} vs numeric {numeric:G10} (relative error {error:G3})");
            }
        }
        lock (typeof(GradientCheck)) LargestRelativeError = Math.Max(LargestRelativeError, worst);
        return worst;
    }
}
