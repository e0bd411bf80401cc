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
    private readonly int _batch;
    private readonly WorkerPool? _pool;
    private readonly Action<int, int> _fillWork;
    private TrainStepRunner? _runner;
    private int[] _order = [];
    private int _start, _real;

    /// <summary>The ids of the current batch, [batch, fields], for the embedding gather and update.</summary>
    public int[] Ids { get; }

    /// <summary>Creates a filler for batches of <paramref name="batch"/> rows.</summary>
    public BatchFiller(FeatureMatrix data, int batch, WorkerPool? pool = null)
    {
        _data = data;
        _batch = batch;
        _pool = pool;
        _fillWork = FillPart;
        Ids = new int[batch * data.Fields];
    }

    /// <summary>Fills rows <paramref name="order"/>[start .. start + batch) (padding past the end); returns the real row count.</summary>
    public int Fill(TrainStepRunner runner, int[] order, int start)
    {
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
        var click = runner.Input(MultiTaskInputs.Click);
        var conversion = runner.Input(MultiTaskInputs.Conversion);
        var rating = runner.Input(MultiTaskInputs.Rating);
        var rows = runner.Input(MultiTaskInputs.RowMask);
        var rated = runner.Input(MultiTaskInputs.RatingMask);
        for (int b = from; b < to; b++)
        {
            if (b < real)
            {
                if (b + 8 < real) _data.Prefetch(order[start + b + 8]);
                int r = order[start + b];
                _data.Ids(r).CopyTo(Ids.AsSpan(b * fields, fields));
                if (denseBuffer is not null) _data.Dense(r).CopyTo(denseBuffer.AsSpan(b * dense, dense));
                var labels = _data.LabelsOf(r);
                click[b] = labels[0];
                conversion[b] = labels[1];
                rating[b] = labels[2];
                rated[b] = labels[3];
                rows[b] = 1;
            }
            else
            {
                Array.Clear(Ids, b * fields, fields);
                if (denseBuffer is not null) Array.Clear(denseBuffer, b * dense, dense);
                click[b] = conversion[b] = rating[b] = rated[b] = rows[b] = 0;
            }
        }
    }
}
