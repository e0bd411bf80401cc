using Prometheus;

namespace Recommender.Pipeline.Serving;

/// <summary>
/// The service's metrics: Prometheus collectors in a registry of this service's own (not the process-wide default,
/// so two services in one process, as in tests, do not share counters), and a short window of recent requests for
/// the status page's live QPS and latency percentiles.
/// </summary>
public sealed class ServingMetrics
{
    private readonly object _window = new();
    private readonly Queue<(long Ticks, string Endpoint, double Seconds)> _recent = new();
    private static readonly long WindowTicks = TimeSpan.FromSeconds(10).Ticks;

    /// <summary>Creates the collectors.</summary>
    public ServingMetrics()
    {
        Registry = Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(Registry);
        Requests = factory.CreateCounter("recommender_requests_total", "Requests answered, by endpoint and status code", "endpoint", "code");
        Latency = factory.CreateHistogram("recommender_request_duration_seconds", "Request latency, by endpoint", new HistogramConfiguration
        {
            LabelNames = ["endpoint"], Buckets = Histogram.ExponentialBuckets(0.00025, 2, 16),
        });
        BatchRows = factory.CreateHistogram("recommender_batch_rows", "Rows per ONNX Runtime run (micro-batches)", new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(1, 2, 12) });
        QueueDepth = factory.CreateGauge("recommender_batch_queue_depth", "Requests waiting for the micro-batcher");
        InFlight = factory.CreateGauge("recommender_requests_in_flight", "Requests being worked on");
        ModelInfo = factory.CreateGauge("recommender_model_info", "The model version served (value 1)", "version");
        Reloads = factory.CreateCounter("recommender_model_reloads_total", "Model versions swapped in");
        ReloadFailures = factory.CreateCounter("recommender_model_reload_failures_total", "Model versions that failed to load (the old one kept serving)");
        Feedback = factory.CreateCounter("recommender_feedback_events_total", "Feedback events, by event and result", "event", "result");
        Impressions = factory.CreateCounter("recommender_impressions_logged_total", "Impressions written to the log");
    }

    /// <summary>Requests under the concurrency cap now (this service's own count).</summary>
    internal int Working;

    /// <summary>The registry /metrics exports.</summary>
    public CollectorRegistry Registry { get; }
    /// <summary>Requests by endpoint and code.</summary>
    public Counter Requests { get; }
    /// <summary>Latency by endpoint.</summary>
    public Histogram Latency { get; }
    /// <summary>Rows per run.</summary>
    public Histogram BatchRows { get; }
    /// <summary>Queue depth (set before each collection).</summary>
    public Gauge QueueDepth { get; }
    /// <summary>Requests in flight.</summary>
    public Gauge InFlight { get; }
    /// <summary>model_info{version}.</summary>
    public Gauge ModelInfo { get; }
    /// <summary>Swaps.</summary>
    public Counter Reloads { get; }
    /// <summary>Failed loads.</summary>
    public Counter ReloadFailures { get; }
    /// <summary>Feedback events.</summary>
    public Counter Feedback { get; }
    /// <summary>Impressions logged.</summary>
    public Counter Impressions { get; }

    /// <summary>Records one answered request.</summary>
    public void Observe(string endpoint, int status, double seconds)
    {
        Requests.WithLabels(endpoint, status.ToString(System.Globalization.CultureInfo.InvariantCulture)).Inc();
        Latency.WithLabels(endpoint).Observe(seconds);
        long now = DateTime.UtcNow.Ticks;
        lock (_window)
        {
            _recent.Enqueue((now, endpoint, seconds));
            while (_recent.Count > 0 && (now - _recent.Peek().Ticks > WindowTicks || _recent.Count > 100_000)) _recent.Dequeue();
        }
    }

    /// <summary>Points model_info at <paramref name="version"/>.</summary>
    public void SetVersion(string version)
    {
        foreach (var labels in ModelInfo.GetAllLabelValues().ToList()) ModelInfo.RemoveLabelled(labels);
        ModelInfo.WithLabels(version).Set(1);
    }

    /// <summary>Per endpoint over the last 10 s: requests per second and latency percentiles (ms).</summary>
    public Dictionary<string, (double Qps, double P50, double P95, double P99)> Recent()
    {
        long now = DateTime.UtcNow.Ticks;
        List<(long Ticks, string Endpoint, double Seconds)> copy;
        lock (_window) copy = _recent.Where(r => now - r.Ticks <= WindowTicks).ToList();
        return copy.GroupBy(r => r.Endpoint).ToDictionary(g => g.Key, g =>
        {
            var ms = g.Select(r => r.Seconds * 1000).Order().ToArray();
            double At(double q) => ms[Math.Min(ms.Length - 1, (int)Math.Ceiling(q * ms.Length) - 1)];
            return (ms.Length / 10.0, At(0.5), At(0.95), At(0.99));
        });
    }
}
