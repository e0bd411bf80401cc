using System.Text.Json;
using Recommender.Pipeline.Scoring;
using Recommender.Trainers.Evaluation;

namespace Recommender.Pipeline.Serving;

/// <summary>What reward an off-policy evaluation estimates.</summary>
public enum PolicyReward
{
    /// <summary>Clicks per impression.</summary>
    Click,
    /// <summary>Conversions per impression.</summary>
    Conversion,
    /// <summary>A dense column's value (e.g. the price) per conversion, per impression.</summary>
    Value,
}

/// <summary>
/// Replays a target model and policy on the recommendation requests of an impression log: for each request the
/// target model scores the logged candidates (with the logged context), and at each slot the target policy's
/// probability of the item that was shown there, given the items shown before it, is the target propensity; the
/// logged propensity, the reward from the feedback, and the target model's reward prediction (pCTR, pCTCVR, or
/// pCTCVR times the value) make one <see cref="LoggedDecision"/> per impression.
/// </summary>
public static class PolicyEvaluation
{
    /// <summary>Evaluates <paramref name="policy"/> over <paramref name="model"/> on the log at <paramref name="logPath"/>.</summary>
    /// <remarks>
    /// With <paramref name="slots"/>, only the first that many slots of each request are evaluated (1: the top item,
    /// where the estimate is exact; later slots are evaluated given the logged items before them).
    /// </remarks>
    public static OffPolicyReport Run(string logPath, ServedModel model, ExplorationPolicy policy, string ranking, PolicyReward reward, string? valueColumn,
        int bootstrap = 500, int seed = 1, int slots = int.MaxValue)
    {
        if (!File.Exists(logPath)) throw new FileNotFoundException($"{logPath}: no such impression log", logPath);
        RankingFormula formula = RankingFormula.Parse(ranking, model.Outputs, model.Columns.NumberColumns);
        // The log's rewards are clicks and conversions: the model's predictions of them are the default chain's.
        if (model.DefaultChain[0] < 0 || model.DefaultChain[2] < 0)
            throw new ArgumentException("off-policy evaluation rewards the logged clicks and conversions: the model must predict the default chain (PCtr, PCtcvr)");
        int outputs = model.Outputs.Count, pClick = model.DefaultChain[0], pConversion = model.DefaultChain[2];
        int valueIndex = -1;
        if (reward == PolicyReward.Value)
        {
            valueIndex = Array.IndexOf(model.Columns.NumberColumns, valueColumn ?? throw new ArgumentException("the value reward needs --value-column"));
            if (valueIndex < 0) throw new ArgumentException($"--value-column '{valueColumn}' is not a dense column of the model ({string.Join(", ", model.Columns.NumberColumns)})");
        }
        using var connection = ImpressionLog.Open(logPath);
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT r.id, r.user, r.candidates, r.context, i.item, i.position, i.propensity,
              EXISTS(SELECT 1 FROM feedback f WHERE f.impression_id = i.id AND f.event = 'click'),
              EXISTS(SELECT 1 FROM feedback f WHERE f.impression_id = i.id AND f.event = 'conversion')
            FROM requests r JOIN impressions i ON i.request_id = r.id ORDER BY r.ts, r.id, i.position
            """;
        var decisions = new List<LoggedDecision>();
        using var reader = command.ExecuteReader();
        string? current = null;
        var shown = new List<(string Item, double Propensity, double Reward)>();
        (string User, string Candidates, string Context) request = ("", "[]", "{}");
        void Flush()
        {
            if (current is null) return;
            var items = JsonSerializer.Deserialize<List<string>>(request.Candidates)!;
            using var context = JsonDocument.Parse(request.Context);
            var rows = model.CandidateRows(request.User, items, context.RootElement.EnumerateObject().Any() ? context.RootElement : null);
            var p = model.Batcher.ScoreAsync(rows).GetAwaiter().GetResult();
            var scores = Enumerable.Range(0, items.Count).Select(r => formula.Evaluate(p.AsSpan(r * outputs, outputs), rows.Numbers, r)).ToArray();
            var predicted = Enumerable.Range(0, items.Count).Select(r => reward switch
            {
                PolicyReward.Click => p[r * outputs + pClick],
                PolicyReward.Conversion => p[r * outputs + pConversion],
                _ => p[r * outputs + pConversion] * (double)rows.Numbers[valueIndex][r],
            }).ToArray();
            var index = items.Select((item, i) => (item, i)).ToDictionary(x => x.item, x => x.i, StringComparer.Ordinal);
            var taken = new bool[items.Count];
            var probabilities = new double[items.Count];
            foreach (var (item, propensity, value) in shown.Take(slots))
            {
                if (!index.TryGetValue(item, out int a)) break;
                policy.NextSlot(scores, items, taken, probabilities);
                double underTarget = 0;
                for (int i = 0; i < items.Count; i++) underTarget += probabilities[i] * predicted[i];
                double observed = reward == PolicyReward.Value ? value * rows.Numbers[valueIndex][a] : value;
                decisions.Add(new LoggedDecision(observed, propensity, probabilities[a], predicted[a], underTarget));
                taken[a] = true;
            }
        }
        while (reader.Read())
        {
            string id = reader.GetString(0);
            if (id != current)
            {
                Flush();
                current = id;
                shown.Clear();
                request = (reader.GetString(1), reader.GetString(2), reader.GetString(3));
            }
            bool clicked = reader.GetInt64(7) == 1, converted = reader.GetInt64(8) == 1;
            shown.Add((reader.GetString(4), reader.GetDouble(6), reward == PolicyReward.Click ? (clicked || converted ? 1 : 0) : converted ? 1 : 0));
        }
        Flush();
        if (decisions.Count == 0) throw new InvalidDataException($"{logPath}: no logged recommendation requests");
        return OffPolicyEstimates.Compute(decisions, bootstrap, seed);
    }
}
