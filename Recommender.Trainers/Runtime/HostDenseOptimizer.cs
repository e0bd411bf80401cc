using System.Numerics;
using System.Runtime.InteropServices;
using Recommender.Trainers.Compilation;
using Recommender.Trainers.Embeddings;

namespace Recommender.Trainers.Runtime;

/// <summary>
/// <see cref="DenseOptimizerOptions"/> applied on the host to all dense parameters at once, laid out in one flat buffer: one
/// vectorized pass reads parameter, gradient and state and writes parameter and state. In the graph the same update is about
/// fourteen ONNX kernels per parameter tensor (six hundred a step for MMoE), each reading and writing its tensor again; here
/// it is one pass, split over the workers by element range, so the result does not depend on the number of workers.
/// Same arithmetic as <see cref="DenseOptimizerOptions.Apply"/> (PyTorch semantics), in float32, in the same order.
/// </summary>
internal sealed class HostDenseOptimizer
{
    // Clipping's squared norm is summed per chunk of this many values, then over the chunks in order: the same sum whatever
    // the number of workers.
    private const int NormChunk = 1 << 14;
    private readonly DenseOptimizerOptions _options;
    private readonly float[] _parameters, _gradients;
    private readonly float[][] _state;
    private readonly double[] _chunkSums;
    private readonly WorkerPool _workers;
    private readonly Action<int, int> _sumSquares, _update;
    private float _learningRate, _scale, _correction1, _correction2;

    /// <param name="options">The optimizer.</param>
    /// <param name="parameters">All dense parameters, flat.</param>
    /// <param name="gradients">Their gradients, same layout.</param>
    /// <param name="state">The optimizer state in <see cref="DenseOptimizerOptions.StateNames"/> order, same layout.</param>
    /// <param name="workers">The threads that share the pass.</param>
    public HostDenseOptimizer(DenseOptimizerOptions options, float[] parameters, float[] gradients, float[][] state, WorkerPool workers)
    {
        if (gradients.Length != parameters.Length || state.Length != options.StateNames.Length || state.Any(s => s.Length != parameters.Length))
            throw new ArgumentException("the gradients and the state must have the parameters' layout");
        if (parameters.Length % Vector<float>.Count != 0) throw new ArgumentException($"the buffers must be a whole number of {Vector<float>.Count}-float vectors");
        _options = options;
        _parameters = parameters;
        _gradients = gradients;
        _state = state;
        _workers = workers;
        _chunkSums = new double[(parameters.Length + NormChunk - 1) / NormChunk];
        _sumSquares = SumSquares;
        _update = Update;
    }

    /// <summary>One step: <paramref name="step"/> is the 1-based count used for Adam's bias correction.</summary>
    public void Step(float learningRate, long step)
    {
        _learningRate = learningRate;
        _scale = 1f;
        if (_options.ClipNorm > 0)
        {
            _workers.Run(_sumSquares);
            double total = 0;
            foreach (var s in _chunkSums) total += s;
            // As the graph: min(1, clip / (norm + 1e-6)).
            _scale = MathF.Min(1f, (float)_options.ClipNorm / ((float)Math.Sqrt(total) + 1e-6f));
        }
        _correction1 = 1f - MathF.Pow((float)_options.Beta1, step);
        _correction2 = 1f - MathF.Pow((float)_options.Beta2, step);
        _workers.Run(_update);
    }

    private static (int Start, int End) RangeOf(int worker, int workers, int count, int align)
    {
        int per = (count / workers + align - 1) / align * align;
        int start = Math.Min(count, worker * per);
        return (start, worker == workers - 1 ? count : Math.Min(count, start + per));
    }

    private void SumSquares(int worker, int workers)
    {
        var (first, last) = RangeOf(worker, workers, _chunkSums.Length, 1);
        for (int c = first; c < last; c++)
        {
            var g = _gradients.AsSpan(c * NormChunk, Math.Min(NormChunk, _gradients.Length - c * NormChunk));
            double sum = 0;
            foreach (float x in g) sum += (double)x * x;
            _chunkSums[c] = sum;
        }
    }

    private void Update(int worker, int workers)
    {
        var (start, end) = RangeOf(worker, workers, _parameters.Length, Vector<float>.Count);
        if (start >= end) return;
        var p = _parameters.AsSpan(start, end - start);
        var g = _gradients.AsSpan(start, end - start);
        float lr = _learningRate, scale = _scale, wd = (float)_options.WeightDecay;
        switch (_options.Kind)
        {
            case DenseOptimizerKind.Sgd when _options.Momentum <= 0:
                for (int i = 0; i < p.Length; i++)
                {
                    float grad = g[i] * scale + p[i] * wd;
                    p[i] -= lr * grad;
                }
                return;
            case DenseOptimizerKind.Sgd:
            {
                var buf = _state[0].AsSpan(start, end - start);
                float momentum = (float)_options.Momentum;
                for (int i = 0; i < p.Length; i++)
                {
                    float grad = g[i] * scale + p[i] * wd;
                    buf[i] = buf[i] * momentum + grad;
                    p[i] -= lr * buf[i];
                }
                return;
            }
            default:
                Adam(p, g, _state[0].AsSpan(start, end - start), _state[1].AsSpan(start, end - start), lr, scale,
                    _options.Kind == DenseOptimizerKind.Adam ? wd : 0f, _options.Kind == DenseOptimizerKind.AdamW ? 1f - lr * wd : 1f);
                return;
        }
    }

    // m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; p -= lr (m / c1) / (sqrt(v / c2) + eps), with Adam's L2 added to g
    // (l2) or AdamW's decay applied to p first (decay = 1 - lr wd). Whole vectors only: the buffers are a whole number of
    // them, and so is every worker's range.
    private void Adam(Span<float> p, Span<float> g, Span<float> m, Span<float> v, float lr, float scale, float l2, float decay)
    {
        var (b1, b2, a1, a2) = (new Vector<float>((float)_options.Beta1), new Vector<float>((float)_options.Beta2),
            new Vector<float>((float)(1 - _options.Beta1)), new Vector<float>((float)(1 - _options.Beta2)));
        var (c1, c2, eps) = (new Vector<float>(_correction1), new Vector<float>(_correction2), new Vector<float>((float)_options.Epsilon));
        var (rate, s, wd, d) = (new Vector<float>(lr), new Vector<float>(scale), new Vector<float>(l2), new Vector<float>(decay));
        var pv = MemoryMarshal.Cast<float, Vector<float>>(p);
        var gv = MemoryMarshal.Cast<float, Vector<float>>(g);
        var mv = MemoryMarshal.Cast<float, Vector<float>>(m);
        var vv = MemoryMarshal.Cast<float, Vector<float>>(v);
        for (int k = 0; k < pv.Length; k++)
        {
            var param = pv[k];
            var grad = gv[k] * s + param * wd;
            var mk = mv[k] * b1 + grad * a1;
            var vk = vv[k] * b2 + grad * grad * a2;
            mv[k] = mk;
            vv[k] = vk;
            pv[k] = param * d - rate * (mk / c1 / (Vector.SquareRoot(vk / c2) + eps));
        }
    }
}
