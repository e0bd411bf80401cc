using System.Text.Json;
using System.Text.Json.Serialization;
using Recommender.Trainers.Network;

namespace Recommender.Pipeline.Data;

/// <summary>The physical layout a loader reads.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<DataFormat>))]
public enum DataFormat
{
    /// <summary>Delimited text with a header (CSV by default; see <see cref="DatasetSchema.Separator"/>).</summary>
    Csv,
    /// <summary>Tab-separated text.</summary>
    Tsv,
    /// <summary>Ali-CCP's raw release: <c>sample_skeleton_*.csv</c> joined with <c>common_features_*.csv</c>.</summary>
    AliCcpRaw,
    /// <summary>MovieLens ratings: <c>ratings.csv</c> (latest) or <c>u.data</c> (100k).</summary>
    MovieLens,
    /// <summary>Apache Parquet.</summary>
    Parquet,
}

/// <summary>What to do with a row whose conversion is 1 while its click is 0.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<InconsistentRowPolicy>))]
public enum InconsistentRowPolicy
{
    /// <summary>Drop the row, count it and report the count.</summary>
    Drop,
    /// <summary>Stop with an error naming the file, line and column.</summary>
    Fail,
}

/// <summary>
/// A role for every column of a dataset: which column identifies the user and the item, which are
/// categorical or dense features, which are the click / conversion / rating labels, and which groups
/// rows for GAUC. Feature lists accept exact names or <c>*</c> globs (<c>"D*"</c>, <c>"categorical_*"</c>);
/// a glob never claims a column that an explicit role already holds.
/// </summary>
public sealed class DatasetSchema
{
    /// <summary>Canonical output column names: every loader emits these for the roles.</summary>
    public const string UserColumn = "UserId", ItemColumn = "ItemId", GroupColumn = "Group", TimeColumn = "Time",
        ClickColumn = "Click", ConversionColumn = "Conversion", RatingColumn = "Rating";

    /// <summary>A name for reports.</summary>
    public string? Name { get; set; }

    /// <summary>The file layout.</summary>
    public DataFormat Format { get; set; } = DataFormat.Csv;

    /// <summary>Field separator for delimited text; defaults to ',' (CSV) or '\t' (TSV).</summary>
    public string? Separator { get; set; }

    /// <summary>Whether delimited text starts with a header row. Without one, <see cref="ColumnNames"/> names the fields.</summary>
    public bool HasHeader { get; set; } = true;

    /// <summary>
    /// Whether a quoted field may span lines (RFC 4180). Off by default: then a quote left open at the end of a line is
    /// that row's error, instead of silently joining the following rows into one.
    /// </summary>
    public bool MultilineFields { get; set; }

    /// <summary>Field names for a headerless file, in order.</summary>
    public List<string>? ColumnNames { get; set; }

    /// <summary>The user id column (also used as a categorical feature).</summary>
    public string? User { get; set; }

    /// <summary>The item id column (also used as a categorical feature).</summary>
    public string? Item { get; set; }

    /// <summary>The column that groups rows for GAUC; defaults to <see cref="User"/>.</summary>
    public string? Group { get; set; }

    /// <summary>
    /// The column holding each row's event time, in Unix seconds or milliseconds (optional; not a feature). With it the featurizer can
    /// tell a calendar field (one value per day, as a weekday) and count its values in days rather than rows; see
    /// <c>FeaturizerOptions.MinDays</c>. Data to score may lack it.
    /// </summary>
    public string? Time { get; set; }

    /// <summary>Categorical feature columns (names or globs).</summary>
    public List<string> Categorical { get; set; } = new();

    /// <summary>Dense (numeric) feature columns (names or globs). Empty, NA and NaN read as missing.</summary>
    public List<string> Dense { get; set; } = new();

    /// <summary>Behaviour-sequence columns: delimited lists of a user's earlier events' ids (see <see cref="SequenceColumn"/>).</summary>
    public List<SequenceColumn>? Sequences { get; set; }

    /// <summary>The click label (0/1).</summary>
    public string? Click { get; set; }

    /// <summary>The conversion label (0/1; only meaningful where click is 1).</summary>
    public string? Conversion { get; set; }

    /// <summary>The rating label; empty means "not rated".</summary>
    public string? Rating { get; set; }

    /// <summary>Smallest allowed rating.</summary>
    public float RatingMin { get; set; } = 1f;

    /// <summary>Largest allowed rating.</summary>
    public float RatingMax { get; set; } = 5f;

    /// <summary>
    /// Declared tasks (instead of the click / conversion / rating roles): each names its label column, its kind and
    /// optionally the binary task it is given; see <see cref="TaskDefinition"/>. A binary label is 0, 1 or empty (no
    /// label); a regression label lies in [min, max] or is empty.
    /// </summary>
    public List<TaskDefinition>? Tasks { get; set; }

    /// <summary>Rows with a label 1 where the task it is given is 0 (conversion 1, click 0): dropped and counted, or an error.</summary>
    public InconsistentRowPolicy OnInconsistent { get; set; } = InconsistentRowPolicy.Drop;

    /// <summary>Skip (and count) malformed rows instead of failing on the first one.</summary>
    public bool SkipBadRows { get; set; }

    /// <summary>Ali-CCP raw only: field ids read as categorical columns (named by the field id).</summary>
    public List<string>? AliCcpCategoricalFields { get; set; }

    /// <summary>Ali-CCP raw only: field ids whose feature value is read as a dense column <c>D{field}</c>.</summary>
    public List<string>? AliCcpDenseFields { get; set; }

    /// <summary>The field separator as a character.</summary>
    public char SeparatorChar => Separator switch
    {
        null or "" => Format == DataFormat.Tsv ? '\t' : ',',
        "\\t" or "tab" => '\t',
        { Length: 1 } s => s[0],
        var s => throw new SchemaException($"separator must be one character, got '{s}'"),
    };

    internal static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNameCaseInsensitive = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        WriteIndented = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        // A metric undefined on a small validation set is NaN, and model.json must still be written and read back.
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Reads a schema file (JSON; comments and trailing commas allowed).</summary>
    public static DatasetSchema Load(string path) => JsonFile.Read<DatasetSchema>(path);

    /// <summary>Writes the schema as JSON, atomically.</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, JsonOptions));

    /// <summary>The same roles without the labels: for scoring data, which has none.</summary>
    public DatasetSchema WithoutLabels()
    {
        var copy = (DatasetSchema)MemberwiseClone();
        copy.Click = copy.Conversion = copy.Rating = null;
        copy.Tasks = null;
        copy.LabelsOptional = true;
        return copy;
    }

    [System.Text.Json.Serialization.JsonIgnore]
    internal bool LabelsOptional { get; private set; }

    /// <summary>
    /// The tasks to train: the declared ones, or the default chain of the roles (ctr on the click, cvr on the conversion
    /// given ctr, rating in [ratingMin, ratingMax]) with these weights. A role the schema lacks has its task switched off
    /// when its weight is the trainer's default; a weight set to anything else for a missing role is an error, never
    /// ignored.
    /// </summary>
    public TaskDefinition[] ResolveTasks(float ctrWeight, float cvrWeight, float ratingWeight)
    {
        if (Tasks is not null) return [.. Tasks];
        float Weight(string? role, string task, float weight, float defaultWeight) => role is not null ? weight
            : weight == defaultWeight || weight == 0 ? 0
            : throw new SchemaException($"the {task} task has weight {weight} but the schema has no {task} label; add the label or give the task weight 0");
        return TaskList.DefaultChain(ClickColumn, ConversionColumn, RatingColumn, Weight(Click, "ctr", ctrWeight, 1), Weight(Conversion, "cvr", cvrWeight, 1),
            Weight(Rating, "rating", ratingWeight, Recommender.Trainers.Training.MultiTaskTrainerOptions.Defaults.RatingWeight), RatingMin, RatingMax);
    }

    /// <summary>The tasks with the trainer's default weights (their label columns and prediction names are what callers need).</summary>
    public TaskDefinition[] ResolveTasks() => ResolveTasks(1, 1, Recommender.Trainers.Training.MultiTaskTrainerOptions.Defaults.RatingWeight);

    /// <summary>Checks rules that need no data: at least one label, a sane rating range, a valid task list.</summary>
    public void Validate()
    {
        if (Tasks is not null)
        {
            if (Click is not null || Conversion is not null || Rating is not null)
                throw new SchemaException("the schema declares tasks and also the click / conversion / rating roles: declare the click, conversion and rating as tasks too, or use the roles alone");
            try { TaskList.Validate(Tasks); }
            catch (ArgumentException e) { throw new SchemaException($"tasks: {e.Message}"); }
        }
        else if (Click is null && Conversion is null && Rating is null && !LabelsOptional)
            throw new SchemaException("schema declares no label: set at least one of click, conversion, rating, or declare tasks");
        if (Conversion is not null && Click is null)
            throw new SchemaException("schema declares a conversion label without a click label: CVR is defined on clicked rows");
        foreach (var sequence in Sequences ?? [])
        {
            if (sequence.Length is < 1 or > 1000) throw new SchemaException($"sequence '{sequence.Column}': length must be in 1..1000, got {sequence.Length}");
            if (sequence.SeparatorChar == SeparatorChar) throw new SchemaException($"sequence '{sequence.Column}': its separator '{sequence.Separator}' is the file's own");
            if (string.IsNullOrEmpty(sequence.Field)) throw new SchemaException($"sequence '{sequence.Column}': name the id or categorical column whose values it lists (field)");
        }
        if ((Sequences ?? []).GroupBy(q => q.Column).FirstOrDefault(q => q.Count() > 1) is { } twice)
            throw new SchemaException($"sequence column '{twice.Key}' is declared twice");
        if (!(RatingMin < RatingMax))
            throw new SchemaException($"ratingMin ({RatingMin}) must be below ratingMax ({RatingMax})");
        _ = SeparatorChar;
    }

    /// <summary>
    /// Binds the roles to the columns of a file with the given header: every named column must exist,
    /// every glob must match, and no column may hold two roles.
    /// </summary>
    public ResolvedSchema Resolve(IReadOnlyList<string> header, string source)
    {
        Validate();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < header.Count; i++)
        {
            if (!index.TryAdd(header[i], i))
                throw new SchemaException($"{source}: column '{header[i]}' appears twice in the header");
        }
        var claimed = new Dictionary<int, string>();
        int Claim(string? name, string role, bool optional = false)
        {
            if (name is null) return -1;
            if (!index.TryGetValue(name, out int i))
            {
                if (optional) return -1;
                throw new SchemaException($"{source}: the {role} column '{name}' is not in the data; columns are: {Preview(header)}");
            }
            if (claimed.TryGetValue(i, out var other) && other != role)
                throw new SchemaException($"{source}: column '{name}' is given two roles: {other} and {role}");
            claimed[i] = role;
            return i;
        }

        int click = Claim(Click, "click"), conversion = Claim(Conversion, "conversion"), rating = Claim(Rating, "rating");
        var taskLabels = (Tasks ?? []).Select(t => Claim(t.Label, $"label of task '{t.Name}'")).ToArray();
        int user = Claim(User, "user"), item = Claim(Item, "item");
        var sequences = (Sequences ?? []).Select(q => Claim(q.Column, "sequence")).ToArray();
        string? groupName = Group ?? User;
        int group = groupName == User ? user : Claim(groupName, "group");
        int time = Claim(Time, "time", optional: LabelsOptional);

        List<int> Expand(List<string> patterns, string role)
        {
            var result = new List<int>();
            foreach (var pattern in patterns)
            {
                if (!pattern.Contains('*'))
                {
                    int i = Claim(pattern, role);
                    if (!result.Contains(i)) result.Add(i);
                    continue;
                }
                int matched = 0;
                for (int i = 0; i < header.Count; i++)
                {
                    if (claimed.ContainsKey(i) || !Glob(pattern, header[i])) continue;
                    claimed[i] = role;
                    result.Add(i);
                    matched++;
                }
                if (matched == 0)
                    throw new SchemaException($"{source}: the {role} pattern '{pattern}' matches no unclaimed column; columns are: {Preview(header)}");
            }
            return result;
        }
        // Explicit names first so a glob cannot steal a column that a later exact name wants.
        var dense = Expand(Dense.Where(p => !p.Contains('*')).ToList(), "dense");
        var categorical = Expand(Categorical.Where(p => !p.Contains('*')).ToList(), "categorical");
        dense.AddRange(Expand(Dense.Where(p => p.Contains('*')).ToList(), "dense"));
        categorical.AddRange(Expand(Categorical.Where(p => p.Contains('*')).ToList(), "categorical"));

        var reserved = new[] { UserColumn, ItemColumn, GroupColumn, TimeColumn, ClickColumn, ConversionColumn, RatingColumn };
        foreach (int i in categorical.Concat(dense))
        {
            if (reserved.Contains(header[i], StringComparer.OrdinalIgnoreCase))
                throw new SchemaException($"{source}: feature column '{header[i]}' collides with the reserved output name of a role; give it a role instead");
        }
        foreach (var q in Sequences ?? [])
        {
            bool known = q.Field == User || q.Field == Item || categorical.Any(i => header[i] == q.Field);
            if (!known) throw new SchemaException($"{source}: sequence '{q.Column}' lists values of '{q.Field}', which is not the user, the item or a categorical column");
        }
        return new ResolvedSchema(this, header.ToArray(), user, item, group == user ? -1 : group, time,
            categorical.ToArray(), dense.ToArray(), click, conversion, rating, taskLabels, sequences);
    }

    private static string Preview(IReadOnlyList<string> header) =>
        string.Join(", ", header.Take(40)) + (header.Count > 40 ? $", ... ({header.Count} in all)" : "");

    /// <summary>Glob match with <c>*</c> as "any run of characters".</summary>
    public static bool Glob(string pattern, string text)
    {
        int p = 0, t = 0, star = -1, mark = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && pattern[p] == text[t]) { p++; t++; }
            else if (p < pattern.Length && pattern[p] == '*') { star = p++; mark = t; }
            else if (star >= 0) { p = star + 1; t = ++mark; }
            else return false;
        }
        while (p < pattern.Length && pattern[p] == '*') p++;
        return p == pattern.Length;
    }
}
