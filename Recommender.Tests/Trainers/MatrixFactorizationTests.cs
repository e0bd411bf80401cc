using Microsoft.ML;
using Recommender.Trainers;
using Recommender.Trainers.Evaluation;
using Recommender.Trainers.MatrixFactorization;

namespace Recommender.Tests.Trainers;

[TestClass]
public sealed class MatrixFactorizationTests
{
    // A rank-3 matrix with entries of scale about 1, 60% observed for training, the rest held out.
    private static (RatingMatrix Train, RatingMatrix Test) Planted(int users, int items, int rank, double observed, int seed)
    {
        var rng = new Random(seed);
        var p = Enumerable.Range(0, users * rank).Select(_ => rng.NextDouble()).ToArray();
        var q = Enumerable.Range(0, items * rank).Select(_ => rng.NextDouble()).ToArray();
        var train = (new List<int>(), new List<int>(), new List<float>());
        var test = (new List<int>(), new List<int>(), new List<float>());
        for (int u = 0; u < users; u++)
            for (int i = 0; i < items; i++)
            {
                double v = 0;
                for (int d = 0; d < rank; d++) v += p[u * rank + d] * q[i * rank + d];
                var target = rng.NextDouble() < observed ? train : test;
                target.Item1.Add(u); target.Item2.Add(i); target.Item3.Add((float)v);
            }
        return (new RatingMatrix(users, items, [.. train.Item1], [.. train.Item2], [.. train.Item3]),
                new RatingMatrix(users, items, [.. test.Item1], [.. test.Item2], [.. test.Item3]));
    }

    [TestMethod]
    public void RecoversAPlantedLowRankMatrix()
    {
        var (train, test) = Planted(120, 90, 3, 0.6, 1);
        var validation = new List<double>();
        var options = new MatrixFactorizationOptions { ApproximationRank = 8, Lambda = 0.001, LearningRate = 0.1, NumberOfIterations = 200, NumberOfThreads = 1, IterationCompleted = (_, _, v) => validation.Add(v) };
        var model = MatrixFactorizationTrainer.Train(train, options, test);
        double mean = test.Values.Average(v => (double)v), spread = Math.Sqrt(test.Values.Average(v => (v - mean) * (v - mean)));
        Console.WriteLine($"held-out RMSE {validation[^1]:F4} (entries spread {spread:F3})");
        Assert.AreEqual(200, validation.Count);
        Assert.IsTrue(validation[^1] < 0.05 * (mean + spread), $"held-out RMSE {validation[^1]:F4}");
        Assert.IsTrue(validation[^1] < validation[0] / 5);
        Assert.AreEqual(model.Score(3, 4), MatrixFactorizationModelParameters.Dot(model.LeftFactorMatrix.AsSpan(24, 8), model.RightFactorMatrix.AsSpan(32, 8)));
        Assert.IsTrue(float.IsNaN(model.Score(120, 0)) && float.IsNaN(model.Score(0, -1)));
    }

    [TestMethod]
    [DataRow(8)]
    [DataRow(16)]
    [DataRow(12)]
    public void OneThreadIsTheTextbookSgdAndThreadsGiveTheSameFactorsEveryRun(int rank)
    {
        var (train, _) = Planted(60, 50, 3, 0.5, 3);
        var options = new MatrixFactorizationOptions { ApproximationRank = rank, Lambda = 0.05, LearningRate = 0.1, NumberOfIterations = 5, NumberOfThreads = 1, Seed = 7 };
        var solver = MatrixFactorizationTrainer.Train(train, options);

        // The textbook loop, written out as LIBMF's fpsg does it: the same initial factors and the same shuffled order (one
        // block when one thread); ratings and lambda divided by the ratings' standard deviation; per row and per column two
        // adaptive rates eta / sqrt(G), one for the first 8 factors and one for the rest (left alone in the first
        // iteration), each G from 1 gaining its part's mean squared gradient after the step; factors times sqrt(deviation).
        var rng = new Random(7);
        float scale = (float)Math.Sqrt(1.0 / rank);
        var p = Enumerable.Range(0, 60 * rank).Select(_ => (float)rng.NextDouble() * scale).ToArray();
        var q = Enumerable.Range(0, 50 * rank).Select(_ => (float)rng.NextDouble() * scale).ToArray();
        var order = Enumerable.Range(0, train.Count).ToArray();
        rng.Shuffle(order);
        double mean = train.Values.Average(v => (double)v);
        double deviation = Math.Sqrt(train.Values.Average(v => (v - mean) * (v - mean))), lambda = 0.05 / deviation;
        double[,] gp = new double[60, 2], gq = new double[50, 2];
        for (int u = 0; u < 60; u++) gp[u, 0] = gp[u, 1] = 1;
        for (int v = 0; v < 50; v++) gq[v, 0] = gq[v, 1] = 1;
        for (int iteration = 0; iteration < 5; iteration++)
            foreach (int i in order)
            {
                int u = train.RowIndex[i], v = train.ColumnIndex[i];
                double e = train.Values[i] / deviation - Enumerable.Range(0, rank).Sum(d => (double)p[u * rank + d] * q[v * rank + d]);
                foreach (var (part, from, to) in new[] { (0, 0, 8), (1, 8, rank) })
                {
                    if (part == 1 && iteration == 0) continue;
                    var gradP = Enumerable.Range(from, to - from).Select(d => lambda * p[u * rank + d] - e * q[v * rank + d]).ToArray();
                    var gradQ = Enumerable.Range(from, to - from).Select(d => lambda * q[v * rank + d] - e * p[u * rank + d]).ToArray();
                    double rateP = 0.1 / Math.Sqrt(gp[u, part]), rateQ = 0.1 / Math.Sqrt(gq[v, part]);
                    for (int d = from; d < to; d++) { p[u * rank + d] -= (float)(rateP * gradP[d - from]); q[v * rank + d] -= (float)(rateQ * gradQ[d - from]); }
                    if (to > from) { gp[u, part] += gradP.Sum(g => g * g) / (to - from); gq[v, part] += gradQ.Sum(g => g * g) / (to - from); }
                }
            }
        for (int i = 0; i < p.Length; i++) p[i] *= (float)Math.Sqrt(deviation);
        for (int i = 0; i < q.Length; i++) q[i] *= (float)Math.Sqrt(deviation);
        for (int i = 0; i < p.Length; i++) Assert.AreEqual(p[i], solver.LeftFactorMatrix[i], 1e-4f, $"P[{i}]");
        for (int i = 0; i < q.Length; i++) Assert.AreEqual(q[i], solver.RightFactorMatrix[i], 1e-4f, $"Q[{i}]");

        // A block waits only for the previous blocks of its row band and column band, so threads run blocks of several
        // rounds at once, in any interleaving; yet every band sees its blocks in one order: the grid cut for 3 threads gives
        // the same bits run by 3 workers (twice) as run by one worker taking the blocks strictly in order.
        var inOrder = SgdSolver.Train(train, options, null, threads: 3, workers: 1);
        for (int run = 0; run < 2; run++)
        {
            var (p3, q3) = SgdSolver.Train(train, options, null, threads: 3);
            CollectionAssert.AreEqual(inOrder.P, p3);
            CollectionAssert.AreEqual(inOrder.Q, q3);
        }
    }

    [TestMethod]
    public void FactorsTooLargeForOneArrayAreRefusedBeforeAllocation()
    {
        // 60 rows x (int.MaxValue / 8) factors is past .NET's largest array, whatever the machine's memory.
        var (train, _) = Planted(60, 50, 3, 0.5, 3);
        var options = new MatrixFactorizationOptions { ApproximationRank = int.MaxValue / 8, NumberOfIterations = 1, NumberOfThreads = 1 };
        StringAssert.Contains(Assert.Throws<ArgumentException>(() => MatrixFactorizationTrainer.Train(train, options)).Message, "lower ApproximationRank");
    }

    [TestMethod]
    public void ADivergedRunIsRefusedNotReturned()
    {
        // At a learning rate of 1e30 the first step overflows the factors: an error naming the iteration, not NaN factors.
        var (train, _) = Planted(60, 50, 3, 0.5, 3);
        foreach (int threads in new[] { 1, 2 })
        {
            var options = new MatrixFactorizationOptions { LearningRate = 1e30, NumberOfIterations = 3, NumberOfThreads = threads };
            StringAssert.Contains(Assert.Throws<ArgumentException>(() => MatrixFactorizationTrainer.Train(train, options)).Message, "diverged in iteration 1");
        }
    }

    [TestMethod]
    public void ConstantRatingsAreLearnedWithoutScaling()
    {
        // A zero standard deviation would divide the ratings by zero; nearly constant ratings are left unscaled.
        var data = new RatingMatrix(20, 15, Enumerable.Range(0, 200).Select(i => i % 20).ToArray(), Enumerable.Range(0, 200).Select(i => i * 7 % 15).ToArray(), Enumerable.Repeat(4f, 200).ToArray());
        Assert.AreEqual(1f, SgdSolver.Spread(data.Values));
        Assert.AreEqual(2f, SgdSolver.Spread([1f, 5f, 1f, 5f]));
        var model = MatrixFactorizationTrainer.Train(data, new MatrixFactorizationOptions { Lambda = 0.001, NumberOfIterations = 100, NumberOfThreads = 2 });
        for (int i = 0; i < data.Count; i++) Assert.AreEqual(4f, model.Score(data.RowIndex[i], data.ColumnIndex[i]), 0.05f, $"rating {i}");
    }

    [TestMethod]
    public void ParallelSgdReachesTheSameQuality()
    {
        var (train, test) = Planted(200, 150, 3, 0.5, 2);
        double final = 0;
        var options = new MatrixFactorizationOptions { ApproximationRank = 8, Lambda = 0.001, NumberOfIterations = 150, NumberOfThreads = 4, IterationCompleted = (_, _, v) => final = v };
        MatrixFactorizationTrainer.Train(train, options, test);
        Assert.IsTrue(final < 0.1, $"held-out RMSE {final:F4} with 4 threads");
    }

    [TestMethod]
    public void OneClassRanksHeldOutPositivesAboveNegatives()
    {
        // Users and items fall into 4 clusters; a user interacts only with items of their cluster.
        const int users = 200, items = 120, clusters = 4;
        var rng = new Random(3);
        var rows = new List<int>(); var cols = new List<int>();
        var heldOut = new List<(int U, int I)>();
        for (int u = 0; u < users; u++)
            for (int i = 0; i < items; i++)
            {
                if (u % clusters != i % clusters || rng.NextDouble() > 0.3) continue;
                if (rng.NextDouble() < 0.2) heldOut.Add((u, i));
                else { rows.Add(u); cols.Add(i); }
            }
        var data = new RatingMatrix(users, items, [.. rows], [.. cols], Enumerable.Repeat(1f, rows.Count).ToArray());
        var model = MatrixFactorizationTrainer.Train(data, new MatrixFactorizationOptions
        {
            LossFunction = LossFunctionType.SquareLossOneClass, ApproximationRank = 8, Lambda = 0.1, Alpha = 0.01, C = 0, NumberOfIterations = 10, NumberOfThreads = 2,
        });
        var seen = rows.Zip(cols).ToHashSet();
        var negatives = new List<(int U, int I)>();
        while (negatives.Count < heldOut.Count)
        {
            int u = rng.Next(users), i = rng.Next(items);
            if (u % clusters != i % clusters) negatives.Add((u, i));
        }
        var scores = heldOut.Concat(negatives).Select(x => model.Score(x.U, x.I)).ToArray();
        var labels = heldOut.Select(_ => 1f).Concat(negatives.Select(_ => 0f)).ToArray();
        var auc = BinaryMetrics.Auc(scores, labels).Value;
        Console.WriteLine($"one-class AUC {auc:F4}");
        Assert.IsTrue(auc > 0.9, $"one-class AUC {auc:F4}");
    }

    [TestMethod]
    public void RetrievalMatchesBruteForceAndExcludesSeenItems()
    {
        var (train, _) = Planted(30, 500, 3, 0.5, 4);
        var model = MatrixFactorizationTrainer.Train(train, new MatrixFactorizationOptions { NumberOfIterations = 5, NumberOfThreads = 1 });
        var retrieval = new TopNRetrieval(model);
        var seen = new HashSet<int> { 3, 7, 11 };
        var result = retrieval.Recommend([0, 5, 29, 99], 10, u => u == 5 ? seen : null);
        foreach (var (user, index) in new[] { (0, 0), (5, 1), (29, 2) })
        {
            var expected = Enumerable.Range(0, 500).Where(i => user != 5 || !seen.Contains(i))
                .OrderByDescending(i => model.Score(user, i)).ThenBy(i => i).Take(10).ToArray();
            CollectionAssert.AreEqual(expected, result[index].Items, $"user {user}");
            for (int r = 0; r < 10; r++) Assert.AreEqual(model.Score(user, expected[r]), result[index].Scores[r], 1e-5f);
        }
        Assert.AreEqual(0, result[3].Items.Length); // user 99 is unknown
    }

    private sealed class RatingRow { public uint User; public uint Item; public float Rating; }

    [TestMethod]
    [DoNotParallelize] // redirects the process-wide console
    public void FittingVerboselyPrintsEachIterationAndLeavesTheOptionsAlone()
    {
        var ml = new Microsoft.ML.MLContext(seed: 1);
        var rows = Enumerable.Range(0, 600).Select(n => new RatingRow { User = (uint)(n % 30), Item = (uint)(n * 7 % 23), Rating = 1 + n % 5 });
        var data = ml.Transforms.Conversion.MapValueToKey("UserKey", "User").Append(ml.Transforms.Conversion.MapValueToKey("ItemKey", "Item"))
            .Fit(ml.Data.LoadFromEnumerable(rows)).Transform(ml.Data.LoadFromEnumerable(rows));
        var options = new MatrixFactorizationOptions
        {
            LabelColumnName = "Rating", MatrixRowIndexColumnName = "UserKey", MatrixColumnIndexColumnName = "ItemKey",
            NumberOfIterations = 4, NumberOfThreads = 1, Quiet = false,
        };
        var error = new StringWriter();
        var saved = Console.Error;
        Console.SetError(error);
        try { ml.Recommendation().Trainers.MatrixFactorization(options).Fit(data); }
        finally { Console.SetError(saved); }
        Assert.AreEqual(4, error.ToString().Split('\n').Count(l => l.StartsWith("iteration ")), error.ToString());
        Assert.IsNull(options.IterationCompleted, "fitting must not change the caller's options");
    }
}
