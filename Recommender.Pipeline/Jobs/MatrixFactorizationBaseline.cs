using Recommender.Trainers.Evaluation;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Evaluation;
using Recommender.Trainers.MatrixFactorization;

namespace Recommender.Pipeline.Jobs;

/// <summary>
/// Matrix factorization alone as a CTR model: the users x items click matrix of the training split (every
/// impression an entry, click 0/1 its value), squared loss, scored on the test split; a pair with a user or
/// item unseen in training gets the training click rate.
/// </summary>
public static class MatrixFactorizationBaseline
{
    /// <summary>Trains and evaluates on already loaded tables.</summary>
    public static (MultiTaskMetrics Metrics, double Seconds) Run(Table train, Table test, MatrixFactorizationOptions options)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var users = new Dictionary<string, int>();
        var items = new Dictionary<string, int>();
        var u = train.GetText(DatasetSchema.UserColumn);
        var i = train.GetText(DatasetSchema.ItemColumn);
        var click = train.GetNumbers(DatasetSchema.ClickColumn);
        var rows = u.Select(x => users.TryGetValue(x, out int k) ? k : users[x] = users.Count).ToArray();
        var cols = i.Select(x => items.TryGetValue(x, out int k) ? k : items[x] = items.Count).ToArray();
        var model = MatrixFactorizationTrainer.Train(new RatingMatrix(users.Count, items.Count, rows, cols, click), options);
        float baseRate = (float)click.Average(v => (double)v);
        var tu = test.GetText(DatasetSchema.UserColumn);
        var ti = test.GetText(DatasetSchema.ItemColumn);
        var pCtr = new float[tu.Length];
        for (int r = 0; r < pCtr.Length; r++)
        {
            float s = users.TryGetValue(tu[r], out int a) && items.TryGetValue(ti[r], out int b) ? model.Score(a, b) : float.NaN;
            pCtr[r] = float.IsNaN(s) ? baseRate : Math.Clamp(s, 1e-6f, 1 - 1e-6f);
        }
        var g = test.Schema.GroupOutput;
        var metrics = MultiTaskMetrics.Compute(pCtr, null, null, null, test.GetNumbers(DatasetSchema.ClickColumn), null, null, g is null ? null : test.GetText(g));
        return (metrics, clock.Elapsed.TotalSeconds);
    }
}
