using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Recommender.Trainers.Embeddings;

namespace Recommender.Trainers.MatrixFactorization;

/// <summary>
/// Squared-loss matrix factorization by parallel SGD as LIBMF does it (Chin et al., 2015; LIBMF's <c>fpsg</c>): the
/// matrix is cut into a grid of blocks over randomly permuted rows and columns (so the blocks hold similar numbers of
/// ratings), and threads work on blocks that share no row band and no column band, so no two threads ever update the
/// same factor. Ratings are divided by their standard deviation and lambda with them, the factors multiplied by its
/// square root at the end. Each row and column has two adaptive learning rates <c>eta / sqrt(G)</c>, G starting at 1
/// and accumulating, after each step, the mean squared gradient: one for the first 8 factors and one for the rest,
/// which the first iteration leaves untouched (LIBMF's slow and fast parts). Factors start uniform in [0, sqrt(1/k)).
/// Each block's ratings are stored together as (row, column, value) triples, shuffled once, so a sweep reads memory
/// in order; updates of a rank divisible by 8 run as 256-bit vectors (rank 8: one).
/// </summary>
internal static class SgdSolver
{
    /// <summary>Factors LIBMF updates from the first iteration on; the rest join from the second.</summary>
    internal const int SlowFactors = 8;

    /// <summary>Trains on a grid cut for <paramref name="threads"/> threads, run by <paramref name="workers"/> of them (by default as many).</summary>
    public static (float[] P, float[] Q) Train(RatingMatrix data, MatrixFactorizationOptions o, RatingMatrix? validation, int threads, int? workers = null)
    {
        int k = o.ApproximationRank;
        var rng = new Random(o.Seed);
        float scale = (float)Math.Sqrt(1.0 / k);
        var p = new float[(long)data.Rows * k];
        var q = new float[(long)data.Columns * k];
        for (long i = 0; i < p.LongLength; i++) p[i] = (float)rng.NextDouble() * scale;
        for (long i = 0; i < q.LongLength; i++) q[i] = (float)rng.NextDouble() * scale;
        var gp = new float[2 * data.Rows];
        var gq = new float[2 * data.Columns];
        Array.Fill(gp, 1f);
        Array.Fill(gq, 1f);

        float spread = Spread(data.Values);
        int bands = threads == 1 ? 1 : 4 * threads;
        var blocks = Bucket(data, bands, spread, rng);
        var state = new Sweep(p, q, gp, gq, k, (float)o.LearningRate, (float)o.Lambda / spread, o.NonNegative);
        using var pool = new WorkerPool(workers ?? threads);
        var rounds = new Rounds(state, blocks, bands, pool, rng);
        for (int iteration = 1; iteration <= o.NumberOfIterations; iteration++)
        {
            state.SlowOnly = iteration == 1;
            double squaredError = rounds.Iteration();
            // A diverged run is refused rather than published as factors of infinities and NaNs.
            if (!double.IsFinite(squaredError))
                throw new ArgumentException($"matrix factorization diverged in iteration {iteration} (the training error is {squaredError}): lower LearningRate (now {o.LearningRate})");
            if (o.IterationCompleted is null) continue;
            double trainRmse = spread * Math.Sqrt(squaredError / Math.Max(1, data.Count));
            double validRmse = validation is null ? double.NaN : Rmse(validation, p, q, k, spread);
            o.IterationCompleted(iteration, trainRmse, validRmse);
        }
        float factorScale = MathF.Sqrt(spread);
        for (long i = 0; i < p.LongLength; i++) p[i] *= factorScale;
        for (long i = 0; i < q.LongLength; i++) q[i] *= factorScale;
        return (p, q);
    }

    // The standard deviation the ratings are divided by; nearly constant ratings (the deviation under 1% of their root
    // mean square) are left as they are, where dividing would blow them up.
    internal static float Spread(float[] values)
    {
        double mean = 0, square = 0;
        foreach (float v in values) { mean += v; square += (double)v * v; }
        mean /= Math.Max(1, values.Length);
        square /= Math.Max(1, values.Length);
        double deviation = Math.Sqrt(Math.Max(0, square - mean * mean));
        return deviation > 0.01 * Math.Sqrt(square) ? (float)deviation : 1f;
    }

    /// <summary>Root mean squared error of the factors' dot products times <paramref name="scale"/>.</summary>
    public static double Rmse(RatingMatrix data, float[] p, float[] q, int k, float scale = 1f)
    {
        double sum = 0;
        long n = 0;
        for (int i = 0; i < data.Count; i++)
        {
            int u = data.RowIndex[i], v = data.ColumnIndex[i];
            if ((long)(u + 1) * k > p.LongLength || (long)(v + 1) * k > q.LongLength) continue;
            double e = data.Values[i] - scale * MatrixFactorizationModelParameters.Dot(p.AsSpan(u * k, k), q.AsSpan(v * k, k));
            sum += e * e;
            n++;
        }
        return n == 0 ? double.NaN : Math.Sqrt(sum / n);
    }

    private sealed class Sweep(float[] p, float[] q, float[] gp, float[] gq, int k, float eta, float lambda, bool nonNegative)
    {
        public readonly float[] P = p, Q = q, Gp = gp, Gq = gq;
        public readonly int K = k;
        public readonly float Eta = eta, Lambda = lambda;
        public readonly bool NonNegative = nonNegative;
        public bool SlowOnly;
    }

    /// <summary>One rating as a sweep reads it (the value divided by the ratings' spread).</summary>
    internal readonly record struct Entry(int Row, int Column, float Value);

    // The ratings of each (row band, column band) block, together and shuffled once: two passes, a count and a fill.
    // Rows and columns go to bands through random permutations, so that popular items or heavy users do not fill one band.
    private static Entry[][] Bucket(RatingMatrix data, int bands, float spread, Random rng)
    {
        int[] rowBand = Bands(data.Rows, bands, rng), columnBand = Bands(data.Columns, bands, rng);
        int Block(int i) => rowBand[data.RowIndex[i]] * bands + columnBand[data.ColumnIndex[i]];
        var counts = new int[bands * bands];
        for (int i = 0; i < data.Count; i++) counts[Block(i)]++;
        var blocks = counts.Select(c => new Entry[c]).ToArray();
        Array.Clear(counts);
        for (int i = 0; i < data.Count; i++)
        {
            int b = Block(i);
            blocks[b][counts[b]++] = new Entry(data.RowIndex[i], data.ColumnIndex[i], data.Values[i] / spread);
        }
        foreach (var block in blocks) rng.Shuffle(block);
        return blocks;
    }

    private static int[] Bands(int count, int bands, Random rng)
    {
        var band = new int[count];
        if (bands == 1) return band;
        var order = Enumerable.Range(0, count).ToArray();
        rng.Shuffle(order);
        for (int i = 0; i < count; i++) band[order[i]] = (int)((long)i * bands / count);
        return band;
    }

    // A pass visits the blocks by rounds of a Latin square: round r holds the blocks (i, (i + r) mod bands), no two in one
    // row band or column band, and the rounds' order is shuffled per iteration. Each row band and each column band thus
    // sees its blocks in a fixed order, and a block depends only on the factors its row band and its column band hold,
    // so a block may start as soon as the previous block of its row band and of its column band are done: no join between
    // rounds, and the factors are the same bits whichever thread took which block and whenever. Threads claim blocks in
    // pass order (every block a thread waits for was claimed earlier by a running thread, so no wait can deadlock).
    private sealed class Rounds(Sweep sweep, Entry[][] blocks, int bands, WorkerPool pool, Random rng)
    {
        private readonly double[] _errors = new double[bands * bands];
        private readonly int[] _order = Enumerable.Range(0, bands).ToArray();
        private readonly int[] _rowDone = new int[bands], _columnDone = new int[bands];
        private int _next;
        private volatile bool _failed;

        public double Iteration()
        {
            rng.Shuffle(_order);
            Array.Clear(_rowDone);
            Array.Clear(_columnDone);
            _next = -1;
            pool.Run(Work);
            return _errors.Sum();
        }

        // Compiled fully optimized at once: a one-off training should not run its first passes as tier-0 code while
        // the spinning workers keep the background compiler from the cores.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Work(int worker, int workers)
        {
            for (int t; (t = Interlocked.Increment(ref _next)) < _errors.Length;)
            {
                int position = t / bands, i = t % bands, j = (i + _order[position]) % bands;
                var spin = new SpinWait();
                while (Volatile.Read(ref _rowDone[i]) < position || Volatile.Read(ref _columnDone[j]) < position)
                {
                    // A block that failed never finishes: the others stop waiting and the pool rethrows its error.
                    if (_failed) return;
                    spin.SpinOnce(sleep1Threshold: -1);
                }
                try { _errors[t] = ProcessBlock(sweep, blocks[i * bands + j]); }
                catch { _failed = true; throw; }
                Volatile.Write(ref _rowDone[i], position + 1);
                Volatile.Write(ref _columnDone[j], position + 1);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double ProcessBlock(Sweep s, Entry[] entries)
    {
        double squaredError = 0;
        int k = s.K, slow = Math.Min(SlowFactors, k), fast = k - slow;
        bool vectors = k % 8 == 0 && Vector256.IsHardwareAccelerated, slowOnly = s.SlowOnly || fast == 0;
        foreach (var x in entries)
        {
            var pu = s.P.AsSpan(x.Row * k, k);
            var qv = s.Q.AsSpan(x.Column * k, k);
            float e = x.Value - (vectors ? DotVectors(pu, qv) : MatrixFactorizationModelParameters.Dot(pu, qv));
            squaredError += (double)e * e;
            ref float gp = ref s.Gp[2 * x.Row];
            ref float gq = ref s.Gq[2 * x.Column];
            if (vectors) { UpdateVectors(s, pu, qv, ref gp, ref gq, e, slowOnly); continue; }
            UpdateScalar(s, pu[..slow], qv[..slow], ref gp, ref gq, e);
            if (!slowOnly) UpdateScalar(s, pu[slow..], qv[slow..], ref Unsafe.Add(ref gp, 1), ref Unsafe.Add(ref gq, 1), e);
        }
        return squaredError;
    }

    // In the solver rather than TensorPrimitives.Dot: the package's code starts as tier-0 code, and the spinning workers
    // leave the background compiler no core to replace it during a one-off training.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float DotVectors(Span<float> pu, Span<float> qv)
    {
        ref float pr = ref MemoryMarshal.GetReference(pu), qr = ref MemoryMarshal.GetReference(qv);
        var sum = Vector256.LoadUnsafe(ref pr) * Vector256.LoadUnsafe(ref qr);
        for (int d = 8; d < pu.Length; d += 8) sum += Vector256.LoadUnsafe(ref pr, (nuint)d) * Vector256.LoadUnsafe(ref qr, (nuint)d);
        return Vector256.Sum(sum);
    }

    // A rating's update 8 factors at a time, the first vector the slow part and the rest the fast one: each part's
    // rates from its G as it stands (the four rates in one vector), then G gains the part's mean squared gradient
    // (LIBMF's order).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void UpdateVectors(Sweep s, Span<float> pu, Span<float> qv, ref float gp, ref float gq, float e, bool slowOnly)
    {
        int k = pu.Length;
        ref float gpFast = ref Unsafe.Add(ref gp, 1), gqFast = ref Unsafe.Add(ref gq, 1);
        var rates = Vector128.Create(s.Eta) / Vector128.Sqrt(Vector128.Create(gp, gpFast, gq, gqFast));
        var lambda = Vector256.Create(s.Lambda);
        var err = Vector256.Create(e);
        ref float pr = ref MemoryMarshal.GetReference(pu), qr = ref MemoryMarshal.GetReference(qv);
        var (normP, normQ) = Step(ref pr, ref qr, 0, lambda, err, Vector256.Create(rates[0]), Vector256.Create(rates[2]), s.NonNegative);
        gp += Vector256.Sum(normP) / SlowFactors;
        gq += Vector256.Sum(normQ) / SlowFactors;
        if (slowOnly) return;
        Vector256<float> fastP = Vector256<float>.Zero, fastQ = Vector256<float>.Zero;
        var rateP = Vector256.Create(rates[1]);
        var rateQ = Vector256.Create(rates[3]);
        for (int d = SlowFactors; d < k; d += 8)
        {
            (normP, normQ) = Step(ref pr, ref qr, d, lambda, err, rateP, rateQ, s.NonNegative);
            fastP += normP;
            fastQ += normQ;
        }
        gpFast += Vector256.Sum(fastP) / (k - SlowFactors);
        gqFast += Vector256.Sum(fastQ) / (k - SlowFactors);
    }

    // Eight factors of p and q stepped down their gradients; returns the gradients' squares.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float> P, Vector256<float> Q) Step(ref float pr, ref float qr, int d, Vector256<float> lambda, Vector256<float> err,
        Vector256<float> rateP, Vector256<float> rateQ, bool nonNegative)
    {
        var p = Vector256.LoadUnsafe(ref pr, (nuint)d);
        var q = Vector256.LoadUnsafe(ref qr, (nuint)d);
        var gradP = lambda * p - err * q;
        var gradQ = lambda * q - err * p;
        var nextP = p - rateP * gradP;
        var nextQ = q - rateQ * gradQ;
        if (nonNegative) { nextP = Vector256.Max(nextP, Vector256<float>.Zero); nextQ = Vector256.Max(nextQ, Vector256<float>.Zero); }
        nextP.StoreUnsafe(ref pr, (nuint)d);
        nextQ.StoreUnsafe(ref qr, (nuint)d);
        return (gradP * gradP, gradQ * gradQ);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void UpdateScalar(Sweep s, Span<float> pu, Span<float> qv, ref float gp, ref float gq, float e)
    {
        int k = pu.Length;
        float rp = s.Eta / MathF.Sqrt(gp), rq = s.Eta / MathF.Sqrt(gq);
        float sp = 0, sq = 0;
        for (int d = 0; d < k; d++)
        {
            float gradP = s.Lambda * pu[d] - e * qv[d];
            float gradQ = s.Lambda * qv[d] - e * pu[d];
            sp += gradP * gradP;
            sq += gradQ * gradQ;
            pu[d] -= rp * gradP;
            qv[d] -= rq * gradQ;
            if (s.NonNegative) { pu[d] = Math.Max(pu[d], 0); qv[d] = Math.Max(qv[d], 0); }
        }
        gp += sp / k;
        gq += sq / k;
    }
}
