using System.Globalization;

namespace Recommender.Pipeline.Lifecycle;

/// <summary>
/// A model registry on the file system: <c>ROOT/v1/</c>, <c>ROOT/v2/</c>, ... immutable published bundles, and
/// <c>ROOT/current</c>, a one-line file naming the version that consumers load, replaced atomically. A version is
/// published by renaming a complete, manifest-verified staging folder into place and only then pointing
/// <c>current</c> at it, so a reader sees the old version or the new one, never a mix. Writers hold
/// <see cref="WriterLock"/> on the registry.
/// </summary>
public sealed class ModelRegistry
{
    /// <summary>The pointer file's name.</summary>
    public const string CurrentFile = "current";
    /// <summary>Prefix of staging folders (private to one writer, removed by the next writer if it died).</summary>
    public const string StagingPrefix = ".staging-";
    private const string TrashPrefix = ".trash-";

    /// <summary>Opens the registry at <paramref name="root"/> (it need not exist yet).</summary>
    public ModelRegistry(string root) => Root = Path.GetFullPath(root).TrimEnd(Path.DirectorySeparatorChar);

    /// <summary>The registry folder.</summary>
    public string Root { get; }

    /// <summary>Whether <paramref name="path"/> is a registry: a folder with a <c>current</c> pointer or published versions.</summary>
    public static bool IsRegistry(string path) => Directory.Exists(path) &&
        (File.Exists(Path.Combine(path, CurrentFile)) || Directory.EnumerateDirectories(path).Any(d => ParseVersion(Path.GetFileName(d)) > 0));

    /// <summary>The version number of a folder name <c>vN</c>, or 0.</summary>
    public static int ParseVersion(string name) =>
        name.Length > 1 && name[0] == 'v' && int.TryParse(name.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0 && name == $"v{n}" ? n : 0;

    /// <summary>Published versions, oldest first.</summary>
    public IReadOnlyList<string> Versions() => !Directory.Exists(Root) ? [] :
        Directory.EnumerateDirectories(Root).Select(d => Path.GetFileName(d)).Where(n => ParseVersion(n) > 0).OrderBy(ParseVersion).ToList();

    /// <summary>The version <c>current</c> names, or null.</summary>
    public string? Current
    {
        get
        {
            string path = Path.Combine(Root, CurrentFile);
            if (!File.Exists(path)) return null;
            string name = File.ReadAllText(path).Trim();
            if (ParseVersion(name) == 0) throw new InvalidDataException($"{path}: '{name}' is not a version name (vN)");
            return name;
        }
    }

    /// <summary>The folder of <paramref name="version"/> (default: current).</summary>
    public string PathOf(string? version = null)
    {
        version ??= Current ?? throw new InvalidDataException($"{Root}: no current version (publish one with train, or point to one with models promote)");
        if (ParseVersion(version) == 0) throw new ArgumentException($"'{version}' is not a version name (vN)");
        string path = Path.Combine(Root, version);
        if (!Directory.Exists(path)) throw new DirectoryNotFoundException($"{path}: no such version in {Root} (versions: {string.Join(", ", Versions())})");
        return path;
    }

    /// <summary>Removes what dead writers left: staging folders, half-deleted versions, temp files. Call under the writer lock.</summary>
    public void RemoveLeftovers()
    {
        if (!Directory.Exists(Root)) return;
        foreach (var d in Directory.EnumerateDirectories(Root))
        {
            string name = Path.GetFileName(d);
            if (name.StartsWith(StagingPrefix, StringComparison.Ordinal) || name.StartsWith(TrashPrefix, StringComparison.Ordinal)) Directory.Delete(d, recursive: true);
        }
        foreach (var f in Directory.EnumerateFiles(Root, "*.tmp")) File.Delete(f);
    }

    /// <summary>A fresh staging folder inside the registry (same file system, so publishing is one rename).</summary>
    public string CreateStaging()
    {
        string path = Path.Combine(Root, $"{StagingPrefix}{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>
    /// Publishes a staged bundle (manifest already written): renames it to the next version, then points
    /// <c>current</c> at it. Call under the writer lock. Returns the version's folder.
    /// </summary>
    public string Publish(string staging)
    {
        var (manifest, _) = BundleManifest.Verify(staging, hashes: false);
        string version = NextVersion();
        if (manifest.Version is { } named && named != version) throw new InvalidOperationException($"{Root}: the staged bundle names {named}, but the next version is {version}");
        string target = Path.Combine(Root, version);
        FaultInjection.Point("publish.before-rename");
        Directory.Move(staging, target);
        FaultInjection.Point("publish.after-rename");
        SetCurrent(version);
        FaultInjection.Point("publish.after-current");
        return target;
    }

    /// <summary>The name the next published version gets (<c>v1</c> in an empty registry). Stable under the writer lock.</summary>
    public string NextVersion() => $"v{Versions().Select(ParseVersion).DefaultIfEmpty(0).Max() + 1}";

    /// <summary>Points <c>current</c> at <paramref name="version"/> after verifying it. Call under the writer lock.</summary>
    public void Promote(string version)
    {
        BundleManifest.Verify(PathOf(version), hashes: true);
        SetCurrent(version);
    }

    /// <summary>Points <c>current</c> at the newest version older than it. Returns that version.</summary>
    public string Rollback()
    {
        string current = Current ?? throw new InvalidDataException($"{Root}: no current version to roll back from");
        string previous = Versions().Where(v => ParseVersion(v) < ParseVersion(current)).LastOrDefault()
            ?? throw new InvalidDataException($"{Root}: {current} is the oldest version; nothing to roll back to");
        Promote(previous);
        return previous;
    }

    /// <summary>Deletes all but the newest <paramref name="keep"/> versions, never the current one. Returns the deleted names.</summary>
    public List<string> CollectGarbage(int keep)
    {
        if (keep < 1) throw new ArgumentException($"--keep must be at least 1, got {keep}");
        string? current = Current;
        var versions = Versions();
        var deleted = versions.Take(Math.Max(0, versions.Count - keep)).Where(v => v != current).ToList();
        foreach (var v in deleted)
        {
            // Renamed away first: a deletion cut short leaves a trash folder, never a half version under a version's name.
            string trash = Path.Combine(Root, $"{TrashPrefix}{v}-{Guid.NewGuid():N}");
            Directory.Move(Path.Combine(Root, v), trash);
            Directory.Delete(trash, recursive: true);
        }
        return deleted;
    }

    private void SetCurrent(string version) => AtomicFile.WriteAllText(Path.Combine(Root, CurrentFile), version + "\n");
}
