using Recommender.Trainers.Graph;

namespace Recommender.Trainers.Network;

/// <summary>
/// Isotonic calibration of a binary head (Zadrozny and Elkan, 2002; ML.NET's PAV calibrator): the probability becomes a
/// non-decreasing step function of the head's own, fitted by pool-adjacent-violators on held-out rows. Block k covers
/// raw probabilities up to <see cref="Upper"/>[k] and maps them to <see cref="Values"/>[k] (the block's click rate); past
/// the last bound, the last value. At most <see cref="MaxBlocks"/> blocks, adjacent ones merged by weight beyond that,
/// so that the step compiles into a small graph. Unlike Platt scaling it can bend any monotone miscalibration, and it
/// ties rows within a block.
/// </summary>
public sealed record IsotonicCalibration(double[] Upper, double[] Values)
{
    /// <summary>Most blocks kept.</summary>
    public const int MaxBlocks = 128;

    /// <summary>Fits the step to the labels (0/1) of rows whose uncalibrated probabilities are <paramref name="probabilities"/>.</summary>
    public static IsotonicCalibration Fit(ReadOnlySpan<float> probabilities, ReadOnlySpan<float> labels)
    {
        int n = probabilities.Length;
        if (n == 0) return new IsotonicCalibration([1], [0.5]);
        var keys = probabilities.ToArray();
        var order = Enumerable.Range(0, n).ToArray();
        Array.Sort(keys, order);
        // Pool adjacent violators over blocks of (upper bound, label sum, weight): equal probabilities share a block (the
        // step is a function of them), and a block whose mean is not above the one before joins it.
        var (upper, sum, weight) = (new List<double>(), new List<double>(), new List<double>());
        foreach (int i in order)
        {
            if (upper.Count > 0 && upper[^1] == probabilities[i]) { sum[^1] += labels[i]; weight[^1]++; }
            else { upper.Add(probabilities[i]); sum.Add(labels[i]); weight.Add(1); }
            while (upper.Count > 1 && sum[^2] / weight[^2] >= sum[^1] / weight[^1])
            {
                sum[^2] += sum[^1]; weight[^2] += weight[^1]; upper[^2] = upper[^1];
                upper.RemoveAt(upper.Count - 1); sum.RemoveAt(sum.Count - 1); weight.RemoveAt(weight.Count - 1);
            }
        }
        // Neighbours merged keep the means in order: groups of at least total / MaxBlocks weight, the last one folded
        // into the one before when it would make one too many.
        if (upper.Count > MaxBlocks)
        {
            double per = weight.Sum() / MaxBlocks;
            var (u2, s2, w2) = (new List<double>(), new List<double>(), new List<double>());
            for (int k = 0; k < upper.Count; k++)
            {
                if (u2.Count == 0 || w2[^1] >= per) { u2.Add(upper[k]); s2.Add(sum[k]); w2.Add(weight[k]); }
                else { u2[^1] = upper[k]; s2[^1] += sum[k]; w2[^1] += weight[k]; }
            }
            if (u2.Count > MaxBlocks)
            {
                u2[^2] = u2[^1]; s2[^2] += s2[^1]; w2[^2] += w2[^1];
                u2.RemoveAt(u2.Count - 1); s2.RemoveAt(s2.Count - 1); w2.RemoveAt(w2.Count - 1);
            }
            (upper, sum, weight) = (u2, s2, w2);
        }
        return new IsotonicCalibration([.. upper], [.. sum.Select((s, k) => s / weight[k])]);
    }

    /// <summary>The calibrated probability of <paramref name="p"/> (on the host).</summary>
    public double Apply(double p)
    {
        for (int k = 0; k < Upper.Length; k++) if (p <= Upper[k]) return Values[k];
        return Values[^1];
    }

    /// <summary>
    /// The step in a graph, for probabilities <paramref name="p"/> [B, 1]: <c>v_0 + sum_k (v_k - v_(k-1)) [p &gt; upper_(k-1)]</c>,
    /// one comparison against the bounds and one product. Not differentiable: inference only.
    /// </summary>
    public Value Apply(GraphBuilder g, Value p, string name)
    {
        var first = g.Scalar(Values[0], p.Type);
        if (Values.Length == 1) return g.Add(g.Mul(p, g.Scalar(0, p.Type)), first);
        var bounds = g.Initializer($"{name}.upper", [Upper.Length - 1], Upper[..^1].Select(v => (float)v).ToArray());
        var steps = g.Initializer($"{name}.steps", [Values.Length - 1, 1], Values.Skip(1).Select((v, k) => (float)(v - Values[k])).ToArray());
        if (p.Type != Onnx.TensorProto.Types.DataType.Float) throw new NotSupportedException("isotonic calibration compiles into float graphs");
        return g.Add(g.MatMul(g.Cast(g.Greater(p, bounds), p.Type), steps), first);
    }
}
