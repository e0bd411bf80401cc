using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Recommender.Pipeline.Data;

namespace Recommender.Pipeline.Featurization;

/// <summary>
/// Builds the featurization of a <see cref="ResolvedSchema"/> from ML.NET's own estimators, so it saves
/// and loads with the model: categoricals to keys through a vocabulary learned here (min-count,
/// max-vocabulary; unseen values map to key 0, never to an exception) or by hashing; dense features
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

        var hashed = schema.CategoricalFeatures.Where(c => options.HashedColumns.Any(p => DatasetSchema.Glob(p, c))).ToHashSet();
        var vocabularies = VocabularyBuilder.Build(training, schema.CategoricalFeatures.Where(c => !hashed.Contains(c)).ToArray(),
            options.MinCount, options.MaxVocabulary);

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
            var vocabulary = vocabularies[column];
            if (vocabulary.Count == 0) throw new SchemaException($"categorical column '{column}' has no value seen at least {options.MinCount} times in training");
            var keyData = mlContext.Data.LoadFromEnumerable(vocabulary.Select(v => new Term { Value = v }));
            chain = chain.Append(mlContext.Transforms.Conversion.MapValueToKey(column, column,
                maximumNumberOfKeys: vocabulary.Count, keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByOccurrence, keyData: keyData));
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
        return (chain, new FeaturizedSchema(features, dense > 0 ? FeaturizedSchema.DenseFeatures : null, dense));
    }

    private sealed class Term
    {
        public string Value { get; set; } = "";
    }
}
