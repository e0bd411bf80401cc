using Recommender.Pipeline.Scoring;
using Recommender.Trainers.Runtime;

namespace Recommender.Pipeline.Serving;

/// <summary>Options of the recommendation service (<c>serve</c>); every limit has a default in <see cref="Defaults"/>.</summary>
public sealed class ServingOptions
{
    /// <summary>Default values.</summary>
    public static class Defaults
    {
        /// <summary>Rows coalesced into one ONNX Runtime run at most.</summary>
        public const int MaxBatchRows = 256;
        /// <summary>How long the batcher waits for more requests after the first (µs); 0 = take what is queued when the worker is free.</summary>
        public const int MaxWaitMicroseconds = 0;
        /// <summary>Rows per /v1/score request.</summary>
        public const int MaxRowsPerRequest = 1000;
        /// <summary>Candidates per /v1/recommend request (given or retrieved).</summary>
        public const int MaxCandidates = 2000;
        /// <summary>Items retrieved by matrix factorization when a request gives no candidates.</summary>
        public const int RetrievedCandidates = 200;
        /// <summary>Largest k.</summary>
        public const int MaxK = 200;
        /// <summary>Largest request body.</summary>
        public const int MaxBodyBytes = 4 << 20;
        /// <summary>Requests worked on at once; more get 429.</summary>
        public const int MaxConcurrentRequests = 512;
        /// <summary>Seconds before a request is answered 504.</summary>
        public const double RequestTimeoutSeconds = 10;
        /// <summary>How often the registry's current pointer is checked (ms).</summary>
        public const int ReloadIntervalMilliseconds = 1000;
    }

    /// <summary>A registry folder (watched: its current version is served and hot-swapped) or one fixed bundle.</summary>
    public required string Model { get; init; }
    /// <summary>Watch the registry's current pointer and swap versions as it moves.</summary>
    public bool Watch { get; init; } = true;
    /// <summary>The impression and feedback log (SQLite file); null = no log.</summary>
    public string? LogPath { get; init; }
    /// <summary>Bearer token of /admin/*; null = admin endpoints refused.</summary>
    public string? AdminToken { get; init; }
    /// <summary>See <see cref="Defaults.MaxBatchRows"/>.</summary>
    public int MaxBatchRows { get; init; } = Defaults.MaxBatchRows;
    /// <summary>See <see cref="Defaults.MaxWaitMicroseconds"/>.</summary>
    public int MaxWaitMicroseconds { get; init; } = Defaults.MaxWaitMicroseconds;
    /// <summary>Coalesce concurrent requests (false: one ONNX Runtime run per request, for comparison).</summary>
    public bool MicroBatching { get; init; } = true;
    /// <summary>How /v1/recommend turns the ranking into the items shown (see <see cref="ExplorationPolicy"/>).</summary>
    public ExplorationPolicy Policy { get; init; } = ExplorationPolicy.Greedy;
    /// <summary>Seed of the policy's random choices: with one client sending requests in order, the lists are reproducible.</summary>
    public int PolicySeed { get; init; } = 1;
    /// <summary>Featurize through the compiled lookups where the featurization compiles (false: always ML.NET's engine, for comparison).</summary>
    public bool CompiledFeaturization { get; init; } = true;
    /// <summary>See <see cref="Defaults.MaxRowsPerRequest"/>.</summary>
    public int MaxRowsPerRequest { get; init; } = Defaults.MaxRowsPerRequest;
    /// <summary>See <see cref="Defaults.MaxCandidates"/>.</summary>
    public int MaxCandidates { get; init; } = Defaults.MaxCandidates;
    /// <summary>See <see cref="Defaults.RetrievedCandidates"/>.</summary>
    public int RetrievedCandidates { get; init; } = Defaults.RetrievedCandidates;
    /// <summary>See <see cref="Defaults.MaxK"/>.</summary>
    public int MaxK { get; init; } = Defaults.MaxK;
    /// <summary>See <see cref="Defaults.MaxBodyBytes"/>.</summary>
    public int MaxBodyBytes { get; init; } = Defaults.MaxBodyBytes;
    /// <summary>See <see cref="Defaults.MaxConcurrentRequests"/>.</summary>
    public int MaxConcurrentRequests { get; init; } = Defaults.MaxConcurrentRequests;
    /// <summary>See <see cref="Defaults.RequestTimeoutSeconds"/>.</summary>
    public double RequestTimeoutSeconds { get; init; } = Defaults.RequestTimeoutSeconds;
    /// <summary>See <see cref="Defaults.ReloadIntervalMilliseconds"/>.</summary>
    public int ReloadIntervalMilliseconds { get; init; } = Defaults.ReloadIntervalMilliseconds;
    /// <summary>Where the network runs.</summary>
    public ExecutionDevice Device { get; init; } = ExecutionDevice.Auto;
    /// <summary>ONNX Runtime threads; 0 = one per core.</summary>
    public int Threads { get; init; }
    /// <summary>ONNX Runtime's threads spin between a batch's kernels; false where other work shares the cores.</summary>
    public bool AllowSpinning { get; init; } = true;
    /// <summary>Check bundle files against their manifest's SHA-256 on every load.</summary>
    public bool VerifyHashes { get; init; } = true;

    /// <summary>Throws, in one line, on a value out of range.</summary>
    public void Validate()
    {
        void AtLeast(string name, double value, double min)
        {
            if (!(value >= min) || double.IsInfinity(value)) throw new ArgumentException($"{name} must be a finite number >= {min}, got {value}");
        }
        AtLeast(nameof(MaxBatchRows), MaxBatchRows, 1);
        if (MaxBatchRows > RuntimeOptions.MaxBatchRows) throw new ArgumentException($"MaxBatchRows must be at most {RuntimeOptions.MaxBatchRows}, got {MaxBatchRows}");
        AtLeast(nameof(MaxWaitMicroseconds), MaxWaitMicroseconds, 0);
        AtLeast(nameof(MaxRowsPerRequest), MaxRowsPerRequest, 1);
        AtLeast(nameof(MaxCandidates), MaxCandidates, 1);
        AtLeast(nameof(RetrievedCandidates), RetrievedCandidates, 1);
        AtLeast(nameof(MaxK), MaxK, 1);
        AtLeast(nameof(MaxBodyBytes), MaxBodyBytes, 64);
        AtLeast(nameof(MaxConcurrentRequests), MaxConcurrentRequests, 1);
        AtLeast(nameof(RequestTimeoutSeconds), RequestTimeoutSeconds, 0.001);
        AtLeast(nameof(ReloadIntervalMilliseconds), ReloadIntervalMilliseconds, 10);
        AtLeast(nameof(Threads), Threads, 0);
        if (Threads > RuntimeOptions.MaxThreads) throw new ArgumentException($"Threads must be at most {RuntimeOptions.MaxThreads}, got {Threads}");
    }
}
