namespace Recommender.Pipeline.Featurization;

/// <summary>How dense features are scaled after missing values are replaced by the training mean.</summary>
public enum DenseNormalization
{
    /// <summary>z-score: (x - mean) / standard deviation.</summary>
    MeanVariance,
    /// <summary>z-score of log(x): for heavy-tailed counts and prices (x must be positive).</summary>
    LogMeanVariance,
    /// <summary>Scale into [0, 1] by the training minimum and maximum.</summary>
    MinMax,
    /// <summary>Missing values replaced, no scaling.</summary>
    None,
}

/// <summary>Options of <see cref="SchemaFeaturizer"/>.</summary>
public sealed class FeaturizerOptions
{
    /// <summary>Defaults, as constants for documentation and attribute use.</summary>
    public static class Defaults
    {
        /// <summary>Values seen fewer times than this in training map to the out-of-vocabulary key.</summary>
        public const int MinCount = 1;
        /// <summary>A calendar field's values held on fewer training days than this map to the out-of-vocabulary key.</summary>
        /// <remarks>Eight days average a day's own noise down by a factor of about three (the square root of eight).</remarks>
        public const int MinDays = 8;
        /// <summary>At most this many values per column get their own key (the most frequent).</summary>
        public const int MaxVocabulary = 1 << 20;
        /// <summary>Bits of the hash space for hashed columns (2^bits keys).</summary>
        public const int HashBits = 18;
    }

    /// <summary>Values seen fewer times than this in training map to the out-of-vocabulary key 0.</summary>
    public int MinCount = Defaults.MinCount;

    /// <summary>
    /// With the schema's event time: a calendar field's values (a categorical column with one value per day, as a weekday;
    /// see <see cref="CalendarFields"/>) held on fewer training days than this map to the out-of-vocabulary key, and a
    /// calendar field left with no value is left out. 1 counts rows alone, as for any other column.
    /// </summary>
    public int MinDays = Defaults.MinDays;

    /// <summary>Per-column cap on the vocabulary; the most frequent values are kept.</summary>
    public int MaxVocabulary = Defaults.MaxVocabulary;

    /// <summary>Columns (names or * globs) hashed instead of mapped by a vocabulary: for unbounded id spaces.</summary>
    public List<string> HashedColumns = new();

    /// <summary>Bits of the hash space for <see cref="HashedColumns"/>.</summary>
    public int HashBits = Defaults.HashBits;

    /// <summary>Scaling of dense features.</summary>
    public DenseNormalization Normalization = DenseNormalization.MeanVariance;
}
