using Recommender.Trainers.Compilation;
using Recommender.Trainers.Network;
using Recommender.Trainers.Runtime;

namespace Recommender.Trainers.Training;

/// <summary>The multi-task network architectures.</summary>
public enum MultiTaskArchitecture
{
    /// <summary>One shared bottom MLP, a tower per task (the design card's default).</summary>
    SharedBottom,
    /// <summary>Entire Space Multi-task Model: CVR learned through CTCVR over all impressions.</summary>
    Esmm,
    /// <summary>Multi-gate Mixture-of-Experts.</summary>
    Mmoe,
    /// <summary>Progressive Layered Extraction (stacked CGC layers).</summary>
    Ple,
}

/// <summary>How the dense learning rate decays after warm-up.</summary>
public enum LearningRateDecay
{
    /// <summary>Constant after warm-up.</summary>
    None,
    /// <summary>Cosine from the learning rate down to 10% of it at the last step.</summary>
    Cosine,
}

/// <summary>Post-hoc calibration of the binary heads on the validation set.</summary>
public enum CalibrationKind
{
    /// <summary>The heads as trained.</summary>
    None,
    /// <summary>Platt scaling per binary task (see <see cref="PlattCalibration"/>), fitted on the validation rows where the task is defined.</summary>
    Platt,
    /// <summary>Isotonic regression per binary task (see <see cref="IsotonicCalibration"/>), fitted on the validation rows where the task is defined.</summary>
    Isotonic,
}

/// <summary>Options of the multi-task trainer. Public fields with documented defaults, as ML.NET trainers have.</summary>
public sealed class MultiTaskTrainerOptions
{
    /// <summary>Default values.</summary>
    public static class Defaults
    {
        /// <summary>Embedding width.</summary>
        public const int EmbeddingDim = 16;
        /// <summary>Rows per step.</summary>
        public const int BatchSize = 2048;
        /// <summary>
        /// Passes over the training data. One: models with id embeddings overfit from the second epoch on (the
        /// "one-epoch phenomenon", Zhang et al., CIKM 2022), so early stopping always kept the first epoch;
        /// one epoch, with the cosine schedule ending where training ends, scores the same (README: CTR AUC
        /// within 0.0005 on 1M rows for all four architectures, +0.002 for SharedBottom on the demo data) in
        /// half the time.
        /// </summary>
        public const int Epochs = 1;
        /// <summary>Adam's learning rate for dense parameters.</summary>
        public const float LearningRate = 1e-3f;
        /// <summary>Sparse Adagrad's learning rate for embeddings.</summary>
        public const float EmbeddingLearningRate = 0.05f;
        /// <summary>Steps of linear warm-up.</summary>
        public const int WarmupSteps = 100;
        /// <summary>Epochs without improvement before stopping.</summary>
        public const int Patience = 1;
        /// <summary>Weight of the rating loss.</summary>
        public const float RatingWeight = 0.1f;
        /// <summary>
        /// Field-aware pairwise products, DLRM's pairwise dot products and crossed embeddings beside the MLP. Measured (README,
        /// "Against ML.NET's own trainers", ESMM's test CTR AUC): on data whose click law has attribute crosses 0.8144 against
        /// 0.8038-0.8059 with the first two alone and FFM's 0.8030; on the behaviour data 0.8699, as with the first two (the
        /// crossed embeddings alone: 0.8647); on the default data, whose law has no crosses, level with both (0.7835). The cost:
        /// 1.6-1.8x the training time of the first two, and SharedBottom 0.006 lower on the default data (under 1.5 standard
        /// errors); CVR AUC 0.002-0.015 lower on every data set, each under one standard error.
        /// </summary>
        public const FeatureInteractions Interactions = FeatureInteractions.FieldAware | FeatureInteractions.PairwiseDot | FeatureInteractions.CrossedEmbeddings;
    }

    /// <summary>The architecture.</summary>
    public MultiTaskArchitecture Architecture = MultiTaskArchitecture.SharedBottom;
    /// <summary>Key-typed categorical columns; null = every key-typed column of the input, in schema order.</summary>
    public string[]? CategoricalColumns;
    /// <summary>The float vector of dense features; ignored when the input has no such column.</summary>
    public string? DenseColumn = "DenseFeatures";
    /// <summary>
    /// The tasks to learn, each with its label column, kind, weight and the task it is given (see
    /// <see cref="TaskDefinition"/>). Null: the default chain of <see cref="ClickColumn"/> (task <c>ctr</c>),
    /// <see cref="ConversionColumn"/> (<c>cvr</c>, given <c>ctr</c>) and <see cref="RatingColumn"/> (<c>rating</c>), with the
    /// weights and rating range below; with tasks declared, those settings are not used.
    /// </summary>
    public TaskDefinition[]? Tasks;
    /// <summary>Click label column (0/1).</summary>
    public string ClickColumn = "Click";
    /// <summary>Conversion label column (0/1).</summary>
    public string ConversionColumn = "Conversion";
    /// <summary>Rating label column (NaN = not rated).</summary>
    public string RatingColumn = "Rating";

    /// <summary>Weight of the CTR loss (alpha); 0 switches the task off.</summary>
    public float CtrWeight = 1;
    /// <summary>Weight of the CVR (ESMM: CTCVR) loss (beta); 0 switches the task off.</summary>
    public float CvrWeight = 1;
    /// <summary>
    /// Weight of the rating loss (gamma); 0 switches the task off. Default 0.1: the rating MSE (on its 1-5
    /// scale) runs about three times the click BCE and comes from the few rated rows of each batch, so at
    /// weight 1 its noisy gradient drowns the CTR signal in shared layers (measured on the default data:
    /// SharedBottom validation CTR AUC 0.757 at 1, 0.779 at 0.1, with the rating RMSE unchanged).
    /// </summary>
    public float RatingWeight = Defaults.RatingWeight;
    /// <summary>Learn the task weights by uncertainty (Kendall et al., 2018) on top of the fixed ones.</summary>
    public bool LearnTaskWeights;
    /// <summary>Smallest rating (the rating head's range).</summary>
    public float RatingMin = 1;
    /// <summary>Largest rating.</summary>
    public float RatingMax = 5;

    /// <summary>Embedding width.</summary>
    public int EmbeddingDim = Defaults.EmbeddingDim;
    /// <summary>
    /// Post-hoc calibration of the binary heads, fitted on the validation data after training and compiled into the
    /// network (so every scoring path and the ONNX export apply it); needs validation data, without which it is skipped.
    /// </summary>
    public CalibrationKind Calibration = CalibrationKind.Platt;
    /// <summary>Explicit feature-interaction blocks of the input, for every architecture: factorization-machine bi-interaction, DCN-v2 cross network, both, or none.</summary>
    public FeatureInteractions Interactions = Defaults.Interactions;
    /// <summary>Cross layers, with <see cref="FeatureInteractions.Cross"/>.</summary>
    public int CrossLayers = 2;
    /// <summary>Width of each field-aware vector, with <see cref="FeatureInteractions.FieldAware"/> (every plain field gets one per plain field).</summary>
    public int FieldAwareDim = 4;
    /// <summary>
    /// With <see cref="FeatureInteractions.CrossedEmbeddings"/>: a pair of plain fields is crossed when its values make at most this many
    /// combinations (rows of the pair's table, the unknown ids included).
    /// </summary>
    public int CrossedRowLimit = 10_000;
    /// <summary>
    /// With <see cref="FeatureInteractions.CrossedEmbeddings"/>: the width of each crossed pair's embedding. Half the field
    /// embeddings' width by default: as good on CTR as 16 on the generator's data, better on conversion, and a quarter faster.
    /// </summary>
    public int CrossedDim = 8;
    /// <summary>
    /// Behaviour sequences among the key columns (see <see cref="BehaviourSequence"/>); null or empty for none. Their
    /// positions are not fields of their own: each sequence is pooled into one embedding.
    /// </summary>
    public BehaviourSequence[]? Sequences;
    /// <summary>How each behaviour sequence is pooled: DIN's target attention (default) or the mean.</summary>
    public SequencePooling Pooling = SequencePooling.Attention;
    /// <summary>Hidden width of the attention MLP.</summary>
    public int AttentionHidden = 32;
    /// <summary>
    /// With behaviour sequences: each position's match with the candidate (1 where the event is the candidate's own item, or
    /// its category, 0 otherwise) joins the input, position by position (SIM's hard search as features; see
    /// <see cref="BehaviourPooling"/>). Default true; a model trained without them warm-starts with false.
    /// </summary>
    public bool SequenceMatches = true;
    /// <summary>SharedBottom: the bottom MLP's hidden sizes.</summary>
    public int[] Bottom = [256, 128];
    /// <summary>Every architecture: each task tower's hidden sizes (a linear output follows).</summary>
    public int[] Tower = [64];
    /// <summary>MMoE and PLE: each expert's hidden sizes.</summary>
    public int[] Expert = [128];
    /// <summary>MMoE: number of experts.</summary>
    public int Experts = 4;
    /// <summary>PLE: CGC layers.</summary>
    public int PleLayers = 2;
    /// <summary>PLE: shared experts per layer.</summary>
    public int SharedExperts = 2;
    /// <summary>PLE: experts per task per layer.</summary>
    public int TaskExperts = 1;

    /// <summary>Passes over the training data.</summary>
    public int Epochs = Defaults.Epochs;
    /// <summary>Rows per step.</summary>
    public int BatchSize = Defaults.BatchSize;
    /// <summary>The dense parameters' learning rate (Adam's by default).</summary>
    public float LearningRate = Defaults.LearningRate;
    /// <summary>The dense parameters' optimizer, compiled into the train step: Adam (default), AdamW or SGD with momentum.</summary>
    public DenseOptimizerKind Optimizer = DenseOptimizerKind.Adam;
    /// <summary>Weight decay of the dense parameters: L2 added to the gradient for Adam and SGD, decoupled for AdamW; 0 = off.</summary>
    public float WeightDecay;
    /// <summary>SGD's momentum (0 = plain SGD); the other optimizers ignore it.</summary>
    public float Momentum = 0.9f;
    /// <summary>Clip the dense gradients to this global L2 norm before the update; 0 = off.</summary>
    public float GradientClipNorm;
    /// <summary>Sparse Adagrad's learning rate for embeddings.</summary>
    public float EmbeddingLearningRate = Defaults.EmbeddingLearningRate;
    /// <summary>L2 on touched embedding rows.</summary>
    public float EmbeddingL2;
    /// <summary>
    /// Frequency-adaptive L2 on embedding rows (DIN's adaptive regularization): a row whose id occurs n times in the training
    /// data gets <c>AdaptiveEmbeddingL2 / n</c> on each update, added to <see cref="EmbeddingL2"/>; 0 = off.
    /// </summary>
    public float AdaptiveEmbeddingL2;
    /// <summary>Steps of linear learning-rate warm-up.</summary>
    public int WarmupSteps = Defaults.WarmupSteps;
    /// <summary>Decay after warm-up.</summary>
    public LearningRateDecay Decay = LearningRateDecay.Cosine;
    /// <summary>Seed of initialization and shuffling; a fixed seed gives the same model on the CPU.</summary>
    public int Seed = 1;

    /// <summary>
    /// Validation metric for early stopping and the best epoch: <c>task.metric</c> with a binary task's <c>auc</c>,
    /// <c>logloss</c> or (chained) <c>entire_auc</c>, or a regression task's <c>rmse</c> or <c>mae</c>; null = the first
    /// binary task's AUC (the first task's RMSE when none is binary). The default chain's old names (ctr_auc,
    /// ctr_logloss, cvr_auc, ctcvr_auc, rating_rmse) are accepted.
    /// </summary>
    public string? EarlyStoppingMetric;
    /// <summary>Epochs without improvement before stopping; 0 = never stop early.</summary>
    public int Patience = Defaults.Patience;
    /// <summary>Where the last epoch's checkpoint is written (atomically); null = no checkpoints.</summary>
    public string? CheckpointPath;
    /// <summary>Continue from <see cref="CheckpointPath"/> when it exists.</summary>
    public bool Resume = true;

    /// <summary>Device of the train step.</summary>
    public ExecutionDevice Device = ExecutionDevice.Auto;
    /// <summary>CPU threads for ONNX Runtime and the host work; 0 = one per core.</summary>
    public int Threads;
    /// <summary>ONNX Runtime's threads spin between a step's kernels (see <see cref="RuntimeOptions.AllowSpinning"/>); false where other work shares the cores.</summary>
    public bool AllowSpinning = true;

    /// <summary>Called during each epoch (epoch, step within the epoch, steps per epoch, running loss).</summary>
    public Action<int, int, int, double>? Progress;

    /// <summary>A copy the caller's later changes do not reach (arrays copied too), as ML.NET's estimators keep their options.</summary>
    public MultiTaskTrainerOptions Clone()
    {
        var copy = (MultiTaskTrainerOptions)MemberwiseClone();
        copy.CategoricalColumns = (string[]?)CategoricalColumns?.Clone();
        copy.Tasks = (TaskDefinition[]?)Tasks?.Clone();
        copy.Bottom = (int[])Bottom.Clone();
        copy.Tower = (int[])Tower.Clone();
        copy.Expert = (int[])Expert.Clone();
        return copy;
    }

    /// <summary>The tasks to learn: <see cref="Tasks"/>, or the default chain built from the label columns, weights and rating range.</summary>
    public IReadOnlyList<TaskDefinition> ResolveTasks() =>
        Tasks ?? TaskList.DefaultChain(ClickColumn, ConversionColumn, RatingColumn, CtrWeight, CvrWeight, RatingWeight, RatingMin, RatingMax);

    /// <summary>Stops training between two steps with <see cref="OperationCanceledException"/> (Ctrl-C); the last epoch's checkpoint stays resumable.</summary>
    public CancellationToken Cancellation;
    /// <summary>Called after each epoch with its report.</summary>
    public Action<EpochReport>? EpochCompleted;
}

/// <summary>
/// One epoch's training loss and validation metrics; <c>Seconds</c> is the whole epoch with its validation,
/// <c>SamplesPerSecond</c> the training rows over the training steps' time alone.
/// </summary>
public sealed record EpochReport(int Epoch, double TrainLoss, IReadOnlyDictionary<string, double> TrainLossTerms,
    IReadOnlyDictionary<string, double> Validation, double Seconds, double SamplesPerSecond, bool Best);
