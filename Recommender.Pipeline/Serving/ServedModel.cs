using System.Text.Json;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Lifecycle;
using Recommender.Pipeline.Scoring;
using Recommender.Trainers.MatrixFactorization;
using Recommender.Trainers.Runtime;

using Recommender.Trainers.Network;

namespace Recommender.Pipeline.Serving;

/// <summary>
/// One model version loaded for serving: the verified bundle, its scorer behind a <see cref="MicroBatcher"/>, its
/// request columns and, when the bundle has one, the candidate catalog for two-stage recommendation. Requests hold
/// a lease while they use it; a version swapped out is disposed when its last lease is released, so in-flight
/// requests finish on the version they started with.
/// </summary>
public sealed class ServedModel : IDisposable
{
    private readonly BundleScorer _scorer;
    private readonly Dictionary<string, int> _users = new(StringComparer.Ordinal), _items = new(StringComparer.Ordinal);
    private readonly HashSet<int>[] _seen = [];
    private int _leases = 1; // the host's own
    private int _disposed;

    private ServedModel(ModelBundle bundle, BundleScorer scorer, ServingOptions options)
    {
        Bundle = bundle;
        _scorer = scorer;
        Columns = new ModelColumns(scorer.InputSchema, bundle.Metadata.Schema);
        DefaultChain = TaskList.DefaultPredictions.Select(scorer.OutputIndex).ToArray();
        DefaultRecommendRanking = TaskList.DefaultRanking(bundle.Metadata.ResolveTasks());
        Batcher = new MicroBatcher(scorer, Columns.TextColumns, Columns.NumberColumns, options.MicroBatching ? options.MaxBatchRows : 1, options.MaxWaitMicroseconds);
        if (bundle.Manifest.Files.Any(f => f.Name == CandidateCatalog.FileName))
        {
            Catalog = CandidateCatalog.Load(bundle.PathOf(CandidateCatalog.FileName));
            Retrieval = new TopNRetrieval(Catalog.Retrieval());
            for (int i = 0; i < Catalog.Users.Count; i++) _users[Catalog.Users[i]] = i;
            for (int i = 0; i < Catalog.Items.Count; i++) _items[Catalog.Items[i]] = i;
            _seen = Catalog.Seen.Select(s => s.ToHashSet()).ToArray();
        }
    }

    /// <summary>The verified bundle.</summary>
    public ModelBundle Bundle { get; }
    /// <summary>The version's name (<c>vN</c>, or the folder's name for a fixed bundle).</summary>
    public string Version => Path.GetFileName(Bundle.Directory);
    /// <summary>The prediction columns, in the order of each row's predictions.</summary>
    public IReadOnlyList<string> Outputs => _scorer.Outputs;
    /// <summary>Positions of the default chain's PCtr, PCvr, PCtcvr and PredictedRating in a row's predictions (-1 where the model has none).</summary>
    public int[] DefaultChain { get; }
    /// <summary>The ranking of /v1/score without one: the first prediction (PCtr for the default chain).</summary>
    public string DefaultScoreRanking => Outputs[0];
    /// <summary>The ranking of /v1/recommend without one (see <see cref="TaskList.DefaultRanking"/>).</summary>
    public string DefaultRecommendRanking { get; }

    /// <summary>The default chain's prediction <paramref name="which"/> (0 PCtr .. 3 PredictedRating) of a row, NaN where the model has none.</summary>
    public float DefaultChainValue(ReadOnlySpan<float> row, int which) => DefaultChain[which] < 0 ? float.NaN : row[DefaultChain[which]];

    /// <summary>A row's predictions by name.</summary>
    public Dictionary<string, float> Named(ReadOnlySpan<float> row)
    {
        var named = new Dictionary<string, float>(Outputs.Count, StringComparer.Ordinal);
        for (int i = 0; i < Outputs.Count; i++) named[Outputs[i]] = row[i];
        return named;
    }

    /// <summary>The columns requests give.</summary>
    public ModelColumns Columns { get; }
    /// <summary>The batcher in front of the network.</summary>
    public MicroBatcher Batcher { get; }
    /// <summary>The candidate catalog, when the model was trained with user and item roles.</summary>
    public CandidateCatalog? Catalog { get; }
    /// <summary>Retrieval over all items.</summary>
    public TopNRetrieval? Retrieval { get; }

    /// <summary>Opens, verifies and warms a bundle (every power-of-two batch size up to the largest batch runs once).</summary>
    public static ServedModel Load(string bundle, ServingOptions options, Action<int>? batchObserved = null)
    {
        var verified = ModelBundle.Open(bundle, options.VerifyHashes);
        var scorer = BundleScorer.Open(verified, Math.Max(options.MaxBatchRows, 1024), new RuntimeOptions { Device = options.Device, Threads = options.Threads, AllowSpinning = options.AllowSpinning },
            options.CompiledFeaturization);
        var model = new ServedModel(verified, scorer, options);
        try
        {
            // Straight on the scorer (the worker has no work yet): no thread-pool wake-up to wait for while loading
            // beside a busy service.
            for (int rows = 1; rows <= scorer.Inference.BatchSize; rows *= 2) scorer.Predict(model.Columns.Empty(rows), model.Columns.TextColumns, model.Columns.NumberColumns);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        // The warm-up's batches are not traffic: the observer is attached after it.
        model.Batcher.BatchObserved = batchObserved;
        return model;
    }

    /// <summary>Takes a lease (false once the version is retired and drained).</summary>
    public bool TryAcquire()
    {
        while (true)
        {
            int n = Volatile.Read(ref _leases);
            if (n == 0) return false;
            if (Interlocked.CompareExchange(ref _leases, n + 1, n) == n) return true;
        }
    }

    /// <summary>Returns a lease; the last one out disposes a retired version.</summary>
    public void Release()
    {
        if (Interlocked.Decrement(ref _leases) == 0) Dispose();
    }

    /// <summary>The user's index in the catalog, or -1.</summary>
    public int UserIndex(string user) => _users.TryGetValue(user, out int i) ? i : -1;
    /// <summary>The item's index in the catalog, or -1.</summary>
    public int ItemIndex(string item) => _items.TryGetValue(item, out int i) ? i : -1;
    /// <summary>The items a user saw in training.</summary>
    public IReadOnlySet<int> Seen(int user) => _seen[user];

    /// <summary>
    /// The feature rows of (user, item) for each item: user and item attributes from the catalog (unknown ones
    /// empty or missing, so the model's out-of-vocabulary and imputed values apply), context from
    /// <paramref name="context"/> where given, else the catalog's defaults.
    /// </summary>
    public TableChunk CandidateRows(string user, IReadOnlyList<string> items, JsonElement? context)
    {
        var catalog = Catalog ?? throw new RequestException(409, "user", "this model has no candidate catalog (trained without user and item roles): use /v1/score");
        var chunk = Columns.Empty(items.Count);
        int u = UserIndex(user);
        catalog.Fill(chunk, Columns.TextColumns, Columns.NumberColumns, items.Select(item => (user, u, item, ItemIndex(item))).ToList());
        if (context is { } given)
        {
            if (given.ValueKind != JsonValueKind.Object) throw new RequestException(400, "context", "context must be an object of column values");
            for (int r = 0; r < items.Count; r++) Columns.Fill(chunk, r, given, "context", requireIds: false);
        }
        return chunk;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        Batcher.Dispose();
        _scorer.Dispose();
    }
}
