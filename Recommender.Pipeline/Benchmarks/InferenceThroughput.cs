using System.Diagnostics;
using Recommender.Trainers.Runtime;

namespace Recommender.Pipeline.Benchmarks;

/// <summary>
/// A standalone model's inference alone: full batches already in memory (ids 1..2, dense values in [0, 1)), rows per second
/// in the best of six half-second windows. On a shared machine a neighbour only ever slows a window down, and one busy
/// second in a single 3-s window moved this figure by a third between two runs; the best window is the least disturbed.
/// The PyTorch reference (tools/torch-reference) measures its inference the same way.
/// </summary>
public static class InferenceThroughput
{
    /// <summary>Rows per second of <paramref name="onnx"/> on batches of <see cref="BatchedInference.DefaultBatchSize"/>.</summary>
    public static double Measure(byte[] onnx, RuntimeOptions runtime)
    {
        using var inference = new BatchedInference(onnx, BatchedInference.DefaultBatchSize, runtime);
        var rng = new Random(1);
        foreach (var name in inference.IdInputNames) { var b = inference.IdInput(name); for (int i = 0; i < b.Length; i++) b[i] = rng.Next(1, 3); }
        foreach (var name in inference.InputNames) { var b = inference.Input(name); for (int i = 0; i < b.Length; i++) b[i] = (float)rng.NextDouble(); }
        inference.Run();
        double best = 0;
        for (int window = 0; window < 6; window++)
        {
            var clock = Stopwatch.StartNew();
            int batches = 0;
            while (clock.Elapsed.TotalSeconds < 0.5) { inference.Run(); batches++; }
            best = Math.Max(best, batches * (double)BatchedInference.DefaultBatchSize / clock.Elapsed.TotalSeconds);
        }
        return best;
    }
}
