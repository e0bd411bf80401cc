using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Recommender.Trainers;

/// <summary>
/// What makes a job the job it is (its inputs' identities, the model's manifest hash, the options that change its
/// output), as named values. A job that resumes compares the fingerprint it recorded with its own and refuses,
/// naming every difference, rather than mixing the work of two different jobs.
/// </summary>
public sealed class JobFingerprint
{
    /// <summary>The named values, ordered by name.</summary>
    public SortedDictionary<string, string> Values { get; init; } = new(StringComparer.Ordinal);

    /// <summary>Sets one value.</summary>
    public JobFingerprint With(string name, object? value)
    {
        Values[name] = value switch
        {
            null => "",
            float f => f.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
            double d => d.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
            int[] a => string.Join(',', a),
            IFormattable x => x.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
            _ => value.ToString() ?? "",
        };
        return this;
    }

    /// <summary>The differences from <paramref name="recorded"/>, one phrase each (empty when the jobs are the same).</summary>
    public List<string> DifferencesFrom(JobFingerprint recorded)
    {
        var differences = new List<string>();
        foreach (var name in Values.Keys.Union(recorded.Values.Keys).Order(StringComparer.Ordinal))
        {
            recorded.Values.TryGetValue(name, out var before);
            Values.TryGetValue(name, out var now);
            if (before != now) differences.Add($"{name} was '{Shorten(before)}', now '{Shorten(now)}'");
        }
        return differences;
    }

    /// <summary>Throws, in one line, when this job is not the recorded one.</summary>
    public void RequireSameAs(JobFingerprint recorded, string what)
    {
        var d = DifferencesFrom(recorded);
        if (d.Count > 0) throw new InvalidOperationException($"{what} belongs to a different job ({string.Join("; ", d.Take(4))}{(d.Count > 4 ? $"; {d.Count - 4} more" : "")}); start over without resuming, or resume with the same job");
    }

    /// <summary>As JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(Values, FingerprintJson.Default.SortedDictionaryStringString);

    /// <summary>From JSON written by <see cref="ToJson"/>.</summary>
    public static JobFingerprint FromJson(string json) =>
        new() { Values = new SortedDictionary<string, string>(JsonSerializer.Deserialize(json, FingerprintJson.Default.SortedDictionaryStringString) ?? new(), StringComparer.Ordinal) };

    /// <summary>SHA-256 of bytes, lower-case hex.</summary>
    public static string Sha256(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>SHA-256 of a file's content, lower-case hex.</summary>
    public static string Sha256File(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>A short digest of text (for options too long to show).</summary>
    public static string Digest(string text) => Sha256(Encoding.UTF8.GetBytes(text))[..16];

    private static string Shorten(string? s) => s is null ? "(absent)" : s.Length <= 40 ? s : s[..16] + "…" + s[^8..];
}

[System.Text.Json.Serialization.JsonSerializable(typeof(SortedDictionary<string, string>))]
internal sealed partial class FingerprintJson : System.Text.Json.Serialization.JsonSerializerContext;
