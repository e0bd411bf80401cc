using Recommender.Trainers.Runtime;

namespace Recommender.Trainers.MatrixFactorization;

/// <summary>Loss functions, named as ML.NET's <c>MatrixFactorizationTrainer.LossFunctionType</c>.</summary>
public enum LossFunctionType
{
    /// <summary>Squared error on the observed entries (explicit ratings).</summary>
    SquareLossRegression = 0,
    /// <summary>One-class (implicit feedback): observed entries pulled to their label, unobserved ones to <see cref="MatrixFactorizationOptions.C"/> with weight <see cref="MatrixFactorizationOptions.Alpha"/>.</summary>
    SquareLossOneClass = 12,
}

/// <summary>Options with ML.NET's <c>MatrixFactorizationTrainer.Options</c> names and defaults.</summary>
public sealed class MatrixFactorizationOptions
{
    /// <summary>Default values (ML.NET's).</summary>
    public static class Defaults
    {
        /// <summary>Rank of the factors.</summary>
        public const int ApproximationRank = 8;
        /// <summary>L2 regularization.</summary>
        public const double Lambda = 0.1;
        /// <summary>Initial learning rate of the adaptive SGD.</summary>
        public const double LearningRate = 0.1;
        /// <summary>Passes over the data.</summary>
        public const int NumberOfIterations = 20;
        /// <summary>Weight of the unobserved entries (one-class).</summary>
        public const double Alpha = 0.0001;
        /// <summary>Target of the unobserved entries (one-class).</summary>
        public const double C = 0.000001;
    }

    /// <summary>The row index column (key-typed): the user.</summary>
    public string MatrixRowIndexColumnName = "UserId";
    /// <summary>The column index column (key-typed): the item.</summary>
    public string MatrixColumnIndexColumnName = "ItemId";
    /// <summary>The label: a rating, or 1 for an observed interaction (one-class).</summary>
    public string LabelColumnName = "Label";
    /// <summary>The loss.</summary>
    public LossFunctionType LossFunction = LossFunctionType.SquareLossRegression;
    /// <summary>Rank of the factors.</summary>
    public int ApproximationRank = Defaults.ApproximationRank;
    /// <summary>L2 regularization of both factor matrices.</summary>
    public double Lambda = Defaults.Lambda;
    /// <summary>Initial learning rate (regression: adaptive SGD as LIBMF).</summary>
    public double LearningRate = Defaults.LearningRate;
    /// <summary>Passes over the data (one-class: ALS sweeps).</summary>
    public int NumberOfIterations = Defaults.NumberOfIterations;
    /// <summary>One-class: weight of the unobserved entries' loss.</summary>
    public double Alpha = Defaults.Alpha;
    /// <summary>One-class: the value unobserved entries are pulled to.</summary>
    public double C = Defaults.C;
    /// <summary>Constrain both factor matrices to non-negative values.</summary>
    public bool NonNegative;
    /// <summary>Threads; null = one per core. With more than one the SGD order varies, so results vary slightly between runs.</summary>
    public int? NumberOfThreads;
    /// <summary>Print no per-iteration line.</summary>
    public bool Quiet = true;
    /// <summary>Seed of the factor initialization and the shuffles.</summary>
    public int Seed = 1;
    /// <summary>Called after each iteration with (iteration, training RMSE, validation RMSE or NaN).</summary>
    public Action<int, double, double>? IterationCompleted;

    /// <summary>A copy the caller's later changes do not reach.</summary>
    public MatrixFactorizationOptions Clone() => (MatrixFactorizationOptions)MemberwiseClone();
}
