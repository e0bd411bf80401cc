namespace Recommender.Trainers.Network;

/// <summary>
/// Platt scaling of a binary head (Platt, 1999): the probability becomes <c>sigmoid(Scale z + Shift)</c> of the head's
/// logit z, with Scale and Shift fitted by maximum likelihood on held-out rows. Scale is positive for any head better
/// than chance, so the order of the rows, and every AUC, is kept; only the probabilities move.
/// </summary>
public readonly record struct PlattCalibration(double Scale, double Shift)
{
    /// <summary>No change.</summary>
    public static readonly PlattCalibration Identity = new(1, 0);

    /// <summary>
    /// Fits Scale and Shift to the labels (0/1) of rows whose uncalibrated probabilities are <paramref name="probabilities"/>,
    /// by Newton's method on the log loss; identity when the rows hold one class only.
    /// </summary>
    public static PlattCalibration Fit(ReadOnlySpan<float> probabilities, ReadOnlySpan<float> labels)
    {
        int n = probabilities.Length;
        double positives = 0;
        for (int i = 0; i < n; i++) positives += labels[i];
        if (n == 0 || positives == 0 || positives == n) return Identity;
        var z = new double[n];
        for (int i = 0; i < n; i++)
        {
            double p = Math.Clamp(probabilities[i], 1e-7, 1 - 1e-7);
            z[i] = Math.Log(p / (1 - p));
        }
        double a = 1, b = 0;
        for (int iteration = 0; iteration < 50; iteration++)
        {
            double ga = 0, gb = 0, haa = 0, hab = 0, hbb = 0;
            for (int i = 0; i < n; i++)
            {
                double q = 1 / (1 + Math.Exp(-(a * z[i] + b)));
                double r = q - labels[i], w = q * (1 - q);
                ga += r * z[i]; gb += r;
                haa += w * z[i] * z[i]; hab += w * z[i]; hbb += w;
            }
            // A tiny ridge keeps the 2x2 Newton system solvable when the logits barely vary.
            haa += 1e-9 * n; hbb += 1e-9 * n;
            double det = haa * hbb - hab * hab;
            double da = (hbb * ga - hab * gb) / det, db = (haa * gb - hab * ga) / det;
            a -= da; b -= db;
            if (Math.Abs(da) < 1e-10 && Math.Abs(db) < 1e-10) break;
        }
        return new PlattCalibration(a, b);
    }
}
