namespace Recommender.Trainers.MatrixFactorization;

/// <summary>Trains factors on a <see cref="RatingMatrix"/>: adaptive parallel SGD for squared loss, ALS for one-class.</summary>
public static class MatrixFactorizationTrainer
{
    /// <summary>Trains; <paramref name="validation"/> (same index spaces) is scored after every iteration.</summary>
    public static MatrixFactorizationModelParameters Train(RatingMatrix data, MatrixFactorizationOptions options, RatingMatrix? validation = null)
    {
        if (options.ApproximationRank < 1) throw new ArgumentOutOfRangeException(nameof(options), "ApproximationRank must be positive");
        if (options.NumberOfIterations < 1) throw new ArgumentOutOfRangeException(nameof(options), "NumberOfIterations must be positive");
        if (data.Count == 0) throw new ArgumentException("no observed entries to train on");
        // Refused before allocating: factors past one .NET array, or past what this process may use, with their size.
        double rowFloats = (double)data.Rows * options.ApproximationRank, columnFloats = (double)data.Columns * options.ApproximationRank;
        double bytes = (rowFloats + columnFloats) * sizeof(float);
        long available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (Math.Max(rowFloats, columnFloats) > Array.MaxLength || bytes > available)
            throw new ArgumentException($"the factors of rank {options.ApproximationRank} would take {bytes / (1L << 30):N1} GiB, more than the {available / (double)(1L << 30):N1} GiB this process may use (or one .NET array holds): lower ApproximationRank");
        int threads = Math.Max(1, options.NumberOfThreads ?? Environment.ProcessorCount);
        var (p, q) = options.LossFunction == LossFunctionType.SquareLossOneClass
            ? OneClassSolver.Train(data, options, validation, threads)
            : SgdSolver.Train(data, options, validation, threads);
        return new MatrixFactorizationModelParameters(data.Rows, data.Columns, options.ApproximationRank, p, q);
    }
}
