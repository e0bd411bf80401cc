using System.Text;

namespace Recommender.Pipeline.Cli;

/// <summary>A plain-text table with aligned columns (numbers right-aligned).</summary>
public sealed class TextTable(params string[] headers)
{
    private readonly List<string[]> _rows = new();

    /// <summary>Adds a row; missing cells print empty.</summary>
    public TextTable Add(params string[] cells)
    {
        _rows.Add(cells);
        return this;
    }

    /// <inheritdoc/>
    public override string ToString()
    {
        int columns = headers.Length;
        var widths = new int[columns];
        for (int c = 0; c < columns; c++)
            widths[c] = Math.Max(headers[c].Length, _rows.Select(r => c < r.Length ? r[c].Length : 0).DefaultIfEmpty(0).Max());
        var sb = new StringBuilder();
        void Line(string[] cells)
        {
            for (int c = 0; c < columns; c++)
            {
                string cell = c < cells.Length ? cells[c] : "";
                bool numeric = double.TryParse(cell, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out _);
                sb.Append(c == 0 ? "" : "  ").Append(numeric && c > 0 ? cell.PadLeft(widths[c]) : cell.PadRight(widths[c]));
            }
            sb.Append('\n');
        }
        Line(headers);
        sb.Append(string.Join("  ", widths.Select(w => new string('-', w)))).Append('\n');
        foreach (var row in _rows) Line(row);
        return sb.ToString();
    }
}
