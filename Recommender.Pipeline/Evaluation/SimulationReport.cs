using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Recommender.Pipeline.Evaluation;

/// <summary>
/// <c>simulate</c>'s report: one HTML page with, per policy, the daily click rate and the cumulative regret (the
/// oracle's expected clicks minus the policy's) over the days, and the cumulative table.
/// </summary>
public static class SimulationReport
{
    /// <summary>Writes <c>simulation.html</c> and its figures for one run's JSON into <paramref name="directory"/>; returns the page's path.</summary>
    public static string Write(string directory, JsonNode run)
    {
        Directory.CreateDirectory(directory);
        var perDay = run["per_day"]!.AsObject();
        var oracle = perDay["e_oracle"]!.AsArray().Select(d => d!["expected_clicks"]!.GetValue<double>()).ToArray();
        var ctr = new ScottPlot.Plot();
        var regret = new ScottPlot.Plot();
        foreach (var (name, days) in perDay)
        {
            var list = days!.AsArray();
            double[] x = list.Select(d => (double)d!["day"]!.GetValue<int>()).ToArray();
            var line = ctr.Add.ScatterLine(x, list.Select(d => d!["ctr"]!.GetValue<double>()).ToArray());
            line.LegendText = name;
            double cumulative = 0;
            var r = regret.Add.ScatterLine(x, list.Select((d, i) => cumulative += oracle[i] - d!["expected_clicks"]!.GetValue<double>()).ToArray());
            r.LegendText = name;
        }
        ctr.Title("click rate per day");
        ctr.XLabel("day");
        ctr.YLabel("CTR");
        ctr.ShowLegend(ScottPlot.Alignment.LowerRight);
        regret.Title("cumulative regret (expected clicks below the oracle)");
        regret.XLabel("day");
        regret.YLabel("clicks");
        regret.ShowLegend(ScottPlot.Alignment.UpperLeft);
        HtmlReport.SavePng(ctr, Path.Combine(directory, "simulation-ctr.png"));
        HtmlReport.SavePng(regret, Path.Combine(directory, "simulation-regret.png"));

        var html = new StringBuilder("<!doctype html><html><head><meta charset=\"utf-8\"><title>Feedback loop simulation</title>")
            .Append("<style>body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}th:first-child,td:first-child{text-align:left}</style>")
            .Append("</head><body><h1>Feedback loop simulation</h1><p>")
            .Append(WebUtility.HtmlEncode(run["simulation"]!.ToJsonString()))
            .Append("</p><table><tr><th>policy</th><th>impressions</th><th>clicks</th><th>conversions</th><th>CTR</th><th>value</th><th>regret (clicks)</th></tr>");
        foreach (var (name, c) in run["cumulative"]!.AsObject())
            html.Append($"<tr><td>{WebUtility.HtmlEncode(name)}</td><td>{c!["impressions"]}</td><td>{c["clicks"]}</td><td>{c["conversions"]}</td><td>{c["ctr"]}</td><td>{c["value"]}</td><td>{c["regret_clicks"]}</td></tr>");
        html.Append("</table><img src=\"simulation-ctr.png\" alt=\"CTR per day\"><img src=\"simulation-regret.png\" alt=\"cumulative regret\"></body></html>");
        string page = Path.Combine(directory, "simulation.html");
        AtomicFile.WriteAllText(page, html.ToString());
        return page;
    }
}
