using System.Numerics.Tensors;

namespace Recommender.Trainers.MatrixFactorization;

/// <summary>
/// Exact top-N items per user by dot product over all items. Item factors are transposed once
/// (<c>[rank, items]</c>), so a user's scores are <c>rank</c> vectorized multiply-adds over the whole item
/// range; a size-N heap keeps the best. Users run in parallel, one score buffer per thread.
/// </summary>
public sealed class TopNRetrieval
{
    private readonly MatrixFactorizationModelParameters _model;
    private readonly float[] _itemsByDimension;

    /// <summary>Prepares retrieval over the model's items.</summary>
    public TopNRetrieval(MatrixFactorizationModelParameters model)
    {
        _model = model;
        int k = model.ApproximationRank, n = model.NumberOfColumns;
        _itemsByDimension = new float[(long)k * n];
        for (int i = 0; i < n; i++)
            for (int d = 0; d < k; d++) _itemsByDimension[(long)d * n + i] = model.RightFactorMatrix[(long)i * k + d];
    }

    /// <summary>
    /// The best <paramref name="n"/> items (0-based column indices, best first) and their scores for each user
    /// (0-based row); items in <paramref name="exclude"/>(user) are skipped (already seen). Unknown users get nothing.
    /// </summary>
    public (int[] Items, float[] Scores)[] Recommend(IReadOnlyList<int> users, int n, Func<int, IReadOnlySet<int>?>? exclude = null, int threads = 0)
    {
        var results = new (int[], float[])[users.Count];
        int items = _model.NumberOfColumns, k = _model.ApproximationRank;
        Parallel.For(0, users.Count, new ParallelOptions { MaxDegreeOfParallelism = threads > 0 ? threads : Environment.ProcessorCount },
            () => new float[items], (index, _, scores) =>
            {
                int user = users[index];
                if ((uint)user >= (uint)_model.NumberOfRows) { results[index] = ([], []); return scores; }
                Array.Clear(scores);
                for (int d = 0; d < k; d++)
                    TensorPrimitives.MultiplyAdd(_itemsByDimension.AsSpan(d * items, items), _model.LeftFactorMatrix[(long)user * k + d], scores, scores);
                results[index] = Top(scores, n, exclude?.Invoke(user));
                return scores;
            }, _ => { });
        return results;
    }

    private static (int[], float[]) Top(float[] scores, int n, IReadOnlySet<int>? exclude)
    {
        // Min-heap of the best n so far: the root is the weakest kept item.
        var heap = new PriorityQueue<int, (float Score, int Item)>(n + 1, Comparer<(float Score, int Item)>.Create((a, b) =>
            a.Score != b.Score ? a.Score.CompareTo(b.Score) : b.Item.CompareTo(a.Item)));
        for (int i = 0; i < scores.Length; i++)
        {
            if (exclude is not null && exclude.Contains(i)) continue;
            float s = scores[i];
            if (heap.Count < n) heap.Enqueue(i, (s, i));
            else if (heap.TryPeek(out _, out var weakest) && (s > weakest.Score || (s == weakest.Score && i < weakest.Item)))
            {
                heap.Dequeue();
                heap.Enqueue(i, (s, i));
            }
        }
        var items = new int[heap.Count];
        var values = new float[heap.Count];
        for (int r = items.Length - 1; r >= 0; r--)
        {
            heap.TryDequeue(out int item, out var priority);
            items[r] = item;
            values[r] = priority.Score;
        }
        return (items, values);
    }
}
