using System.Diagnostics;
using Recommender.Pipeline.Data.Synthetic;
using Recommender.Pipeline.Lifecycle;

namespace Recommender.Tests.Pipeline;

/// <summary>
/// The fault-injection harness: train and score run as processes that are killed outright (SIGKILL, through
/// <c>RECOMMENDER_FAULT</c>) at every step of writing a bundle, publishing it and joining a scoring output. After each
/// kill the registry holds the old current version or the new one, complete and verified, never a mix; the scoring
/// output is absent or complete; a rerun resumes to byte-identical output and leaves no litter.
/// </summary>
[TestClass]
[DoNotParallelize]
public sealed class FaultInjectionTests
{
    private static string[] Train(string data, string registry) =>
        ["train", "--data", data, "--out", registry, "--epochs", "1", "--batch-size", "512", "--embedding-dim", "4", "--threads", "1", "--device", "cpu"];

    private static readonly string[] PublishSteps =
    [
        "bundle.featurization-written", "bundle.model-written", "bundle.onnx-written", "bundle.metadata-written", "bundle.catalog-written",
        "publish.before-manifest", "publish.after-manifest", "publish.before-rename", "publish.after-rename", "publish.after-current",
    ];

    // Every version folder verifies; current names one of them; nothing else but leftovers under hidden names.
    private static void AssertConsistent(string registry, params string[] allowedCurrent)
    {
        var r = new ModelRegistry(registry);
        Assert.IsTrue(allowedCurrent.Contains(r.Current), $"current is {r.Current}");
        foreach (var v in r.Versions()) BundleManifest.Verify(r.PathOf(v), hashes: true);
        Assert.AreEqual(r.PathOf(), ModelBundle.Open(registry).Directory);
        foreach (var entry in Directory.EnumerateFileSystemEntries(registry).Select(Path.GetFileName))
            Assert.IsTrue(entry == ModelRegistry.CurrentFile || ModelRegistry.ParseVersion(entry!) > 0 || entry!.StartsWith('.') || entry.EndsWith(".tmp"), $"unexpected {entry}");
    }

    [TestMethod]
    public void TrainingKilledAtEveryPublishStepLeavesTheOldOrTheNewVersionCurrentNeverAMix()
    {
        using var files = new TestFiles();
        string data = files.Path_("sim");
        SyntheticGenerator.Generate(new SyntheticOptions { Rows = 6_000, Seed = 3 }, data);
        string registry = files.Path_("reg");
        var (code, error) = ChildProcess.Run(Train(data, registry));
        Assert.AreEqual(0, code, error);
        int published = 1;
        foreach (var step in PublishSteps)
        {
            (code, error) = ChildProcess.Run(Train(data, registry), fault: step);
            Assert.AreEqual(137, code, $"{step}: killed ({error})");
            // Once renamed into place a version is complete (a new vN), whether or not current was switched to it;
            // current moves only at the last step.
            string before = $"v{published}";
            if (step is "publish.after-rename" or "publish.after-current") published++;
            AssertConsistent(registry, step == "publish.after-current" ? $"v{published}" : before);
        }
        // A clean run after all that: publishes, and removes every leftover of the killed ones.
        (code, error) = ChildProcess.Run(Train(data, registry));
        Assert.AreEqual(0, code, error);
        StringAssert.Contains(error, "took over the lock of PID");
        AssertConsistent(registry, $"v{published + 1}");
        CollectionAssert.AreEquivalent(Enumerable.Range(1, published + 1).Select(i => $"v{i}").Append("current").ToArray(),
            Directory.EnumerateFileSystemEntries(registry).Select(Path.GetFileName).ToArray(), "no staging folders or temp files left");
        Assert.IsFalse(File.Exists(registry + ".lock") || File.Exists(registry + ".lock.json"));
    }

    [TestMethod]
    public void ScoringKilledAtEveryStepResumesToByteIdenticalOutputWithNoLitter()
    {
        using var files = new TestFiles();
        var (dir, bundle, _) = TinyBundle.Train(files.Root, 12_000, 4);
        string input = Path.Combine(dir, "train.csv");
        string[] Score(string output, bool resume) =>
            ["score", "--model", bundle, "--input", input, "--output", output, "--chunk-rows", "700", "--threads", "1", "--device", "cpu", .. resume ? new[] { "--resume" } : []];
        string reference = files.Path_("reference.csv");
        var (code, error) = ChildProcess.Run(Score(reference, false));
        Assert.AreEqual(0, code, error);
        foreach (var step in new[] { "score.part-written#1", "score.part-written#6", "score.before-join", "score.before-output", "score.after-output" })
        {
            string output = files.Path_($"out-{step.Replace('#', '-')}.csv");
            (code, error) = ChildProcess.Run(Score(output, false), fault: step);
            Assert.AreEqual(137, code, $"{step}: killed ({error})");
            Assert.AreEqual(step == "score.after-output", File.Exists(output), $"{step}: the output exists only once complete");
            (code, error) = ChildProcess.Run(Score(output, true));
            Assert.AreEqual(0, code, $"{step}: {error}");
            CollectionAssert.AreEqual(File.ReadAllBytes(reference), File.ReadAllBytes(output), step);
            var litter = Directory.EnumerateFileSystemEntries(files.Root).Select(Path.GetFileName)
                .Where(n => n!.StartsWith(Path.GetFileName(output)) && n != Path.GetFileName(output)).ToList();
            Assert.AreEqual(0, litter.Count, $"{step}: left {string.Join(", ", litter)}");
        }
    }

    [TestMethod]
    public void SigtermEndsACommandWithNothingToKeepAtOnceAndLeavesNoFiles()
    {
        // generate takes no cancellation: the signal once set it running on to the end (a swallowed SIGTERM), and the kernel's
        // default action would leave its temporary files and lock behind. It ends through Environment.Exit, whose ProcessExit
        // deletes both.
        using var files = new TestFiles();
        string folder = files.Path_("sim");
        using (var process = ChildProcess.Start(["generate", "--rows", "400000", "--out", folder], delay: "generate.wave-written:200"))
        {
            var error = process.StandardError.ReadToEndAsync();
            var clock = Stopwatch.StartNew();
            while (!process.HasExited && clock.Elapsed < TimeSpan.FromSeconds(60) && !(Directory.Exists(folder) && Directory.EnumerateFiles(folder, "train.csv.*.tmp").Any(f => new FileInfo(f).Length > 0)))
                Thread.Sleep(5);
            Assert.IsFalse(process.HasExited, "the job finished before the signal");
            Process.Start("kill", ["-TERM", process.Id.ToString()])!.WaitForExit();
            Assert.IsTrue(process.WaitForExit(TimeSpan.FromSeconds(60)), "stopped after SIGTERM");
            Assert.AreEqual(143, process.ExitCode);
            var lines = error.GetAwaiter().GetResult().Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith('\r') && !l.Contains("generate [")).ToList();
            Assert.AreEqual("error: stopped by SIGTERM; nothing was published", lines[^1].Trim());
        }
        Assert.AreEqual(0, Directory.EnumerateFileSystemEntries(folder).Count(), string.Join(", ", Directory.EnumerateFileSystemEntries(folder)));
        Assert.IsFalse(File.Exists(folder + ".lock") || File.Exists(folder + ".lock.json"), "the lock is released");
    }

    [TestMethod]
    public void SigtermStopsScoringCleanlyWithExitCode143AndTheRunResumes()
    {
        using var files = new TestFiles();
        var (dir, bundle, _) = TinyBundle.Train(files.Root, 40_000, 6);
        string input = Path.Combine(dir, "train.csv"), output = files.Path_("out.csv"), parts = output + ".parts";
        string[] Score(bool resume) => ["score", "--model", bundle, "--input", input, "--output", output, "--chunk-rows", "300", "--batch-size", "128", "--threads", "1", "--device", "cpu", .. resume ? new[] { "--resume" } : []];
        // Each part takes a fifth of a second more (RECOMMENDER_DELAY): the signal surely lands mid-run, on any machine.
        using (var process = ChildProcess.Start(Score(false), delay: "score.part-written:200"))
        {
            var error = process.StandardError.ReadToEndAsync();
            var clock = Stopwatch.StartNew();
            while (!process.HasExited && clock.Elapsed < TimeSpan.FromSeconds(60) && !(Directory.Exists(parts) && Directory.EnumerateFiles(parts, "part-*.csv").Count() >= 3)) Thread.Sleep(5);
            Assert.IsFalse(process.HasExited, "the job finished before the signal");
            Process.Start("kill", ["-TERM", process.Id.ToString()])!.WaitForExit();
            Assert.IsTrue(process.WaitForExit(TimeSpan.FromSeconds(60)), "stopped after SIGTERM");
            Assert.AreEqual(143, process.ExitCode);
            var lines = error.GetAwaiter().GetResult().Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith('\r') && !l.Contains("score [")).ToList();
            StringAssert.StartsWith(lines[^1].Trim(), "error: stopped by SIGTERM");
            Assert.IsFalse(lines.Any(l => l.Contains("   at ")), "no stack trace");
        }
        Assert.IsFalse(File.Exists(output));
        Assert.IsFalse(File.Exists(output + ".lock"), "the lock is released");
        var (code, err) = ChildProcess.Run(Score(true));
        Assert.AreEqual(0, code, err);
        StringAssert.Contains(File.ReadLines(output).First(), "PCtr");
    }
}
