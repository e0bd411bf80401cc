using Microsoft.ML;
using Microsoft.ML.Data;

namespace Recommender.Trainers;

/// <summary>Reads prediction columns out of a scored <see cref="IDataView"/> (scalars or one-element vectors).</summary>
public static class ScoredColumns
{
    /// <summary>Every value of <paramref name="column"/>, in row order.</summary>
    public static float[] Read(IDataView scored, string column)
    {
        var col = scored.Schema[column];
        var values = new List<float>();
        using var cursor = scored.GetRowCursor([col]);
        if (col.Type is VectorDataViewType)
        {
            var getter = cursor.GetGetter<VBuffer<float>>(col);
            VBuffer<float> buffer = default;
            while (cursor.MoveNext())
            {
                getter(ref buffer);
                values.Add(buffer.GetValues()[0]);
            }
        }
        else
        {
            var getter = cursor.GetGetter<float>(col);
            float value = 0;
            while (cursor.MoveNext()) { getter(ref value); values.Add(value); }
        }
        return values.ToArray();
    }
}
