namespace Recommender.Trainers.Network;

/// <summary>Rules and helpers over a model's declared tasks; the one source of the default chain's names.</summary>
public static class TaskList
{
    /// <summary>The default chain's prediction columns: P(click), P(conversion | click), P(click and conversion), the rating.</summary>
    public const string PCtr = "PCtr", PCvr = "PCvr", PCtcvr = "PCtcvr", PredictedRating = "PredictedRating";

    /// <summary>The default chain's prediction columns, in the network's output order.</summary>
    public static readonly IReadOnlyList<string> DefaultPredictions = [PCtr, PCvr, PCtcvr, PredictedRating];

    /// <summary>
    /// Today's roles as tasks: <c>ctr</c> (the click label), <c>cvr</c> (conversion, given a click) and <c>rating</c>
    /// (a regression in [ratingMin, ratingMax], NaN = not rated), under the prediction names PCtr, PCvr / PCtcvr and
    /// PredictedRating.
    /// </summary>
    public static TaskDefinition[] DefaultChain(string click, string conversion, string rating, float ctrWeight, float cvrWeight, float ratingWeight,
        float ratingMin, float ratingMax) =>
    [
        new() { Name = "ctr", Label = click, Weight = ctrWeight, Prediction = PCtr },
        new() { Name = "cvr", Label = conversion, Given = "ctr", Weight = cvrWeight, Prediction = PCtcvr, ConditionalPrediction = PCvr },
        new() { Name = "rating", Label = rating, Kind = TaskKind.Regression, Weight = ratingWeight, Min = ratingMin, Max = ratingMax, Prediction = PredictedRating },
    ];

    /// <summary>
    /// Checks a task list: at least one task, unique names (letters, digits, '_' and '-'), a label each, a <c>given</c>
    /// naming a binary task declared before it (so chains have no cycles), finite weights of at least 0 with one
    /// positive, a regression range with Min below Max, and no two prediction columns of one name.
    /// </summary>
    public static void Validate(IReadOnlyList<TaskDefinition> tasks)
    {
        if (tasks.Count == 0) throw new ArgumentException("no task declared: declare at least one");
        var seen = new Dictionary<string, TaskDefinition>(StringComparer.Ordinal);
        var outputs = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in tasks)
        {
            if (t.Name.Length == 0 || !t.Name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
                throw new ArgumentException($"task name '{t.Name}': use letters, digits, '_' and '-'");
            if (seen.ContainsKey(t.Name)) throw new ArgumentException($"task '{t.Name}' is declared twice");
            if (t.Label.Length == 0) throw new ArgumentException($"task '{t.Name}' has no label column");
            if (!float.IsFinite(t.Weight) || t.Weight < 0) throw new ArgumentException($"task '{t.Name}': the weight must be a finite number >= 0, got {t.Weight}");
            if (t.Kind == TaskKind.Regression && !(float.IsFinite(t.Min) && float.IsFinite(t.Max) && t.Min < t.Max))
                throw new ArgumentException($"task '{t.Name}': the range needs min < max, got [{t.Min}, {t.Max}]");
            if (t.Given is { } given)
            {
                if (!seen.TryGetValue(given, out var parent))
                    throw new ArgumentException($"task '{t.Name}' is given '{given}', which is not a task declared before it; tasks are: {string.Join(", ", tasks.Select(x => x.Name))}");
                if (parent.Kind != TaskKind.Binary) throw new ArgumentException($"task '{t.Name}' is given '{given}', a regression task: only a binary task can be given");
            }
            foreach (var output in new[] { t.PredictionName, t.ConditionalPredictionName })
                if (output is not null && !outputs.Add(output)) throw new ArgumentException($"two tasks predict into the column '{output}'");
            seen[t.Name] = t;
        }
        if (tasks.All(t => t.Weight == 0)) throw new ArgumentException("every task is switched off (weight 0): give at least one task a positive weight");
    }

    /// <summary>The tasks <paramref name="task"/> is given, root first (empty for an independent task).</summary>
    public static IReadOnlyList<TaskDefinition> Ancestors(IReadOnlyList<TaskDefinition> tasks, TaskDefinition task)
    {
        var chain = new List<TaskDefinition>();
        for (var t = task; t.Given is { } given;)
        {
            t = tasks.FirstOrDefault(x => x.Name == given) ?? throw new ArgumentException($"task '{task.Name}': its chain names '{given}', which is not a task");
            if (chain.Contains(t) || t == task) throw new ArgumentException($"task '{task.Name}': its 'given' chain has a cycle");
            chain.Insert(0, t);
        }
        return chain;
    }

    /// <summary>
    /// What recommendations rank by when no formula is given: for the default chain <c>pctr * pcvr</c> (click and
    /// convert), else the entire-space probability at the end of the first chain (a chained binary task no binary task
    /// is given), else the first task's prediction.
    /// </summary>
    public static string DefaultRanking(IReadOnlyList<TaskDefinition> tasks)
    {
        if (Predictions(tasks).SequenceEqual(DefaultPredictions)) return "pctr * pcvr";
        var end = tasks.FirstOrDefault(t => t.Kind == TaskKind.Binary && t.Given is not null && !tasks.Any(x => x.Given == t.Name && x.Kind == TaskKind.Binary));
        return end?.PredictionName ?? tasks[0].PredictionName;
    }

    /// <summary>Every prediction column of the tasks, in the network's output order (a chain's conditional one first).</summary>
    public static IReadOnlyList<string> Predictions(IReadOnlyList<TaskDefinition> tasks) =>
        tasks.SelectMany(t => t.ConditionalPredictionName is { } c ? new[] { c, t.PredictionName } : [t.PredictionName]).ToArray();
}
