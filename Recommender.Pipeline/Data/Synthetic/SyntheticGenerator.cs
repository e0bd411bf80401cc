using Recommender.Trainers.Evaluation;
using System.Globalization;
using System.Text;
using Recommender.Trainers.Network;
using Recommender.Trainers.Training;

namespace Recommender.Pipeline.Data.Synthetic;

/// <summary>What <see cref="SyntheticGenerator.Generate"/> wrote and the best achievable metrics on its test split.</summary>
public sealed record GenerationResult(string Directory, long TrainRows, long ValidRows, long TestRows,
    double Ctr, double CvrGivenClick, long Ratings, MultiTaskMetrics Oracle, double Seconds)
{
    /// <summary>The share of positive labels per binary label column, where the data is not the e-commerce funnel (census).</summary>
    public IReadOnlyDictionary<string, double>? Rates { get; init; }
}

/// <summary>
/// The embedded default data (DESIGN section 6): Ali-CCP-shaped impression logs with users and items with
/// attributes, Zipf item popularity and user activity, position bias, a latent user-item affinity,
/// clicks, conversions only after clicks, ratings only after purchases, split by time, with the true
/// probabilities of every validation and test row written beside it (<c>*_truth.csv</c>, one column per prediction
/// of the schema's tasks). Options add a cart step to the funnel and an independent favourite label; the schema then
/// declares its tasks instead of the click / conversion / rating roles.
/// </summary>
public static class SyntheticGenerator
{
    /// <summary>The categorical columns, in file order (16 fields).</summary>
    public static readonly string[] CategoricalColumns =
        ["user_id", "age", "gender", "city", "occupation", "consumption", "item_id", "category", "brand", "shop", "price_bucket", "position", "hour", "weekday", "device", "channel"];

    /// <summary>The dense columns, in file order (8 fields).</summary>
    public static readonly string[] DenseColumns =
        ["user_hist_ctr", "user_orders", "item_hist_ctr", "item_price", "item_review_score", "item_sales", "user_category_affinity", "recency_days"];

    /// <summary>The label columns of the generated files, in file order.</summary>
    public static string[] LabelColumns(SyntheticOptions o) =>
        [.. (string[])(o.Funnel ? ["click", "cart", "conversion", "rating"] : ["click", "conversion", "rating"]), .. (string[])(o.Favourite ? ["favourite"] : [])];

    /// <summary>The header of the generated files.</summary>
    public static string Header(SyntheticOptions o) => string.Join(',', CategoricalColumns.Concat(DenseColumns).Concat(LabelColumns(o)).Append("timestamp")
        .Concat(o.History > 0 ? ["recent_items", "recent_categories"] : []));

    /// <summary>The time of the first day's midnight in the generated timestamps (Unix seconds).</summary>
    public const long TimeOrigin = 1_700_000_000L;

    /// <summary>
    /// The tasks of the generated files when an option adds labels: click; cart given click (with the funnel);
    /// purchase (the conversion column) given the step before; rating in [1, 5] given purchase; favourite, independent.
    /// </summary>
    public static List<TaskDefinition> Tasks(SyntheticOptions o)
    {
        var tasks = new List<TaskDefinition> { new() { Name = "click", Label = "click" } };
        if (o.Funnel) tasks.Add(new() { Name = "cart", Label = "cart", Given = "click" });
        tasks.Add(new() { Name = "purchase", Label = "conversion", Given = o.Funnel ? "cart" : "click" });
        tasks.Add(new() { Name = "rating", Label = "rating", Kind = TaskKind.Regression, Min = 1, Max = 5, Given = "purchase", Weight = MultiTaskTrainerOptions.Defaults.RatingWeight });
        if (o.Favourite) tasks.Add(new() { Name = "favourite", Label = "favourite" });
        return tasks;
    }

    /// <summary>The schema of the generated files: the click / conversion / rating roles, or with an option the declared <see cref="Tasks"/>.</summary>
    public static DatasetSchema Schema(SyntheticOptions o)
    {
        var schema = Schema();
        if (o.History > 0)
            schema.Sequences = [new() { Column = "recent_items", Field = "item_id", Length = o.History }, new() { Column = "recent_categories", Field = "category", Length = o.History }];
        if (!o.Funnel && !o.Favourite) return schema;
        schema.Click = schema.Conversion = schema.Rating = null;
        schema.Tasks = Tasks(o);
        return schema;
    }

    /// <summary>The schema of the default generated files.</summary>
    public static DatasetSchema Schema() => new()
    {
        Name = "synthetic-ecommerce",
        Format = DataFormat.Csv,
        User = "user_id",
        Item = "item_id",
        Group = "user_id",
        Time = "timestamp",
        Categorical = CategoricalColumns.Where(c => c is not "user_id" and not "item_id").ToList(),
        Dense = DenseColumns.ToList(),
        Click = "click",
        Conversion = "conversion",
        Rating = "rating",
        RatingMin = 1,
        RatingMax = 5,
    };

    private const int ChunkRows = 50_000;

    /// <summary>The most warm-up days (<see cref="SyntheticOptions.WarmUpDays"/>) a log may ask for.</summary>
    public const int MaxWarmUpDays = 3650;

    // The unwritten rows before the log, at the log's own traffic per day (row -1 is the last moment before the log).
    private static long WarmUpRows(SyntheticOptions o) => (long)Math.Round(o.Rows * (double)o.WarmUpDays / o.Days);

    /// <summary>Generates the data set into <paramref name="directory"/>; every file is written atomically.</summary>
    public static GenerationResult Generate(SyntheticOptions options, string directory, Action<long, long>? progress = null)
    {
        if (options.Rows < 100) throw new ArgumentOutOfRangeException(nameof(options), "generate at least 100 rows");
        if (options.WarmUpDays is < 0 or > MaxWarmUpDays) throw new ArgumentOutOfRangeException(nameof(options), $"warm-up days must be in [0, {MaxWarmUpDays}]");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var world = new SyntheticWorld(options);
        Calibrate(world, options);
        var profile = new Profiles(world, options.Seed);

        long testRows = (long)Math.Round(options.Rows * options.TestFraction);
        long validRows = (long)Math.Round(options.Rows * options.ValidFraction);
        long trainRows = options.Rows - validRows - testRows;
        Directory.CreateDirectory(directory);
        string[] names = ["train.csv", "valid.csv", "test.csv", "valid_truth.csv", "test_truth.csv"];
        var streams = new FileStream[names.Length];
        var temps = new string[names.Length];
        for (int f = 0; f < names.Length; f++) streams[f] = AtomicFile.CreateTemp(Path.Combine(directory, names[f]), out temps[f]);
        try
        {
            var schema = Schema(options);
            var tasks = schema.ResolveTasks();
            var header = Encoding.UTF8.GetBytes(Header(options) + "\n");
            var truthHeader = Encoding.UTF8.GetBytes(string.Join(',', TaskList.Predictions(tasks)) + "\n");
            for (int f = 0; f < 3; f++) streams[f].Write(header);
            streams[3].Write(truthHeader);
            streams[4].Write(truthHeader);

            var oracle = new OracleRows(tasks, (int)testRows);
            long chunks = (options.Rows + ChunkRows - 1) / ChunkRows;
            long clicks = 0, conversions = 0, ratings = 0;
            // With behaviour, each row depends on the log before it: one chunk at a time, in order.
            var behaviour = options.History > 0 ? new UserBehaviour(world, options.History) : null;
            if (behaviour is not null)
            {
                var warmUp = new Rng(options.Seed, stream: 5);
                SimulateClicks(world, options, behaviour, ref warmUp, -WarmUpRows(options), 0, null);
            }
            int wave = behaviour is not null ? 1 : Math.Max(2, Environment.ProcessorCount * 2);
            for (long first = 0; first < chunks; first += wave)
            {
                int count = (int)Math.Min(wave, chunks - first);
                var results = new ChunkOutput[count];
                Parallel.For(0, count, k =>
                {
                    long c = first + k;
                    long start = c * ChunkRows, end = Math.Min(options.Rows, start + ChunkRows);
                    results[k] = GenerateChunk(world, profile, options, c, start, end, trainRows, trainRows + validRows, oracle, behaviour);
                });
                foreach (var r in results)
                {
                    for (int f = 0; f < names.Length; f++) r.Text[f].WriteTo(streams[f]);
                    clicks += r.Clicks; conversions += r.Conversions; ratings += r.Ratings;
                }
                progress?.Invoke(Math.Min(options.Rows, (first + count) * ChunkRows), options.Rows);
                Recommender.Trainers.FaultInjection.Point("generate.wave-written");
            }
            for (int f = 0; f < names.Length; f++) AtomicFile.Commit(streams[f], temps[f], Path.Combine(directory, names[f]));
            schema.Save(Path.Combine(directory, "schema.json"));
            var metrics = oracle.Metrics();
            return new GenerationResult(directory, trainRows, validRows, testRows,
                clicks / (double)options.Rows, clicks == 0 ? 0 : conversions / (double)clicks, ratings, metrics, clock.Elapsed.TotalSeconds);
        }
        catch
        {
            for (int f = 0; f < names.Length; f++) AtomicFile.Abandon(streams[f], temps[f]);
            throw;
        }
    }

    // Per-user and per-item "historical" features: noisy, stable views of the hidden truth.
    internal sealed class Profiles
    {
        public readonly string[] UserHistCtr, UserOrders, ItemHistCtr, ItemPrice, ItemReview, ItemSales;

        public Profiles(SyntheticWorld w, ulong seed)
        {
            var rng = new Rng(seed, stream: 3);
            UserHistCtr = new string[w.UserCount];
            UserOrders = new string[w.UserCount];
            for (int u = 0; u < w.UserCount; u++)
            {
                // New users have no click history: the field is missing.
                UserHistCtr[u] = rng.NextDouble() < 0.03 ? "" : F(SyntheticWorld.Sigmoid(w.CtrIntercept + w.UserBias[u] + 0.3 * rng.NextGaussian()), 5);
                UserOrders[u] = ((int)Math.Round(Math.Exp(1.5 + 1.5 * w.UserBuyBias[u] + 0.5 * rng.NextGaussian()))).ToString(CultureInfo.InvariantCulture);
            }
            ItemHistCtr = new string[w.ItemCount]; ItemPrice = new string[w.ItemCount]; ItemReview = new string[w.ItemCount]; ItemSales = new string[w.ItemCount];
            for (int i = 0; i < w.ItemCount; i++)
            {
                ItemHistCtr[i] = F(SyntheticWorld.Sigmoid(w.CtrIntercept + w.ItemBias[i] + 0.3 * rng.NextGaussian()), 5);
                ItemPrice[i] = F(Math.Exp(w.ItemLogPrice[i]), 2);
                ItemReview[i] = w.ItemNew[i] ? "" : F(Math.Clamp(3.7 + 0.45 * w.ItemQuality[i] + 0.3 * rng.NextGaussian(), 1, 5), 2);
                ItemSales[i] = ((long)Math.Round(w.ItemPopularity[i] * w.ItemCount * 20 * SyntheticWorld.Sigmoid(w.ItemQuality[i]) * Math.Exp(0.3 * rng.NextGaussian()))).ToString(CultureInfo.InvariantCulture);
            }
        }
    }

    private static string F(double v, int decimals) => Math.Round(v, decimals).ToString(CultureInfo.InvariantCulture);

    private struct Impression
    {
        public int User, Item, Position, Hour, Weekday, Device, Channel;
        public long Timestamp;
        public double Recency, Affinity, ClickLogit;
        public int[]? Recent;
    }

    private static void Sample(SyntheticWorld w, SyntheticOptions o, ref Rng rng, long row, out Impression x, UserBehaviour? behaviour = null)
    {
        x = default;
        x.User = rng.Pick(w.UserActivity);
        x.Channel = rng.Pick(w.ChannelCumulative);
        int favorite = w.UserFavorite[x.User];
        double t = row / (double)o.Rows * o.Days;
        int day = (int)Math.Floor(t); // a warm-up row (negative) falls on a day before the log
        if (behaviour is not null)
        {
            // The time first: the history is the user's clicks before it, and it steers what is shown and clicked. Rows are in
            // time order here (the day's share of rows walked through the hours' traffic weights), so a row's history is
            // exactly the user's clicks in the rows before it.
            var hours = w.HourCumulative;
            double within = (t - day) * hours[^1];
            int hour = Array.BinarySearch(hours, within);
            x.Hour = Math.Min(hour < 0 ? ~hour : hour + 1, hours.Length - 1);
            double low = x.Hour == 0 ? 0 : hours[x.Hour - 1];
            x.Timestamp = TimeOrigin + day * 86_400L + x.Hour * 3600L + (long)Math.Min(3599, (within - low) / (hours[x.Hour] - low) * 3600);
            x.Recent = behaviour.Recent(x.User, x.Timestamp);
        }
        // A third of impressions come from the user's favourite category (a recommender already shaped
        // the traffic); the rest follow global popularity. With behaviour, a share comes from the categories of the
        // user's latest clicks (the recommender follows the user's current interest).
        int k;
        if (x.Recent is { Length: > 0 } recent && rng.NextDouble() < UserBehaviour.InterestShare
            && w.ItemCategory[recent[rng.NextInt(Math.Min(UserBehaviour.InterestWindow, recent.Length))]] is var interest)
            k = rng.Pick(w.ItemPopularityCumulative, w.CategoryStart[interest], w.CategoryEnd[interest]);
        else
            k = rng.NextDouble() < 0.35
                ? rng.Pick(w.ItemPopularityCumulative, w.CategoryStart[favorite], w.CategoryEnd[favorite])
                : rng.Pick(w.ItemPopularityCumulative);
        x.Item = w.ItemsByCategory[k];
        x.Position = rng.Pick(w.PositionCumulative) + 1;
        if (behaviour is null) x.Hour = rng.Pick(w.HourCumulative);
        x.Device = rng.NextDouble() < 0.85 ? w.UserDevice[x.User] : rng.NextInt(SyntheticWorld.Devices);
        x.Weekday = ((day + 3) % 7 + 7) % 7;
        if (behaviour is null) x.Timestamp = TimeOrigin + day * 86_400L + x.Hour * 3600L + rng.NextInt(3600);
        x.Recency = rng.NextExponential(3);
        x.Affinity = w.Affinity(x.User, x.Item);
        x.ClickLogit = SyntheticWorld.ClickLogit(w.UserBias[x.User], w.ItemBias[x.Item], x.Affinity, x.Position, x.Hour, x.Device, x.Channel, x.Recency)
            + w.ClickCrosses(x.User, x.Item, x.Device, x.Channel);
        if (behaviour is not null) x.ClickLogit += behaviour.ClickLift(x.Recent!, x.Item);
    }

    private static double CvrLogit(SyntheticWorld w, in Impression x) =>
        SyntheticWorld.ConversionLogit(w.UserBuyBias[x.User], w.ItemQuality[x.Item], w.ItemPriceZ[x.Item], x.Affinity, x.Channel) + w.PurchaseCrosses(x.User, x.Item);

    // Solves the intercepts so the base rates hit their targets on a large sample of the traffic.
    internal static void Calibrate(SyntheticWorld w, SyntheticOptions o)
    {
        const int n = 40_000;
        var rng = new Rng(o.Seed, stream: 2);
        var ctrLogits = new double[n];
        var cvrLogits = new double[n];
        var cartLogits = new double[n];
        var purchaseLogits = new double[n];
        var favouriteLogits = new double[n];
        for (int i = 0; i < n; i++)
        {
            Sample(w, o, ref rng, (long)(i / (double)n * o.Rows), out var x);
            ctrLogits[i] = x.ClickLogit;
            cvrLogits[i] = CvrLogit(w, x);
            cartLogits[i] = CartLogit(w, x);
            purchaseLogits[i] = PurchaseLogit(w, x);
            favouriteLogits[i] = FavouriteLogit(w, x);
        }
        w.CtrIntercept = Solve(b => ctrLogits.Average(z => SyntheticWorld.Sigmoid(b + z)), o.TargetCtr);
        var clickWeight = ctrLogits.Select(z => SyntheticWorld.Sigmoid(w.CtrIntercept + z)).ToArray();
        double totalWeight = clickWeight.Sum();
        w.CvrIntercept = Solve(b =>
        {
            double s = 0;
            for (int i = 0; i < n; i++) s += clickWeight[i] * SyntheticWorld.Sigmoid(b + cvrLogits[i]);
            return s / totalWeight;
        }, o.TargetCvr);
        // The funnel: carts among clicks, then purchases among carts, so that purchases among clicks hit the CVR target.
        w.CartIntercept = Solve(b =>
        {
            double s = 0;
            for (int i = 0; i < n; i++) s += clickWeight[i] * SyntheticWorld.Sigmoid(b + cartLogits[i]);
            return s / totalWeight;
        }, o.TargetCart);
        var cartWeight = clickWeight.Select((c, i) => c * SyntheticWorld.Sigmoid(w.CartIntercept + cartLogits[i])).ToArray();
        double totalCart = cartWeight.Sum();
        w.PurchaseIntercept = Solve(b =>
        {
            double s = 0;
            for (int i = 0; i < n; i++) s += cartWeight[i] * SyntheticWorld.Sigmoid(b + purchaseLogits[i]);
            return s / totalCart;
        }, Math.Min(0.95, o.TargetCvr / o.TargetCart));
        w.FavouriteIntercept = Solve(b => favouriteLogits.Average(z => SyntheticWorld.Sigmoid(b + z)), o.TargetFavourite);
        if (o.History > 0) CalibrateBehaviour(w, o);
    }

    // With behaviour, clicks feed later clicks, so the click rate is a property of the whole log: the click intercept is
    // corrected by simulating the warm-up and the whole log's clicks (no output) until the log's rate is the target's.
    private static void CalibrateBehaviour(SyntheticWorld w, SyntheticOptions o)
    {
        static double Logit(double p) => Math.Log(p / (1 - p));
        for (int round = 0; round < 3; round++)
        {
            var behaviour = new UserBehaviour(w, o.History);
            var rng = new Rng(o.Seed, stream: 4);
            SimulateClicks(w, o, behaviour, ref rng, -WarmUpRows(o), 0, null);
            var clickedCvrLogits = new List<double>();
            long clicks = SimulateClicks(w, o, behaviour, ref rng, 0, o.Rows, clickedCvrLogits);
            double rate = Math.Clamp(clicks / (double)o.Rows, 1e-6, 1 - 1e-6);
            w.CtrIntercept += Logit(o.TargetCtr) - Logit(rate);
            // The clicked rows are not the ones the first estimate weighed: the conversion rate among them is solved again.
            if (clickedCvrLogits.Count > 0) w.CvrIntercept = Solve(b => clickedCvrLogits.Average(z => SyntheticWorld.Sigmoid(b + z)), o.TargetCvr);
        }
    }

    // Rows [from, to) of the behaviour log without output: each click joins its user's history. Returns the clicks, and
    // keeps the first 200,000 clicked rows' conversion logits where asked.
    private static long SimulateClicks(SyntheticWorld w, SyntheticOptions o, UserBehaviour behaviour, ref Rng rng, long from, long to, List<double>? clickedCvrLogits)
    {
        long clicks = 0;
        for (long row = from; row < to; row++)
        {
            Sample(w, o, ref rng, row, out var x, behaviour);
            if (rng.NextDouble() >= SyntheticWorld.Sigmoid(w.CtrIntercept + x.ClickLogit)) continue;
            clicks++;
            behaviour.Clicked(x.User, x.Timestamp, x.Item);
            if (clickedCvrLogits is { Count: < 200_000 }) clickedCvrLogits.Add(CvrLogit(w, x));
        }
        return clicks;
    }

    private static double CartLogit(SyntheticWorld w, in Impression x) =>
        SyntheticWorld.CartLogit(w.UserBuyBias[x.User], w.ItemQuality[x.Item], x.Affinity, x.Channel);

    private static double PurchaseLogit(SyntheticWorld w, in Impression x) =>
        SyntheticWorld.PurchaseLogit(w.UserBuyBias[x.User], w.ItemQuality[x.Item], w.ItemPriceZ[x.Item], x.Affinity) + w.PurchaseCrosses(x.User, x.Item);

    private static double FavouriteLogit(SyntheticWorld w, in Impression x) =>
        SyntheticWorld.FavouriteLogit(w.UserRatingBias[x.User], w.ItemQuality[x.Item], x.Affinity, x.Position);

    private static double Solve(Func<double, double> mean, double target)
    {
        double lo = -20, hi = 20;
        for (int i = 0; i < 60; i++)
        {
            double mid = (lo + hi) / 2;
            if (mean(mid) < target) lo = mid; else hi = mid;
        }
        return (lo + hi) / 2;
    }

    private sealed class ChunkOutput
    {
        public readonly MemoryStream[] Text = [new(), new(), new(), new(), new()];
        public long Clicks, Conversions, Ratings;
    }

    private static ChunkOutput GenerateChunk(SyntheticWorld w, Profiles profile, SyntheticOptions o, long chunk,
        long start, long end, long validStart, long testStart, OracleRows oracle, UserBehaviour? behaviour)
    {
        var output = new ChunkOutput();
        var rng = new Rng(o.Seed, stream: 1000 + (ulong)chunk);
        var builders = new[] { new StringBuilder(), new StringBuilder(), new StringBuilder(), new StringBuilder(), new StringBuilder() };
        var inv = CultureInfo.InvariantCulture;
        var truth = new List<float>();
        var labels = new List<float>();
        for (long row = start; row < end; row++)
        {
            Sample(w, o, ref rng, row, out var x, behaviour);
            double pCtr = SyntheticWorld.Sigmoid(w.CtrIntercept + x.ClickLogit);
            // With the funnel, conversion given click is cart given click times purchase given cart.
            double pCart = o.Funnel ? SyntheticWorld.Sigmoid(w.CartIntercept + CartLogit(w, x)) : 1;
            double pCvr = o.Funnel ? SyntheticWorld.Sigmoid(w.PurchaseIntercept + PurchaseLogit(w, x)) : SyntheticWorld.Sigmoid(w.CvrIntercept + CvrLogit(w, x));
            double ratingMean = SyntheticWorld.RatingMean(w.ItemQuality[x.Item], w.UserRatingBias[x.User], x.Affinity);
            int click = rng.NextDouble() < pCtr ? 1 : 0;
            int cart = o.Funnel ? click == 1 && rng.NextDouble() < pCart ? 1 : 0 : click;
            int conversion = cart == 1 && rng.NextDouble() < pCvr ? 1 : 0;
            int rating = 0;
            if (conversion == 1)
            {
                // 1 + Binomial(4, p) has mean exactly ratingMean, so the oracle's RMSE is the noise floor.
                double p = (ratingMean - 1) / 4;
                rating = 1;
                for (int t = 0; t < 4; t++) if (rng.NextDouble() < p) rating++;
            }
            output.Clicks += click; output.Conversions += conversion; output.Ratings += conversion;
            double categoryAffinity = w.CategoryAffinity(x.User, w.ItemCategory[x.Item]) + 0.25 * rng.NextGaussian();
            double pFavourite = o.Favourite ? SyntheticWorld.Sigmoid(w.FavouriteIntercept + FavouriteLogit(w, x)) : 0;
            int favourite = o.Favourite && rng.NextDouble() < pFavourite ? 1 : 0;

            int split = row < validStart ? 0 : row < testStart ? 1 : 2;
            var sb = builders[split];
            sb.Append(x.User).Append(',').Append(w.UserAge[x.User]).Append(',').Append(w.UserGender[x.User]).Append(',')
              .Append(w.UserCity[x.User]).Append(',').Append(w.UserOccupation[x.User]).Append(',').Append(w.UserConsumption[x.User]).Append(',')
              .Append(x.Item).Append(',').Append(w.ItemCategory[x.Item]).Append(',').Append(w.ItemBrand[x.Item]).Append(',')
              .Append(w.ItemShop[x.Item]).Append(',').Append(w.ItemPriceBucket[x.Item]).Append(',').Append(x.Position).Append(',')
              .Append(x.Hour).Append(',').Append(x.Weekday).Append(',').Append(x.Device).Append(',').Append(x.Channel).Append(',')
              .Append(profile.UserHistCtr[x.User]).Append(',').Append(profile.UserOrders[x.User]).Append(',')
              .Append(profile.ItemHistCtr[x.Item]).Append(',').Append(profile.ItemPrice[x.Item]).Append(',')
              .Append(profile.ItemReview[x.Item]).Append(',').Append(profile.ItemSales[x.Item]).Append(',')
              .Append(inv, $"{categoryAffinity:0.####}").Append(',').Append(inv, $"{x.Recency:0.##}").Append(',')
              .Append(click).Append(',');
            if (o.Funnel) sb.Append(cart).Append(',');
            sb.Append(conversion).Append(',');
            if (rating > 0) sb.Append(rating);
            if (o.Favourite) sb.Append(',').Append(favourite);
            sb.Append(',').Append(x.Timestamp);
            if (behaviour is not null)
            {
                behaviour.AppendColumns(sb, x.Recent);
                if (click == 1) behaviour.Clicked(x.User, x.Timestamp, x.Item);
            }
            sb.Append('\n');

            if (split > 0)
            {
                // The truth in the order of the tasks' predictions: the default chain's PCtr, PCvr, PCtcvr, rating, or per
                // declared task its conditional and entire-space probability.
                truth.Clear();
                if (!o.Funnel && !o.Favourite) truth.AddRange([(float)pCtr, (float)pCvr, (float)(pCtr * pCvr), (float)ratingMean]);
                else
                {
                    truth.Add((float)pCtr);
                    if (o.Funnel) truth.AddRange([(float)pCart, (float)(pCtr * pCart)]);
                    truth.AddRange([(float)pCvr, (float)(pCtr * pCart * pCvr), (float)ratingMean]);
                    if (o.Favourite) truth.Add((float)pFavourite);
                }
                builders[2 + split].AppendJoin(',', truth.Select(v => v.ToString("R", inv))).Append('\n');
                if (split == 2)
                {
                    labels.Clear();
                    labels.Add(click);
                    if (o.Funnel) labels.Add(cart);
                    labels.AddRange([conversion, rating > 0 ? rating : float.NaN]);
                    if (o.Favourite) labels.Add(favourite);
                    oracle.Set(row - testStart, truth, labels, x.User);
                }
            }
        }
        var utf8 = new UTF8Encoding(false);
        for (int f = 0; f < builders.Length; f++)
        {
            var bytes = utf8.GetBytes(builders[f].ToString());
            output.Text[f].Write(bytes);
        }
        return output;
    }

    // The test split's truth (one array per prediction column) and labels (one per task), for the oracle metrics.
    private sealed class OracleRows(IReadOnlyList<TaskDefinition> tasks, int n)
    {
        private readonly IReadOnlyList<string> _names = TaskList.Predictions(tasks);
        private readonly float[][] _truth = TaskList.Predictions(tasks).Select(_ => new float[n]).ToArray();
        private readonly float[][] _labels = tasks.Select(_ => new float[n]).ToArray();
        private readonly string[] _user = new string[n];

        public void Set(long i, IReadOnlyList<float> truth, IReadOnlyList<float> labels, int user)
        {
            for (int c = 0; c < _truth.Length; c++) _truth[c][i] = truth[c];
            for (int t = 0; t < _labels.Length; t++) _labels[t][i] = labels[t];
            _user[i] = user.ToString(CultureInfo.InvariantCulture);
        }

        public MultiTaskMetrics Metrics() => MultiTaskMetrics.Compute(tasks, _names.Select((name, c) => (name, c)).ToDictionary(x => x.name, x => _truth[x.c]),
            tasks.Select((t, i) => (t.Name, i)).ToDictionary(x => x.Name, x => _labels[x.i]), _user);
    }
}
