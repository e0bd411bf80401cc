namespace Recommender.Trainers.Evaluation;

/// <summary>
/// Every task's metrics for joint CTR / CVR / rating predictions (DESIGN section 7): CTR over all rows,
/// CVR over clicked rows, CTCVR (click and convert) over all rows, rating over rated rows.
/// </summary>
public sealed record MultiTaskMetrics
{
    /// <summary>Rows evaluated.</summary>
    public long Rows { get; init; }
    /// <summary>CTR AUC over all rows.</summary>
    public Metric? CtrAuc { get; init; }
    /// <summary>CTR group AUC (impression-weighted per-user AUC over users with both classes).</summary>
    public Metric? CtrGauc { get; init; }
    /// <summary>CTR log loss.</summary>
    public Metric? CtrLogLoss { get; init; }
    /// <summary>Mean predicted CTR over observed CTR.</summary>
    public Metric? CtrCalibration { get; init; }
    /// <summary>CVR AUC on clicked rows.</summary>
    public Metric? CvrAuc { get; init; }
    /// <summary>CVR log loss on clicked rows.</summary>
    public Metric? CvrLogLoss { get; init; }
    /// <summary>CTCVR AUC over all rows (label: conversion).</summary>
    public Metric? CtcvrAuc { get; init; }
    /// <summary>Rating RMSE on rated rows.</summary>
    public Metric? RatingRmse { get; init; }
    /// <summary>Rating MAE on rated rows.</summary>
    public Metric? RatingMae { get; init; }

    /// <summary>Named metrics in display order, leaving out the ones not computed.</summary>
    public IEnumerable<(string Name, Metric Value)> Items()
    {
        (string, Metric?)[] all =
        [
            ("ctr_auc", CtrAuc), ("ctr_gauc", CtrGauc), ("ctr_logloss", CtrLogLoss), ("ctr_calibration", CtrCalibration),
            ("cvr_auc_clicked", CvrAuc), ("cvr_logloss_clicked", CvrLogLoss), ("ctcvr_auc", CtcvrAuc),
            ("rating_rmse", RatingRmse), ("rating_mae", RatingMae),
        ];
        foreach (var (name, value) in all) if (value is { } v) yield return (name, v);
    }

    /// <summary>Computes whatever the given predictions and labels allow (null arrays are skipped).</summary>
    public static MultiTaskMetrics Compute(
        float[]? pCtr, float[]? pCvr, float[]? pCtcvr, float[]? predictedRating,
        float[]? click, float[]? conversion, float[]? rating, IReadOnlyList<string>? groups)
    {
        long rows = new[] { pCtr?.Length, pCvr?.Length, pCtcvr?.Length, predictedRating?.Length }.Max() ?? 0;
        var m = new MultiTaskMetrics { Rows = rows };
        if (pCtr is not null && click is not null)
        {
            m = m with
            {
                CtrAuc = BinaryMetrics.Auc(pCtr, click),
                CtrLogLoss = BinaryMetrics.LogLoss(pCtr, click),
                CtrCalibration = BinaryMetrics.Calibration(pCtr, click),
                CtrGauc = groups is null ? null : BinaryMetrics.Gauc(pCtr, click, groups),
            };
        }
        if (pCvr is not null && click is not null && conversion is not null)
        {
            var clicked = Enumerable.Range(0, click.Length).Where(i => click[i] == 1f).ToArray();
            var p = clicked.Select(i => pCvr[i]).ToArray();
            var y = clicked.Select(i => conversion[i]).ToArray();
            m = m with { CvrAuc = BinaryMetrics.Auc(p, y), CvrLogLoss = BinaryMetrics.LogLoss(p, y) };
        }
        if (pCtcvr is not null && conversion is not null)
            m = m with { CtcvrAuc = BinaryMetrics.Auc(pCtcvr, conversion) };
        if (predictedRating is not null && rating is not null)
            m = m with { RatingRmse = RegressionMetrics.Rmse(predictedRating, rating), RatingMae = RegressionMetrics.Mae(predictedRating, rating) };
        return m;
    }
}
