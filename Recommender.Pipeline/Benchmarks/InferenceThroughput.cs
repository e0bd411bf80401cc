using System.Diagnostics;
using Recommender.Trainers.Runtime;

namespace Recommender.Pipeline.Benchmarks;

/// <summary>A standalone model's inference alone: full batches already in memory (ids 1..2, dense values in [0, 1)), rows per second over 3 s.</summary>
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
        var clock = Stopwatch.StartNew();
        int batches = 0;
        while (clock.Elapsed.TotalSeconds < 3) { inference.Run(); batches++; }
        return batches * (double)BatchedInference.DefaultBatchSize / clock.Elapsed.TotalSeconds;
    }
}
