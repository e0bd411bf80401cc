using System.Diagnostics;
using Recommender.Trainers.Compilation;
using Recommender.Trainers.Evaluation;
using Recommender.Trainers.Graph;
using Recommender.Trainers.Network;
using Recommender.Trainers.Runtime;
using Recommender.Trainers.Training;

namespace Recommender.Pipeline.Benchmarks;

/// <summary>What a benchmark reports of the machine it ran on (figures move with the CPU).</summary>
public static class MachineInfo
{
    /// <summary>The CPU's model name, from /proc/cpuinfo ("unknown" elsewhere).</summary>
    public static string CpuModel()
    {
        try { return File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"))?.Split(':', 2)[1].Trim() ?? "unknown"; }
        catch (IOException) { return "unknown"; }
    }

    /// <summary>
    /// The machine's own SGEMM rate in GFLOP/s, through the same runtime as the engine: one ONNX Runtime MatMul of two
    /// <paramref name="n"/> x <paramref name="n"/> float matrices on <paramref name="threads"/> threads, the median of 7 runs
    /// after a warm-up. The reference a training figure is divided by, so that runs on different CPUs compare.
    /// </summary>
    public static double SgemmGflops(int threads, int n = 1024)
    {
        var g = new GraphBuilder();
        g.Output(g.MatMul(g.Input("a", n, n), g.Input("b", n, n)), "c");
        using var runner = new GraphRunner(g.ToBytes("sgemm"), new RuntimeOptions { Device = ExecutionDevice.Cpu, Threads = threads });
        var rng = new Random(1);
        var a = Enumerable.Range(0, n * n).Select(_ => (float)rng.NextDouble()).ToArray();
        var feed = new Dictionary<string, (Array, long[])> { ["a"] = (a, [n, n]), ["b"] = (a, [n, n]) };
        runner.Run(feed);
        var seconds = Enumerable.Range(0, 7).Select(_ => { var clock = Stopwatch.StartNew(); runner.Run(feed); return clock.Elapsed.TotalSeconds; }).Order().ToArray();
        return 2.0 * n * n * n / seconds[3] / 1e9;
    }

    /// <summary>
    /// The share of <paramref name="data"/>'s rows each task runs its own part of the network on in training, for the tasks
    /// that run it on their defined rows (<see cref="TaskHeads.RunsOnDefinedRows"/>): its label there and its chain's labels 1.
    /// </summary>
    public static Dictionary<string, double> DefinedRowShares(IReadOnlyList<TaskDefinition> tasks, bool entireSpace, FeatureMatrix data)
    {
        var labels = Enumerable.Range(0, tasks.Count).Where(data.HasLabel).ToDictionary(t => tasks[t].Name, data.LabelColumn);
        var (defined, _) = MultiTaskMetrics.Domains(tasks, labels);
        return tasks.Where(t => TaskHeads.RunsOnDefinedRows(t, entireSpace))
            .ToDictionary(t => t.Name, t => defined.TryGetValue(t.Name, out var rows) ? rows.Count(d => d) / (double)data.Rows : 0);
    }

    /// <summary>
    /// Floating-point operations of one train step per sample of a multi-task network, from its dense layers (the 2-D
    /// weights): 2 per multiply-add forward, twice that backward (the input's and the weight's gradients), so 6 per weight
    /// element, a task's tower and MMoE gate counted for the <paramref name="shares"/> of the rows they run on
    /// (<see cref="DefinedRowShares"/>); activations, losses and the optimizer are left out.
    /// </summary>
    public static double TrainFlopsPerSample(ModelDefinition model, IReadOnlyDictionary<string, double> shares)
    {
        double Share(string parameter) =>
            shares.FirstOrDefault(s => parameter.StartsWith($"tower_{s.Key}.", StringComparison.Ordinal) || parameter.StartsWith($"gate_{s.Key}.", StringComparison.Ordinal),
                new(parameter, 1)).Value;
        return 6.0 * model.Parameters.Where(p => p.Shape.Length == 2).Sum(p => p.Size * Share(p.Name));
    }
}
