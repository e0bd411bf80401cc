namespace Recommender.Trainers.Evaluation;

/// <summary>Metrics of a probability against 0/1 labels.</summary>
public static class BinaryMetrics
{
    /// <summary>
    /// Area under the ROC curve in O(n log n): the Mann-Whitney statistic with tied scores given their
    /// average rank, so a tie between a positive and a negative counts half.
    /// </summary>
    public static Metric Auc(ReadOnlySpan<float> scores, ReadOnlySpan<float> labels)
    {
        if (scores.Length != labels.Length) throw new ArgumentException("scores and labels differ in length");
        var order = new int[scores.Length];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        var keys = scores.ToArray();
        Array.Sort(keys, order);
        return AucOfSorted(keys, order, labels, 0, order.Length);
    }

    // AUC of rows order[start..end), whose scores keys[start..end) are sorted ascending.
    internal static Metric AucOfSorted(float[] keys, int[] order, ReadOnlySpan<float> labels, int start, int end)
    {
        double positives = 0, rankSum = 0;
        int i = start;
        while (i < end)
        {
            int j = i;
            while (j + 1 < end && keys[j + 1] == keys[i]) j++;
            double averageRank = (i - start + j - start) / 2.0 + 1;
            for (int k = i; k <= j; k++)
            {
                float y = labels[order[k]];
                if (y != 0f && y != 1f) throw new ArgumentException($"label {y} is not 0 or 1");
                if (y == 1f) { positives++; rankSum += averageRank; }
            }
            i = j + 1;
        }
        double negatives = end - start - positives;
        if (end == start) return Metric.Undefined("no rows");
        if (positives == 0) return Metric.Undefined("no positive labels");
        if (negatives == 0) return Metric.Undefined("no negative labels");
        return new Metric((rankSum - positives * (positives + 1) / 2) / (positives * negatives));
    }

    /// <summary>
    /// The standard error of an AUC from its value and class counts (Hanley and McNeil, Radiology 1982), for reading
    /// differences between models on one test set: <c>sqrt((A(1-A) + (P-1)(Q1-A^2) + (N-1)(Q2-A^2)) / (P N))</c> with
    /// <c>Q1 = A/(2-A)</c>, <c>Q2 = 2A^2/(1+A)</c>.
    /// </summary>
    public static double AucStandardError(double auc, long positives, long negatives)
    {
        if (positives < 1 || negatives < 1 || double.IsNaN(auc)) return double.NaN;
        double q1 = auc / (2 - auc), q2 = 2 * auc * auc / (1 + auc);
        return Math.Sqrt((auc * (1 - auc) + (positives - 1) * (q1 - auc * auc) + (negatives - 1) * (q2 - auc * auc)) / ((double)positives * negatives));
    }

    /// <summary>
    /// The difference AUC(a) - AUC(b) of two models scored on the same rows, with its standard error (DeLong, DeLong and
    /// Clarke-Pearson, Biometrics 1988). Each positive's placement is the share of negatives it outscores (ties half), each
    /// negative's the share of positives that outscore it; the AUC is their mean, and the variance of the difference is
    /// <c>(S10_aa + S10_bb - 2 S10_ab) / P + (S01_aa + S01_bb - 2 S01_ab) / N</c> from their sample covariances. Two models of
    /// one test set err on the same hard rows, so this is far smaller than the two AUCs' own standard errors combined: it
    /// is what says whether one model beats another on that test set.
    /// </summary>
    public static (double Difference, double StandardError) PairedAucDifference(ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> labels)
    {
        if (a.Length != labels.Length || b.Length != labels.Length) throw new ArgumentException("scores and labels differ in length");
        var positives = new List<int>();
        var negatives = new List<int>();
        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] == 1f) positives.Add(i);
            else if (labels[i] == 0f) negatives.Add(i);
            else throw new ArgumentException($"label {labels[i]} is not 0 or 1");
        }
        if (positives.Count < 2 || negatives.Count < 2) return (double.NaN, double.NaN);
        var (pa, na) = Placements(a.ToArray(), positives, negatives);
        var (pb, nb) = Placements(b.ToArray(), positives, negatives);
        double difference = pa.Average() - pb.Average();
        double variance = (Covariance(pa, pa) + Covariance(pb, pb) - 2 * Covariance(pa, pb)) / positives.Count
            + (Covariance(na, na) + Covariance(nb, nb) - 2 * Covariance(na, nb)) / negatives.Count;
        return (difference, Math.Sqrt(Math.Max(0, variance)));
    }

    // Each positive's share of negatives below it and each negative's share of positives above it, ties counted half.
    private static (double[] Positives, double[] Negatives) Placements(float[] scores, List<int> positives, List<int> negatives)
    {
        var sortedNegatives = negatives.Select(i => scores[i]).Order().ToArray();
        var sortedPositives = positives.Select(i => scores[i]).Order().ToArray();
        var forPositives = positives.Select(i => Below(sortedNegatives, scores[i]) / sortedNegatives.Length).ToArray();
        var forNegatives = negatives.Select(j => (sortedPositives.Length - Below(sortedPositives, scores[j])) / sortedPositives.Length).ToArray();
        return (forPositives, forNegatives);
    }

    // How many of the sorted values lie below x, those equal to x counted half.
    private static double Below(float[] sorted, float x)
    {
        int lower = FirstIndex(sorted, v => v >= x), upper = FirstIndex(sorted, v => v > x);
        return lower + (upper - lower) / 2.0;
    }

    // The first index of the ascending values where the condition (false, then true along them) holds, or their count.
    private static int FirstIndex(float[] sorted, Func<float, bool> condition)
    {
        int lo = 0, hi = sorted.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (condition(sorted[mid])) hi = mid; else lo = mid + 1;
        }
        return lo;
    }

    private static double Covariance(double[] x, double[] y)
    {
        double mx = x.Average(), my = y.Average(), sum = 0;
        for (int i = 0; i < x.Length; i++) sum += (x[i] - mx) * (y[i] - my);
        return sum / (x.Length - 1);
    }

    /// <summary>
    /// Group AUC: the AUC of each group with both classes, weighted by the group's row count
    /// (impressions); groups with one class only are left out.
    /// </summary>
    public static Metric Gauc(ReadOnlySpan<float> scores, ReadOnlySpan<float> labels, IReadOnlyList<string> groups)
    {
        if (scores.Length != labels.Length || scores.Length != groups.Count) throw new ArgumentException("scores, labels and groups differ in length");
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        var groupOf = new int[scores.Length];
        for (int i = 0; i < groupOf.Length; i++)
        {
            if (!ids.TryGetValue(groups[i], out int id)) ids[groups[i]] = id = ids.Count;
            groupOf[i] = id;
        }
        return Gauc(scores, labels, groupOf);
    }

    /// <summary>Group AUC with integer group ids.</summary>
    public static Metric Gauc(ReadOnlySpan<float> scores, ReadOnlySpan<float> labels, ReadOnlySpan<int> groups)
    {
        int n = scores.Length;
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        var s = scores.ToArray();
        var g = groups.ToArray();
        Array.Sort(order, (a, b) => g[a] != g[b] ? g[a].CompareTo(g[b]) : s[a].CompareTo(s[b]));
        var keys = new float[n];
        for (int i = 0; i < n; i++) keys[i] = s[order[i]];
        double weighted = 0, weight = 0;
        int start = 0;
        while (start < n)
        {
            int end = start + 1;
            while (end < n && g[order[end]] == g[order[start]]) end++;
            var auc = AucOfSorted(keys, order, labels, start, end);
            if (auc.IsDefined) { weighted += auc.Value * (end - start); weight += end - start; }
            start = end;
        }
        return weight > 0 ? new Metric(weighted / weight) : Metric.Undefined("no group has both classes");
    }

    /// <summary>Mean binary cross-entropy with predictions clipped to [eps, 1 - eps].</summary>
    public static Metric LogLoss(ReadOnlySpan<float> predictions, ReadOnlySpan<float> labels, double eps = 1e-7)
    {
        if (predictions.Length != labels.Length) throw new ArgumentException("predictions and labels differ in length");
        if (predictions.Length == 0) return Metric.Undefined("no rows");
        double sum = 0;
        for (int i = 0; i < predictions.Length; i++)
        {
            double p = Math.Clamp((double)predictions[i], eps, 1 - eps);
            sum -= labels[i] == 1f ? Math.Log(p) : Math.Log(1 - p);
        }
        return new Metric(sum / predictions.Length);
    }

    /// <summary>Calibration: mean prediction over mean label (1 is perfectly calibrated on average).</summary>
    public static Metric Calibration(ReadOnlySpan<float> predictions, ReadOnlySpan<float> labels)
    {
        if (predictions.Length == 0) return Metric.Undefined("no rows");
        double p = 0, y = 0;
        for (int i = 0; i < predictions.Length; i++) { p += predictions[i]; y += labels[i]; }
        return y == 0 ? Metric.Undefined("no positive labels") : new Metric(p / y);
    }

    /// <summary>Precision, recall and F1 of "prediction &gt;= threshold" as the positive decision.</summary>
    public static (Metric Precision, Metric Recall, Metric F1) AtThreshold(ReadOnlySpan<float> predictions, ReadOnlySpan<float> labels, float threshold)
    {
        double tp = 0, fp = 0, fn = 0;
        for (int i = 0; i < predictions.Length; i++)
        {
            bool predicted = predictions[i] >= threshold, actual = labels[i] == 1f;
            if (predicted && actual) tp++;
            else if (predicted) fp++;
            else if (actual) fn++;
        }
        var precision = tp + fp > 0 ? new Metric(tp / (tp + fp)) : Metric.Undefined("no positive predictions");
        var recall = tp + fn > 0 ? new Metric(tp / (tp + fn)) : Metric.Undefined("no positive labels");
        var f1 = precision.IsDefined && recall.IsDefined
            ? (tp == 0 ? new Metric(0) : new Metric(2 * precision.Value * recall.Value / (precision.Value + recall.Value)))
            : Metric.Undefined(precision.Reason ?? recall.Reason!);
        return (precision, recall, f1);
    }
}
