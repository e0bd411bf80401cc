namespace Recommender.Pipeline.Featurization;

/// <summary>
/// What the featurizer produces: one key column per categorical feature (key 0 = out of vocabulary,
/// keys 1..<c>Cardinality</c> = known values, so an embedding table needs <c>Cardinality + 1</c> rows) and
/// one float vector of normalized dense features.
/// </summary>
public sealed record FeaturizedSchema(IReadOnlyList<CategoricalFeature> Categorical, string? DenseColumn, int DenseSize)
{
    /// <summary>The name of the dense feature vector column.</summary>
    public const string DenseFeatures = "DenseFeatures";

    /// <summary>Categorical columns left out: calendar fields none of whose values was held on enough training days.</summary>
    public IReadOnlyList<string> LeftOut { get; init; } = [];

    /// <summary>The log line that names the <paramref name="leftOut"/> columns and says why.</summary>
    public static string LeftOutLine(IReadOnlyList<string> leftOut, int minDays) =>
        $"left out {string.Join(", ", leftOut.Select(c => $"'{c}'"))}: {(leftOut.Count == 1 ? "a calendar field" : "calendar fields")} (one value a day) " +
        $"with no value held on {minDays} training days (--min-days)";
}

/// <summary>A categorical feature as a key column.</summary>
/// <param name="Name">Output key column (same name as the input text column).</param>
/// <param name="Cardinality">Number of known values; keys run 1..Cardinality, 0 is out of vocabulary.</param>
/// <param name="Hashed">Whether the column is hashed rather than mapped by a vocabulary.</param>
public sealed record CategoricalFeature(string Name, int Cardinality, bool Hashed);
