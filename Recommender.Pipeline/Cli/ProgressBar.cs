using System.Diagnostics;

namespace Recommender.Pipeline.Cli;

/// <summary>
/// A progress bar on stderr with rate and ETA. It stays silent for the first second so quick commands
/// print nothing; on a terminal it redraws in place, otherwise it writes a line every few seconds.
/// </summary>
public sealed class ProgressBar : IDisposable
{
    private readonly string _label;
    private readonly string _unit;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly bool _interactive = !Console.IsErrorRedirected;
    private TimeSpan _lastDraw = TimeSpan.Zero;
    private bool _drawn;
    private long _done, _total;

    /// <summary>Starts a bar; <paramref name="unit"/> names what is counted (rows, steps).</summary>
    public ProgressBar(string label, string unit = "rows")
    {
        _label = label;
        _unit = unit;
    }

    /// <summary>Global switch for tests and <c>--quiet</c>.</summary>
    public static bool Enabled { get; set; } = true;

    /// <summary>Reports progress; <paramref name="total"/> 0 means unknown.</summary>
    public void Report(long done, long total = 0)
    {
        _done = done;
        _total = total;
        var now = _clock.Elapsed;
        if (!Enabled || now.TotalSeconds < 1) return;
        if (now - _lastDraw < (_interactive ? TimeSpan.FromMilliseconds(200) : TimeSpan.FromSeconds(5))) return;
        _lastDraw = now;
        Draw(now);
    }

    private void Draw(TimeSpan now)
    {
        double rate = _done / Math.Max(now.TotalSeconds, 1e-9);
        string text;
        if (_total > 0)
        {
            double fraction = Math.Clamp(_done / (double)_total, 0, 1);
            int width = 30, filled = (int)(fraction * width);
            var eta = rate > 0 ? TimeSpan.FromSeconds((_total - _done) / rate) : TimeSpan.Zero;
            text = $"{_label} [{new string('#', filled)}{new string('-', width - filled)}] {fraction,6:P1} {_done:N0}/{_total:N0} {_unit} {rate:N0}/s ETA {eta:mm\\:ss}";
        }
        else
        {
            text = $"{_label} {_done:N0} {_unit} {rate:N0}/s {now:mm\\:ss}";
        }
        if (_interactive) Console.Error.Write("\r" + text.PadRight(Math.Min(Console.BufferWidth > 0 ? Console.BufferWidth - 1 : 120, 160)));
        else Console.Error.WriteLine(text);
        _drawn = true;
    }

    /// <summary>Draws the final state (if the bar was ever shown) and ends the line.</summary>
    public void Dispose()
    {
        if (!_drawn || !Enabled) return;
        Draw(_clock.Elapsed);
        if (_interactive) Console.Error.WriteLine();
    }
}
