using System.Text;

namespace Recommender.Pipeline.Data.Synthetic;

/// <summary>
/// Users' behaviour over the generated log (<see cref="SyntheticOptions.History"/>): interest that follows behaviour. A
/// user's latest clicks steer what is shown next (a share of their impressions comes from the categories of their last
/// few clicks) and what is clicked (an item in the category of a recent click, or one clicked before, is clicked more
/// readily), so their interest drifts with what they click, and their recent clicks say what their id and attributes
/// cannot: where that interest is now. The history written with an impression holds only that user's clicks strictly
/// before its timestamp.
/// </summary>
internal sealed class UserBehaviour
{
    /// <summary>The latest clicks that make a user's current interest.</summary>
    public const int InterestWindow = 3;
    /// <summary>Share of a user's impressions drawn from the categories of their latest clicks (when they have any).</summary>
    public const double InterestShare = 0.3;
    /// <summary>Click-logit lift of an item whose category all of the latest clicks share (a share of them: that share of it).</summary>
    public const double InterestLift = 1.5;
    /// <summary>Click-logit lift of an item among the user's recent clicks.</summary>
    public const double RepeatLift = 0.6;

    private readonly SyntheticWorld _world;
    private readonly int _length;
    private readonly List<(long Time, int Item)>?[] _clicks;

    public UserBehaviour(SyntheticWorld world, int length)
    {
        _world = world;
        _length = length;
        _clicks = new List<(long, int)>?[world.UserCount];
    }

    /// <summary>The click-logit term of behaviour for <paramref name="item"/> given the user's recent clicks (most recent first).</summary>
    public double ClickLift(ReadOnlySpan<int> recent, int item)
    {
        int window = Math.Min(InterestWindow, recent.Length), same = 0, category = _world.ItemCategory[item];
        for (int i = 0; i < window; i++) if (_world.ItemCategory[recent[i]] == category) same++;
        return InterestLift * same / InterestWindow + (recent.Contains(item) ? RepeatLift : 0);
    }

    /// <summary>
    /// The user's most recent clicked items strictly before <paramref name="time"/>, most recent first (at most the history
    /// length).
    /// </summary>
    public int[] Recent(int user, long time)
    {
        if (_clicks[user] is not { } clicks) return [];
        // Rows come in time order, so the user's clicks are too: the latest ones strictly before the time, from the end.
        int end = clicks.Count;
        while (end > 0 && clicks[end - 1].Time >= time) end--;
        var recent = new int[Math.Min(_length, end)];
        for (int i = 0; i < recent.Length; i++) recent[i] = clicks[end - 1 - i].Item;
        return recent;
    }

    /// <summary>Records a click.</summary>
    public void Clicked(int user, long time, int item) => (_clicks[user] ??= new()).Add((time, item));

    /// <summary>Appends the recent items and their categories as two list cells, oldest first (",a|b,c|d").</summary>
    public void AppendColumns(StringBuilder sb, ReadOnlySpan<int> recent)
    {
        sb.Append(',');
        for (int i = recent.Length - 1; i >= 0; i--) { sb.Append(recent[i]); if (i > 0) sb.Append('|'); }
        sb.Append(',');
        for (int i = recent.Length - 1; i >= 0; i--) { sb.Append(_world.ItemCategory[recent[i]]); if (i > 0) sb.Append('|'); }
    }
}
