using System.Globalization;

namespace Recommender.Pipeline.Scoring;

/// <summary>
/// How a ranked list is turned into the items shown, slot by slot: <c>greedy</c> (the best remaining item),
/// <c>epsilon:E</c> (with probability E a uniformly random remaining item, else the best) or <c>softmax:T</c>
/// (a remaining item with probability proportional to <c>exp(score / T)</c>, T in the rank score's units). Each
/// shown item's propensity is its probability of being chosen at its slot given the items chosen before it, the
/// quantity off-policy estimators divide by. Ties between equal scores go to the smaller item id, so a greedy
/// ranking is the same on every run.
/// </summary>
public sealed class ExplorationPolicy
{
    private ExplorationPolicy(string kind, double parameter)
    {
        Kind = kind;
        Parameter = parameter;
    }

    /// <summary>greedy, epsilon or softmax.</summary>
    public string Kind { get; }
    /// <summary>Epsilon, or the softmax temperature (0 for greedy).</summary>
    public double Parameter { get; }
    /// <summary>As written, e.g. <c>epsilon:0.1</c>.</summary>
    public string Name => Kind == "greedy" ? "greedy" : $"{Kind}:{Parameter.ToString("R", CultureInfo.InvariantCulture)}";

    /// <summary>The greedy policy.</summary>
    public static readonly ExplorationPolicy Greedy = new("greedy", 0);

    /// <summary>Parses <c>greedy</c>, <c>epsilon:E</c> (0 &lt;= E &lt;= 1) or <c>softmax:T</c> (T &gt; 0).</summary>
    public static ExplorationPolicy Parse(string text)
    {
        var parts = text.Trim().Split(':', 2);
        string kind = parts[0].ToLowerInvariant();
        if (kind == "greedy" && parts.Length == 1) return Greedy;
        if (parts.Length == 2 && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v))
        {
            if (kind == "epsilon" && v is >= 0 and <= 1) return new ExplorationPolicy(kind, v);
            if (kind == "softmax" && v > 0) return new ExplorationPolicy(kind, v);
        }
        throw new FormatException($"policy '{text}': use greedy, epsilon:E with 0 <= E <= 1, or softmax:T with T > 0");
    }

    /// <summary>
    /// The probability of each candidate being chosen at the next slot, given which are <paramref name="taken"/>
    /// (taken ones get 0); <paramref name="order"/> breaks ties (smaller first). Sums to one over the remaining.
    /// </summary>
    public void NextSlot(ReadOnlySpan<double> scores, IReadOnlyList<string> order, ReadOnlySpan<bool> taken, Span<double> probabilities)
    {
        int best = -1, remaining = 0;
        for (int i = 0; i < scores.Length; i++)
        {
            if (taken[i]) continue;
            remaining++;
            if (best < 0 || scores[i] > scores[best] || scores[i] == scores[best] && string.CompareOrdinal(order[i], order[best]) < 0) best = i;
        }
        probabilities.Clear();
        if (remaining == 0) return;
        switch (Kind)
        {
            case "greedy":
                probabilities[best] = 1;
                break;
            case "epsilon":
                for (int i = 0; i < scores.Length; i++) if (!taken[i]) probabilities[i] = Parameter / remaining;
                probabilities[best] += 1 - Parameter;
                break;
            default:
                // exp((s - max) / T): the best item's weight is 1, so no overflow whatever the scale.
                double sum = 0;
                for (int i = 0; i < scores.Length; i++)
                {
                    if (taken[i]) continue;
                    probabilities[i] = Math.Exp((scores[i] - scores[best]) / Parameter);
                    sum += probabilities[i];
                }
                for (int i = 0; i < scores.Length; i++) probabilities[i] /= sum;
                break;
        }
    }

    /// <summary>Chooses <paramref name="k"/> candidates slot by slot: their indices and propensities.</summary>
    public (int Index, double Propensity)[] Choose(ReadOnlySpan<double> scores, IReadOnlyList<string> order, int k, Random random)
    {
        int n = scores.Length;
        k = Math.Min(k, n);
        var taken = new bool[n];
        var probabilities = new double[n];
        var chosen = new (int, double)[k];
        for (int slot = 0; slot < k; slot++)
        {
            NextSlot(scores, order, taken, probabilities);
            int pick = -1;
            if (Kind == "greedy") pick = Array.IndexOf(probabilities, 1.0);
            else
            {
                double u = random.NextDouble(), cumulative = 0;
                for (int i = 0; i < n && pick < 0; i++)
                {
                    if (taken[i]) continue;
                    cumulative += probabilities[i];
                    if (u < cumulative) pick = i;
                }
                // Rounding can leave u just above the last cumulative sum: the last remaining item then.
                if (pick < 0) for (int i = n - 1; i >= 0 && pick < 0; i--) if (!taken[i] && probabilities[i] > 0) pick = i;
            }
            taken[pick] = true;
            chosen[slot] = (pick, probabilities[pick]);
        }
        return chosen;
    }
}
