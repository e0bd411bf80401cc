namespace Recommender.Trainers;

/// <summary>
/// Named points where a test can have the process killed outright (SIGKILL, as a crash or <c>kill -9</c> would):
/// set <c>RECOMMENDER_FAULT=name</c> to die at the first pass through that point, or <c>name#n</c> at the n-th.
/// The fault-injection tests use it to prove that every step of publishing and scoring leaves a recoverable state.
/// Read once per process; without the variable a point costs one comparison.
/// </summary>
public static class FaultInjection
{
    private static readonly (string Name, int Hit)? Target = Parse(Environment.GetEnvironmentVariable("RECOMMENDER_FAULT"));
    private static int _hits;

    private static (string, int)? Parse(string? value)
    {
        if (string.IsNullOrEmpty(value)) return null;
        int hash = value.IndexOf('#');
        return hash < 0 ? (value, 1) : (value[..hash], int.Parse(value[(hash + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Dies here if this is the point (and pass) the environment names.</summary>
    public static void Point(string name)
    {
        if (Target is not { } t || t.Name != name) return;
        if (Interlocked.Increment(ref _hits) != t.Hit) return;
        Console.Error.Flush();
        System.Diagnostics.Process.GetCurrentProcess().Kill();
        Thread.Sleep(Timeout.Infinite);
    }
}
