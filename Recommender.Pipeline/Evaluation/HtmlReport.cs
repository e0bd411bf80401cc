using Recommender.Trainers.Evaluation;
using System.Globalization;
using System.Net;
using System.Text;
using Recommender.Trainers.Training;

namespace Recommender.Pipeline.Evaluation;

/// <summary>
/// The demo's report: one HTML page beside its PNG figures (ScottPlot) — the metric table next to the
/// oracle, each model's training curves (train loss and validation CTR AUC per epoch) and a calibration
/// plot of predicted against observed CTR on the test split (ten equal-count bins).
/// </summary>
public static class HtmlReport
{
    /// <summary>A model's results for the report.</summary>
    /// <param name="Name">The model's name.</param>
    /// <param name="History">Its epochs (validation metrics at each epoch's end).</param>
    /// <param name="LossCurve">Running training loss against progress in epochs (fractional), as the trainer reported it.</param>
    /// <param name="PCtr">Predicted CTR on the test split.</param>
    /// <param name="Clicks">Test click labels.</param>
    public sealed record ModelResult(string Name, IReadOnlyList<EpochReport> History, IReadOnlyList<(double Epoch, double Loss)> LossCurve, float[] PCtr, float[] Clicks);

    /// <summary>Writes <c>report.html</c> and its figures into <paramref name="directory"/>; returns the page's path.</summary>
    public static string Write(string directory, IReadOnlyList<(string Name, MultiTaskMetrics Metrics)> columns, IReadOnlyList<ModelResult> models)
    {
        Directory.CreateDirectory(directory);
        var html = new StringBuilder();
        html.Append("<!doctype html><html><head><meta charset=\"utf-8\"><title>Recommender demo report</title>")
            .Append("<style>body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}th:first-child,td:first-child{text-align:left}img{margin:8px 0}</style>")
            .Append("</head><body><h1>Recommender demo</h1>")
            .Append("<p>Test split (the latest 10% of days) of the synthetic e-commerce data. The oracle scores the true probabilities: the best any model can do.</p>");
        html.Append("<table><tr><th>metric</th>");
        foreach (var c in columns) html.Append("<th>").Append(WebUtility.HtmlEncode(c.Name)).Append("</th>");
        html.Append("</tr>");
        foreach (var (name, _) in columns[0].Metrics.Items())
        {
            html.Append("<tr><td>").Append(name).Append("</td>");
            foreach (var c in columns)
            {
                var value = c.Metrics.Items().Where(i => i.Name == name).Select(i => i.Value).FirstOrDefault(Recommender.Trainers.Evaluation.Metric.Undefined("-"));
                html.Append("<td>").Append(value.IsDefined ? value.Value.ToString("F4", CultureInfo.InvariantCulture) : "-").Append("</td>");
            }
            html.Append("</tr>");
        }
        html.Append("</table>");

        foreach (var m in models)
        {
            string slug = m.Name.ToLowerInvariant();
            html.Append("<h2>").Append(WebUtility.HtmlEncode(m.Name)).Append("</h2>");
            string curves = $"{slug}-training.png";
            var plot = new ScottPlot.Plot();
            // The running loss step by step (one epoch is the default, so per-epoch points would be one dot);
            // validation CTR AUC at each epoch's end, on its own axis.
            var loss = plot.Add.ScatterLine(m.LossCurve.Select(p => p.Epoch).ToArray(), m.LossCurve.Select(p => p.Loss).ToArray());
            loss.LegendText = "train loss (mean of the last 10 steps)";
            var auc = plot.Add.Scatter(m.History.Select(h => (double)h.Epoch).ToArray(), m.History.Select(h => h.Validation.GetValueOrDefault("ctr.auc", double.NaN)).ToArray());
            auc.LegendText = "validation CTR AUC";
            auc.MarkerSize = 10;
            auc.Axes.YAxis = plot.Axes.Right;
            plot.Axes.Right.Label.Text = "validation CTR AUC";
            plot.Axes.SetLimitsY(0.5, 1, plot.Axes.Right);
            plot.Axes.Left.Label.Text = "train loss";
            plot.Title($"{m.Name}: training");
            plot.XLabel("epoch");
            plot.ShowLegend(ScottPlot.Alignment.UpperRight);
            SavePng(plot, Path.Combine(directory, curves));
            html.Append($"<img src=\"{curves}\" alt=\"training curves\">");

            string calibration = $"{slug}-calibration.png";
            var (predicted, observed) = Bins(m.PCtr, m.Clicks, 10);
            var cal = new ScottPlot.Plot();
            var line = cal.Add.Scatter(predicted, observed);
            line.LegendText = "test bins (equal count)";
            double top = Math.Max(predicted.DefaultIfEmpty(0).Max(), observed.DefaultIfEmpty(0).Max());
            var diagonal = cal.Add.Line(0, 0, top, top);
            diagonal.LegendText = "perfect calibration";
            cal.Title($"{m.Name}: CTR calibration");
            cal.XLabel("mean predicted CTR");
            cal.YLabel("observed CTR");
            cal.ShowLegend();
            SavePng(cal, Path.Combine(directory, calibration));
            html.Append($"<img src=\"{calibration}\" alt=\"calibration\">");
        }
        html.Append("</body></html>");
        string page = Path.Combine(directory, "report.html");
        AtomicFile.WriteAllText(page, html.ToString());
        return page;
    }

    // Figures are outputs too: written whole or not at all.
    internal static void SavePng(ScottPlot.Plot plot, string path)
    {
        var bytes = plot.GetImageBytes(640, 400, ScottPlot.ImageFormat.Png);
        AtomicFile.Write(path, s => s.Write(bytes));
    }

    /// <summary>Mean prediction and observed rate in <paramref name="bins"/> equal-count bins of the sorted predictions.</summary>
    public static (double[] Predicted, double[] Observed) Bins(float[] predictions, float[] labels, int bins)
    {
        var order = Enumerable.Range(0, predictions.Length).OrderBy(i => predictions[i]).ToArray();
        var predicted = new List<double>();
        var observed = new List<double>();
        for (int b = 0; b < bins; b++)
        {
            int from = order.Length * b / bins, to = order.Length * (b + 1) / bins;
            if (to <= from) continue;
            predicted.Add(order[from..to].Average(i => (double)predictions[i]));
            observed.Add(order[from..to].Average(i => (double)labels[i]));
        }
        return (predicted.ToArray(), observed.ToArray());
    }
}
