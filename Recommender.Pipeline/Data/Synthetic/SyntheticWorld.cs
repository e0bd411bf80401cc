namespace Recommender.Pipeline.Data.Synthetic;

/// <summary>
/// The hidden world behind the synthetic logs: users and items with attributes, Zipf popularity and
/// activity, latent taste vectors (the collaborative signal), and the true click, conversion and rating
/// models. Everything derives from the seed.
/// </summary>
internal sealed class SyntheticWorld
{
    public const int Categories = 300, BrandsPerCategory = 7, Shops = 4000, Cities = 400, Occupations = 20;
    public const int Positions = 20, Devices = 4, Channels = 5, PriceBuckets = 10;

    public readonly int Rank;
    public readonly int UserCount, ItemCount;

    // Users
    public readonly int[] UserAge, UserGender, UserCity, UserOccupation, UserConsumption, UserDevice, UserFavorite;
    public readonly float[] UserBias, UserBuyBias, UserRatingBias;
    public readonly float[] UserTaste; // [user * rank]
    public readonly double[] UserActivity; // cumulative

    // Items
    public readonly int[] ItemCategory, ItemBrand, ItemShop, ItemPriceBucket;
    public readonly float[] ItemBias, ItemQuality, ItemLogPrice, ItemPriceZ, ItemPopularity;
    public readonly bool[] ItemNew;
    public readonly float[] ItemTaste; // [item * rank]
    public readonly float[] CategoryTaste; // [category * rank]
    public readonly double[] ItemPopularityCumulative; // over items sorted by category
    public readonly int[] ItemsByCategory, CategoryStart, CategoryEnd;

    // Context effects
    public static readonly double[] ChannelWeights = [0.55, 0.2, 0.05, 0.15, 0.05];
    public static readonly double[] ChannelCtr = [0, 0.3, 0.5, 0.2, -0.4];
    public static readonly double[] ChannelCvr = [0, 0.3, 0.6, 0.1, -0.2];
    public static readonly double[] DeviceCtr = [0, 0.1, -0.2, -0.05];
    public readonly double[] PositionCumulative, HourCumulative, ChannelCumulative;
    public double CtrIntercept, CvrIntercept, CartIntercept, PurchaseIntercept, FavouriteIntercept;

    // Pairwise attribute crosses (SyntheticOptions.Crosses), from their own random stream so the default world is unchanged.
    public readonly float[]? AgeCategory, GenderBrand, DeviceChannel, SegmentPrice;

    public SyntheticWorld(SyntheticOptions options)
    {
        Rank = options.LatentRank;
        UserCount = options.UserCount;
        ItemCount = options.ItemCount;
        var rng = new Rng(options.Seed, stream: 1);
        double scale = 1 / Math.Sqrt(Rank);

        var categoryTaste = CategoryTaste = new float[Categories * Rank];
        for (int i = 0; i < categoryTaste.Length; i++) categoryTaste[i] = (float)(rng.NextGaussian() * scale);
        var categoryCumulative = Cumulative(Categories, i => ZipfWeight(i, 1.0));
        var categoryPrice = new double[Categories];
        for (int c = 0; c < Categories; c++) categoryPrice[c] = 3.5 + 1.2 * rng.NextGaussian();

        ItemCategory = new int[ItemCount]; ItemBrand = new int[ItemCount]; ItemShop = new int[ItemCount]; ItemPriceBucket = new int[ItemCount];
        ItemBias = new float[ItemCount]; ItemQuality = new float[ItemCount]; ItemLogPrice = new float[ItemCount]; ItemPriceZ = new float[ItemCount];
        ItemPopularity = new float[ItemCount]; ItemNew = new bool[ItemCount]; ItemTaste = new float[ItemCount * Rank];
        var shopCumulative = Cumulative(Shops, i => ZipfWeight(i, 1.1));
        var popularityRank = Permutation(ItemCount, ref rng);
        for (int i = 0; i < ItemCount; i++)
        {
            int c = rng.Pick(categoryCumulative);
            ItemCategory[i] = c;
            ItemBrand[i] = c * BrandsPerCategory + Math.Min(BrandsPerCategory - 1, (int)rng.NextExponential(1.5));
            ItemShop[i] = rng.Pick(shopCumulative);
            double logPrice = categoryPrice[c] + 0.6 * rng.NextGaussian();
            ItemLogPrice[i] = (float)logPrice;
            ItemPriceZ[i] = (float)((logPrice - categoryPrice[c]) / 0.6);
            ItemPriceBucket[i] = Math.Clamp((int)Math.Floor((logPrice - 1.0) / 0.6), 0, PriceBuckets - 1);
            ItemQuality[i] = (float)rng.NextGaussian();
            ItemPopularity[i] = (float)ZipfWeight(popularityRank[i], 1.05);
            // Popular items are a little more clickable: popularity is partly earned.
            ItemBias[i] = (float)(0.35 * rng.NextGaussian() + 0.05 * Math.Log(ItemPopularity[i] * ItemCount));
            ItemNew[i] = rng.NextDouble() < 0.05;
            for (int r = 0; r < Rank; r++)
                ItemTaste[i * Rank + r] = categoryTaste[c * Rank + r] + (float)(0.6 * scale * rng.NextGaussian());
        }
        ItemsByCategory = Enumerable.Range(0, ItemCount).OrderBy(i => ItemCategory[i]).ThenBy(i => i).ToArray();
        CategoryStart = new int[Categories]; CategoryEnd = new int[Categories];
        ItemPopularityCumulative = new double[ItemCount];
        double total = 0;
        for (int k = 0; k < ItemCount; k++)
        {
            int item = ItemsByCategory[k];
            total += ItemPopularity[item];
            ItemPopularityCumulative[k] = total;
            int c = ItemCategory[item];
            if (k == 0 || ItemCategory[ItemsByCategory[k - 1]] != c) CategoryStart[c] = k;
            CategoryEnd[c] = k + 1;
        }

        UserAge = new int[UserCount]; UserGender = new int[UserCount]; UserCity = new int[UserCount]; UserOccupation = new int[UserCount];
        UserConsumption = new int[UserCount]; UserDevice = new int[UserCount]; UserFavorite = new int[UserCount];
        UserBias = new float[UserCount]; UserBuyBias = new float[UserCount]; UserRatingBias = new float[UserCount]; UserTaste = new float[UserCount * Rank];
        var ageCumulative = CumulativeOf([0.05, 0.2, 0.3, 0.2, 0.12, 0.08, 0.05]);
        var consumptionCumulative = CumulativeOf([0.3, 0.3, 0.2, 0.15, 0.05]);
        var deviceCumulative = CumulativeOf([0.35, 0.5, 0.1, 0.05]);
        var cityCumulative = Cumulative(Cities, i => ZipfWeight(i, 0.9));
        var activityRank = Permutation(UserCount, ref rng);
        UserActivity = Cumulative(UserCount, u => ZipfWeight(activityRank[u], 0.8));
        for (int u = 0; u < UserCount; u++)
        {
            UserAge[u] = rng.Pick(ageCumulative);
            UserGender[u] = rng.NextDouble() < 0.05 ? 0 : 1 + rng.NextInt(2);
            UserCity[u] = rng.Pick(cityCumulative);
            UserOccupation[u] = rng.NextInt(Occupations);
            UserConsumption[u] = rng.Pick(consumptionCumulative);
            UserDevice[u] = rng.Pick(deviceCumulative);
            int favorite = rng.Pick(categoryCumulative);
            UserFavorite[u] = CategoryEnd[favorite] > CategoryStart[favorite] ? favorite : ItemCategory[0];
            UserBias[u] = (float)(0.45 * rng.NextGaussian() + 0.08 * (UserAge[u] - 3));
            UserBuyBias[u] = (float)(0.45 * rng.NextGaussian() + 0.15 * (UserConsumption[u] - 2));
            UserRatingBias[u] = (float)(0.35 * rng.NextGaussian());
            for (int r = 0; r < Rank; r++)
                UserTaste[u * Rank + r] = categoryTaste[UserFavorite[u] * Rank + r] + (float)(0.7 * scale * rng.NextGaussian());
        }

        if (options.Crosses)
        {
            var cross = new Rng(options.Seed, stream: 11);
            float[] Effects(int n, double scale) { var e = new float[n]; for (int i = 0; i < n; i++) e[i] = (float)(scale * cross.NextGaussian()); return e; }
            AgeCategory = Effects(7 * Categories, 0.6);
            GenderBrand = Effects(3 * Categories * BrandsPerCategory, 0.5);
            DeviceChannel = Effects(Devices * Channels, 0.4);
            // Low-spending segments shy away from expensive buckets, high-spending ones less so or not at all.
            SegmentPrice = new float[5 * PriceBuckets];
            for (int s = 0; s < 5; s++)
                for (int b = 0; b < PriceBuckets; b++)
                    SegmentPrice[s * PriceBuckets + b] = (float)(-0.35 * (2 - s) * (b - 4.5) / 4.5 + 0.1 * cross.NextGaussian());
        }

        PositionCumulative = Cumulative(Positions, p => 1 / Math.Pow(p + 1, 0.7));
        HourCumulative = Cumulative(24, h => 1 + 0.8 * Math.Sin(2 * Math.PI * (h - 14) / 24));
        ChannelCumulative = CumulativeOf(ChannelWeights);
    }

    public float CategoryAffinity(int user, int category)
    {
        float dot = 0;
        for (int r = 0; r < Rank; r++) dot += UserTaste[user * Rank + r] * CategoryTaste[category * Rank + r];
        return dot;
    }

    public float Affinity(int user, int item)
    {
        float dot = 0;
        var u = UserTaste.AsSpan(user * Rank, Rank);
        var v = ItemTaste.AsSpan(item * Rank, Rank);
        for (int r = 0; r < Rank; r++) dot += u[r] * v[r];
        return dot;
    }

    /// <summary>The crosses' part of the click logit (0 without <see cref="SyntheticOptions.Crosses"/>).</summary>
    public double ClickCrosses(int user, int item, int device, int channel) => AgeCategory is null ? 0
        : AgeCategory[UserAge[user] * Categories + ItemCategory[item]] + GenderBrand![UserGender[user] * Categories * BrandsPerCategory + ItemBrand[item]]
          + DeviceChannel![device * Channels + channel] + SegmentPrice![UserConsumption[user] * PriceBuckets + ItemPriceBucket[item]];

    /// <summary>The crosses' part of the purchase logit: price sensitivity by segment, twice as strong as in the click.</summary>
    public double PurchaseCrosses(int user, int item) => SegmentPrice is null ? 0 : 2 * SegmentPrice[UserConsumption[user] * PriceBuckets + ItemPriceBucket[item]];

    /// <summary>The click logit without the intercept.</summary>
    public static double ClickLogit(double userBias, double itemBias, double affinity, int position, int hour, int device, int channel, double recency) =>
        userBias + itemBias + 1.3 * affinity - 0.4 * Math.Log(position + 1) + 0.15 * Math.Sin(2 * Math.PI * (hour - 20) / 24)
        + DeviceCtr[device] + ChannelCtr[channel] - 0.05 * recency;

    /// <summary>The conversion-given-click logit without the intercept.</summary>
    public static double ConversionLogit(double userBuyBias, double quality, double priceZ, double affinity, int channel) =>
        userBuyBias + 0.5 * quality - 0.3 * priceZ + 0.8 * affinity + ChannelCvr[channel];

    /// <summary>The funnel's cart-given-click logit without the intercept: interest first.</summary>
    public static double CartLogit(double userBuyBias, double quality, double affinity, int channel) =>
        0.5 * userBuyBias + 0.2 * quality + 1.2 * affinity + ChannelCvr[channel];

    /// <summary>The funnel's purchase-given-cart logit without the intercept: quality and price decide.</summary>
    public static double PurchaseLogit(double userBuyBias, double quality, double priceZ, double affinity) =>
        userBuyBias + 0.8 * quality - 0.6 * priceZ + 0.2 * affinity;

    /// <summary>The favourite logit without the intercept: quality and taste, whether clicked or not.</summary>
    public static double FavouriteLogit(double userRatingBias, double quality, double affinity, int position) =>
        0.6 * userRatingBias + 0.9 * quality + 1.0 * affinity - 0.1 * Math.Log(position + 1);

    /// <summary>The expected rating after a purchase.</summary>
    public static double RatingMean(double quality, double userRatingBias, double affinity) =>
        Math.Clamp(3.7 + 0.45 * quality + userRatingBias + 0.3 * affinity, 1, 5);

    public static double Sigmoid(double z) => 1 / (1 + Math.Exp(-z));

    private static double ZipfWeight(int rank, double s) => 1 / Math.Pow(rank + 1, s);

    private static double[] Cumulative(int n, Func<int, double> weight)
    {
        var c = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) c[i] = sum += weight(i);
        return c;
    }

    private static double[] CumulativeOf(double[] weights) => Cumulative(weights.Length, i => weights[i]);

    private static int[] Permutation(int n, ref Rng rng)
    {
        var p = Enumerable.Range(0, n).ToArray();
        for (int i = n - 1; i > 0; i--) { int j = rng.NextInt(i + 1); (p[i], p[j]) = (p[j], p[i]); }
        return p;
    }
}
