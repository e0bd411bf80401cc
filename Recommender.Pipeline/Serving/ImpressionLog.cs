using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;

namespace Recommender.Pipeline.Serving;

/// <summary>One item shown (or one row scored): what the feedback loop learns from.</summary>
public sealed record Impression(string Id, string RequestId, long TimeMs, string Endpoint, string User, string Item, int Position, string ModelVersion,
    float PCtr, float PCvr, float PCtcvr, float Rating, double RankScore, double Propensity, string Policy, string Features);

/// <summary>
/// One recommendation request: the candidates the policy chose among (JSON array of item ids), the context given
/// (JSON object), the policy, k. With them an off-policy estimate can replay another policy on the same choice.
/// </summary>
public sealed record RecommendationRequest(string Id, long TimeMs, string User, string ModelVersion, string Policy, int K, string Candidates, string Context);

/// <summary>A user's reaction to an impression: <c>click</c>, <c>conversion</c> or <c>rating</c> (with its value).</summary>
public sealed record FeedbackEvent(string ImpressionId, string Event, double? Value, long TimeMs);

/// <summary>What happened to a feedback event.</summary>
public enum FeedbackResult
{
    /// <summary>Recorded.</summary>
    Accepted,
    /// <summary>The same (impression, event) was recorded before; nothing changed.</summary>
    Duplicate,
    /// <summary>No such impression.</summary>
    UnknownImpression,
}

/// <summary>
/// The impression and feedback log: an embedded SQLite database in WAL mode, append-only. SQLite because it is one
/// file, crash-safe by its journal, queryable for <c>export-log</c>, and served as a maintained package; Parquet
/// would need a write-ahead buffer of our own to survive a crash between row groups. One writer thread commits
/// what every request queued since its last commit in one transaction (group commit), and a request is answered
/// only after its rows are committed: an acknowledged impression survives a crash of the process (WAL with
/// <c>synchronous=NORMAL</c>; a power cut may lose the last commits, <c>synchronous=FULL</c> would not).
/// Feedback is idempotent per (impression, event).
/// </summary>
public sealed class ImpressionLog : IDisposable
{
    private abstract record Entry;
    private sealed record Impressions(RecommendationRequest? Request, IReadOnlyList<Impression> Rows, TaskCompletionSource Done) : Entry;
    private sealed record Feedback(FeedbackEvent Event, TaskCompletionSource<FeedbackResult> Done) : Entry;

    // Blocking, for the writer thread's own wake-up (see MicroBatcher).
    private readonly BlockingCollection<Entry> _queue = new(new ConcurrentQueue<Entry>());
    private readonly SqliteConnection _connection;
    private readonly Thread _writer;

    /// <summary>Opens (creating if needed) the log at <paramref name="path"/>.</summary>
    public ImpressionLog(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        _connection = Open(Path);
        Execute(_connection, """
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=NORMAL;
            CREATE TABLE IF NOT EXISTS impressions(
              id TEXT PRIMARY KEY, request_id TEXT NOT NULL, ts INTEGER NOT NULL, endpoint TEXT NOT NULL, user TEXT NOT NULL, item TEXT NOT NULL, position INTEGER NOT NULL,
              model_version TEXT NOT NULL, pctr REAL, pcvr REAL, pctcvr REAL, rating REAL, rank_score REAL, propensity REAL NOT NULL, policy TEXT NOT NULL,
              features TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS impressions_ts ON impressions(ts);
            CREATE INDEX IF NOT EXISTS impressions_request ON impressions(request_id);
            CREATE TABLE IF NOT EXISTS requests(
              id TEXT PRIMARY KEY, ts INTEGER NOT NULL, user TEXT NOT NULL, model_version TEXT NOT NULL, policy TEXT NOT NULL, k INTEGER NOT NULL,
              candidates TEXT NOT NULL, context TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS feedback(
              impression_id TEXT NOT NULL, event TEXT NOT NULL, value REAL, ts INTEGER NOT NULL, PRIMARY KEY(impression_id, event));
            """);
        _writer = new Thread(Loop) { IsBackground = true, Name = "impression-log" };
        _writer.Start();
    }

    /// <summary>The database file.</summary>
    public string Path { get; }

    /// <summary>Opens a connection to a log file (for readers: export, tests).</summary>
    public static SqliteConnection Open(string path)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        return connection;
    }

    /// <summary>Completes when <paramref name="rows"/> (and the <paramref name="request"/> they answer, if any) are committed.</summary>
    public Task AppendAsync(IReadOnlyList<Impression> rows, RecommendationRequest? request = null)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!TryAdd(new Impressions(request, rows, done))) done.SetException(new ObjectDisposedException(nameof(ImpressionLog)));
        return done.Task;
    }

    /// <summary>Records a feedback event once; completes when committed.</summary>
    public Task<FeedbackResult> FeedbackAsync(FeedbackEvent e)
    {
        var done = new TaskCompletionSource<FeedbackResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!TryAdd(new Feedback(e, done))) done.SetException(new ObjectDisposedException(nameof(ImpressionLog)));
        return done.Task;
    }

    private bool TryAdd(Entry entry)
    {
        try { _queue.Add(entry); return true; }
        catch (InvalidOperationException) { return false; }
    }

    private void Loop()
    {
        var batch = new List<Entry>();
        using var insert = _connection.CreateCommand();
        insert.CommandText = "INSERT INTO impressions VALUES($id,$request,$ts,$endpoint,$user,$item,$position,$version,$pctr,$pcvr,$pctcvr,$rating,$rank,$propensity,$policy,$features)";
        var p = new[] { "$id", "$request", "$ts", "$endpoint", "$user", "$item", "$position", "$version", "$pctr", "$pcvr", "$pctcvr", "$rating", "$rank", "$propensity", "$policy", "$features" }
            .Select(n => insert.Parameters.AddWithValue(n, DBNull.Value)).ToArray();
        using var request = _connection.CreateCommand();
        request.CommandText = "INSERT INTO requests VALUES($id,$ts,$user,$version,$policy,$k,$candidates,$context)";
        var q = new[] { "$id", "$ts", "$user", "$version", "$policy", "$k", "$candidates", "$context" }.Select(n => request.Parameters.AddWithValue(n, DBNull.Value)).ToArray();
        using var exists = _connection.CreateCommand();
        exists.CommandText = "SELECT EXISTS(SELECT 1 FROM impressions WHERE id=$id)";
        var existsId = exists.Parameters.AddWithValue("$id", DBNull.Value);
        using var feedback = _connection.CreateCommand();
        feedback.CommandText = "INSERT OR IGNORE INTO feedback VALUES($id,$event,$value,$ts)";
        var f = new[] { "$id", "$event", "$value", "$ts" }.Select(n => feedback.Parameters.AddWithValue(n, DBNull.Value)).ToArray();
        while (_queue.TryTake(out var first, Timeout.Infinite))
        {
            batch.Clear();
            batch.Add(first);
            while (batch.Count < 4096 && _queue.TryTake(out var entry)) batch.Add(entry);
            var results = new FeedbackResult[batch.Count];
            try
            {
                using (var transaction = _connection.BeginTransaction())
                {
                    insert.Transaction = request.Transaction = exists.Transaction = feedback.Transaction = transaction;
                    for (int b = 0; b < batch.Count; b++)
                    {
                        if (batch[b] is Impressions imps)
                        {
                            if (imps.Request is { } r)
                            {
                                object?[] values = [r.Id, r.TimeMs, r.User, r.ModelVersion, r.Policy, r.K, r.Candidates, r.Context];
                                for (int k = 0; k < values.Length; k++) q[k].Value = values[k] ?? DBNull.Value;
                                request.ExecuteNonQuery();
                            }
                            foreach (var i in imps.Rows)
                            {
                                object?[] values = [i.Id, i.RequestId, i.TimeMs, i.Endpoint, i.User, i.Item, i.Position, i.ModelVersion, Real(i.PCtr), Real(i.PCvr), Real(i.PCtcvr), Real(i.Rating),
                                    double.IsFinite(i.RankScore) ? i.RankScore : null, i.Propensity, i.Policy, i.Features];
                                for (int k = 0; k < values.Length; k++) p[k].Value = values[k] ?? DBNull.Value;
                                insert.ExecuteNonQuery();
                            }
                        }
                        else if (batch[b] is Feedback fb)
                        {
                            existsId.Value = fb.Event.ImpressionId;
                            if (Convert.ToInt64(exists.ExecuteScalar()) == 0) { results[b] = FeedbackResult.UnknownImpression; continue; }
                            object?[] values = [fb.Event.ImpressionId, fb.Event.Event, fb.Event.Value, fb.Event.TimeMs];
                            for (int k = 0; k < values.Length; k++) f[k].Value = values[k] ?? DBNull.Value;
                            results[b] = feedback.ExecuteNonQuery() == 1 ? FeedbackResult.Accepted : FeedbackResult.Duplicate;
                        }
                    }
                    FaultInjection.Point("log.before-commit");
                    transaction.Commit();
                }
                for (int b = 0; b < batch.Count; b++)
                {
                    if (batch[b] is Impressions imps) imps.Done.TrySetResult();
                    else if (batch[b] is Feedback fb) fb.Done.TrySetResult(results[b]);
                }
            }
            catch (Exception e)
            {
                foreach (var entry in batch)
                {
                    if (entry is Impressions imps) imps.Done.TrySetException(e);
                    else if (entry is Feedback fb) fb.Done.TrySetException(e);
                }
            }
        }
    }

    private static object? Real(float v) => float.IsFinite(v) ? v : null;

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    /// <summary>Commits what is queued, then closes the database.</summary>
    public void Dispose()
    {
        _queue.CompleteAdding();
        _writer.Join();
        _queue.Dispose();
        _connection.Dispose();
    }
}
