using System.CommandLine;
using Recommender.Pipeline.Data;

namespace Recommender.Pipeline.Cli;

/// <summary>The options that say how to read data: a schema file, an experiment file, or the roles as flags.</summary>
internal sealed class SchemaArguments
{
    public readonly Option<FileInfo?> Schema = new("--schema") { Description = "Schema file (JSON) giving every column a role" };
    public readonly Option<FileInfo?> Experiment = new("--experiment") { Description = "Experiment file (JSON): data, schema, tasks and trainer options" };
    public readonly Option<DataFormat?> Format = new("--format") { Description = "Csv, Tsv, AliCcpRaw, MovieLens or Parquet (overrides the schema's)" };
    public readonly Option<string?> Separator = new("--separator") { Description = "Field separator for delimited text" };
    public readonly Option<string?> User = new("--user") { Description = "User id column" };
    public readonly Option<string?> Item = new("--item") { Description = "Item id column" };
    public readonly Option<string?> Group = new("--group") { Description = "GAUC grouping column (default: the user column)" };
    public readonly Option<string?> Time = new("--time") { Description = "Event time column (Unix seconds or milliseconds; not a feature): lets calendar fields such as a weekday be counted in days (see --min-days)" };
    public readonly Option<string[]> Categorical = new("--categorical") { Description = "Categorical columns (names or * globs; comma-separated or repeated)", AllowMultipleArgumentsPerToken = true };
    public readonly Option<string[]> Dense = new("--dense") { Description = "Dense columns (names or * globs)", AllowMultipleArgumentsPerToken = true };
    public readonly Option<string?> Click = new("--click") { Description = "Click label column (0/1)" };
    public readonly Option<string?> Conversion = new("--conversion") { Description = "Conversion label column (0/1)" };
    public readonly Option<string?> Rating = new("--rating") { Description = "Rating label column" };
    public readonly Option<float?> RatingMin = new Option<float?>("--rating-min") { Description = "Smallest allowed rating" }.Finite();
    public readonly Option<float?> RatingMax = new Option<float?>("--rating-max") { Description = "Largest allowed rating" }.Finite();
    public readonly Option<string[]> Task = new("--task") { Description = "A task, repeatable: name:label:kind[:given], kind binary or regression[min..max] (e.g. --task click:click:binary --task cart:cart:binary:click); replaces the click / conversion / rating roles" };
    public readonly Option<bool> SkipBadRows = new("--skip-bad-rows") { Description = "Skip malformed rows, counting and reporting them, instead of failing" };
    public readonly Option<InconsistentRowPolicy?> OnInconsistent = new("--on-inconsistent") { Description = "Rows with a label 1 where the task it is given is 0 (conversion=1, click=0): Drop (counted) or Fail" };
    public readonly Option<FileInfo?> CommonFeatures = new("--common-features") { Description = "Ali-CCP raw: the common_features file (default: beside the skeleton)" };

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Schema, Experiment, Format, Separator, User, Item, Group, Time, Categorical, Dense, Click, Conversion, Rating, RatingMin, RatingMax, Task, SkipBadRows, OnInconsistent, CommonFeatures })
            command.Options.Add(o);
    }

    /// <summary>The schema: from the file or experiment if given, with every flag overriding its field.</summary>
    public DatasetSchema Build(ParseResult result, out ExperimentFile? experiment, DatasetSchema? folderSchema = null)
    {
        experiment = null;
        DatasetSchema schema;
        if (folderSchema is not null)
        {
            // --data DIR: its schema.json is the base, and the role options change it as they change a --schema file.
            if (result.GetValue(Experiment) is not null || result.GetValue(Schema) is not null)
                throw new SchemaException("--data DIR brings its own schema.json: give --schema or --experiment with --train FILE instead, or change the folder's schema with the role options");
            schema = folderSchema;
        }
        else if (result.GetValue(Experiment) is { } e)
        {
            experiment = ExperimentFile.Load(e.FullName);
            schema = experiment.ResolveSchema();
            if (experiment.Tasks.Declared is { } declared)
            {
                if (schema.Tasks is not null) throw new SchemaException($"{e.FullName}: tasks are declared in both the experiment and its schema; declare them once");
                schema.Tasks = [.. declared];
            }
        }
        else if (result.GetValue(Schema) is { } s) schema = DatasetSchema.Load(s.FullName);
        else schema = new DatasetSchema();

        if (result.GetValue(Format) is { } format) schema.Format = format;
        if (result.GetValue(Separator) is { } sep) schema.Separator = sep;
        if (result.GetValue(User) is { } user) schema.User = user;
        if (result.GetValue(Item) is { } item) schema.Item = item;
        if (result.GetValue(Group) is { } group) schema.Group = group;
        if (result.GetValue(Time) is { } time) schema.Time = time;
        if (result.GetValue(Categorical) is { Length: > 0 } cat) schema.Categorical = Split(cat);
        if (result.GetValue(Dense) is { Length: > 0 } dense) schema.Dense = Split(dense);
        if (result.GetValue(Click) is { } click) schema.Click = click;
        if (result.GetValue(Conversion) is { } conv) schema.Conversion = conv;
        if (result.GetValue(Rating) is { } rating) schema.Rating = rating;
        if (result.GetValue(RatingMin) is { } min) schema.RatingMin = min;
        if (result.GetValue(RatingMax) is { } max) schema.RatingMax = max;
        if (result.GetValue(Task) is { Length: > 0 } tasks)
        {
            try { schema.Tasks = tasks.Select(Recommender.Trainers.Network.TaskDefinition.Parse).ToList(); }
            catch (ArgumentException error) { throw new SchemaException($"--task: {error.Message}"); }
        }
        if (result.GetValue(SkipBadRows)) schema.SkipBadRows = true;
        if (result.GetValue(OnInconsistent) is { } policy) schema.OnInconsistent = policy;
        if (schema.Format == DataFormat.MovieLens && schema.Rating is null && schema.Click is null) return schema; // preset fills roles per file
        schema.Validate();
        return schema;
    }

    public string? CommonFeaturesPath(ParseResult result, ExperimentFile? experiment) =>
        result.GetValue(CommonFeatures)?.FullName ?? experiment?.Resolve(experiment.Data.CommonFeatures);

    private static List<string> Split(string[] values) =>
        values.SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
}
