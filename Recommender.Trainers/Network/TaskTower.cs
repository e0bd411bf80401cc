using Recommender.Trainers.Graph;

namespace Recommender.Trainers.Network;

/// <summary>
/// A task's part of the network above what all tasks share, as <see cref="TaskHeads"/> runs it: row indices (null for every
/// row) to the task's logits on those rows. Handed over unapplied so that in training a task whose loss reads a few rows
/// (conversions on clicked rows, ratings on rated ones) runs its tower, and in MMoE its gate, on those rows alone.
/// </summary>
public sealed record TaskTower(Func<Value?, Value> Logits)
{
    /// <summary>The rows of <paramref name="x"/> [B, ...] at <paramref name="at"/>, or all of x.</summary>
    public static Value Rows(Value x, Value? at) => at is null ? x : x.Graph.Gather(x, at);
}
