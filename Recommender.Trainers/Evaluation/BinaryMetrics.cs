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
