using System.Text.Json;
using Recommender.Trainers.Compilation;
using Recommender.Trainers.Embeddings;
using Recommender.Trainers.Runtime;

namespace Recommender.Trainers.Training;

/// <summary>What a checkpoint restores besides the weights.</summary>
internal sealed record CheckpointState(int NextEpoch, List<EpochReport> History, double? Best, int SinceBest,
    Dictionary<string, float[]>? BestParameters, float[][]? BestTables, float[][]? BestFieldAware = null, float[][]? BestCrossed = null);

/// <summary>
/// The whole training state after an epoch — dense parameters and Adam state, the step count, embedding
/// tables (and field-aware tables) with their sparse optimizer's state, the history and the best epoch's weights — in one binary file,
/// written through <see cref="AtomicFile"/>, so a crash leaves the previous checkpoint intact.
/// </summary>
internal static class Checkpoint
{
    private const string Magic = "RECOMMENDER-CHECKPOINT-3";

    public static void Save(string path, TrainStepRunner runner, FieldEmbeddings embeddings, CompiledModel compiled, JobFingerprint fingerprint, CheckpointState state,
        FieldEmbeddings? fieldAware = null, FieldEmbeddings? crossed = null)
    {
        AtomicFile.Write(path, stream =>
        {
            using var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
            w.Write(Magic);
            w.Write(fingerprint.ToJson());
            w.Write(state.NextEpoch);
            w.Write(runner.Steps);
            w.Write(state.Best ?? double.NaN);
            w.Write(state.SinceBest);
            w.Write(JsonSerializer.Serialize(state.History, CheckpointJson.Default.ListEpochReport));
            foreach (var p in compiled.Definition.Parameters)
            {
                TrainingState.Write(w, runner.GetParameter(p.Name));
                foreach (var s in compiled.Optimizer.StateNames) TrainingState.Write(w, runner.GetState(p.Name, s));
            }
            w.Write(embeddings.Fields);
            WriteTables(w, embeddings);
            w.Write(state.BestParameters is not null);
            if (state.BestParameters is not null)
            {
                foreach (var p in compiled.Definition.Parameters) TrainingState.Write(w, state.BestParameters[p.Name]);
                foreach (int f in Owners(embeddings)) TrainingState.Write(w, state.BestTables![f]);
            }
            // Last, so the checkpoints of models without them end where they did: the field-aware tables, then the crossed
            // pairs' (written only when there are some), each followed by the best epoch's copy.
            WriteExtraTables(w, fieldAware, state.BestFieldAware);
            if (crossed is not null) WriteExtraTables(w, crossed, state.BestCrossed);
        });
    }

    /// <summary>
    /// Restores the state saved by <see cref="Save"/>, refusing (one line) a checkpoint of another job, or one that is
    /// truncated or corrupt.
    /// </summary>
    public static CheckpointState Load(string path, TrainStepRunner runner, FieldEmbeddings embeddings, CompiledModel compiled, JobFingerprint fingerprint,
        FieldEmbeddings? fieldAware = null, FieldEmbeddings? crossed = null)
    {
        try { return Read(path, runner, embeddings, compiled, fingerprint, fieldAware, crossed); }
        catch (Exception e) when (e is EndOfStreamException or IOException or System.Text.Json.JsonException or FormatException or OverflowException or OutOfMemoryException)
        {
            throw new InvalidDataException($"{path}: not a readable checkpoint ({e.GetType().Name}: {e.Message}); delete it to train from the start");
        }
    }

    private static CheckpointState Read(string path, TrainStepRunner runner, FieldEmbeddings embeddings, CompiledModel compiled, JobFingerprint fingerprint,
        FieldEmbeddings? fieldAware, FieldEmbeddings? crossed)
    {
        using var r = new BinaryReader(File.OpenRead(path));
        if (r.ReadString() != Magic) throw new InvalidDataException($"{path}: not a checkpoint of this trainer");
        fingerprint.RequireSameAs(JobFingerprint.FromJson(r.ReadString()), $"checkpoint {path}");
        int nextEpoch = r.ReadInt32();
        long steps = r.ReadInt64();
        double best = r.ReadDouble();
        int sinceBest = r.ReadInt32();
        var history = JsonSerializer.Deserialize(r.ReadString(), CheckpointJson.Default.ListEpochReport) ?? [];
        foreach (var p in compiled.Definition.Parameters)
        {
            runner.SetParameter(p.Name, Read(r, p.Size, path, p.Name));
            foreach (var s in compiled.Optimizer.StateNames) runner.SetState(p.Name, s, Read(r, p.Size, path, $"{p.Name}.{s}"));
        }
        runner.SetSteps(steps);
        if (r.ReadInt32() != embeddings.Fields) throw new InvalidDataException($"{path}: the checkpoint has another number of embedding tables");
        ReadTables(r, embeddings, path, "embedding table");
        Dictionary<string, float[]>? bestParameters = null;
        float[][]? bestTables = null;
        if (r.ReadBoolean())
        {
            bestParameters = compiled.Definition.Parameters.ToDictionary(p => p.Name, p => Read(r, p.Size, path, p.Name));
            var owners = Owners(embeddings);
            var read = owners.ToDictionary(f => f, f => Read(r, embeddings.Tables[f].Weights.Length, path, "best embedding table"));
            // Fields that share a table share its best copy too.
            bestTables = embeddings.Tables.Select(t => read[Array.FindIndex(embeddings.Tables, u => ReferenceEquals(u, t))]).ToArray();
        }
        var bestFieldAware = ReadExtraTables(r, fieldAware, path, "field-aware");
        var bestCrossed = ReadExtraTables(r, crossed, path, "crossed");
        return new CheckpointState(nextEpoch, history, double.IsNaN(best) ? null : best, sinceBest, bestParameters, bestTables, bestFieldAware, bestCrossed);
    }

    // An optional set of tables (field-aware, crossed): whether it is there, its tables, and the best epoch's copy if any.
    private static void WriteExtraTables(BinaryWriter w, FieldEmbeddings? tables, float[][]? best)
    {
        w.Write(tables is not null);
        if (tables is null) return;
        WriteTables(w, tables);
        w.Write(best is not null);
        foreach (var t in best ?? []) TrainingState.Write(w, t);
    }

    // Reads what WriteExtraTables wrote into the model's tables; returns the best epoch's copy. A checkpoint that ends
    // before the set reads as one without it.
    private static float[][]? ReadExtraTables(BinaryReader r, FieldEmbeddings? tables, string path, string what)
    {
        bool present = r.BaseStream.Position < r.BaseStream.Length && r.ReadBoolean();
        if (present != tables is not null) throw new InvalidDataException($"{path}: the checkpoint's {what} tables do not match the model");
        if (tables is null) return null;
        ReadTables(r, tables, path, $"{what} table");
        return r.ReadBoolean() ? tables.Tables.Select(t => Read(r, t.Weights.Length, path, $"best {what} table")).ToArray() : null;
    }

    // The fields that own their table, in order: a table shared by several fields (a sequence's positions) is written once.
    private static int[] Owners(FieldEmbeddings embeddings) =>
        Enumerable.Range(0, embeddings.Fields).Where(f => Array.FindIndex(embeddings.Tables, t => ReferenceEquals(t, embeddings.Tables[f])) == f).ToArray();

    // Each table's weights and its sparse optimizer's two states (empty where it keeps none).
    private static void WriteTables(BinaryWriter w, FieldEmbeddings embeddings)
    {
        foreach (var t in Owners(embeddings).Select(f => embeddings.Tables[f]))
        {
            TrainingState.Write(w, t.Weights);
            TrainingState.Write(w, t.State1 ?? []);
            TrainingState.Write(w, t.State2 ?? []);
        }
    }

    private static void ReadTables(BinaryReader r, FieldEmbeddings embeddings, string path, string what)
    {
        foreach (var t in Owners(embeddings).Select(f => embeddings.Tables[f]))
        {
            Read(r, t.Weights.Length, path, what).CopyTo(t.Weights, 0);
            var first = TrainingState.Read(r);
            var second = TrainingState.Read(r);
            if (first.Length > 0) t.State1 = first;
            if (second.Length > 0) t.State2 = second;
        }
    }

    private static float[] Read(BinaryReader r, long expected, string path, string what)
    {
        var values = TrainingState.Read(r);
        if (values.Length != expected) throw new InvalidDataException($"{path}: {what} has {values.Length} values, the model needs {expected}");
        return values;
    }
}

// Source-generated, so checkpoints work in trimmed and AOT builds too (the GPU check ships trimmed).
[System.Text.Json.Serialization.JsonSerializable(typeof(List<EpochReport>))]
internal sealed partial class CheckpointJson : System.Text.Json.Serialization.JsonSerializerContext;
