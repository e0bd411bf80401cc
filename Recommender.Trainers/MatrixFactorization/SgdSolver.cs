using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Recommender.Trainers.MatrixFactorization;

/// <summary>
/// Squared-loss matrix factorization by parallel SGD as LIBMF does it (Chin et al., 2015): the matrix is cut
/// into a grid of blocks, each thread takes a block whose row band and column band no other thread is
/// working in, so no two threads ever update the same factor; every row and column has its own adaptive
/// learning rate <c>eta / sqrt(G)</c>, G accumulating the mean squared gradient (starting at 1); factors
/// start uniform in [0, sqrt(1/k)). Rank-8 updates run as single 256-bit vectors.
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
        for (int iteration = 1; iteration <= o.NumberOfIterations; iteration++)
        {
            double squaredError = RunIteration(state, blocks, bands, threads);
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

    // Entries of each (row band, column band) block, shuffled once.
    private static int[][] Bucket(RatingMatrix data, int bands, Random rng)
    {
        var lists = new List<int>[bands * bands];
        for (int b = 0; b < lists.Length; b++) lists[b] = new List<int>();
        for (int i = 0; i < data.Count; i++)
        {
            int rb = (int)((long)data.RowIndex[i] * bands / data.Rows), cb = (int)((long)data.ColumnIndex[i] * bands / data.Columns);
            lists[rb * bands + cb].Add(i);
        }
        return lists.Select(l => { var a = l.ToArray(); rng.Shuffle(a); return a; }).ToArray();
    }

    private static double RunIteration(Sweep s, int[][] blocks, int bands, int threads)
    {
        if (threads == 1)
        {
            double sum = 0;
            foreach (var block in blocks) sum += ProcessBlock(s, block);
            return sum;
        }
        var pending = new bool[blocks.Length];
        Array.Fill(pending, true);
        int left = blocks.Length;
        var rowBusy = new bool[bands];
        var columnBusy = new bool[bands];
        var gate = new object();
        double total = 0;
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, worker =>
        {
            var pick = new Random(worker * 7919 + left);
            while (true)
            {
                int chosen = -1;
                lock (gate)
                {
                    while (chosen < 0)
                    {
                        if (left == 0) return;
                        var free = new List<int>();
                        for (int b = 0; b < blocks.Length; b++)
                            if (pending[b] && !rowBusy[b / bands] && !columnBusy[b % bands]) free.Add(b);
                        if (free.Count == 0) { Monitor.Wait(gate); continue; }
                        chosen = free[pick.Next(free.Count)];
                        pending[chosen] = false;
                        left--;
                        rowBusy[chosen / bands] = columnBusy[chosen % bands] = true;
                    }
                }
                double error = ProcessBlock(s, blocks[chosen]);
                lock (gate)
                {
                    total += error;
                    rowBusy[chosen / bands] = columnBusy[chosen % bands] = false;
                    Monitor.PulseAll(gate);
                }
            }
        });
        return total;
    }

    private static double ProcessBlock(Sweep s, int[] entries)
    {
        double squaredError = 0;
        int k = s.K;
        var data = s.Data;
        foreach (int i in entries)
        {
            int u = data.RowIndex[i], v = data.ColumnIndex[i];
            var pu = s.P.AsSpan(u * k, k);
            var qv = s.Q.AsSpan(v * k, k);
            float e = data.Values[i] - MatrixFactorizationModelParameters.Dot(pu, qv);
            squaredError += (double)e * e;
            if (k == 8 && Vector256.IsHardwareAccelerated) Update8(s, pu, qv, u, v, e);
            else UpdateScalar(s, pu, qv, u, v, e);
        }
        return squaredError;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Update8(Sweep s, Span<float> pu, Span<float> qv, int u, int v, float e)
    {
        var p = Vector256.Create((ReadOnlySpan<float>)pu);
        var q = Vector256.Create((ReadOnlySpan<float>)qv);
        var lambda = Vector256.Create(s.Lambda);
        var err = Vector256.Create(e);
        var gradP = lambda * p - err * q;
        var gradQ = lambda * q - err * p;
        s.Gp[u] += Vector256.Dot(gradP, gradP) / 8;
        s.Gq[v] += Vector256.Dot(gradQ, gradQ) / 8;
        p -= Vector256.Create(s.Eta / MathF.Sqrt(s.Gp[u])) * gradP;
        q -= Vector256.Create(s.Eta / MathF.Sqrt(s.Gq[v])) * gradQ;
        if (s.NonNegative) { p = Vector256.Max(p, Vector256<float>.Zero); q = Vector256.Max(q, Vector256<float>.Zero); }
        p.CopyTo(pu);
        q.CopyTo(qv);
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
