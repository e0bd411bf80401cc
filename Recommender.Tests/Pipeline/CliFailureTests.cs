using Recommender.Pipeline.Cli;

namespace Recommender.Tests.Pipeline;

/// <summary>Every command, given bad arguments, answers with exit code 2 and exactly one <c>error:</c> line: no stack trace, no hang, no output.</summary>
[TestClass]
[DoNotParallelize] // redirects the process-wide console
public sealed class CliFailureTests
{
    private static readonly Lazy<(string Root, string Data, string Bundle)> Fixture = new(() =>
    {
        string root = Path.Combine(Path.GetTempPath(), "rec-tests-cli-failures-" + Environment.ProcessId);
        var (data, bundle, _) = TinyBundle.Train(root, 6_000, 2);
        return (root, data, bundle);
    });

    [ClassCleanup]
    public static void Cleanup()
    {
        if (Fixture.IsValueCreated) try { Directory.Delete(Fixture.Value.Root, true); } catch (IOException) { }
    }

    private static (int Code, string Error) Run(params string[] args)
    {
        var (oldOut, oldError) = (Console.Out, Console.Error);
        var error = new StringWriter();
        Console.SetOut(new StringWriter());
        Console.SetError(error);
        try { return (CliApp.Run(args), error.ToString()); }
        finally { Console.SetOut(oldOut); Console.SetError(oldError); }
    }

    [TestMethod]
    public void BadArgumentsGiveOneErrorLineAndExitCode2()
    {
        var (root, data, bundle) = Fixture.Value;
        string test = Path.Combine(data, "test.csv"), output = Path.Combine(root, "out.csv"), nowhere = Path.Combine(root, "no-such-model");
        string corrupt = Path.Combine(root, "corrupt");
        if (!Directory.Exists(corrupt))
        {
            Directory.CreateDirectory(corrupt);
            foreach (var f in Directory.EnumerateFiles(bundle)) File.Copy(f, Path.Combine(corrupt, Path.GetFileName(f)));
            File.WriteAllText(Path.Combine(corrupt, "model.onnx"), new string('x', (int)new FileInfo(Path.Combine(bundle, "model.onnx")).Length));
        }
        var cases = new (string[] Args, string Expected)[]
        {
            (["score", "--model", bundle, "--input", test, "--output", output, "--batch-size", "0"], "--batch-size must be at least 1, got 0"),
            (["score", "--model", bundle, "--input", test, "--output", output, "--batch-size", "-1"], "--batch-size must be at least 1"),
            (["score", "--model", bundle, "--input", test, "--output", output, "--chunk-rows", "0"], "--chunk-rows must be at least 1"),
            (["score", "--model", bundle, "--input", test, "--output", output, "--chunk-rows", "-5"], "--chunk-rows must be at least 1"),
            (["score", "--model", bundle, "--input", test, "--output", output, "--rank", "pctr^1e400"], "is not a finite number"),
            (["score", "--model", bundle, "--input", test, "--output", test], "the output is the input"),
            (["score", "--model", bundle, "--input", test, "--output", root], "a folder"),
            (["score", "--model", nowhere, "--input", test, "--output", output], $"{nowhere}: no such model"),
            (["score", "--model", corrupt, "--input", test, "--output", output], "model.onnx: content differs from the manifest's SHA-256"),
            (["score", "--model", corrupt, "--input", test, "--output", output, "--skip-hash-check"], "model.onnx: not a valid ONNX model"),
            (["score", "--model", bundle, "--input", test, "--output", output, "--batch-size", "abc"], "abc"),
            (["predict", "--model", bundle, "--data", test, "--out", test], "the output is the input"),
            (["export-onnx", "--model", corrupt, "--out", output], "model.onnx: content differs from the manifest's SHA-256"),
            (["evaluate", "--model", nowhere, "--labels", test], "no such model"),
            (["recommend", "--model", bundle, "--all-users", "--output", output, "--k", "0"], "--k must be at least 1"),
            (["recommend", "--model", nowhere, "--all-users", "--output", output], "no such model"),
            (["train", "--out", Path.Combine(root, "reg")], "no training data: give --data DIR"),
            (["train", "--data", data, "--out", Path.Combine(root, "reg"), "--learning-rate", "NaN"], "--learning-rate must be a finite number >= 0"),
            (["train", "--data", data, "--out", Path.Combine(root, "reg"), "--learning-rate", "-1"], "--learning-rate must be a finite number >= 0"),
            (["train", "--data", data, "--out", Path.Combine(root, "reg"), "--batch-size", "0"], "--batch-size must be at least 1"),
            (["train", "--data", data, "--out", Path.Combine(root, "reg"), "--crossed-dim", "0"], "--crossed-dim must be at least 1"),
            (["train", "--data", data, "--out", Path.Combine(root, "reg"), "--min-days", "0"], "--min-days must be at least 1"),
            (["train", "--data", data, "--out", Path.Combine(root, "reg"), "--time", "when"], "the time column 'when' is not in the data"),
            (["train", "--data", data, "--out", Path.Combine(root, "reg"), "--epochs", "1e9"], "Cannot parse argument '1e9' for option '--epochs' as a whole number (at most 2,147,483,647)"),
            (["train", "--data", data, "--out", Path.Combine(root, "reg"), "--architecture", "Foo"], "as one of the option's values. Did you mean one of the following? Esmm Mmoe Ple SharedBottom (see --help)"),
            (["train", "--data", data, "--out", Path.Combine(root, "reg"), "--learning-rate", "1e30", "--embedding-learning-rate", "1e30", "--interactions", "None"], "training diverged at step"),
            (["train", "--data", data, "--out", Path.Combine(root, "reg"), "--adaptive-embedding-l2", "-0.1"], "--adaptive-embedding-l2 must be a finite number >= 0"),
            (["train", "--data", data, "--out", bundle], "a published version, which is immutable"),
            (["train", "--data", Path.Combine(root, "nothing")], "file not found"),
            (["generate", "--users", "0", "--out", Path.Combine(root, "g")], "--users must be at least 1"),
            (["generate", "--items", "-1", "--out", Path.Combine(root, "g")], "--items must be at least 1"),
            (["generate", "--rows", "5", "--out", Path.Combine(root, "g")], "--rows must be at least 1000"),
            (["generate", "--rows", "2000", "--out", test], "a file; --out is the folder"),
            (["tune", "--data", data, "--learning-rates", "0.01", "Infinity"], "--learning-rates: every value must be a finite number"),
            (["models", "list", "--registry", nowhere], "not a model registry"),
            (["models", "gc", "--registry", Path.GetDirectoryName(bundle)!, "--keep", "0"], "--keep must be at least 1"),
            (["models", "promote", "--registry", Path.GetDirectoryName(bundle)!, "--version", "v9"], "no such version"),
            (["models", "verify", "--model", corrupt], "content differs"),
            (["inspect", "--data", test, "--schema", Path.Combine(data, "no-schema.json")], "file not found"),
            (["bench", "engine", "--batch", "0"], "--batch must be at least 1"),
            (["serve", "--registry", nowhere], "not a model registry"),
            (["serve"], "give --registry DIR or --model BUNDLE"),
            (["serve", "--model", bundle, "--max-batch-rows", "0"], "--max-batch-rows must be at least 1"),
            (["export-log", "--log", Path.Combine(root, "none.sqlite"), "--model", bundle, "--since", "2026-01-01", "--out", Path.Combine(root, "x")], "no such impression log"),
            (["export-log", "--log", test, "--model", bundle, "--since", "someday", "--out", Path.Combine(root, "x")], "not an ISO 8601 time"),
            (["simulate", "--days", "0"], "--days must be at least 1"),
            (["simulate", "--epsilon", "1.5"], "--epsilon and --late-items are shares between 0 and 1"),
            (["evaluate-policy", "--log", Path.Combine(root, "none.sqlite"), "--model", bundle], "no such impression log"),
            (["evaluate-policy", "--log", test, "--model", bundle, "--policy", "softmax:0"], "policy 'softmax:0'"),
            (["no-such-command"], "no-such-command"),
            (["export-onnx", "--model", bundle, "--out", Path.Combine(bundle, "copy.onnx")], $"inside the published version {bundle}, which is immutable"),
            (["score", "--model", bundle, "--input", test, "--output", Path.Combine(bundle, "scores.csv")], $"inside the published version {bundle}, which is immutable"),
            (["generate", "--rows", "2000", "--out", Path.Combine(bundle, "data")], $"inside the published version {bundle}, which is immutable"),
            (["train", "--data", data, "--out", Path.Combine(root, "reg"), "--threads", "100000"], "--threads must be at most 1024, got 100000"),
            (["score", "--model", bundle, "--input", test, "--output", output, "--threads", "5000"], "--threads must be at most 1024"),
            (["score", "--model", bundle, "--input", test, "--output", output, "--batch-size", "2000000000"], "--batch-size must be at most 1048576"),
            (["score", "--model", bundle, "--input", test, "--output", output, "--chunk-rows", "2000000000"], "--chunk-rows must be at most 1048576"),
            (["train", "--data", data, "--out", Path.Combine(root, "reg"), "--batch-size", "2000000000"], "--batch-size must be at most 1048576"),
            (["serve", "--model", bundle, "--max-batch-rows", "2000000000"], "--max-batch-rows must be at most 1048576"),
            (["simulate", "--candidates", "2000000000"], "--candidates must be 1 to the world's 4,000 items"),
            (["simulate", "--candidates", "10", "--slots", "20"], "--slots must be 1 to --candidates (10), got 20"),
            (["train", "--data", data, "--out", Path.Combine(root, "reg"), "--trainer", "MatrixFactorization", "--folds", "1000000"], "--folds must be at most 100"),
            (["train", "--data", data, "--out", Path.Combine(root, "reg"), "--rating-min", "5", "--rating-max", "1"], "ratingMin (5) must be below ratingMax (1)"),
            (["train", "--data", data, "--out", Path.Combine(root, "reg"), "--train", test], "give either --data or --train/--valid/--test"),
        };
        foreach (var (args, expected) in cases)
        {
            var (code, error) = Run(args);
            string what = string.Join(' ', args);
            var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.Trim().Length > 0).ToList();
            Assert.AreEqual(2, code, $"{what}: {error}");
            Assert.AreEqual(1, lines.Count(l => l.StartsWith("error: ")), $"{what}: {error}");
            StringAssert.StartsWith(lines[^1], "error: ", what);
            StringAssert.Contains(lines[^1], expected, what);
            Assert.IsFalse(error.Contains("   at "), $"{what}: a stack trace");
            Assert.IsFalse(error.Contains("System."), $"{what}: a .NET type name");
            Assert.IsFalse(File.Exists(output), $"{what}: wrote an output");
        }
        // Nothing was written into the published version, whose manifest still verifies.
        CollectionAssert.AreEquivalent(Directory.GetFiles(Fixture.Value.Bundle).Select(Path.GetFileName).ToArray(),
            System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(bundle, "manifest.json"))).RootElement.GetProperty("files").EnumerateArray()
                .Select(f => f.GetProperty("name").GetString()).Append("manifest.json").ToArray());
    }

    [TestMethod]
    public void ASecondWriterOfADataFolderIsRefused()
    {
        // generate, import-taobao, export-log and export-onnx hold their output's lock like score and train: while another
        // process writes the folder, a second job fails at once instead of mixing its files with the first one's.
        string folder = Path.Combine(Fixture.Value.Root, "held");
        using (Recommender.Pipeline.Lifecycle.WriterLock.Acquire(folder, wait: false))
        {
            var (code, error) = Run("generate", "--rows", "2000", "--out", folder);
            Assert.AreEqual(2, code, error);
            StringAssert.Contains(error, $"{folder} is being written by");
            Assert.IsFalse(Directory.Exists(folder) && Directory.EnumerateFileSystemEntries(folder).Any(), "wrote into the held folder");
        }
        Assert.AreEqual(0, Run("generate", "--rows", "2000", "--out", folder).Code);
        Assert.IsTrue(File.Exists(Path.Combine(folder, "train.csv")));
    }
}
