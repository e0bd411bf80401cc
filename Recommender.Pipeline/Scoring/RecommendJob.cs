using System.Globalization;
using System.Text;
using Microsoft.ML;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Lifecycle;
using Recommender.Trainers.MatrixFactorization;
using Recommender.Trainers.Runtime;

using Recommender.Trainers.Network;

namespace Recommender.Pipeline.Scoring;

/// <summary>What a recommendation run did.</summary>
public sealed record RecommendSummary(int Users, int UnknownUsers, long Rows, double Seconds, string Output);

/// <summary>
/// Two-stage recommendation: matrix-factorization retrieval of the top N candidates per user over all items
/// (optionally without the items the user has seen), then the multi-task network scores every (user,
/// candidate) row — user and item attributes from the catalog, context at its defaults — and the ranking
/// formula orders them; the top K are written as user, rank, item and the scores.
/// </summary>
public static class RecommendJob
{
    /// <summary>Runs it for <paramref name="users"/> (null = every user of the catalog).</summary>
    public static RecommendSummary Run(string bundle, IReadOnlyList<string>? users, int k, int candidates, bool excludeSeen, string? ranking, string output,
        ExecutionDevice device = ExecutionDevice.Auto, int threads = 0, bool verifyHashes = true, ExplorationPolicy? policy = null, int policySeed = 1)
    {
        if (k < 1 || candidates < k) throw new ArgumentException($"need 1 <= k <= candidates, got k {k}, candidates {candidates}");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        policy ??= ExplorationPolicy.Greedy;
        var verified = ModelBundle.Open(bundle, verifyHashes);
        using var outputLock = WriterLock.Acquire(output, wait: false);
        string catalogPath = verified.PathOf(CandidateCatalog.FileName);
        if (!verified.Manifest.Files.Any(f => f.Name == CandidateCatalog.FileName))
            throw new InvalidDataException($"{verified.Directory}: this bundle has no candidate catalog (train with user and item roles)");
        var catalog = CandidateCatalog.Load(catalogPath);
        var formula = RankingFormula.Parse(ranking ?? TaskList.DefaultRanking(verified.Metadata.ResolveTasks()), verified.Metadata.OnnxOutputs, catalog.DenseColumns);
        int outputs = verified.Metadata.OnnxOutputs.Count;
        var retrieval = new TopNRetrieval(catalog.Retrieval());
        var index = catalog.Users.Select((u, i) => (u, i)).ToDictionary(x => x.u, x => x.i);
        var wanted = users ?? catalog.Users;
        var known = wanted.Where(index.ContainsKey).Select(u => index[u]).ToArray();
        int unknown = wanted.Count - known.Length;
        const int usersPerBatch = 64;
        using var scorer = BundleScorer.Open(verified, Math.Min(8192, usersPerBatch * candidates), new RuntimeOptions { Device = device, Threads = threads });
        var seen = catalog.Seen.Select(s => (IReadOnlySet<int>)s.ToHashSet()).ToArray();
        long rows = 0;
        var inv = CultureInfo.InvariantCulture;
        AtomicFile.WriteText(output, w =>
        {
            w.Write($"UserId,Rank,ItemId,{string.Join(',', verified.Metadata.OnnxOutputs)},RankScore,Propensity\n");
            for (int start = 0; start < known.Length; start += usersPerBatch)
            {
                var batchUsers = known[start..Math.Min(known.Length, start + usersPerBatch)];
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
                    for (int rank = 0; rank < shown.Length; rank++)
                    {
                        int r = offset + shown[rank].Index;
                        var p = predictions.AsSpan(r * outputs, outputs).ToArray();
                        w.Write($"{catalog.Users[batchUsers[b]]},{rank + 1},{catalog.Items[pairs[r].Item]},{string.Join(',', p.Select(v => v.ToString("R", inv)))},{scores[shown[rank].Index].ToString("R", inv)},{shown[rank].Propensity.ToString("R", inv)}\n");
                        rows++;
                    }
                    offset += count;
                }
            }
        });
        return new RecommendSummary(known.Length, unknown, rows, clock.Elapsed.TotalSeconds, output);
    }
}
