namespace Recommender.Trainers.Training;

/// <summary>
/// A user's behaviour sequence in the trainer's input: key columns holding the ids of the user's most recent events
/// (position 0 the most recent; key 0 where there is none), over the vocabulary of <see cref="Target"/>, whose
/// embedding table they share. The network pools them against the target's embedding (see <see cref="MultiTaskTrainerOptions.Pooling"/>).
/// </summary>
public sealed class BehaviourSequence
{
    /// <summary>The sequence's name (its parameters are named after it).</summary>
    public string Name = "";
    /// <summary>The key column whose vocabulary and embedding table the positions share (the candidate item, say).</summary>
    public string Target = "";
    /// <summary>The positions' key columns, most recent first.</summary>
    public string[] Positions = [];

    /// <inheritdoc/>
    public override string ToString() => $"{Name}:{Target}:{string.Join('|', Positions)}";
}
