using Recommender.Trainers.Embeddings;
using Recommender.Trainers.Network;
using Recommender.Trainers.Runtime;

namespace Recommender.Trainers.Training;

/// <summary>
/// Copies the rows of a <see cref="FeatureMatrix"/> named by an index array into a train step's input
/// buffers and its id buffer; rows past the end of the data become padding (row mask 0). Allocation-free.
/// </summary>
public sealed class BatchFiller
{
    private readonly FeatureMatrix _data;
    private readonly string[] _labelInputs, _maskInputs;
    private readonly int _batch, _positions;
    private readonly IReadOnlyList<SequenceSpec> _sequences;
    private readonly WorkerPool? _pool;
    private readonly Action<int, int> _fillWork;
    private TrainStepRunner? _runner;
    // The runner's label and mask buffers, labels first, looked up once per runner (not per batch and worker).
    private float[][] _labelBuffers = [];
    private int[] _order = [];
    private int _start, _real;

    /// <summary>The ids of the current batch, [batch, fields], for the embedding gather and update.</summary>
    public int[] Ids { get; }

    /// <summary>
    /// Creates a filler for batches of <paramref name="batch"/> rows; the data's label slots are the <paramref name="tasks"/>'
    /// labels, in order; with <paramref name="sequences"/>, each row's sequence mask is filled from its ids.
    /// </summary>
    public BatchFiller(FeatureMatrix data, IReadOnlyList<TaskDefinition> tasks, int batch, WorkerPool? pool = null, IReadOnlyList<SequenceSpec>? sequences = null)
    {
        _sequences = sequences ?? [];
        _positions = _sequences.Sum(s => s.Length);
        if (tasks.Count != data.LabelCount) throw new ArgumentException($"{tasks.Count} tasks for {data.LabelCount} label slots");
        _data = data;
        _labelInputs = tasks.Select(MultiTaskInputs.Label).ToArray();
        _maskInputs = tasks.Select(MultiTaskInputs.LabelMask).ToArray();
        _batch = batch;
        _pool = pool;
        _fillWork = FillPart;
        Ids = new int[batch * data.Fields];
    }

    /// <summary>Fills rows <paramref name="order"/>[start .. start + batch) (padding past the end); returns the real row count.</summary>
    public int Fill(TrainStepRunner runner, int[] order, int start)
    {
        if (!ReferenceEquals(runner, _runner))
            _labelBuffers = [.. _labelInputs.Select(runner.Input), .. _maskInputs.Select(runner.Input)];
        _runner = runner; _order = order; _start = start;
        _real = Math.Clamp(order.Length - start, 0, _batch);
        if (_pool is null) FillPart(0, 1);
        else _pool.Run(_fillWork);
        return _real;
    }

    // Rows are split in contiguous ranges across workers.
    private void FillPart(int worker, int workers)
    {
        var runner = _runner!;
        int[] order = _order;
        int start = _start, real = _real;
        int from = _batch * worker / workers, to = _batch * (worker + 1) / workers;
        int fields = _data.Fields, dense = _data.DenseSize;
        var denseBuffer = dense > 0 ? runner.Input(MultiTaskInputs.Dense) : null;
        var labelBuffers = _labelBuffers;
        var rows = runner.Input(MultiTaskInputs.RowMask);
        int positions = _positions;
        var maskBuffer = positions > 0 ? runner.Input(MultiTaskInputs.SequenceMask) : null;
        for (int b = from; b < to; b++)
        {
            if (b < real)
            {
                if (b + 8 < real) _data.Prefetch(order[start + b + 8]);
                int r = order[start + b];
                _data.Ids(r).CopyTo(Ids.AsSpan(b * fields, fields));
                if (denseBuffer is not null) _data.Dense(r).CopyTo(denseBuffer.AsSpan(b * dense, dense));
                if (maskBuffer is not null) SequenceSpec.FillMask(_sequences, Ids.AsSpan(b * fields, fields), maskBuffer.AsSpan(b * positions, positions));
                var labels = _data.LabelsOf(r);
                for (int l = 0; l < labels.Length; l++) labelBuffers[l][b] = labels[l];
                rows[b] = 1;
            }
            else
            {
                Array.Clear(Ids, b * fields, fields);
                if (denseBuffer is not null) Array.Clear(denseBuffer, b * dense, dense);
                if (maskBuffer is not null) Array.Clear(maskBuffer, b * positions, positions);
                foreach (var buffer in labelBuffers) buffer[b] = 0;
                rows[b] = 0;
            }
        }
    }
}
