namespace Recommender.Trainers.Evaluation;

/// <summary>
/// One logged decision for off-policy evaluation: the reward observed, the logging policy's propensity of the
/// action it took, the target policy's probability of that same action, and (for doubly robust) a reward model's
/// prediction for the logged action and its expectation under the target policy.
/// </summary>
public readonly record struct LoggedDecision(double Reward, double LoggingPropensity, double TargetPropensity, double ModelReward = 0, double ModelRewardUnderTarget = 0);

/// <summary>An estimate with its 95% bootstrap interval.</summary>
public readonly record struct Estimate(double Value, double Low, double High);

/// <summary>What <see cref="OffPolicyEstimates.Compute"/> returns.</summary>
public sealed record OffPolicyReport(int Decisions, Estimate Ips, Estimate SelfNormalizedIps, Estimate DoublyRobust, double LoggedMean,
    double EffectiveSampleSize, double MaxWeight, IReadOnlyList<string> Warnings);

/// <summary>
/// Off-policy estimates of a target policy's mean reward from decisions logged by another policy, with importance
/// weights w = target / logging propensity: inverse propensity scoring (IPS, mean of w r: unbiased, high
/// variance), self-normalized IPS (sum w r / sum w: biased, lower variance) and doubly robust (the reward model's
/// expectation under the target plus the weighted residual: unbiased if either the propensities or the model are
/// right), each with a percentile bootstrap interval (resampling decisions, seeded). The effective sample size
/// (sum w)^2 / sum w^2 says how many logged decisions the estimate really rests on; a small one, or a logging
/// propensity of zero where the target acts, makes it unreliable, and the report says so.
/// </summary>
public static class OffPolicyEstimates
{
    /// <summary>Estimates from <paramref name="log"/>; <paramref name="bootstrap"/> resamples, seeded by <paramref name="seed"/>.</summary>
    public static OffPolicyReport Compute(IReadOnlyList<LoggedDecision> log, int bootstrap = 500, int seed = 1)
    {
        if (log.Count == 0) throw new ArgumentException("no logged decisions");
        var warnings = new List<string>();
        int unsupported = log.Count(d => d.LoggingPropensity <= 0 && d.TargetPropensity > 0);
        if (unsupported > 0) warnings.Add($"{unsupported} decisions the target policy takes were never possible under the logging policy (propensity 0): the estimates cannot see them");
        var (ips, snips, dr) = Point(log, Enumerable.Range(0, log.Count));
        double sw = 0, sw2 = 0, maxW = 0;
        foreach (var d in log)
        {
            double w = Weight(d);
            sw += w;
            sw2 += w * w;
            maxW = Math.Max(maxW, w);
        }
        double ess = sw2 > 0 ? sw * sw / sw2 : 0;
        if (ess < 100 || ess < 0.01 * log.Count) warnings.Add($"effective sample size {ess:F1} of {log.Count} decisions: the target policy differs too much from the logging one for a reliable estimate");
        var random = new Random(seed);
        var samples = new (double, double, double)[bootstrap];
        var index = new int[log.Count];
        for (int b = 0; b < bootstrap; b++)
        {
            for (int i = 0; i < index.Length; i++) index[i] = random.Next(log.Count);
            samples[b] = Point(log, index);
        }
        Estimate Interval(double value, Func<(double, double, double), double> pick)
        {
            if (bootstrap == 0) return new Estimate(value, double.NaN, double.NaN);
            var sorted = samples.Select(pick).Where(double.IsFinite).Order().ToArray();
            if (sorted.Length == 0) return new Estimate(value, double.NaN, double.NaN);
            return new Estimate(value, sorted[(int)Math.Floor(0.025 * (sorted.Length - 1))], sorted[(int)Math.Ceiling(0.975 * (sorted.Length - 1))]);
        }
        return new OffPolicyReport(log.Count, Interval(ips, s => s.Item1), Interval(snips, s => s.Item2), Interval(dr, s => s.Item3),
            log.Average(d => d.Reward), ess, maxW, warnings);
    }

    private static double Weight(LoggedDecision d) => d.LoggingPropensity > 0 ? d.TargetPropensity / d.LoggingPropensity : 0;

    private static (double Ips, double Snips, double Dr) Point(IReadOnlyList<LoggedDecision> log, IEnumerable<int> indices)
    {
        double n = 0, wr = 0, w = 0, dr = 0;
        foreach (int i in indices)
        {
            var d = log[i];
            double weight = Weight(d);
            n++;
            wr += weight * d.Reward;
            w += weight;
            dr += d.ModelRewardUnderTarget + weight * (d.Reward - d.ModelReward);
        }
        return (wr / n, w > 0 ? wr / w : double.NaN, dr / n);
    }
}
