using System.Text.Json.Nodes;
using Recommender.Pipeline.Jobs;
using Recommender.Pipeline.Lifecycle;
using Recommender.Pipeline.Scoring;
using Recommender.Trainers.Runtime;
using Recommender.Trainers.Training;

namespace Recommender.Tests.Pipeline;

/// <summary>Published bundles are immutable, versioned and verified; registries switch atomically; writers lock.</summary>
[TestClass]
public sealed class LifecycleTests
{
    private static readonly Lazy<(string Root, string Data, string Registry)> Fixture = new(() =>
    {
        string root = Path.Combine(Path.GetTempPath(), "rec-tests-lifecycle-" + Environment.ProcessId);
        var (data, _, _) = TinyBundle.Train(root, 8_000, 5);
        return (root, data, Path.Combine(root, "bundle"));
    });

    [ClassCleanup]
    public static void Cleanup()
    {
        if (Fixture.IsValueCreated) try { Directory.Delete(Fixture.Value.Root, true); } catch (IOException) { }
    }

    private static MultiTaskTrainerOptions Tiny() => new() { Epochs = 1, BatchSize = 512, EmbeddingDim = 4, Bottom = [16], Tower = [8], Device = ExecutionDevice.Cpu, Threads = 1 };

    // A private copy of the fixture's published version, to alter.
    private static string CopyOfVersion(TestFiles files)
    {
        string source = new ModelRegistry(Fixture.Value.Registry).PathOf();
        string copy = files.Path_("copy");
        Directory.CreateDirectory(copy);
        foreach (var f in Directory.EnumerateFiles(source)) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        return copy;
    }

    [TestMethod]
    public void TrainingIntoARegistryPublishesVersionsAndCurrentSwitchesRollsBackAndCollects()
    {
        using var files = new TestFiles();
        string registry = files.Path_("reg");
        var data = TrainingData.FromDirectory(Fixture.Value.Data);
        var first = TrainingJob.Run(data, Tiny(), registry, _ => { });
        var second = TrainingJob.Run(data, Tiny(), registry, _ => { });
        var r = new ModelRegistry(registry);
        CollectionAssert.AreEqual(new[] { "v1", "v2" }, r.Versions().ToArray());
        Assert.AreEqual(Path.Combine(r.Root, "v1"), first.Bundle);
        Assert.AreEqual("v2", r.Current);
        Assert.AreEqual(second.Bundle, ModelBundle.Open(registry).Directory);
        // Nothing but the versions, the pointer and nothing beside the registry: no staging, temp or lock files.
        CollectionAssert.AreEquivalent(new[] { "v1", "v2", "current" }, Directory.EnumerateFileSystemEntries(registry).Select(Path.GetFileName).ToArray());
        Assert.IsFalse(Directory.EnumerateFiles(files.Root).Any(), "no lock files left");

        Assert.AreEqual("v1", r.Rollback());
        Assert.AreEqual(first.Bundle, ModelBundle.Open(registry).Directory);
        r.Promote("v2");
        Assert.AreEqual("v2", r.Current);
        TrainingJob.Run(data, Tiny(), registry, _ => { });
        r.Promote("v1");
        CollectionAssert.AreEqual(new[] { "v2" }, r.CollectGarbage(keep: 1));   // the current v1 is kept even so
        CollectionAssert.AreEqual(new[] { "v1", "v3" }, r.Versions().ToArray());
        // The manifest lists every file with its size and hash, and what produced it.
        var manifest = ModelBundle.Open(registry).Manifest;
        CollectionAssert.AreEqual(new[] { "candidates.json", "featurization.zip", "model.json", "model.onnx", "model.zip", "training-state.bin" }, manifest.Files.Select(f => f.Name).ToArray());
        Assert.AreEqual(new FileInfo(Path.Combine(first.Bundle, "model.onnx")).Length, manifest.Files.Single(f => f.Name == "model.onnx").Size);
        Assert.IsTrue(manifest.Data.ContainsKey("train.head_sha256"));
    }

    [TestMethod]
    public void TrainingIntoAPublishedVersionOrAForeignFolderIsRefused()
    {
        using var files = new TestFiles();
        var data = TrainingData.FromDirectory(Fixture.Value.Data);
        string version = new ModelRegistry(Fixture.Value.Registry).PathOf();
        var e = Assert.ThrowsExactly<IOException>(() => TrainingJob.Run(data, Tiny(), version, _ => { }));
        StringAssert.Contains(e.Message, "a published version, which is immutable");
        string foreign = files.Write("notes.txt", "mine");
        e = Assert.ThrowsExactly<IOException>(() => TrainingJob.Run(data, Tiny(), files.Root, _ => { }));
        StringAssert.Contains(e.Message, "not a model registry");
        Assert.AreEqual("mine", File.ReadAllText(foreign));
    }

    [TestMethod]
    public void AVersionCopiedUnderAnotherVersionNameIsRefused()
    {
        // Every file and the manifest agree in a whole copy, so only the manifest's own version name can tell v1 copied to
        // v2 from a v2 that train published; a copy outside a registry's version names (a deployment folder) still opens.
        using var files = new TestFiles();
        string registry = files.Path_("reg");
        var source = new ModelRegistry(Fixture.Value.Registry).PathOf();
        Assert.AreEqual("v1", Recommender.Pipeline.Data.JsonFile.Read<BundleManifest>(Path.Combine(source, BundleManifest.FileName)).Version);
        foreach (var version in new[] { "v1", "v2" })
        {
            Directory.CreateDirectory(Path.Combine(registry, version));
            foreach (var f in Directory.EnumerateFiles(source)) File.Copy(f, Path.Combine(registry, version, Path.GetFileName(f)));
        }
        File.WriteAllText(Path.Combine(registry, "current"), "v2\n");
        Assert.AreEqual(Path.Combine(registry, "v1"), ModelBundle.Open(Path.Combine(registry, "v1")).Directory);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => ModelBundle.Open(registry));
        Assert.AreEqual($"{Path.Combine(registry, "v2")}: holds the manifest of v1, a version copied or renamed in a registry; versions are published by train, never copied", e.Message);
        Assert.IsNotNull(ModelBundle.Open(CopyOfVersion(files)));
    }

    [TestMethod]
    public void AnAlteredBundleIsRefusedInOneLineNamingTheFile()
    {
        using var files = new TestFiles();
        string copy = CopyOfVersion(files);
        Assert.AreEqual(copy, ModelBundle.Open(copy).Directory);

        // Same size, one byte changed: only the hash sees it (and the check can be skipped for speed).
        string onnx = Path.Combine(copy, "model.onnx");
        var bytes = File.ReadAllBytes(onnx);
        bytes[^5] ^= 0x1;
        File.WriteAllBytes(onnx, bytes);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => ModelBundle.Open(copy));
        Assert.AreEqual($"{onnx}: content differs from the manifest's SHA-256: the bundle was altered", e.Message);
        ModelBundle.Open(copy, verifyHashes: false);

        // Truncated: the size check sees it even without hashes.
        string catalog = Path.Combine(copy, CandidateCatalog.FileName);
        File.WriteAllText(catalog, "{\"users\": [");
        e = Assert.ThrowsExactly<InvalidDataException>(() => ModelBundle.Open(copy, verifyHashes: false));
        StringAssert.StartsWith(e.Message, $"{catalog}: 11 bytes, the manifest says");

        File.Delete(catalog);
        e = Assert.ThrowsExactly<InvalidDataException>(() => ModelBundle.Open(copy, verifyHashes: false));
        Assert.AreEqual($"{catalog}: missing (the manifest lists it)", e.Message);

        File.Delete(Path.Combine(copy, BundleManifest.FileName));
        e = Assert.ThrowsExactly<InvalidDataException>(() => ModelBundle.Open(copy));
        StringAssert.StartsWith(e.Message, $"{copy}: not a published bundle (no manifest.json)");

        var missing = Assert.ThrowsExactly<FileNotFoundException>(() => ModelBundle.Open(files.Path_("nothing-here")));
        StringAssert.StartsWith(missing.Message, $"{files.Path_("nothing-here")}: no such model");
    }

    // Rewrites model.json and re-signs the manifest, as a careless hand edit followed by a re-publish would.
    private static void EditMetadata(string bundle, Action<JsonObject> edit)
    {
        string path = Path.Combine(bundle, ModelBundle.MetadataFile);
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(json);
        File.WriteAllText(path, json.ToJsonString());
        Resign(bundle);
    }

    private static void Resign(string bundle)
    {
        var old = Recommender.Pipeline.Data.JsonFile.Read<BundleManifest>(Path.Combine(bundle, BundleManifest.FileName));
        File.Delete(Path.Combine(bundle, BundleManifest.FileName));
        BundleManifest.Write(bundle, old.Producer, old.Options, old.Data);
    }

    [TestMethod]
    public void AModelJsonThatDisagreesWithTheOnnxGraphIsRefused()
    {
        using var files = new TestFiles();
        string copy = CopyOfVersion(files);
        EditMetadata(copy, j => j["denseSize"] = j["denseSize"]!.GetValue<int>() + 1);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => ModelBundle.Open(copy));
        StringAssert.Contains(e.Message, "must be Float [N, 9]");
        StringAssert.Contains(e.Message, "model.json and model.onnx disagree");

        EditMetadata(copy, j => { foreach (var k in j.Select(p => p.Key).ToList()) j.Remove(k); });   // model.json "{}"
        e = Assert.ThrowsExactly<InvalidDataException>(() => ModelBundle.Open(copy));
        StringAssert.Contains(e.Message, "model.json names no inputs");
    }

    [TestMethod]
    public void OnnxExternalDataIsRefused()
    {
        using var files = new TestFiles();
        string copy = CopyOfVersion(files);
        // A hostile network whose first weight lives in a file relative to wherever the scorer runs.
        string onnx = Path.Combine(copy, ModelBundle.OnnxFile);
        var model = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(onnx));
        var weight = model.Graph.Initializer[0];
        weight.RawData = Google.Protobuf.ByteString.Empty;
        weight.DataLocation = Onnx.TensorProto.Types.DataLocation.External;
        weight.ExternalData.Add(new Onnx.StringStringEntryProto { Key = "location", Value = "../../secret.bin" });
        File.WriteAllBytes(onnx, Google.Protobuf.MessageExtensions.ToByteArray(model));
        Resign(copy);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => ModelBundle.Open(copy));
        Assert.AreEqual($"{onnx}: refers to external tensor data; a bundle's network must be self-contained", e.Message);
    }

    [TestMethod]
    public void ASecondWriterIsRefusedNamingTheHolderAndAStaleLockIsTakenOver()
    {
        using var files = new TestFiles();
        string target = files.Path_("out.csv");
        using (var held = WriterLock.Acquire(target, wait: false))
        {
            var e = Assert.ThrowsExactly<IOException>(() => WriterLock.Acquire(target, wait: false));
            StringAssert.StartsWith(e.Message, $"{target} is being written by PID {Environment.ProcessId} (started ");
            // --wait gives up only when told to.
            using var cancel = new CancellationTokenSource();
            cancel.Cancel();
            Assert.ThrowsExactly<OperationCanceledException>(() => WriterLock.Acquire(target, wait: true, cancel.Token));
        }
        // A holder killed outright leaves its files but no lock (the kernel drops it with the process).
        File.WriteAllText(target + ".lock", "");
        File.WriteAllText(target + ".lock.json", "{\"Pid\":999999,\"StartedUtc\":\"2026-01-01T00:00:00Z\",\"Command\":\"score\"}");
        using (var taken = WriterLock.Acquire(target, wait: false))
            Assert.AreEqual(999999, taken.TookOverFrom!.Pid);
        Assert.IsFalse(File.Exists(target + ".lock") || File.Exists(target + ".lock.json"), "released locks leave no files");
    }

    [TestMethod]
    public void TwoTrainingJobsOnOneRegistryTheSecondIsRefusedAtOnce()
    {
        using var files = new TestFiles();
        string registry = files.Path_("reg");
        using var publisher = BundlePublisher.Begin(registry);
        var e = Assert.ThrowsExactly<IOException>(() => TrainingJob.Run(TrainingData.FromDirectory(Fixture.Value.Data), Tiny(), registry, _ => { }));
        StringAssert.Contains(e.Message, $"is being written by PID {Environment.ProcessId}");
        Assert.IsFalse(ModelRegistry.IsRegistry(registry), "nothing was published");
    }

    [TestMethod]
    public void ACheckpointOfAnotherJobIsRefusedNamingTheDifference()
    {
        using var files = new TestFiles();
        var data = TrainingData.FromDirectory(Fixture.Value.Data);
        var options = Tiny();
        options.CheckpointPath = files.Path_("run.ckpt");
        TrainingJob.Run(data, options, files.Path_("a"), _ => { });
        var changed = Tiny();
        changed.CheckpointPath = options.CheckpointPath;
        changed.LearningRate = 0.01f;
        var e = Assert.ThrowsExactly<InvalidOperationException>(() => TrainingJob.Run(data, changed, files.Path_("b"), _ => { }));
        StringAssert.Contains(e.Message, "options.LearningRate was '0.001', now '0.01'");
        Assert.IsFalse(ModelRegistry.IsRegistry(files.Path_("b")));

        File.WriteAllBytes(options.CheckpointPath, File.ReadAllBytes(options.CheckpointPath)[..300]);   // truncated
        var same = Tiny();
        same.CheckpointPath = options.CheckpointPath;
        var t = Assert.ThrowsExactly<InvalidDataException>(() => TrainingJob.Run(data, same, files.Path_("c"), _ => { }));
        StringAssert.StartsWith(t.Message, $"{options.CheckpointPath}: not a readable checkpoint");
    }
}
