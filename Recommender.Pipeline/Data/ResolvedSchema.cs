using Recommender.Trainers.Network;

namespace Recommender.Pipeline.Data;

/// <summary>
/// A <see cref="DatasetSchema"/> bound to the fields of one file: source field indices per role
/// (-1 where a role is absent) and the output layout every loader produces.
/// </summary>
public sealed class ResolvedSchema
{
    internal ResolvedSchema(DatasetSchema schema, string[] header, int user, int item, int group, int time,
        int[] categorical, int[] dense, int click, int conversion, int rating, int[] taskLabels, int[] sequences)
    {
        Schema = schema;
        Header = header;
        var text = new List<(string, int)>();
        if (user >= 0) text.Add((DatasetSchema.UserColumn, user));
        if (item >= 0) text.Add((DatasetSchema.ItemColumn, item));
        if (group >= 0) text.Add((DatasetSchema.GroupColumn, group));
        if (time >= 0) text.Add((DatasetSchema.TimeColumn, time));
        foreach (int i in categorical) text.Add((header[i], i));
        // Each sequence's positions after every other text column: the model's sequence fields come last.
        var elements = Enumerable.Repeat(-1, text.Count).ToList();
        var sequenceOf = Enumerable.Repeat(-1, text.Count).ToList();
        var behaviour = new List<Recommender.Trainers.Training.BehaviourSequence>();
        for (int s = 0; s < sequences.Length; s++)
        {
            var q = schema.Sequences![s];
            string target = q.Field == schema.User ? DatasetSchema.UserColumn : q.Field == schema.Item ? DatasetSchema.ItemColumn : q.Field;
            var positions = Enumerable.Range(0, q.Length).Select(q.Position).ToArray();
            for (int i = 0; i < q.Length; i++) { text.Add((positions[i], sequences[s])); elements.Add(i); sequenceOf.Add(s); }
            behaviour.Add(new() { Name = q.Column, Target = target, Positions = positions });
        }
        TextElements = elements.ToArray();
        SequenceSeparators = sequences.Select((_, s) => schema.Sequences![s].SeparatorChar).ToArray();
        SequenceOfText = sequenceOf.ToArray();
        BehaviourSequences = behaviour;
        var numbers = new List<(string, int)>();
        foreach (int i in dense) numbers.Add((header[i], i));
        Click = click >= 0 ? numbers.Count : -1;
        if (click >= 0) numbers.Add((DatasetSchema.ClickColumn, click));
        Conversion = conversion >= 0 ? numbers.Count : -1;
        if (conversion >= 0) numbers.Add((DatasetSchema.ConversionColumn, conversion));
        Rating = rating >= 0 ? numbers.Count : -1;
        if (rating >= 0) numbers.Add((DatasetSchema.RatingColumn, rating));
        var labels = new List<LabelSlot>();
        if (click >= 0) labels.Add(new LabelSlot(Click, "click", TaskKind.Binary, 0, 1, -1, Required: true));
        if (conversion >= 0) labels.Add(new LabelSlot(Conversion, "conversion", TaskKind.Binary, 0, 1, click >= 0 ? 0 : -1, Required: true));
        if (rating >= 0) labels.Add(new LabelSlot(Rating, "rating", TaskKind.Regression, schema.RatingMin, schema.RatingMax, -1, Required: false));
        var tasks = schema.Tasks ?? [];
        for (int t = 0; t < taskLabels.Length; t++)
        {
            var task = tasks[t];
            int given = task.Given is { } g ? labels.FindIndex(l => l.Task == g) : -1;
            labels.Add(new LabelSlot(numbers.Count, header[taskLabels[t]], task.Kind, task.Min, task.Max, given, Required: false, task.Name));
            numbers.Add((header[taskLabels[t]], taskLabels[t]));
        }
        Labels = labels;
        TextColumns = text.Select(t => t.Item1).ToArray();
        TextSources = text.Select(t => t.Item2).ToArray();
        NumberColumns = numbers.Select(t => t.Item1).ToArray();
        NumberSources = numbers.Select(t => t.Item2).ToArray();
        DenseCount = dense.Length;
        CategoricalFeatures = text.Where(t => t.Item1 is not (DatasetSchema.GroupColumn or DatasetSchema.TimeColumn)).Select(t => t.Item1).ToArray();
        DenseFeatures = numbers.Take(dense.Length).Select(t => t.Item1).ToArray();
        GroupOutput = group >= 0 ? DatasetSchema.GroupColumn : user >= 0 ? DatasetSchema.UserColumn : null;
        TimeOutput = time >= 0 ? DatasetSchema.TimeColumn : null;
    }

    /// <summary>The schema this came from.</summary>
    public DatasetSchema Schema { get; }

    /// <summary>The file's field names.</summary>
    public string[] Header { get; }

    /// <summary>Output text columns (ids and categoricals), in order.</summary>
    public string[] TextColumns { get; }

    /// <summary>Source field index of each output text column.</summary>
    public int[] TextSources { get; }

    /// <summary>
    /// For each output text column, -1 when it is its source field's whole text, or the position it takes from a
    /// behaviour-sequence list (0 = the most recent item).
    /// </summary>
    public int[] TextElements { get; }

    /// <summary>For each output text column, the index of the sequence it is a position of, or -1.</summary>
    public int[] SequenceOfText { get; }

    /// <summary>Each sequence's list separator.</summary>
    public char[] SequenceSeparators { get; }

    /// <summary>The behaviour sequences as the trainer takes them: positions' output columns and the column whose vocabulary they share.</summary>
    public IReadOnlyList<Recommender.Trainers.Training.BehaviourSequence> BehaviourSequences { get; }

    /// <summary>The output column whose vocabulary an output text column maps through: its own, or a sequence position's target.</summary>
    public string VocabularyOf(string column)
    {
        foreach (var s in BehaviourSequences)
            if (Array.IndexOf(s.Positions, column) >= 0) return s.Target;
        return column;
    }

    /// <summary>Output float columns: the dense features, then the labels.</summary>
    public string[] NumberColumns { get; }

    /// <summary>Source field index of each output float column.</summary>
    public int[] NumberSources { get; }

    /// <summary>How many of <see cref="NumberColumns"/> are dense features (they come first).</summary>
    public int DenseCount { get; }

    /// <summary>The label columns and the rules their values follow, in order.</summary>
    public IReadOnlyList<LabelSlot> Labels { get; }

    /// <summary>Index in <see cref="NumberColumns"/> of the click label, or -1.</summary>
    public int Click { get; }

    /// <summary>Index in <see cref="NumberColumns"/> of the conversion label, or -1.</summary>
    public int Conversion { get; }

    /// <summary>Index in <see cref="NumberColumns"/> of the rating label, or -1.</summary>
    public int Rating { get; }

    /// <summary>Output names of the categorical features (user and item ids included).</summary>
    public string[] CategoricalFeatures { get; }

    /// <summary>Output names of the dense features.</summary>
    public string[] DenseFeatures { get; }

    /// <summary>Output name of the GAUC grouping column, or null when there is none.</summary>
    public string? GroupOutput { get; }

    /// <summary>Output name of the event-time column (text, Unix seconds or milliseconds), or null when the schema has none or the file lacks it.</summary>
    public string? TimeOutput { get; }

    /// <summary>Highest source field index any role reads (a record needs more fields than this).</summary>
    public int MaxSource => TextSources.Concat(NumberSources).DefaultIfEmpty(-1).Max();

    /// <summary>
    /// A label column (<paramref name="Number"/>: its index in <see cref="NumberColumns"/>) and its rules: a binary label is
    /// 0 or 1, a regression one in [<paramref name="Min"/>, <paramref name="Max"/>]; empty is an error when
    /// <paramref name="Required"/>, else "no label"; a 1 where the label at <paramref name="Given"/> (an index in
    /// <see cref="Labels"/>) is 0 is an inconsistent row. <paramref name="Name"/> names it in messages.
    /// </summary>
    public sealed record LabelSlot(int Number, string Name, TaskKind Kind, float Min, float Max, int Given, bool Required, string? Task = null);
}
