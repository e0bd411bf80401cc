using System.CommandLine;
using System.Text.Json;
using Recommender.Pipeline.Data;
using Recommender.Trainers.Compilation;
using Recommender.Trainers.Network;
using Recommender.Trainers.Runtime;
using Recommender.Trainers.Training;

namespace Recommender.Pipeline.Cli;

/// <summary>The trainer's options as flags; an experiment file's "trainer" section fills them first.</summary>
internal sealed class TrainerArguments
{
    public readonly Option<MultiTaskArchitecture?> Architecture = new("--architecture") { Description = "SharedBottom, Esmm, Mmoe or Ple" };
    public readonly Option<int?> Epochs = new Option<int?>("--epochs") { Description = $"Passes over the training data (default {MultiTaskTrainerOptions.Defaults.Epochs})" }.AtLeast(1);
    public readonly Option<int?> BatchSize = new Option<int?>("--batch-size") { Description = $"Rows per step (default {MultiTaskTrainerOptions.Defaults.BatchSize})" }.AtLeast(1).AtMost(RuntimeOptions.MaxBatchRows);
    public readonly Option<int?> EmbeddingDim = new Option<int?>("--embedding-dim") { Description = $"Embedding width (default {MultiTaskTrainerOptions.Defaults.EmbeddingDim})" }.AtLeast(1);
    public readonly Option<float?> LearningRate = new Option<float?>("--learning-rate") { Description = "Adam learning rate of dense parameters (default 0.001)" }.Finite(0);
    public readonly Option<float?> EmbeddingLearningRate = new Option<float?>("--embedding-learning-rate") { Description = "Sparse Adagrad learning rate of the embeddings (default 0.05)" }.Finite(0);
    public readonly Option<int?> WarmupSteps = new Option<int?>("--warmup-steps") { Description = $"Linear learning-rate warm-up steps (default {MultiTaskTrainerOptions.Defaults.WarmupSteps})" }.AtLeast(0);
    public readonly Option<LearningRateDecay?> Decay = new("--decay") { Description = "Learning-rate schedule after the warm-up: Cosine (default, down to 10%) or None (constant)" };
    public readonly Option<FeatureInteractions?> Interactions = new("--interactions") { Description = "Explicit feature interactions of the input, for every architecture: a comma-separated combination of FactorizationMachine, Cross, PairwiseDot, DeepFm, FieldAware, FieldAwareLinear (with FieldAware: its pair products also straight into each logit) and CrossedEmbeddings (an embedding per value combination of every pair of fields with few combinations) (default FieldAware,PairwiseDot,CrossedEmbeddings), or None" };
    public readonly Option<int?> CrossLayers = new Option<int?>("--cross-layers") { Description = "Cross layers with --interactions Cross (default 2)" }.AtLeast(1);
    public readonly Option<int?> FieldAwareDim = new Option<int?>("--field-aware-dim") { Description = "Width of each field-aware vector with --interactions FieldAware (default 4)" }.AtLeast(1);
    public readonly Option<int?> CrossedDim = new Option<int?>("--crossed-dim") { Description = $"Width of each crossed pair's embedding with --interactions CrossedEmbeddings (default {new MultiTaskTrainerOptions().CrossedDim})" }.AtLeast(1);
    public readonly Option<int?> CrossedRowLimit = new Option<int?>("--crossed-row-limit") { Description = $"With --interactions CrossedEmbeddings: a pair of fields is crossed when its values make at most this many combinations, unknown values included (default {new MultiTaskTrainerOptions().CrossedRowLimit})" }.AtLeast(1);
    public readonly Option<SequencePooling?> Pooling = new("--pooling") { Description = "How the schema's behaviour sequences are pooled: Attention (default, DIN's target attention) or Mean" };
    public readonly Option<bool?> SequenceMatches = new("--sequence-matches") { Description = "With behaviour sequences: each position's match with the candidate (the same item, the same category) joins the input (default true; false for a model trained without them)" };
    public readonly Option<int?> AttentionHidden = new Option<int?>("--attention-hidden") { Description = "Hidden width of the attention MLP (default 32)" }.AtLeast(1);
    public readonly Option<CalibrationKind?> Calibration = new("--calibration") { Description = "Post-hoc calibration of the binary heads on the validation data: Platt (default), Isotonic or None" };
    public readonly Option<DenseOptimizerKind?> Optimizer = new("--optimizer") { Description = "Dense optimizer: Adam (default), AdamW or Sgd" };
    public readonly Option<float?> WeightDecay = new Option<float?>("--weight-decay") { Description = "Weight decay of the dense parameters (L2 for Adam and Sgd, decoupled for AdamW; default 0)" }.Finite(0);
    public readonly Option<float?> Momentum = new Option<float?>("--momentum") { Description = "Sgd's momentum, in [0, 1) (default 0.9)" }.InRange(0, 1);
    public readonly Option<float?> ClipNorm = new Option<float?>("--clip-norm") { Description = "Clip the dense gradients to this global L2 norm (default 0: off)" }.Finite(0);
    public readonly Option<float?> EmbeddingL2 = new Option<float?>("--embedding-l2") { Description = "L2 on touched embedding rows" }.Finite(0);
    public readonly Option<float?> AdaptiveEmbeddingL2 = new Option<float?>("--adaptive-embedding-l2") { Description = "Frequency-adaptive L2 on embedding rows: an id seen n times in training gets this / n per update (DIN's adaptive regularization); 0 = off" }.Finite(0);
    public readonly Option<float?> CtrWeight = new Option<float?>("--ctr-weight") { Description = "alpha: weight of the default chain's CTR loss; 0 switches CTR off (declared tasks: their own weight)" }.Finite(0);
    public readonly Option<float?> CvrWeight = new Option<float?>("--cvr-weight") { Description = "beta: weight of the CVR loss; 0 switches CVR off" }.Finite(0);
    public readonly Option<float?> RatingWeight = new Option<float?>("--rating-weight") { Description = "gamma: weight of the rating loss; 0 switches rating off" }.Finite(0);
    public readonly Option<bool> LearnTaskWeights = new("--learn-task-weights") { Description = "Learn task weights by uncertainty (Kendall et al., 2018)" };
    public readonly Option<string?> EarlyStopping = new("--early-stopping-metric") { Description = "task.metric: a binary task's auc, logloss or (chained) entire_auc / entire_logloss, a regression task's rmse or mae (default: the first binary task's auc)" };
    public readonly Option<ExecutionDevice?> Device = new("--device") { Description = "Auto (CUDA if it starts, else CPU), Cpu or Cuda" };
    public readonly Option<int?> Threads = new Option<int?>("--threads") { Description = "CPU threads (default: one per core)" }.AtLeast(0).AtMost(RuntimeOptions.MaxThreads);
    public readonly Option<bool> NoSpinning = SpinningOption.Create();
    public readonly Option<FileInfo?> Checkpoint = new("--checkpoint") { Description = "Checkpoint file written after each epoch; an existing one is resumed" };
    public readonly Option<int?> Seed = new("--seed") { Description = "Seed of initialization and shuffling" };

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Architecture, Epochs, BatchSize, EmbeddingDim, LearningRate, EmbeddingLearningRate, WarmupSteps, Decay, Interactions, CrossLayers, FieldAwareDim, CrossedRowLimit, CrossedDim, Pooling, SequenceMatches, AttentionHidden, Calibration, Optimizer, WeightDecay, Momentum, ClipNorm, EmbeddingL2, AdaptiveEmbeddingL2, CtrWeight, CvrWeight, RatingWeight, LearnTaskWeights, EarlyStopping, Device, Threads, NoSpinning, Checkpoint, Seed })
            command.Options.Add(o);
    }

    // Enum options by name ("architecture": "Mmoe"), as the command line takes them.
    private static readonly JsonSerializerOptions TrainerJson = new(DatasetSchema.JsonOptions) { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };

    public MultiTaskTrainerOptions Build(ParseResult r, ExperimentFile? experiment)
    {
        var o = new MultiTaskTrainerOptions();
        if (experiment is not null)
        {
            o.CtrWeight = experiment.Tasks.Ctr;
            o.CvrWeight = experiment.Tasks.Cvr;
            o.RatingWeight = experiment.Tasks.Rating;
            foreach (var (name, value) in experiment.Trainer ?? [])
            {
                var field = typeof(MultiTaskTrainerOptions).GetField(name, System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.IgnoreCase)
                    ?? throw new SchemaException($"experiment trainer option '{name}' is not an option of the multi-task trainer");
                try { field.SetValue(o, value.Deserialize(field.FieldType, TrainerJson)); }
                catch (System.Text.Json.JsonException error) { throw new SchemaException($"experiment trainer option '{name}': {value.GetRawText()} is not a {field.FieldType.Name} ({error.Message.Split(" Path:")[0]})"); }
            }
        }
        if (r.GetValue(Architecture) is { } a) o.Architecture = a;
        if (r.GetValue(Epochs) is { } e) o.Epochs = e;
        if (r.GetValue(BatchSize) is { } b) o.BatchSize = b;
        if (r.GetValue(EmbeddingDim) is { } d) o.EmbeddingDim = d;
        if (r.GetValue(LearningRate) is { } lr) o.LearningRate = lr;
        if (r.GetValue(EmbeddingLearningRate) is { } elr) o.EmbeddingLearningRate = elr;
        if (r.GetValue(EmbeddingL2) is { } el2) o.EmbeddingL2 = el2;
        if (r.GetValue(AdaptiveEmbeddingL2) is { } ael2) o.AdaptiveEmbeddingL2 = ael2;
        if (r.GetValue(Optimizer) is { } optimizer) o.Optimizer = optimizer;
        if (r.GetValue(Interactions) is { } interactions) o.Interactions = interactions;
        if (r.GetValue(Calibration) is { } calibration) o.Calibration = calibration;
        if (r.GetValue(CrossLayers) is { } layers) o.CrossLayers = layers;
        if (r.GetValue(FieldAwareDim) is { } fieldAwareDim) o.FieldAwareDim = fieldAwareDim;
        if (r.GetValue(CrossedRowLimit) is { } crossedRowLimit) o.CrossedRowLimit = crossedRowLimit;
        if (r.GetValue(CrossedDim) is { } crossedDim) o.CrossedDim = crossedDim;
        if (r.GetValue(Pooling) is { } pooling) o.Pooling = pooling;
        if (r.GetValue(AttentionHidden) is { } hidden) o.AttentionHidden = hidden;
        if (r.GetValue(SequenceMatches) is { } sequenceMatches) o.SequenceMatches = sequenceMatches;
        if (r.GetValue(WeightDecay) is { } wd) o.WeightDecay = wd;
        if (r.GetValue(Momentum) is { } momentum) o.Momentum = momentum;
        if (r.GetValue(ClipNorm) is { } clip) o.GradientClipNorm = clip;
        if (r.GetValue(WarmupSteps) is { } ws) o.WarmupSteps = ws;
        if (r.GetValue(Decay) is { } decay) o.Decay = decay;
        if (r.GetValue(CtrWeight) is { } cw) o.CtrWeight = cw;
        if (r.GetValue(CvrWeight) is { } vw) o.CvrWeight = vw;
        if (r.GetValue(RatingWeight) is { } rw) o.RatingWeight = rw;
        if (r.GetValue(LearnTaskWeights)) o.LearnTaskWeights = true;
        if (r.GetValue(EarlyStopping) is { } m) o.EarlyStoppingMetric = m;
        if (r.GetValue(Device) is { } dev) o.Device = dev;
        if (r.GetValue(Threads) is { } t) o.Threads = t;
        if (r.GetValue(NoSpinning)) o.AllowSpinning = false;
        if (r.GetValue(Checkpoint) is { } c) o.CheckpointPath = c.FullName;
        if (r.GetValue(Seed) is { } s) o.Seed = s;
        return o;
    }
}
