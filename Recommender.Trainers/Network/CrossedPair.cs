namespace Recommender.Trainers.Network;

/// <summary>A crossed pair of plain fields (<see cref="FeatureInteractions.CrossedEmbeddings"/>): the table of its value combinations.</summary>
public readonly record struct CrossedPair(int A, int B, int RowsA, int RowsB)
{
    /// <summary>Rows of the pair's table: every combination of the two fields' ids (the unknown id 0 included).</summary>
    public long Rows => (long)RowsA * RowsB;

    /// <summary>The pair's row for the fields' ids; an id outside its field's rows counts as the unknown id 0.</summary>
    public int Row(int idA, int idB) => ((uint)idA < (uint)RowsA ? idA : 0) * RowsB + ((uint)idB < (uint)RowsB ? idB : 0);

    /// <summary>The pairs' rows for a batch: <paramref name="ids"/> holds <paramref name="fields"/> ids per row, <paramref name="rows"/> [batch * pairs].</summary>
    public static void Fill(ReadOnlySpan<CrossedPair> pairs, ReadOnlySpan<int> ids, int fields, int batch, Span<int> rows)
    {
        int count = pairs.Length;
        for (int b = 0; b < batch; b++)
        {
            var row = ids.Slice(b * fields, fields);
            for (int p = 0; p < count; p++)
            {
                ref readonly var pair = ref pairs[p];
                rows[b * count + p] = pair.Row(row[pair.A], row[pair.B]);
            }
        }
    }
}
