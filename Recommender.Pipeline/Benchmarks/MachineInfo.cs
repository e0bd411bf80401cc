using System.Diagnostics;
using Recommender.Trainers.Compilation;
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
    /// Floating-point operations of one train step per sample of a multi-task network trained on <paramref name="data"/>,
    /// from its dense layers (the 2-D weights): 2 per multiply-add forward, twice that backward (the input's and the weight's
    /// gradients), so 6 per weight element, and a task's tower that runs on the rows where the task is defined
    /// (<see cref="TaskHeads.RunsOnDefinedRows"/>) for the share of the rows it runs on; activations, losses and the optimizer
    /// are left out.
    /// </summary>
    public static double TrainFlopsPerSample(ModelDefinition model, IReadOnlyList<TaskDefinition> tasks, bool entireSpace, FeatureMatrix data)
    {
        var share = new Dictionary<string, double>();
        for (int i = 0; i < tasks.Count; i++)
        {
            if (!TaskHeads.RunsOnDefinedRows(tasks[i], entireSpace)) continue;
            var chain = TaskList.Ancestors(tasks, tasks[i]).Select(a => tasks.ToList().IndexOf(a)).ToArray();
            long defined = 0;
            for (int r = 0; r < data.Rows; r++)
            {
                var labels = data.LabelsOf(r);
                bool chainHolds = true;
                foreach (int a in chain) chainHolds &= labels[a] == 1;
                if (chainHolds && labels[tasks.Count + i] == 1) defined++;
            }
            share[$"tower_{tasks[i].Name}."] = defined / (double)data.Rows;
        }
        return 6.0 * model.Parameters.Where(p => p.Shape.Length == 2)
            .Sum(p => p.Size * share.FirstOrDefault(s => p.Name.StartsWith(s.Key, StringComparison.Ordinal), new(p.Name, 1)).Value);
    }
}
