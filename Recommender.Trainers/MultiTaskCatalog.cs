using Microsoft.ML;
using Recommender.Trainers.Training;

namespace Recommender.Trainers;

/// <summary>Entry point: <c>mlContext.MultiTask().Trainers.SharedBottom(options)</c>.</summary>
public static class MultiTaskCatalogExtensions
{
    /// <summary>The multi-task catalog of this context.</summary>
    public static MultiTaskCatalog MultiTask(this MLContext mlContext) => new(mlContext);
}

/// <summary>Multi-task (CTR / CVR / rating) components.</summary>
public sealed class MultiTaskCatalog(MLContext mlContext)
{
    /// <summary>The trainers.</summary>
    public MultiTaskTrainers Trainers { get; } = new(mlContext);
}

/// <summary>The multi-task trainers; each returns an estimator that adds PCtr, PCvr, PCtcvr and PredictedRating.</summary>
public sealed class MultiTaskTrainers(MLContext mlContext)
{
    /// <summary>Shared-bottom network (the design card's default).</summary>
    public MultiTaskEstimator SharedBottom(MultiTaskTrainerOptions? options = null) => Create(MultiTaskArchitecture.SharedBottom, options);
    /// <summary>ESMM: CVR learned through CTCVR over the entire impression space.</summary>
    public MultiTaskEstimator Esmm(MultiTaskTrainerOptions? options = null) => Create(MultiTaskArchitecture.Esmm, options);
    /// <summary>Multi-gate Mixture-of-Experts.</summary>
    public MultiTaskEstimator Mmoe(MultiTaskTrainerOptions? options = null) => Create(MultiTaskArchitecture.Mmoe, options);
    /// <summary>Progressive Layered Extraction.</summary>
    public MultiTaskEstimator Ple(MultiTaskTrainerOptions? options = null) => Create(MultiTaskArchitecture.Ple, options);

    /// <summary>The architecture named in <see cref="MultiTaskTrainerOptions.Architecture"/> (for experiment files and CLIs).</summary>
    public MultiTaskEstimator FromOptions(MultiTaskTrainerOptions options) => new(mlContext, options);

    // The caller's options are copied, never changed: one options object can make a SharedBottom and then an ESMM.
    private MultiTaskEstimator Create(MultiTaskArchitecture architecture, MultiTaskTrainerOptions? options)
    {
        var copy = (options ?? new MultiTaskTrainerOptions()).Clone();
        copy.Architecture = architecture;
        return new MultiTaskEstimator(mlContext, copy);
    }
}
