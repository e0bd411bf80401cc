namespace Recommender.Trainers.Evaluation;

/// <summary>Top-K metrics averaged over users, with binary relevance. Users without relevant items are left out and counted.</summary>
public sealed record TopKMetrics(int K, Metric Ndcg, Metric HitRate, Metric Recall, Metric Mrr, int Users, int UsersWithoutRelevant)
{
    /// <summary>
    /// Scores ranked lists (best first) against each user's relevant items. NDCG@K uses gains 1/log2(rank+1)
    /// and the ideal ordering of min(K, |relevant|) hits; MRR is the reciprocal rank of the first relevant item
    /// within the top K (0 when there is none).
    /// </summary>
    public static TopKMetrics Compute<T>(IReadOnlyList<IReadOnlyList<T>> ranked, IReadOnlyList<IReadOnlySet<T>> relevant, int k)
    {
        if (k <= 0) throw new ArgumentOutOfRangeException(nameof(k), "K must be positive");
        if (ranked.Count != relevant.Count) throw new ArgumentException("ranked and relevant differ in length");
        double ndcg = 0, hit = 0, recall = 0, mrr = 0;
        int users = 0, empty = 0;
        for (int u = 0; u < ranked.Count; u++)
        {
            var rel = relevant[u];
            if (rel.Count == 0) { empty++; continue; }
            users++;
            var list = ranked[u];
            double dcg = 0, hits = 0, firstRank = 0;
            for (int i = 0; i < Math.Min(k, list.Count); i++)
            {
                if (!rel.Contains(list[i])) continue;
                dcg += 1 / Math.Log2(i + 2);
                hits++;
                if (firstRank == 0) firstRank = i + 1;
            }
            double idcg = 0;
            for (int i = 0; i < Math.Min(k, rel.Count); i++) idcg += 1 / Math.Log2(i + 2);
            ndcg += dcg / idcg;
            hit += hits > 0 ? 1 : 0;
            recall += hits / rel.Count;
            mrr += firstRank > 0 ? 1 / firstRank : 0;
        }
        Metric Mean(double total) => users == 0 ? Metric.Undefined("no user has a relevant item") : new Metric(total / users);
        return new TopKMetrics(k, Mean(ndcg), Mean(hit), Mean(recall), Mean(mrr), users, empty);
    }
}
