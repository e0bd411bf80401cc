using Recommender.Pipeline.Data;

namespace Recommender.Pipeline.Lifecycle;

/// <summary>
/// One producer's publication of a bundle into a registry. Created when the job starts, so a second writer of the
/// same registry is refused at once rather than after hours of training: it takes the registry's
/// <see cref="WriterLock"/>, removes what dead writers left, and gives a private staging folder. The job writes its
/// files there; <see cref="Publish"/> writes the manifest last and publishes by one rename plus the
/// <c>current</c> switch. Disposed unpublished (failure, Ctrl-C), the staging folder is deleted; killed, it is left
/// for the next writer to remove, under a name no reader takes for a bundle.
/// </summary>
public sealed class BundlePublisher : IDisposable
{
    private readonly WriterLock _lock;
    private bool _published;

    private BundlePublisher(ModelRegistry registry, WriterLock writerLock, string staging)
    {
        Registry = registry;
        _lock = writerLock;
        Staging = staging;
    }

    /// <summary>The registry published into.</summary>
    public ModelRegistry Registry { get; }
    /// <summary>The private folder the job writes its files into.</summary>
    public string Staging { get; }

    /// <summary>Locks <paramref name="registry"/> and opens a staging folder in it.</summary>
    public static BundlePublisher Begin(string registry, bool wait = false, CancellationToken cancel = default, Action<string>? log = null)
    {
        string root = Path.GetFullPath(registry);
        if (File.Exists(root)) throw new IOException($"{registry}: a file; the output of train is a registry folder");
        if (File.Exists(Path.Combine(root, BundleManifest.FileName)))
            throw new IOException($"{registry}: a published version, which is immutable; give its registry folder ({Path.GetDirectoryName(root)}) to publish a new version");
        if (System.IO.Directory.Exists(root) && !ModelRegistry.IsRegistry(root) && System.IO.Directory.EnumerateFileSystemEntries(root).Any(e => !Path.GetFileName(e).StartsWith('.')))
            throw new IOException($"{registry}: a folder that is not a model registry (it holds other files{(File.Exists(Path.Combine(root, ModelBundle.MetadataFile)) ? ", an unversioned bundle of an older release" : "")}); give a new or empty folder");
        var writerLock = WriterLock.Acquire(root, wait, cancel, log);
        try
        {
            if (writerLock.TookOverFrom is { } dead) log?.Invoke($"took over the lock of PID {dead.Pid} (started {dead.StartedUtc}), which is no longer running");
            var r = new ModelRegistry(root);
            System.IO.Directory.CreateDirectory(root);
            r.RemoveLeftovers();
            return new BundlePublisher(r, writerLock, r.CreateStaging());
        }
        catch
        {
            writerLock.Dispose();
            throw;
        }
    }

    /// <summary>Writes the manifest and publishes the staged files as the registry's next, current version; returns its folder.</summary>
    public string Publish(Dictionary<string, object?> options, SortedDictionary<string, string> data)
    {
        FaultInjection.Point("publish.before-manifest");
        // The manifest names the version it becomes (the lock keeps the next version the next), so a copy under another name is refused.
        BundleManifest.Write(Staging, string.Join(' ', Environment.GetCommandLineArgs().Skip(1)), options, data, Registry.NextVersion());
        FaultInjection.Point("publish.after-manifest");
        string version = Registry.Publish(Staging);
        _published = true;
        return version;
    }

    /// <summary>Deletes the staging folder unless published, and releases the lock.</summary>
    public void Dispose()
    {
        try
        {
            if (!_published && System.IO.Directory.Exists(Staging)) System.IO.Directory.Delete(Staging, recursive: true);
        }
        catch (IOException) { } // the next writer removes it
        finally { _lock.Dispose(); }
    }
}
