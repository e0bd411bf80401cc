namespace Recommender.Trainers.Network;

/// <summary>
/// A behaviour sequence as the network sees it: <paramref name="Length"/> consecutive fields from
/// <paramref name="FirstField"/> on, position 0 the most recent event, each holding an id of
/// <paramref name="TargetField"/>'s vocabulary and looked up in that field's embedding table (id 0, padding or an
/// unknown id, is masked out). Pooled against the target field's embedding: the candidate item attends over the items
/// the user acted on.
/// </summary>
public sealed record SequenceSpec(string Name, int TargetField, int FirstField, int Length)
{
    /// <summary>One row's sequence mask (<see cref="MultiTaskInputs.SequenceMask"/>) from its ids: 1 where a position holds a known id.</summary>
    public static void FillMask(IReadOnlyList<SequenceSpec> sequences, ReadOnlySpan<int> rowIds, Span<float> rowMask)
    {
        int offset = 0;
        foreach (var s in sequences)
        {
            for (int i = 0; i < s.Length; i++) rowMask[offset + i] = rowIds[s.FirstField + i] != 0 ? 1f : 0f;
            offset += s.Length;
        }
    }
}
