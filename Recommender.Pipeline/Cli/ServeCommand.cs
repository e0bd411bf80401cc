using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Recommender.Pipeline.Lifecycle;
using Recommender.Pipeline.Serving;
using Recommender.Trainers.Runtime;

namespace Recommender.Pipeline.Cli;

/// <summary><c>serve</c>: the real-time recommendation service.</summary>
internal static class ServeCommand
{
    public static Command Create(CancellationToken cancel)
    {
        var registry = new Option<DirectoryInfo?>("--registry") { Description = "A model registry (train --out): its current version is served, and swapped when current moves" };
        var model = new Option<DirectoryInfo?>("--model") { Description = "One fixed bundle (a version folder) instead of a registry" };
        var urls = new Option<string>("--urls") { Description = "Addresses to listen on (loopback by default; port 0 picks a free one)", DefaultValueFactory = _ => "http://127.0.0.1:8080" };
        var log = new Option<FileInfo?>("--log") { Description = "The impression and feedback log (SQLite; default REGISTRY.events.sqlite beside the registry)" };
        var noLog = new Option<bool>("--no-log") { Description = "Keep no impression log (feedback is then refused)" };
        var tokenFile = new Option<FileInfo?>("--admin-token-file") { Description = "File holding the bearer token of /admin/* (or set RECOMMENDER_ADMIN_TOKEN); without one, /admin is refused" };
        var maxBatch = new Option<int>("--max-batch-rows") { Description = "Rows coalesced into one ONNX Runtime run at most", DefaultValueFactory = _ => ServingOptions.Defaults.MaxBatchRows }.AtLeast(1).AtMost(RuntimeOptions.MaxBatchRows);
        var maxWait = new Option<int>("--max-wait-us") { Description = "Microseconds the batcher waits for more requests after the first (0: what is queued when it is free)", DefaultValueFactory = _ => ServingOptions.Defaults.MaxWaitMicroseconds }.AtLeast(0);
        var noBatching = new Option<bool>("--no-batching") { Description = "One ONNX Runtime run per request (for comparison)" };
        var maxConcurrent = new Option<int>("--max-concurrent") { Description = "Requests worked on at once; more are answered 429", DefaultValueFactory = _ => ServingOptions.Defaults.MaxConcurrentRequests }.AtLeast(1);
        var timeout = new Option<double>("--timeout-s") { Description = "Seconds before a request is answered 504", DefaultValueFactory = _ => ServingOptions.Defaults.RequestTimeoutSeconds }.Positive();
        var threads = new Option<int>("--threads") { Description = "ONNX Runtime threads (default: one per core)" }.AtLeast(0).AtMost(RuntimeOptions.MaxThreads);
        var device = new Option<ExecutionDevice>("--device") { Description = "Auto, Cpu or Cuda", DefaultValueFactory = _ => ExecutionDevice.Auto };
        var noSpinning = SpinningOption.Create();
        var skipHashes = new Option<bool>("--skip-hash-check") { Description = "Check bundle file sizes against the manifest but not their SHA-256" };
        var policy = new Option<string>("--policy") { Description = "How /v1/recommend picks the items shown: greedy, epsilon:E or softmax:T (propensities are logged)", DefaultValueFactory = _ => "greedy" };
        var policySeed = new Option<int>("--policy-seed") { Description = "Seed of the policy's random choices", DefaultValueFactory = _ => 1 };
        var duration = new Option<double?>("--duration-s") { Description = "Stop by itself after this many seconds (for scripted runs)" }.Positive();
        var command = new Command("serve", "Serve a model over HTTP: /v1/score, /v1/recommend, /v1/feedback, /v1/model, /healthz, /readyz, /metrics, a status page at /; micro-batching, hot reload, impression log")
        {
            registry, model, urls, log, noLog, tokenFile, maxBatch, maxWait, noBatching, maxConcurrent, timeout, threads, device, noSpinning, skipHashes, policy, policySeed, duration,
        };
        command.SetAction(result =>
        {
            string path = result.GetValue(registry)?.FullName ?? result.GetValue(model)?.FullName ?? throw new Data.SchemaException("give --registry DIR or --model BUNDLE");
            if (result.GetValue(registry) is not null && result.GetValue(model) is not null) throw new Data.SchemaException("give --registry or --model, not both");
            if (result.GetValue(registry) is not null && !ModelRegistry.IsRegistry(path)) throw new DirectoryNotFoundException($"{path}: not a model registry (train --out creates one)");
            string? token = Environment.GetEnvironmentVariable("RECOMMENDER_ADMIN_TOKEN") is { Length: > 0 } t ? t
                : result.GetValue(tokenFile) is { } f ? File.ReadAllText(f.FullName).Trim() : null;
            string? logPath = result.GetValue(noLog) ? null : result.GetValue(log)?.FullName ?? path.TrimEnd(Path.DirectorySeparatorChar) + ".events.sqlite";
            var options = new ServingOptions
            {
                Model = path, Watch = result.GetValue(registry) is not null, LogPath = logPath, AdminToken = token,
                MaxBatchRows = result.GetValue(maxBatch), MaxWaitMicroseconds = result.GetValue(maxWait), MicroBatching = !result.GetValue(noBatching),
                MaxConcurrentRequests = result.GetValue(maxConcurrent), RequestTimeoutSeconds = result.GetValue(timeout),
                Threads = result.GetValue(threads), Device = result.GetValue(device), AllowSpinning = !result.GetValue(noSpinning), VerifyHashes = !result.GetValue(skipHashes),
                Policy = Scoring.ExplorationPolicy.Parse(result.GetValue(policy)!), PolicySeed = result.GetValue(policySeed),
            };
            // One service writes one log.
            using var logLock = logPath is null ? null : WriterLock.Acquire(logPath, wait: false);
            using var host = ServingApp.CreateHostBuilder(options, result.GetValue(urls)!).Build();
            host.StartAsync(cancel).GetAwaiter().GetResult();
            var addresses = ServingApp.Addresses(host);
            var served = host.Services.GetRequiredService<ModelHost>().Current;
            Console.WriteLine($"listening on {string.Join(", ", addresses)} (model {served.Version} from {served.Bundle.Directory}; log {logPath ?? "off"})");
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            if (result.GetValue(duration) is { } seconds) stop.CancelAfter(TimeSpan.FromSeconds(seconds));
            stop.Token.WaitHandle.WaitOne();
            host.StopAsync(TimeSpan.FromSeconds(10)).GetAwaiter().GetResult();
            Console.WriteLine(cancel.IsCancellationRequested ? "stopped by signal after finishing the requests in flight" : "stopped after --duration-s");
            return 0;
        });
        return command;
    }
}
