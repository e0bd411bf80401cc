using Recommender.Pipeline.Cli;
using Recommender.Pipeline.Data.Synthetic;

namespace Recommender.Tests.Pipeline;

[TestClass]
[DoNotParallelize] // redirects the process-wide console
public sealed class CliTests
{
    private static (int Code, string Out, string Error) Run(params string[] args) => CliRunner.Run(args);

    [TestMethod]
    public void GenerateThenEvaluateTheTruthReproducesTheOracle()
    {
        using var files = new TestFiles();
        string dir = Path.Combine(files.Root, "sim");
        var (code, output, _) = Run("generate", "--rows", "20000", "--out", dir, "--seed", "9", "--json");
        Assert.AreEqual(0, code);
        var generated = System.Text.Json.Nodes.JsonNode.Parse(output)!;
        var (code2, output2, error2) = Run("evaluate", "--predictions", Path.Combine(dir, "test_truth.csv"), "--labels", Path.Combine(dir, "test.csv"), "--json");
        Assert.AreEqual(0, code2, error2);
        var evaluated = System.Text.Json.Nodes.JsonNode.Parse(output2)!;
        foreach (var metric in new[] { "ctr.auc", "ctr.gauc", "cvr.auc", "cvr.entire_auc", "rating.rmse" })
            Assert.AreEqual(generated["oracle"]!["metrics"]![metric]!.GetValue<double>(), evaluated["metrics"]![metric]!.GetValue<double>(), 1e-6, metric);
    }

    [TestMethod]
    public void GenerateWritesTheFullLawByDefaultAndThePlainOneWhenAsked()
    {
        using var files = new TestFiles();
        string full = Path.Combine(files.Root, "full"), plain = Path.Combine(files.Root, "plain"), api = Path.Combine(files.Root, "api");
        Assert.AreEqual(0, Run("generate", "--rows", "5000", "--out", full).Code);
        Assert.AreEqual(0, Run("generate", "--rows", "5000", "--out", plain, "--crosses", "false", "--history", "0").Code);
        SyntheticGenerator.Generate(SyntheticOptions.Plain(5000), api);
        StringAssert.EndsWith(File.ReadLines(Path.Combine(full, "train.csv")).First(), ",timestamp,recent_items,recent_categories");
        foreach (var f in new[] { "train.csv", "test.csv", "test_truth.csv", "schema.json" })
            CollectionAssert.AreEqual(File.ReadAllBytes(Path.Combine(api, f)), File.ReadAllBytes(Path.Combine(plain, f)), f);
        var (code, _, error) = Run("generate", "--census", "--rows", "5000", "--history", "5", "--out", Path.Combine(files.Root, "census"));
        Assert.AreEqual(2, code);
        StringAssert.Contains(error, "not --history");
    }

    [TestMethod]
    public void CompareTrainsMlNetsOwnTrainersBesideTheNetworksInOneTable()
    {
        using var files = new TestFiles();
        string dir = Path.Combine(files.Root, "sim");
        Assert.AreEqual(0, Run("generate", "--rows", "12000", "--out", dir, "--seed", "4").Code);
        var (code, output, error) = Run("compare", "--data", dir, "--architectures", "SharedBottom", "--threads", "1", "--device", "Cpu");
        Assert.AreEqual(0, code, error);
        // The weekday holds one value a day, and the 24 training days hold each value on three or four: left out, and said so.
        StringAssert.Contains(error, "left out 'weekday': a calendar field (one value a day) with no value held on 8 training days (--min-days)");
        var inspected = Run("inspect", "--schema", Path.Combine(dir, "schema.json"), "--data", Path.Combine(dir, "train.csv"));
        StringAssert.Contains(inspected.Out, "time=timestamp;");
        StringAssert.Contains(inspected.Out, "calendar field: weekday (one value a day from ");
        StringAssert.Contains(inspected.Out, "each value held on 3-4 days)");
        var lines = output.Split('\n');
        var header = lines.First(l => l.StartsWith("metric"));
        foreach (var column in new[] { "oracle", "FieldAwareFactorizationMachine", "LightGbm", "SharedBottom" }) StringAssert.Contains(header, column);
        var auc = lines.First(l => l.StartsWith("ctr.auc ")).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // oracle, then FFM "value ± se", LightGBM, SharedBottom.
        double Value(int i) => double.Parse(auc[i], System.Globalization.CultureInfo.InvariantCulture);
        Assert.IsTrue(Value(1) > Value(2) && Value(2) > 0.6, $"the oracle leads; FFM learns: {string.Join(' ', auc)}");
        Assert.AreEqual("±", auc[3]);
        StringAssert.Contains(output, "cvr.auc");
        // Under each AUC, the paired differences from both of ML.NET's trainers: LightGBM - FFM in one row is FFM - LightGBM
        // in the other, with the same standard error.
        int at = Array.FindIndex(lines, l => l.StartsWith("ctr.auc "));
        string[] Cells(string line) => line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[3..];
        var fromFfm = Cells(lines[at + 1]);
        var fromLightGbm = Cells(lines[at + 2]);
        StringAssert.StartsWith(lines[at + 1], "  vs FieldAwareFactorizationMachine, paired");
        StringAssert.StartsWith(lines[at + 2], "  vs LightGbm, paired");
        Assert.AreEqual("-", fromFfm[3]);
        Assert.AreEqual("-", fromLightGbm[6]);
        string Negated(string d) => (d[0] == '+' ? "-" : "+") + d[1..];
        CollectionAssert.AreEqual(new[] { Negated(fromFfm[4]), "±", fromFfm[6] }, fromLightGbm[3..6]);
    }

    [TestMethod]
    public void MinCountPoolsRareValuesIntoTheOutOfVocabularyKey()
    {
        using var files = new TestFiles();
        // u0..u9 appear 30 times each, r0..r99 once: with --min-count 2 every r-user scores as the unknown user.
        var lines = Enumerable.Range(0, 300).Select(i => $"u{i % 10},i{i % 7},{i % 2}").Concat(Enumerable.Range(0, 100).Select(i => $"r{i},i{i % 7},{i % 3 % 2}"));
        string data = files.Write("d.csv", "user,item,click\n" + string.Join('\n', lines) + "\n");
        string probe = files.Write("probe.csv", "user,item,click\nr1,i3,0\nr2,i3,0\nnever-seen,i3,0\nu1,i3,0\n");
        var (code, _, error) = Run("train", "--train", data, "--user", "user", "--item", "item", "--click", "click", "--cvr-weight", "0", "--rating-weight", "0",
            "--min-count", "2", "--epochs", "2", "--batch-size", "64", "--threads", "1", "--device", "Cpu", "--no-spinning", "--out", files.Path_("m"));
        Assert.AreEqual(0, code, error);
        Assert.AreEqual(0, Run("score", "--model", files.Path_("m"), "--input", probe, "--output", files.Path_("s.csv"), "--no-spinning").Code);
        var p = File.ReadLines(files.Path_("s.csv")).Skip(1).Select(l => l.Split(',')[2]).ToArray();
        Assert.AreEqual(p[2], p[0], "a value seen once scores as a value never seen");
        Assert.AreEqual(p[2], p[1]);
        Assert.AreNotEqual(p[2], p[3], "a frequent user keeps its own embedding");
    }

    [TestMethod]
    public void CorruptedInputFailsWithFileLineAndColumn()
    {
        using var files = new TestFiles();
        string data = files.Write("bad.csv", "click,purchase,101,205\n0,0,1,2\n1,x,1,3\n");
        var (code, _, error) = Run("inspect", "--data", data, "--user", "101", "--item", "205", "--click", "click", "--conversion", "purchase");
        Assert.AreEqual(2, code);
        StringAssert.Contains(error, $"error: {data}:3:3: conversion label must be 0 or 1, got 'x'");
    }

    [TestMethod]
    public void InspectReportsSkippedRows()
    {
        using var files = new TestFiles();
        string data = files.Write("bad.csv", "click,purchase,101,205\n0,0,1,2\n1,x,1,3\n0,1,1,3\n");
        var (code, output, _) = Run("inspect", "--data", data, "--user", "101", "--item", "205", "--click", "click", "--conversion", "purchase", "--skip-bad-rows", "--json");
        Assert.AreEqual(0, code);
        var report = System.Text.Json.Nodes.JsonNode.Parse(output)![0]!;
        Assert.AreEqual(3, report["rows_read"]!.GetValue<long>());
        Assert.AreEqual(1, report["rows_kept"]!.GetValue<long>());
        Assert.AreEqual(1, report["bad_rows_skipped"]!.GetValue<long>());
        Assert.AreEqual(1, report["inconsistent_dropped"]!.GetValue<long>());
    }

    [TestMethod]
    public void TrainingWithoutARatingColumnFailsWithOneClearLine()
    {
        using var files = new TestFiles();
        string data = files.Write("clicks.csv", "user,item,click\n" + string.Join("\n", Enumerable.Range(0, 50).Select(i => $"u{i % 7},i{i % 5},{i % 2}")) + "\n");
        var (code, _, error) = Run("train", "--train", data, "--user", "user", "--item", "item", "--click", "click", "--cvr-weight", "0", "--rating-weight", "1", "--out", files.Path_("m"));
        Assert.AreEqual(2, code);
        StringAssert.StartsWith(error.Trim().Split('\n')[^1], "error: the rating task has weight 1 but the schema has no rating label");
        Assert.IsFalse(error.Contains("   at "), "no stack trace");
    }

    [TestMethod]
    public void DeviceCudaWithoutAGpuFailsWithOneClearLineAndCpuRuns()
    {
        if (Environment.GetEnvironmentVariable("RECOMMENDER_HAS_GPU") == "1") Assert.Inconclusive("a GPU is present");
        using var files = new TestFiles();
        string data = files.Write("clicks.csv", "user,item,click\n" + string.Join("\n", Enumerable.Range(0, 200).Select(i => $"u{i % 7},i{i % 5},{i % 2}")) + "\n");
        string[] Train(string device, string dir) => ["train", "--train", data, "--user", "user", "--item", "item", "--click", "click", "--cvr-weight", "0",
            "--rating-weight", "0", "--epochs", "1", "--batch-size", "64", "--threads", "1", "--device", device, "--out", files.Path_(dir)];
        var (code, _, error) = Run(Train("cuda", "gpu"));
        Assert.AreEqual(2, code);
        var last = error.Trim().Split('\n')[^1];
        StringAssert.StartsWith(last, "error: CUDA was requested but ONNX Runtime's CUDA provider could not start");
        Assert.IsFalse(error.Contains("   at "), "no stack trace");
        Assert.IsFalse(Directory.Exists(files.Path_("gpu")) && Directory.EnumerateFileSystemEntries(files.Path_("gpu")).Any(), "no model written, no staging left");
        var (cpuCode, _, cpuError) = Run(Train("cpu", "cpu"));
        Assert.AreEqual(0, cpuCode, cpuError);
        Assert.IsTrue(File.Exists(Path.Combine(files.Path_("cpu"), "v1", "model.onnx")));
    }

    [TestMethod]
    public void EveryCommandHasHelp()
    {
        foreach (var command in new[] { "generate", "inspect", "evaluate", "train", "tune", "predict", "score", "recommend", "export-onnx", "demo", "bench", "models", "serve", "export-log", "evaluate-policy", "simulate" })
        {
            var (code, output, _) = Run(command, "--help");
            Assert.AreEqual(0, code);
            StringAssert.Contains(output, "Usage:");
        }
    }
}
