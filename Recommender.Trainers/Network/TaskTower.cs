using Recommender.Trainers.Graph;

namespace Recommender.Trainers.Network;

/// <summary>
/// A task's tower as <see cref="TaskHeads"/> runs it: what the architecture gives the task ([B, D]: ESMM's input, the
/// shared bottom's output, a gate's mixture of experts) and the tower, rows of that to the task's logits [N, 1]. Handed
/// over unapplied so that in training a task whose loss reads a few rows (conversions on clicked rows, ratings on rated
/// ones) runs its tower on those rows alone.
/// </summary>
public sealed record TaskTower(Value Input, Func<Value, Value> Logits);
