using System.Diagnostics;
using Recommender.Pipeline.Cli;
using Recommender.Pipeline.Data.Synthetic;
using Recommender.Pipeline.Jobs;
using Recommender.Pipeline.Lifecycle;
using Recommender.Pipeline.Scoring;
using Recommender.Trainers.Runtime;

namespace Recommender.Tests.Pipeline;

[TestClass]
[DoNotParallelize]
public sealed class BatchScoringTests
{
    private static readonly Lazy<(string Bundle, string Input, string Root)> Fixture = new(() =>
    {
        string root = Path.Combine(Path.GetTempPath(), "rec-tests-score-" + Environment.ProcessId);
        var (dir, bundle, _) = TinyBundle.Train(root, 60_000, 12);
        // The input to score: the training split, with two malformed rows.
        var lines = File.ReadAllLines(Path.Combine(dir, "train.csv"));
        lines[100] = lines[100].Replace(",", ",abc,", StringComparison.Ordinal)[..lines[100].Length]; // shifted fields: non-numeric dense
        lines[2000] = string.Join(',', lines[2000].Split(',')[..5]);                                      // too few fields
        string input = Path.Combine(root, "input.csv");
        File.WriteAllLines(input, lines);
        return (bundle, input, root);
    });

    [ClassCleanup]
    public static void Cleanup()
    {
        if (Fixture.IsValueCreated) try { Directory.Delete(Fixture.Value.Root, true); } catch (IOException) { }
    }

    private static ScoringSummary Score(string output, int partition = 0, int partitions = 1, bool resume = false) => BatchScoringJob.Run(new ScoringOptions
    {
        Model = Fixture.Value.Bundle, Input = Fixture.Value.Input, Output = output, ChunkRows = 2000, BatchSize = 1024,
        PartitionIndex = partition, PartitionCount = partitions, Resume = resume, Device = ExecutionDevice.Cpu, Threads = 1,
        Ranking = "pctr^2 * pcvr * item_price",
    });

    [TestMethod]
    public void EveryRowIsScoredOrQuarantinedWithItsReason()
    {
        using var files = new TestFiles();
        var s = Score(files.Path_("out.csv"));
        Assert.AreEqual(48_000, s.RowsIn);
        Assert.AreEqual(2, s.Quarantined);
        Assert.AreEqual(s.RowsIn - s.Quarantined, s.RowsOut);
        Assert.AreEqual(s.RowsOut + 1, File.ReadLines(s.Output).Count());
        var quarantine = File.ReadAllLines(s.Quarantine);
        Assert.AreEqual(3, quarantine.Length);
        StringAssert.StartsWith(quarantine[1], "101,");
        StringAssert.Contains(quarantine[2], "expected 28 fields, found 5");
        // The rank score is the formula of the row's own predictions.
        var header = File.ReadLines(s.Output).First().Split(',');
        var row = File.ReadLines(s.Output).Skip(1).First().Split(',').Select(v => double.TryParse(v, System.Globalization.CultureInfo.InvariantCulture, out var x) ? x : double.NaN).ToArray();
        double price = double.Parse(File.ReadLines(Fixture.Value.Input).Skip(1).First().Split(',')[19], System.Globalization.CultureInfo.InvariantCulture);
        double expected = Math.Pow((float)row[Array.IndexOf(header, "PCtr")], 2) * (float)row[Array.IndexOf(header, "PCvr")] * (float)price;
        Assert.AreEqual(expected, row[^1], Math.Abs(expected) * 1e-5);
        Assert.IsFalse(Directory.Exists(s.Output + ".parts"));
    }

    [TestMethod]
    public void ParquetInputScoresLikeTheSameRowsAsCsv()
    {
        using var files = new TestFiles();
        var lines = File.ReadLines(Fixture.Value.Input).Take(201).ToArray();
        string csv = files.Write("head.csv", string.Join('\n', lines) + "\n");
        var header = lines[0].Split(',');
        var fields = header.Select(h => new Parquet.Schema.DataField<string>(h)).ToArray();
        string parquet = files.Path_("head.parquet");
        using (var stream = File.Create(parquet))
        {
            var writer = Parquet.ParquetWriter.CreateAsync(new Parquet.Schema.ParquetSchema(fields), stream).GetAwaiter().GetResult();
            using (var group = writer.CreateRowGroup())
                for (int c = 0; c < header.Length; c++)
                    group.WriteAsync(fields[c], lines.Skip(1).Select(l => l.Split(',')[c]).ToArray()).GetAwaiter().GetResult();
            writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        ScoringSummary Run(string input, string output) => BatchScoringJob.Run(new ScoringOptions
        {
            Model = Fixture.Value.Bundle, Input = input, Output = files.Path_(output), ChunkRows = 64, Device = ExecutionDevice.Cpu, Threads = 1,
        });
        var fromCsv = Run(csv, "csv-out.csv");
        var fromParquet = Run(parquet, "parquet-out.csv");
        Assert.AreEqual(199, fromParquet.RowsOut); // row 101 of the fixture is malformed in both forms
        Assert.AreEqual(1, fromParquet.Quarantined);
        CollectionAssert.AreEqual(File.ReadAllLines(fromCsv.Output), File.ReadAllLines(fromParquet.Output));
    }

    [TestMethod]
    public void PartitionsTogetherScoreEveryRowOnce()
    {
        using var files = new TestFiles();
        var whole = File.ReadAllLines(Score(files.Path_("all.csv")).Output).Skip(1).ToHashSet();
        var parts = Enumerable.Range(0, 3).Select(i => Score(files.Path_($"p{i}.csv"), i, 3)).ToArray();
        var union = parts.SelectMany(p => File.ReadAllLines(p.Output).Skip(1)).ToList();
        Assert.AreEqual(whole.Count, union.Count);
        CollectionAssert.AreEquivalent(whole.ToList(), union);
        Assert.AreEqual(2, parts.Sum(p => p.Quarantined));
    }

    [TestMethod]
    public void AResumeOfADifferentJobIsRefusedAndPublishesNothing()
    {
        using var files = new TestFiles();
        string output = files.Path_("out.csv");
        ScoringSummary Run(string input, int chunkRows, string ranking) => BatchScoringJob.Run(new ScoringOptions
        {
            Model = Fixture.Value.Bundle, Input = input, Output = output, ChunkRows = chunkRows, Resume = true, Device = ExecutionDevice.Cpu, Threads = 1, Ranking = ranking,
        });
        // An interrupted run's parts: cancelled once the first part is written (the reader, at most six chunks ahead
        // of the writer, reports progress after that for certain: the input has twelve chunks).
        using (var cancel = new CancellationTokenSource())
        {
            string first = Path.Combine(output + ".parts", "part-000000.csv");
            Assert.ThrowsExactly<OperationCanceledException>(() => BatchScoringJob.Run(new ScoringOptions
            {
                Model = Fixture.Value.Bundle, Input = Fixture.Value.Input, Output = output, ChunkRows = 4000, Device = ExecutionDevice.Cpu, Threads = 1,
            }, rows => { if (File.Exists(first)) cancel.Cancel(); }, cancel.Token));
        }
        Assert.IsFalse(File.Exists(output));
        var e = Assert.ThrowsExactly<InvalidOperationException>(() => Run(Fixture.Value.Input, 2000, "pctr"));
        StringAssert.Contains(e.Message, "chunk_rows was '4000', now '2000'");
        e = Assert.ThrowsExactly<InvalidOperationException>(() => Run(Fixture.Value.Input, 4000, "pctr * pcvr"));
        StringAssert.Contains(e.Message, "ranking was 'PCtr', now 'PCtr * PCvr'");
        string other = files.Write("other.csv", string.Join('\n', File.ReadLines(Fixture.Value.Input).Take(50)) + "\n");
        e = Assert.ThrowsExactly<InvalidOperationException>(() => Run(other, 4000, "pctr"));
        StringAssert.Contains(e.Message, "input.path was");
        Assert.IsFalse(File.Exists(output), "a refused resume publishes nothing");
        var done = Run(Fixture.Value.Input, 4000, "pctr");
        Assert.IsTrue(done.ChunksResumed >= 1);
        Assert.AreEqual(done.RowsIn, done.RowsOut + done.Quarantined);
    }

    [TestMethod]
    public void TheOutputCannotBeTheInputOrAFolder()
    {
        using var files = new TestFiles();
        string input = files.Write("in.csv", string.Join('\n', File.ReadLines(Fixture.Value.Input).Take(20)) + "\n");
        var before = File.ReadAllBytes(input);
        var e = Assert.ThrowsExactly<IOException>(() => BatchScoringJob.Run(new ScoringOptions { Model = Fixture.Value.Bundle, Input = input, Output = input }));
        StringAssert.Contains(e.Message, "the output is the input");
        CollectionAssert.AreEqual(before, File.ReadAllBytes(input));
        e = Assert.ThrowsExactly<IOException>(() => BatchScoringJob.Run(new ScoringOptions { Model = Fixture.Value.Bundle, Input = input, Output = files.Root }));
        StringAssert.Contains(e.Message, "a folder");
    }

    [TestMethod]
    public void AWriterFailureStopsTheWholePipelineInsteadOfHanging()
    {
        using var files = new TestFiles();
        string output = files.Path_("out.csv");
        var options = new ScoringOptions { Model = Fixture.Value.Bundle, Input = Fixture.Value.Input, Output = output, ChunkRows = 500, Device = ExecutionDevice.Cpu, Threads = 1 };
        using (var cancel = new CancellationTokenSource())
            Assert.ThrowsExactly<OperationCanceledException>(() => BatchScoringJob.Run(options, rows => { if (rows >= 1000) cancel.Cancel(); }, cancel.Token));
        // A folder where chunk 10's part must go: its write fails as a full disk would, with more chunks queued behind it.
        Directory.CreateDirectory(Path.Combine(output + ".parts", "part-000010.csv"));
        var run = Task.Run(() => BatchScoringJob.Run(new ScoringOptions
        {
            Model = Fixture.Value.Bundle, Input = Fixture.Value.Input, Output = output, ChunkRows = 500, Device = ExecutionDevice.Cpu, Threads = 1, Resume = true,
        }));
        Assert.IsTrue(((IAsyncResult)run).AsyncWaitHandle.WaitOne(TimeSpan.FromMinutes(2)), "the job ended instead of hanging");
        Assert.IsTrue(run.IsFaulted);
        Assert.IsInstanceOfType<IOException>(run.Exception!.InnerException);
        Assert.IsFalse(File.Exists(output));
        Assert.IsFalse(Directory.EnumerateFiles(output + ".parts", "*.tmp").Any(), "the failed part's temp file is gone");
    }

    [TestMethod]
    public void AKilledRunResumesToTheSameOutput()
    {
        using var files = new TestFiles();
        string reference = Score(files.Path_("reference.csv")).Output;
        string output = files.Path_("killed.csv");
        string parts = output + ".parts";
        var start = new ProcessStartInfo("dotnet", ["exec", typeof(CliApp).Assembly.Location, "score", "--model", Fixture.Value.Bundle, "--input", Fixture.Value.Input,
            "--output", output, "--chunk-rows", "500", "--batch-size", "256", "--threads", "1", "--device", "Cpu", "--rank", "pctr^2 * pcvr * item_price"])
        { RedirectStandardError = true, RedirectStandardOutput = true };
        // Each part takes 50 ms more, so the kill surely lands mid-run, on any machine.
        start.Environment["RECOMMENDER_DELAY"] = "score.part-written:50";
        using (var process = Process.Start(start)!)
        {
            var clock = Stopwatch.StartNew();
            while (!process.HasExited && clock.Elapsed < TimeSpan.FromSeconds(60)
                   && !(Directory.Exists(parts) && Directory.EnumerateFiles(parts, "part-*.csv").Count() >= 10)) Thread.Sleep(5);
            Assert.IsFalse(process.HasExited, "the job finished before it could be killed");
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
        int done = Directory.EnumerateFiles(parts, "part-*.csv").Count();
        Assert.IsTrue(done >= 10 && done < 96, $"{done} chunks were done at the kill");
        Assert.IsFalse(File.Exists(output), "no output before the run completes");

        var resumed = BatchScoringJob.Run(new ScoringOptions
        {
            Model = Fixture.Value.Bundle, Input = Fixture.Value.Input, Output = output, ChunkRows = 500, BatchSize = 256, Resume = true,
            Device = ExecutionDevice.Cpu, Threads = 1, Ranking = "pctr^2 * pcvr * item_price",
        });
        Assert.IsTrue(resumed.ChunksResumed >= 10);
        // Chunk size does not change a row's score: the resumed output equals the uninterrupted one.
        CollectionAssert.AreEqual(File.ReadAllBytes(reference), File.ReadAllBytes(output));
        CollectionAssert.AreEqual(File.ReadAllBytes(reference + ".quarantine.csv"), File.ReadAllBytes(output + ".quarantine.csv"));
    }
}
