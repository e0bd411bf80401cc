namespace Recommender.Trainers.Evaluation;

/// <summary>Errors of a numeric prediction; rows whose label is NaN (not rated) are left out.</summary>
public static class RegressionMetrics
{
    /// <summary>Root mean squared error over rows with a label.</summary>
    public static Metric Rmse(ReadOnlySpan<float> predictions, ReadOnlySpan<float> labels)
    {
        double sum = 0;
        long n = 0;
        for (int i = 0; i < predictions.Length; i++)
        {
            if (float.IsNaN(labels[i])) continue;
            double d = (double)predictions[i] - labels[i];
            sum += d * d;
            n++;
        }
        return n == 0 ? Metric.Undefined("no labelled rows") : new Metric(Math.Sqrt(sum / n));
    }

    /// <summary>Mean absolute error over rows with a label.</summary>
    public static Metric Mae(ReadOnlySpan<float> predictions, ReadOnlySpan<float> labels)
    {
        double sum = 0;
        long n = 0;
        for (int i = 0; i < predictions.Length; i++)
        {
            if (float.IsNaN(labels[i])) continue;
            sum += Math.Abs((double)predictions[i] - labels[i]);
            n++;
        }
        return n == 0 ? Metric.Undefined("no labelled rows") : new Metric(sum / n);
    }
}
