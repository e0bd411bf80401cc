using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Hosting;
using Recommender.Pipeline.Lifecycle;
using Recommender.Pipeline.Scoring;
using Recommender.Pipeline.Serving;
using Recommender.Trainers.Runtime;

namespace Recommender.Tests.Pipeline;

/// <summary>The service in process (WebApplicationFactory over the same host builder <c>serve</c> uses).</summary>
internal sealed class ServiceFactory(ServingOptions options) : WebApplicationFactory<ServingApp>
{
    protected override IHostBuilder CreateHostBuilder() => ServingApp.CreateHostBuilder(options)
        .ConfigureWebHost(w => w.UseSetting("TEST_CONTENTROOT_RECOMMENDER_PIPELINE", AppContext.BaseDirectory));
}

[TestClass]
public sealed class ServingTests
{
    private static readonly Lazy<(string Root, string Data, string Registry, string Version)> Fixture = new(() =>
    {
        string root = Path.Combine(Path.GetTempPath(), "rec-tests-serving-" + Environment.ProcessId);
        var (data, version, _) = TinyBundle.Train(root, 20_000, 11);
        return (root, data, Path.GetDirectoryName(version)!, version);
    });

    [ClassCleanup]
    public static void Cleanup()
    {
        if (Fixture.IsValueCreated) try { Directory.Delete(Fixture.Value.Root, true); } catch (IOException) { }
    }

    private static ServingOptions Options(string? log = null, string? model = null, int maxConcurrent = ServingOptions.Defaults.MaxConcurrentRequests, string? token = null) => new()
    {
        Model = model ?? Fixture.Value.Registry, LogPath = log, Threads = 1, Device = ExecutionDevice.Cpu, MaxConcurrentRequests = maxConcurrent, AdminToken = token,
        ReloadIntervalMilliseconds = 50,
    };

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    // Rows of a data file as /v1/score JSON: categorical values as strings, dense values as the file's own number text.
    private static (string Json, string[] Lines) RowsFrom(string file, int count, IReadOnlyCollection<string> dense, IReadOnlyCollection<string> known)
    {
        var lines = File.ReadLines(file).Take(count + 1).ToArray();
        var header = lines[0].Split(',');
        var rows = lines.Skip(1).Select(line =>
        {
            var values = line.Split(',');
            var fields = header.Select((h, i) => (h, v: values[i])).Where(x => known.Contains(x.h))
                .Select(x => dense.Contains(x.h) ? $"\"{x.h}\":{(x.v.Length == 0 ? "null" : x.v)}" : $"\"{x.h}\":\"{x.v}\"");
            return "{" + string.Join(',', fields) + "}";
        });
        return ("{\"rows\":[" + string.Join(',', rows) + "],\"rank\":\"pctr * pcvr\"}", lines);
    }

    [TestMethod]
    public async Task PredictionsServedOverHttpEqualTheScoringJobs()
    {
        using var files = new TestFiles();
        using var factory = new ServiceFactory(Options());
        using var client = factory.CreateClient();
        var model = JsonNode.Parse(await client.GetStringAsync("/v1/model"))!;
        var columns = model["columns"]!.AsArray().Select(c => c!.GetValue<string>()).ToHashSet();
        var bundle = ModelBundle.Open(Fixture.Value.Registry);
        var dense = bundle.Metadata.Schema.Dense.ToHashSet();
        string test = Path.Combine(Fixture.Value.Data, "test.csv");
        var (json, lines) = RowsFrom(test, 200, columns.Where(c => dense.Any(d => Recommender.Pipeline.Data.DatasetSchema.Glob(d, c))).ToHashSet(), columns);
        var response = await client.PostAsync("/v1/score", Json(json));
        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode, await response.Content.ReadAsStringAsync());
        var served = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["predictions"]!.AsArray();

        string input = files.Write("rows.csv", string.Join('\n', lines) + "\n");
        var job = BatchScoringJob.Run(new ScoringOptions { Model = Fixture.Value.Registry, Input = input, Output = files.Path_("scored.csv"), Device = ExecutionDevice.Cpu, Threads = 1, Ranking = "pctr * pcvr" });
        var scored = File.ReadAllLines(job.Output);
        var header = scored[0].Split(',');
        Assert.AreEqual(200, served.Count);
        Assert.AreEqual(201, scored.Length);
        double worst = 0;
        string[] names = ["PCtr", "PCvr", "PCtcvr", "PredictedRating", "RankScore"], json_ = ["pctr", "pcvr", "pctcvr", "rating", "rank_score"];
        for (int r = 0; r < 200; r++)
        {
            var values = scored[r + 1].Split(',');
            for (int c = 0; c < names.Length; c++)
                worst = Math.Max(worst, Math.Abs(double.Parse(values[Array.IndexOf(header, names[c])], CultureInfo.InvariantCulture) - served[r]![json_[c]]!.GetValue<double>()));
        }
        Assert.IsTrue(worst <= 1e-6, $"largest difference {worst}");
    }

    [TestMethod]
    public async Task AModelOfDeclaredTasksServesEveryPredictionByName()
    {
        using var files = new TestFiles();
        var (data, version, _) = TinyBundle.Train(files.Root, 6_000, 12, Recommender.Trainers.Training.MultiTaskArchitecture.Esmm, funnel: true);
        using var factory = new ServiceFactory(Options(model: Path.GetDirectoryName(version)));
        using var client = factory.CreateClient();
        var model = JsonNode.Parse(await client.GetStringAsync("/v1/model"))!;
        CollectionAssert.AreEqual(new[] { "P_click", "P_cart_given_click", "P_cart", "P_purchase_given_cart", "P_purchase", "Pred_rating", "P_favourite" },
            model["predictions"]!.AsArray().Select(p => p!.GetValue<string>()).ToArray());
        var line = File.ReadLines(Path.Combine(data, "test.csv")).Skip(1).First().Split(',');
        var response = await client.PostAsync("/v1/score", Json($"{{\"rows\":[{{\"user_id\":\"{line[0]}\",\"item_id\":\"{line[6]}\"}}],\"rank\":\"P_purchase * 1000\"}}"));
        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode, await response.Content.ReadAsStringAsync());
        var row = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["predictions"]![0]!;
        var predictions = row["predictions"]!;
        Assert.AreEqual(predictions["P_click"]!.GetValue<double>() * predictions["P_cart_given_click"]!.GetValue<double>() * predictions["P_purchase_given_cart"]!.GetValue<double>(),
            predictions["P_purchase"]!.GetValue<double>(), 1e-7);
        Assert.AreEqual(predictions["P_purchase"]!.GetValue<double>() * 1000, row["rank_score"]!.GetValue<double>(), 1e-3, "the float as JSON writes it, times 1000");
        Assert.IsNull(row["pctr"], "no default chain, no pctr");
        var recommended = await client.PostAsync("/v1/recommend", Json($"{{\"user\":\"{line[0]}\",\"k\":3}}"));
        Assert.AreEqual(HttpStatusCode.OK, recommended.StatusCode, await recommended.Content.ReadAsStringAsync());
        var items = JsonNode.Parse(await recommended.Content.ReadAsStringAsync())!["items"]!.AsArray();
        Assert.IsTrue(items.Count > 0);
        // Without a formula, recommend ranks by the entire-space probability at the end of the chain.
        foreach (var item in items) Assert.AreEqual(item!["predictions"]!["P_purchase"]!.GetValue<double>(), item["rank_score"]!.GetValue<double>(), 1e-7);
        var bad = await client.PostAsync("/v1/score", Json($"{{\"rows\":[{{\"user_id\":\"{line[0]}\",\"item_id\":\"{line[6]}\"}}],\"rank\":\"pctr\"}}"));
        Assert.AreEqual(HttpStatusCode.BadRequest, bad.StatusCode, "pctr names no prediction of this model");
    }

    [TestMethod]
    public async Task HistoriesAreServedAsTheFilesHoldThemAndScoreAsTheScoringJob()
    {
        using var files = new TestFiles();
        var (data, version, _) = TinyBundle.Train(files.Root, 12_000, 13, history: 5);
        using var factory = new ServiceFactory(Options(model: Path.GetDirectoryName(version)));
        using var client = factory.CreateClient();
        var model = JsonNode.Parse(await client.GetStringAsync("/v1/model"))!;
        var columns = model["columns"]!.AsArray().Select(c => c!.GetValue<string>()).ToHashSet();
        Assert.IsTrue(columns.Contains("recent_items") && columns.Contains("recent_categories") && !columns.Contains("recent_items#0"), string.Join(", ", columns));
        var dense = ModelBundle.Open(version).Metadata.Schema.Dense.ToHashSet();
        string test = Path.Combine(data, "test.csv");
        var (json, lines) = RowsFrom(test, 100, dense, columns);
        Assert.IsTrue(json.Contains("\"recent_items\":\"") && lines.Skip(1).Count(l => !l.EndsWith(",,")) > 20, "rows with histories");
        var response = await client.PostAsync("/v1/score", Json(json));
        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode, await response.Content.ReadAsStringAsync());
        var served = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["predictions"]!.AsArray();
        var job = BatchScoringJob.Run(new ScoringOptions { Model = version, Input = files.Write("rows.csv", string.Join('\n', lines) + "\n"), Output = files.Path_("scored.csv"),
            Device = ExecutionDevice.Cpu, Threads = 1, Ranking = "pctr * pcvr" });
        var scored = File.ReadAllLines(job.Output);
        int pctr = Array.IndexOf(scored[0].Split(','), "PCtr");
        for (int r = 0; r < 100; r++)
            Assert.AreEqual(double.Parse(scored[r + 1].Split(',')[pctr], CultureInfo.InvariantCulture), served[r]!["pctr"]!.GetValue<double>(), 1e-6, $"row {r}");

        // The same history as a JSON array (oldest first) scores the same; a history of the wrong kind is the request's error.
        var header = lines[0].Split(',');
        var withHistory = lines.Skip(1).Select(l => l.Split(',')).First(f => f[Array.IndexOf(header, "recent_items")].Contains('|'));
        string user = withHistory[Array.IndexOf(header, "user_id")], item = withHistory[Array.IndexOf(header, "item_id")], items = withHistory[Array.IndexOf(header, "recent_items")];
        async Task<double> Score(string history) => JsonNode.Parse(await (await client.PostAsync("/v1/score",
            Json($"{{\"rows\":[{{\"user_id\":\"{user}\",\"item_id\":\"{item}\",\"recent_items\":{history}}}]}}"))).Content.ReadAsStringAsync())!["predictions"]![0]!["pctr"]!.GetValue<double>();
        double asText = await Score($"\"{items}\"");
        Assert.AreEqual(asText, await Score("[" + string.Join(',', items.Split('|').Select(i => $"\"{i}\"")) + "]"), 0);
        Assert.AreNotEqual(asText, await Score("null"), "the history is used");
        var bad = await client.PostAsync("/v1/score", Json($"{{\"rows\":[{{\"user_id\":\"{user}\",\"item_id\":\"{item}\",\"recent_items\":{{}}}}]}}"));
        Assert.AreEqual(HttpStatusCode.BadRequest, bad.StatusCode);
        StringAssert.Contains(await bad.Content.ReadAsStringAsync(), "rows[0].recent_items");
    }

    [TestMethod]
    public async Task EveryEndpointAnswers()
    {
        using var factory = new ServiceFactory(Options());
        using var client = factory.CreateClient();
        Assert.AreEqual("ok", await client.GetStringAsync("/healthz"));
        Assert.AreEqual("ready", await client.GetStringAsync("/readyz"));
        var model = JsonNode.Parse(await client.GetStringAsync("/v1/model"))!;
        Assert.AreEqual(Path.GetFileName(Fixture.Value.Version), model["version"]!.GetValue<string>());
        Assert.AreEqual("SharedBottom", model["architecture"]!.GetValue<string>());
        StringAssert.Contains(await client.GetStringAsync("/"), "<h1>Recommender service</h1>");
        var openApi = JsonNode.Parse(await client.GetStringAsync("/openapi/v1.json"))!;
        foreach (var path in new[] { "/v1/score", "/v1/recommend", "/v1/feedback", "/v1/model" }) Assert.IsNotNull(openApi["paths"]![path], path);
        var user = File.ReadLines(Path.Combine(Fixture.Value.Data, "train.csv")).Skip(1).First().Split(',')[0];
        var recommended = await client.PostAsync("/v1/recommend", Json($"{{\"user\":\"{user}\",\"k\":3}}"));
        Assert.AreEqual(HttpStatusCode.OK, recommended.StatusCode);
        string metrics = await client.GetStringAsync("/metrics");
        StringAssert.Contains(metrics, "recommender_requests_total{endpoint=\"/v1/recommend\",code=\"200\"} 1");
        StringAssert.Contains(metrics, $"recommender_model_info{{version=\"{model["version"]}\"}} 1");
        StringAssert.Contains(metrics, "recommender_batch_rows_count 1");
        var status = JsonNode.Parse(await client.GetStringAsync("/v1/status"))!;
        Assert.IsNotNull(status["endpoints"]!["/v1/recommend"]);
    }

    [TestMethod]
    public async Task RecommendationsAreRankedFreshAndLogged()
    {
        using var files = new TestFiles();
        string log = files.Path_("events.sqlite");
        using var factory = new ServiceFactory(Options(log));
        using var client = factory.CreateClient();
        var catalog = CandidateCatalog.Load(Path.Combine(Fixture.Value.Version, CandidateCatalog.FileName));
        string user = catalog.Users[0];
        var seen = catalog.Seen[0].Select(i => catalog.Items[i]).ToHashSet();
        var body = JsonNode.Parse(await (await client.PostAsync("/v1/recommend", Json($"{{\"user\":\"{user}\",\"k\":5}}"))).Content.ReadAsStringAsync())!;
        var items = body["items"]!.AsArray();
        Assert.AreEqual(5, items.Count);
        var scores = items.Select(i => i!["rank_score"]!.GetValue<double>()).ToArray();
        CollectionAssert.AreEqual(scores.OrderByDescending(s => s).ToArray(), scores);
        CollectionAssert.AreEqual(new[] { 1, 2, 3, 4, 5 }, items.Select(i => i!["position"]!.GetValue<int>()).ToArray());
        foreach (var i in items)
        {
            Assert.IsFalse(seen.Contains(i!["item"]!.GetValue<string>()), "items seen in training are not retrieved");
            Assert.AreEqual(i["pctr"]!.GetValue<double>() * i["pcvr"]!.GetValue<double>(), i["rank_score"]!.GetValue<double>(), 1e-6);
        }
        // Given candidates: only those, less the excluded, k larger than what is left.
        var candidates = catalog.Items.Take(4).ToArray();
        body = JsonNode.Parse(await (await client.PostAsync("/v1/recommend", Json(JsonSerializer.Serialize(new { user, k = 10, candidates, exclude = new[] { candidates[0] } })))).Content.ReadAsStringAsync())!;
        CollectionAssert.AreEquivalent(candidates[1..], body["items"]!.AsArray().Select(i => i!["item"]!.GetValue<string>()).ToArray());

        // Every shown item is in the log with its position, version and propensity.
        using var connection = ImpressionLog.Open(log);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, position, model_version, propensity, user FROM impressions WHERE endpoint = 'recommend' ORDER BY ts, position";
        using var reader = command.ExecuteReader();
        var logged = new List<(string Id, long Position)>();
        while (reader.Read())
        {
            logged.Add((reader.GetString(0), reader.GetInt64(1)));
            Assert.AreEqual(Path.GetFileName(Fixture.Value.Version), reader.GetString(2));
            Assert.AreEqual(1.0, reader.GetDouble(3));
            Assert.AreEqual(user, reader.GetString(4));
        }
        Assert.AreEqual(8, logged.Count);
        CollectionAssert.IsSubsetOf(items.Select(i => i!["impression_id"]!.GetValue<string>()).ToList(), logged.Select(l => l.Id).ToList());
    }

    [TestMethod]
    public async Task FeedbackIsIdempotentPerImpressionAndEvent()
    {
        using var files = new TestFiles();
        using var factory = new ServiceFactory(Options(files.Path_("events.sqlite")));
        using var client = factory.CreateClient();
        var catalog = CandidateCatalog.Load(Path.Combine(Fixture.Value.Version, CandidateCatalog.FileName));
        var body = JsonNode.Parse(await (await client.PostAsync("/v1/recommend", Json($"{{\"user\":\"{catalog.Users[1]}\",\"k\":2}}"))).Content.ReadAsStringAsync())!;
        string id = body["items"]![0]!["impression_id"]!.GetValue<string>();
        async Task<(HttpStatusCode, JsonNode)> Send(string json)
        {
            var r = await client.PostAsync("/v1/feedback", Json(json));
            return (r.StatusCode, JsonNode.Parse(await r.Content.ReadAsStringAsync())!);
        }
        var (code, answer) = await Send($"{{\"impression_id\":\"{id}\",\"event\":\"click\"}}");
        Assert.AreEqual(HttpStatusCode.OK, code);
        Assert.AreEqual("accepted", answer["status"]!.GetValue<string>());
        (code, answer) = await Send($"{{\"impression_id\":\"{id}\",\"event\":\"click\",\"ts\":\"2026-11-30T00:00:00Z\"}}");
        Assert.AreEqual("duplicate", answer["status"]!.GetValue<string>());
        (code, answer) = await Send($"{{\"impression_id\":\"{id}\",\"event\":\"conversion\"}}");
        Assert.AreEqual("accepted", answer["status"]!.GetValue<string>());
        (code, answer) = await Send("{\"impression_id\":\"imp_000\",\"event\":\"click\"}");
        Assert.AreEqual(HttpStatusCode.NotFound, code);
        Assert.AreEqual("impression_id", answer["field"]!.GetValue<string>());
        string metrics = await client.GetStringAsync("/metrics");
        StringAssert.Contains(metrics, "recommender_feedback_events_total{event=\"click\",result=\"duplicate\"} 1");

        // The export: one row per impression, labelled by its feedback, the features it was scored with.
        var schema = ModelBundle.Open(Fixture.Value.Registry).Metadata.Schema;
        var export = LogExport.Run(files.Path_("events.sqlite"), schema, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddMinutes(1), TimeSpan.FromHours(24), files.Path_("export"));
        Assert.AreEqual(2, export.Impressions);
        Assert.AreEqual(1, export.Clicks);
        Assert.AreEqual(1, export.Conversions);
        var lines = File.ReadAllLines(Path.Combine(files.Path_("export"), "train.csv"));
        var header = lines[0].Split(',');
        var row = lines.Skip(1).Single(l => l.Contains(id)).Split(',');
        Assert.AreEqual("1", row[Array.IndexOf(header, schema.Click!)]);
        Assert.AreEqual("1", row[Array.IndexOf(header, schema.Conversion!)]);
        Assert.AreEqual(catalog.Users[1], row[Array.IndexOf(header, schema.User!)]);
        Assert.AreEqual("1", row[Array.IndexOf(header, "shown_position")]);
        // The export reads back with its schema, labels and all.
        var table = Recommender.Pipeline.Data.DataLoader.Load(Recommender.Pipeline.Data.DatasetSchema.Load(Path.Combine(files.Path_("export"), "schema.json")), Path.Combine(files.Path_("export"), "train.csv"));
        Assert.AreEqual(2, table.RowCount);
        Assert.AreEqual(1f, table.GetNumbers(Recommender.Pipeline.Data.DatasetSchema.ClickColumn).Sum());
    }

    [TestMethod]
    public async Task BadRequestsAreProblemDetailsNamingTheFieldNever500()
    {
        using var files = new TestFiles();
        using var factory = new ServiceFactory(Options(files.Path_("events.sqlite"), token: "s3cret"));
        using var client = factory.CreateClient();
        string big = "{\"rows\":[" + string.Join(',', Enumerable.Repeat("{\"user_id\":\"1\",\"item_id\":\"2\"}", 1001)) + "]}";
        string huge = "{\"rows\":[{\"user_id\":\"" + new string('x', ServingOptions.Defaults.MaxBodyBytes) + "\"}]}";
        var cases = new (string Path, string Body, HttpStatusCode Status, string Field)[]
        {
            ("/v1/score", "{not json", HttpStatusCode.BadRequest, "body"),
            ("/v1/score", "[1,2]", HttpStatusCode.BadRequest, "body"),
            ("/v1/score", "{}", HttpStatusCode.BadRequest, "rows"),
            ("/v1/score", "{\"rows\":{}}", HttpStatusCode.BadRequest, "rows"),
            ("/v1/score", "{\"rows\":[]}", HttpStatusCode.BadRequest, "rows"),
            ("/v1/score", big, HttpStatusCode.BadRequest, "rows"),
            ("/v1/score", huge, HttpStatusCode.BadRequest, "body"),
            ("/v1/score", "{\"rows\":[{\"user_id\":\"1\",\"item_id\":\"2\",\"color\":\"red\"}]}", HttpStatusCode.BadRequest, "rows[0].color"),
            ("/v1/score", "{\"rows\":[{\"user_id\":\"1\",\"item_id\":\"2\",\"item_price\":\"cheap\"}]}", HttpStatusCode.BadRequest, "rows[0].item_price"),
            ("/v1/score", "{\"rows\":[{\"user_id\":\"1\",\"item_id\":\"2\",\"item_price\":1e400}]}", HttpStatusCode.BadRequest, "rows[0].item_price"),
            ("/v1/score", "{\"rows\":[{\"user_id\":{\"a\":1},\"item_id\":\"2\"}]}", HttpStatusCode.BadRequest, "rows[0].user_id"),
            ("/v1/score", "{\"rows\":[{\"item_id\":\"2\"}]}", HttpStatusCode.BadRequest, "rows[0].user_id"),
            ("/v1/score", "{\"rows\":[{\"user_id\":\"1\",\"item_id\":\"2\"}],\"rank\":\"pctr^1e400\"}", HttpStatusCode.BadRequest, "rank"),
            ("/v1/score", "{\"rows\":[{\"user_id\":\"1\",\"item_id\":\"2\"}],\"extra\":1}", HttpStatusCode.BadRequest, "extra"),
            ("/v1/recommend", "{\"k\":3}", HttpStatusCode.BadRequest, "user"),
            ("/v1/recommend", "{\"user\":\"1\",\"k\":0}", HttpStatusCode.BadRequest, "k"),
            ("/v1/recommend", "{\"user\":\"1\",\"k\":100000}", HttpStatusCode.BadRequest, "k"),
            ("/v1/recommend", "{\"user\":\"1\",\"k\":\"ten\"}", HttpStatusCode.BadRequest, "k"),
            ("/v1/recommend", "{\"user\":\"1\",\"candidates\":[]}", HttpStatusCode.BadRequest, "candidates"),
            ("/v1/recommend", "{\"user\":\"1\",\"candidates\":[" + string.Join(',', Enumerable.Range(0, 2001)) + "]}", HttpStatusCode.BadRequest, "candidates"),
            ("/v1/recommend", "{\"user\":\"1\",\"candidates\":[[1]]}", HttpStatusCode.BadRequest, "candidates[0]"),
            ("/v1/recommend", "{\"user\":\"no-such-user\"}", HttpStatusCode.NotFound, "user"),
            ("/v1/recommend", "{\"user\":\"1\",\"candidates\":[\"5\"],\"context\":{\"hour\":[1]}}", HttpStatusCode.BadRequest, "context.hour"),
            ("/v1/feedback", "{\"impression_id\":\"x\",\"event\":\"like\"}", HttpStatusCode.BadRequest, "event"),
            ("/v1/feedback", "{\"impression_id\":\"x\",\"event\":\"rating\"}", HttpStatusCode.BadRequest, "value"),
            ("/v1/feedback", "{\"event\":\"click\"}", HttpStatusCode.BadRequest, "impression_id"),
            ("/v1/feedback", "{\"impression_id\":\"x\",\"event\":\"click\",\"ts\":\"yesterday\"}", HttpStatusCode.BadRequest, "ts"),
            ("/admin/reload", "", HttpStatusCode.Unauthorized, "Authorization"),
        };
        foreach (var (path, body, status, field) in cases)
        {
            var response = await client.PostAsync(path, Json(body));
            string text = await response.Content.ReadAsStringAsync();
            Assert.AreEqual(status, response.StatusCode, $"{path} {body[..Math.Min(80, body.Length)]}: {text}");
            Assert.AreEqual("application/problem+json", response.Content.Headers.ContentType?.MediaType, path);
            Assert.AreEqual(field, JsonNode.Parse(text)!["field"]!.GetValue<string>(), $"{path} {body[..Math.Min(80, body.Length)]}");
        }
        // A body without a JSON content type is refused as such, with problem details too.
        var plain = await client.PostAsync("/v1/score", new StringContent("{}"));
        Assert.AreEqual(HttpStatusCode.UnsupportedMediaType, plain.StatusCode);
        // The admin token opens /admin.
        var request = new HttpRequestMessage(HttpMethod.Post, "/admin/reload");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "wrong");
        Assert.AreEqual(HttpStatusCode.Unauthorized, (await client.SendAsync(request)).StatusCode);
        request = new HttpRequestMessage(HttpMethod.Post, "/admin/reload");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "s3cret");
        var reload = await client.SendAsync(request);
        Assert.AreEqual(HttpStatusCode.OK, reload.StatusCode);
        Assert.IsFalse(JsonNode.Parse(await reload.Content.ReadAsStringAsync())!["changed"]!.GetValue<bool>());
        StringAssert.DoesNotMatch(await client.GetStringAsync("/metrics"), new System.Text.RegularExpressions.Regex("code=\"5\\d\\d\""));
    }

    // A request body that is written only when the test says so: the request is in flight until then.
    private sealed class HeldContent(string json, Task release) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            await stream.WriteAsync(Encoding.UTF8.GetBytes(json[..5]));
            await stream.FlushAsync();
            await release;
            await stream.WriteAsync(Encoding.UTF8.GetBytes(json[5..]));
        }

        protected override bool TryComputeLength(out long length) { length = -1; return false; }
    }

    // Kestrel on loopback (the test server buffers request bodies, Kestrel streams them), a client for it, and a
    // one-row score request whose body is held half-sent until the returned source is set.
    private static async Task<(Microsoft.Extensions.Hosting.IHost Host, HttpClient Client, Task<HttpResponseMessage> Held, TaskCompletionSource Release)> StartWithAHeldRequest(ServingOptions options)
    {
        var host = ServingApp.CreateHostBuilder(options, "http://127.0.0.1:0").Build();
        await host.StartAsync();
        var client = new HttpClient { BaseAddress = new Uri(ServingApp.Addresses(host).Single()), Timeout = TimeSpan.FromSeconds(60) };
        var release = new TaskCompletionSource();
        var held = new HeldContent("{\"rows\":[{\"user_id\":\"1\",\"item_id\":\"2\"}]}", release.Task);
        held.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        return (host, client, client.PostAsync("/v1/score", held), release);
    }

    [TestMethod]
    public async Task WorkBeyondTheConcurrencyCapIsAnswered429()
    {
        // The first request stays in flight, its body half sent, while the second arrives.
        var (host, client, first, release) = await StartWithAHeldRequest(Options(maxConcurrent: 1));
        using var disposeHost = host;
        using var disposeClient = client;
        try
        {
            var metrics = (ServingMetrics)host.Services.GetService(typeof(ServingMetrics))!;
            for (int i = 0; i < 2000 && metrics.InFlight.Value < 1; i++) await Task.Delay(5);
            Assert.AreEqual(1, metrics.InFlight.Value, "the first request is in flight");
            var second = await client.PostAsync("/v1/score", Json("{\"rows\":[{\"user_id\":\"1\",\"item_id\":\"2\"}]}"));
            Assert.AreEqual((HttpStatusCode)429, second.StatusCode);
            Assert.AreEqual("application/problem+json", second.Content.Headers.ContentType?.MediaType);
            release.SetResult();
            Assert.AreEqual(HttpStatusCode.OK, (await first).StatusCode);
            Assert.AreEqual(HttpStatusCode.OK, (await client.PostAsync("/v1/score", Json("{\"rows\":[{\"user_id\":\"1\",\"item_id\":\"2\"}]}"))).StatusCode);
        }
        finally { await host.StopAsync(); }
    }

    [TestMethod]
    public async Task ARequestOverTheTimeoutIsAnswered504WithProblemDetails()
    {
        // The body is held back past the timeout, so the request surely outlives it.
        var options = new ServingOptions { Model = Fixture.Value.Registry, Threads = 1, Device = ExecutionDevice.Cpu, RequestTimeoutSeconds = 0.2 };
        var (host, client, slow, release) = await StartWithAHeldRequest(options);
        using var disposeHost = host;
        using var disposeClient = client;
        try
        {
            // The service gives up on its own: its 504 is counted while the client is still holding the body.
            var metrics = (ServingMetrics)host.Services.GetService(typeof(ServingMetrics))!;
            for (int i = 0; i < 600 && metrics.Requests.WithLabels("/v1/score", "504").Value < 1; i++) await Task.Delay(50);
            Assert.AreEqual(1.0, metrics.Requests.WithLabels("/v1/score", "504").Value, "the timeout answered the request");
            release.SetResult();
            var response = await slow;
            Assert.AreEqual(HttpStatusCode.GatewayTimeout, response.StatusCode);
            Assert.AreEqual("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
        finally { await host.StopAsync(); }
    }

    [TestMethod]
    public async Task HotReloadUnderConcurrentLoadFailsNoRequestAndABrokenVersionKeepsTheOldOne()
    {
        using var files = new TestFiles();
        // A registry of its own, with v1 a copy of the fixture's bundle.
        string registry = files.Path_("reg");
        void Publish()
        {
            using var publisher = BundlePublisher.Begin(registry);
            foreach (var f in Directory.EnumerateFiles(Fixture.Value.Version).Where(f => Path.GetFileName(f) != BundleManifest.FileName))
                File.Copy(f, Path.Combine(publisher.Staging, Path.GetFileName(f)));
            publisher.Publish(new(), new());
        }
        Publish();
        using var factory = new ServiceFactory(Options(model: registry));
        using var client = factory.CreateClient();
        var host = (ModelHost)factory.Services.GetService(typeof(ModelHost))!;
        string row = "{\"rows\":[{\"user_id\":\"1\",\"item_id\":\"2\"},{\"user_id\":\"3\",\"item_id\":\"4\"}]}";
        var statuses = new System.Collections.Concurrent.ConcurrentBag<(HttpStatusCode, string)>();
        using var stop = new CancellationTokenSource();
        var clients = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            for (int n = 0; n < 5000 && !stop.IsCancellationRequested; n++)
            {
                var r = await client.PostAsync("/v1/score", Json(row));
                string version = r.IsSuccessStatusCode ? JsonNode.Parse(await r.Content.ReadAsStringAsync())!["model_version"]!.GetValue<string>() : "";
                statuses.Add((r.StatusCode, version));
            }
        })).ToArray();
        async Task WaitFor(Func<bool> condition)
        {
            for (int i = 0; i < 1200 && !condition(); i++) await Task.Delay(25);
            Assert.IsTrue(condition());
        }
        await WaitFor(() => statuses.Count > 200);
        Publish();                                                  // v2: swapped in while the clients keep going
        await WaitFor(() => host.Current.Version == "v2");
        int atSwap = statuses.Count;
        await WaitFor(() => statuses.Count > atSwap + 200);
        // v3 is broken (a copy of v2 whose network grew a byte, as bit rot would do) and current points at it: it
        // fails verification, v2 keeps serving. (models promote would refuse it; the pointer is written directly.)
        string v3 = Path.Combine(registry, "v3");
        Directory.CreateDirectory(v3);
        foreach (var f in Directory.EnumerateFiles(Path.Combine(registry, "v2"))) File.Copy(f, Path.Combine(v3, Path.GetFileName(f)));
        File.AppendAllText(Path.Combine(v3, ModelBundle.OnnxFile), "x");
        Recommender.Trainers.AtomicFile.WriteAllText(Path.Combine(registry, ModelRegistry.CurrentFile), "v3\n");
        await WaitFor(() => host.LastError is not null);
        int atFailure = statuses.Count;
        await WaitFor(() => statuses.Count > atFailure + 100);
        stop.Cancel();
        await Task.WhenAll(clients);
        Assert.AreEqual(0, statuses.Count(s => s.Item1 != HttpStatusCode.OK), "every request during the swaps answered 200");
        Assert.IsTrue(statuses.Any(s => s.Item2 == "v1") && statuses.Any(s => s.Item2 == "v2"));
        Assert.IsFalse(statuses.Any(s => s.Item2 == "v3"));
        Assert.AreEqual("v2", host.Current.Version);
        StringAssert.Contains(host.LastError!, "model.onnx");
        string metrics = await client.GetStringAsync("/metrics");
        StringAssert.Contains(metrics, "recommender_model_reload_failures_total 1");
        StringAssert.Contains(metrics, "recommender_model_reloads_total 1");
        StringAssert.Contains(metrics, "recommender_model_info{version=\"v2\"} 1");
    }
}

/// <summary><c>serve</c> as its own process on loopback: a real Kestrel, killed while the log writes.</summary>
[TestClass]
public sealed class ServeProcessTests
{
    [TestMethod]
    public async Task AKillDuringLogWritesLosesNothingAcknowledged()
    {
        using var files = new TestFiles();
        var (_, version, _) = TinyBundle.Train(files.Root, 8_000, 13);
        string registry = Path.GetDirectoryName(version)!, log = files.Path_("events.sqlite");
        var catalog = CandidateCatalog.Load(Path.Combine(version, CandidateCatalog.FileName));
        // The 12th commit of the log dies inside its transaction (SIGKILL), as a crash would.
        using var process = ChildProcess.Start(["serve", "--registry", registry, "--urls", "http://127.0.0.1:0", "--log", log, "--threads", "1", "--device", "cpu", "--no-spinning", "--duration-s", "120"],
            fault: "log.before-commit#12");
        string? address = null;
        for (string? line = await process.StandardOutput.ReadLineAsync(); line is not null && address is null; line = address is null ? await process.StandardOutput.ReadLineAsync() : null)
            if (line.StartsWith("listening on ")) address = line.Split(' ')[2];
        Assert.IsNotNull(address, "the service started");
        using var client = new HttpClient { BaseAddress = new Uri(address), Timeout = TimeSpan.FromSeconds(30) };
        Assert.AreEqual("ready", await client.GetStringAsync("/readyz"));
        var acknowledged = new List<string>();
        for (int n = 0; n < 40; n++)
        {
            try
            {
                var r = await client.PostAsync("/v1/recommend", new StringContent($"{{\"user\":\"{catalog.Users[n % catalog.Users.Count]}\",\"k\":3}}", Encoding.UTF8, "application/json"));
                if (!r.IsSuccessStatusCode) break;
                acknowledged.AddRange(JsonNode.Parse(await r.Content.ReadAsStringAsync())!["items"]!.AsArray().Select(i => i!["impression_id"]!.GetValue<string>()));
            }
            catch (HttpRequestException) { break; }
        }
        Assert.IsTrue(process.WaitForExit(TimeSpan.FromSeconds(30)));
        Assert.AreEqual(137, process.ExitCode, "killed by the fault");
        Assert.AreEqual(11 * 3, acknowledged.Count, "11 requests were answered before the kill");
        using var connection = ImpressionLog.Open(log);
        using var check = connection.CreateCommand();
        check.CommandText = "PRAGMA integrity_check";
        Assert.AreEqual("ok", check.ExecuteScalar());
        check.CommandText = "SELECT id FROM impressions";
        var stored = new HashSet<string>();
        using (var reader = check.ExecuteReader()) while (reader.Read()) stored.Add(reader.GetString(0));
        CollectionAssert.IsSubsetOf(acknowledged, stored.ToList(), "every acknowledged impression survived");
        Assert.AreEqual(acknowledged.Count, stored.Count, "the transaction cut short left nothing");
    }
}

/// <summary>Exploration in the service, and off-policy estimates from its log against the truth.</summary>
[TestClass]
public sealed class OffPolicyServingTests
{
    [TestMethod]
    public async Task AnOffPolicyEstimateFromAnExploringLogMatchesTheTargetPolicysTrueClickRate()
    {
        // The world: a user clicks the model's favourite candidate (highest pCTR) with probability 0.6 and any other with
        // 0.1, so the greedy policy's true click rate is 0.6 exactly. The logger explores (epsilon 0.5 over 20
        // candidates, top 1); its own click rate is about 0.36. Everything is seeded and sent in order, so the run is the
        // same every time.
        using var files = new TestFiles();
        var (_, version, _) = TinyBundle.Train(files.Root, 20_000, 17);
        string log = files.Path_("events.sqlite");
        var options = new ServingOptions
        {
            Model = Path.GetDirectoryName(version)!, LogPath = log, Threads = 1, Device = ExecutionDevice.Cpu, Policy = ExplorationPolicy.Parse("epsilon:0.5"), PolicySeed = 5,
        };
        var catalog = CandidateCatalog.Load(Path.Combine(version, CandidateCatalog.FileName));
        var random = new Random(9);
        double truth = 0;
        const int requests = 6000;
        using (var factory = new ServiceFactory(options))
        using (var client = factory.CreateClient())
        {
            for (int n = 0; n < requests; n++)
            {
                var candidates = Enumerable.Range(0, 20).Select(_ => catalog.Items[random.Next(catalog.Items.Count)]).Distinct().ToArray();
                string body = JsonSerializer.Serialize(new { user = catalog.Users[random.Next(catalog.Users.Count)], k = 1, candidates, rank = "pctr" });
                var shown = JsonNode.Parse(await (await client.PostAsync("/v1/recommend", new StringContent(body, Encoding.UTF8, "application/json"))).Content.ReadAsStringAsync())!["items"]![0]!;
                // The favourite: the first of the full greedy ranking (the same model scores it whatever the policy).
                var all = JsonNode.Parse(await (await client.PostAsync("/v1/recommend", new StringContent(JsonSerializer.Serialize(new { user = JsonNode.Parse(body)!["user"]!.GetValue<string>(), k = candidates.Length, candidates, rank = "pctr" }), Encoding.UTF8, "application/json"))).Content.ReadAsStringAsync())!["items"]!.AsArray();
                bool favourite = all.OrderByDescending(i => i!["pctr"]!.GetValue<double>()).ThenBy(i => i!["item"]!.GetValue<string>(), StringComparer.Ordinal).First()!["item"]!.GetValue<string>() == shown["item"]!.GetValue<string>();
                truth += 0.6;
                if (random.NextDouble() < (favourite ? 0.6 : 0.1))
                    await client.PostAsync("/v1/feedback", new StringContent($"{{\"impression_id\":\"{shown["impression_id"]}\",\"event\":\"click\"}}", Encoding.UTF8, "application/json"));
            }
        }
        truth /= requests;
        // The second request of each pair (k = all candidates) is logged too; evaluate on the exploring ones only.
        using (var connection = ImpressionLog.Open(log))
        using (var prune = connection.CreateCommand())
        {
            prune.CommandText = "DELETE FROM impressions WHERE request_id IN (SELECT id FROM requests WHERE k > 1); DELETE FROM requests WHERE k > 1;";
            prune.ExecuteNonQuery();
        }
        using var model = ServedModel.Load(version, new ServingOptions { Model = version, Threads = 1, Device = ExecutionDevice.Cpu, MicroBatching = false });
        var report = PolicyEvaluation.Run(log, model, ExplorationPolicy.Greedy, "pctr", PolicyReward.Click, null, bootstrap: 300, seed: 2);
        Assert.AreEqual(requests, report.Decisions);
        // The logger's own click rate is well below greedy's: the estimate has something to find.
        Assert.IsTrue(report.LoggedMean < 0.9 * truth, $"logged {report.LoggedMean:F4}, greedy truth {truth:F4}");
        foreach (var (name, e) in new[] { ("IPS", report.Ips), ("SNIPS", report.SelfNormalizedIps), ("DR", report.DoublyRobust) })
        {
            Assert.IsTrue(Math.Abs(e.Value - truth) <= 0.1 * truth, $"{name} {e.Value:F4} vs truth {truth:F4}");
            // The tolerance is the interval's own scale: the bootstrap interval is narrower than ±10% and holds the truth.
            Assert.IsTrue(e.High - e.Low < 0.2 * truth && e.Low <= truth && truth <= e.High, $"{name} interval [{e.Low:F4}, {e.High:F4}] vs truth {truth:F4}");
        }
        Assert.IsTrue(report.EffectiveSampleSize > 2000, $"ESS {report.EffectiveSampleSize:F0}");
    }
}
