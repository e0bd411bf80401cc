using System.Globalization;
using Recommender.Trainers.Network;

namespace Recommender.Pipeline.Scoring;

/// <summary>
/// A ranking score as a product of factors, each <c>name</c> or <c>name^exponent</c> or a number:
/// names are the model's prediction columns (case-insensitive: <c>P_purchase</c>, <c>Pred_rating</c>; for the default
/// chain also <c>pctr</c>, <c>pcvr</c>, <c>pctcvr</c>, <c>rating</c>) or any dense column of the input (its raw value),
/// e.g. <c>pctr^1 * pcvr^0.5 * item_price</c>, or eCPM <c>pctr * bid * 1000</c>.
/// </summary>
public sealed class RankingFormula
{
    private readonly (int Source, double Exponent, double Constant)[] _factors;
    private readonly int _predictions;

    private RankingFormula(string text, string canonical, (int, double, double)[] factors, int predictions)
    {
        Text = text;
        Canonical = canonical;
        _factors = factors;
        _predictions = predictions;
    }

    // The default chain's short names.
    private static readonly Dictionary<string, string> ShortNames = new(StringComparer.OrdinalIgnoreCase)
    {
        ["pctr"] = TaskList.PCtr, ["pcvr"] = TaskList.PCvr, ["pctcvr"] = TaskList.PCtcvr, ["rating"] = TaskList.PredictedRating,
    };

    /// <summary>The formula as given.</summary>
    public string Text { get; }

    /// <summary>The formula with every name as the model's column (<c>pctr</c> and <c>PCtr</c> both read <c>PCtr</c>): what makes two formulas the same.</summary>
    public string Canonical { get; }

    /// <summary>
    /// Parses <paramref name="text"/> over a model's <paramref name="predictions"/> (its prediction columns, in the order
    /// <see cref="Evaluate"/> gets them); <paramref name="denseColumns"/> are the names usable besides.
    /// </summary>
    public static RankingFormula Parse(string text, IReadOnlyList<string> predictions, IReadOnlyList<string> denseColumns)
    {
        var factors = new List<(int, double, double)>();
        var canonical = new List<string>();
        foreach (var raw in text.Split('*', StringSplitOptions.TrimEntries))
        {
            if (raw.Length == 0) throw new FormatException($"ranking formula '{text}': empty factor");
            var parts = raw.Split('^', StringSplitOptions.TrimEntries);
            double exponent = 1;
            if (parts.Length == 2 && !double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out exponent))
                throw new FormatException($"ranking formula '{text}': exponent '{parts[1]}' is not a number");
            if (!double.IsFinite(exponent)) throw new FormatException($"ranking formula '{text}': exponent '{parts[1]}' is not a finite number");
            if (parts.Length > 2) throw new FormatException($"ranking formula '{text}': '{raw}' has two exponents");
            if (double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out double constant))
            {
                if (!double.IsFinite(constant)) throw new FormatException($"ranking formula '{text}': '{parts[0]}' is not a finite number");
                factors.Add((-1, exponent, constant));
                canonical.Add(Factor(constant.ToString("R", CultureInfo.InvariantCulture), exponent));
                continue;
            }
            string name = ShortNames.TryGetValue(parts[0], out var full) ? full : parts[0];
            int p = predictions.ToList().FindIndex(x => x.Equals(name, StringComparison.OrdinalIgnoreCase));
            int d = denseColumns.ToList().IndexOf(parts[0]);
            if (p < 0 && d < 0) throw new FormatException($"ranking formula '{text}': unknown name '{parts[0]}'; use a prediction ({string.Join(", ", predictions)}) or a dense column ({string.Join(", ", denseColumns)})");
            factors.Add((p >= 0 ? p : predictions.Count + d, exponent, 0));
            canonical.Add(Factor(p >= 0 ? predictions[p] : parts[0], exponent));
        }
        return new RankingFormula(text, string.Join(" * ", canonical), factors.ToArray(), predictions.Count);
    }

    private static string Factor(string name, double exponent) => exponent == 1 ? name : $"{name}^{exponent.ToString("R", CultureInfo.InvariantCulture)}";

    /// <summary>The score of row <paramref name="row"/> from its predictions and the raw dense columns.</summary>
    public double Evaluate(ReadOnlySpan<float> predictions, float[][] dense, int row)
    {
        double score = 1;
        foreach (var (source, exponent, constant) in _factors)
        {
            double v = source < 0 ? constant : source < _predictions ? predictions[source] : dense[source - _predictions][row];
            score *= exponent == 1 ? v : Math.Pow(v, exponent);
        }
        return score;
    }
}
