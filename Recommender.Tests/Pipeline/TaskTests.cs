using System.Text.Json.Nodes;
using Microsoft.ML;
using Microsoft.ML.Data;
using Recommender.Pipeline.Cli;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Data.Synthetic;
using Recommender.Pipeline.Featurization;
using Recommender.Pipeline.Jobs;
using Recommender.Trainers;
using Recommender.Trainers.Evaluation;
using Recommender.Trainers.Network;
using Recommender.Trainers.Runtime;
using Recommender.Trainers.Training;

namespace Recommender.Tests.Pipeline;

/// <summary>Tasks declared as data: parsing and rules, labels, chains, every architecture, the CLI, scalar predictions.</summary>
[TestClass]
[DoNotParallelize] // the CLI cases redirect the process-wide console
public sealed class TaskTests
{
    private static (int Code, string Out, string Error) Run(params string[] args) => CliRunner.Run(args);

    private static MultiTaskTrainerOptions Small(MultiTaskArchitecture a, TaskDefinition[]? tasks = null) => new()
    {
        Architecture = a, Tasks = tasks, Epochs = 1, BatchSize = 256, EmbeddingDim = 4, Bottom = [16], Tower = [8], Expert = [8], Experts = 2,
        PleLayers = 1, SharedExperts = 1, TaskExperts = 1, Device = ExecutionDevice.Cpu, Threads = 1, WarmupSteps = 10,
    };

    [TestMethod]
    public void TheCommandLineFormParsesAndBadTaskListsAreRefusedByName()
    {
        Assert.AreEqual(new TaskDefinition { Name = "cart", Label = "added", Given = "click" }, TaskDefinition.Parse("cart:added:binary:click"));
        Assert.AreEqual(new TaskDefinition { Name = "stars", Label = "stars", Kind = TaskKind.Regression, Min = 1, Max = 5 }, TaskDefinition.Parse("stars:stars:regression[1..5]"));
        Assert.AreEqual(TaskKind.Regression, TaskDefinition.Parse("dwell:dwell_s:Regression").Kind);
        foreach (var bad in new[] { "click", "click:click", "a:b:ordinal", "a:b:regression[5]", "a:b:binary:c:d", "a::binary" })
            Assert.Throws<ArgumentException>(() => TaskDefinition.Parse(bad), bad);

        TaskDefinition T(string name, string? given = null, TaskKind kind = TaskKind.Binary, float weight = 1) =>
            new() { Name = name, Label = name, Given = given, Kind = kind, Weight = weight };
        void Refused(string expected, params TaskDefinition[] tasks) =>
            StringAssert.Contains(Assert.Throws<ArgumentException>(() => TaskList.Validate(tasks)).Message, expected);
        Refused("no task declared");
        Refused("declared twice", T("a"), T("a"));
        Refused("'b' is given 'c', which is not a task declared before it", T("a"), T("b", "c"));
        Refused("'b' is given 'c', which is not a task declared before it", T("b", "c"), T("c"));
        Refused("only a binary task can be given", T("r", kind: TaskKind.Regression) with { Min = 0, Max = 1 }, T("b", "r"));
        Refused("every task is switched off", T("a", weight: 0), T("b", weight: 0));
        Refused("min < max", T("r", kind: TaskKind.Regression) with { Min = 5, Max = 1 });
        Refused("use letters, digits", T("a b"));
        Refused("two tasks predict into the column 'P_x'", T("a") with { Prediction = "P_x" }, T("b") with { Prediction = "P_x" });
        TaskList.Validate([T("click"), T("cart", "click"), T("purchase", "cart"), T("favourite")]);
        CollectionAssert.AreEqual(new[] { "P_click", "P_cart_given_click", "P_cart", "P_purchase_given_cart", "P_purchase", "P_favourite" },
            TaskList.Predictions([T("click"), T("cart", "click"), T("purchase", "cart"), T("favourite")]).ToArray());
        Assert.AreEqual("P_purchase", TaskList.DefaultRanking([T("click"), T("cart", "click"), T("purchase", "cart"),
            T("stars", "purchase", TaskKind.Regression) with { Min = 1, Max = 5 }, T("favourite")]), "recommendations rank by the end of the binary chain");
        Assert.AreEqual("pctr * pcvr", TaskList.DefaultRanking(TaskList.DefaultChain("c", "v", "r", 1, 1, 1, 1, 5)));
        Assert.AreEqual("P_a", TaskList.DefaultRanking([T("a"), T("b")]), "no chain: the first task");
        CollectionAssert.AreEqual(TaskList.DefaultPredictions.ToArray(), TaskList.Predictions(TaskList.DefaultChain("c", "v", "r", 1, 1, 1, 1, 5)).ToArray(),
            "the default chain keeps its four names in their order");
    }

    [TestMethod]
    public void ChainMetricsAreHandComputed()
    {
        // Rows: click, cart (defined where clicked), purchase (defined where carted), independent favourite with a gap.
        TaskDefinition[] tasks = [new() { Name = "click", Label = "c" }, new() { Name = "cart", Label = "k", Given = "click" },
            new() { Name = "purchase", Label = "p", Given = "cart" }, new() { Name = "fav", Label = "f" }];
        var labels = new Dictionary<string, float[]>
        {
            ["click"] = [1, 1, 1, 0, 0, 1], ["cart"] = [1, 1, 0, 0, 0, 1], ["purchase"] = [1, 0, 0, 0, 0, 1], ["fav"] = [1, 0, float.NaN, 0, 1, 0],
        };
        var predictions = new Dictionary<string, float[]>
        {
            ["P_purchase_given_cart"] = [0.9f, 0.2f, 0.99f, 0.99f, 0.99f, 0.1f], // on its 3 rows (0, 1, 5): pairs (0,1) right, (5,1) wrong -> 0.5
            ["P_purchase"] = [0.5f, 0.3f, 0.2f, 0.1f, 0.4f, 0.6f],           // all rows, positives 0 and 5 above all four negatives -> 1
            ["P_fav"] = [0.7f, 0.1f, 0.9f, 0.3f, 0.2f, 0.4f],                 // rows 0, 1, 3, 4, 5: positives 0.7, 0.2 vs 0.1, 0.3, 0.4 -> 4/6
        };
        var m = MultiTaskMetrics.Compute(tasks, predictions, labels, null);
        Assert.AreEqual(0.5, m["purchase.auc"]!.Value.Value, 1e-12);
        Assert.AreEqual(1.0, m["purchase.entire_auc"]!.Value.Value, 1e-12);
        Assert.AreEqual(4 / 6.0, m["fav.auc"]!.Value.Value, 1e-12);
        // Calibration on the chain's rows: mean prediction (0.9 + 0.2 + 0.1) / 3 over mean label 2/3.
        Assert.AreEqual(0.4 / (2 / 3.0), m["purchase.calibration"]!.Value.Value, 1e-6);
        Assert.IsNull(m["click.auc"], "no click prediction, no click metric");
        Assert.IsTrue(MultiTaskMetrics.HigherIsBetter("purchase.entire_auc") && !MultiTaskMetrics.HigherIsBetter("rating.rmse") && MultiTaskMetrics.HigherIsBetter("ctr_auc"));
    }

    [TestMethod]
    public void AZeroOneRegressionTargetTrainsIntoItsRange()
    {
        // A regression label that is 0 or 1 with a 0-1 range, as the issue's Census trial declared it: it must train to
        // 0-1 (the trainer used 1-5 before and scored 1.004-1.027).
        using var files = new TestFiles();
        var rng = new Random(3);
        var lines = Enumerable.Range(0, 4000).Select(i => { int u = rng.Next(40), v = rng.Next(30); return $"u{u},i{v},{((u + v) % 3 == 0 ? 1 : 0)}"; });
        string data = files.Write("y.csv", "user,item,y\n" + string.Join('\n', lines) + "\n");
        var (code, output, error) = Run("train", "--train", data, "--test", data, "--user", "user", "--item", "item", "--task", "y:y:regression[0..1]",
            "--epochs", "3", "--batch-size", "128", "--threads", "1", "--device", "Cpu", "--out", files.Path_("m"));
        Assert.AreEqual(0, code, error);
        var model = JsonNode.Parse(File.ReadAllText(Path.Combine(files.Path_("m"), "v1", "model.json")))!;
        Assert.AreEqual(1.0, model["tasks"]![0]!["max"]!.GetValue<double>());
        Assert.AreEqual("Pred_y", model["onnxOutputs"]![0]!.GetValue<string>());
        var (code2, _, error2) = Run("score", "--model", Path.Combine(files.Path_("m"), "v1"), "--input", data, "--output", files.Path_("scored.csv"));
        Assert.AreEqual(0, code2, error2);
        var scored = File.ReadLines(files.Path_("scored.csv")).Skip(1).Select(l => double.Parse(l.Split(',')[2], System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.IsTrue(scored.All(p => p is >= 0 and <= 1), "inside the declared range");
        Assert.IsTrue(scored.Min() < 0.2 && scored.Max() > 0.8, $"it learns the 0/1 pattern: {scored.Min():F3} to {scored.Max():F3}");
        StringAssert.Contains(output, "y.rmse");

        // The default chain's rating role takes the schema's range too.
        string rated = files.Write("r.csv", "user,item,click,stars\n" + string.Join('\n', Enumerable.Range(0, 500).Select(i => $"u{i % 9},i{i % 7},{i % 2},{(i % 3 == 0 ? "1" : "0")}")) + "\n");
        (code, _, error) = Run("train", "--train", rated, "--user", "user", "--item", "item", "--click", "click", "--rating", "stars", "--rating-min", "0", "--rating-max", "1",
            "--cvr-weight", "0", "--epochs", "1", "--threads", "1", "--device", "Cpu", "--out", files.Path_("r"));
        Assert.AreEqual(0, code, error);
        var rating = JsonNode.Parse(File.ReadAllText(Path.Combine(files.Path_("r"), "v1", "model.json")))!["tasks"]!.AsArray().Single(t => t!["name"]!.GetValue<string>() == "rating")!;
        Assert.AreEqual(0.0, rating["min"]!.GetValue<double>());
        Assert.AreEqual(1.0, rating["max"]!.GetValue<double>());
    }

    [TestMethod]
    [DataRow(MultiTaskArchitecture.SharedBottom)]
    [DataRow(MultiTaskArchitecture.Esmm)]
    [DataRow(MultiTaskArchitecture.Mmoe)]
    [DataRow(MultiTaskArchitecture.Ple)]
    public void EveryArchitectureTrainsAChainAndAnIndependentTaskFromCSharp(MultiTaskArchitecture architecture)
    {
        var (train, valid, tasks, _, _) = Funnel.Value;
        var ml = new MLContext(seed: 1);
        var options = Small(architecture, [.. tasks]);
        options.Epochs = 3;
        options.LearningRate = 3e-3f;
        var multiTask = ml.MultiTask().Trainers.FromOptions(options).Fit(train, valid);
        var scored = multiTask.Transform(valid);
        foreach (var name in TaskList.Predictions(tasks))
            Assert.AreEqual(NumberDataViewType.Single, scored.Schema[name].Type, $"{name} is a scalar column");
        var click = ScoredColumns.Read(scored, "P_click");
        var cart = ScoredColumns.Read(scored, "P_cart_given_click");
        var purchase = ScoredColumns.Read(scored, "P_purchase_given_cart");
        var entire = ScoredColumns.Read(scored, "P_purchase");
        for (int i = 0; i < entire.Length; i++) Assert.AreEqual(click[i] * cart[i] * purchase[i], entire[i], 1e-6, "the entire-space purchase is the product along the chain");
        var metrics = ml.MultiTask().Evaluate(scored, multiTask.Model.Spec.Tasks);
        foreach (var metric in new[] { "click.auc", "cart.auc", "cart.entire_auc", "purchase.entire_auc", "favourite.auc", "rating.rmse" })
            Assert.IsTrue(metrics[metric] is { IsDefined: true }, metric);
        Console.WriteLine($"{architecture}: click AUC {metrics["click.auc"]}, favourite AUC {metrics["favourite.auc"]}, purchase entire-space AUC {metrics["purchase.entire_auc"]}");
        Assert.IsTrue(metrics["click.auc"]!.Value.Value > 0.6, $"{architecture}: click AUC {metrics["click.auc"]}");
        Assert.IsTrue(metrics["favourite.auc"]!.Value.Value > 0.6, $"{architecture}: favourite AUC {metrics["favourite.auc"]}");
        Assert.IsTrue(multiTask.Model.History.All(h => h.Validation.ContainsKey("purchase.entire_auc")));
        CollectionAssert.AreEquivalent(tasks.Select(t => t.Name).ToArray(), multiTask.Model.History[0].TrainLossTerms.Keys.ToArray());
    }

    // Generated funnel data, featurized; the tables are in memory, so the folder can go.
    private static readonly Lazy<(IDataView Train, IDataView Valid, IReadOnlyList<TaskDefinition> Tasks, ITransformer Featurization, string FirstTestLine)> Funnel = new(() =>
    {
        string dir = Path.Combine(Path.GetTempPath(), "rec-tests-funnel-" + Environment.ProcessId);
        SyntheticGenerator.Generate(new SyntheticOptions { Rows = 40_000, Seed = 8, Funnel = true, Favourite = true, History = 0 }, dir);
        var ml = new MLContext(seed: 1);
        var schema = DatasetSchema.Load(Path.Combine(dir, "schema.json"));
        var train = DataLoader.Load(schema, Path.Combine(dir, "train.csv"));
        var valid = DataLoader.Load(schema, Path.Combine(dir, "valid.csv"));
        string firstTest = File.ReadLines(Path.Combine(dir, "test.csv")).Skip(1).First();
        Directory.Delete(dir, true);
        var (featurizer, _) = SchemaFeaturizer.Create(ml, train.Schema, train.ToDataView());
        var featurization = featurizer.Fit(train.ToDataView());
        return (featurization.Transform(train.ToDataView()), featurization.Transform(valid.ToDataView()), schema.Tasks!, featurization, firstTest);
    });

    [TestMethod]
    public void TheCommandLineTrainsTheFunnelTheCensusStandInAndDeclaredTasks()
    {
        using var files = new TestFiles();
        string funnel = files.Path_("funnel"), census = files.Path_("census");
        Assert.AreEqual(0, Run("generate", "--rows", "8000", "--funnel", "--favourite", "--out", funnel).Code);
        var schema = DatasetSchema.Load(Path.Combine(funnel, "schema.json"));
        CollectionAssert.AreEqual(new[] { "click", "cart", "purchase", "rating", "favourite" }, schema.Tasks!.Select(t => t.Name).ToArray());
        CollectionAssert.AreEqual(new[] { "P_click", "P_cart_given_click", "P_cart", "P_purchase_given_cart", "P_purchase", "Pred_rating", "P_favourite" },
            File.ReadLines(Path.Combine(funnel, "test_truth.csv")).First().Split(','));
        // Generated labels keep the chain: no cart without a click, no purchase without a cart.
        var rows = File.ReadLines(Path.Combine(funnel, "train.csv")).Skip(1).Select(l => l.Split(',')).ToArray();
        int c = 24; // click, cart, conversion follow the 16 categorical and 8 dense columns
        Assert.IsFalse(rows.Any(r => r[c + 1] == "1" && r[c] == "0" || r[c + 2] == "1" && r[c + 1] == "0"));
        Assert.IsTrue(rows.Any(r => r[c + 2] == "1") && rows.Any(r => r[c + 4] == "1" && r[c] == "0"), "purchases happen; favourites without clicks too");

        var (code, output, error) = Run("train", "--data", funnel, "--architecture", "Esmm", "--epochs", "1", "--batch-size", "256", "--embedding-dim", "4",
            "--threads", "1", "--device", "Cpu", "--early-stopping-metric", "purchase.entire_auc", "--out", files.Path_("m-funnel"));
        Assert.AreEqual(0, code, error);
        StringAssert.Contains(output, "purchase.entire_auc");
        var onnx = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(files.Path_("m-funnel"), "v1", "model.onnx")));
        foreach (var o in onnx.Graph.Output)
            Assert.AreEqual(1, o.Type.TensorType.Shape.Dim.Count, $"{o.Name}: one value per row, [N]");
        var (scoreCode, _, scoreError) = Run("score", "--model", Path.Combine(files.Path_("m-funnel"), "v1"), "--input", Path.Combine(funnel, "test.csv"),
            "--output", files.Path_("funnel-scored.csv"), "--rank", "P_purchase * item_price");
        Assert.AreEqual(0, scoreCode, scoreError);
        Assert.AreEqual("UserId,ItemId,P_click,P_cart_given_click,P_cart,P_purchase_given_cart,P_purchase,Pred_rating,P_favourite,RankScore", File.ReadLines(files.Path_("funnel-scored.csv")).First());
        var (evalCode, evalOut, evalError) = Run("evaluate", "--model", Path.Combine(files.Path_("m-funnel"), "v1"), "--labels", Path.Combine(funnel, "test.csv"), "--json");
        Assert.AreEqual(0, evalCode, evalError);
        var evaluated = JsonNode.Parse(evalOut)!["metrics"]!;
        Assert.IsNotNull(evaluated["purchase.entire_auc"]);
        Assert.IsTrue(evaluated.AsObject().ContainsKey("favourite.precision"), "threshold metrics of the independent task");

        // An unknown early-stopping metric is one line naming the valid ones.
        (code, _, error) = Run("train", "--data", funnel, "--epochs", "1", "--threads", "1", "--device", "Cpu", "--early-stopping-metric", "purchase.ndcg", "--out", files.Path_("bad"));
        Assert.AreEqual(2, code);
        StringAssert.StartsWith(error.Trim().Split('\n')[^1], "error: early-stopping metric 'purchase.ndcg' is not one of this model's: click.auc, click.logloss, cart.auc");
        Assert.IsFalse(Directory.Exists(Path.Combine(files.Path_("bad"), "v1")));

        // Census-shaped: two independent tasks, no user, item or click role.
        (code, output, error) = Run("generate", "--census", "--rows", "6000", "--out", census);
        Assert.AreEqual(0, code, error);
        (code, output, error) = Run("train", "--data", census, "--architecture", "Mmoe", "--epochs", "2", "--batch-size", "256", "--threads", "1", "--device", "Cpu", "--out", files.Path_("m-census"));
        Assert.AreEqual(0, code, error);
        var test = output[output.IndexOf("test split:")..];
        foreach (var metric in new[] { "income.auc", "married.auc" })
        {
            var line = test.Split('\n').Single(l => l.StartsWith(metric + " "));
            double auc = double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
            Assert.IsTrue(auc > 0.7, $"{metric} {auc}");
        }

        // Declared on the command line over a plain file.
        string plain = files.Write("plain.csv", "user,item,click,fav\n" + string.Join('\n', Enumerable.Range(0, 600).Select(i => $"u{i % 11},i{i % 13},{i % 2},{(i % 5 == 0 ? "1" : i % 7 == 0 ? "" : "0")}")) + "\n");
        (code, _, error) = Run("train", "--train", plain, "--user", "user", "--item", "item", "--task", "click:click:binary", "--task", "fav:fav:binary",
            "--epochs", "1", "--threads", "1", "--device", "Cpu", "--out", files.Path_("m-plain"));
        Assert.AreEqual(0, code, error);
        var outputs = JsonNode.Parse(File.ReadAllText(Path.Combine(files.Path_("m-plain"), "v1", "model.json")))!["onnxOutputs"]!.AsArray().Select(o => o!.GetValue<string>());
        CollectionAssert.AreEqual(new[] { "P_click", "P_fav" }, outputs.ToArray());
        (code, _, error) = Run("train", "--train", plain, "--user", "user", "--item", "item", "--click", "click", "--task", "fav:fav:binary", "--out", files.Path_("mixed"));
        Assert.AreEqual(2, code);
        StringAssert.Contains(error, "declares tasks and also the click / conversion / rating roles");
    }

    [TestMethod]
    public void AnExperimentFileDeclaresTasksAsAnArrayAndOldWeightObjectsStillWork()
    {
        using var files = new TestFiles();
        string data = files.Write("d.csv", "user,item,click,fav\n" + string.Join('\n', Enumerable.Range(0, 400).Select(i => $"u{i % 11},i{i % 13},{i % 2},{i % 3 % 2}")) + "\n");
        string schema = "\"schema\": {\"user\": \"user\", \"item\": \"item\"}";
        string trainer = "\"trainer\": {\"epochs\": 1, \"batchSize\": 64, \"threads\": 1, \"device\": \"Cpu\", \"architecture\": \"Mmoe\", \"experts\": 2}";
        string declared = files.Write("declared.json", "{\"data\": {\"train\": \"d.csv\"}, " + schema + ", " + trainer + ", \"tasks\": ["
            + "{\"name\": \"click\", \"label\": \"click\", \"kind\": \"binary\"}, {\"name\": \"fav\", \"label\": \"fav\", \"kind\": \"Binary\", \"weight\": 0.5}]}");
        var (code, _, error) = Run("train", "--experiment", declared, "--out", files.Path_("m"));
        Assert.AreEqual(0, code, error);
        var tasks = JsonNode.Parse(File.ReadAllText(Path.Combine(files.Path_("m"), "v1", "model.json")))!["tasks"]!.AsArray();
        CollectionAssert.AreEqual(new[] { "click", "fav" }, tasks.Select(t => t!["name"]!.GetValue<string>()).ToArray());
        Assert.AreEqual(0.5, tasks[1]!["weight"]!.GetValue<double>());

        // The old object of the default chain's weights, with roles.
        string old = files.Write("old.json", "{\"data\": {\"train\": \"d.csv\"}, \"schema\": {\"user\": \"user\", \"item\": \"item\", \"click\": \"click\"}, "
            + trainer + ", \"tasks\": {\"ctr\": 1, \"cvr\": 0, \"rating\": 0}}");
        (code, _, error) = Run("train", "--experiment", old, "--out", files.Path_("o"));
        Assert.AreEqual(0, code, error);
        var outputs = JsonNode.Parse(File.ReadAllText(Path.Combine(files.Path_("o"), "v1", "model.json")))!["onnxOutputs"]!.AsArray().Select(o => o!.GetValue<string>()).ToArray();
        CollectionAssert.AreEqual(TaskList.DefaultPredictions.ToArray(), outputs);

        string twice = files.Write("twice.json", "{\"data\": {\"train\": \"d.csv\"}, \"schema\": {\"user\": \"user\", \"item\": \"item\", \"tasks\": [{\"name\": \"click\", \"label\": \"click\"}]}, "
            + trainer + ", \"tasks\": [{\"name\": \"click\", \"label\": \"click\"}]}");
        (code, _, error) = Run("train", "--experiment", twice, "--out", files.Path_("t"));
        Assert.AreEqual(2, code);
        StringAssert.Contains(error, "declared in both the experiment and its schema");
    }

    [TestMethod]
    public void ADeclaredChainDropsOrRefusesInconsistentRowsAndAMissingLabelIsNoLabel()
    {
        using var files = new TestFiles();
        string data = files.Write("d.csv", "user,item,click,cart,stars\nu1,i1,1,1,4\nu2,i2,0,1,\nu3,i3,1,,\nu4,i4,1,0,9\n");
        var schema = new DatasetSchema
        {
            User = "user", Item = "item",
            Tasks = [new() { Name = "click", Label = "click" }, new() { Name = "cart", Label = "cart", Given = "click" },
                new() { Name = "stars", Label = "stars", Kind = TaskKind.Regression, Min = 1, Max = 5, Given = "cart" }],
        };
        var e = Assert.Throws<DataFormatException>(() => DataLoader.Load(schema, data));
        StringAssert.Contains(e.Message, "d.csv:5:11"); // line 5, the character where the stars field starts
        StringAssert.Contains(e.Message, "stars 9 is outside the declared range [1, 5]");
        data = files.Write("d2.csv", "user,item,click,cart,stars\nu1,i1,1,1,4\nu2,i2,0,1,\nu3,i3,1,,\nu4,i4,1,0,2\n");
        var table = DataLoader.Load(schema, data);
        Assert.AreEqual(1, table.Report.InconsistentDropped, "a cart without a click is dropped");
        CollectionAssert.AreEqual(new[] { 1f, float.NaN, 0f }, table.GetNumbers("cart"), "an empty label is no label");
        schema.OnInconsistent = InconsistentRowPolicy.Fail;
        StringAssert.Contains(Assert.Throws<DataFormatException>(() => DataLoader.Load(schema, data)).Message, "cart is 1 where click is 0 (a cart must follow a click)");
    }

    [TestMethod]
    public void PredictionEnginesBindFloatPropertiesForDeclaredTasks()
    {
        var (train, _, tasks, featurization, firstTest) = Funnel.Value;
        var ml = new MLContext(seed: 1);
        var multiTask = ml.MultiTask().Trainers.FromOptions(Small(MultiTaskArchitecture.SharedBottom, [.. tasks])).Fit(train);
        var pipeline = new TransformerChain<ITransformer>(featurization, multiTask);
        using var files = new TestFiles();
        ml.Model.Save(pipeline, null, files.Path_("m.zip"));
        var fresh = ScalarPredictions.Register(new MLContext());
        var loaded = fresh.Model.Load(files.Path_("m.zip"), out _);
        // The tutorial idiom: raw features in, float properties out, on the model loaded in a fresh context.
        var engine = fresh.Model.CreatePredictionEngine<QuickStartTests.ImpressionRow, FunnelPrediction>(loaded);
        var row = engine.Predict(QuickStartTests.ImpressionRow.FromCsv(firstTest));
        var direct = ml.Model.CreatePredictionEngine<QuickStartTests.ImpressionRow, FunnelPrediction>(pipeline).Predict(QuickStartTests.ImpressionRow.FromCsv(firstTest));
        Assert.AreEqual(direct.P_purchase, row.P_purchase, 1e-7f, "the loaded model predicts what the trained one does");
        Assert.IsTrue(row.P_click is > 0 and < 1 && row.P_favourite is > 0 and < 1 && row.Pred_rating is >= 1 and <= 5);
        Assert.AreEqual(row.P_click * row.P_cart_given_click, row.P_cart, 1e-6f);
        Assert.IsTrue(row.P_purchase > 0 && row.P_purchase < row.P_cart);
    }

#pragma warning disable IDE1006 // the properties carry the columns' names
    private sealed class FunnelPrediction
    {
        public float P_click { get; set; }
        public float P_cart_given_click { get; set; }
        public float P_cart { get; set; }
        public float P_purchase { get; set; }
        public float Pred_rating { get; set; }
        public float P_favourite { get; set; }
    }
#pragma warning restore IDE1006
}
