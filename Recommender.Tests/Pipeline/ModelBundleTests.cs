using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Recommender.Pipeline.Cli;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Data.Synthetic;
using Recommender.Pipeline.Jobs;
using Recommender.Pipeline.Lifecycle;
using Recommender.Pipeline.Scoring;
using Recommender.Trainers;
using Recommender.Trainers.Runtime;
using Recommender.Trainers.Training;

namespace Recommender.Tests.Pipeline;

[TestClass]
public sealed class ModelBundleTests
{
    [TestMethod]
    public void ASavedBundleScoresIdenticallyInANewProcess()
    {
        using var files = new TestFiles();
        var (dir, bundle, result) = TinyBundle.Train(files.Root, 20_000, 8, MultiTaskArchitecture.Esmm);
        Assert.IsNotNull(result.Test);
        foreach (var f in new[] { ModelBundle.ModelFile, ModelBundle.OnnxFile, ModelBundle.MetadataFile })
            Assert.IsTrue(File.Exists(Path.Combine(bundle, f)), f);

        // In this process: load through ML.NET and score.
        var ml = new MLContext();
        var (model, metadata) = ModelBundle.Load(ml, bundle);
        var test = DataLoader.Load(metadata.Schema, Path.Combine(dir, "test.csv"));
        var scored = model.Transform(test.ToDataView());
        var expected = Recommender.Trainers.Network.TaskList.DefaultPredictions.Select(c => ScoredColumns.Read(scored, c)).ToArray();

        // In a new process: the CLI's predict command loads the same bundle.
        string predictions = Path.Combine(files.Root, "predictions.csv");
        string cli = typeof(CliApp).Assembly.Location;
        var start = new ProcessStartInfo("dotnet", ["exec", cli, "predict", "--model", bundle, "--data", Path.Combine(dir, "test.csv"), "--out", predictions])
        {
            RedirectStandardError = true, RedirectStandardOutput = true,
        };
        using var process = Process.Start(start)!;
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.AreEqual(0, process.ExitCode, error);

        var lines = File.ReadAllLines(predictions);
        Assert.AreEqual("PCtr,PCvr,PCtcvr,PredictedRating", lines[0]);
        Assert.AreEqual(test.RowCount + 1, lines.Length);
        double worst = 0;
        for (int i = 1; i < lines.Length; i++)
        {
            var values = lines[i].Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            for (int c = 0; c < 4; c++) worst = Math.Max(worst, Math.Abs(values[c] - expected[c][i - 1]));
        }
        Assert.IsTrue(worst <= 1e-6, $"largest difference {worst}");
    }
}

[TestClass]
public sealed class CompiledFeaturizationTests
{
    [TestMethod]
    public void TheCompiledFeaturizationScoresExactlyAsMlNetsPipeline()
    {
        using var files = new TestFiles();
        var (dir, bundle, _) = TinyBundle.Train(files.Root, 20_000, 21);
        using var scorer = BundleScorer.Open(bundle, 512, new RuntimeOptions { Device = ExecutionDevice.Cpu, Threads = 1 });
        Assert.IsNotNull(scorer.Compiled, scorer.NotCompiledBecause);
        var ml = new MLContext();
        var (model, metadata) = ModelBundle.Load(ml, bundle);
        // Rows with unseen ids and missing and extreme numbers beside ordinary ones.
        var lines = File.ReadAllLines(Path.Combine(dir, "test.csv")).Take(400).ToArray();
        for (int i = 1; i < lines.Length; i += 7)
        {
            var fields = lines[i].Split(',');
            fields[0] = "never-seen-user";
            fields[17] = i % 2 == 0 ? "" : "1e30";
            lines[i] = string.Join(',', fields);
        }
        string path = files.Write("rows.csv", string.Join('\n', lines) + "\n");
        var table = DataLoader.Load(metadata.Schema, path);
        var expected = Recommender.Trainers.Network.TaskList.DefaultPredictions.Select(c => ScoredColumns.Read(model.Transform(table.ToDataView()), c)).ToArray();
        var chunk = table.Chunks.Single();
        var fast = scorer.Predict(chunk, table.Schema.TextColumns, table.Schema.NumberColumns);
        for (int r = 0; r < chunk.Count; r++)
            for (int c = 0; c < 4; c++)
                Assert.AreEqual(expected[c][r], fast[r * 4 + c], 1e-6, $"row {r} {Recommender.Trainers.Network.TaskList.DefaultPredictions[c]}");
    }
}

[TestClass]
public sealed class BehaviourBundleTests
{
    [TestMethod]
    public void AModelWithHistoriesScoresTheSameInTheTrainerTheMlNetPipelineAndTheCompiledScorer()
    {
        using var files = new TestFiles();
        var (dir, bundle, result) = TinyBundle.Train(files.Root, 20_000, 4, MultiTaskArchitecture.Mmoe, history: 5);
        var metadata = ModelBundle.Open(bundle).Metadata;
        // The weekday, a calendar field each of whose values the 24 training days hold three or four times, is left out.
        Assert.AreEqual(2 + 13 + 2 * 5, metadata.OnnxIdInputs.Count, "user, item, 13 categoricals, and two histories of 5");
        Assert.IsFalse(metadata.OnnxIdInputs.Contains("weekday"));
        CollectionAssert.AreEqual(new[] { "recent_items#0", "recent_items#1" }, metadata.OnnxIdInputs.Skip(15).Take(2).ToArray());
        Assert.IsTrue(result.Model.Spec.Sequences.Count == 2 && result.Model.Compiled.Definition.Parameters.Any(p => p.Name == "attention.recent_items.position"));

        var ml = new MLContext();
        var (model, _) = ModelBundle.Load(ml, bundle);
        var test = DataLoader.Load(metadata.Schema, Path.Combine(dir, "test.csv"));
        Assert.IsTrue(test.GetText("recent_items#0").Count(v => v.Length > 0) > test.RowCount / 4, "the test rows have histories");
        var names = Recommender.Trainers.Network.TaskList.DefaultPredictions;
        var viaMlNet = names.Select(c => ScoredColumns.Read(model.Transform(test.ToDataView()), c)).ToArray();
        using var scorer = BundleScorer.Open(bundle, 512, new RuntimeOptions { Device = ExecutionDevice.Cpu, Threads = 1 });
        Assert.IsNotNull(scorer.Compiled, scorer.NotCompiledBecause);
        var chunk = test.Chunks.Single();
        var compiled = scorer.Predict(chunk, test.Schema.TextColumns, test.Schema.NumberColumns);
        for (int c = 0; c < names.Count; c++)
            for (int r = 0; r < test.RowCount; r++)
            {
                Assert.AreEqual(result.TestPredictions![names[c]][r], viaMlNet[c][r], 1e-6, $"{names[c]} row {r}: the trainer's own scoring against the saved ML.NET pipeline");
                Assert.AreEqual(viaMlNet[c][r], compiled[r * names.Count + c], 1e-6, $"{names[c]} row {r}: the compiled scorer");
            }
    }
}
