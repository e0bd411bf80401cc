using System.Text;

namespace Recommender.Trainers;

/// <summary>
/// Writes files through a temporary sibling and a rename, so a crash leaves either the old file or
/// the complete new one, never half a file.
/// </summary>
public static class AtomicFile
{
    // Temporary files not yet renamed into place. A process ended by a signal (or by Environment.Exit) runs ProcessExit, which
    // deletes them: a generate stopped at 5% once left 250 MB of train.csv.*.tmp behind under names no later run reuses.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> Pending = new();

    static AtomicFile() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        foreach (var temp in Pending.Keys)
            try { File.Delete(temp); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    };

    /// <summary>Opens a temporary file beside <paramref name="path"/>; <see cref="Commit"/> renames it into place.</summary>
    public static FileStream CreateTemp(string path, out string tempPath)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        tempPath = $"{full}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        Pending[tempPath] = 0;
        try { return new FileStream(tempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16); }
        catch { Pending.TryRemove(tempPath, out _); throw; }
    }

    /// <summary>Flushes the temporary file to disk and renames it over <paramref name="path"/>.</summary>
    public static void Commit(FileStream stream, string tempPath, string path)
    {
        stream.Flush(flushToDisk: true);
        stream.Dispose();
        File.Move(tempPath, Path.GetFullPath(path), overwrite: true);
        Pending.TryRemove(tempPath, out _);
    }

    /// <summary>Gives up a temporary file from <see cref="CreateTemp"/>: closes and deletes it.</summary>
    public static void Abandon(FileStream stream, string tempPath)
    {
        // Disposing flushes again, and on a full disk that throws too: the temp file goes either way.
        try { stream.Dispose(); } catch (IOException) { }
        try { File.Delete(tempPath); } catch (IOException) { }
        Pending.TryRemove(tempPath, out _);
    }

    /// <summary>Writes text atomically.</summary>
    public static void WriteAllText(string path, string text) => Write(path, s =>
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        s.Write(bytes);
    });

    /// <summary>Writes whatever <paramref name="write"/> writes, atomically; the temp file is removed on failure.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        var stream = CreateTemp(path, out var temp);
        try
        {
            write(stream);
            Commit(stream, temp, path);
        }
        catch
        {
            Abandon(stream, temp);
            throw;
        }
    }

    /// <summary>Writes text through a <see cref="TextWriter"/>, atomically.</summary>
    public static void WriteText(string path, Action<TextWriter> write) => Write(path, s =>
    {
        using var writer = new StreamWriter(s, new UTF8Encoding(false), 1 << 16, leaveOpen: true);
        write(writer);
    });
}
