using System.Text.Json;

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

    /// <summary>Which tasks to learn, and their loss weights.</summary>
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

/// <summary>Task switches and loss weights: <c>alpha * CTR + beta * CVR + gamma * rating</c>.</summary>
public sealed class ExperimentTasks
{
    /// <summary>Weight of the CTR loss (alpha); 0 switches the task off.</summary>
    public float Ctr { get; set; } = 1f;
    /// <summary>Weight of the CVR loss (beta); 0 switches the task off.</summary>
    public float Cvr { get; set; } = 1f;
    /// <summary>Weight of the rating loss (gamma); 0 switches the task off (default 0.1, as the trainer's).</summary>
    public float Rating { get; set; } = Recommender.Trainers.Training.MultiTaskTrainerOptions.Defaults.RatingWeight;
}
