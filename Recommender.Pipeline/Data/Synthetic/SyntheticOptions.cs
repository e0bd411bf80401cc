namespace Recommender.Pipeline.Data.Synthetic;

/// <summary>
/// Options of the synthetic e-commerce log generator. Defaults give Ali-CCP-like base rates, a long tail, attribute crosses
/// and behaviour (<see cref="Plain"/> for the law without them).
/// </summary>
public sealed class SyntheticOptions
{
    /// <summary>Impressions to generate (all splits).</summary>
    public long Rows { get; set; } = 1_000_000;

    /// <summary>Seed; the same seed gives byte-identical files.</summary>
    public ulong Seed { get; set; } = 42;

    /// <summary>Users; default max(1000, rows / 20).</summary>
    public int? Users { get; set; }

    /// <summary>Items; default max(500, rows / 50).</summary>
    public int? Items { get; set; }

    /// <summary>Days covered; the split is by time.</summary>
    public int Days { get; set; } = 30;

    /// <summary>Rank of the latent user-item affinity (the collaborative signal).</summary>
    public int LatentRank { get; set; } = 8;

    /// <summary>Target mean click-through rate.</summary>
    public double TargetCtr { get; set; } = 0.04;

    /// <summary>Target mean conversion rate given a click.</summary>
    public double TargetCvr { get; set; } = 0.06;

    /// <summary>
    /// A longer funnel: a <c>cart</c> label between the click and the purchase (the <c>conversion</c> column), so the
    /// tasks are the chain click, cart given click, purchase given cart. Cart follows interest (the affinity), purchase
    /// follows quality and price, so each step has its own signal.
    /// </summary>
    public bool Funnel { get; set; }

    /// <summary>
    /// Pairwise attribute crosses in the click and purchase laws, the structure a model must learn as interactions:
    /// age x category, gender x brand, device x channel, and price sensitivity by consumption segment (price bucket
    /// x segment, in the click and more strongly in the purchase). On by default, as in real logs; off (with
    /// <see cref="History"/> 0) the click law is the plain one, a factorization machine's own form.
    /// </summary>
    public bool Crosses { get; set; } = true;

    /// <summary>An independent <c>favourite</c> label on every impression (driven by quality and affinity, not by the click).</summary>
    public bool Favourite { get; set; }

    /// <summary>
    /// Behaviour: users' interests drift, and each impression carries the user's last <c>History</c> clicked items and their
    /// categories before it (columns <c>recent_items</c> and <c>recent_categories</c>, declared as sequences in the schema);
    /// see <c>UserBehaviour</c>. 10 by default; 0 for none. Generation is then sequential (a user's history is the log so far).
    /// </summary>
    public int History { get; set; } = 10;

    /// <summary>
    /// With <see cref="History"/>: days of the same traffic simulated before the log and not written, so that the log opens
    /// on a running system, users' histories as they are mid-stream. Without it every history is empty on the first day, so
    /// the click rate and the meaning of a history's length drift through the log (an empty history is a heavy user on
    /// day one and a light one on day thirty) in a way no real log does.
    /// </summary>
    public int WarmUpDays { get; set; } = 30;

    /// <summary>Target mean cart rate given a click (with <see cref="Funnel"/>; purchase given cart is then TargetCvr / TargetCart).</summary>
    public double TargetCart { get; set; } = 0.25;

    /// <summary>Target mean favourite rate (with <see cref="Favourite"/>).</summary>
    public double TargetFavourite { get; set; } = 0.03;

    /// <summary>Share of rows (the latest) in the validation split.</summary>
    public double ValidFraction { get; set; } = 0.1;

    /// <summary>Share of rows (the very latest) in the test split.</summary>
    public double TestFraction { get; set; } = 0.1;

    /// <summary>
    /// The plain law: no attribute crosses and no behaviour, a factorization machine's own form (user and item biases, a
    /// latent user-item affinity, additive context), the default before the full law; the engine's speed references use it.
    /// </summary>
    public static SyntheticOptions Plain(long rows, ulong seed = 42) => new() { Rows = rows, Seed = seed, Crosses = false, History = 0 };

    internal int UserCount => Users ?? (int)Math.Max(1000, Rows / 20);
    internal int ItemCount => Items ?? (int)Math.Max(500, Rows / 50);
}
