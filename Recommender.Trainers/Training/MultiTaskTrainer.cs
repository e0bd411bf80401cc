using System.Diagnostics;
using Recommender.Trainers.Compilation;
using Recommender.Trainers.Embeddings;
using Recommender.Trainers.Evaluation;
using Recommender.Trainers.Network;
using Recommender.Trainers.Runtime;

namespace Recommender.Trainers.Training;

/// <summary>
/// The training loop: epochs over a seeded shuffle, dense parameters by the compiled train step (Adam with
/// warm-up and decay), embeddings by sparse Adagrad on the host, validation after each epoch, early stopping
/// on a chosen metric with the best epoch's weights kept, and a checkpoint after each epoch to resume from.
/// </summary>
public static class MultiTaskTrainer
{
    /// <summary>The model definition for an architecture.</summary>
    public static ModelDefinition Define(MultiTaskTrainerOptions o, MultiTaskSpec spec) => o.Architecture switch
    {
        MultiTaskArchitecture.SharedBottom => SharedBottom.Create(spec, o.Bottom, o.Tower),
        // ESMM has no shared bottom: each tower gets the bottom's layers and the tower's.
        MultiTaskArchitecture.Esmm => Esmm.Create(spec, [.. o.Bottom, .. o.Tower]),
        MultiTaskArchitecture.Mmoe => Mmoe.Create(spec, o.Experts, o.Expert, o.Tower),
        MultiTaskArchitecture.Ple => Ple.Create(spec, o.PleLayers, o.SharedExperts, o.TaskExperts, o.Expert, o.Tower),
        _ => throw new ArgumentOutOfRangeException(nameof(o), o.Architecture, "unknown architecture"),
    };

    /// <summary>
    /// Trains on <paramref name="train"/>; <paramref name="fieldRows"/> are the table sizes (vocabulary + 1). With
    /// <paramref name="initial"/> (a warm start) training goes on from that state: dense parameters, optimizer state
    /// and step count as they were, each table's known rows and their optimizer state kept bit for bit, rows of ids
    /// first seen since (the tables may only grow) initialized as a fresh model's. The learning-rate schedule
    /// (warm-up, then decay) restarts over the new data. <paramref name="fieldNames"/> name the tables in the state.
    /// </summary>
    public static TrainedMultiTaskModel Train(FeatureMatrix train, FeatureMatrix? validation, IReadOnlyList<int> fieldRows, MultiTaskTrainerOptions o,
        TrainingState? initial = null, IReadOnlyList<string>? fieldNames = null)
    {
        var tasks = o.ResolveTasks();
        string stoppingMetric = Validate(train, fieldRows, o, tasks);
        var names = fieldNames?.ToArray() ?? Enumerable.Range(0, fieldRows.Count).Select(f => $"field{f}").ToArray();
        var spec = new MultiTaskSpec
        {
            FieldRows = fieldRows, EmbeddingDim = o.EmbeddingDim, DenseSize = train.DenseSize, Tasks = tasks, Interactions = o.Interactions, CrossLayers = o.CrossLayers,
            LearnTaskWeights = o.LearnTaskWeights, Seed = o.Seed,
            Sequences = ResolveSequences(o, names), Pooling = o.Pooling, AttentionHidden = o.AttentionHidden, SequenceMatches = o.SequenceMatches, FieldAwareDim = o.FieldAwareDim,
            CrossedRowLimit = o.CrossedRowLimit, CrossedDim = o.CrossedDim, CrossedFieldPairs = KeptCrossedPairs(initial, names, o),
        };
        spec.ValidateSequences();
        CheckTableMemory(spec, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes);
        var compiled = TrainStepCompiler.Compile(Define(o, spec), new DenseOptimizerOptions
        {
            Kind = o.Optimizer, WeightDecay = o.WeightDecay, Momentum = o.Momentum, ClipNorm = o.GradientClipNorm,
        });
        int batch = Math.Min(o.BatchSize, Math.Max(1, train.Rows));
        var runtime = new RuntimeOptions { Device = o.Device, Threads = o.Threads, AllowSpinning = o.AllowSpinning };
        using var runner = new TrainStepRunner(compiled, batch, runtime);
        using var embeddings = new FieldEmbeddings(fieldRows, o.EmbeddingDim, o.Seed, threads: o.Threads, tableOf: spec.TableOwners());
        var sparse = new SparseAdagrad { L2 = o.EmbeddingL2 };
        // The field-aware vectors: one table per plain field, each row all of that value's vectors (one per plain field).
        using var fieldAware = spec.FieldAware
            ? new FieldEmbeddings(fieldRows.Take(spec.PlainFields).ToArray(), spec.PlainFields * spec.FieldAwareDim, o.Seed + 104729, threads: o.Threads, idStride: fieldRows.Count)
            : null;
        float[][]? bestFieldAware = null;
        // The crossed pairs' tables, a row per combination of the pair's ids; the rows of a batch are computed from its ids.
        var crossedPairs = spec.CrossedPairs().ToArray();
        using var crossed = spec.Crossed
            ? new FieldEmbeddings(crossedPairs.Select(p => checked((int)p.Rows)).ToArray(), spec.CrossedDim, o.Seed + 7_368_787, threads: o.Threads, idStride: crossedPairs.Length)
            : null;
        var crossedRows = new int[batch * crossedPairs.Length];
        float[][]? bestCrossed = null;
        if (initial is not null) Continue(initial, names, runner, embeddings, compiled, sparse, o, fieldAware, crossed, crossedPairs);
        if (o.AdaptiveEmbeddingL2 > 0)
        {
            var counts = IdCounts(train, fieldRows, spec);
            embeddings.SetAdaptiveL2(o.AdaptiveEmbeddingL2, counts);
            fieldAware?.SetAdaptiveL2(o.AdaptiveEmbeddingL2, counts.Take(spec.PlainFields).ToArray());
            crossed?.SetAdaptiveL2(o.AdaptiveEmbeddingL2, CrossedCounts(train, crossedPairs));
        }
        long startSteps = runner.Steps;
        var filler = new BatchFiller(train, tasks, batch, embeddings.Workers, spec.Sequences);
        int stepsPerEpoch = (train.Rows + batch - 1) / batch;
        long totalSteps = (long)stepsPerEpoch * o.Epochs;

        var history = new List<EpochReport>();
        int firstEpoch = 0, sinceBest = 0;
        double? best = null;
        Dictionary<string, float[]>? bestParameters = null;
        float[][]? bestTables = null;
        // Hashing the whole training matrix is only worth it when a checkpoint is there to be compared with.
        var fingerprint = o.CheckpointPath is null ? null : Fingerprint(o, train, validation, fieldRows).With("warm_start.steps", initial?.Steps);
        if (o.CheckpointPath is { } path && o.Resume && File.Exists(path))
        {
            var state = Checkpoint.Load(path, runner, embeddings, compiled, fingerprint!, fieldAware, crossed);
            firstEpoch = state.NextEpoch;
            history.AddRange(state.History);
            best = state.Best;
            sinceBest = state.SinceBest;
            bestParameters = state.BestParameters;
            bestTables = state.BestTables;
            bestFieldAware = state.BestFieldAware;
            bestCrossed = state.BestCrossed;
        }

        bool higher = MultiTaskMetrics.HigherIsBetter(stoppingMetric);
        var order = new int[train.Rows];
        for (int epoch = firstEpoch; epoch < o.Epochs; epoch++)
        {
            if (o.Patience > 0 && sinceBest >= o.Patience && validation is not null) break;
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < order.Length; i++) order[i] = i;
            new Random(o.Seed * 7919 + epoch).Shuffle(order);
            double lossSum = 0;
            var termSums = compiled.LossTerms.ToDictionary(t => t, _ => 0.0);
            for (int s = 0; s < stepsPerEpoch; s++)
            {
                o.Cancellation.ThrowIfCancellationRequested();
                int real = filler.Fill(runner, order, s * batch);
                embeddings.Gather(filler.Ids, batch, runner.Input(MultiTaskInputs.Embeddings));
                fieldAware?.Gather(filler.Ids, batch, runner.Input(MultiTaskInputs.FieldAwareEmbeddings));
                if (crossed is not null)
                {
                    CrossedPair.Fill(crossedPairs, filler.Ids, train.Fields, batch, crossedRows);
                    crossed.Gather(crossedRows, batch, runner.Input(MultiTaskInputs.CrossedEmbeddings));
                }
                runner.Step(LearningRate(o, runner.Steps - startSteps, totalSteps));
                embeddings.Update(filler.Ids, real, runner.EmbeddingGradient(MultiTaskInputs.Embeddings), sparse, o.EmbeddingLearningRate, runner.Steps);
                fieldAware?.Update(filler.Ids, real, runner.EmbeddingGradient(MultiTaskInputs.FieldAwareEmbeddings), sparse, o.EmbeddingLearningRate, runner.Steps);
                crossed?.Update(crossedRows, real, runner.EmbeddingGradient(MultiTaskInputs.CrossedEmbeddings), sparse, o.EmbeddingLearningRate, runner.Steps);
                float loss = runner.Loss;
                // A diverged run stops here, before a model of NaNs can be published or checkpointed.
                if (!float.IsFinite(loss))
                    throw new ArgumentException($"training diverged at step {runner.Steps:N0} (epoch {epoch + 1}): the loss is {loss}; lower LearningRate ({o.LearningRate}) or EmbeddingLearningRate ({o.EmbeddingLearningRate})");
                lossSum += loss;
                foreach (var t in compiled.LossTerms) termSums[t] += runner.LossTerm(t);
                o.Progress?.Invoke(epoch, s + 1, stepsPerEpoch, lossSum / (s + 1));
            }
            double trainingSeconds = clock.Elapsed.TotalSeconds;
            var parameters = runner.Parameters();
            var tables = embeddings.Tables.Select(t => t.Weights).ToArray();
            var fieldAwareTables = fieldAware?.Tables.Select(t => t.Weights).ToArray();
            var crossedTables = crossed?.Tables.Select(t => t.Weights).ToArray();
            var metrics = validation is null ? new Dictionary<string, double>() : Evaluate(compiled, parameters, tables, spec, validation, runtime, fieldAwareTables, crossedTables);
            bool isBest = false;
            if (validation is not null && metrics.TryGetValue(stoppingMetric, out double value) && !double.IsNaN(value))
            {
                if (best is null || (higher ? value > best : value < best))
                {
                    best = value;
                    sinceBest = 0;
                    isBest = true;
                    bestParameters = parameters;
                    bestTables = CloneTables(tables);
                    bestFieldAware = fieldAwareTables is null ? null : CloneTables(fieldAwareTables);
                    bestCrossed = crossedTables is null ? null : CloneTables(crossedTables);
                }
                else sinceBest++;
            }
            var report = new EpochReport(epoch + 1, lossSum / stepsPerEpoch, termSums.ToDictionary(kv => kv.Key, kv => kv.Value / stepsPerEpoch),
                metrics, clock.Elapsed.TotalSeconds, train.Rows / trainingSeconds, isBest);
            history.Add(report);
            // Checkpoint first: whatever happens after this line, the epoch is not lost.
            if (o.CheckpointPath is { } cp)
                Checkpoint.Save(cp, runner, embeddings, compiled, fingerprint!, new CheckpointState(epoch + 1, history, best, sinceBest, bestParameters, bestTables, bestFieldAware, bestCrossed), fieldAware, crossed);
            o.EpochCompleted?.Invoke(report);
        }
        var finalParameters = bestParameters ?? runner.Parameters();
        var finalTables = bestTables ?? CloneTables(embeddings.Tables.Select(t => t.Weights).ToArray());
        var finalFieldAware = fieldAware is null ? null : bestFieldAware ?? CloneTables(fieldAware.Tables.Select(t => t.Weights).ToArray());
        var finalCrossed = crossed is null ? null : bestCrossed ?? CloneTables(crossed.Tables.Select(t => t.Weights).ToArray());
        // Fitted on the validation data; without it a warm start keeps the calibration of the model it goes on from.
        var calibration = o.Calibration != CalibrationKind.Platt ? null
            : validation is not null ? Calibrate(compiled, finalParameters, finalTables, spec, validation, runtime, finalFieldAware, finalCrossed, PlattCalibration.Fit) : initial?.Calibration;
        var isotonic = o.Calibration != CalibrationKind.Isotonic ? null
            : validation is not null ? Calibrate(compiled, finalParameters, finalTables, spec, validation, runtime, finalFieldAware, finalCrossed, IsotonicCalibration.Fit) : initial?.Isotonic;
        // The state to go on from: the weights kept (the best epoch's, when early stopping chose one), the optimizer's
        // state as training left it, and the calibration.
        var continuation = new TrainingState
        {
            Parameters = finalParameters, Steps = runner.Steps, Fields = names, EmbeddingDim = o.EmbeddingDim, Tables = finalTables,
            OptimizerState = compiled.Definition.Parameters.ToDictionary(p => p.Name, p => compiled.Optimizer.StateNames.Select(s => runner.GetState(p.Name, s)).ToArray()),
            TableState1 = CloneStates(embeddings.Tables.Select(t => t.State1)),
            TableState2 = CloneStates(embeddings.Tables.Select(t => t.State2)),
            Calibration = calibration, Isotonic = isotonic,
            FieldAwareTables = finalFieldAware,
            FieldAwareState1 = fieldAware is null ? null : CloneStates(fieldAware.Tables.Select(t => t.State1)),
            FieldAwareState2 = fieldAware is null ? null : CloneStates(fieldAware.Tables.Select(t => t.State2)),
            CrossedPairs = crossed is null ? null : [.. crossedPairs.Select(p => (names[p.A], names[p.B], p.RowsA, p.RowsB))],
            CrossedTables = finalCrossed,
            CrossedState1 = crossed is null ? null : CloneStates(crossed.Tables.Select(t => t.State1)),
            CrossedState2 = crossed is null ? null : CloneStates(crossed.Tables.Select(t => t.State2)),
        };
        if (calibration is null && isotonic is null)
            return new TrainedMultiTaskModel(spec, compiled, finalParameters, finalTables, history, runner.Device) { State = continuation, FieldAwareTables = finalFieldAware, CrossedTables = finalCrossed };
        // The same parameters under heads that apply the calibration: the inference and export graphs change, the training graph did not.
        var calibrated = spec with { Calibration = calibration, Isotonic = isotonic };
        return new TrainedMultiTaskModel(calibrated, compiled.WithInferenceDefinition(Define(o, calibrated)), finalParameters, finalTables, history, runner.Device)
        {
            State = continuation, FieldAwareTables = finalFieldAware, CrossedTables = finalCrossed,
        };
    }

    // A copy of the tables in which fields that shared a table (a sequence's positions and their target) still share one.
    private static float[][] CloneTables(float[][] tables)
    {
        var copies = new Dictionary<float[], float[]>(ReferenceEqualityComparer.Instance);
        return tables.Select(t => copies.TryGetValue(t, out var c) ? c : copies[t] = (float[])t.Clone()).ToArray();
    }

    // The optimizer states of the tables, copied so that fields sharing a table share the copy (null where there is none).
    private static float[]?[] CloneStates(IEnumerable<float[]?> states)
    {
        var list = states.ToArray();
        if (list.Any(x => x is null)) return list.Select(x => (float[]?)x?.Clone()).ToArray();
        return CloneTables(list!);
    }

    // The options' sequences as field ranges: each sequence's positions must be consecutive key columns after the plain ones.
    private static SequenceSpec[] ResolveSequences(MultiTaskTrainerOptions o, string[] names)
    {
        int Index(string column, string role) => Array.IndexOf(names, column) is var i and >= 0 ? i
            : throw new ArgumentException($"the {role} column '{column}' is not one of the model's key columns [{string.Join(", ", names)}]");
        return (o.Sequences ?? []).Select(s =>
        {
            if (s.Positions.Length == 0) throw new ArgumentException($"sequence '{s.Name}' has no positions");
            int first = Index(s.Positions[0], $"sequence '{s.Name}' position");
            for (int i = 1; i < s.Positions.Length; i++)
                if (Index(s.Positions[i], $"sequence '{s.Name}' position") != first + i)
                    throw new ArgumentException($"sequence '{s.Name}': its positions must be consecutive key columns, in order");
            return new SequenceSpec(s.Name, Index(s.Target, $"sequence '{s.Name}' target"), first, s.Positions.Length);
        }).ToArray();
    }

    // Loads a warm start's state into a fresh runner and fresh (possibly larger) tables.
    private static void Continue(TrainingState initial, string[] names, TrainStepRunner runner, FieldEmbeddings embeddings, CompiledModel compiled,
        SparseAdagrad sparse, MultiTaskTrainerOptions o, FieldEmbeddings? fieldAware, FieldEmbeddings? crossed, IReadOnlyList<CrossedPair> crossedPairs)
    {
        if (initial.EmbeddingDim != o.EmbeddingDim) throw new ArgumentException($"the warm start has embeddings of width {initial.EmbeddingDim}, the options say {o.EmbeddingDim}");
        if (!initial.Fields.SequenceEqual(names)) throw new ArgumentException($"the warm start's fields [{string.Join(", ", initial.Fields)}] are not this model's [{string.Join(", ", names)}]");
        if ((initial.CrossedTables is not null) != (crossed is not null))
            throw new ArgumentException($"the warm start {(crossed is null ? "has" : "has no")} crossed embeddings and this model {(crossed is null ? "has none" : "needs them")}: the interactions must match");
        if (crossed is not null && initial.CrossedPairs is { Length: > 0 } kept)
        {
            // Checked before the network's parameters, whose first layer's size the width also changes.
            long keptRows = (long)kept[0].RowsA * kept[0].RowsB;
            int width = crossed.Tables[0].Dim;
            if (keptRows > 0 && initial.CrossedTables![0].Length != keptRows * width)
                throw new ArgumentException($"the warm start has crossed embeddings of width {initial.CrossedTables[0].Length / keptRows}, the options say {width}");
        }
        foreach (var p in compiled.Definition.Parameters)
        {
            if (!initial.Parameters.TryGetValue(p.Name, out var values) || values.Length != p.Size)
                throw new ArgumentException($"the warm start's network differs from this one at '{p.Name}' (architecture and layer sizes must match, and the input's blocks: the interactions, the crossed width, the sequence matches)");
            runner.SetParameter(p.Name, values);
            var states = initial.OptimizerState[p.Name];
            if (states.Length != compiled.Optimizer.StateNames.Length) throw new ArgumentException($"the warm start's optimizer state of '{p.Name}' does not match");
            for (int s = 0; s < states.Length; s++) runner.SetState(p.Name, compiled.Optimizer.StateNames[s], states[s]);
        }
        runner.SetSteps(initial.Steps);
        if ((initial.FieldAwareTables is not null) != (fieldAware is not null))
            throw new ArgumentException($"the warm start {(fieldAware is null ? "has" : "has no")} field-aware tables and this model {(fieldAware is null ? "has none" : "needs them")}: the interactions must match");
        if (fieldAware is not null) Restore(fieldAware, initial.FieldAwareTables!, initial.FieldAwareState1!, initial.FieldAwareState2!, names, sparse, "field-aware vectors");
        Restore(embeddings, initial.Tables, initial.TableState1, initial.TableState2, names, sparse, "embeddings");
        if (crossed is not null) RestoreCrossed(crossed, crossedPairs, initial, sparse);
    }

    // A warm start keeps its model's crossed pairs (none, if it had none), whatever the vocabularies have grown to: the
    // network keeps its shape.
    private static IReadOnlyList<(int A, int B)>? KeptCrossedPairs(TrainingState? initial, string[] names, MultiTaskTrainerOptions o)
    {
        if (initial is null || !o.Interactions.HasFlag(FeatureInteractions.CrossedEmbeddings)) return null;
        var kept = initial.CrossedPairs ?? [];
        return [.. kept.Select(p => (Array.IndexOf(names, p.A), Array.IndexOf(names, p.B)) is var (a, b) && a >= 0 && b >= 0 ? (a, b)
            : throw new ArgumentException($"the warm start crosses '{p.A}' x '{p.B}', which are not both fields of this model"))];
    }

    // Each crossed table's rows and optimizer state as they were, moved to where the grown vocabularies put them: row
    // (i, j) of a pair is i * rows_b + j, so when the second field gained ids every first id's block moves.
    private static void RestoreCrossed(FieldEmbeddings crossed, IReadOnlyList<CrossedPair> pairs, TrainingState initial, SparseAdagrad sparse)
    {
        var kept = initial.CrossedPairs!;
        if (kept.Length != pairs.Count) throw new ArgumentException($"the warm start has {kept.Length} crossed pairs, this model {pairs.Count}");
        for (int p = 0; p < pairs.Count; p++)
        {
            var (_, _, oldA, oldB) = kept[p];
            var table = crossed.Tables[p];
            int dim = table.Dim;
            if (oldA > pairs[p].RowsA || oldB > pairs[p].RowsB || initial.CrossedTables![p].Length != (long)oldA * oldB * dim)
                throw new ArgumentException($"crossed pair {p} had {oldA} x {oldB} rows in the warm start, {pairs[p].RowsA} x {pairs[p].RowsB} now: vocabularies may only grow");
            var s1 = initial.CrossedState1?[p];
            var s2 = initial.CrossedState2?[p];
            FreshStates(table, sparse, s1 is not null, s2 is not null);
            for (int i = 0; i < oldA; i++)
            {
                long from = (long)i * oldB * dim, to = (long)i * pairs[p].RowsB * dim;
                int length = oldB * dim;
                Array.Copy(initial.CrossedTables![p], from, table.Weights, to, length);
                if (s1 is not null) Array.Copy(s1, from, table.State1!, to, length);
                if (s2 is not null) Array.Copy(s2, from, table.State2!, to, length);
            }
        }
    }

    // Each table's known rows and optimizer state as they were; rows of ids first seen since (the tables may only grow) as a fresh model's.
    private static void Restore(FieldEmbeddings embeddings, float[][] tables, float[]?[] state1, float[]?[] state2, string[] names, SparseAdagrad sparse, string what)
    {
        if (tables.Length != embeddings.Fields) throw new ArgumentException($"the warm start has {tables.Length} tables of {what}, this model {embeddings.Fields}");
        for (int f = 0; f < embeddings.Fields; f++)
        {
            var table = embeddings.Tables[f];
            var old = tables[f];
            if (old.Length > table.Weights.Length || old.Length % table.Dim != 0)
                throw new ArgumentException($"field '{names[f]}' has {old.Length / (double)table.Dim:N0} rows of {what} in the warm start but {table.Rows:N0} now: vocabularies may only grow");
            old.CopyTo(table.Weights, 0);
            FreshStates(table, sparse, state1[f] is not null, state2[f] is not null);
            state1[f]?.CopyTo(table.State1!, 0);
            state2[f]?.CopyTo(table.State2!, 0);
        }
    }

    // The optimizer states a restored table's known rows are copied into: rows never seen start as a fresh model's.
    private static void FreshStates(EmbeddingTable table, SparseAdagrad sparse, bool first, bool second)
    {
        if (first)
        {
            table.State1 = new float[table.Weights.Length];
            if (sparse.InitialAccumulator != 0) Array.Fill(table.State1, sparse.InitialAccumulator);
        }
        if (second) table.State2 = new float[table.Weights.Length];
    }

    // Options that do not change what is learned are left out: where the checkpoint lives, the device and thread count
    // (a resume may move), callbacks. Everything else, and the data itself, must be the same for a resume.
    private static readonly HashSet<string> NotInFingerprint = [nameof(MultiTaskTrainerOptions.CheckpointPath), nameof(MultiTaskTrainerOptions.Resume),
        nameof(MultiTaskTrainerOptions.Device), nameof(MultiTaskTrainerOptions.Threads), nameof(MultiTaskTrainerOptions.AllowSpinning), nameof(MultiTaskTrainerOptions.Progress),
        nameof(MultiTaskTrainerOptions.EpochCompleted), nameof(MultiTaskTrainerOptions.Cancellation)];

    // How often each field takes each id in the training data; a behaviour sequence's padding (id 0 of a position) is not an occurrence.
    private static long[][] IdCounts(FeatureMatrix train, IReadOnlyList<int> fieldRows, MultiTaskSpec spec)
    {
        var counts = fieldRows.Select(r => new long[r]).ToArray();
        var position = new bool[fieldRows.Count];
        foreach (int f in spec.SequencePositionFields) position[f] = true;
        for (int row = 0; row < train.Rows; row++)
        {
            var ids = train.Ids(row);
            for (int f = 0; f < ids.Length; f++)
            {
                if ((uint)ids[f] >= (uint)counts[f].Length) throw new ArgumentOutOfRangeException(nameof(train), $"row {row}, field {f}: id {ids[f]} outside 0..{counts[f].Length - 1}");
                if (ids[f] != 0 || !position[f]) counts[f][ids[f]]++;
            }
        }
        return counts;
    }

    // The host tables (field embeddings, field-aware vectors, crossed embeddings), each with two optimizer states, against
    // what this process may use: a width or row limit too large for the machine is refused before anything is allocated,
    // with the options to lower, instead of failing in an allocation or overflowing a size.
    internal static void CheckTableMemory(MultiTaskSpec spec, long availableBytes)
    {
        var owners = spec.TableOwners();
        var tables = Enumerable.Range(0, spec.FieldRows.Count).Where(f => owners[f] == f).Select(f => (double)spec.FieldRows[f] * spec.EmbeddingDim)
            .Concat(spec.FieldAware ? Enumerable.Range(0, spec.PlainFields).Select(f => (double)spec.FieldRows[f] * spec.PlainFields * spec.FieldAwareDim) : [])
            .Concat(spec.CrossedPairs().Select(p => (double)p.Rows * spec.CrossedDim)).ToArray();
        double bytes = tables.Sum() * sizeof(float) * 3;
        if (tables.Any(t => t > Array.MaxLength) || bytes > availableBytes)
            throw new ArgumentException($"the embedding tables would take {bytes / (1L << 30):N1} GiB with their optimizer state (the largest {tables.Max():N0} floats), "
                + $"more than the {availableBytes / (double)(1L << 30):N1} GiB this process may use: lower EmbeddingDim, FieldAwareDim, CrossedDim or CrossedRowLimit");
    }

    // How often each crossed pair's row (a combination of its two fields' ids) occurs in the training data.
    internal static long[][] CrossedCounts(FeatureMatrix train, IReadOnlyList<CrossedPair> pairs)
    {
        var counts = pairs.Select(p => new long[checked((int)p.Rows)]).ToArray();
        for (int row = 0; row < train.Rows; row++)
        {
            var ids = train.Ids(row);
            for (int p = 0; p < pairs.Count; p++) counts[p][pairs[p].Row(ids[pairs[p].A], ids[pairs[p].B])]++;
        }
        return counts;
    }

    /// <summary>What makes a training run the run it is: its options and the content of its data.</summary>
    internal static JobFingerprint Fingerprint(MultiTaskTrainerOptions o, FeatureMatrix train, FeatureMatrix? validation, IReadOnlyList<int> fieldRows)
    {
        var f = new JobFingerprint();
        foreach (var field in typeof(MultiTaskTrainerOptions).GetFields().Where(x => !NotInFingerprint.Contains(x.Name)))
            f.With($"options.{field.Name}", field.GetValue(o) is System.Collections.IEnumerable a and not string ? string.Join(',', a.Cast<object>()) : field.GetValue(o));
        f.With("data.train", train.ContentSha256()).With("data.validation", validation?.ContentSha256()).With("data.table_rows", string.Join(',', fieldRows));
        return f;
    }

    /// <summary>Linear warm-up, then constant or cosine down to 10%.</summary>
    public static float LearningRate(MultiTaskTrainerOptions o, long step, long totalSteps)
    {
        if (o.WarmupSteps > 0 && step < o.WarmupSteps) return o.LearningRate * (step + 1) / o.WarmupSteps;
        if (o.Decay == LearningRateDecay.None || totalSteps <= o.WarmupSteps) return o.LearningRate;
        double progress = Math.Clamp((step - o.WarmupSteps) / (double)(totalSteps - o.WarmupSteps), 0, 1);
        return (float)(o.LearningRate * (0.1 + 0.9 * 0.5 * (1 + Math.Cos(Math.PI * progress))));
    }

    /// <summary>Validation metrics of a model on labelled data.</summary>
    public static Dictionary<string, double> Evaluate(CompiledModel compiled, IReadOnlyDictionary<string, float[]> parameters, IReadOnlyList<float[]> tables,
        MultiTaskSpec spec, FeatureMatrix data, RuntimeOptions? runtime = null, IReadOnlyList<float[]>? fieldAwareTables = null, IReadOnlyList<float[]>? crossedTables = null)
    {
        var p = TrainedMultiTaskModel.Predict(compiled, parameters, tables, spec, data, runtime, BatchedInference.DefaultBatchSize, fieldAwareTables, crossedTables);
        return MultiTaskMetrics.Compute(spec.Tasks, p.Columns, Labels(spec, data), groups: null).Items().ToDictionary(m => m.Name, m => m.Value.Value);
    }

    // Each task's label column the data has, by task name (NaN where a row has none).
    private static Dictionary<string, float[]> Labels(MultiTaskSpec spec, FeatureMatrix data) =>
        Enumerable.Range(0, spec.Tasks.Count).Where(data.HasLabel).ToDictionary(t => spec.Tasks[t].Name, data.LabelColumn);

    private delegate T Fitter<T>(ReadOnlySpan<float> probabilities, ReadOnlySpan<float> labels);

    /// <summary>A calibration (Platt's or isotonic) of every binary task with labels, fitted on the validation rows where the task is defined.</summary>
    private static Dictionary<string, T> Calibrate<T>(CompiledModel compiled, IReadOnlyDictionary<string, float[]> parameters, IReadOnlyList<float[]> tables,
        MultiTaskSpec spec, FeatureMatrix validation, RuntimeOptions runtime, IReadOnlyList<float[]>? fieldAwareTables, IReadOnlyList<float[]>? crossedTables, Fitter<T> fit)
    {
        var p = TrainedMultiTaskModel.Predict(compiled, parameters, tables, spec, validation, runtime, BatchedInference.DefaultBatchSize, fieldAwareTables, crossedTables);
        var labels = Labels(spec, validation);
        var (defined, _) = MultiTaskMetrics.Domains(spec.Tasks, labels);
        var calibration = new Dictionary<string, T>();
        foreach (var task in spec.Tasks.Where(t => t.Kind == TaskKind.Binary && defined.ContainsKey(t.Name)))
        {
            var own = p[task.ConditionalPredictionName ?? task.PredictionName];
            var rows = Enumerable.Range(0, own.Length).Where(i => defined[task.Name][i]).ToArray();
            calibration[task.Name] = fit(rows.Select(i => own[i]).ToArray(), rows.Select(i => labels[task.Name][i]).ToArray());
        }
        return calibration;
    }

    /// <summary>The early-stopping metric's <c>task.metric</c> name: the one asked for, or the first binary task's AUC (else the first task's RMSE).</summary>
    public static string StoppingMetric(MultiTaskTrainerOptions o, IReadOnlyList<TaskDefinition> tasks)
    {
        var valid = MultiTaskMetrics.ValidationNames(tasks);
        if (o.EarlyStoppingMetric is null) return tasks.FirstOrDefault(t => t.Kind == TaskKind.Binary) is { } b ? $"{b.Name}.auc" : $"{tasks[0].Name}.rmse";
        string name = MultiTaskMetrics.Canonical(o.EarlyStoppingMetric);
        if (!valid.Contains(name)) throw new ArgumentException($"early-stopping metric '{o.EarlyStoppingMetric}' is not one of this model's: {string.Join(", ", valid)}");
        return name;
    }

    private static string Validate(FeatureMatrix train, IReadOnlyList<int> fieldRows, MultiTaskTrainerOptions o, IReadOnlyList<TaskDefinition> tasks)
    {
        if (train.Rows == 0) throw new ArgumentException("the training data has no rows");
        if (fieldRows.Count != train.Fields) throw new ArgumentException($"{fieldRows.Count} table sizes for {train.Fields} fields");
        foreach (var (name, v) in new[] { ("CtrWeight", o.CtrWeight), ("CvrWeight", o.CvrWeight), ("RatingWeight", o.RatingWeight), ("EmbeddingL2", o.EmbeddingL2), ("AdaptiveEmbeddingL2", o.AdaptiveEmbeddingL2),
            ("WeightDecay", o.WeightDecay), ("GradientClipNorm", o.GradientClipNorm) })
            if (!float.IsFinite(v) || v < 0) throw new ArgumentException($"{name} must be a finite number >= 0, got {v}");
        if (o.Interactions.HasFlag(FeatureInteractions.FieldAwareLinear) && !o.Interactions.HasFlag(FeatureInteractions.FieldAware))
            throw new ArgumentException("the FieldAwareLinear interaction reads FieldAware's pair products: add FieldAware");
        if (!(o.Momentum >= 0 && o.Momentum < 1)) throw new ArgumentException($"Momentum must be in [0, 1), got {o.Momentum}");
        if (!Enum.IsDefined(o.Optimizer)) throw new ArgumentException($"unknown optimizer {o.Optimizer}");
        TaskList.Validate(tasks);
        if (train.LabelCount != tasks.Count) throw new ArgumentException($"the data has {train.LabelCount} label slots for {tasks.Count} tasks");
        for (int t = 0; t < tasks.Count; t++)
        {
            var task = tasks[t];
            if (task.Weight > 0 && !train.HasLabel(t))
                throw new ArgumentException($"task '{task.Name}' is on (weight {task.Weight}) but the data has no label column '{task.Label}'; add the label or give the task weight 0");
            if (task.Weight > 0 && task.Given is { } given && !train.HasLabel(tasks.ToList().FindIndex(x => x.Name == given)))
                throw new ArgumentException($"task '{task.Name}' is given '{given}', whose label column is not in the data");
        }
        if (o.Epochs < 1 || o.BatchSize < 1 || o.EmbeddingDim < 1) throw new ArgumentException("Epochs, BatchSize and EmbeddingDim must be positive");
        if (o.BatchSize > RuntimeOptions.MaxBatchRows) throw new ArgumentException($"BatchSize must be at most {RuntimeOptions.MaxBatchRows:N0}, got {o.BatchSize:N0}");
        if (o.CrossLayers < 1) throw new ArgumentException($"CrossLayers must be at least 1, got {o.CrossLayers}");
        if (o.FieldAwareDim < 1) throw new ArgumentException($"FieldAwareDim must be at least 1, got {o.FieldAwareDim}");
        if (o.CrossedRowLimit < 1) throw new ArgumentException($"CrossedRowLimit must be at least 1, got {o.CrossedRowLimit}");
        if (o.CrossedDim < 1) throw new ArgumentException($"CrossedDim must be at least 1, got {o.CrossedDim}");
        // Zero is allowed: a warm start at rate zero must reproduce the model it starts from.
        if (!(float.IsFinite(o.LearningRate) && o.LearningRate >= 0) || !(float.IsFinite(o.EmbeddingLearningRate) && o.EmbeddingLearningRate >= 0))
            throw new ArgumentException($"the learning rates must be finite and at least 0, got LearningRate {o.LearningRate}, EmbeddingLearningRate {o.EmbeddingLearningRate}");
        if (o.Threads < 0 || o.WarmupSteps < 0 || o.Patience < 0) throw new ArgumentException("Threads, WarmupSteps and Patience cannot be negative");
        if (o.Threads > RuntimeOptions.MaxThreads) throw new ArgumentException($"Threads must be at most {RuntimeOptions.MaxThreads}, got {o.Threads}");
        return StoppingMetric(o, tasks);
    }
}
