using System.Security.Cryptography;

namespace Recommender.Pipeline.Lifecycle;

/// <summary>
/// A cheap identity of an input file for job fingerprints: its size, last write time and the SHA-256 of its first
/// and last 1 MiB. Hashing whole inputs of many gigabytes on every resume would cost more than the work resumed;
/// an edit that keeps size, time, head and tail all equal is not one a resume is protected against.
/// </summary>
public static class FileIdentity
{
    private const int Window = 1 << 20;

    /// <summary>Adds <paramref name="path"/>'s identity to <paramref name="fingerprint"/> under <paramref name="prefix"/>.</summary>
    public static JobFingerprint Add(JobFingerprint fingerprint, string prefix, string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"{path}: file not found", path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
        var buffer = new byte[(int)Math.Min(Window, info.Length)];
        stream.ReadExactly(buffer);
        string head = Convert.ToHexStringLower(SHA256.HashData(buffer));
        stream.Seek(Math.Max(0, info.Length - buffer.Length), SeekOrigin.Begin);
        stream.ReadExactly(buffer);
        string tail = Convert.ToHexStringLower(SHA256.HashData(buffer));
        return fingerprint.With($"{prefix}.path", Path.GetFullPath(path)).With($"{prefix}.size", info.Length)
            .With($"{prefix}.mtime", info.LastWriteTimeUtc.ToString("O")).With($"{prefix}.head_sha256", head).With($"{prefix}.tail_sha256", tail);
    }
}
