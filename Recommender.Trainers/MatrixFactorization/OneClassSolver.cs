namespace Recommender.Trainers.MatrixFactorization;

/// <summary>
/// One-class (implicit feedback) matrix factorization by alternating least squares, minimizing
/// <c>sum_observed (r - p.q)^2 + alpha * sum_unobserved (C - p.q)^2 + lambda (|P|^2 + |Q|^2)</c> exactly per sweep.
/// The unobserved sum covers the whole matrix without visiting it: for a user,
/// <c>(alpha QtQ + sum_obs (1 - alpha) q qt + lambda I) p = alpha C sum_all q + sum_obs (r - alpha C) q</c>
/// (the implicit-ALS trick of Hu, Koren and Volinsky), a k x k solve per row.
/// </summary>
internal static class OneClassSolver
{
    public static (float[] P, float[] Q) Train(RatingMatrix data, MatrixFactorizationOptions o, RatingMatrix? validation, int threads)
    {
        int k = o.ApproximationRank;
        var rng = new Random(o.Seed);
        var p = new float[(long)data.Rows * k];
        var q = new float[(long)data.Columns * k];
        for (long i = 0; i < p.LongLength; i++) p[i] = (float)(rng.NextDouble() * 0.1);
        for (long i = 0; i < q.LongLength; i++) q[i] = (float)(rng.NextDouble() * 0.1);
        var byRow = Index(data.Rows, data.RowIndex, data.ColumnIndex, data.Values);
        var byColumn = Index(data.Columns, data.ColumnIndex, data.RowIndex, data.Values);
        for (int iteration = 1; iteration <= o.NumberOfIterations; iteration++)
        {
            Solve(p, q, byRow, k, o, threads);
            Solve(q, p, byColumn, k, o, threads);
            o.IterationCompleted?.Invoke(iteration, SgdSolver.Rmse(data, p, q, k), validation is null ? double.NaN : SgdSolver.Rmse(validation, p, q, k));
        }
        return (p, q);
    }

    // CSR: for each row, its observed (other index, value) pairs.
    private static (int[] Start, int[] Other, float[] Value) Index(int n, int[] own, int[] other, float[] values)
    {
        var start = new int[n + 1];
        foreach (int i in own) start[i + 1]++;
        for (int i = 0; i < n; i++) start[i + 1] += start[i];
        var fill = (int[])start.Clone();
        var o = new int[own.Length];
        var v = new float[own.Length];
        for (int e = 0; e < own.Length; e++)
        {
            int slot = fill[own[e]]++;
            o[slot] = other[e];
            v[slot] = values[e];
        }
        return (start, o, v);
    }

    // Updates every row of x holding y fixed.
    private static void Solve(float[] x, float[] y, (int[] Start, int[] Other, float[] Value) index, int k, MatrixFactorizationOptions o, int threads)
    {
        double alpha = o.Alpha, c = o.C;
        int yRows = y.Length / k;
        var gram = new double[k * k];
        var sum = new double[k];
        for (int j = 0; j < yRows; j++)
            for (int a = 0; a < k; a++)
            {
                double ya = y[j * k + a];
                sum[a] += ya;
                for (int b = 0; b < k; b++) gram[a * k + b] += ya * y[j * k + b];
            }
        int rows = x.Length / k;
        Parallel.For(0, rows, new ParallelOptions { MaxDegreeOfParallelism = threads }, () => (new double[k * k], new double[k]), (r, _, buffers) =>
        {
            var (m, rhs) = buffers;
            for (int a = 0; a < k * k; a++) m[a] = alpha * gram[a];
            for (int a = 0; a < k; a++) { m[a * k + a] += o.Lambda; rhs[a] = alpha * c * sum[a]; }
            for (int e = index.Start[r]; e < index.Start[r + 1]; e++)
            {
                int j = index.Other[e];
                double weight = 1 - alpha, target = index.Value[e] - alpha * c;
                for (int a = 0; a < k; a++)
                {
                    double ya = y[j * k + a];
                    rhs[a] += target * ya;
                    for (int b = 0; b < k; b++) m[a * k + b] += weight * ya * y[j * k + b];
                }
            }
            CholeskySolve(m, rhs, k);
            for (int a = 0; a < k; a++) x[r * k + a] = (float)(o.NonNegative ? Math.Max(rhs[a], 0) : rhs[a]);
            return buffers;
        }, _ => { });
    }

    // Solves m z = rhs in place (rhs <- z); m is symmetric positive definite (lambda > 0 keeps it so).
    private static void CholeskySolve(double[] m, double[] rhs, int k)
    {
        for (int i = 0; i < k; i++)
        {
            for (int j = 0; j <= i; j++)
            {
                double s = m[i * k + j];
                for (int t = 0; t < j; t++) s -= m[i * k + t] * m[j * k + t];
                m[i * k + j] = i == j ? Math.Sqrt(Math.Max(s, 1e-12)) : s / m[j * k + j];
            }
        }
        for (int i = 0; i < k; i++)
        {
            double s = rhs[i];
            for (int t = 0; t < i; t++) s -= m[i * k + t] * rhs[t];
            rhs[i] = s / m[i * k + i];
        }
        for (int i = k - 1; i >= 0; i--)
        {
            double s = rhs[i];
            for (int t = i + 1; t < k; t++) s -= m[t * k + i] * rhs[t];
            rhs[i] = s / m[i * k + i];
        }
    }
}
