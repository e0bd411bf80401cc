using System.Globalization;

namespace Recommender.Pipeline.Scoring;

/// <summary>
/// A ranking score as a product of factors, each <c>name</c> or <c>name^exponent</c> or a number:
/// names are <c>pctr</c>, <c>pcvr</c>, <c>pctcvr</c>, <c>rating</c> or any dense column of the input (its raw value),
/// e.g. <c>pctr^1 * pcvr^0.5 * item_price</c>, or eCPM <c>pctr * bid * 1000</c>.
/// </summary>
public sealed class RankingFormula
{
    private readonly (int Source, double Exponent, double Constant)[] _factors;

    private RankingFormula(string text, (int, double, double)[] factors)
    {
        Text = text;
        _factors = factors;
    }

    /// <summary>The formula as given.</summary>
    public string Text { get; }

    /// <summary>Parses <paramref name="text"/>; <paramref name="denseColumns"/> are the names usable besides the predictions.</summary>
    public static RankingFormula Parse(string text, IReadOnlyList<string> denseColumns)
    {
        string[] predictions = ["pctr", "pcvr", "pctcvr", "rating"];
        var factors = new List<(int, double, double)>();
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
                continue;
            }
            int p = Array.IndexOf(predictions, parts[0].ToLowerInvariant());
            int d = denseColumns.ToList().IndexOf(parts[0]);
            if (p < 0 && d < 0) throw new FormatException($"ranking formula '{text}': unknown name '{parts[0]}'; use pctr, pcvr, pctcvr, rating or a dense column ({string.Join(", ", denseColumns)})");
            factors.Add((p >= 0 ? p : predictions.Length + d, exponent, 0));
        }
        return new RankingFormula(text, factors.ToArray());
    }

    /// <summary>The score of row <paramref name="row"/> from its four predictions and the raw dense columns.</summary>
    public double Evaluate(ReadOnlySpan<float> predictions, float[][] dense, int row)
    {
        double score = 1;
        foreach (var (source, exponent, constant) in _factors)
        {
            double v = source < 0 ? constant : source < 4 ? predictions[source] : dense[source - 4][row];
            score *= exponent == 1 ? v : Math.Pow(v, exponent);
        }
        return score;
    }
}
