using System.Text.Json;
using Microsoft.ML;
using Onnx;
using Recommender.Pipeline.Data;

namespace Recommender.Pipeline.Lifecycle;

/// <summary>
/// A trained model on disk, one immutable folder: <c>model.zip</c> (the whole ML.NET pipeline — featurization and
/// the multi-task model — for <c>mlContext.Model.Load</c>), <c>featurization.zip</c> (its first part alone),
/// <c>model.onnx</c> (the network with its embedding tables, for any ONNX runtime; inputs documented in
/// <c>model.json</c>), <c>model.json</c> (schema, options, input contract, training history, test metrics), what
/// else its producer adds (the candidate catalog), and last <c>manifest.json</c>. Bundles are written into a
/// staging folder and published into a <see cref="ModelRegistry"/> by <see cref="BundlePublisher"/>; they are
/// opened only through <see cref="Open"/>, which verifies the manifest and the ONNX input contract.
/// </summary>
public sealed class ModelBundle
{
    /// <summary>The ML.NET model file name.</summary>
    public const string ModelFile = "model.zip", OnnxFile = "model.onnx", MetadataFile = "model.json", FeaturizationFile = "featurization.zip";

    private ModelBundle(string directory, BundleManifest manifest, string manifestSha256, BundleMetadata metadata)
    {
        Directory = directory;
        Manifest = manifest;
        ManifestSha256 = manifestSha256;
        Metadata = metadata;
    }

    /// <summary>The version folder.</summary>
    public string Directory { get; }
    /// <summary>The verified manifest.</summary>
    public BundleManifest Manifest { get; }
    /// <summary>SHA-256 of the manifest: the bundle's identity.</summary>
    public string ManifestSha256 { get; }
    /// <summary>model.json.</summary>
    public BundleMetadata Metadata { get; }

    /// <summary>The path of one of the bundle's files.</summary>
    public string PathOf(string file) => Path.Combine(Directory, file);

    /// <summary>
    /// Writes the model files into <paramref name="directory"/> (a staging folder); <paramref name="featurization"/>
    /// (the model's first part, ML.NET's own fast transforms) is also saved alone, for batch scoring that runs the
    /// network in batches.
    /// </summary>
    public static void Save(string directory, MLContext ml, ITransformer model, ITransformer featurization, DataViewSchema inputSchema, byte[] onnx, BundleMetadata metadata)
    {
        AtomicFile.Write(Path.Combine(directory, FeaturizationFile), s => ml.Model.Save(featurization, inputSchema, s));
        FaultInjection.Point("bundle.featurization-written");
        AtomicFile.Write(Path.Combine(directory, ModelFile), s => ml.Model.Save(model, inputSchema, s));
        FaultInjection.Point("bundle.model-written");
        AtomicFile.Write(Path.Combine(directory, OnnxFile), s => s.Write(onnx));
        FaultInjection.Point("bundle.onnx-written");
        AtomicFile.WriteAllText(Path.Combine(directory, MetadataFile), JsonSerializer.Serialize(metadata, DatasetSchema.JsonOptions));
        FaultInjection.Point("bundle.metadata-written");
    }

    /// <summary>
    /// Opens a bundle: <paramref name="path"/> is a registry folder (its current version), a version folder, or the
    /// <c>model.zip</c> in one. Verifies the manifest (sizes always, SHA-256 unless <paramref name="verifyHashes"/> is
    /// false) and that model.json's input contract is the ONNX graph's; refuses ONNX external data.
    /// </summary>
    public static ModelBundle Open(string path, bool verifyHashes = true)
    {
        string full = Path.GetFullPath(path);
        if (File.Exists(full))
        {
            if (Path.GetFileName(full) != ModelFile) throw new InvalidDataException($"{path}: a file, not a model (give a registry folder or a version folder written by train)");
            full = Path.GetDirectoryName(full)!;
        }
        if (!System.IO.Directory.Exists(full)) throw new FileNotFoundException($"{path}: no such model (give a registry folder or a version folder written by train)", path);
        string directory = ModelRegistry.IsRegistry(full) ? new ModelRegistry(full).PathOf() : full;
        var (manifest, sha) = BundleManifest.Verify(directory, verifyHashes);
        foreach (var required in new[] { MetadataFile, OnnxFile, FeaturizationFile, ModelFile })
            if (!manifest.Files.Any(f => f.Name == required)) throw new InvalidDataException($"{directory}: the manifest lists no {required}");
        var metadata = JsonFile.Read<BundleMetadata>(Path.Combine(directory, MetadataFile));
        CheckContract(Path.Combine(directory, OnnxFile), metadata);
        return new ModelBundle(directory, manifest, sha, metadata);
    }

    /// <summary>The network's ONNX bytes.</summary>
    public byte[] ReadOnnx() => File.ReadAllBytes(PathOf(OnnxFile));

    /// <summary>The featurization alone (ML.NET), and the input schema it was saved with (the raw columns, labels included).</summary>
    public ITransformer LoadFeaturization(MLContext ml, out DataViewSchema inputSchema) => LoadZip(ml, FeaturizationFile, out inputSchema);

    /// <summary>The whole pipeline (ML.NET).</summary>
    public ITransformer LoadModel(MLContext ml) => LoadZip(ml, ModelFile, out _);

    private ITransformer LoadZip(MLContext ml, string file, out DataViewSchema inputSchema)
    {
        try { return ScalarPredictions.Register(ml).Model.Load(PathOf(file), out inputSchema); }
        catch (Exception e) when (e is InvalidDataException or IOException or FormatException or InvalidOperationException or ArgumentException or NotSupportedException)
        {
            throw new InvalidDataException($"{PathOf(file)}: cannot be loaded as an ML.NET model ({e.Message.Split('\n')[0]})");
        }
    }

    /// <summary>Loads the ML.NET model and the metadata of a bundle (verified).</summary>
    public static (ITransformer Model, BundleMetadata Metadata) Load(MLContext ml, string path)
    {
        var bundle = Open(path);
        return (bundle.LoadModel(ml), bundle.Metadata);
    }

    // model.json says how to feed the network; a disagreement would score wrongly without an error, so it is refused here.
    private static void CheckContract(string onnxPath, BundleMetadata m)
    {
        ModelProto model;
        try { model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(onnxPath)); }
        catch (Google.Protobuf.InvalidProtocolBufferException e) { throw new InvalidDataException($"{onnxPath}: not a valid ONNX model ({e.Message})"); }
        if (model.Graph is null) throw new InvalidDataException($"{onnxPath}: not a valid ONNX model (it has no graph)");
        var tensors = model.Graph.Initializer.Concat(model.Graph.Node.SelectMany(n => n.Attribute).SelectMany(a => a.Tensors.Append(a.T)).Where(t => t is not null));
        if (tensors.Any(t => t.DataLocation == TensorProto.Types.DataLocation.External || t.ExternalData.Count > 0))
            throw new InvalidDataException($"{onnxPath}: refers to external tensor data; a bundle's network must be self-contained");
        string Where(string what) => $"{onnxPath}: {what} (model.json and model.onnx disagree: the bundle is not one training's output)";
        var initializers = model.Graph.Initializer.Select(i => i.Name).ToHashSet();
        var inputs = model.Graph.Input.Where(i => !initializers.Contains(i.Name)).ToDictionary(i => i.Name);
        var expected = m.OnnxIdInputs.Concat(m.OnnxDenseInput is null ? [] : [m.OnnxDenseInput]).ToList();
        if (expected.Count == 0) throw new InvalidDataException(Where("model.json names no inputs"));
        if (!inputs.Keys.ToHashSet().SetEquals(expected))
            throw new InvalidDataException(Where($"graph inputs [{string.Join(", ", inputs.Keys)}], model.json [{string.Join(", ", expected)}]"));
        void Check(string name, TensorProto.Types.DataType type, long width)
        {
            var t = inputs[name].Type?.TensorType;
            var dims = t?.Shape?.Dim;
            if (t is null || t.ElemType != (int)type || dims is null || dims.Count != 2 || dims[1].DimValue != width)
                throw new InvalidDataException(Where($"input '{name}' must be {type} [N, {width}]"));
        }
        foreach (var id in m.OnnxIdInputs) Check(id, TensorProto.Types.DataType.Int64, 1);
        if (m.OnnxDenseInput is { } dense) Check(dense, TensorProto.Types.DataType.Float, m.DenseSize);
        else if (m.DenseSize != 0) throw new InvalidDataException(Where($"denseSize {m.DenseSize} without a dense input"));
        var outputs = model.Graph.Output.Select(o => o.Name).ToHashSet();
        if (m.OnnxOutputs.Count == 0 || m.OnnxOutputs.Any(o => !outputs.Contains(o)))
            throw new InvalidDataException(Where($"graph outputs [{string.Join(", ", outputs)}], model.json [{string.Join(", ", m.OnnxOutputs)}]"));
    }
}
