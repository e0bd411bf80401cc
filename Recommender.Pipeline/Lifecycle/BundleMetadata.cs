using Recommender.Pipeline.Data;
using Recommender.Trainers.Network;

namespace Recommender.Pipeline.Lifecycle;

/// <summary>What a bundle's model.json holds: the schema, the network's input contract, options, history, test metrics.</summary>
public sealed class BundleMetadata
{
    /// <summary>The data schema the model was trained with.</summary>
    public DatasetSchema Schema { get; set; } = new();
    /// <summary>Architecture name.</summary>
    public string Architecture { get; set; } = "";
    /// <summary>The ONNX model's id inputs, in order: int64 [N, 1] each, the featurized key of that column (0 = unseen).</summary>
    public List<string> OnnxIdInputs { get; set; } = new();
    /// <summary>The ONNX model's dense input, float [N, DenseSize], already normalized, or null.</summary>
    public string? OnnxDenseInput { get; set; }
    /// <summary>Width of the dense input.</summary>
    public int DenseSize { get; set; }
    /// <summary>The ONNX model's outputs, float [N] each (one value per row; [N, 1] in bundles written before), the tasks' prediction columns, in order.</summary>
    public List<string> OnnxOutputs { get; set; } = [.. TaskList.DefaultPredictions];
    /// <summary>The tasks as trained (null in bundles written before tasks were declared: the default chain).</summary>
    public List<TaskDefinition>? Tasks { get; set; }

    /// <summary>The tasks as trained; for an older bundle, the default chain of its schema's roles.</summary>
    public IReadOnlyList<TaskDefinition> ResolveTasks() => (IReadOnlyList<TaskDefinition>?)Tasks ?? Schema.ResolveTasks();
    /// <summary>The Platt scaling compiled into the binary heads, by task (none when trained without validation data or with calibration off).</summary>
    public Dictionary<string, PlattCalibration>? Calibration { get; set; }

    /// <summary>The binary heads' isotonic calibration by task (compiled into model.onnx; here for the record), when trained with it.</summary>
    public Dictionary<string, IsotonicCalibration>? Isotonic { get; set; }
    /// <summary>Trainer options as given.</summary>
    public Dictionary<string, object?> Options { get; set; } = new();
    /// <summary>Per-epoch training reports.</summary>
    public List<object> History { get; set; } = new();
    /// <summary>Metrics on the test split, when there was one.</summary>
    public Dictionary<string, double?> TestMetrics { get; set; } = new();
}
