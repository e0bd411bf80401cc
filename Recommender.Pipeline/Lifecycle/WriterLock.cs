using System.Text.Json;

namespace Recommender.Pipeline.Lifecycle;

/// <summary>
/// An exclusive lock on an output, held for a writer's lifetime: <c>TARGET.lock</c> opened with
/// <see cref="FileShare.None"/> (on Linux an <c>flock</c>, released by the kernel when the holder dies, however it
/// dies), with the holder's PID, start time and command beside it in <c>TARGET.lock.json</c>. A second writer
/// fails at once naming the holder, or waits. A lock file left by a killed process is not held by anyone, so it is
/// simply taken over.
/// </summary>
public sealed class WriterLock : IDisposable
{
    private FileStream? _stream;
    private readonly string _path;

    // Locks held now. A process ended by Environment.Exit (a signal to a command with nothing to keep) releases them on the
    // way out, so its lock files go as they do when a job returns.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<WriterLock, byte> Held = new();

    static WriterLock() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        foreach (var held in Held.Keys) held.Dispose();
    };

    private WriterLock(FileStream stream, string path)
    {
        _stream = stream;
        _path = path;
        Held[this] = 0;
    }

    /// <summary>The holder's record.</summary>
    public sealed record Holder(int Pid, string StartedUtc, string Command);

    /// <summary>What a takeover found: the record of a holder that died without releasing, or null.</summary>
    public Holder? TookOverFrom { get; private init; }

    /// <summary>
    /// Locks <paramref name="target"/> (a file or folder path; the lock files go beside it). Fails with one line naming the
    /// holder, or with <paramref name="wait"/> polls until it is free (or <paramref name="cancel"/> fires).
    /// </summary>
    public static WriterLock Acquire(string target, bool wait, CancellationToken cancel = default, Action<string>? log = null)
    {
        if (BundleManifest.PublishedVersionHolding(target) is { } version)
            throw new IOException($"{target}: inside the published version {version}, which is immutable; write it elsewhere");
        string path = Path.GetFullPath(target).TrimEnd(Path.DirectorySeparatorChar) + ".lock";
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        bool announced = false;
        while (true)
        {
            cancel.ThrowIfCancellationRequested();
            var previous = ReadHolder(path);
            FileStream? stream = null;
            try
            {
                stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1);
            }
            catch (IOException) when (File.Exists(path))
            {
                string who = previous is null ? "another process" : $"PID {previous.Pid} (started {previous.StartedUtc}: {previous.Command})";
                if (!wait) throw new IOException($"{target} is being written by {who}; wait for it to finish, or pass --wait");
                if (!announced) log?.Invoke($"waiting for {who} to release {target}");
                announced = true;
                cancel.WaitHandle.WaitOne(200);
                continue;
            }
            // The previous holder may have deleted the file between our open and our lock: then we hold a lock on
            // a name that no longer exists, and another writer could create and lock a new one. Start again.
            if (IsUnlinked(stream))
            {
                stream.Dispose();
                continue;
            }
            var self = new Holder(Environment.ProcessId, System.Diagnostics.Process.GetCurrentProcess().StartTime.ToUniversalTime().ToString("O"),
                string.Join(' ', Environment.GetCommandLineArgs().Skip(1)));
            AtomicFile.WriteAllText(path + ".json", JsonSerializer.Serialize(self));
            return new WriterLock(stream, path) { TookOverFrom = previous is not null && previous.Pid != Environment.ProcessId ? previous : null };
        }
    }

    private static Holder? ReadHolder(string path)
    {
        try { return JsonSerializer.Deserialize<Holder>(File.ReadAllText(path + ".json")); }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException) { return null; }
    }

    private static bool IsUnlinked(FileStream stream)
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            string link = new FileInfo($"/proc/self/fd/{stream.SafeFileHandle.DangerousGetHandle()}").LinkTarget ?? "";
            return link.EndsWith(" (deleted)", StringComparison.Ordinal);
        }
        catch (IOException) { return false; }
    }

    /// <summary>Releases the lock and removes its files.</summary>
    public void Dispose()
    {
        if (!Held.TryRemove(this, out _) || _stream is null) return;
        // The record goes first, then the lock file while still locked, so no one ever reads a stale record of a live lock.
        try { File.Delete(_path + ".json"); } catch (IOException) { }
        try { File.Delete(_path); } catch (IOException) { }
        _stream.Dispose();
        _stream = null;
    }
}
