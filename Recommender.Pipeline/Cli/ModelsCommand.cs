using System.CommandLine;
using Recommender.Pipeline.Lifecycle;

namespace Recommender.Pipeline.Cli;

/// <summary><c>models</c>: a model registry's versions: list, verify, promote, rollback, gc.</summary>
internal static class ModelsCommand
{
    public static Command Create()
    {
        var command = new Command("models", "Manage a model registry (models/<name>/v1, v2, ... and its current pointer): list, verify, promote, rollback, gc");
        Option<DirectoryInfo> Registry() => new("--registry") { Description = "The registry folder (train --out)", Required = true };
        Option<bool> Wait() => new("--wait") { Description = "Wait for a writer of the registry instead of failing" };

        var listRegistry = Registry();
        var list = new Command("list", "Every version, oldest first: size, creation time, producer, test metrics; * marks current") { listRegistry };
        list.SetAction(r =>
        {
            var registry = new ModelRegistry(r.GetValue(listRegistry)!.FullName);
            if (!ModelRegistry.IsRegistry(registry.Root)) throw new DirectoryNotFoundException($"{registry.Root}: not a model registry");
            string? current = registry.Current;
            foreach (var v in registry.Versions())
            {
                string line;
                try
                {
                    var bundle = ModelBundle.Open(registry.PathOf(v), verifyHashes: false);
                    var auc = bundle.Metadata.TestMetrics.Select(kv => (Name: Recommender.Trainers.Evaluation.MultiTaskMetrics.Canonical(kv.Key), kv.Value))
                        .FirstOrDefault(m => m.Name.EndsWith(".auc") && m.Value is not null) is { Name: not null } first ? $", test {first.Name} {first.Value:F4}" : "";
                    line = $"{bundle.Manifest.CreatedUtc}  {bundle.Manifest.Files.Sum(f => f.Size) / 1048576.0:F1} MiB  {bundle.Metadata.Architecture}{auc}  ({bundle.Manifest.Producer})";
                }
                catch (Exception e) when (e is InvalidDataException or IOException) { line = $"INVALID: {e.Message}"; }
                Console.WriteLine($"{(v == current ? "*" : " ")} {v,-5} {line}");
            }
            return 0;
        });

        var verifyModel = new Option<string>("--model") { Description = "A registry folder (its current version) or a version folder", Required = true };
        var verify = new Command("verify", "Check a bundle against its manifest (every file's size and SHA-256) and its ONNX input contract") { verifyModel };
        verify.SetAction(r =>
        {
            var bundle = ModelBundle.Open(r.GetValue(verifyModel)!);
            Console.WriteLine($"{bundle.Directory}: verified, {bundle.Manifest.Files.Count} files, manifest sha256 {bundle.ManifestSha256}");
            return 0;
        });

        var promoteRegistry = Registry();
        var promoteWait = Wait();
        var version = new Option<string>("--version") { Description = "The version to make current (vN)", Required = true };
        var promote = new Command("promote", "Point current at a version (after verifying it)") { promoteRegistry, version, promoteWait };
        promote.SetAction(r => Locked(r.GetValue(promoteRegistry)!, r.GetValue(promoteWait), registry =>
        {
            registry.Promote(r.GetValue(version)!);
            Console.WriteLine($"current: {registry.Current}");
        }));

        var rollbackRegistry = Registry();
        var rollbackWait = Wait();
        var rollback = new Command("rollback", "Point current at the newest version older than it") { rollbackRegistry, rollbackWait };
        rollback.SetAction(r => Locked(r.GetValue(rollbackRegistry)!, r.GetValue(rollbackWait), registry => Console.WriteLine($"current: {registry.Rollback()}")));

        var gcRegistry = Registry();
        var gcWait = Wait();
        var keep = new Option<int>("--keep") { Description = "Versions to keep (the newest; current is always kept)", DefaultValueFactory = _ => 3 }.AtLeast(1);
        var gc = new Command("gc", "Delete old versions, keeping the newest N and the current one") { gcRegistry, keep, gcWait };
        gc.SetAction(r => Locked(r.GetValue(gcRegistry)!, r.GetValue(gcWait), registry =>
        {
            var deleted = registry.CollectGarbage(r.GetValue(keep));
            Console.WriteLine(deleted.Count == 0 ? "nothing to delete" : $"deleted {string.Join(", ", deleted)}; current: {registry.Current}");
        }));

        foreach (var sub in new[] { list, verify, promote, rollback, gc }) command.Subcommands.Add(sub);
        return command;
    }

    // Changes to a registry take the same writer lock as publishing, so they never interleave with a publication.
    private static int Locked(DirectoryInfo root, bool wait, Action<ModelRegistry> change)
    {
        var registry = new ModelRegistry(root.FullName);
        if (!ModelRegistry.IsRegistry(registry.Root)) throw new DirectoryNotFoundException($"{registry.Root}: not a model registry");
        using var writerLock = WriterLock.Acquire(registry.Root, wait);
        registry.RemoveLeftovers();
        change(registry);
        return 0;
    }
}
