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
}
