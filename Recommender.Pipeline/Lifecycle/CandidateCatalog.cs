using System.Text.Json;
using Recommender.Pipeline.Data;
using Recommender.Trainers.MatrixFactorization;

namespace Recommender.Pipeline.Lifecycle;

/// <summary>
/// What two-stage recommendation needs besides the network: a one-class matrix factorization of the
/// training clicks (the retrieval stage), each user's and each item's attribute values, the items each user
/// has seen, and defaults for the context columns. A column is a user attribute when it is constant per
/// user in the training data, an item attribute when constant per item; every other column is context,
/// unknown at recommendation time, and takes its most frequent value (categorical) or its mean (dense).
/// </summary>
public sealed class CandidateCatalog
{
    /// <summary>The file name inside a bundle.</summary>
    public const string FileName = "candidates.json";

    /// <summary>User ids, in factor-row order.</summary>
    public List<string> Users { get; set; } = new();
    /// <summary>Item ids, in factor-column order.</summary>
    public List<string> Items { get; set; } = new();
    /// <summary>Factor rank.</summary>
    public int Rank { get; set; }
    /// <summary>User factors, row-major.</summary>
    public float[] UserFactors { get; set; } = [];
    /// <summary>Item factors, row-major.</summary>
    public float[] ItemFactors { get; set; } = [];
    /// <summary>The text columns of a feature row, in the layout the featurization reads.</summary>
    public List<string> TextColumns { get; set; } = new();
    /// <summary>The dense columns of a feature row, in order.</summary>
    public List<string> DenseColumns { get; set; } = new();
    /// <summary>
    /// Which source each text column takes its value from: "user", "item", "user-attribute", "item-attribute", "context", or
    /// for a behaviour sequence's position "user-latest" (the user's history as of their last training row).
    /// </summary>
    public Dictionary<string, string> TextSource { get; set; } = new();
    /// <summary>Which source each dense column takes its value from.</summary>
    public Dictionary<string, string> DenseSource { get; set; } = new();
    /// <summary>Per text column, the value for each user (user attributes) or item (item attributes), by index.</summary>
    public Dictionary<string, List<string>> TextValues { get; set; } = new();
    /// <summary>Per dense column, the value for each user or item, by index.</summary>
    public Dictionary<string, List<float>> DenseValues { get; set; } = new();
    /// <summary>Context defaults.</summary>
    public Dictionary<string, string> TextDefaults { get; set; } = new();
    /// <summary>Context defaults.</summary>
    public Dictionary<string, float> DenseDefaults { get; set; } = new();
    /// <summary>Items each user saw in training, by index.</summary>
    public List<int[]> Seen { get; set; } = new();

    /// <summary>The retrieval stage's factorization: one-class, rank 32, on the interactions.</summary>
    public static MatrixFactorizationOptions RetrievalOptions(int threads) => new()
    {
        LossFunction = LossFunctionType.SquareLossOneClass, ApproximationRank = 32, Alpha = 0.1, C = 0, Lambda = 5, NumberOfIterations = 15,
        NumberOfThreads = threads > 0 ? threads : null,
    };

    /// <summary>Builds the catalog from the training table.</summary>
    public static CandidateCatalog Build(Table train, MatrixFactorizationOptions retrieval)
    {
        var s = train.Schema;
        var users = train.GetText(DatasetSchema.UserColumn);
        var items = train.GetText(DatasetSchema.ItemColumn);
        var catalog = new CandidateCatalog { TextColumns = s.TextColumns.ToList(), DenseColumns = s.DenseFeatures.ToList() };
        var userIndex = new Dictionary<string, int>();
        var itemIndex = new Dictionary<string, int>();
        var u = users.Select(x => userIndex.TryGetValue(x, out int k) ? k : AddIndex(userIndex, catalog.Users, x)).ToArray();
        var i = items.Select(x => itemIndex.TryGetValue(x, out int k) ? k : AddIndex(itemIndex, catalog.Items, x)).ToArray();

        for (int c = 0; c < s.TextColumns.Length; c++)
        {
            string column = s.TextColumns[c];
            if (column == DatasetSchema.UserColumn) { catalog.TextSource[column] = "user"; continue; }
            if (column == DatasetSchema.ItemColumn) { catalog.TextSource[column] = "item"; continue; }
            var values = train.GetText(column);
            if (s.SequenceOfText[c] >= 0)
            {
                // A history is not an attribute and has no sensible default: each user's as of their last row (the file's
                // order, time order for generate's logs); a request's context gives the current one.
                var latest = new string[catalog.Users.Count];
                Array.Fill(latest, "");
                for (int r = 0; r < u.Length; r++) latest[u[r]] = values[r];
                catalog.TextSource[column] = "user-latest";
                catalog.TextValues[column] = [.. latest];
                continue;
            }
            if (Constant(values, u, catalog.Users.Count, string.Equals) is { } perUser) { catalog.TextSource[column] = "user-attribute"; catalog.TextValues[column] = perUser; }
            else if (Constant(values, i, catalog.Items.Count, string.Equals) is { } perItem) { catalog.TextSource[column] = "item-attribute"; catalog.TextValues[column] = perItem; }
            else { catalog.TextSource[column] = "context"; catalog.TextDefaults[column] = values.GroupBy(v => v).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).First().Key; }
        }
        foreach (var column in s.DenseFeatures)
        {
            var values = train.GetNumbers(column);
            static bool Same(float a, float b) => a.Equals(b);
            if (Constant(values, u, catalog.Users.Count, Same) is { } perUser) { catalog.DenseSource[column] = "user-attribute"; catalog.DenseValues[column] = perUser; }
            else if (Constant(values, i, catalog.Items.Count, Same) is { } perItem) { catalog.DenseSource[column] = "item-attribute"; catalog.DenseValues[column] = perItem; }
            else { catalog.DenseSource[column] = "context"; catalog.DenseDefaults[column] = (float)values.Where(v => !float.IsNaN(v)).DefaultIfEmpty(0).Average(v => (double)v); }
        }

        var seen = Enumerable.Range(0, catalog.Users.Count).Select(_ => new HashSet<int>()).ToArray();
        for (int r = 0; r < u.Length; r++) seen[u[r]].Add(i[r]);
        catalog.Seen = seen.Select(x => x.Order().ToArray()).ToList();

        // Retrieval: one-class factorization of the interactions (the clicks, or the first independent binary task's
        // positives; every row when there is no such label), every other pair weakly 0.
        var interaction = s.Schema.ResolveTasks().FirstOrDefault(t => t.Kind == Recommender.Trainers.Network.TaskKind.Binary && t.Given is null && Array.IndexOf(s.NumberColumns, t.Label) >= 0);
        var click = interaction is not null ? train.GetNumbers(interaction.Label) : Enumerable.Repeat(1f, u.Length).ToArray();
        var positives = Enumerable.Range(0, u.Length).Where(r => click[r] == 1).ToArray();
        var model = MatrixFactorizationTrainer.Train(new RatingMatrix(catalog.Users.Count, catalog.Items.Count,
            positives.Select(r => u[r]).ToArray(), positives.Select(r => i[r]).ToArray(), positives.Select(_ => 1f).ToArray()), retrieval);
        catalog.Rank = model.ApproximationRank;
        catalog.UserFactors = model.LeftFactorMatrix;
        catalog.ItemFactors = model.RightFactorMatrix;
        return catalog;
    }

    private static int AddIndex(Dictionary<string, int> index, List<string> list, string value)
    {
        index[value] = list.Count;
        list.Add(value);
        return list.Count - 1;
    }

    // The value per owner when the column is constant per owner, else null.
    private static List<T>? Constant<T>(T[] values, int[] owner, int owners, Func<T, T, bool> same)
    {
        var result = new T[owners];
        var set = new bool[owners];
        for (int r = 0; r < values.Length; r++)
        {
            int o = owner[r];
            if (!set[o]) { result[o] = values[r]; set[o] = true; }
            else if (!same(result[o], values[r])) return null;
        }
        return result.ToList();
    }

    /// <summary>A chunk of feature rows for (user, item) pairs, context columns at their defaults.</summary>
    public TableChunk Rows(IReadOnlyList<(int User, int Item)> pairs)
    {
        var chunk = new TableChunk(TextColumns.Count, DenseColumns.Count, pairs.Count);
        Fill(chunk, TextColumns, DenseColumns, pairs.Select(x => (Users[x.User], x.User, Items[x.Item], x.Item)).ToList());
        chunk.Count = pairs.Count;
        return chunk;
    }

    /// <summary>
    /// Writes the feature rows of (user, item) pairs into <paramref name="chunk"/>, whose columns are named
    /// <paramref name="textColumns"/> and <paramref name="denseColumns"/>: ids as given, user and item attributes from the
    /// catalog (a user or item index of -1, not in the catalog, leaves them empty or missing, so the model's
    /// out-of-vocabulary and imputed values apply), context columns at their defaults.
    /// </summary>
    public void Fill(TableChunk chunk, IReadOnlyList<string> textColumns, IReadOnlyList<string> denseColumns,
        IReadOnlyList<(string User, int UserIndex, string Item, int ItemIndex)> pairs)
    {
        for (int c = 0; c < textColumns.Count; c++)
        {
            string name = textColumns[c];
            string source = TextSource.GetValueOrDefault(name, "context");
            var column = chunk.Text[c];
            for (int r = 0; r < pairs.Count; r++)
            {
                var (user, u, item, i) = pairs[r];
                column[r] = source switch
                {
                    "user" => user, "item" => item,
                    "user-attribute" or "user-latest" => u >= 0 ? TextValues[name][u] : "", "item-attribute" => i >= 0 ? TextValues[name][i] : "",
                    _ => TextDefaults.GetValueOrDefault(name, ""),
                };
            }
        }
        for (int c = 0; c < denseColumns.Count; c++)
        {
            string name = denseColumns[c];
            string source = DenseSource.GetValueOrDefault(name, "context");
            var column = chunk.Numbers[c];
            for (int r = 0; r < pairs.Count; r++)
            {
                var (_, u, _, i) = pairs[r];
                column[r] = source switch
                {
                    "user-attribute" => u >= 0 ? DenseValues[name][u] : float.NaN, "item-attribute" => i >= 0 ? DenseValues[name][i] : float.NaN,
                    _ => DenseDefaults.GetValueOrDefault(name, float.NaN),
                };
            }
        }
    }

    /// <summary>The retrieval model.</summary>
    public MatrixFactorizationModelParameters Retrieval() => MatrixFactorizationModelParameters.Create(Users.Count, Items.Count, Rank, UserFactors, ItemFactors);

    // Missing dense values are NaN, which plain JSON numbers cannot hold.
    private static readonly JsonSerializerOptions Options = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    /// <summary>Saves as JSON (atomically).</summary>
    public void Save(string path) => AtomicFile.Write(path, s => JsonSerializer.Serialize(s, this, Options));

    /// <summary>Loads a saved catalog.</summary>
    public static CandidateCatalog Load(string path)
    {
        using var stream = File.OpenRead(path);
        try { return JsonSerializer.Deserialize<CandidateCatalog>(stream, Options) ?? throw new InvalidDataException($"{path}: empty catalog"); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not a readable candidate catalog ({e.Message.Split(" Path:")[0]})"); }
    }
}
