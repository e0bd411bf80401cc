using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Recommender.Trainers.MatrixFactorization;

/// <summary>
/// The learned factors, laid out as ML.NET's <c>MatrixFactorizationModelParameters</c>: row r of
/// <see cref="LeftFactorMatrix"/> (0-based; key r + 1) and column c of <see cref="RightFactorMatrix"/>, each
/// <see cref="ApproximationRank"/> wide, row-major.
/// </summary>
public sealed class MatrixFactorizationModelParameters
{
    internal MatrixFactorizationModelParameters(int rows, int columns, int rank, float[] left, float[] right)
    {
        NumberOfRows = rows;
        NumberOfColumns = columns;
        ApproximationRank = rank;
        LeftFactorMatrix = left;
        RightFactorMatrix = right;
    }

    /// <summary>Wraps saved factors.</summary>
    public static MatrixFactorizationModelParameters Create(int rows, int columns, int rank, float[] left, float[] right)
    {
        if (left.Length != (long)rows * rank || right.Length != (long)columns * rank) throw new ArgumentException("factor matrices do not match rows x rank and columns x rank");
        return new(rows, columns, rank, left, right);
    }

    /// <summary>Rows (users).</summary>
    public int NumberOfRows { get; }
    /// <summary>Columns (items).</summary>
    public int NumberOfColumns { get; }
    /// <summary>Rank.</summary>
    public int ApproximationRank { get; }
    /// <summary>Row factors, [NumberOfRows, ApproximationRank].</summary>
    public float[] LeftFactorMatrix { get; }
    /// <summary>Column factors, [NumberOfColumns, ApproximationRank].</summary>
    public float[] RightFactorMatrix { get; }

    /// <summary>p_row . q_column for 0-based indices; NaN outside the trained ranges (unknown user or item).</summary>
    public float Score(int row, int column)
    {
        if ((uint)row >= (uint)NumberOfRows || (uint)column >= (uint)NumberOfColumns) return float.NaN;
        return Dot(LeftFactorMatrix.AsSpan(row * ApproximationRank, ApproximationRank), RightFactorMatrix.AsSpan(column * ApproximationRank, ApproximationRank));
    }

    /// <summary>Dot product of two factor rows (one 256-bit vector at rank 8).</summary>
    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (Vector256.IsHardwareAccelerated && a.Length == 8)
            return Vector256.Dot(Vector256.Create(a), Vector256.Create(b));
        return System.Numerics.Tensors.TensorPrimitives.Dot(a, b);
    }
}
