namespace Recommender.Trainers;

/// <summary>
/// Named points where a test can have the process killed outright (SIGKILL, as a crash or <c>kill -9</c> would):
/// set <c>RECOMMENDER_FAULT=name</c> to die at the first pass through that point, or <c>name#n</c> at the n-th.
/// The fault-injection tests use it to prove that every step of publishing and scoring leaves a recoverable state.
/// <c>RECOMMENDER_DELAY=name:ms</c> instead sleeps that long at every pass, so a test can act (signal, kill) while a
/// job is surely in the middle of its work, however fast the machine. Read once per process; without the variables
/// a point costs two comparisons.
/// </summary>
public static class FaultInjection
{
    private static readonly (string Name, int Hit)? Target = Parse(Environment.GetEnvironmentVariable("RECOMMENDER_FAULT"));
    private static readonly (string Name, int Milliseconds)? Delay = ParseDelay(Environment.GetEnvironmentVariable("RECOMMENDER_DELAY"));
    private static int _hits;

    private static (string, int)? ParseDelay(string? value)
    {
        if (string.IsNullOrEmpty(value)) return null;
        int colon = value.LastIndexOf(':');
        return (value[..colon], int.Parse(value[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }

    private static (string, int)? Parse(string? value)
    {
        if (string.IsNullOrEmpty(value)) return null;
        int hash = value.IndexOf('#');
        return hash < 0 ? (value, 1) : (value[..hash], int.Parse(value[(hash + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Dies here if this is the point (and pass) the environment names.</summary>
    public static void Point(string name)
    {
        if (Delay is { } d && d.Name == name) Thread.Sleep(d.Milliseconds);
        if (Target is not { } t || t.Name != name) return;
        if (Interlocked.Increment(ref _hits) != t.Hit) return;
        Console.Error.Flush();
        System.Diagnostics.Process.GetCurrentProcess().Kill();
        Thread.Sleep(Timeout.Infinite);
    }
}
