using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Recommender.Pipeline.Data;
using Recommender.Trainers.Evaluation;
using Recommender.Trainers.MatrixFactorization;

namespace Recommender.Pipeline.Benchmarks;

/// <summary>
/// <c>bench mf</c> on MovieLens ratings. Split, exactly: the rows of ratings.csv in file order are indexed
/// 0..n-1, the indices are shuffled by <c>new System.Random(42).Shuffle</c>, the first 80% (rounded down) train
/// and the rest test. Users and items are indexed over the training part; test ratings of a user or item
/// never seen in training are left out of the RMSE and counted. Top-N: leave-last-out (each user's latest
/// rating by timestamp held out, ties by file order), the model retrained on the rest, all items ranked
/// except the user's training items.
/// </summary>
public static class MatrixFactorizationBenchmark
{
    /// <summary>The settings compared: ML.NET's defaults and a tuned one.</summary>
    public static readonly (string Name, MatrixFactorizationOptions Options)[] Settings =
    [
        ("default (rank 8, lambda 0.1, lr 0.1, 20 iterations)", new MatrixFactorizationOptions()),
        ("tuned (rank 16, lambda 0.05, lr 0.05, 40 iterations)", new MatrixFactorizationOptions { ApproximationRank = 16, Lambda = 0.05, LearningRate = 0.05, NumberOfIterations = 40 }),
    ];

    /// <summary>The one-class setting used for leave-last-out ranking.</summary>
    public static readonly MatrixFactorizationOptions OneClass = new()
    {
        LossFunction = LossFunctionType.SquareLossOneClass, ApproximationRank = 32, Alpha = 0.1, C = 0, Lambda = 5, NumberOfIterations = 15,
    };

    /// <summary>Runs the benchmark on a ratings file.</summary>
    public static JsonObject Run(string ratingsPath, int threads)
    {
        var table = DataLoader.Load(new DatasetSchema { Format = DataFormat.MovieLens }, ratingsPath);
        var users = table.GetText("UserId");
        var items = table.GetText("ItemId");
        var ratings = table.GetNumbers("Rating");
        var time = table.GetNumbers("timestamp");
        int n = users.Length;
        var order = Enumerable.Range(0, n).ToArray();
        new Random(42).Shuffle(order);
        int trainCount = (int)(n * 0.8);
        var (train, userIndex, itemIndex) = Index(order[..trainCount], users, items, ratings);
        var testRows = order[trainCount..];
        var test = Subset(testRows.Where(r => userIndex.ContainsKey(users[r]) && itemIndex.ContainsKey(items[r])).ToArray(), users, items, ratings, userIndex, itemIndex);
        int unknown = testRows.Length - test.Count;
        double mean = train.Values.Average(v => (double)v);
        double meanRmse = Math.Sqrt(test.Values.Average(v => (v - mean) * (v - mean)));

        var settings = new JsonArray();
        MatrixFactorizationModelParameters? model = null;
        foreach (var (name, options) in Settings)
        {
            options.NumberOfThreads = threads;
            // Best of three, each solver's code warmed up by the first: the figure is the solver, not the JIT.
            (model, double seconds) = BestOfThree(() => MatrixFactorizationTrainer.Train(train, options));
            // The same-run reference: the same SGD as a straightforward loop (one thread, ratings in a shuffled order, scalar).
            var ((rp, rq), referenceSeconds) = BestOfThree(() => StraightforwardSgd(train, options));
            var reference = MatrixFactorizationModelParameters.Create(train.Rows, train.Columns, options.ApproximationRank, rp, rq);
            double Rmse(MatrixFactorizationModelParameters m) =>
                RegressionMetrics.Rmse(Enumerable.Range(0, test.Count).Select(i => m.Score(test.RowIndex[i], test.ColumnIndex[i])).ToArray(), test.Values).Value;
            double rmse = Rmse(model), referenceRmse = Rmse(reference);
            settings.Add(new JsonObject
            {
                ["setting"] = name, ["train_seconds"] = Math.Round(seconds, 3), ["test_rmse"] = Math.Round(rmse, 4),
                ["reference_seconds"] = Math.Round(referenceSeconds, 3), ["reference_test_rmse"] = Math.Round(referenceRmse, 4),
                ["train_over_reference"] = Math.Round(referenceSeconds / seconds, 2),
            });
        }

        // Retrieval speed: top 100 over all items for every user, repeated.
        var retrieval = new TopNRetrieval(model!);
        var everyone = Enumerable.Range(0, model!.NumberOfRows).ToArray();
        retrieval.Recommend(everyone, 100, threads: threads);
        var timer = Stopwatch.StartNew();
        int rounds = 0;
        while (timer.Elapsed.TotalSeconds < 2) { retrieval.Recommend(everyone, 100, threads: threads); rounds++; }
        double usersPerSecond = rounds * everyone.Length / timer.Elapsed.TotalSeconds;

        return new JsonObject
        {
            ["benchmark"] = "mf",
            ["data"] = Path.GetFileName(ratingsPath), ["ratings"] = n, ["train_ratings"] = train.Count, ["test_ratings_scored"] = test.Count,
            ["test_ratings_unknown_user_or_item"] = unknown, ["threads"] = threads,
            ["split"] = "ratings.csv rows shuffled by new Random(42).Shuffle, first 80% train",
            ["global_mean_rmse"] = Math.Round(meanRmse, 4),
            ["settings"] = settings,
            ["retrieval_users_per_s"] = Math.Round(usersPerSecond), ["retrieval_items"] = model.NumberOfColumns, ["retrieval_n"] = 100,
            ["leave_last_out"] = LeaveLastOut(users, items, ratings, time, threads),
        };
    }

    // The result of the fastest of three runs, and its seconds.
    private static (T Result, double Seconds) BestOfThree<T>(Func<T> run)
    {
        (T Result, double Seconds) best = (default!, double.MaxValue);
        for (int i = 0; i < 3; i++)
        {
            var clock = Stopwatch.StartNew();
            var result = run();
            if (clock.Elapsed.TotalSeconds < best.Seconds) best = (result, clock.Elapsed.TotalSeconds);
        }
        return best;
    }

    /// <summary>
    /// The solver's SGD (LIBMF's: squared loss, L2, ratings and lambda divided by the ratings' deviation, per row and per
    /// column two adaptive rates eta / sqrt(G) with G from 1, for the first 8 factors and for the rest) as a
    /// straightforward loop: one thread, every rating once per iteration in one shuffled order, scalar arithmetic: what the
    /// blocked, vectorized, threaded solver is measured against in the same run.
    /// </summary>
    internal static (float[] P, float[] Q) StraightforwardSgd(RatingMatrix data, MatrixFactorizationOptions o)
    {
        int k = o.ApproximationRank, slow = Math.Min(8, k);
        var rng = new Random(o.Seed);
        float scale = (float)Math.Sqrt(1.0 / k), eta = (float)o.LearningRate;
        var p = new float[(long)data.Rows * k];
        var q = new float[(long)data.Columns * k];
        for (long i = 0; i < p.LongLength; i++) p[i] = (float)rng.NextDouble() * scale;
        for (long i = 0; i < q.LongLength; i++) q[i] = (float)rng.NextDouble() * scale;
        double mean = data.Values.Average(v => (double)v);
        float deviation = (float)Math.Sqrt(data.Values.Average(v => (v - mean) * (v - mean))), lambda = (float)o.Lambda / deviation;
        var gp = Enumerable.Repeat(1f, 2 * data.Rows).ToArray();
        var gq = Enumerable.Repeat(1f, 2 * data.Columns).ToArray();
        var order = Enumerable.Range(0, data.Count).ToArray();
        rng.Shuffle(order);
        var gradP = new float[k];
        var gradQ = new float[k];
        for (int iteration = 0; iteration < o.NumberOfIterations; iteration++)
        {
            foreach (int i in order)
            {
                int u = data.RowIndex[i] * k, v = data.ColumnIndex[i] * k;
                float dot = 0;
                for (int d = 0; d < k; d++) dot += p[u + d] * q[v + d];
                float e = data.Values[i] / deviation - dot;
                // The first 8 factors and the rest each have their own rates (the rest idle in the first iteration).
                for (int part = 0; part < 2; part++)
                {
                    int from = part == 0 ? 0 : slow, to = part == 0 ? slow : iteration == 0 ? slow : k;
                    if (to == from) continue;
                    float sp = 0, sq = 0;
                    for (int d = from; d < to; d++)
                    {
                        gradP[d] = lambda * p[u + d] - e * q[v + d];
                        gradQ[d] = lambda * q[v + d] - e * p[u + d];
                        sp += gradP[d] * gradP[d];
                        sq += gradQ[d] * gradQ[d];
                    }
                    int gu = 2 * data.RowIndex[i] + part, gv = 2 * data.ColumnIndex[i] + part;
                    float ru = eta / MathF.Sqrt(gp[gu]), rv = eta / MathF.Sqrt(gq[gv]);
                    gp[gu] += sp / (to - from);
                    gq[gv] += sq / (to - from);
                    for (int d = from; d < to; d++) { p[u + d] -= ru * gradP[d]; q[v + d] -= rv * gradQ[d]; }
                }
            }
        }
        float factorScale = MathF.Sqrt(deviation);
        for (long i = 0; i < p.LongLength; i++) p[i] *= factorScale;
        for (long i = 0; i < q.LongLength; i++) q[i] *= factorScale;
        return (p, q);
    }

    private static JsonObject LeaveLastOut(string[] users, string[] items, float[] ratings, float[] time, int threads)
    {
        var last = new Dictionary<string, int>();
        for (int r = 0; r < users.Length; r++)
            if (!last.TryGetValue(users[r], out int l) || time[r] >= time[l]) last[users[r]] = r;
        var held = last.Values.ToHashSet();
        var (train, userIndex, itemIndex) = Index(Enumerable.Range(0, users.Length).Where(r => !held.Contains(r)).ToArray(), users, items, ratings);
        // Ranking wants the implicit model: every rating is an interaction (label 1), everything else weakly 0.
        Array.Fill(train.Values, 1f);
        var options = OneClass;
        options.NumberOfThreads = threads;
        var model = MatrixFactorizationTrainer.Train(train, options);
        var seen = new Dictionary<int, HashSet<int>>();
        for (int i = 0; i < train.Count; i++)
        {
            if (!seen.TryGetValue(train.RowIndex[i], out var set)) seen[train.RowIndex[i]] = set = new HashSet<int>();
            set.Add(train.ColumnIndex[i]);
        }
        var evaluated = last.Where(kv => userIndex.ContainsKey(kv.Key) && itemIndex.ContainsKey(items[kv.Value])).ToArray();
        var userRows = evaluated.Select(kv => userIndex[kv.Key]).ToArray();
        var top = new TopNRetrieval(model).Recommend(userRows, 10, u => seen.GetValueOrDefault(u), threads);
        var ranked = top.Select(t => (IReadOnlyList<int>)t.Items).ToList();
        var relevant = evaluated.Select(kv => (IReadOnlySet<int>)new HashSet<int> { itemIndex[items[kv.Value]] }).ToList();
        var m = TopKMetrics.Compute(ranked, relevant, 10);
        // Popularity for context: the most-rated unseen items.
        var popularity = Enumerable.Range(0, train.Columns).OrderByDescending(i => train.ColumnIndex.Count(c => c == i)).ToArray();
        var popular = userRows.Select(u => (IReadOnlyList<int>)popularity.Where(i => !seen.GetValueOrDefault(u, []).Contains(i)).Take(10).ToArray()).ToList();
        var p = TopKMetrics.Compute(popular, relevant, 10);
        return new JsonObject
        {
            ["users"] = m.Users, ["k"] = 10, ["setting"] = "one-class (rank 32, alpha 0.1, C 0, lambda 5, 15 ALS sweeps)",
            ["hit_rate"] = Math.Round(m.HitRate.Value, 4), ["ndcg"] = Math.Round(m.Ndcg.Value, 4),
            ["popularity_hit_rate"] = Math.Round(p.HitRate.Value, 4), ["popularity_ndcg"] = Math.Round(p.Ndcg.Value, 4),
        };
    }

    private static (RatingMatrix Data, Dictionary<string, int> Users, Dictionary<string, int> Items) Index(int[] rows, string[] users, string[] items, float[] ratings)
    {
        var u = new Dictionary<string, int>();
        var i = new Dictionary<string, int>();
        foreach (int r in rows)
        {
            u.TryAdd(users[r], u.Count);
            i.TryAdd(items[r], i.Count);
        }
        return (Subset(rows, users, items, ratings, u, i), u, i);
    }

    private static RatingMatrix Subset(int[] rows, string[] users, string[] items, float[] ratings, Dictionary<string, int> u, Dictionary<string, int> i) =>
        new(u.Count, i.Count, rows.Select(r => u[users[r]]).ToArray(), rows.Select(r => i[items[r]]).ToArray(), rows.Select(r => ratings[r]).ToArray());
}
