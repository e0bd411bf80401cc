using System.Globalization;
using System.Text;
using Recommender.Trainers.Evaluation;
using Recommender.Trainers.Network;

namespace Recommender.Pipeline.Data.Synthetic;

/// <summary>
/// A small stand-in for the Census-Income (KDD) data of the MMoE paper (Ma et al., KDD 2018): people with mixed
/// categorical and dense attributes and two independent binary tasks, income above 50K and never married, both
/// defined on every row and related through shared causes (age above all, then schooling and work), with no user,
/// item or click. Rows are split at random; the true probabilities of the validation and test rows are written
/// beside them.
/// </summary>
public static class CensusGenerator
{
    /// <summary>The categorical columns.</summary>
    public static readonly string[] CategoricalColumns = ["class_of_worker", "education", "industry", "occupation", "race", "sex", "citizenship", "region", "household_size"];

    /// <summary>The dense columns.</summary>
    public static readonly string[] DenseColumns = ["age", "weeks_worked", "wage_per_hour", "capital_gains", "dividends"];

    /// <summary>The two tasks: income above 50K, never married.</summary>
    public static List<TaskDefinition> Tasks() =>
    [
        new() { Name = "income", Label = "income_50k" },
        new() { Name = "married", Label = "never_married" },
    ];

    /// <summary>The schema of the generated files: features and the two declared tasks, no user, item or click.</summary>
    public static DatasetSchema Schema() => new()
    {
        Name = "census-income-stand-in", Format = DataFormat.Csv,
        Categorical = [.. CategoricalColumns], Dense = [.. DenseColumns], Tasks = Tasks(),
    };

    private const int Educations = 16, Industries = 24, Occupations = 15, Workers = 8;

    /// <summary>Writes train/valid/test (80/10/10 at random), their truth files and schema.json into <paramref name="directory"/>.</summary>
    public static GenerationResult Generate(long rows, ulong seed, string directory)
    {
        if (rows < 100) throw new ArgumentOutOfRangeException(nameof(rows), "generate at least 100 rows");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var world = new Rng(seed, stream: 7);
        // Per category: its effect on each task, drawn once.
        double[] Effects(int n, double scale) { var e = new double[n]; for (int i = 0; i < n; i++) e[i] = scale * world.NextGaussian(); return e; }
        var industryIncome = Effects(Industries, 0.5);
        var occupationIncome = Effects(Occupations, 0.7);
        var occupationSingle = Effects(Occupations, 0.2);
        var workerIncome = Effects(Workers, 0.4);

        Directory.CreateDirectory(directory);
        string[] names = ["train.csv", "valid.csv", "test.csv", "valid_truth.csv", "test_truth.csv"];
        var text = names.Select(_ => new StringBuilder()).ToArray();
        var header = string.Join(',', CategoricalColumns.Concat(DenseColumns).Append("income_50k").Append("never_married"));
        for (int f = 0; f < 3; f++) text[f].Append(header).Append('\n');
        text[3].Append("P_income,P_married\n");
        text[4].Append("P_income,P_married\n");
        var rng = new Rng(seed, stream: 8);
        var inv = CultureInfo.InvariantCulture;
        var test = new List<(float PIncome, float PMarried, float Income, float Married)>();
        long[] splitRows = new long[3];
        long incomes = 0, singles = 0;
        for (long r = 0; r < rows; r++)
        {
            double age = Math.Clamp(18 + rng.NextExponential(20) + 4 * rng.NextGaussian(), 16, 90);
            int education = Math.Clamp((int)Math.Round(8 + 0.04 * (age - 40) + 3 * rng.NextGaussian()), 0, Educations - 1);
            bool working = rng.NextDouble() < (age < 65 ? 0.8 : 0.25);
            int worker = working ? 1 + rng.NextInt(Workers - 1) : 0;
            int industry = working ? 1 + rng.NextInt(Industries - 1) : 0;
            int occupation = working ? Math.Clamp((int)Math.Round(education * 0.6 + 2 * rng.NextGaussian()), 1, Occupations - 1) : 0;
            int race = rng.NextDouble() < 0.8 ? 0 : 1 + rng.NextInt(4);
            int sex = rng.NextInt(2);
            int citizenship = rng.NextDouble() < 0.88 ? 0 : 1 + rng.NextInt(4);
            int region = rng.NextInt(6);
            double weeks = working ? Math.Clamp(52 - rng.NextExponential(6), 0, 52) : 0;
            double wage = working ? Math.Max(0, 8 + 1.2 * education + 6 * rng.NextGaussian()) : 0;
            double gains = rng.NextDouble() < 0.04 + 0.004 * education ? Math.Round(rng.NextExponential(5000)) : 0;
            double dividends = rng.NextDouble() < 0.1 + 0.01 * education ? Math.Round(rng.NextExponential(800)) : 0;
            double single = 1.9 - 0.11 * (age - 18) + occupationSingle[occupation] + 0.08 * (education - 8) + (working ? -0.3 : 0.2) + 0.5 * rng.NextGaussian();
            int household = Math.Clamp((int)Math.Round(single > 0 ? 1 + rng.NextExponential(0.8) : 2 + rng.NextExponential(1.5)), 1, 8);
            double income = -8.6 + 0.35 * education + (working ? 1.2 + industryIncome[industry] + occupationIncome[occupation] + workerIncome[worker] : -1.5)
                + 0.03 * weeks + 0.06 * Math.Min(age - 16, 30) - 0.04 * Math.Max(age - 60, 0) + (sex == 1 ? 0.6 : 0) + (gains > 0 ? 1.3 : 0) + (dividends > 0 ? 0.5 : 0)
                - 0.8 * Math.Max(Math.Min(single, 3), 0) / 3;
            double pIncome = SyntheticWorld.Sigmoid(income), pSingle = SyntheticWorld.Sigmoid(single + 0.4 * (household == 1 ? 1 : -1));
            int y1 = rng.NextDouble() < pIncome ? 1 : 0, y2 = rng.NextDouble() < pSingle ? 1 : 0;
            incomes += y1; singles += y2;
            double u = rng.NextDouble();
            int split = u < 0.8 ? 0 : u < 0.9 ? 1 : 2;
            splitRows[split]++;
            var sb = text[split];
            sb.Append(worker).Append(',').Append(education).Append(',').Append(industry).Append(',').Append(occupation).Append(',').Append(race).Append(',')
              .Append(sex).Append(',').Append(citizenship).Append(',').Append(region).Append(',').Append(household).Append(',')
              .Append(inv, $"{Math.Round(age):0}").Append(',').Append(inv, $"{weeks:0}").Append(',').Append(inv, $"{wage:0.##}").Append(',')
              .Append(inv, $"{gains:0}").Append(',').Append(inv, $"{dividends:0}").Append(',').Append(y1).Append(',').Append(y2).Append('\n');
            if (split == 0) continue;
            text[2 + split].Append(((float)pIncome).ToString("R", inv)).Append(',').Append(((float)pSingle).ToString("R", inv)).Append('\n');
            if (split == 2) test.Add(((float)pIncome, (float)pSingle, y1, y2));
        }
        for (int f = 0; f < names.Length; f++) AtomicFile.WriteAllText(Path.Combine(directory, names[f]), text[f].ToString());
        Schema().Save(Path.Combine(directory, "schema.json"));
        var oracle = MultiTaskMetrics.Compute(Tasks(),
            new Dictionary<string, float[]> { ["P_income"] = test.Select(t => t.PIncome).ToArray(), ["P_married"] = test.Select(t => t.PMarried).ToArray() },
            new Dictionary<string, float[]> { ["income"] = test.Select(t => t.Income).ToArray(), ["married"] = test.Select(t => t.Married).ToArray() }, null);
        return new GenerationResult(directory, splitRows[0], splitRows[1], splitRows[2], incomes / (double)rows, singles / (double)rows, 0, oracle, clock.Elapsed.TotalSeconds)
        {
            Rates = new Dictionary<string, double> { ["income_50k"] = incomes / (double)rows, ["never_married"] = singles / (double)rows },
        };
    }
}
