using System.Text.Json.Nodes;
using Microsoft.ML;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Data.Synthetic;
using Recommender.Pipeline.Featurization;
using Recommender.Trainers.Evaluation;
using Recommender.Trainers.Network;
using Recommender.Trainers.Runtime;
using Recommender.Trainers.Training;

namespace Recommender.Pipeline.Benchmarks;

/// <summary>
/// <c>bench tasks</c>: on generated funnel data (click, cart, purchase, rating, and an independent favourite), the
/// same towers over the same embeddings trained three ways, side by side in one run: ESM2 (the chain declared with
/// <c>given</c>, each task learned through its entire-space product), independent towers (every task declared on its
/// own, predicting its entire-space label directly) and SharedBottom over the declared chain (each step fit on its
/// own rows). Reported per training seed and as mean and standard error over seeds: every task's test AUC over the
/// entire space, and the paired difference ESM2 minus independent with a bootstrap standard error over test rows.
/// </summary>
public static class TasksBenchmark
{
    /// <summary>Runs the benchmark on <paramref name="rows"/> generated rows with <paramref name="seeds"/> training seeds.</summary>
    public static JsonObject Run(string work, long rows, int seeds, int threads, Action<string> log)
    {
        var generation = new SyntheticOptions { Rows = rows, Seed = 42, Funnel = true, Favourite = true, Crosses = false, History = 0 };
        string data = Path.Combine(work, $"funnel-{rows}");
        var generated = SyntheticGenerator.Generate(generation, data);
        var schema = DatasetSchema.Load(Path.Combine(data, "schema.json"));
        var featurized = FeaturizedTables.Build(new MLContext(seed: 1), DataLoader.Load(schema, Path.Combine(data, "train.csv")),
            DataLoader.Load(schema, Path.Combine(data, "valid.csv")), DataLoader.Load(schema, Path.Combine(data, "test.csv")));
        var chain = featurized.Tasks;
        var independent = chain.Select(t => t.Kind == TaskKind.Binary ? t with { Given = null } : t).ToArray();
        var test = featurized.Others[1];
        var labels = chain.Select((t, i) => (t.Name, i)).ToDictionary(x => x.Name, x => test.LabelColumn(x.i));
        log($"data: {featurized.Train.Rows:N0} train, {test.Rows:N0} test rows");

        (string Name, MultiTaskArchitecture Architecture, IReadOnlyList<TaskDefinition> Tasks)[] cases =
        [
            ("esm2_chain", MultiTaskArchitecture.Esmm, chain),
            ("independent_towers", MultiTaskArchitecture.Esmm, independent),
            ("shared_bottom_chain", MultiTaskArchitecture.SharedBottom, chain),
        ];
        // The entire-space AUC of every binary task, read through the chain's definitions (P_task is entire-space in both).
        string[] metrics = [.. chain.Where(t => t.Kind == TaskKind.Binary).Select(t => t.Given is null ? $"{t.Name}.auc" : $"{t.Name}.entire_auc")];
        var results = cases.ToDictionary(c => c.Name, _ => metrics.ToDictionary(m => m, _ => new List<double>()));
        var purchase = new Dictionary<string, List<float[]>>();
        var perSeed = new JsonArray();
        for (int seed = 1; seed <= seeds; seed++)
        {
            var row = new JsonObject { ["seed"] = seed };
            foreach (var (name, architecture, tasks) in cases)
            {
                var options = new MultiTaskTrainerOptions { Architecture = architecture, Tasks = [.. tasks], Seed = seed, Threads = threads, Device = ExecutionDevice.Cpu };
                var clock = System.Diagnostics.Stopwatch.StartNew();
                var model = MultiTaskTrainer.Train(featurized.Train, featurized.Others[0], featurized.FieldRows, featurized.OptionsFor(options), fieldNames: featurized.FieldNames);
                var p = model.Predict(test);
                var m = MultiTaskMetrics.Compute(chain, p.Columns, labels, null);
                var values = new JsonObject();
                foreach (var metric in metrics)
                {
                    double v = m[metric]!.Value.Value;
                    results[name][metric].Add(v);
                    values[metric] = Math.Round(v, 4);
                }
                values["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1);
                row[name] = values;
                (purchase.TryGetValue(name, out var list) ? list : purchase[name] = []).Add(p["P_purchase"]);
                log($"seed {seed} {name}: purchase.entire_auc {values["purchase.entire_auc"]}");
            }
            perSeed.Add(row);
        }

        var summary = new JsonObject();
        foreach (var (name, byMetric) in results)
            summary[name] = new JsonObject(byMetric.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)new JsonObject
            {
                ["mean"] = Math.Round(kv.Value.Average(), 4), ["se"] = Math.Round(StandardError(kv.Value), 4),
            })));
        // ESM2 against independent towers, paired by seed; and on the test rows' noise, a paired bootstrap of the first seed.
        var differences = results["esm2_chain"]["purchase.entire_auc"].Zip(results["independent_towers"]["purchase.entire_auc"], (a, b) => a - b).ToList();
        var entireLabel = EntireSpaceLabel(chain, labels, "purchase");
        return new JsonObject
        {
            ["benchmark"] = "tasks",
            ["cpu"] = MachineInfo.CpuModel(),
            ["data"] = $"generate --funnel --favourite --rows {rows} --seed 42",
            ["train_rows"] = featurized.Train.Rows, ["test_rows"] = test.Rows,
            ["test_purchases"] = entireLabel.Count(v => v == 1),
            ["oracle"] = new JsonObject(metrics.Select(m => KeyValuePair.Create(m, (JsonNode?)Math.Round(generated.Oracle[m]!.Value.Value, 4)))),
            ["seeds"] = seeds,
            ["mean_over_seeds"] = summary,
            ["esm2_minus_independent_purchase_entire_auc"] = new JsonObject
            {
                ["mean"] = Math.Round(differences.Average(), 4), ["se_over_seeds"] = Math.Round(StandardError(differences), 4),
                ["bootstrap_se_over_test_rows"] = Math.Round(PairedBootstrapSe(purchase["esm2_chain"][0], purchase["independent_towers"][0], entireLabel, 200), 4),
            },
            ["per_seed"] = perSeed,
        };
    }

    // The task's label over the entire space: 0 where its chain broke before it.
    private static float[] EntireSpaceLabel(IReadOnlyList<TaskDefinition> tasks, IReadOnlyDictionary<string, float[]> labels, string task)
    {
        var chain = TaskList.Ancestors(tasks, tasks.Single(t => t.Name == task)).Select(t => labels[t.Name]).Append(labels[task]).ToArray();
        return Enumerable.Range(0, chain[0].Length).Select(i => chain.All(l => l[i] == 1f) ? 1f : 0f).ToArray();
    }

    private static double StandardError(IReadOnlyList<double> values)
    {
        if (values.Count < 2) return double.NaN;
        double mean = values.Average();
        return Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1) / values.Count);
    }

    // The standard deviation of AUC(a) - AUC(b) over bootstrap resamples of the rows (the same resample for both).
    private static double PairedBootstrapSe(float[] a, float[] b, float[] labels, int resamples)
    {
        var rng = new Random(7);
        var differences = new List<double>();
        var index = new int[labels.Length];
        var pa = new float[labels.Length];
        var pb = new float[labels.Length];
        var y = new float[labels.Length];
        for (int s = 0; s < resamples; s++)
        {
            for (int i = 0; i < index.Length; i++) index[i] = rng.Next(labels.Length);
            for (int i = 0; i < index.Length; i++) { pa[i] = a[index[i]]; pb[i] = b[index[i]]; y[i] = labels[index[i]]; }
            differences.Add(BinaryMetrics.Auc(pa, y).Value - BinaryMetrics.Auc(pb, y).Value);
        }
        double mean = differences.Average();
        return Math.Sqrt(differences.Sum(d => (d - mean) * (d - mean)) / (differences.Count - 1));
    }
}
