using System.Globalization;
using System.Text;
using Recommender.Pipeline.Data;
using Recommender.Pipeline.Data.Synthetic;

namespace Recommender.Pipeline.Simulation;

/// <summary>One user's visit: who, when, on what, and the candidates the shop could show.</summary>
public sealed record Visit(int User, int Hour, int Weekday, int Device, int Channel, double Recency, int[] Candidates, double[] ClickDraws, double[] ConversionDraws);

/// <summary>
/// The synthetic world of <c>generate</c> as the users of a live recommender: it samples visits (a user by activity,
/// the context, and candidates from the items available that day, a third from the user's favourite category),
/// answers a shown item with its true click and purchase probabilities at the slot it was shown in, and writes
/// impressions in the generator's format, so the product trains on them as on any log. Items arrive over time:
/// most are there from day 0, a share arrives on later days, so a model that stays as it was grows stale.
/// The random draws of a visit's outcomes are fixed per slot, so two policies showing the same item in the same
/// slot get the same answer (common random numbers: their difference is measured with less noise).
/// </summary>
internal sealed class SimulatedWorld
{
    private readonly SyntheticWorld _w;
    private readonly SyntheticGenerator.Profiles _profile;
    private readonly int[] _arrival;

    public SimulatedWorld(int users, int items, int days, double lateItems, ulong seed)
    {
        var options = new SyntheticOptions { Rows = 1_000_000, Users = users, Items = items, Seed = seed, Days = days, Crosses = false, History = 0 };
        _w = new SyntheticWorld(options);
        SyntheticGenerator.Calibrate(_w, options);
        _profile = new SyntheticGenerator.Profiles(_w, seed);
        var rng = new Rng(seed, stream: 77);
        _arrival = new int[items];
        for (int i = 0; i < items; i++) _arrival[i] = rng.NextDouble() < lateItems ? 1 + rng.NextInt(Math.Max(1, days)) : 0;
    }

    public int Items => _w.ItemCount;

    /// <summary>Whether an item is on sale on <paramref name="day"/>.</summary>
    public bool Available(int item, int day) => _arrival[item] <= day;

    /// <summary>The visit number <paramref name="index"/> of <paramref name="day"/>, the same for every policy.</summary>
    public Visit Sample(int day, int index, int candidates, int slots, ulong seed)
    {
        var rng = new Rng(seed ^ 0x5157, stream: (ulong)day * 1_000_003UL + (ulong)index);
        int user = rng.Pick(_w.UserActivity);
        int favorite = _w.UserFavorite[user];
        var chosen = new HashSet<int>();
        for (int attempt = 0; chosen.Count < candidates && attempt < candidates * 20; attempt++)
        {
            int k = rng.NextDouble() < 0.35
                ? rng.Pick(_w.ItemPopularityCumulative, _w.CategoryStart[favorite], _w.CategoryEnd[favorite])
                : rng.Pick(_w.ItemPopularityCumulative);
            int item = _w.ItemsByCategory[k];
            if (Available(item, day)) chosen.Add(item);
        }
        var clickDraws = new double[slots];
        var conversionDraws = new double[slots];
        for (int s = 0; s < slots; s++) { clickDraws[s] = rng.NextDouble(); conversionDraws[s] = rng.NextDouble(); }
        int device = rng.NextDouble() < 0.85 ? _w.UserDevice[user] : rng.NextInt(SyntheticWorld.Devices);
        return new Visit(user, rng.Pick(_w.HourCumulative), (day + 3) % 7, device, rng.Pick(_w.ChannelCumulative), rng.NextExponential(3),
            chosen.Order().ToArray(), clickDraws, conversionDraws);
    }

    /// <summary>The true click and purchase-given-click probabilities of <paramref name="item"/> shown at <paramref name="position"/> (1-based).</summary>
    public (double Click, double Conversion) Truth(Visit v, int item, int position)
    {
        double affinity = _w.Affinity(v.User, item);
        double click = SyntheticWorld.Sigmoid(_w.CtrIntercept + SyntheticWorld.ClickLogit(_w.UserBias[v.User], _w.ItemBias[item], affinity, position, v.Hour, v.Device, v.Channel, v.Recency));
        double conversion = SyntheticWorld.Sigmoid(_w.CvrIntercept + SyntheticWorld.ConversionLogit(_w.UserBuyBias[v.User], _w.ItemQuality[item], _w.ItemPriceZ[item], affinity, v.Channel));
        return (click, conversion);
    }

    /// <summary>The item's price (the value of a purchase).</summary>
    public double Price(int item) => Math.Exp(_w.ItemLogPrice[item]);

    /// <summary>The row of <paramref name="item"/> for <paramref name="v"/>'s user at <paramref name="position"/>, in the generator's columns, labels last.</summary>
    public string Row(Visit v, int item, int position, int click, int conversion)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        int u = v.User;
        double categoryAffinity = _w.CategoryAffinity(u, _w.ItemCategory[item]);
        sb.Append(u).Append(',').Append(_w.UserAge[u]).Append(',').Append(_w.UserGender[u]).Append(',').Append(_w.UserCity[u]).Append(',')
          .Append(_w.UserOccupation[u]).Append(',').Append(_w.UserConsumption[u]).Append(',')
          .Append(item).Append(',').Append(_w.ItemCategory[item]).Append(',').Append(_w.ItemBrand[item]).Append(',')
          .Append(_w.ItemShop[item]).Append(',').Append(_w.ItemPriceBucket[item]).Append(',').Append(position).Append(',')
          .Append(v.Hour).Append(',').Append(v.Weekday).Append(',').Append(v.Device).Append(',').Append(v.Channel).Append(',')
          .Append(_profile.UserHistCtr[u]).Append(',').Append(_profile.UserOrders[u]).Append(',')
          .Append(_profile.ItemHistCtr[item]).Append(',').Append(_profile.ItemPrice[item]).Append(',')
          .Append(_profile.ItemReview[item]).Append(',').Append(_profile.ItemSales[item]).Append(',')
          .Append(inv, $"{categoryAffinity:0.####}").Append(',').Append(inv, $"{v.Recency:0.##}").Append(',')
          .Append(click).Append(',').Append(conversion).Append(",,").Append(1_700_000_000L + v.Weekday * 86_400L + v.Hour * 3600L);
        return sb.ToString();
    }

    /// <summary>The header of <see cref="Row"/>.</summary>
    public static string Header => SyntheticGenerator.Header(SyntheticOptions.Plain(1_000_000));

    /// <summary>
    /// The schema of the rows, without the event time: each night learns from one day's log, in which no field can be
    /// told to be a calendar one, and the exported logs carry the serving clock instead (<c>ts</c>, in milliseconds).
    /// </summary>
    public static DatasetSchema Schema()
    {
        var schema = SyntheticGenerator.Schema();
        schema.Time = null;
        return schema;
    }
}
