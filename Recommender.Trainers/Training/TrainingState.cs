using Recommender.Trainers.Network;
using System.Runtime.InteropServices;

namespace Recommender.Trainers.Training;

/// <summary>
/// Everything needed to go on training a model: the dense parameters with their optimizer state and step count,
/// and each field's embedding table with its sparse optimizer state. Kept with a trained model (and in its bundle
/// as <c>training-state.bin</c>) so that a warm start continues where training stopped, on new data, with tables
/// grown for ids first seen there.
/// </summary>
public sealed class TrainingState
{
    private const string Magic = "RECOMMENDER-TRAINING-STATE-1";

    /// <summary>Dense parameters by name.</summary>
    public required Dictionary<string, float[]> Parameters { get; init; }
    /// <summary>The dense optimizer's state per parameter, in its state names' order (Adam: m, v).</summary>
    public required Dictionary<string, float[][]> OptimizerState { get; init; }
    /// <summary>Train steps taken (Adam's bias correction goes on from here).</summary>
    public required long Steps { get; init; }
    /// <summary>The categorical fields, in table order.</summary>
    public required string[] Fields { get; init; }
    /// <summary>Embedding width.</summary>
    public required int EmbeddingDim { get; init; }
    /// <summary>One table per field, row-major [rows, dim].</summary>
    public required float[][] Tables { get; init; }
    /// <summary>The sparse optimizer's first and second state per table (null where it keeps none).</summary>
    public required float[]?[] TableState1 { get; init; }
    /// <summary>See <see cref="TableState1"/>.</summary>
    public required float[]?[] TableState2 { get; init; }
    /// <summary>The Platt scaling of the model this state is of, by task: a warm start without validation data keeps it.</summary>
    public IReadOnlyDictionary<string, PlattCalibration>? Calibration { get; init; }
    /// <summary>The isotonic calibration of the model this state is of, by task (kept like <see cref="Calibration"/>).</summary>
    public IReadOnlyDictionary<string, IsotonicCalibration>? Isotonic { get; init; }
    /// <summary>With field-aware interactions: one table per plain field (row-major [rows, fields * k]) and its sparse optimizer's states; else null.</summary>
    public float[][]? FieldAwareTables { get; init; }
    /// <summary>See <see cref="FieldAwareTables"/>.</summary>
    public float[]?[]? FieldAwareState1 { get; init; }
    /// <summary>See <see cref="FieldAwareTables"/>.</summary>
    public float[]?[]? FieldAwareState2 { get; init; }
    /// <summary>With crossed embeddings: each crossed pair's fields (by name) and table rows when it was trained; else null.</summary>
    public (string A, string B, int RowsA, int RowsB)[]? CrossedPairs { get; init; }
    /// <summary>With crossed embeddings: each pair's table (row-major [rows_a * rows_b, dim]) and its sparse optimizer's states.</summary>
    public float[][]? CrossedTables { get; init; }
    /// <summary>See <see cref="CrossedTables"/>.</summary>
    public float[]?[]? CrossedState1 { get; init; }
    /// <summary>See <see cref="CrossedTables"/>.</summary>
    public float[]?[]? CrossedState2 { get; init; }

    /// <summary>Writes the state (atomically).</summary>
    public void Save(string path) => AtomicFile.Write(path, stream =>
    {
        using var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        w.Write(Magic);
        w.Write(Steps);
        w.Write(EmbeddingDim);
        w.Write(Parameters.Count);
        foreach (var (name, values) in Parameters.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            w.Write(name);
            Write(w, values);
            w.Write(OptimizerState[name].Length);
            foreach (var s in OptimizerState[name]) Write(w, s);
        }
        w.Write(Fields.Length);
        // A table (or state) shared by several fields, a behaviour sequence's positions and their item field, is written
        // once; the others refer to it by its index among the arrays written (as a negative length).
        var written = new Dictionary<float[], int>(ReferenceEqualityComparer.Instance);
        void Shared(float[] values)
        {
            if (values.Length > 0 && written.TryGetValue(values, out int first)) { w.Write(-1 - first); return; }
            if (values.Length > 0) written[values] = written.Count;
            Write(w, values);
        }
        for (int f = 0; f < Fields.Length; f++)
        {
            w.Write(Fields[f]);
            Shared(Tables[f]);
            Shared(TableState1[f] ?? []);
            Shared(TableState2[f] ?? []);
        }
        // Written last, so a state from before calibration (ending here) still reads.
        w.Write(Calibration?.Count ?? 0);
        foreach (var (task, c) in Calibration ?? new Dictionary<string, PlattCalibration>())
        {
            w.Write(task);
            w.Write(c.Scale);
            w.Write(c.Shift);
        }
        // After the calibration, for the same reason: the field-aware tables, when the model has them.
        w.Write(FieldAwareTables?.Length ?? 0);
        for (int f = 0; f < (FieldAwareTables?.Length ?? 0); f++) WriteTable(w, FieldAwareTables![f], FieldAwareState1?[f], FieldAwareState2?[f]);
        // Then, last again, the isotonic calibration.
        w.Write(Isotonic?.Count ?? 0);
        foreach (var (task, c) in Isotonic ?? new Dictionary<string, IsotonicCalibration>())
        {
            w.Write(task);
            w.Write(c.Upper.Length);
            foreach (double v in c.Upper) w.Write(v);
            foreach (double v in c.Values) w.Write(v);
        }
        // Then the crossed pairs and their tables, when the model has them.
        w.Write(CrossedPairs?.Length ?? 0);
        for (int p = 0; p < (CrossedPairs?.Length ?? 0); p++)
        {
            var (a, b, rowsA, rowsB) = CrossedPairs![p];
            w.Write(a); w.Write(b); w.Write(rowsA); w.Write(rowsB);
            WriteTable(w, CrossedTables![p], CrossedState1?[p], CrossedState2?[p]);
        }
    });

    /// <summary>Reads a state written by <see cref="Save"/>; a truncated or foreign file is refused in one line.</summary>
    public static TrainingState Load(string path)
    {
        try
        {
            using var r = new BinaryReader(File.OpenRead(path));
            if (r.ReadString() != Magic) throw new InvalidDataException($"{path}: not a training state of this trainer");
            long steps = r.ReadInt64();
            int dim = r.ReadInt32();
            int count = r.ReadInt32();
            var parameters = new Dictionary<string, float[]>();
            var optimizer = new Dictionary<string, float[][]>();
            for (int i = 0; i < count; i++)
            {
                string name = r.ReadString();
                parameters[name] = Read(r);
                optimizer[name] = Enumerable.Range(0, r.ReadInt32()).Select(_ => Read(r)).ToArray();
            }
            int fields = r.ReadInt32();
            var names = new string[fields];
            var tables = new float[fields][];
            var s1 = new float[]?[fields];
            var s2 = new float[]?[fields];
            var arrays = new List<float[]>();
            float[] Shared()
            {
                int n = r.ReadInt32();
                if (n < 0) return -1 - n < arrays.Count ? arrays[-1 - n] : throw new InvalidDataException($"{path}: a table refers to array {-1 - n} of {arrays.Count}");
                var values = Values(r, n);
                if (values.Length > 0) arrays.Add(values);
                return values;
            }
            for (int f = 0; f < fields; f++)
            {
                names[f] = r.ReadString();
                tables[f] = Shared();
                var a = Shared();
                var b = Shared();
                s1[f] = a.Length > 0 ? a : null;
                s2[f] = b.Length > 0 ? b : null;
            }
            Dictionary<string, PlattCalibration>? calibration = null;
            if (r.BaseStream.Position < r.BaseStream.Length)
            {
                int tasks = r.ReadInt32();
                calibration = new Dictionary<string, PlattCalibration>();
                for (int t = 0; t < tasks; t++) calibration[r.ReadString()] = new PlattCalibration(r.ReadDouble(), r.ReadDouble());
            }
            float[][]? fieldAware = null;
            float[]?[]? fa1 = null, fa2 = null;
            if (r.BaseStream.Position < r.BaseStream.Length && r.ReadInt32() is var n and > 0)
            {
                fieldAware = new float[n][]; fa1 = new float[]?[n]; fa2 = new float[]?[n];
                for (int f = 0; f < n; f++) (fieldAware[f], fa1[f], fa2[f]) = ReadTable(r);
            }
            Dictionary<string, IsotonicCalibration>? isotonic = null;
            if (r.BaseStream.Position < r.BaseStream.Length && r.ReadInt32() is var count2 and > 0)
            {
                isotonic = new Dictionary<string, IsotonicCalibration>();
                for (int t = 0; t < count2; t++)
                {
                    string task = r.ReadString();
                    int blocks = r.ReadInt32();
                    if (blocks < 1 || blocks > IsotonicCalibration.MaxBlocks) throw new InvalidDataException($"{path}: an isotonic calibration of {blocks} blocks");
                    var upper = Enumerable.Range(0, blocks).Select(_ => r.ReadDouble()).ToArray();
                    isotonic[task] = new IsotonicCalibration(upper, Enumerable.Range(0, blocks).Select(_ => r.ReadDouble()).ToArray());
                }
            }
            (string, string, int, int)[]? crossedPairs = null;
            float[][]? crossed = null;
            float[]?[]? cs1 = null, cs2 = null;
            if (r.BaseStream.Position < r.BaseStream.Length && r.ReadInt32() is var pairs and > 0)
            {
                crossedPairs = new (string, string, int, int)[pairs]; crossed = new float[pairs][]; cs1 = new float[]?[pairs]; cs2 = new float[]?[pairs];
                for (int p = 0; p < pairs; p++)
                {
                    crossedPairs[p] = (r.ReadString(), r.ReadString(), r.ReadInt32(), r.ReadInt32());
                    (crossed[p], cs1[p], cs2[p]) = ReadTable(r);
                }
            }
            return new TrainingState
            {
                CrossedPairs = crossedPairs, CrossedTables = crossed, CrossedState1 = cs1, CrossedState2 = cs2,
                Parameters = parameters, OptimizerState = optimizer, Steps = steps, Fields = names, EmbeddingDim = dim, Tables = tables, TableState1 = s1, TableState2 = s2,
                Calibration = calibration, FieldAwareTables = fieldAware, FieldAwareState1 = fa1, FieldAwareState2 = fa2, Isotonic = isotonic,
            };
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or FormatException or OverflowException)
        {
            throw new InvalidDataException($"{path}: not a readable training state ({e.GetType().Name}: {e.Message})");
        }
    }

    // An extra table (field-aware, crossed) and its sparse optimizer's two states, each empty where it keeps none.
    private static void WriteTable(BinaryWriter w, float[] table, float[]? state1, float[]? state2)
    {
        Write(w, table);
        Write(w, state1 ?? []);
        Write(w, state2 ?? []);
    }

    private static (float[] Table, float[]? State1, float[]? State2) ReadTable(BinaryReader r)
    {
        var table = Read(r);
        var a = Read(r);
        var b = Read(r);
        return (table, a.Length > 0 ? a : null, b.Length > 0 ? b : null);
    }

    // One tensor: its length, then its values (shared with checkpoints).
    internal static void Write(BinaryWriter w, float[] values)
    {
        w.Write(values.Length);
        w.Write(MemoryMarshal.AsBytes(values.AsSpan()));
    }

    internal static float[] Read(BinaryReader r) => Values(r, r.ReadInt32());

    // The n values of a tensor whose length was just read.
    private static float[] Values(BinaryReader r, int n)
    {
        if (n < 0 || (long)n * sizeof(float) > r.BaseStream.Length - r.BaseStream.Position) throw new EndOfStreamException($"a tensor of {n} values runs past the end of the file");
        var values = new float[n];
        r.BaseStream.ReadExactly(MemoryMarshal.AsBytes(values.AsSpan()));
        return values;
    }
}
