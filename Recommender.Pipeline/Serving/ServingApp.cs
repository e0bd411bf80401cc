using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Timeouts;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Prometheus;
using Recommender.Pipeline.Scoring;

namespace Recommender.Pipeline.Serving;

/// <summary>
/// The recommendation service: ASP.NET Core minimal APIs over a <see cref="ModelHost"/>, a <see cref="MicroBatcher"/>
/// per model version and an <see cref="ImpressionLog"/>. <see cref="CreateHostBuilder"/> builds it for Kestrel
/// (<c>serve</c>) and for the tests' <c>WebApplicationFactory</c> alike.
/// </summary>
public sealed class ServingApp
{
    private ServingApp() { }

    /// <summary>The JSON the service writes.</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>A host for the service; <paramref name="urls"/> are Kestrel's addresses (loopback by default).</summary>
    public static IHostBuilder CreateHostBuilder(ServingOptions options, string urls = "http://127.0.0.1:8080")
    {
        options.Validate();
        return new HostBuilder()
            .ConfigureLogging(l => l.AddSimpleConsole(c => { c.SingleLine = true; c.TimestampFormat = "HH:mm:ss "; }).SetMinimumLevel(LogLevel.Information)
                .AddFilter("Microsoft.AspNetCore", LogLevel.Warning).AddFilter("Microsoft.Hosting", LogLevel.Warning))
            .ConfigureWebHost(web => web
                .UseKestrel(k =>
                {
                    k.Limits.MaxRequestBodySize = options.MaxBodyBytes;
                    k.AddServerHeader = false;
                })
                .UseUrls(urls)
                .ConfigureServices(services =>
                {
                    services.AddSingleton(options);
                    services.AddSingleton<ServingMetrics>();
                    services.AddSingleton(sp => new ModelHost(options, sp.GetRequiredService<ServingMetrics>(), sp.GetRequiredService<ILoggerFactory>().CreateLogger("serve")));
                    if (options.LogPath is { } log) services.AddSingleton(_ => new ImpressionLog(log));
                    services.AddRouting();
                    services.AddProblemDetails();
                    services.AddOpenApi();
                    services.AddRequestTimeouts(t => t.DefaultPolicy = new RequestTimeoutPolicy
                    {
                        Timeout = TimeSpan.FromSeconds(options.RequestTimeoutSeconds), TimeoutStatusCode = StatusCodes.Status504GatewayTimeout,
                    });
                })
                .Configure(app =>
                {
                    // Load and warm the model before the first request: /readyz says so from then on.
                    app.ApplicationServices.GetRequiredService<ModelHost>();
                    app.ApplicationServices.GetService<ImpressionLog>();
                    app.UseExceptionHandler();
                    app.UseStatusCodePages(); // answers without a body (415, 405, 404 of a route) get problem details too
                    app.UseRouting();
                    app.UseRequestTimeouts();
                    app.Use(Guard);
                    app.UseEndpoints(Map);
                }));
    }

    /// <summary>The addresses a started host listens on (port 0 resolved).</summary>
    public static ICollection<string> Addresses(IHost host) =>
        host.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses;

    // Counts, times and caps the work: past MaxConcurrentRequests a request is answered 429 at once.
    private static async Task Guard(HttpContext context, Func<Task> next)
    {
        var options = context.RequestServices.GetRequiredService<ServingOptions>();
        var metrics = context.RequestServices.GetRequiredService<ServingMetrics>();
        string endpoint = context.GetEndpoint()?.DisplayName is { } name && name.Contains(' ') ? name[(name.IndexOf(' ') + 1)..] : "other";
        var clock = Stopwatch.StartNew();
        bool counted = context.Request.Path.StartsWithSegments("/v1");
        if (counted && Interlocked.Increment(ref metrics.Working) > options.MaxConcurrentRequests)
        {
            Interlocked.Decrement(ref metrics.Working);
            await Problem(context, new RequestException(StatusCodes.Status429TooManyRequests, "", $"more than {options.MaxConcurrentRequests} requests at once; retry later"));
            metrics.Observe(endpoint, 429, clock.Elapsed.TotalSeconds);
            return;
        }
        metrics.InFlight.Inc();
        try
        {
            try { await next(); }
            catch (RequestException e) when (!context.Response.HasStarted) { await Problem(context, e); }
            catch (BadHttpRequestException e) when (!context.Response.HasStarted)
            {
                await Problem(context, new RequestException(StatusCodes.Status400BadRequest, "body", e.Message));
            }
            // The timeout middleware cancels RequestAborted; answered here, the 504 is what the metrics count (and a
            // problem description, as every refusal is).
            catch (OperationCanceledException) when (!context.Response.HasStarted && context.RequestAborted.IsCancellationRequested)
            {
                await Problem(context, new RequestException(StatusCodes.Status504GatewayTimeout, "", $"the request took longer than {options.RequestTimeoutSeconds} s"));
            }
        }
        finally
        {
            if (counted) Interlocked.Decrement(ref metrics.Working);
            metrics.InFlight.Dec();
            metrics.Observe(endpoint, context.Response.StatusCode, clock.Elapsed.TotalSeconds);
        }
    }

    private static Task Problem(HttpContext context, RequestException e) =>
        Results.Problem(detail: e.Message, statusCode: e.Status, title: e.Status switch
        {
            400 => "Bad request", 404 => "Not found", 409 => "Conflict", 429 => "Too many requests", 401 => "Unauthorized", 504 => "Timed out", _ => "Refused",
        }, extensions: new Dictionary<string, object?> { ["field"] = e.Field }).ExecuteAsync(context);

    private static void Map(IEndpointRouteBuilder e)
    {
        e.MapGet("/", () => Results.Content(StatusPage.Html, "text/html; charset=utf-8")).WithDisplayName("GET /").ExcludeFromDescription();
        e.MapGet("/healthz", () => Results.Text("ok")).WithDisplayName("GET /healthz");
        e.MapGet("/readyz", (ModelHost host) => host.Current is not null ? Results.Text("ready") : Results.StatusCode(503)).WithDisplayName("GET /readyz");
        e.MapMetrics("/metrics", e.ServiceProvider.GetRequiredService<ServingMetrics>().Registry).WithDisplayName("GET /metrics");
        e.MapOpenApi("/openapi/{documentName}.json");
        e.MapGet("/v1/model", Model).WithDisplayName("GET /v1/model").Produces<object>();
        e.MapGet("/v1/status", Status).WithDisplayName("GET /v1/status").ExcludeFromDescription();
        e.MapPost("/v1/score", ScoreAsync).WithDisplayName("POST /v1/score").Accepts<ScoreRequest>("application/json").Produces<ScoreResponse>().ProducesProblem(400);
        e.MapPost("/v1/recommend", RecommendAsync).WithDisplayName("POST /v1/recommend").Accepts<RecommendRequest>("application/json").Produces<RecommendResponse>().ProducesProblem(400).ProducesProblem(404);
        e.MapPost("/v1/feedback", FeedbackAsync).WithDisplayName("POST /v1/feedback").Accepts<FeedbackRequest>("application/json").Produces<FeedbackResponse>().ProducesProblem(400).ProducesProblem(404);
        e.MapPost("/admin/reload", Reload).WithDisplayName("POST /admin/reload").ExcludeFromDescription();
    }

    /// <summary>What /v1/score takes: rows keyed by the schema's column names, and an optional ranking formula.</summary>
    public sealed record ScoreRequest(JsonElement[] Rows, string? Rank);
    /// <summary>One row's predictions.</summary>
    /// <remarks>The default chain's four predictions under their short names (null for a model of declared tasks), and every prediction by column name.</remarks>
    public sealed record RowPrediction(string ImpressionId, float? Pctr, float? Pcvr, float? Pctcvr, float? Rating, double RankScore, Dictionary<string, float> Predictions);
    /// <summary>What /v1/score answers.</summary>
    public sealed record ScoreResponse(string ModelVersion, RowPrediction[] Predictions);
    /// <summary>What /v1/recommend takes.</summary>
    public sealed record RecommendRequest(string User, int K, string[]? Candidates, Dictionary<string, JsonElement>? Context, string[]? Exclude, string? Rank);
    /// <summary>One recommended item.</summary>
    public sealed record RecommendedItem(string Item, int Position, float? Pctr, float? Pcvr, float? Pctcvr, float? Rating, double RankScore, string ImpressionId, double Propensity,
        Dictionary<string, float> Predictions);
    /// <summary>What /v1/recommend answers.</summary>
    public sealed record RecommendResponse(string ModelVersion, string User, RecommendedItem[] Items);
    /// <summary>What /v1/feedback takes: <c>event</c> is click, conversion or rating (with <c>value</c>); <c>ts</c> in Unix milliseconds or ISO 8601.</summary>
    public sealed record FeedbackRequest(string ImpressionId, string Event, double? Value, JsonElement? Ts);
    /// <summary>What /v1/feedback answers: accepted, or duplicate (already recorded; nothing changed).</summary>
    public sealed record FeedbackResponse(string Status);

    private static IResult Model(ModelHost host)
    {
        var m = host.Current;
        return Results.Json(new
        {
            version = m.Version, directory = m.Bundle.Directory, created = m.Bundle.Manifest.CreatedUtc, manifestSha256 = m.Bundle.ManifestSha256,
            architecture = m.Bundle.Metadata.Architecture, tasks = m.Bundle.Metadata.ResolveTasks(), predictions = m.Outputs, columns = m.Columns.Names, schema = m.Bundle.Metadata.Schema,
            metrics = m.Bundle.Metadata.TestMetrics, catalog = m.Catalog is { } c ? new { users = c.Users.Count, items = c.Items.Count } : null,
            lastReloadError = host.LastError,
        }, Json);
    }

    private static IResult Status(ModelHost host, ServingMetrics metrics) => Results.Json(new
    {
        version = host.Current.Version,
        endpoints = metrics.Recent().ToDictionary(kv => kv.Key, kv => new { qps = kv.Value.Qps, p50Ms = kv.Value.P50, p95Ms = kv.Value.P95, p99Ms = kv.Value.P99 }),
    }, Json);

    private static IResult Reload(HttpContext context, ServingOptions options, ModelHost host)
    {
        string header = context.Request.Headers.Authorization.ToString();
        var expected = options.AdminToken is null ? null : Encoding.UTF8.GetBytes("Bearer " + options.AdminToken);
        if (expected is null || !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header), expected))
            throw new RequestException(StatusCodes.Status401Unauthorized, "Authorization", options.AdminToken is null
                ? "admin endpoints are off: start serve with an admin token" : "a valid bearer token is required");
        var (changed, version, error) = host.Reload();
        return Results.Json(new { changed, version, error }, Json);
    }

    // The body as JSON, at most MaxBodyBytes; malformed JSON or a larger body is a 400 naming the body.
    private static async Task<JsonDocument> ReadJsonAsync(HttpContext context, ServingOptions options)
    {
        if (context.Request.ContentLength > options.MaxBodyBytes)
            throw new RequestException(400, "body", $"the body is {context.Request.ContentLength:N0} bytes; at most {options.MaxBodyBytes:N0}");
        var buffer = new MemoryStream();
        var chunk = new byte[16384];
        int read;
        while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
        {
            if (buffer.Length + read > options.MaxBodyBytes) throw new RequestException(400, "body", $"the body is over {options.MaxBodyBytes:N0} bytes");
            buffer.Write(chunk, 0, read);
        }
        try
        {
            var document = JsonDocument.Parse(buffer.GetBuffer().AsMemory(0, (int)buffer.Length));
            if (document.RootElement.ValueKind != JsonValueKind.Object) throw new RequestException(400, "body", "the body must be a JSON object");
            return document;
        }
        catch (JsonException e) { throw new RequestException(400, "body", $"malformed JSON: {e.Message.Split(" Path:")[0]}"); }
    }

    private static void OnlyKnown(JsonElement body, params string[] known)
    {
        foreach (var p in body.EnumerateObject())
            if (!known.Contains(p.Name)) throw new RequestException(400, p.Name, $"{p.Name}: unknown field; expected {string.Join(", ", known)}");
    }

    private static string? OptionalString(JsonElement body, string name)
    {
        if (!body.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Number => v.GetRawText(),
            _ => throw new RequestException(400, name, $"{name} must be a string"),
        };
    }

    private static List<string>? OptionalIds(JsonElement body, string name, int max)
    {
        if (!body.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.Array) throw new RequestException(400, name, $"{name} must be an array of ids");
        if (v.GetArrayLength() > max) throw new RequestException(400, name, $"{name}: {v.GetArrayLength():N0} ids; at most {max:N0}");
        int i = 0;
        return v.EnumerateArray().Select(x => x.ValueKind switch
        {
            JsonValueKind.String => x.GetString()!,
            JsonValueKind.Number => x.GetRawText(),
            _ => throw new RequestException(400, $"{name}[{i}]", $"{name}[{i}] must be a string or number id"),
        }).Select(x => { i++; return x; }).ToList();
    }

    private static RankingFormula Formula(string? text, ServedModel model, string fallback)
    {
        try { return RankingFormula.Parse(text ?? fallback, model.Outputs, model.Columns.NumberColumns); }
        catch (FormatException e) { throw new RequestException(400, "rank", e.Message); }
    }

    private static string NewImpressionId() => NewId("imp_");

    private static float? Known(float v) => float.IsNaN(v) ? null : v;

    private static string NewId(string prefix) => prefix + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));

    private static long NowMs() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    private static async Task<IResult> ScoreAsync(HttpContext context, ServingOptions options, ModelHost host, IServiceProvider services)
    {
        using var document = await ReadJsonAsync(context, options);
        var body = document.RootElement;
        OnlyKnown(body, "rows", "rank");
        if (!body.TryGetProperty("rows", out var rows)) throw new RequestException(400, "rows", "rows: required (an array of row objects)");
        if (rows.ValueKind == JsonValueKind.Array && rows.GetArrayLength() is var n && (n == 0 || n > options.MaxRowsPerRequest))
            throw new RequestException(400, "rows", $"rows: {n:N0} rows; give 1 to {options.MaxRowsPerRequest:N0}");
        var model = host.Acquire();
        try
        {
            var chunk = model.Columns.Parse(rows, "rows");
            var formula = Formula(OptionalString(body, "rank"), model, model.DefaultScoreRanking);
            int outputs = model.Outputs.Count;
            var p = await model.Batcher.ScoreAsync(chunk).WaitAsync(context.RequestAborted);
            var result = new RowPrediction[chunk.Count];
            // Without a log there is nothing to write, so no impression rows (features as JSON) are built either.
            var log = services.GetService<ImpressionLog>();
            var impressions = log is null ? null : new Impression[chunk.Count];
            int userColumn = Array.IndexOf(model.Columns.TextColumns, Data.DatasetSchema.UserColumn), itemColumn = Array.IndexOf(model.Columns.TextColumns, Data.DatasetSchema.ItemColumn);
            long now = NowMs();
            string requestId = NewId("req_");
            for (int r = 0; r < chunk.Count; r++)
            {
                var row = p.AsSpan(r * outputs, outputs);
                double score = formula.Evaluate(row, chunk.Numbers, r);
                string id = NewImpressionId();
                var (pctr, pcvr, pctcvr, rating) = (model.DefaultChainValue(row, 0), model.DefaultChainValue(row, 1), model.DefaultChainValue(row, 2), model.DefaultChainValue(row, 3));
                result[r] = new RowPrediction(id, Known(pctr), Known(pcvr), Known(pctcvr), Known(rating), score, model.Named(row));
                if (impressions is null) continue;
                impressions[r] = new Impression(id, requestId, now, "score", userColumn < 0 ? "" : chunk.Text[userColumn][r], itemColumn < 0 ? "" : chunk.Text[itemColumn][r], 0,
                    model.Version, pctr, pcvr, pctcvr, rating, score, 1.0, "score", JsonSerializer.Serialize(model.Columns.Row(chunk, r), Json));
            }
            if (log is not null) await LogAsync(log, services, impressions!);
            return Results.Json(new ScoreResponse(model.Version, result), Json);
        }
        finally { model.Release(); }
    }

    private static async Task LogAsync(ImpressionLog log, IServiceProvider services, IReadOnlyList<Impression> impressions, RecommendationRequest? request = null)
    {
        await log.AppendAsync(impressions, request);
        services.GetRequiredService<ServingMetrics>().Impressions.Inc(impressions.Count);
    }

    private static async Task<IResult> RecommendAsync(HttpContext context, ServingOptions options, ModelHost host, IServiceProvider services)
    {
        using var document = await ReadJsonAsync(context, options);
        var body = document.RootElement;
        OnlyKnown(body, "user", "k", "candidates", "context", "exclude", "rank");
        string user = OptionalString(body, "user") is { Length: > 0 } u ? u : throw new RequestException(400, "user", "user: required (a user id)");
        int k = 10;
        if (body.TryGetProperty("k", out var kv) && kv.ValueKind != JsonValueKind.Null)
        {
            if (kv.ValueKind != JsonValueKind.Number || !kv.TryGetInt32(out k)) throw new RequestException(400, "k", "k must be an integer");
            if (k < 1 || k > options.MaxK) throw new RequestException(400, "k", $"k: {k}; give 1 to {options.MaxK}");
        }
        var given = OptionalIds(body, "candidates", options.MaxCandidates);
        if (given is { Count: 0 }) throw new RequestException(400, "candidates", "candidates: empty; omit it to retrieve candidates");
        var exclude = OptionalIds(body, "exclude", options.MaxCandidates)?.ToHashSet(StringComparer.Ordinal) ?? [];
        JsonElement? contextValues = body.TryGetProperty("context", out var cv) && cv.ValueKind != JsonValueKind.Null ? cv : null;
        var model = host.Acquire();
        try
        {
            var formula = Formula(OptionalString(body, "rank"), model, model.DefaultRecommendRanking);
            int outputs = model.Outputs.Count;
            List<string> items;
            if (given is not null) items = given.Distinct(StringComparer.Ordinal).Where(i => !exclude.Contains(i)).ToList();
            else
            {
                if (model.Retrieval is null || model.Catalog is null) throw new RequestException(409, "candidates", "this model has no retrieval stage (trained without user and item roles): give candidates");
                int index = model.UserIndex(user);
                if (index < 0) throw new RequestException(404, "user", $"user '{user}' is not in the model's catalog, so nothing can be retrieved for them: give candidates");
                int n = Math.Min(options.RetrievedCandidates, model.Catalog.Items.Count);
                var excluded = exclude.Select(model.ItemIndex).Where(i => i >= 0).ToHashSet();
                excluded.UnionWith(model.Seen(index));
                var top = model.Retrieval.Recommend([index], n, _ => excluded, threads: 1)[0];
                items = top.Items.Select(i => model.Catalog.Items[i]).ToList();
            }
            if (items.Count == 0) return Results.Json(new RecommendResponse(model.Version, user, []), Json);
            var chunk = model.CandidateRows(user, items, contextValues);
            var p = await model.Batcher.ScoreAsync(chunk).WaitAsync(context.RequestAborted);
            var scores = Enumerable.Range(0, items.Count).Select(r => formula.Evaluate(p.AsSpan(r * outputs, outputs), chunk.Numbers, r)).ToArray();
            var shown = options.Policy.Choose(scores, items, k, new Random(unchecked((int)(options.PolicySeed * 1_000_003L + host.NextRequestNumber()))));
            var result = new RecommendedItem[shown.Length];
            var log = services.GetService<ImpressionLog>();
            var impressions = log is null ? null : new Impression[shown.Length];
            long now = NowMs();
            string requestId = NewId("req_");
            for (int position = 0; position < shown.Length; position++)
            {
                var (r, propensity) = shown[position];
                string id = NewImpressionId();
                var row = p.AsSpan(r * outputs, outputs);
                var (pctr, pcvr, pctcvr, rating) = (model.DefaultChainValue(row, 0), model.DefaultChainValue(row, 1), model.DefaultChainValue(row, 2), model.DefaultChainValue(row, 3));
                result[position] = new RecommendedItem(items[r], position + 1, Known(pctr), Known(pcvr), Known(pctcvr), Known(rating), scores[r], id, propensity, model.Named(row));
                if (impressions is null) continue;
                impressions[position] = new Impression(id, requestId, now, "recommend", user, items[r], position + 1, model.Version, pctr, pcvr, pctcvr, rating,
                    scores[r], propensity, options.Policy.Name, JsonSerializer.Serialize(model.Columns.Row(chunk, r), Json));
            }
            if (log is not null)
                await LogAsync(log, services, impressions!, new RecommendationRequest(requestId, now, user, model.Version, options.Policy.Name, k, JsonSerializer.Serialize(items, Json),
                    contextValues is { } contextGiven ? contextGiven.GetRawText() : "{}"));
            return Results.Json(new RecommendResponse(model.Version, user, result), Json);
        }
        finally { model.Release(); }
    }

    private static readonly string[] Events = ["click", "conversion", "rating"];

    private static async Task<IResult> FeedbackAsync(HttpContext context, ServingOptions options, IServiceProvider services)
    {
        using var document = await ReadJsonAsync(context, options);
        var body = document.RootElement;
        OnlyKnown(body, "impression_id", "event", "value", "ts");
        string id = OptionalString(body, "impression_id") is { Length: > 0 } i ? i : throw new RequestException(400, "impression_id", "impression_id: required");
        string kind = OptionalString(body, "event") ?? throw new RequestException(400, "event", "event: required (click, conversion or rating)");
        if (!Events.Contains(kind)) throw new RequestException(400, "event", $"event: '{kind}'; use click, conversion or rating");
        double? value = null;
        if (body.TryGetProperty("value", out var v) && v.ValueKind != JsonValueKind.Null)
        {
            if (v.ValueKind != JsonValueKind.Number || !double.IsFinite(v.GetDouble())) throw new RequestException(400, "value", "value must be a finite number");
            value = v.GetDouble();
        }
        if (kind == "rating" && value is null) throw new RequestException(400, "value", "value: required for a rating");
        long ts = NowMs();
        if (body.TryGetProperty("ts", out var t) && t.ValueKind != JsonValueKind.Null)
        {
            if (t.ValueKind == JsonValueKind.Number && t.TryGetInt64(out long ms)) ts = ms;
            else if (t.ValueKind == JsonValueKind.String && DateTimeOffset.TryParse(t.GetString(), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var when))
                ts = when.ToUnixTimeMilliseconds();
            else throw new RequestException(400, "ts", "ts must be Unix milliseconds or an ISO 8601 time");
        }
        var log = services.GetService<ImpressionLog>() ?? throw new RequestException(409, "impression_id", "this service keeps no impression log (start serve with --log)");
        var result = await log.FeedbackAsync(new FeedbackEvent(id, kind, value, ts)).WaitAsync(context.RequestAborted);
        services.GetRequiredService<ServingMetrics>().Feedback.WithLabels(kind, result.ToString().ToLowerInvariant()).Inc();
        if (result == FeedbackResult.UnknownImpression) throw new RequestException(404, "impression_id", $"impression '{id}' is not in the log");
        return Results.Json(new FeedbackResponse(result == FeedbackResult.Accepted ? "accepted" : "duplicate"), Json);
    }
}
