using Microsoft.Extensions.Logging;
using Recommender.Pipeline.Lifecycle;

namespace Recommender.Pipeline.Serving;

/// <summary>
/// Holds the model being served and swaps versions. It watches a registry's <c>current</c> pointer (and reloads on
/// request): the new version is opened, verified and warmed beside the old one, then swapped in with one
/// reference exchange; requests that hold a lease on the old one finish on it, and it is disposed when the last
/// lease is returned. A version that fails to load is logged and counted, and the old one keeps serving.
/// </summary>
public sealed class ModelHost : IDisposable
{
    private readonly ServingOptions _options;
    private readonly ServingMetrics _metrics;
    private readonly ILogger _log;
    private readonly object _reload = new();
    private readonly Timer? _watch;
    private ServedModel _current;

    /// <summary>Loads the first version (a failure here is the caller's: the service does not start).</summary>
    public ModelHost(ServingOptions options, ServingMetrics metrics, ILogger log)
    {
        _options = options;
        _metrics = metrics;
        _log = log;
        _current = ServedModel.Load(Resolve(), options, rows => metrics.BatchRows.Observe(rows));
        metrics.SetVersion(_current.Version);
        metrics.Registry.AddBeforeCollectCallback(() => metrics.QueueDepth.Set(Volatile.Read(ref _current).Batcher.QueueDepth));
        if (options.Watch && ModelRegistry.IsRegistry(options.Model))
            _watch = new Timer(_ => Reload(), null, options.ReloadIntervalMilliseconds, options.ReloadIntervalMilliseconds);
    }

    private long _requests;

    /// <summary>A number per request, in arrival order (seeds the exploration policy's choices).</summary>
    public long NextRequestNumber() => Interlocked.Increment(ref _requests);

    /// <summary>The version served now.</summary>
    public ServedModel Current => Volatile.Read(ref _current);

    /// <summary>The last load failure, if the newest version could not be served.</summary>
    public string? LastError { get; private set; }

    /// <summary>A leased model; release it when the request is done.</summary>
    public ServedModel Acquire()
    {
        while (true)
        {
            var model = Volatile.Read(ref _current);
            if (model.TryAcquire()) return model;
        }
    }

    // The folder to serve: the registry's current version, or the fixed bundle.
    private string Resolve() => ModelRegistry.IsRegistry(_options.Model) ? new ModelRegistry(_options.Model).PathOf() : _options.Model;

    /// <summary>Loads the registry's current version if it is not the one served; returns the version served afterwards and whether it changed.</summary>
    public (bool Changed, string Version, string? Error) Reload()
    {
        lock (_reload)
        {
            string target;
            try { target = Path.GetFullPath(Resolve()); }
            catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException) { return Failed(e); }
            if (target == Current.Bundle.Directory) return (false, Current.Version, null);
            ServedModel next;
            try { next = ServedModel.Load(target, _options, rows => _metrics.BatchRows.Observe(rows)); }
            catch (Exception e) { return Failed(e); }
            var old = Interlocked.Exchange(ref _current, next);
            old.Release(); // the host's own lease: disposed once the requests on it are done
            LastError = null;
            _metrics.Reloads.Inc();
            _metrics.SetVersion(next.Version);
            _log.LogInformation("serving {Version} ({Directory}), was {Old}", next.Version, next.Bundle.Directory, old.Version);
            return (true, next.Version, null);
        }
    }

    private (bool, string, string?) Failed(Exception e)
    {
        string message = e.Message.Split('\n')[0];
        if (LastError != message)
        {
            _metrics.ReloadFailures.Inc();
            _log.LogError("a new model version failed to load; {Version} keeps serving: {Error}", Current.Version, message);
        }
        LastError = message;
        return (false, Current.Version, message);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _watch?.Dispose();
        lock (_reload) Current.Release();
    }
}
