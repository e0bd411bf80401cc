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
        int threads = Math.Max(1, options.NumberOfThreads ?? Environment.ProcessorCount);
        var (p, q) = options.LossFunction == LossFunctionType.SquareLossOneClass
            ? OneClassSolver.Train(data, options, validation, threads)
            : SgdSolver.Train(data, options, validation, threads);
        return new MatrixFactorizationModelParameters(data.Rows, data.Columns, options.ApproximationRank, p, q);
    }
}
