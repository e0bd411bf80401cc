using System.Text.Json;
using Recommender.Pipeline.Data;

namespace Recommender.Pipeline.Lifecycle;

/// <summary>
/// <c>manifest.json</c>, the last file written into a bundle: every other file's name, size and SHA-256, the format
/// version, what produced the bundle (command, options, data fingerprint). A bundle is what its manifest says or it
/// is refused; the manifest's own SHA-256 is the bundle's identity in the fingerprints of jobs that use it.
/// </summary>
public sealed class BundleManifest
{
    /// <summary>The file name.</summary>
    public const string FileName = "manifest.json";

    /// <summary>
    /// The published version (a folder with a manifest beside its model.json) that <paramref name="path"/> is or lies in, or
    /// null: a published version is immutable, so no job writes into it.
    /// </summary>
    public static string? PublishedVersionHolding(string path)
    {
        for (var folder = Path.GetFullPath(path); folder is not null; folder = Path.GetDirectoryName(folder))
            if (File.Exists(Path.Combine(folder, FileName)) && File.Exists(Path.Combine(folder, ModelBundle.MetadataFile))) return folder;
        return null;
    }

    /// <summary>The bundle format this build writes and reads.</summary>
    public const int CurrentFormat = 1;

    /// <summary>One file of the bundle.</summary>
    public sealed record Entry(string Name, long Size, string Sha256);

    /// <summary>Bundle format version.</summary>
    public int FormatVersion { get; set; }
    /// <summary>When the bundle was published (UTC, ISO 8601).</summary>
    public string CreatedUtc { get; set; } = "";
    /// <summary>The command line that produced it.</summary>
    public string Producer { get; set; } = "";
    /// <summary>The trainer options.</summary>
    public Dictionary<string, object?> Options { get; set; } = new();
    /// <summary>The training data's identity (files, sizes, times, head and tail hashes).</summary>
    public SortedDictionary<string, string> Data { get; set; } = new();
    /// <summary>Every file but the manifest.</summary>
    public List<Entry> Files { get; set; } = new();
    /// <summary>
    /// The registry version it was published as (<c>v3</c>); absent in bundles published before this field. A folder named as
    /// a version whose manifest names another is a version copied or renamed inside a registry, and is refused.
    /// </summary>
    public string? Version { get; set; }

    /// <summary>Describes every file of <paramref name="directory"/> (no subfolders allowed) and writes the manifest there, atomically.</summary>
    public static BundleManifest Write(string directory, string producer, Dictionary<string, object?> options, SortedDictionary<string, string> data, string? version = null)
    {
        if (Directory.EnumerateDirectories(directory).Any()) throw new InvalidOperationException($"{directory}: a bundle holds files only");
        var manifest = new BundleManifest
        {
            FormatVersion = CurrentFormat, CreatedUtc = DateTime.UtcNow.ToString("O"), Producer = producer, Options = options, Data = data, Version = version,
            Files = Directory.EnumerateFiles(directory).Select(Path.GetFileName).Where(n => n != FileName).Order(StringComparer.Ordinal)
                .Select(n => new Entry(n!, new FileInfo(Path.Combine(directory, n!)).Length, JobFingerprint.Sha256File(Path.Combine(directory, n!)))).ToList(),
        };
        AtomicFile.WriteAllText(Path.Combine(directory, FileName), JsonSerializer.Serialize(manifest, DatasetSchema.JsonOptions));
        return manifest;
    }

    /// <summary>
    /// Reads and checks <paramref name="directory"/>'s manifest: every listed file present with its size, and with
    /// <paramref name="hashes"/> its SHA-256. Returns the manifest and its own SHA-256.
    /// </summary>
    public static (BundleManifest Manifest, string Sha256) Verify(string directory, bool hashes)
    {
        string path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
            throw new InvalidDataException($"{directory}: not a published bundle (no {FileName}): written by an older version or by a training that did not finish; train it again");
        var manifest = JsonFile.Read<BundleManifest>(path);
        if (manifest.FormatVersion != CurrentFormat)
            throw new InvalidDataException($"{path}: bundle format {manifest.FormatVersion}, this build reads format {CurrentFormat}");
        if (manifest.Files.Count == 0) throw new InvalidDataException($"{path}: lists no files");
        foreach (var f in manifest.Files)
        {
            if (f.Name != Path.GetFileName(f.Name) || f.Name is "." or "..") throw new InvalidDataException($"{path}: '{f.Name}' is not a file name of this folder");
            var info = new FileInfo(Path.Combine(directory, f.Name));
            if (!info.Exists) throw new InvalidDataException($"{info.FullName}: missing (the manifest lists it)");
            if (info.Length != f.Size) throw new InvalidDataException($"{info.FullName}: {info.Length:N0} bytes, the manifest says {f.Size:N0}: the bundle was altered or is incomplete");
            if (hashes && JobFingerprint.Sha256File(info.FullName) != f.Sha256)
                throw new InvalidDataException($"{info.FullName}: content differs from the manifest's SHA-256: the bundle was altered");
        }
        // After the files: a damaged file is the more basic fault, and names itself.
        string folder = Path.GetFileName(Path.GetFullPath(directory).TrimEnd(Path.DirectorySeparatorChar));
        if (manifest.Version is { } version && ModelRegistry.ParseVersion(folder) > 0 && folder != version)
            throw new InvalidDataException($"{directory}: holds the manifest of {version}, a version copied or renamed in a registry; versions are published by train, never copied");
        return (manifest, JobFingerprint.Sha256File(path));
    }
}
