using Recommender.Trainers.Network;

namespace Recommender.Trainers.Evaluation;

/// <summary>
/// Every task's metrics (DESIGN section 7), named <c>task.metric</c>. A binary task: <c>auc</c>, <c>gauc</c> (with
/// groups), <c>logloss</c> and <c>calibration</c> (mean prediction over mean label) on the rows where its label is
/// defined (its <c>given</c> chain's labels 1), from the prediction given the chain; a chained one also
/// <c>entire_auc</c> and <c>entire_logloss</c> of the entire-space prediction over every row (the label 0 where the
/// chain broke before it). A regression task: <c>rmse</c> and <c>mae</c> on its labelled rows. Rows the model predicts NaN
/// for are left out and counted as <c>task.unscored_rows</c>.
/// </summary>
public sealed record MultiTaskMetrics
{
    private IReadOnlyList<(string Name, Metric Value)> Values { get; init; } = [];

    /// <summary>Rows evaluated.</summary>
    public long Rows { get; init; }

    /// <summary>Named metrics in display order (tasks in declaration order), leaving out the ones not computed.</summary>
    public IEnumerable<(string Name, Metric Value)> Items() => Values;

    /// <summary>The metric of that name (old names of the default chain accepted), or null when it was not computed.</summary>
    public Metric? this[string name]
    {
        get
        {
            string canonical = Canonical(name);
            foreach (var (n, v) in Values) if (n == canonical) return v;
            return null;
        }
    }

    /// <summary>The metrics of the default chain's names that existed before tasks were declared: their <c>task.metric</c> names.</summary>
    public static readonly IReadOnlyDictionary<string, string> OldNames = new Dictionary<string, string>
    {
        ["ctr_auc"] = "ctr.auc", ["ctr_gauc"] = "ctr.gauc", ["ctr_logloss"] = "ctr.logloss", ["ctr_calibration"] = "ctr.calibration",
        ["cvr_auc"] = "cvr.auc", ["cvr_auc_clicked"] = "cvr.auc", ["cvr_logloss_clicked"] = "cvr.logloss", ["ctcvr_auc"] = "cvr.entire_auc",
        ["rating_rmse"] = "rating.rmse", ["rating_mae"] = "rating.mae",
    };

    /// <summary>A metric's <c>task.metric</c> name (an old name of the default chain translated).</summary>
    public static string Canonical(string name) => OldNames.TryGetValue(name, out var canonical) ? canonical : name;

    /// <summary>Whether a larger value of the metric is better (AUC, GAUC) or a smaller one (log loss, RMSE, MAE).</summary>
    public static bool HigherIsBetter(string name) => Canonical(name).Split('.')[^1] is "auc" or "gauc" or "entire_auc";

    /// <summary>The metrics a validation set gives for these tasks (no GAUC: validation has no groups), for early stopping.</summary>
    public static IReadOnlyList<string> ValidationNames(IReadOnlyList<TaskDefinition> tasks) => tasks.SelectMany(t => t.Kind == TaskKind.Regression
        ? new[] { $"{t.Name}.rmse", $"{t.Name}.mae" }
        : t.Given is null ? [$"{t.Name}.auc", $"{t.Name}.logloss"] : [$"{t.Name}.auc", $"{t.Name}.logloss", $"{t.Name}.entire_auc", $"{t.Name}.entire_logloss"]).ToArray();

    /// <summary>
    /// Computes whatever the given predictions and labels allow: <paramref name="predictions"/> by column name,
    /// <paramref name="labels"/> by task name (NaN = no label); a task without its label or prediction is skipped.
    /// </summary>
    public static MultiTaskMetrics Compute(IReadOnlyList<TaskDefinition> tasks, IReadOnlyDictionary<string, float[]> predictions,
        IReadOnlyDictionary<string, float[]> labels, IReadOnlyList<string>? groups)
    {
        long rows = predictions.Values.Select(p => (long?)p.Length).Max() ?? 0;
        var values = new List<(string, Metric)>();
        var (defined, entire) = Domains(tasks, labels);
        foreach (var t in tasks)
        {
            if (!defined.TryGetValue(t.Name, out var d)) continue;
            var y = labels[t.Name];
            var e = entire[t.Name];

            // The prediction on the task's own rows: a chained binary task's conditional one, else its only one.
            string ownName = t.ConditionalPredictionName ?? t.PredictionName;
            var own = predictions.TryGetValue(ownName, out var pc) ? pc : null;
            var rowsOf = Enumerable.Range(0, y.Length).Where(i => d[i] && (own is null || !float.IsNaN(own[i]))).ToArray();
            if (own is not null)
            {
                // A model that cannot score a row (matrix factorization: an unknown user or item) predicts NaN: the row
                // is left out of the task's metrics and counted.
                int unscored = Enumerable.Range(0, y.Length).Count(i => d[i] && float.IsNaN(own[i]));
                if (unscored > 0) values.Add(($"{t.Name}.unscored_rows", new Metric(unscored)));
                var p = rowsOf.Select(i => own[i]).ToArray();
                var l = rowsOf.Select(i => y[i]).ToArray();
                if (t.Kind == TaskKind.Regression)
                {
                    values.Add(($"{t.Name}.rmse", RegressionMetrics.Rmse(p, l)));
                    values.Add(($"{t.Name}.mae", RegressionMetrics.Mae(p, l)));
                    continue;
                }
                values.Add(($"{t.Name}.auc", BinaryMetrics.Auc(p, l)));
                if (groups is not null) values.Add(($"{t.Name}.gauc", BinaryMetrics.Gauc(p, l, rowsOf.Select(i => groups[i]).ToArray())));
                values.Add(($"{t.Name}.logloss", BinaryMetrics.LogLoss(p, l)));
                values.Add(($"{t.Name}.calibration", BinaryMetrics.Calibration(p, l)));
            }
            if (t.Kind == TaskKind.Binary && t.Given is not null && predictions.TryGetValue(t.PredictionName, out var whole))
            {
                var all = Enumerable.Range(0, y.Length).Where(i => !float.IsNaN(e[i]) && !float.IsNaN(whole[i])).ToArray();
                var p = all.Select(i => whole[i]).ToArray();
                var l = all.Select(i => e[i]).ToArray();
                values.Add(($"{t.Name}.entire_auc", BinaryMetrics.Auc(p, l)));
                values.Add(($"{t.Name}.entire_logloss", BinaryMetrics.LogLoss(p, l)));
            }
        }
        return new MultiTaskMetrics { Rows = rows, Values = values };
    }

    /// <summary>
    /// Every AUC both prediction sets have (<c>task.auc</c> on the task's rows, <c>task.entire_auc</c> over the entire space),
    /// as the paired difference <paramref name="a"/> - <paramref name="b"/> with its standard error
    /// (<see cref="BinaryMetrics.PairedAucDifference"/>), on the rows where both predict, the rows <see cref="Compute(IReadOnlyList{TaskDefinition}, IReadOnlyDictionary{string, float[]}, IReadOnlyDictionary{string, float[]}, IReadOnlyList{string}?)"/> measures each on.
    /// </summary>
    public static IReadOnlyList<(string Name, double Difference, double StandardError)> AucDifferences(IReadOnlyList<TaskDefinition> tasks,
        IReadOnlyDictionary<string, float[]> a, IReadOnlyDictionary<string, float[]> b, IReadOnlyDictionary<string, float[]> labels)
    {
        var (defined, entire) = Domains(tasks, labels);
        var differences = new List<(string, double, double)>();
        void Add(string name, string prediction, bool[]? rows, float[] y)
        {
            if (!a.TryGetValue(prediction, out var pa) || !b.TryGetValue(prediction, out var pb)) return;
            var at = Enumerable.Range(0, y.Length).Where(i => (rows is null || rows[i]) && !float.IsNaN(y[i]) && !float.IsNaN(pa[i]) && !float.IsNaN(pb[i])).ToArray();
            var (difference, error) = BinaryMetrics.PairedAucDifference(at.Select(i => pa[i]).ToArray(), at.Select(i => pb[i]).ToArray(), at.Select(i => y[i]).ToArray());
            if (!double.IsNaN(difference)) differences.Add((name, difference, error));
        }
        foreach (var t in tasks.Where(t => t.Kind == TaskKind.Binary && defined.ContainsKey(t.Name)))
        {
            Add($"{t.Name}.auc", t.ConditionalPredictionName ?? t.PredictionName, defined[t.Name], labels[t.Name]);
            if (t.Given is not null) Add($"{t.Name}.entire_auc", t.PredictionName, null, entire[t.Name]);
        }
        return differences;
    }

    /// <summary>
    /// Per task with labels (and its chain's): <c>Defined</c>, whether a row's label is there and its chain holds (the
    /// rows the task is trained and measured on); <c>Entire</c>, the label over the entire space (0 where the chain broke
    /// before the task, NaN where unknown).
    /// </summary>
    public static (Dictionary<string, bool[]> Defined, Dictionary<string, float[]> Entire) Domains(IReadOnlyList<TaskDefinition> tasks, IReadOnlyDictionary<string, float[]> labels)
    {
        var defined = new Dictionary<string, bool[]>();
        var entire = new Dictionary<string, float[]>();
        foreach (var t in tasks)
        {
            if (!labels.TryGetValue(t.Name, out var y)) continue;
            bool[]? parentDefined = null;
            float[]? parentLabel = null, parentEntire = null;
            if (t.Given is { } given)
            {
                if (!defined.TryGetValue(given, out parentDefined)) continue;
                parentLabel = labels[given];
                parentEntire = entire[given];
            }
            var d = new bool[y.Length];
            var e = new float[y.Length];
            for (int i = 0; i < y.Length; i++)
            {
                bool chain = parentDefined is null || parentDefined[i] && parentLabel![i] == 1f;
                d[i] = chain && !float.IsNaN(y[i]);
                e[i] = parentEntire is null ? y[i] : parentEntire[i] == 0f ? 0f : float.IsNaN(parentEntire[i]) ? float.NaN : y[i];
            }
            defined[t.Name] = d;
            entire[t.Name] = e;
        }
        return (defined, entire);
    }

    /// <summary>The default chain's metrics from its predictions (PCtr, PCvr, PCtcvr, PredictedRating) and labels; null arrays are skipped.</summary>
    public static MultiTaskMetrics Compute(
        float[]? pCtr, float[]? pCvr, float[]? pCtcvr, float[]? predictedRating,
        float[]? click, float[]? conversion, float[]? rating, IReadOnlyList<string>? groups)
    {
        var tasks = TaskList.DefaultChain("Click", "Conversion", "Rating", 1, 1, 1, float.MinValue, float.MaxValue);
        var predictions = new Dictionary<string, float[]>();
        foreach (var (name, values) in new[] { (TaskList.PCtr, pCtr), (TaskList.PCvr, pCvr), (TaskList.PCtcvr, pCtcvr), (TaskList.PredictedRating, predictedRating) })
            if (values is not null) predictions[name] = values;
        var labels = new Dictionary<string, float[]>();
        foreach (var (name, values) in new[] { ("ctr", click), ("cvr", conversion), ("rating", rating) })
            if (values is not null) labels[name] = values;
        return Compute(tasks, predictions, labels, groups);
    }
}
