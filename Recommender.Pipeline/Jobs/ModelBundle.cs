using System.Text.Json;
using Microsoft.ML;
using Recommender.Pipeline.Data;

namespace Recommender.Pipeline.Jobs;

/// <summary>
/// A trained model on disk, one folder: <c>model.zip</c> (the whole ML.NET pipeline — featurization and the
/// multi-task model — for <c>mlContext.Model.Load</c>), <c>featurization.zip</c> (its first part alone),
/// <c>model.onnx</c> (the network with its embedding tables, for any ONNX runtime; inputs documented in
/// <c>model.json</c>) and <c>model.json</c> (schema,
/// options, input contract, training history, test metrics). Every file is written atomically.
/// </summary>
public sealed class ModelBundle
{
    /// <summary>The ML.NET model file name.</summary>
    public const string ModelFile = "model.zip", OnnxFile = "model.onnx", MetadataFile = "model.json", FeaturizationFile = "featurization.zip";

    /// <summary>What model.json holds.</summary>
    public sealed class Metadata
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
        /// <summary>The ONNX model's outputs, float [N, 1] each.</summary>
        public List<string> OnnxOutputs { get; set; } = ["PCtr", "PCvr", "PCtcvr", "PredictedRating"];
        /// <summary>Trainer options as given.</summary>
        public Dictionary<string, object?> Options { get; set; } = new();
        /// <summary>Per-epoch training reports.</summary>
        public List<object> History { get; set; } = new();
        /// <summary>Metrics on the test split, when there was one.</summary>
        public Dictionary<string, double?> TestMetrics { get; set; } = new();
    }

    /// <summary>
    /// Writes the files into <paramref name="directory"/>; <paramref name="featurization"/> (the model's first part,
    /// ML.NET's own fast transforms) is also saved alone, for batch scoring that runs the network in batches.
    /// </summary>
    public static void Save(string directory, MLContext ml, ITransformer model, ITransformer featurization, DataViewSchema inputSchema, byte[] onnx, Metadata metadata)
    {
        Directory.CreateDirectory(directory);
        AtomicFile.Write(Path.Combine(directory, FeaturizationFile), s => ml.Model.Save(featurization, inputSchema, s));
        AtomicFile.Write(Path.Combine(directory, ModelFile), s => ml.Model.Save(model, inputSchema, s));
        AtomicFile.Write(Path.Combine(directory, OnnxFile), s => s.Write(onnx));
        AtomicFile.WriteAllText(Path.Combine(directory, MetadataFile), JsonSerializer.Serialize(metadata, DatasetSchema.JsonOptions));
    }

    /// <summary>Loads the ML.NET model and the metadata of a bundle folder (or of the folder holding a given model.zip).</summary>
    public static (ITransformer Model, Metadata Metadata) Load(MLContext ml, string path)
    {
        string directory = Directory.Exists(path) ? path : Path.GetDirectoryName(Path.GetFullPath(path))!;
        string zip = Path.Combine(directory, ModelFile);
        if (!File.Exists(zip)) throw new FileNotFoundException($"{zip}: no model here (train one with the train command)", zip);
        var model = ml.Model.Load(zip, out _);
        var metadata = JsonFile.Read<Metadata>(Path.Combine(directory, MetadataFile));
        return (model, metadata);
    }
}
