namespace Recommender.Trainers.MatrixFactorization;

/// <summary>Observed entries of a sparse matrix in coordinate form: 0-based row and column indices and values.</summary>
public sealed class RatingMatrix
{
    /// <summary>Creates the matrix; indices must lie in [0, rows) and [0, columns).</summary>
    public RatingMatrix(int rows, int columns, int[] rowIndex, int[] columnIndex, float[] values)
    {
        if (rowIndex.Length != columnIndex.Length || rowIndex.Length != values.Length) throw new ArgumentException("index and value arrays differ in length");
        Rows = rows;
        Columns = columns;
        RowIndex = rowIndex;
        ColumnIndex = columnIndex;
        Values = values;
    }

    /// <summary>Number of rows (users).</summary>
    public int Rows { get; }
    /// <summary>Number of columns (items).</summary>
    public int Columns { get; }
    /// <summary>Row of each entry.</summary>
    public int[] RowIndex { get; }
    /// <summary>Column of each entry.</summary>
    public int[] ColumnIndex { get; }
    /// <summary>Value of each entry.</summary>
    public float[] Values { get; }
    /// <summary>Number of entries.</summary>
    public int Count => Values.Length;
}
