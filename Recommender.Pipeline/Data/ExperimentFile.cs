using System.Text.Json;
using System.Text.Json.Serialization;
using Recommender.Trainers.Network;

namespace Recommender.Pipeline.Data;

/// <summary>
/// One file that describes a whole experiment, in Model Builder's spirit: where the data is, the role of
/// every column, which tasks to learn with which weights, and the trainer's options. Relative paths
/// are resolved against the experiment file's folder.
/// </summary>
public sealed class ExperimentFile
{
    /// <summary>Where the data is.</summary>
    public ExperimentData Data { get; set; } = new();

    /// <summary>The column roles, inline.</summary>
    public DatasetSchema? Schema { get; set; }

    /// <summary>The column roles, as a separate schema file (used when <see cref="Schema"/> is absent).</summary>
    public string? SchemaFile { get; set; }

    /// <summary>
    /// Which tasks to learn: an array of task declarations (see <see cref="TaskDefinition"/>), or an object of the
    /// default chain's loss weights (<c>{"ctr": 1, "cvr": 1, "rating": 0.1}</c>).
    /// </summary>
    public ExperimentTasks Tasks { get; set; } = new();

    /// <summary>Trainer options, passed to the trainer as they are (its Options field names, case-insensitive).</summary>
    public Dictionary<string, JsonElement>? Trainer { get; set; }

    /// <summary>The folder relative paths are resolved against.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string BaseDirectory { get; private set; } = ".";

    /// <summary>Reads and checks an experiment file.</summary>
    public static ExperimentFile Load(string path)
    {
        var experiment = JsonFile.Read<ExperimentFile>(path);
        experiment.BaseDirectory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (experiment.Data.Train is null) throw new SchemaException($"{path}: data.train is required");
        if (experiment.Schema is null && experiment.SchemaFile is null)
            throw new SchemaException($"{path}: give the column roles as 'schema' (inline) or 'schemaFile'");
        return experiment;
    }

    /// <summary>The dataset schema (inline, or read from <see cref="SchemaFile"/>).</summary>
    public DatasetSchema ResolveSchema() => Schema ?? DatasetSchema.Load(Resolve(SchemaFile)!);

    /// <summary>A path relative to the experiment file.</summary>
    public string? Resolve(string? path) => path is null ? null : Path.GetFullPath(Path.Combine(BaseDirectory, path));
}

/// <summary>The data files of an experiment.</summary>
public sealed class ExperimentData
{
    /// <summary>Training data (required).</summary>
    public string? Train { get; set; }
    /// <summary>Validation data for early stopping and tuning.</summary>
    public string? Valid { get; set; }
    /// <summary>Held-out test data.</summary>
    public string? Test { get; set; }
    /// <summary>Ali-CCP raw only: the common-features file (default: the one beside the skeleton).</summary>
    public string? CommonFeatures { get; set; }
}

/// <summary>
/// The tasks of an experiment: declared as an array, or the default chain's loss weights as an object
/// (<c>alpha * CTR + beta * CVR + gamma * rating</c>).
/// </summary>
[JsonConverter(typeof(ExperimentTasksConverter))]
public sealed class ExperimentTasks
{
    /// <summary>Weight of the CTR loss (alpha); 0 switches the task off.</summary>
    public float Ctr { get; set; } = 1f;
    /// <summary>Weight of the CVR loss (beta); 0 switches the task off.</summary>
    public float Cvr { get; set; } = 1f;
    /// <summary>Weight of the rating loss (gamma); 0 switches the task off (default 0.1, as the trainer's).</summary>
    public float Rating { get; set; } = Recommender.Trainers.Training.MultiTaskTrainerOptions.Defaults.RatingWeight;
    /// <summary>The declared tasks, when the file gives an array.</summary>
    [JsonIgnore]
    public List<TaskDefinition>? Declared { get; set; }
}

/// <summary>Reads <c>"tasks"</c> as an array of declarations or an object of weights.</summary>
internal sealed class ExperimentTasksConverter : JsonConverter<ExperimentTasks>
{
    private sealed class Weights
    {
        public float Ctr { get; set; } = 1f;
        public float Cvr { get; set; } = 1f;
        public float Rating { get; set; } = Recommender.Trainers.Training.MultiTaskTrainerOptions.Defaults.RatingWeight;
    }

    public override ExperimentTasks Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.StartArray)
            return new ExperimentTasks { Declared = JsonSerializer.Deserialize<List<TaskDefinition>>(ref reader, options) };
        var w = JsonSerializer.Deserialize<Weights>(ref reader, options) ?? new Weights();
        return new ExperimentTasks { Ctr = w.Ctr, Cvr = w.Cvr, Rating = w.Rating };
    }

    public override void Write(Utf8JsonWriter writer, ExperimentTasks value, JsonSerializerOptions options)
    {
        if (value.Declared is { } declared) JsonSerializer.Serialize(writer, declared, options);
        else JsonSerializer.Serialize(writer, new Weights { Ctr = value.Ctr, Cvr = value.Cvr, Rating = value.Rating }, options);
    }
}
