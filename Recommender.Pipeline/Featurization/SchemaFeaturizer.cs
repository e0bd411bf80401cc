using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Recommender.Pipeline.Data;

namespace Recommender.Pipeline.Featurization;

/// <summary>
/// Builds the featurization of a <see cref="ResolvedSchema"/> from ML.NET's own estimators, so it saves
/// and loads with the model: categoricals to keys through a vocabulary learned here (min-count, max-vocabulary, and
/// min-days for calendar fields; unseen values map to key 0, never to an exception) or by hashing; dense features
/// concatenated, missing values replaced by the training mean, then normalized.
/// </summary>
public static class SchemaFeaturizer
{
    /// <summary>Learns the vocabularies from <paramref name="training"/> and returns the estimator chain and its output contract.</summary>
    public static (IEstimator<ITransformer> Estimator, FeaturizedSchema Output) Create(
        MLContext mlContext, ResolvedSchema schema, IDataView training, FeaturizerOptions? options = null)
    {
        options ??= new FeaturizerOptions();
        if (options.MinCount < 1) throw new ArgumentOutOfRangeException(nameof(options), "MinCount must be at least 1");
        if (options.MaxVocabulary < 1) throw new ArgumentOutOfRangeException(nameof(options), "MaxVocabulary must be at least 1");
        if (options.HashBits is < 1 or > 30) throw new ArgumentOutOfRangeException(nameof(options), "HashBits must be in 1..30");
        if (options.MinDays < 1) throw new ArgumentOutOfRangeException(nameof(options), "MinDays must be at least 1");

        // A sequence position is hashed, or mapped through a vocabulary, as the column whose values it lists.
        var hashed = schema.CategoricalFeatures.Where(c => options.HashedColumns.Any(p => DatasetSchema.Glob(p, schema.VocabularyOf(c)))).ToHashSet();
        var vocabularies = VocabularyBuilder.Build(training, schema.CategoricalFeatures.Where(c => !hashed.Contains(c) && schema.VocabularyOf(c) == c).ToArray(),
            options.MinCount, options.MaxVocabulary);
        var leftOut = KeepCalendarValues(training, schema, options, vocabularies);

        IEstimator<ITransformer> chain = new EstimatorChain<ITransformer>();
        var features = new List<CategoricalFeature>();
        foreach (var column in schema.CategoricalFeatures)
        {
            if (hashed.Contains(column))
            {
                chain = chain.Append(mlContext.Transforms.Conversion.Hash(column, column, numberOfBits: options.HashBits));
                features.Add(new CategoricalFeature(column, 1 << options.HashBits, Hashed: true));
                continue;
            }
            if (leftOut.Contains(column)) continue;
            var vocabulary = vocabularies[schema.VocabularyOf(column)];
            if (vocabulary.Count == 0) throw new SchemaException($"categorical column '{column}' has no value seen at least {options.MinCount} times in training");
            chain = chain.Append(KeyMapping(mlContext, column, vocabulary));
            features.Add(new CategoricalFeature(column, vocabulary.Count, Hashed: false));
        }

        int dense = schema.DenseFeatures.Length;
        if (dense > 0)
        {
            const string output = FeaturizedSchema.DenseFeatures;
            chain = chain.Append(mlContext.Transforms.Concatenate(output, schema.DenseFeatures))
                .Append(mlContext.Transforms.ReplaceMissingValues(output, replacementMode: MissingValueReplacingEstimator.ReplacementMode.Mean));
            chain = options.Normalization switch
            {
                DenseNormalization.MeanVariance => chain.Append(mlContext.Transforms.NormalizeMeanVariance(output, fixZero: false)),
                DenseNormalization.LogMeanVariance => chain.Append(mlContext.Transforms.NormalizeLogMeanVariance(output, fixZero: false)),
                DenseNormalization.MinMax => chain.Append(mlContext.Transforms.NormalizeMinMax(output, fixZero: false)),
                _ => chain,
            };
        }
        return (chain, new FeaturizedSchema(features, dense > 0 ? FeaturizedSchema.DenseFeatures : null, dense) { LeftOut = leftOut });
    }

    // Narrows each calendar field's vocabulary to the values held on at least MinDays days and returns the fields left with
    // none.
    private static List<string> KeepCalendarValues(IDataView training, ResolvedSchema schema, FeaturizerOptions options, Dictionary<string, List<string>> vocabularies)
    {
        if (schema.TimeOutput is not { } time || options.MinDays <= 1) return [];
        var leftOut = new List<string>();
        foreach (var field in CalendarFields.Find(training, time, schema.Schema.Time!, CalendarFields.Candidates(schema).Where(vocabularies.ContainsKey).ToArray()))
        {
            var kept = vocabularies[field.Column] = vocabularies[field.Column].Where(v => field.Days.GetValueOrDefault(v) >= options.MinDays).ToList();
            if (kept.Count == 0) leftOut.Add(field.Column);
        }
        return leftOut;
    }

    /// <summary>
    /// A trained featurization grown for new data (a warm start): each vocabulary keeps its values and keys and
    /// appends values first seen in <paramref name="newTraining"/> (min-count, and min-days for calendar fields, applied to
    /// the new data, the total capped at the maximum vocabulary), a column left out stays out, hashed columns hash as
    /// before, and the dense imputation and normalization are kept as they were, so known rows featurize exactly as before.
    /// </summary>
    public static (ITransformer Featurization, FeaturizedSchema Output) Grow(MLContext mlContext, ResolvedSchema schema, IDataView newTraining,
        ITransformer trained, DataViewSchema trainedInput, FeaturizerOptions? options = null)
    {
        options ??= new FeaturizerOptions();
        var parts = Flatten(trained).ToList();
        if (parts.FirstOrDefault(p => p is not (ValueToKeyMappingTransformer or HashingTransformer or ColumnConcatenatingTransformer or MissingValueReplacingTransformer or NormalizingTransformer)) is { } other)
            throw new NotSupportedException($"a warm start cannot grow a featurization holding a {other.GetType().Name} (matrix-factorization features, for one)");
        var output = trained.GetOutputSchema(trainedInput);
        var grown = new List<ITransformer>();
        var features = new List<CategoricalFeature>();
        var fresh = VocabularyBuilder.Build(newTraining, schema.CategoricalFeatures.Where(c => output.GetColumnOrNull(c)?.HasKeyValues() == true && schema.VocabularyOf(c) == c).ToArray(),
            options.MinCount, options.MaxVocabulary);
        KeepCalendarValues(newTraining, schema, options, fresh);
        var leftOut = new List<string>();
        var grownVocabularies = new Dictionary<string, List<string>>();
        foreach (var column in schema.CategoricalFeatures)
        {
            var old = output.GetColumnOrNull(column) ?? throw new SchemaException($"categorical column '{column}' is not in the warm start's featurization");
            // Left out then (a calendar field without a value on enough days), left out now: the model has no input for it.
            if (old.Type is TextDataViewType) { leftOut.Add(column); continue; }
            if (!old.HasKeyValues())
            {
                // Hashed: the hash of a value does not depend on the data, so the same hash is fitted again.
                int bits = (int)Math.Round(Math.Log2(((KeyDataViewType)old.Type).Count));
                grown.Add(mlContext.Transforms.Conversion.Hash(column, column, numberOfBits: bits).Fit(newTraining));
                features.Add(new CategoricalFeature(column, 1 << bits, Hashed: true));
                continue;
            }
            // A sequence position grows with the column whose values it lists (which comes before it).
            if (!grownVocabularies.TryGetValue(schema.VocabularyOf(column), out var vocabulary))
            {
                VBuffer<ReadOnlyMemory<char>> keys = default;
                old.GetKeyValues(ref keys);
                vocabulary = keys.DenseValues().Select(k => k.ToString()).ToList();
                var known = vocabulary.ToHashSet(StringComparer.Ordinal);
                foreach (var value in fresh[column])
                {
                    if (vocabulary.Count >= options.MaxVocabulary) break;
                    if (known.Add(value)) vocabulary.Add(value);
                }
                grownVocabularies[column] = vocabulary;
            }
            grown.Add(KeyMapping(mlContext, column, vocabulary).Fit(newTraining));
            features.Add(new CategoricalFeature(column, vocabulary.Count, Hashed: false));
        }
        grown.AddRange(parts.Where(p => p is ColumnConcatenatingTransformer or MissingValueReplacingTransformer or NormalizingTransformer));
        int dense = schema.DenseFeatures.Length;
        return (new TransformerChain<ITransformer>(grown.ToArray()), new FeaturizedSchema(features, dense > 0 ? FeaturizedSchema.DenseFeatures : null, dense) { LeftOut = leftOut });
    }

    // Value to key through a fixed vocabulary: key k+1 for its k-th value (0 for anything else).
    private static ValueToKeyMappingEstimator KeyMapping(MLContext ml, string column, IReadOnlyList<string> vocabulary) =>
        ml.Transforms.Conversion.MapValueToKey(column, column, maximumNumberOfKeys: vocabulary.Count,
            keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByOccurrence, keyData: ml.Data.LoadFromEnumerable(vocabulary.Select(v => new Term { Value = v })));

    /// <summary>The transformers of a (nested) chain, in order.</summary>
    internal static IEnumerable<ITransformer> Flatten(ITransformer t) => t is IEnumerable<ITransformer> chain ? chain.SelectMany(Flatten) : [t];

    private sealed class Term
    {
        public string Value { get; set; } = "";
    }
}
