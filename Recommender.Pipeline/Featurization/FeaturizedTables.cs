using Microsoft.ML;
using Recommender.Pipeline.Data;
using Recommender.Trainers.Network;
using Recommender.Trainers.Training;

namespace Recommender.Pipeline.Featurization;

/// <summary>
/// Featurization learned on a training table, and the tables it was applied to, as the trainer's feature matrices
/// with a label slot per task of the schema (<paramref name="Tasks"/>, weights 1 where the schema has the label).
/// </summary>
public sealed record FeaturizedTables(ITransformer Featurization, FeaturizedSchema Features, FeatureMatrix Train, IReadOnlyList<FeatureMatrix> Others,
    IReadOnlyList<TaskDefinition> Tasks)
{
    /// <summary>Rows of each field's embedding table (vocabulary + 1 for the out-of-vocabulary row).</summary>
    public int[] FieldRows => Features.Categorical.Select(c => c.Cardinality + 1).ToArray();

    /// <summary>The fields' key columns, in the matrices' order (behaviour-sequence positions last).</summary>
    public string[] FieldNames => Features.Categorical.Select(c => c.Name).ToArray();

    /// <summary>The schema's behaviour sequences over those columns (empty for none).</summary>
    public BehaviourSequence[] Sequences { get; init; } = [];

    /// <summary>
    /// Options for a model of these matrices: a copy of <paramref name="options"/> with the sequences, unless
    /// <paramref name="withSequences"/> is false (then train on the matrices' <see cref="FeatureMatrix.FirstFields"/> of <see cref="PlainFields"/>).
    /// </summary>
    public MultiTaskTrainerOptions OptionsFor(MultiTaskTrainerOptions options, bool withSequences = true)
    {
        var o = options.Clone();
        o.Sequences = withSequences && Sequences.Length > 0 ? Sequences : null;
        return o;
    }

    /// <summary>Fields that are not sequence positions (they come first).</summary>
    public int PlainFields => FieldRows.Length - Sequences.Sum(s => s.Positions.Length);

    /// <summary>Fits the featurization on <paramref name="train"/> and materializes it and <paramref name="others"/>.</summary>
    public static FeaturizedTables Build(MLContext ml, Table train, params Table[] others) => Build(ml, train, null, others);

    /// <summary>Fits the featurization on <paramref name="train"/> with <paramref name="options"/> and materializes it and <paramref name="others"/>.</summary>
    public static FeaturizedTables Build(MLContext ml, Table train, FeaturizerOptions? options, params Table[] others)
    {
        var view = train.ToDataView();
        var (estimator, features) = SchemaFeaturizer.Create(ml, train.Schema, view, options);
        var featurization = estimator.Fit(view);
        var keys = features.Categorical.Select(c => c.Name).ToArray();
        var tasks = train.Schema.Schema.ResolveTasks();
        var labels = tasks.Select(t => t.Label).ToArray();
        FeatureMatrix Matrix(Table t) => FeatureMatrix.From(featurization.Transform(t.ToDataView()), keys, features.DenseColumn, features.DenseSize, labels);
        return new FeaturizedTables(featurization, features, Matrix(train), others.Select(Matrix).ToArray(), tasks) { Sequences = [.. train.Schema.BehaviourSequences] };
    }
}
