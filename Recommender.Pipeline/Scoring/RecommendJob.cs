using System.Globalization;
using Recommender.Pipeline.Lifecycle;
using Recommender.Trainers.MatrixFactorization;
using Recommender.Trainers.Network;
using Recommender.Trainers.Runtime;

namespace Recommender.Pipeline.Scoring;

/// <summary>What a recommendation run did.</summary>
public sealed record RecommendSummary(int Users, int UnknownUsers, long Rows, double Seconds, string Output);

/// <summary>One user's recommendations: catalog item indices in rank order, each with its predictions, rank score and propensity.</summary>
public sealed record UserRecommendations(int User, int[] Items, float[][] Predictions, double[] Scores, double[] Propensities);

/// <summary>
/// Two-stage recommendation: matrix-factorization retrieval of the top N candidates per user over all items
/// (optionally without the items the user has seen), then the bundle's model scores every (user, candidate) row —
/// user and item attributes from the catalog, context at its defaults — and the ranking formula orders them; the top
/// K are written as user, rank, item and the scores.
/// </summary>
public static class RecommendJob
{
    /// <summary>Runs it for <paramref name="users"/> (null = every user of the catalog).</summary>
    public static RecommendSummary Run(string bundle, IReadOnlyList<string>? users, int k, int candidates, bool excludeSeen, string? ranking, string output,
        ExecutionDevice device = ExecutionDevice.Auto, int threads = 0, bool verifyHashes = true, ExplorationPolicy? policy = null, int policySeed = 1)
    {
        if (k < 1 || candidates < k) throw new ArgumentException($"need 1 <= k <= candidates, got k {k}, candidates {candidates}");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var verified = ModelBundle.Open(bundle, verifyHashes);
        using var outputLock = WriterLock.Acquire(output, wait: false);
        var catalog = Catalog(verified);
        var index = catalog.Users.Select((u, i) => (u, i)).ToDictionary(x => x.u, x => x.i);
        var wanted = users ?? catalog.Users;
        var known = wanted.Where(index.ContainsKey).Select(u => index[u]).ToArray();
        long rows = 0;
        var inv = CultureInfo.InvariantCulture;
        AtomicFile.WriteText(output, w =>
        {
            w.Write($"UserId,Rank,ItemId,{string.Join(',', verified.Metadata.OnnxOutputs)},RankScore,Propensity\n");
            foreach (var r in Recommend(verified, catalog, known, k, candidates, excludeSeen, ranking, device, threads, policy, policySeed))
            {
                for (int rank = 0; rank < r.Items.Length; rank++)
                {
                    w.Write($"{catalog.Users[r.User]},{rank + 1},{catalog.Items[r.Items[rank]]},{string.Join(',', r.Predictions[rank].Select(v => v.ToString("R", inv)))},{r.Scores[rank].ToString("R", inv)},{r.Propensities[rank].ToString("R", inv)}\n");
                    rows++;
                }
            }
        });
        return new RecommendSummary(known.Length, wanted.Count - known.Length, rows, clock.Elapsed.TotalSeconds, output);
    }

    /// <summary>The bundle's candidate catalog, or an error saying the bundle has none.</summary>
    public static CandidateCatalog Catalog(ModelBundle bundle) => bundle.Manifest.Files.Any(f => f.Name == CandidateCatalog.FileName)
        ? CandidateCatalog.Load(bundle.PathOf(CandidateCatalog.FileName))
        : throw new InvalidDataException($"{bundle.Directory}: this bundle has no candidate catalog (train with user and item roles)");

    /// <summary>
    /// The top <paramref name="k"/> of each of <paramref name="users"/> (catalog indices), in batches of users: <paramref name="candidates"/>
    /// retrieved, scored by the bundle and ordered by <paramref name="ranking"/> (null: <see cref="TaskList.DefaultRanking"/>) through the policy.
    /// </summary>
    public static IEnumerable<UserRecommendations> Recommend(ModelBundle bundle, CandidateCatalog catalog, IReadOnlyList<int> users, int k, int candidates, bool excludeSeen,
        string? ranking, ExecutionDevice device = ExecutionDevice.Auto, int threads = 0, ExplorationPolicy? policy = null, int policySeed = 1)
    {
        if (k < 1 || candidates < k) throw new ArgumentException($"need 1 <= k <= candidates, got k {k}, candidates {candidates}");
        policy ??= ExplorationPolicy.Greedy;
        var formula = RankingFormula.Parse(ranking ?? TaskList.DefaultRanking(bundle.Metadata.ResolveTasks()), bundle.Metadata.OnnxOutputs, catalog.DenseColumns);
        int outputs = bundle.Metadata.OnnxOutputs.Count;
        var retrieval = new TopNRetrieval(catalog.Retrieval());
        const int usersPerBatch = 64;
        // No user has more candidates than the catalog has items.
        candidates = Math.Min(candidates, Math.Max(k, catalog.Items.Count));
        using var scorer = BundleScorer.Open(bundle, (int)Math.Min(BatchedInference.DefaultBatchSize, (long)usersPerBatch * candidates), new RuntimeOptions { Device = device, Threads = threads });
        var seen = catalog.Seen.Select(s => (IReadOnlySet<int>)s.ToHashSet()).ToArray();
        var inv = CultureInfo.InvariantCulture;
        for (int start = 0; start < users.Count; start += usersPerBatch)
        {
            var batchUsers = users.Skip(start).Take(usersPerBatch).ToArray();
            var top = retrieval.Recommend(batchUsers, candidates, excludeSeen ? u => seen[u] : null, threads);
            var pairs = new List<(int User, int Item)>();
            for (int b = 0; b < batchUsers.Length; b++) foreach (int item in top[b].Items) pairs.Add((batchUsers[b], item));
            var chunk = catalog.Rows(pairs);
            var predictions = scorer.Predict(chunk, catalog.TextColumns, catalog.DenseColumns);
            int offset = 0;
            for (int b = 0; b < batchUsers.Length; b++)
            {
                int count = top[b].Items.Length;
                var scores = Enumerable.Range(offset, count).Select(r => formula.Evaluate(predictions.AsSpan(r * outputs, outputs), chunk.Numbers, r)).ToArray();
                // Ties go to the smaller item index, as before policies: a zero-padded index orders like the index.
                var order = Enumerable.Range(offset, count).Select(r => pairs[r].Item.ToString("D10", inv)).ToArray();
                // One random stream per user, so a user's list does not depend on who else is in the batch.
                var shown = policy.Choose(scores, order, k, new Random(unchecked(policySeed * 1_000_003 + batchUsers[b])));
                yield return new UserRecommendations(batchUsers[b],
                    shown.Select(s => pairs[offset + s.Index].Item).ToArray(),
                    shown.Select(s => predictions.AsSpan((offset + s.Index) * outputs, outputs).ToArray()).ToArray(),
                    shown.Select(s => scores[s.Index]).ToArray(),
                    shown.Select(s => s.Propensity).ToArray());
                offset += count;
            }
        }
    }
}
