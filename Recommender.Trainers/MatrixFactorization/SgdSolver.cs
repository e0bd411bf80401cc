using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Recommender.Trainers.Embeddings;

namespace Recommender.Trainers.MatrixFactorization;

/// <summary>
/// Squared-loss matrix factorization by parallel SGD as LIBMF does it (Chin et al., 2015): the matrix is cut
/// into a grid of blocks and threads work on blocks that share no row band and no column band, so no two threads
/// ever update the same factor (here by rounds of a Latin square on persistent threads, so the result is the same
/// whatever the threads' timing); every row and column has its own adaptive
/// learning rate <c>eta / sqrt(G)</c>, G accumulating the mean squared gradient (starting at 1); factors
/// start uniform in [0, sqrt(1/k)). Each block's ratings are stored together as (row, column, value) triples, shuffled
/// once, so a sweep reads memory in order; updates of a rank divisible by 8 run as 256-bit vectors (rank 8: one).
/// </summary>
internal static class SgdSolver
{
    public static (float[] P, float[] Q) Train(RatingMatrix data, MatrixFactorizationOptions o, RatingMatrix? validation, int threads)
    {
        int k = o.ApproximationRank;
        var rng = new Random(o.Seed);
        float scale = (float)Math.Sqrt(1.0 / k);
        var p = new float[(long)data.Rows * k];
        var q = new float[(long)data.Columns * k];
        for (long i = 0; i < p.LongLength; i++) p[i] = (float)rng.NextDouble() * scale;
        for (long i = 0; i < q.LongLength; i++) q[i] = (float)rng.NextDouble() * scale;
        var gp = new float[data.Rows];
        var gq = new float[data.Columns];
        Array.Fill(gp, 1f);
        Array.Fill(gq, 1f);

        int bands = threads == 1 ? 1 : 2 * threads;
        var blocks = Bucket(data, bands, rng);
        var state = new Sweep(data, p, q, gp, gq, k, (float)o.LearningRate, (float)o.Lambda, o.NonNegative);
        using var pool = new WorkerPool(threads);
        var rounds = new Rounds(state, blocks, bands, pool, rng);
        for (int iteration = 1; iteration <= o.NumberOfIterations; iteration++)
        {
            double squaredError = rounds.Iteration();
            double trainRmse = Math.Sqrt(squaredError / Math.Max(1, data.Count));
            double validRmse = validation is null ? double.NaN : Rmse(validation, p, q, k);
            o.IterationCompleted?.Invoke(iteration, trainRmse, validRmse);
        }
        return (p, q);
    }

    public static double Rmse(RatingMatrix data, float[] p, float[] q, int k)
    {
        double sum = 0;
        long n = 0;
        for (int i = 0; i < data.Count; i++)
        {
            int u = data.RowIndex[i], v = data.ColumnIndex[i];
            if ((long)(u + 1) * k > p.LongLength || (long)(v + 1) * k > q.LongLength) continue;
            double e = data.Values[i] - MatrixFactorizationModelParameters.Dot(p.AsSpan(u * k, k), q.AsSpan(v * k, k));
            sum += e * e;
            n++;
        }
        return n == 0 ? double.NaN : Math.Sqrt(sum / n);
    }

    private sealed record Sweep(RatingMatrix Data, float[] P, float[] Q, float[] Gp, float[] Gq, int K, float Eta, float Lambda, bool NonNegative);

    /// <summary>One rating as a sweep reads it.</summary>
    internal readonly record struct Entry(int Row, int Column, float Value);

    // The ratings of each (row band, column band) block, together and shuffled once: two passes, a count and a fill.
    private static Entry[][] Bucket(RatingMatrix data, int bands, Random rng)
    {
        int Block(int i) => (int)((long)data.RowIndex[i] * bands / data.Rows) * bands + (int)((long)data.ColumnIndex[i] * bands / data.Columns);
        var counts = new int[bands * bands];
        for (int i = 0; i < data.Count; i++) counts[Block(i)]++;
        var blocks = counts.Select(c => new Entry[c]).ToArray();
        Array.Clear(counts);
        for (int i = 0; i < data.Count; i++)
        {
            int b = Block(i);
            blocks[b][counts[b]++] = new Entry(data.RowIndex[i], data.ColumnIndex[i], data.Values[i]);
        }
        foreach (var block in blocks) rng.Shuffle(block);
        return blocks;
    }

    // Threads share a pass by rounds of a Latin square: round r holds the blocks (i, (i + r) mod bands), no two in one row
    // band or column band, so the threads take them in any order without ever touching the same factors, and the
    // result does not depend on which thread took which. The rounds' order is shuffled per iteration.
    private sealed class Rounds(Sweep sweep, Entry[][] blocks, int bands, WorkerPool pool, Random rng)
    {
        private readonly double[] _errors = new double[pool.Workers];
        private readonly int[] _order = Enumerable.Range(0, bands).ToArray();
        private int _round, _next;

        public double Iteration()
        {
            rng.Shuffle(_order);
            Array.Clear(_errors);
            foreach (int round in _order)
            {
                _round = round;
                _next = -1;
                pool.Run(Work);
            }
            return _errors.Sum();
        }

        private void Work(int worker, int workers)
        {
            for (int i; (i = Interlocked.Increment(ref _next)) < bands;)
                _errors[worker] += ProcessBlock(sweep, blocks[i * bands + (i + _round) % bands]);
        }
    }

    private static double ProcessBlock(Sweep s, Entry[] entries)
    {
        double squaredError = 0;
        int k = s.K;
        bool vectors = k % 8 == 0 && Vector256.IsHardwareAccelerated;
        foreach (var x in entries)
        {
            var pu = s.P.AsSpan(x.Row * k, k);
            var qv = s.Q.AsSpan(x.Column * k, k);
            float e = x.Value - MatrixFactorizationModelParameters.Dot(pu, qv);
            squaredError += (double)e * e;
            if (vectors) UpdateVectors(s, pu, qv, x.Row, x.Column, e);
            else UpdateScalar(s, pu, qv, x.Row, x.Column, e);
        }
        return squaredError;
    }

    // Any rank divisible by 8 (rank 8: one vector): the gradients' squared norms first (the rates need them), then the update, 8 at a time.
    private static void UpdateVectors(Sweep s, Span<float> pu, Span<float> qv, int u, int v, float e)
    {
        int k = pu.Length;
        var lambda = Vector256.Create(s.Lambda);
        var err = Vector256.Create(e);
        Vector256<float> normP = Vector256<float>.Zero, normQ = Vector256<float>.Zero;
        ref float pr = ref MemoryMarshal.GetReference(pu), qr = ref MemoryMarshal.GetReference(qv);
        for (int d = 0; d < k; d += 8)
        {
            var p = Vector256.LoadUnsafe(ref pr, (nuint)d);
            var q = Vector256.LoadUnsafe(ref qr, (nuint)d);
            var gradP = lambda * p - err * q;
            var gradQ = lambda * q - err * p;
            normP += gradP * gradP;
            normQ += gradQ * gradQ;
        }
        s.Gp[u] += Vector256.Sum(normP) / k;
        s.Gq[v] += Vector256.Sum(normQ) / k;
        var rateP = Vector256.Create(s.Eta / MathF.Sqrt(s.Gp[u]));
        var rateQ = Vector256.Create(s.Eta / MathF.Sqrt(s.Gq[v]));
        for (int d = 0; d < k; d += 8)
        {
            var p = Vector256.LoadUnsafe(ref pr, (nuint)d);
            var q = Vector256.LoadUnsafe(ref qr, (nuint)d);
            var nextP = p - rateP * (lambda * p - err * q);
            var nextQ = q - rateQ * (lambda * q - err * p);
            if (s.NonNegative) { nextP = Vector256.Max(nextP, Vector256<float>.Zero); nextQ = Vector256.Max(nextQ, Vector256<float>.Zero); }
            nextP.StoreUnsafe(ref pr, (nuint)d);
            nextQ.StoreUnsafe(ref qr, (nuint)d);
        }
    }

    private static void UpdateScalar(Sweep s, Span<float> pu, Span<float> qv, int u, int v, float e)
    {
        int k = pu.Length;
        Span<float> gradP = stackalloc float[k];
        Span<float> gradQ = stackalloc float[k];
        float sp = 0, sq = 0;
        for (int d = 0; d < k; d++)
        {
            gradP[d] = s.Lambda * pu[d] - e * qv[d];
            gradQ[d] = s.Lambda * qv[d] - e * pu[d];
            sp += gradP[d] * gradP[d];
            sq += gradQ[d] * gradQ[d];
        }
        s.Gp[u] += sp / k;
        s.Gq[v] += sq / k;
        float rp = s.Eta / MathF.Sqrt(s.Gp[u]), rq = s.Eta / MathF.Sqrt(s.Gq[v]);
        for (int d = 0; d < k; d++)
        {
            pu[d] -= rp * gradP[d];
            qv[d] -= rq * gradQ[d];
            if (s.NonNegative) { pu[d] = Math.Max(pu[d], 0); qv[d] = Math.Max(qv[d], 0); }
        }
    }
}
